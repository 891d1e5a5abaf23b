"""Scoring runs (mediaeval/scoring.py): folds checked against the run, an undefined official PCC
reported as such by score and every consumer of scores, fear figures per film beside pooled."""
import json

import numpy as np
import pytest
from scipy.stats import pearsonr
from sklearn import metrics as sk

from conftest import invoke
from mediaeval.dataset import Dataset
from mediaeval.scoring import score_fear, score_valence_arousal
from mediaeval.submission import write_run
from mediaeval.task import VALENCE_AROUSAL


def test_folds_whose_films_are_not_in_the_run(data, tmp_path):
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


def test_score_reports_an_undefined_official_pcc(data, tmp_path):
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


def test_undefined_official_pcc_is_shown_by_every_consumer(tmp_path):
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


def test_fear_per_film_means_beside_pooled():
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
