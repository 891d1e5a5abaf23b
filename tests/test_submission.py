"""Run files written, described and packaged (mediaeval/submission.py): the writer's refusals,
the zip's contents and every reason package refuses, which zips --force replaces."""
import re
import zipfile

import numpy as np
import pytest

from conftest import invoke, junk_run, write_test_runs
from mediaeval.dataset import Dataset
from mediaeval.errors import MediaevalError
from mediaeval.run_files import PROBLEM_CAP, RunFile
from mediaeval.submission import package_runs, write_run
from mediaeval.task import SUBTASKS, VALENCE_AROUSAL, fear_rows


def test_write_then_read_round_trip(tmp_path):
    predictions = {"B": np.array([[0.1, -0.2], [0.3, 0.4]]), "A": np.array([[1.0, -1.0]])}
    path = write_run(tmp_path / "me17ei_T_valence_arousal_run1.txt", predictions, VALENCE_AROUSAL)
    assert path.read_text() == "A\n1.000000 -1.000000\nB\n0.100000 -0.200000\n0.300000 0.400000\n"
    run = RunFile.read(path)
    assert list(run.films) == ["A", "B"] and run.film_lines == {"A": 1, "B": 3}
    assert np.array_equal(run.films["B"], predictions["B"])


def test_writer_refuses_bad_values_and_leaves_no_file(tmp_path):
    path = tmp_path / "me17ei_T_valence_arousal_run1.txt"
    with pytest.raises(ValueError, match="film A: valence/arousal outside"):
        write_run(path, {"A": np.array([[1.5, 0.0]])}, VALENCE_AROUSAL)
    with pytest.raises(ValueError, match="not finite"):
        write_run(path, {"A": np.array([[np.nan, 0.0]])}, VALENCE_AROUSAL)
    assert list(tmp_path.iterdir()) == []


def test_fear_rows():
    assert fear_rows([0.2, 0.5, 0.9]).tolist() == [[0, 0.2], [1, 0.5], [1, 0.9]]


def _test_runs(tmp_path, team="T", numbers=(1,), subtask="fear"):
    paths = []
    for n in numbers:
        rows = {"MEDIAEVAL17_00": fear_rows([0.1, 0.7]), "MEDIAEVAL17_01": fear_rows([0.3])}
        if subtask == "valence_arousal":
            rows = {"MEDIAEVAL17_00": np.zeros((2, 2)), "MEDIAEVAL17_01": np.zeros((1, 2))}
        paths.append(write_run(tmp_path / f"me17ei_{team}_{subtask}_run{n}.txt", rows, SUBTASKS[subtask],
                               {"description": f"run {n}", "features": ["visual-stats"], "external_data": False}))
    return paths


def test_package_writes_runs_and_description(tmp_path, run_dataset):
    runs = _test_runs(tmp_path, numbers=(1, 2)) + _test_runs(tmp_path, subtask="valence_arousal")
    out = package_runs(runs, "T", tmp_path / "me17ei_T.zip", run_dataset)
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist() == ["me17ei_T_valence_arousal_run1.txt", "me17ei_T_fear_run1.txt",
                                      "me17ei_T_fear_run2.txt", "README.txt"]
        readme = archive.read("README.txt").decode()
        assert archive.read("me17ei_T_fear_run2.txt") == runs[1].read_bytes()
    assert "description: run 2" in readme and "features: visual-stats" in readme
    assert "external data: no" in readme


def test_package_refuses_with_every_reason(tmp_path, run_dataset):
    runs = _test_runs(tmp_path / "x", numbers=range(1, 6)) + _test_runs(tmp_path / "y", numbers=(1,))
    runs += _test_runs(tmp_path / "z", team="Other")
    dev = write_run(tmp_path / "me17ei_T_valence_arousal_run2.txt",
                    {"A": np.zeros((3, 2)), "B": np.zeros((2, 2))}, VALENCE_AROUSAL)
    bad = tmp_path / "me17ei_T_valence_arousal_run3.txt"
    bad.write_text("MEDIAEVAL17_00\n0 0\n")
    existing = tmp_path / "me17ei_T.zip"
    package_runs(_test_runs(tmp_path / "w"), "T", existing, run_dataset)
    with zipfile.ZipFile(existing, "a") as archive:    # changed since package wrote it
        archive.writestr("notes.txt", "mine")
    kept = existing.read_bytes()
    with pytest.raises(MediaevalError) as caught:
        package_runs(runs + [dev, bad], "T", existing, run_dataset)
    message = str(caught.value)
    assert "(or was changed since); use --force" in message
    assert "7 fear runs; at most 5" in message
    assert "3 files are fear run 1" in message
    assert "belongs to team Other, not T" in message
    assert "holds development films" in message
    assert "E105 test film MEDIAEVAL17_01 is missing" in message
    assert existing.read_bytes() == kept


def test_package_force_replaces(tmp_path, run_dataset):
    out = tmp_path / "me17ei_T.zip"
    package_runs(_test_runs(tmp_path / "old", numbers=(1, 2)), "T", out, run_dataset)
    package_runs(_test_runs(tmp_path), "T", out, run_dataset, force=True)
    assert zipfile.ZipFile(out).namelist() == ["me17ei_T_fear_run1.txt", "README.txt"]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_package_refusal_is_capped(data, tmp_path):
    junk = junk_run(tmp_path / "me17ei_T_valence_arousal_run1.txt")
    with pytest.raises(MediaevalError) as caught:
        package_runs([junk], "T", tmp_path / "me17ei_T.zip", Dataset.discover(data))
    message = str(caught.value)
    assert f"{junk}: … and 119950 more E102 problems" in message
    assert message.count(": E102 ") == PROBLEM_CAP
    assert len(message) < 20_000
    assert not (tmp_path / "me17ei_T.zip").exists()


def test_write_run_refuses_names_a_run_file_cannot_hold(tmp_path, data):
    for name in ("My Film", "1917"):
        with pytest.raises(ValueError, match=f"film {name!r}: a run file cannot hold this name"):
            write_run(tmp_path / "me17ei_T_valence_arousal_run1.txt", {name: np.zeros((1, 2))}, VALENCE_AROUSAL)
    assert list(tmp_path.glob("me17ei*")) == []


def test_malformed_description_in_package_is_one_line(data, tmp_path):
    runs = write_test_runs(tmp_path / "runs")
    sidecar = runs[0].with_name(runs[0].name + ".json")
    sidecar.write_text("{not json")
    result = invoke("package", *runs, "--team", "T", "--dataset", data, "--out", tmp_path / "me17ei_T.zip")
    assert result.exit_code == 1
    assert f"{sidecar}: expected a JSON object describing the run" in result.output
    assert not (tmp_path / "me17ei_T.zip").exists()
    sidecar.write_text("[1, 2]")
    with pytest.raises(MediaevalError, match=re.escape(f"{sidecar}: expected a JSON object")):
        package_runs(runs, "T", tmp_path / "me17ei_T.zip", Dataset.discover(data))


def test_package_out_naming_an_input_is_refused(data, tmp_path):
    runs = write_test_runs(tmp_path / "runs")
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


def test_force_replaces_only_a_zip_the_tool_wrote(data, tmp_path):
    runs = write_test_runs(tmp_path / "runs")
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
