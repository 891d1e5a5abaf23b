"""Run files (mediaeval/run_files.py): names, reading, and validation line by line, with the
problems the organisers' scorer would have met, capped per code whatever the file."""
import json
import re
import tracemalloc
import zipfile

import numpy as np
import pytest

from conftest import REPO, invoke, junk_run, make_dataset, write_test_runs
from mediaeval.dataset import Dataset
from mediaeval.errors import DataError
from mediaeval.run_files import PROBLEM_CAP, PROBLEM_CODES, RunFile, parse_run_name, run_filename, validate_run
from mediaeval.submission import write_run
from mediaeval.task import FEAR, VALENCE_AROUSAL, fear_rows


def test_validate_output_is_capped(data, tmp_path):
    junk = junk_run(tmp_path / "me17ei_T_valence_arousal_run1.txt")
    assert junk.stat().st_size > 3_000_000
    result = invoke("validate", junk, "--dataset", data)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert sum(": E102 " in ln for ln in lines) == PROBLEM_CAP == 50
    assert sum(": E103 " in ln for ln in lines) == PROBLEM_CAP
    assert f"{junk}: … and 119950 more E102 problems" in lines
    assert f"{junk}: … and 59950 more E103 problems" in lines
    assert f"{junk}: INVALID (180000 errors, 0 warnings)" in lines
    assert len(result.output) < 20_000


def test_validate_memory_stays_flat(data, tmp_path):
    junk = junk_run(tmp_path / "me17ei_T_valence_arousal_run1.txt")
    dataset = Dataset.discover(data)
    tracemalloc.start()
    try:
        problems = validate_run(junk, dataset)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert problems.counts == {"E102": 120_000, "E103": 60_000}
    assert len(problems) == 2 * PROBLEM_CAP
    assert peak < 1_000_000, f"peak {peak} bytes for a {junk.stat().st_size} byte file"


def test_a_line_without_end_is_not_held(data, tmp_path):
    path = tmp_path / "me17ei_T_valence_arousal_run1.txt"
    path.write_text("A\n" + "0 " * 1_000_000 + "\n0 0\n")
    problems = validate_run(path, Dataset.discover(data))
    assert [(p.line, p.code) for p in problems if p.code == "E115"] == [(2, "E115")]


def test_out_of_range_values_show_their_digits(data, tmp_path):
    path = tmp_path / "me17ei_T_valence_arousal_run1.txt"
    path.write_text("MEDIAEVAL17_00\n1.0000001 0\n0 0\nMEDIAEVAL17_01\n0 -1.00000000001\n")
    shown = [str(p) for p in validate_run(path, Dataset.discover(data)) if p.code != "W202"]
    assert shown == [f"{path}:2: E110 valence 1.0000001 is outside [-1, 1]",
                     f"{path}:5: E110 arousal -1.00000000001 is outside [-1, 1]"]
    fear = tmp_path / "me17ei_T_fear_run1.txt"
    fear.write_text("MEDIAEVAL17_00\n0 1.0000001\n0 0\nMEDIAEVAL17_01\n0 0\n")
    assert [str(p) for p in validate_run(fear, Dataset.discover(data)) if p.code != "W202"] == [
        f"{fear}:2: E112 confidence 1.0000001 is outside [0, 1]"]


def test_blank_line_inside_a_run_is_an_error(data, tmp_path):
    path = tmp_path / "me17ei_T_valence_arousal_run1.txt"
    path.write_text("MEDIAEVAL17_00\n0.1 0.2\n\n0.2 0.1\nMEDIAEVAL17_01\n0 0\n")
    result = invoke("validate", path, "--dataset", data)
    assert result.exit_code == 1
    assert f"{path}:3: E113 a blank line; the organisers' scorer read one film name or one value line per line" \
        in result.output
    # the toolkit itself still reads it: score says the organisers' scorer failed on it
    result = invoke("score", path, "--dataset", data, "--json")
    assert result.exit_code == 0
    assert (f"{path}: blank lines or spaces around film names: the organisers' scorer failed on such a run "
            f"(see mediaeval validate)") in json.loads(result.output)["notes"]
    path.write_text("MEDIAEVAL17_00\n0.1 0.2\n0.2 0.1\nMEDIAEVAL17_01\n0 0\n \t\n")
    assert [(p.line, p.code) for p in validate_run(path, Dataset.discover(data)) if p.is_error] == [(6, "E113")]
    path.write_text("MEDIAEVAL17_00\r\n0.1 0.2\r\n0.2 0.1\r\nMEDIAEVAL17_01\r\n0 0\r\n")  # one final line end: fine
    assert [p for p in validate_run(path, Dataset.discover(data)) if p.is_error] == []


def test_spaces_around_a_film_name_are_an_error(data, tmp_path):
    path = tmp_path / "me17ei_T_valence_arousal_run1.txt"
    path.write_text("MEDIAEVAL17_00 \n0.1 0.2\n0.2 0.1\n\tMEDIAEVAL17_01\n0 0\n")
    result = invoke("validate", path, "--dataset", data)
    assert result.exit_code == 1
    assert f"{path}:1: E114 film name 'MEDIAEVAL17_00' has spaces or tabs before or after it" in result.output
    assert f"{path}:4: E114 film name 'MEDIAEVAL17_01' has spaces or tabs before or after it" in result.output
    assert "E105" not in result.output  # the films are still recognised


def test_constant_predictions_are_a_warning(data, tmp_path):
    data = make_dataset(tmp_path / "data3", films=(("MEDIAEVAL17_00", 2), ("MEDIAEVAL17_01", 3), ("MEDIAEVAL17_02", 1)))
    path = write_run(tmp_path / "me17ei_T_valence_arousal_run1.txt",
                     {"MEDIAEVAL17_00": np.array([[0.1, 0.2], [0.1, 0.3]]), "MEDIAEVAL17_01": np.full((3, 2), 0.5),
                      "MEDIAEVAL17_02": np.array([[0.0, 0.5]])},  # one segment: no PCC, but not "constant"
                     VALENCE_AROUSAL)
    result = invoke("validate", path, "--dataset", data)
    assert result.exit_code == 0
    assert [ln for ln in result.output.splitlines() if "W202" in ln] == [
        f"{path}:1: W202 film MEDIAEVAL17_00: its valence predictions are constant: its PCC is undefined, and so is "
        f"the official mean PCC over films",
        f"{path}:4: W202 film MEDIAEVAL17_01: its valence and arousal predictions are constant: its PCC is undefined, "
        f"and so is the official mean PCC over films"]
    assert f"{path}: valid (0 errors, 2 warnings)" in result.output


def test_every_code_is_in_the_readme_table():
    readme = (REPO / "README.md").read_text()
    table = readme.split("### Validation codes", 1)[1].split("\n### ", 1)[0]
    listed = re.findall(r"^\| ([EW]\d{3}) \|", table, flags=re.M)
    assert listed == sorted(PROBLEM_CODES) == list(PROBLEM_CODES)


def test_a_bom_is_an_error_and_unsorted_films_a_warning(data, tmp_path):
    runs = write_test_runs(tmp_path / "runs")
    text = runs[0].read_text()
    bom = tmp_path / "bom" / runs[0].name
    bom.parent.mkdir()
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert [str(p) for p in validate_run(bom, Dataset.discover(data))] == [
        f"{bom}:1: E116 the file starts with a byte order mark (BOM): the organisers' scorer read it as part of the "
        f"first film's name; save the file as UTF-8 without BOM"]
    result = invoke("package", bom, "--team", "T", "--dataset", data, "--out", tmp_path / "bom.zip")
    assert result.exit_code == 1 and ": E116 " in result.output and not (tmp_path / "bom.zip").exists()
    scored = json.loads(invoke("score", bom, "--dataset", data, "--json").output)   # still read, with a note
    assert any("byte order mark" in note for note in scored["notes"])

    unsorted = tmp_path / "unsorted" / runs[0].name
    unsorted.parent.mkdir()
    films = text.split("MEDIAEVAL17_01\n")
    unsorted.write_text("MEDIAEVAL17_01\n" + films[1] + films[0])       # MEDIAEVAL17_01, then MEDIAEVAL17_00
    assert [str(p) for p in validate_run(unsorted, Dataset.discover(data))] == [
        f"{unsorted}:3: W203 film MEDIAEVAL17_00 comes after MEDIAEVAL17_01: films are expected in sorted order "
        f"(the organisers' scorer did not mind)"]
    result = invoke("package", unsorted, "--team", "T", "--dataset", data, "--out", tmp_path / "unsorted.zip")
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(tmp_path / "unsorted.zip") as archive:
        assert archive.read(unsorted.name) == unsorted.read_bytes()      # packaged as it is


def test_names():
    assert run_filename("team-1", FEAR, 3) == "me17ei_team-1_fear_run3.txt"
    name = parse_run_name("x/me17ei_ABC_valence_arousal_run5.txt")
    assert (name.team, name.subtask, name.number) == ("ABC", "valence_arousal", 5)
    assert parse_run_name("me17ei_ABC_valence_arousal_run6.txt") is None
    assert parse_run_name("me17ei_ABC_arousal_run1.txt") is None
    with pytest.raises(ValueError, match="team name"):
        run_filename("a b", FEAR, 1)


def test_valid_runs_have_no_problem(tmp_path, run_dataset):
    va = write_run(tmp_path / "me17ei_T_valence_arousal_run1.txt",
                   {"A": np.array([[0.1, 0.2], [0.3, 0.1], [0.0, 0.0]]), "B": np.array([[0, 0], [0.5, -0.5]])},
                   VALENCE_AROUSAL)
    fear = write_run(tmp_path / "me17ei_T_fear_run2.txt",
                     {"MEDIAEVAL17_00": fear_rows([0.1, 0.7]), "MEDIAEVAL17_01": fear_rows([0.3])}, FEAR)
    assert validate_run(va, run_dataset) == []
    assert validate_run(fear, run_dataset) == []


def test_tabs_and_crlf_are_fine(tmp_path, run_dataset):
    path = tmp_path / "me17ei_T_valence_arousal_run1.txt"
    path.write_bytes(b"A\r\n0.1\t0.2\r\n0.2\t0.1\r\n0.1\t0.2\r\nB\r\n0\t0\r\n1\t1\r\n")
    assert validate_run(path, run_dataset) == []


def codes(problems):
    """(line, code) of each problem but W202 (constant predictions, tested on its own by
    test_constant_predictions_are_a_warning; these files' few lines are often constant)."""
    return [(p.line, p.code) for p in problems if p.code != "W202"]


def test_every_problem_is_reported_with_line_and_code(tmp_path, run_dataset):
    path = tmp_path / "me17ei_T_valence_arousal_run1.txt"
    path.write_text("0.1 0.2\n"            # 1: value before any film
                    "A\n"                  # 2
                    "0.1 0.2 0.3\n"        # 3: three values
                    "1.5 0.0\n"            # 4: out of range
                    "inf 0.0\n"            # 5: not finite
                    "C\n"                  # 6: unknown film
                    "0 0\n"
                    "A\n")                 # 8: twice
    problems = [p for p in validate_run(path, run_dataset) if p.code != "W202"]
    assert codes(problems) == [(0, "E105"), (1, "E102"), (3, "E108"), (4, "E110"), (5, "E109"),
                               (6, "E103"), (8, "E104")]
    assert str(problems[0]) == f"{path}:0: E105 development film B is missing"
    assert str(problems[3]) == f"{path}:4: E110 valence 1.5 is outside [-1, 1]"


def test_segment_count_and_mixed_sets(tmp_path, run_dataset):
    path = tmp_path / "me17ei_T_valence_arousal_run1.txt"
    path.write_text("A\n0 0\nB\n0 0\n0 0\nMEDIAEVAL17_00\n0 0\n0 0\n")
    assert codes(validate_run(path, run_dataset)) == [(0, "E106"), (1, "E107")]
    assert "film A has 1 segment lines, expected 3" in str(validate_run(path, run_dataset)[1])


def test_fear_values_and_label_only_warning(tmp_path, run_dataset):
    path = tmp_path / "me17ei_T_fear_run1.txt"
    path.write_text("MEDIAEVAL17_00\n2 0.5\n1\nMEDIAEVAL17_01\n0 1.5\n")
    problems = validate_run(path, run_dataset)
    assert codes(problems) == [(2, "E111"), (3, "W201"), (5, "E112")]
    assert [p.is_error for p in problems] == [True, False, True]


def test_bad_name_is_reported_and_content_still_checked(tmp_path, run_dataset):
    path = tmp_path / "my_run.txt"
    path.write_text("A\n0 0\n0 0\n0 0\nB\n0 0\n5 0\n")
    assert codes(validate_run(path, run_dataset)) == [(0, "E100"), (7, "E110")]


def test_empty_file(tmp_path, run_dataset):
    path = tmp_path / "me17ei_T_fear_run1.txt"
    path.write_text("")
    assert codes(validate_run(path, run_dataset)) == [(0, "E101")]


def test_every_code_is_documented():
    readme = (__import__("pathlib").Path(__file__).parents[1] / "README.md").read_text()
    for code in PROBLEM_CODES:
        assert code in readme


def test_reading_a_run_file_raises_listing_problems(tmp_path):
    path = tmp_path / "me17ei_T_fear_run1.txt"
    path.write_text("F\n3 0.5\n0 x\n")
    with pytest.raises(DataError, match=r"2 problem\(s\)") as caught:
        RunFile.read(path)
    assert f"{path}:2: E111" in str(caught.value) and f"{path}:3: E109" in str(caught.value)


def test_a_run_file_knows_its_subtask_as_the_object_and_workers_get_the_same_object(tmp_path):
    import pickle

    path = write_run(tmp_path / "me17ei_T_fear_run1.txt", {"A": fear_rows([0.2, 0.9])}, FEAR)
    run = RunFile.read(path)
    assert run.subtask is FEAR and str(run.subtask) == "fear" and parse_run_name(path).task is FEAR
    # a subtask crossing a process boundary (a worker's Scores, a RunFile) is the same object there
    assert pickle.loads(pickle.dumps(run)).subtask is FEAR
    assert pickle.loads(pickle.dumps(VALENCE_AROUSAL)) is VALENCE_AROUSAL
