"""The leaderboard: model folders ranked beside the constant baseline on their own folds."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import write_annotations
from mediaeval.dataset import Dataset
from mediaeval.errors import DataError
from mediaeval.folds import write_folds
from mediaeval.leaderboard import leaderboard, plot_leaderboard, to_records
from mediaeval.leaderboard_tables import format_table
from mediaeval.scoring import score_folds
from mediaeval.task import VALENCE_AROUSAL

LABELS = {"Film_A": [(0.1, 0.5), (0.2, 0.4), (0.3, 0.3)], "Film_B": [(-0.2, 0.1), (0.0, 0.1), (0.2, 0.2)],
          "Film_C": [(0.4, -0.1), (0.5, 0.0), (0.3, -0.3)], "Film_D": [(-0.5, 0.2), (-0.4, 0.3), (-0.6, 0.1)]}
FOLDS = [["Film_A", "Film_B"], ["Film_C", "Film_D"]]
RUN = 'subtask = "valence_arousal"\nrun = {n}\ndescription = "{d}"\nfeatures = ["x"]\nfolds = 2\n'


@pytest.fixture()
def dataset(tmp_path):
    for name, rows in LABELS.items():
        write_annotations(tmp_path / "data", name, valence_arousal=rows)
    return Dataset.discover(tmp_path / "data")


def _model_folder(root, n: int, description: str, prediction: dict) -> object:
    """What mediaeval train leaves: run.toml, folds.json, scores.json of out-of-fold predictions."""
    root.mkdir(parents=True)
    (root / "run.toml").write_text(RUN.format(n=n, d=description))
    write_folds(root / "folds.json", FOLDS, 0)
    truth = {f: np.array(rows) for f, rows in LABELS.items()}
    (root / "scores.json").write_text(json.dumps(score_folds(truth, prediction, FOLDS, VALENCE_AROUSAL).to_json()))
    return root


def test_runs_are_ranked_and_compared_with_the_constant_on_their_folds(dataset, tmp_path):
    truth = {f: np.array(rows) for f, rows in LABELS.items()}
    wiggle = np.array([[0.01, -0.01], [0.0, 0.02], [-0.01, 0.0]])
    good = _model_folder(tmp_path / "good", 1, "close to the truth", {f: t + wiggle for f, t in truth.items()})
    bad = _model_folder(tmp_path / "bad", 2, "the truth upside down", {f: -t for f, t in truth.items()})
    board = leaderboard([bad, good], dataset)
    entries = board["valence_arousal"]
    assert [e.name for e in entries] == ["valence_arousal_run1", "valence_arousal_run2"]
    # beating the constant is said per MSE figure, by the paired interval (format changed by issue 22)
    assert [e.evidence.vs_constant["valence_mse"].verdict for e in entries] == ["better", "worse"]
    # The constant of fold 1 is the mean of films C and D; of fold 2, the mean of A and B.
    cd = np.array(LABELS["Film_C"] + LABELS["Film_D"]).mean(axis=0)
    ab = np.array(LABELS["Film_A"] + LABELS["Film_B"]).mean(axis=0)
    expected = np.mean([np.mean((np.array(LABELS[f])[:, 0] - m[0]) ** 2)
                        for f, m in (("Film_A", cd), ("Film_B", cd), ("Film_C", ab), ("Film_D", ab))])
    assert entries[0].figure("valence_mse", "baseline:official") == pytest.approx(expected, abs=1e-12)
    assert entries[0].figure("valence_pcc", "baseline:official") is None     # a constant has no PCC
    assert entries[0].evidence.constant["valence_mse"].value == pytest.approx(expected, abs=1e-12)
    assert entries[0].evidence.constant["valence_pcc"].value is None
    table = format_table(board)
    assert (table.index("valence_arousal_run1") < table.index("valence_arousal_run2")
            < table.index("constant (training mean)"))
    lines = table.splitlines()
    good_mse = next(line for line in lines if line.strip().startswith("valence_mse"))
    bad_mse = next(line for line in lines[lines.index("  2. valence_arousal_run2"):] if "valence_mse" in line)
    assert good_mse.endswith("better") and bad_mse.endswith("worse")
    records = to_records(board)
    assert [r["rank"] for r in records] == [1, 2] and records[1]["vs_constant"]["valence_mse"]["verdict"] == "worse"
    assert records[0]["constant"]["valence_mse"]["value"] == pytest.approx(expected, abs=1e-12)
    png = plot_leaderboard(board, tmp_path / "board.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_folder_that_is_not_a_model_is_named(dataset, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="scores.json is missing") as error:
        leaderboard([tmp_path / "empty"], dataset)
    assert error.value.path == tmp_path / "empty"


def test_folds_naming_films_of_another_dataset_are_not_compared(dataset, tmp_path):
    truth = {f: np.array(rows) for f, rows in LABELS.items()}
    folder = _model_folder(tmp_path / "m", 1, "d", truth)
    write_folds(folder / "folds.json", [["Film_A", "Film_X"], ["Film_C", "Film_D"]], 0)
    entry = leaderboard([folder], dataset)["valence_arousal"][0]
    assert entry.baseline is None and entry.evidence.vs_constant == {} and entry.evidence.constant == {}
    assert entry.note == (f"valence_arousal_run1: trained on 1 film(s) without valence_arousal annotations in "
                          f"{dataset.root} (Film_X): its figures are not this dataset's, so they are not compared "
                          f"with its constant")


def test_a_model_trained_on_other_labels_is_not_compared_with_the_constant(dataset, tmp_path):
    """model.json records each film's labels digest; the leaderboard compares them with the dataset's."""
    from mediaeval.provenance import labels_digests
    from mediaeval.model_folder import write_manifest

    truth = {f: np.array(rows) for f, rows in LABELS.items()}
    mine = _model_folder(tmp_path / "mine", 1, "trained here", {f: t + 0.01 for f, t in truth.items()})
    write_manifest(mine, state="complete", labels=labels_digests(truth))
    other = _model_folder(tmp_path / "other", 2, "trained elsewhere", truth)   # a perfect fit of other labels
    write_manifest(other, state="complete", labels={**labels_digests(truth), "Film_B": "0123456789abcdef"})
    old = _model_folder(tmp_path / "old", 3, "trained before digests", {f: t + 0.02 for f, t in truth.items()})
    write_manifest(old, state="complete")
    entries = {e.name: e for e in leaderboard([mine, other, old], dataset)["valence_arousal"]}
    verdicts = {n: {k: v.verdict for k, v in e.evidence.vs_constant.items()} for n, e in entries.items()}
    assert entries["valence_arousal_run1"].note is None
    assert verdicts["valence_arousal_run1"] == {"valence_mse": "better", "arousal_mse": "better"}
    assert verdicts["valence_arousal_run2"] == {} and entries["valence_arousal_run2"].baseline is None
    assert entries["valence_arousal_run2"].note == (
        f"valence_arousal_run2: trained on other valence_arousal labels than those of {dataset.root} for 1 of 4 "
        f"films (Film_B): its figures are not this dataset's, so they are not compared with its constant")
    assert verdicts["valence_arousal_run3"] == {"valence_mse": "better", "arousal_mse": "better"}
    assert entries["valence_arousal_run3"].note == (
        f"valence_arousal_run3: its model.json records no digest of the labels it was trained on (made by an "
        f"earlier mediaeval): whether they are those of {dataset.root} cannot be checked")
    table = format_table(leaderboard([mine, other, old], dataset)).splitlines()
    start = next(i for i, line in enumerate(table) if ". valence_arousal_run2" in line)
    mse = [line for line in table[start + 1:start + 8] if line.lstrip().startswith(("valence_mse", "arousal_mse"))]
    assert len(mse) == 2 and all(line.endswith("not compared (see note)") for line in mse)
    assert [line for line in table if line.startswith("  note: ")] == [
        f"  note: {entries['valence_arousal_run2'].note}", f"  note: {entries['valence_arousal_run3'].note}"]


def test_leaderboard_command_table_json_csv_plot(dataset, tmp_path):
    from click.testing import CliRunner

    from mediaeval.cli import cli

    truth = {f: np.array(rows) for f, rows in LABELS.items()}
    good = _model_folder(tmp_path / "good", 1, "close", {f: t + 0.01 for f, t in truth.items()})
    bad = _model_folder(tmp_path / "bad", 2, "upside down", {f: -t for f, t in truth.items()})
    base = ["leaderboard", str(bad), str(good), "--dataset", str(dataset.root)]
    table = CliRunner().invoke(cli, base + ["--plot", str(tmp_path / "b.png")])
    assert table.exit_code == 0, table.output
    assert table.output.index("valence_arousal_run1") < table.output.index("valence_arousal_run2")
    assert "constant (training mean)" in table.output and (tmp_path / "b.png").exists()
    records = json.loads(CliRunner().invoke(cli, base + ["--json"]).output)
    assert [r["run"] for r in records] == ["valence_arousal_run1", "valence_arousal_run2"]
    assert records[0]["constant"]["valence_pcc"]["value"] is None
    csv_text = CliRunner().invoke(cli, base + ["--csv"]).output.splitlines()
    assert csv_text[0].startswith("rank,subtask,run,") and len(csv_text) == 3
    both = CliRunner().invoke(cli, base + ["--csv", "--json"])
    assert both.exit_code == 2


def test_the_plot_has_one_panel_per_figure_with_spread_and_the_constant(dataset, tmp_path):
    from mediaeval.leaderboard import leaderboard_plot as leaderboard_figure

    truth = {f: np.array(rows) for f, rows in LABELS.items()}
    good = _model_folder(tmp_path / "good", 1, "close",
                         {f: t + 0.01 * (k + 1) for k, (f, t) in enumerate(truth.items())})
    bad = _model_folder(tmp_path / "bad", 2, "upside down", {f: -t for f, t in truth.items()})
    board = leaderboard([bad, good], dataset)
    fig = leaderboard_figure(board)
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["valence_mse (lower is better)", "valence_pcc",
                                               "arousal_mse (lower is better)", "arousal_pcc"]
    entries = board["valence_arousal"][::-1]          # drawn bottom to top: the best at the top
    for ax, key in zip(axes, ("valence_mse", "valence_pcc", "arousal_mse", "arousal_pcc")):
        assert [t.get_text() for t in ax.get_yticklabels()] == ["valence_arousal_run2", "valence_arousal_run1"]
        points = next(line for line in ax.get_lines() if line.get_marker() == "o")
        # the points of this panel are this figure of each run, and no other figure (MSE and PCC never share)
        assert points.get_xdata().tolist() == pytest.approx([e.figure(key) for e in entries])
        bars = ax.collections[0].get_segments()     # each run's 95 % interval over films (issue 22; was ± std)
        assert [x for s in bars for x in (s[0][0], s[1][0])] == pytest.approx(
            [x for e in entries for x in (e.evidence.figures[key].low, e.evidence.figures[key].high)])
        constant = [line for line in ax.get_lines() if line.get_label() == "constant"]
        if key.endswith("mse"):
            assert constant[0].get_xdata()[0] == pytest.approx(entries[0].figure(key, "baseline:official"))
            assert constant[0].get_xdata()[0] == pytest.approx(entries[0].evidence.constant[key].value)
        else:
            assert constant == []      # a constant has no PCC
    assert fig._suptitle.get_text() == ("official figures with 95 % intervals (percentile bootstrap over films); "
                                        "constant dashed; grey names: worse than the best run on the criterion")
