"""`mediaeval score` reads a run as the organisers' 2017 subtask-1 script read it (issue 21 item 2).

:func:`organisers_script` re-implements that script as SPEC section 7 describes it; the tests
score run files it accepted, the format notwithstanding, with both and compare the figures.
The test films' ground truth is in the files the organisers released after the evaluation,
``MEDIAEVAL17_NN_Valence-Arousal.txt`` (a header line, then id, time, valence, arousal).
"""
import json

import numpy as np
import pytest
from scipy.stats import mstats
from sklearn import metrics as sk

from conftest import fear_text, invoke, valence_arousal_text

LENGTHS = {"MEDIAEVAL17_00": 30, "MEDIAEVAL17_01": 24, "MEDIAEVAL17_02": 20, "MEDIAEVAL17_03": 16}
FIGURES = ("valence_mse", "valence_pcc", "arousal_mse", "arousal_pcc")


def organisers_script(run_path, truth_folder) -> dict[str, float]:
    """The organisers' 2017 subtask-1 evaluation, as SPEC section 7 describes it.

    The run's lines (Python's universal newlines: CRLF reads as LF): a line holding
    ``MEDIAEVAL17`` is a film header (the whole line is the film's name), any other is split on
    white space and its first two values read.  Per film, prediction and truth cut to the
    shorter without a word, then MSE and ``scipy.stats.mstats.pearsonr``; each figure is the
    unweighted mean over the films present in the run.
    """
    films, current = {}, None
    with open(run_path) as handle:
        for line in handle.read().splitlines():
            if "MEDIAEVAL17" in line:
                current = films[line] = []
            else:
                current.append([float(v) for v in line.split()[:2]])
    per_film = {key: [] for key in FIGURES}
    for film, rows in films.items():
        with open(truth_folder / f"{film}_Valence-Arousal.txt") as handle:
            truth = [[float(v) for v in line.split()[2:4]] for line in handle.read().splitlines()[1:]]
        n = min(len(rows), len(truth))
        p, t = np.array(rows[:n]), np.array(truth[:n])
        for k, dimension in enumerate(("valence", "arousal")):
            per_film[f"{dimension}_mse"].append(np.mean((p[:, k] - t[:, k]) ** 2))
            per_film[f"{dimension}_pcc"].append(float(mstats.pearsonr(p[:, k], t[:, k])[0]))
    return {key: float(np.mean(values)) for key, values in per_film.items()}


@pytest.fixture
def released(tmp_path):
    """A dataset of four test films (no video) and their released truth, seeded: valence/arousal
    and fear."""
    rng = np.random.default_rng(21)
    truth = tmp_path / "data" / "MEDIAEVAL17-TestSet-Data" / "truth"
    truth.mkdir(parents=True)
    for film, n in LENGTHS.items():
        (truth / f"{film}_Valence-Arousal.txt").write_text(valence_arousal_text(rng.uniform(-0.8, 0.8, (n, 2))))
        (truth / f"{film}_fear.txt").write_text(fear_text(rng.random(n) < 0.3))
    return tmp_path / "data", truth


def write_run(path, rows: dict[str, np.ndarray], end: str = "\n", extra: str = "") -> None:
    """A valence/arousal or fear run file of ``rows`` per film, lines ended by ``end``, each value
    line followed by ``extra`` (a third value, say)."""
    lines = []
    for film, values in rows.items():
        lines.append(film)
        lines += [" ".join(f"{v:.6f}" if isinstance(v, float) else str(v) for v in row) + extra for row in values]
    path.write_bytes((end.join(lines) + end).encode())


def predictions(lengths: dict[str, int], seed: int = 5) -> dict[str, list]:
    rng = np.random.default_rng(seed)
    return {film: rng.uniform(-1, 1, (n, 2)).round(6).tolist() for film, n in lengths.items()}


def score_json(*args):
    result = invoke("score", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_run_the_script_scored_is_scored_alike_with_one_note_per_deviation(released, tmp_path):
    """CRLF line ends, a third value ("0.0") on every line, a film 3 segments too long, one 5
    too short, one exact and one missing: the script's figures, and one note for each of the
    three deviations with how many."""
    data, truth = released
    run = tmp_path / "me17ei_T_valence_arousal_run1.txt"
    write_run(run, predictions({"MEDIAEVAL17_00": 33, "MEDIAEVAL17_01": 19, "MEDIAEVAL17_02": 20}),
              end="\r\n", extra=" 0.0")
    assert run.read_bytes().count(b" 0.0\r\n") == 72
    expected = organisers_script(run, truth)

    scores = score_json(run, "--dataset", data, "--truncate")
    for key in FIGURES:
        assert scores["official"][key] == pytest.approx(expected[key], abs=1e-6), key
    assert sorted(scores["per_film"]) == ["MEDIAEVAL17_00", "MEDIAEVAL17_01", "MEDIAEVAL17_02"]
    assert scores["notes"] == [
        f"{run}: 72 line(s) hold more than 2 values (the first at line 2): only the first 2 are read, as the "
        f"organisers' script read them; validate and package refuse such lines (E108)",
        "1 of the 4 test films with valence_arousal ground truth are not in the run, and left out of the means as "
        "the organisers' script left them out: MEDIAEVAL17_03",
        "2 film(s) truncated to the shorter of prediction and truth, as the organisers' script cut them: "
        "MEDIAEVAL17_00 to 30 segments (prediction 33, truth 30); MEDIAEVAL17_01 to 19 segments (prediction 19, "
        "truth 24)"]

    # lengths still need --truncate; validate and package still refuse the third value
    result = invoke("score", run, "--dataset", data)
    assert result.exit_code == 1
    assert (f"{run}:1: film MEDIAEVAL17_00 has 33 segment lines but its ground truth has 30 (--truncate cuts both "
            f"to the shorter)") in result.output
    result = invoke("validate", run, "--dataset", data)
    assert result.exit_code == 1
    assert f"{run}:2: E108 expected 2 values (valence arousal), got 3" in result.output
    assert f"{run}: … and 22 more E108 problems" in result.output
    assert f"{run}:0: E105 test film MEDIAEVAL17_03 is missing" in result.output
    result = invoke("package", run, "--team", "T", "--dataset", data, "--out", tmp_path / "me17ei_T.zip")
    assert result.exit_code == 1 and not (tmp_path / "me17ei_T.zip").exists()


def test_a_plain_run_and_a_run_of_two_films_agree_with_the_script(released, tmp_path):
    data, truth = released
    run = tmp_path / "me17ei_T_valence_arousal_run2.txt"
    write_run(run, predictions(LENGTHS, seed=6))
    scores = score_json(run, "--dataset", data)
    expected = organisers_script(run, truth)
    for key in FIGURES:
        assert scores["official"][key] == pytest.approx(expected[key], abs=1e-6), key
    assert scores["notes"] == []                               # nothing to say: a valid run

    write_run(run, predictions({"MEDIAEVAL17_01": 24, "MEDIAEVAL17_03": 16}, seed=7))
    scores = score_json(run, "--dataset", data)
    expected = organisers_script(run, truth)
    for key in FIGURES:
        assert scores["official"][key] == pytest.approx(expected[key], abs=1e-6), key
    assert scores["notes"] == [
        "2 of the 4 test films with valence_arousal ground truth are not in the run, and left out of the means as "
        "the organisers' script left them out: MEDIAEVAL17_00, MEDIAEVAL17_02"]


def test_a_fear_run_is_read_alike(released, tmp_path):
    """Fear: a third value is ignored and a missing film named, as for valence/arousal; MAP over
    the films present that have a fear segment."""
    data, truth = released
    rng = np.random.default_rng(8)
    confidences = {film: rng.random(LENGTHS[film]).round(6) for film in ("MEDIAEVAL17_00", "MEDIAEVAL17_02")}
    run = tmp_path / "me17ei_T_fear_run1.txt"
    write_run(run, {film: [[int(c >= 0.5), float(c)] for c in values] for film, values in confidences.items()},
              end="\r\n", extra=" 7")
    scores = score_json(run, "--dataset", data)
    labels = {film: np.loadtxt(truth / f"{film}_fear.txt", skiprows=1)[:, 2] for film in confidences}
    assert all(labels[film].any() for film in labels)
    assert scores["official"]["map"] == pytest.approx(
        np.mean([sk.average_precision_score(labels[f], confidences[f]) for f in confidences]), abs=1e-12)
    assert scores["notes"][:2] == [
        f"{run}: 50 line(s) hold more than 2 values (the first at line 2): only the first 2 are read, as the "
        f"organisers' script read them; validate and package refuse such lines (E108)",
        "2 of the 4 test films with fear ground truth are not in the run, and left out of the means as the "
        "organisers' script left them out: MEDIAEVAL17_01, MEDIAEVAL17_03"]
