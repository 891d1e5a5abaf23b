"""Issue 10 ("never lose or misreport a user's work") and issue 11 ("the organisers' scorer
agrees") for run files, discovery, scoring and packaging.  Tests are named after the items."""
import json
import os
import re
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.stats import pearsonr
from sklearn import metrics as sk

from conftest import fear_text, invoke, valence_arousal_text
from mediaeval.dataset import Dataset, film_name_problem
from mediaeval.errors import DataError, MediaevalError
from mediaeval.scoring import score_fear, score_valence_arousal
from mediaeval.run_files import PROBLEM_CAP, PROBLEM_CODES, validate_run
from mediaeval.submission import package_runs, write_run
from mediaeval.task import FEAR, VALENCE_AROUSAL, fear_rows

REPO = Path(__file__).resolve().parents[1]
def make_dataset(root, films=(("A", 3), ("B", 2), ("MEDIAEVAL17_00", 2), ("MEDIAEVAL17_01", 1))):
    """Annotation-only dataset; valence i/10 - 0.1, arousal 0.1 - i/10, fear i % 2."""
    for film, k in films:
        folder = root / ("test" if film.startswith("MEDIAEVAL17") else "dev")
        folder.mkdir(parents=True, exist_ok=True)
        values = [(round(i / 10 - 0.1, 1), round(0.1 - i / 10, 1)) for i in range(k)]
        (folder / f"{film}_valence_arousal.txt").write_text(valence_arousal_text(values))
        (folder / f"{film}_fear.txt").write_text(fear_text([i % 2 for i in range(k)]))
    return root


@pytest.fixture
def data(tmp_path):
    return make_dataset(tmp_path / "data")


def test_runs(folder, team="T"):
    """Valid test-set runs of both subtasks (not a test: a helper)."""
    folder.mkdir(parents=True, exist_ok=True)
    va = write_run(folder / f"me17ei_{team}_valence_arousal_run1.txt",
                   {"MEDIAEVAL17_00": np.array([[0.1, 0.2], [0.3, 0.1]]), "MEDIAEVAL17_01": np.array([[0.0, 0.5]])},
                   VALENCE_AROUSAL, {"description": "va"})
    fear = write_run(folder / f"me17ei_{team}_fear_run1.txt",
                     {"MEDIAEVAL17_00": fear_rows([0.1, 0.7]), "MEDIAEVAL17_01": fear_rows([0.3])}, FEAR,
                     {"description": "fear"})
    return [va, fear]


test_runs.__test__ = False


# --------------------------------------------------------------------------- issue 10 item 5

def junk_run(path, value_lines=120_000, names=60_000):
    """A few MB of junk: lines of words before any film (E102 each), then unknown film names
    (E103 each)."""
    with open(path, "w") as handle:
        for i in range(value_lines):
            handle.write(f"junk{i} more words here\n")
        for i in range(names):
            handle.write(f"NoSuchFilm{i}\n")
    return path


def test_item5_validate_output_is_capped(data, tmp_path):
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


def test_item5_validate_memory_stays_flat(data, tmp_path):
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


def test_item5_a_line_without_end_is_not_held(data, tmp_path):
    path = tmp_path / "me17ei_T_valence_arousal_run1.txt"
    path.write_text("A\n" + "0 " * 1_000_000 + "\n0 0\n")
    problems = validate_run(path, Dataset.discover(data))
    assert [(p.line, p.code) for p in problems if p.code == "E115"] == [(2, "E115")]


def test_item5_package_refusal_is_capped(data, tmp_path):
    junk = junk_run(tmp_path / "me17ei_T_valence_arousal_run1.txt")
    with pytest.raises(MediaevalError) as caught:
        package_runs([junk], "T", tmp_path / "me17ei_T.zip", Dataset.discover(data))
    message = str(caught.value)
    assert f"{junk}: … and 119950 more E102 problems" in message
    assert message.count(": E102 ") == PROBLEM_CAP
    assert len(message) < 20_000
    assert not (tmp_path / "me17ei_T.zip").exists()


# --------------------------------------------------------------------------- issue 10 item 7

@pytest.mark.parametrize("name, ok", [("MEDIAEVAL17_00", True), ("Sintel", True), ("Elephant_s_Dream", True),
                                      ("My Film", False), ("1917", False), ("nan", False), ("1e5", False),
                                      ("-3", False), ("Tab\tName", False), ("No\u00a0break", False), ("", False)])
def test_item7_one_rule_for_names_a_run_file_can_hold(name, ok):
    assert (film_name_problem(name) is None) == ok


@pytest.mark.parametrize("filename", ["My Film.mp4", "1917.mp4", "My Film_fear.txt",
                                      "1917-MEDIAEVAL2017-valence_arousal.txt"])
def test_item7_discovery_refuses_a_film_name_a_run_file_cannot_hold(tmp_path, filename):
    (tmp_path / filename).write_text("x")
    with pytest.raises(DataError) as caught:
        Dataset.discover(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / filename}: film name ")
    assert "a run file" in message and "rename" in message


def test_item7_write_run_refuses_names_a_run_file_cannot_hold(tmp_path, data):
    for name in ("My Film", "1917"):
        with pytest.raises(ValueError, match=f"film {name!r}: a run file cannot hold this name"):
            write_run(tmp_path / "me17ei_T_valence_arousal_run1.txt", {name: np.zeros((1, 2))}, VALENCE_AROUSAL)
    assert list(tmp_path.glob("me17ei*")) == []


def test_item7_cli_refuses_such_a_dataset_in_one_line(tmp_path):
    make_dataset(tmp_path / "data", films=(("1917", 2), ("A", 2)))
    result = invoke("baseline", "--dataset", tmp_path / "data", "--subtask", "valence_arousal", "--films", "dev",
                 "--out", tmp_path / "me17ei_T_valence_arousal_run1.txt")
    assert result.exit_code == 1
    assert "film name '1917'" in result.output and "Traceback" not in result.output


# --------------------------------------------------------------------------- issue 10 item 9

def test_item9_discovery_survives_symlink_loops_and_follows_outside_links_once(tmp_path):
    root = make_dataset(tmp_path / "data")
    outside = make_dataset(tmp_path / "outside", films=(("Z", 2),))
    (root / "loop1").symlink_to(".")
    (root / "dev" / "loop2").symlink_to("..")
    (root / "dev" / "loop3").symlink_to(".", target_is_directory=True)
    (root / "z1").symlink_to(outside)
    (root / "z2").symlink_to(outside)
    dataset = Dataset.discover(root)
    assert list(dataset.films) == ["A", "B", "MEDIAEVAL17_00", "MEDIAEVAL17_01", "Z"]
    assert dataset.film("Z").fear_path == root / "z1" / "dev" / "Z_fear.txt"
    assert dataset.film("A").fear_path == root / "dev" / "A_fear.txt"


# --------------------------------------------------------------------------- issue 10 item 10

def test_item10_malformed_description_in_package_is_one_line(data, tmp_path):
    runs = test_runs(tmp_path / "runs")
    sidecar = runs[0].with_name(runs[0].name + ".json")
    sidecar.write_text("{not json")
    result = invoke("package", *runs, "--team", "T", "--dataset", data, "--out", tmp_path / "me17ei_T.zip")
    assert result.exit_code == 1
    assert f"{sidecar}: expected a JSON object describing the run" in result.output
    assert not (tmp_path / "me17ei_T.zip").exists()
    sidecar.write_text("[1, 2]")
    with pytest.raises(MediaevalError, match=re.escape(f"{sidecar}: expected a JSON object")):
        package_runs(runs, "T", tmp_path / "me17ei_T.zip", Dataset.discover(data))


def test_item10_folds_whose_films_are_not_in_the_run(data, tmp_path):
    va = write_run(tmp_path / "me17ei_T_valence_arousal_run1.txt",
                   {"A": np.array([[0.1, 0.2], [0.3, 0.1], [0.2, 0.2]]), "B": np.array([[0.0, 0.5], [0.1, 0.1]])},
                   VALENCE_AROUSAL)
    folds = tmp_path / "folds.json"
    folds.write_text(json.dumps({"seed": 0, "folds": [["A"], ["Sintel", "B"]]}))
    result = invoke("score", va, "--dataset", data, "--folds", folds)
    assert result.exit_code == 1
    assert f"{folds}: fold 2: film Sintel is not in the run {va}" in result.output
    folds.write_text(json.dumps({"seed": 0, "folds": [["A"], ["B"]]}))
    assert invoke("score", va, "--dataset", data, "--folds", folds).exit_code == 0


def test_item10_unreadable_annotation_files_name_the_file(tmp_path):
    root = make_dataset(tmp_path / "data", films=(("A", 2), ("B", 2)))
    missing = root / "dev" / "A_fear.txt"
    missing.unlink()
    missing.symlink_to(tmp_path / "nowhere.txt")       # an annotation file that cannot be opened
    latin = root / "dev" / "B_valence_arousal.txt"
    latin.write_bytes(valence_arousal_text([]).encode() + b"0\t0\t0.1\t0.2\n1\t5\t0.1\t0.2 \xe9t\xe9\n")
    dataset = Dataset.discover(root)
    with pytest.raises(DataError, match=re.escape(f"{missing}: cannot read: No such file or directory")):
        dataset.film("A").labels(FEAR)
    with pytest.raises(DataError, match=re.escape(f"{latin}:3: expected UTF-8 text")):
        dataset.film("B").labels(VALENCE_AROUSAL)
    fear = write_run(tmp_path / "me17ei_T_fear_run1.txt", {"A": fear_rows([0.1, 0.2]), "B": fear_rows([0.3, 0.1])},
                     FEAR)
    result = invoke("score", fear, "--dataset", root)
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {missing}: cannot read: No such file or directory"


def _cli_in_subprocess(args, file_size_limit=None):
    """Run the CLI in a child process, optionally with writes limited to ``file_size_limit`` bytes
    (a full disk: every write past it fails with an OSError, EFBIG)."""
    code = ("import resource, signal, sys\n"
            "limit = int(sys.argv[1])\n"
            "if limit >= 0:\n"
            "    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            "    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))\n"
            "from mediaeval.cli import main\n"
            "sys.argv = ['mediaeval'] + sys.argv[2:]\n"
            "main()\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    limit = -1 if file_size_limit is None else file_size_limit
    return subprocess.run([sys.executable, "-c", code, str(limit), *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=600)


def test_item10_full_disk_in_baseline_and_package_is_one_line(data, tmp_path):
    out = tmp_path / "out" / "me17ei_T_valence_arousal_run1.txt"
    done = _cli_in_subprocess(["baseline", "--dataset", data, "--subtask", "valence_arousal", "--films", "test",
                               "--out", out], file_size_limit=10)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == f"Error: {out}: File too large"
    assert list((tmp_path / "out").iterdir()) == []
    runs = test_runs(tmp_path / "runs")
    zip_path = tmp_path / "out" / "me17ei_T.zip"
    done = _cli_in_subprocess(["package", *runs, "--team", "T", "--dataset", data, "--out", zip_path],
                              file_size_limit=100)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == f"Error: {zip_path}: File too large"
    assert list((tmp_path / "out").iterdir()) == []


def test_item10_output_under_a_file_is_one_line(data, tmp_path):
    (tmp_path / "plain").write_text("x")
    out = tmp_path / "plain" / "me17ei_T_valence_arousal_run1.txt"
    result = invoke("baseline", "--dataset", data, "--subtask", "valence_arousal", "--films", "test", "--out", out)
    assert result.exit_code == 1
    assert result.output.strip() == (f"Error: {tmp_path / 'plain'}: is a file, not a folder: cannot write {out} "
                                     f"in it")
    assert (tmp_path / "plain").read_text() == "x"


# --------------------------------------------------------------------------- issue 10 item 11

def test_item11_out_of_range_values_show_their_digits(data, tmp_path):
    path = tmp_path / "me17ei_T_valence_arousal_run1.txt"
    path.write_text("MEDIAEVAL17_00\n1.0000001 0\n0 0\nMEDIAEVAL17_01\n0 -1.00000000001\n")
    shown = [str(p) for p in validate_run(path, Dataset.discover(data)) if p.code != "W202"]
    assert shown == [f"{path}:2: E110 valence 1.0000001 is outside [-1, 1]",
                     f"{path}:5: E110 arousal -1.00000000001 is outside [-1, 1]"]
    fear = tmp_path / "me17ei_T_fear_run1.txt"
    fear.write_text("MEDIAEVAL17_00\n0 1.0000001\n0 0\nMEDIAEVAL17_01\n0 0\n")
    assert [str(p) for p in validate_run(fear, Dataset.discover(data)) if p.code != "W202"] == [
        f"{fear}:2: E112 confidence 1.0000001 is outside [0, 1]"]


def test_item11_package_out_naming_an_input_is_refused(data, tmp_path):
    runs = test_runs(tmp_path / "runs")
    before = runs[0].read_bytes()
    for force in ((), ("--force",)):
        result = invoke("package", *runs, "--team", "T", "--dataset", data, "--out", runs[0], *force)
        assert result.exit_code == 1
        assert f"{runs[0]} is one of the run files given" in result.output
        assert runs[0].read_bytes() == before
    sidecar = runs[0].with_name(runs[0].name + ".json")
    result = invoke("package", *runs, "--team", "T", "--dataset", data, "--out", sidecar, "--force")
    assert result.exit_code == 1 and f"{sidecar} is one of the run files given" in result.output
    assert sidecar.read_text().startswith("{")
    annotation = data / "test" / "MEDIAEVAL17_00_fear.txt"
    result = invoke("package", *runs, "--team", "T", "--dataset", data, "--out", annotation, "--force")
    assert result.exit_code == 1 and "is not a zip made by mediaeval package" in result.output
    assert annotation.read_text().startswith("Id\tTime\tFear")
    with pytest.raises(MediaevalError, match="is a folder"):
        package_runs(runs, "T", data, Dataset.discover(data), force=True)


def test_item11_force_replaces_only_a_zip_the_tool_wrote(data, tmp_path):
    runs = test_runs(tmp_path / "runs")
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("holiday.jpg", b"photo")
    with pytest.raises(MediaevalError, match="is not a zip made by mediaeval package"):
        package_runs(runs, "T", other, Dataset.discover(data), force=True)
    assert zipfile.ZipFile(other).namelist() == ["holiday.jpg"]
    made = package_runs(runs, "T", tmp_path / "me17ei_T.zip", Dataset.discover(data))
    package_runs(runs[:1], "T", made, Dataset.discover(data))       # as package wrote it: replaced
    assert sorted(zipfile.ZipFile(made).namelist()) == ["README.txt", runs[0].name]
    with zipfile.ZipFile(made, "a") as archive:                      # changed since: only with force
        archive.writestr("notes.txt", "mine")
    with pytest.raises(MediaevalError, match="is not a zip made by mediaeval \\(or was changed since\\); use --force"):
        package_runs(runs, "T", made, Dataset.discover(data))
    assert "notes.txt" in zipfile.ZipFile(made).namelist()
    package_runs(runs, "T", made, Dataset.discover(data), force=True)
    assert sorted(zipfile.ZipFile(made).namelist()) == sorted(["README.txt", *(r.name for r in runs)])


# --------------------------------------------------------------------------- issue 11 item 3

def test_item3_blank_line_inside_a_run_is_an_error(data, tmp_path):
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


def test_item3_spaces_around_a_film_name_are_an_error(data, tmp_path):
    path = tmp_path / "me17ei_T_valence_arousal_run1.txt"
    path.write_text("MEDIAEVAL17_00 \n0.1 0.2\n0.2 0.1\n\tMEDIAEVAL17_01\n0 0\n")
    result = invoke("validate", path, "--dataset", data)
    assert result.exit_code == 1
    assert f"{path}:1: E114 film name 'MEDIAEVAL17_00' has spaces or tabs before or after it" in result.output
    assert f"{path}:4: E114 film name 'MEDIAEVAL17_01' has spaces or tabs before or after it" in result.output
    assert "E105" not in result.output  # the films are still recognised


def test_item3_constant_predictions_are_a_warning(data, tmp_path):
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


def test_item3_every_code_is_in_the_readme_table():
    readme = (REPO / "README.md").read_text()
    table = readme.split("### Validation codes", 1)[1].split("\n### ", 1)[0]
    listed = re.findall(r"^\| ([EW]\d{3}) \|", table, flags=re.M)
    assert listed == sorted(PROBLEM_CODES) == list(PROBLEM_CODES)


def test_item3_score_reports_an_undefined_official_pcc(data, tmp_path):
    values = {"A": np.array([[0.1, 0.2], [0.3, 0.1], [0.2, 0.4]]), "B": np.array([[0.5, 0.5], [0.5, 0.4]])}
    path = write_run(tmp_path / "me17ei_T_valence_arousal_run1.txt", values, VALENCE_AROUSAL)
    result = invoke("score", path, "--dataset", data, "--json")
    assert result.exit_code == 0
    scores = json.loads(result.output)
    truth = Dataset.discover(data)
    a, b = truth.film("A").labels(VALENCE_AROUSAL), truth.film("B").labels(VALENCE_AROUSAL)
    assert scores["official"]["valence_pcc"] is None
    assert scores["official"]["valence_pcc_defined_films"] == pytest.approx(pearsonr(a[:, 0], values["A"][:, 0])[0])
    assert scores["official"]["arousal_pcc"] == pytest.approx(
        (pearsonr(a[:, 1], values["A"][:, 1])[0] + pearsonr(b[:, 1], values["B"][:, 1])[0]) / 2)
    assert scores["official"]["arousal_pcc_defined_films"] == pytest.approx(scores["official"]["arousal_pcc"])
    assert ("valence_pcc: undefined for 1 of 2 films (constant truth or prediction): B; the official mean over "
            "films is undefined, as in the 2017 script; valence_pcc_defined_films is the mean over the other 1"
            ) in scores["notes"]


def test_item3_undefined_official_pcc_is_shown_by_every_consumer(tmp_path):
    from mediaeval.leaderboard import Entry, plot_leaderboard
    from mediaeval.leaderboard_tables import format_table
    from mediaeval.plots import plot_summary
    from mediaeval.scoring import format_scores, score_folds

    rng = np.random.default_rng(0)
    truth = {f: rng.uniform(-1, 1, (6, 2)) for f in "ABCD"}
    prediction = {f: rng.uniform(-1, 1, (6, 2)) for f in "ABCD"}
    prediction["B"][:, 0] = 0.25
    scores = score_folds(truth, prediction, [["A", "B"], ["C", "D"]], VALENCE_AROUSAL)
    stored = scores.to_json()
    assert stored["official"]["valence_pcc"] is None and stored["folds"][0]["official"]["valence_pcc"] is None
    assert stored["fold_mean"]["valence_pcc"] == pytest.approx(stored["folds"][1]["official"]["valence_pcc"])
    assert "valence_pcc n/a" in format_scores(scores)
    board = {"valence_arousal": [Entry("r", VALENCE_AROUSAL, "d", tmp_path, scores, scores)]}
    table = format_table(board)
    # issue 22 changed the table's layout (a line per figure): the undefined PCC is still "—"
    assert any(line.split()[:2] == ["valence_pcc", "—"] for line in table.splitlines())
    summary = score_valence_arousal(truth, prediction)
    defined = summary.official["valence_pcc_defined_films"]
    assert f"valence_pcc n/a ({defined:.3f} over the defined films), arousal_mse" in format_scores(summary)
    plot_summary("r", summary, tmp_path / "s.png")
    plot_leaderboard(board, tmp_path / "c.png")
    assert (tmp_path / "s.png").stat().st_size > 0 and (tmp_path / "c.png").stat().st_size > 0


# --------------------------------------------------------------------------- issue 11 item 4

def test_item4_fear_per_film_means_beside_pooled():
    truth = {"A": np.array([0, 1, 0, 1]), "B": np.array([0, 0, 0]), "C": np.array([1, 0, 1])}
    conf = {"A": np.array([0.1, 0.9, 0.6, 0.4]), "B": np.array([0.2, 0.1, 0.1]), "C": np.array([0.3, 0.8, 0.7])}
    prediction = {f: np.column_stack([(c >= 0.5).astype(float), c]) for f, c in conf.items()}
    scores = score_fear(truth, prediction)
    labels = {f: conf[f] >= 0.5 for f in truth}
    # textbook per-film figures; precision of B and recall/F1 of B are undefined (no positive)
    assert scores.official["accuracy_per_film"] == pytest.approx(
        np.mean([sk.accuracy_score(truth[f], labels[f]) for f in "ABC"]))
    assert scores.official["precision_per_film"] == pytest.approx(
        np.mean([sk.precision_score(truth[f], labels[f]) for f in "AC"]))
    assert scores.official["recall_per_film"] == pytest.approx(
        np.mean([sk.recall_score(truth[f], labels[f]) for f in "AC"]))
    assert scores.official["f1_per_film"] == pytest.approx(np.mean([sk.f1_score(truth[f], labels[f]) for f in "AC"]))
    y, c = np.concatenate(list(truth.values())), np.concatenate(list(conf.values()))
    assert scores.official["accuracy"] == pytest.approx(sk.accuracy_score(y, c >= 0.5))   # pooled, as before
    assert scores.official["f1"] == pytest.approx(sk.f1_score(y, c >= 0.5))
    assert any(n.startswith("precision_per_film: undefined for 1 of 3 films") and n.endswith(": B")
               for n in scores.notes)


def test_item10_cli_turns_os_errors_into_one_line_and_leaves_other_errors(tmp_path):
    import click

    from mediaeval.cli import _Group

    @click.group(cls=_Group)
    def group():
        pass

    @group.command()
    @click.argument("kind")
    def fail(kind):
        if kind == "os":
            open(tmp_path / "missing" / "file.txt")
        if kind == "nameless":
            raise OSError(28, "No space left on device")
        raise {"bug": TypeError, "interrupt": KeyboardInterrupt}[kind]("boom")

    runner = CliRunner()
    result = runner.invoke(group, ["fail", "os"])
    assert result.exit_code == 1
    assert result.output == f"Error: {tmp_path / 'missing' / 'file.txt'}: No such file or directory\n"
    result = runner.invoke(group, ["fail", "nameless"])
    assert result.exit_code == 1 and result.output == "Error: No space left on device\n"
    assert isinstance(runner.invoke(group, ["fail", "bug"]).exception, TypeError)
    with pytest.raises(click.exceptions.Abort) as caught:  # Click's own Ctrl-C handling, untouched
        runner.invoke(group, ["fail", "interrupt"], catch_exceptions=False, standalone_mode=False)
    assert isinstance(caught.value.__cause__, KeyboardInterrupt)


# --------------------------------------------------------------------------- issue 20

def test_issue20_a_bom_is_an_error_and_unsorted_films_a_warning(data, tmp_path):
    runs = test_runs(tmp_path / "runs")
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


def test_issue20_package_out_under_a_file_says_it_is_a_file(data, tmp_path):
    runs = test_runs(tmp_path / "runs")
    (tmp_path / "afile").write_text("x")
    for out in (tmp_path / "afile" / "z.zip", tmp_path / "afile" / "sub" / "z.zip"):
        result = invoke("package", *runs, "--team", "T", "--dataset", data, "--out", out)
        assert result.exit_code == 1
        assert result.output == f"Error: {tmp_path / 'afile'}: is a file, not a folder: cannot write {out} in it\n"
    assert (tmp_path / "afile").read_text() == "x"

