"""Per-segment recipes end to end on imported features: train, score, leaderboard; nested
selection never sees the scored fold; model folders of each family predict test films."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import random_walk_film, write_annotations, write_feature_table
from mediaeval.cli import cli
from mediaeval.dataset import Dataset
from mediaeval.run_files import RunFile
from mediaeval.runs import RunDefinition
from mediaeval.training import train_run

RUN = """subtask = "{subtask}"
run = {run}
description = "{family} test run"
features = ["mine"]
folds = 3

[model]
type = "{family}"
inner_folds = 2
alphas = [1.0, 100.0]
svr_c = [1.0]
hgb_max_leaf_nodes = [7]
hgb_max_iter = 20
smoothing = [0.0, 2.0]
inner_repeats = 1   # one inner split, as when the PCC floors below were set (4 training films a fold)
"""


def _write_films(root, src, labels_of, seed=0, n=6):
    """``n`` annotation-only films of 20-30 segments and their 1 Hz feature tables: two columns
    follow valence and arousal (with noise), two are noise."""
    rng = np.random.default_rng(seed)
    src.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        k = 20 + 2 * i
        seconds, curve, segments = random_walk_film(rng, k, level=False)
        segments = labels_of(i, segments)
        fear = ((segments[:, 1] > np.median(segments[:, 1])) | (np.arange(k) == 1)).astype(int)
        write_annotations(root, f"Film_{i}", valence_arousal=segments, fear=fear)
        table = np.c_[curve + rng.normal(0, 0.05, curve.shape), rng.normal(0, 1, (seconds, 2))]
        write_feature_table(src / f"Film_{i}.csv", "v,a,n1,n2", table)


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    base = tmp_path_factory.mktemp("recipes")
    _write_films(base / "data", base / "src", lambda i, s: s)
    result = CliRunner().invoke(cli, ["import-features", str(base / "src"), "--dataset", str(base / "data"),
                                      "--out", str(base / "features"), "--name", "mine"])
    assert result.exit_code == 0, result.output
    assert "6 films imported" in result.output
    return base


@pytest.mark.parametrize("family", ["ridge", "svr", pytest.param("hgb", marks=pytest.mark.slow)])
def test_each_family_trains_scores_and_predicts(imported, family, tmp_path):
    for subtask, run in (("valence_arousal", 1), ("fear", 2)):
        config = tmp_path / f"{subtask}.toml"
        config.write_text(RUN.format(subtask=subtask, run=run, family=family))
        out = tmp_path / f"model-{subtask}"
        result = CliRunner().invoke(cli, ["train", str(config), "--dataset", str(imported / "data"), "--features",
                                          str(imported / "features"), "--out", str(out), "--team", "T"])
        assert result.exit_code == 0, result.output
        assert (out / "final" / "seed0" / "segment_model.pkl").exists()
        chosen = json.loads((out / "fold1" / "seed0" / "settings.json").read_text())["chosen"]
        assert len(chosen["targets"]) == (2 if subtask == "valence_arousal" else 1)
        run_file = out / f"me17ei_T_{subtask}_run{run}.txt"
        scored = CliRunner().invoke(cli, ["score", str(run_file), "--dataset", str(imported / "data"), "--json"])
        assert scored.exit_code == 0, scored.output
        official = json.loads(scored.output)["official"]
        if subtask == "valence_arousal":
            assert official["valence_pcc"] > 0.5 and official["arousal_pcc"] > 0.5
        else:
            assert official["map"] > 0.5
        again = CliRunner().invoke(cli, ["predict", str(out), "--dataset", str(imported / "data"), "--features",
                                         str(imported / "features"), "--films", "Film_0,Film_1",
                                         "--out", str(tmp_path / f"me17ei_T_{subtask}_run{run}.txt")])
        assert again.exit_code == 0, again.output
        assert sorted(RunFile.read(tmp_path / f"me17ei_T_{subtask}_run{run}.txt").films) == ["Film_0", "Film_1"]


def test_nested_selection_never_sees_the_scored_fold(imported, tmp_path):
    """Poison one film's labels: its own out-of-fold predictions stay byte-identical (nothing
    chosen or fitted for it saw them), while films of other folds, whose models trained on it, change."""
    _write_films(tmp_path / "poisoned", tmp_path / "src", lambda i, s: -s[::-1] if i == 0 else s)
    config = tmp_path / "va.toml"
    config.write_text(RUN.format(subtask="valence_arousal", run=1, family="ridge"))
    clean = train_run(RunDefinition.load(config), Dataset.discover(imported / "data"), imported / "features",
                      tmp_path / "a", "T", progress=False)
    poisoned = train_run(RunDefinition.load(config), Dataset.discover(tmp_path / "poisoned"), imported / "features",
                         tmp_path / "b", "T", progress=False)
    before, after = RunFile.read(clean.run_file).films, RunFile.read(poisoned.run_file).films
    assert np.array_equal(before["Film_0"], after["Film_0"])
    assert any(not np.array_equal(before[f], after[f]) for f in before if f != "Film_0")


@pytest.mark.slow
def test_leaderboard_of_two_trained_runs(imported, tmp_path):
    folders = []
    for family, run in (("ridge", 1), ("hgb", 2)):
        config = tmp_path / f"{family}.toml"
        config.write_text(RUN.format(subtask="valence_arousal", run=run, family=family))
        folders.append(train_run(RunDefinition.load(config), Dataset.discover(imported / "data"), imported / "features",
                                 tmp_path / family, "T", progress=False).model_dir)
    result = CliRunner().invoke(cli, ["leaderboard", *map(str, folders), "--dataset", str(imported / "data")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert sum("valence_arousal_run" in line for line in lines) == 2 and "constant (training mean)" in result.output


def test_light_settings_and_fused_run_definitions(tmp_path):
    from mediaeval.errors import DataError
    from mediaeval.runs import RunDefinition, find_runs

    base = {"subtask": "valence_arousal", "run": 4, "description": "d", "features": ["a"],
            "model": {"lstm_units": 512}, "light": {"lstm_units": 32, "epochs": 8}}
    config = RunDefinition.from_data(tmp_path / "r.toml", base)
    light = config.lightened()
    assert (light.model.lstm_units, light.model.epochs, light.light) == (32, 8, {})
    assert light.description == "d (light settings: lstm_units = 32, epochs = 8)"
    assert RunDefinition.from_data(tmp_path / "r.toml", config.to_data()) == config
    with pytest.raises(DataError, match="light: model.lstm_units: expected at least 1"):
        RunDefinition.from_data(tmp_path / "r.toml", {**base, "light": {"lstm_units": 0}})
    fused = {"subtask": "valence_arousal", "run": 5, "description": "f", "fuse": [1, 2]}
    assert RunDefinition.from_data(tmp_path / "f.toml", fused).features == []
    with pytest.raises(DataError, match="fuse: expected at least 2 distinct run numbers"):
        RunDefinition.from_data(tmp_path / "f.toml", {**fused, "fuse": [1, 1]})
    with pytest.raises(DataError, match="trains no model of its own"):
        RunDefinition.from_data(tmp_path / "f.toml", {**fused, "model": {"lstm_units": 8}})
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "run1.toml").write_text('subtask = "valence_arousal"\nrun = 1\ndescription = "x"\nfeatures = ["a"]\n')
    (runs / "run5.toml").write_text('subtask = "valence_arousal"\nrun = 5\ndescription = "f"\nfuse = [1, 3]\n')
    with pytest.raises(DataError, match="fuse: valence_arousal run 3 is not defined"):
        find_runs(runs)


def test_every_shipped_run_loads_and_names_known_features():
    from pathlib import Path

    from mediaeval.features import available
    from mediaeval.runs import find_runs

    runs = find_runs(Path(__file__).resolve().parents[1] / "runs")
    assert {(r.subtask, r.run) for r in runs} == {("valence_arousal", n) for n in (1, 2, 3, 4, 5)} | {
        ("fear", n) for n in (1, 2, 3, 4, 5)}
    assert all(set(r.features) <= set(available()) for r in runs)
    assert sum(r.fused for r in runs) == 2 and any(getattr(r.model, "type", "lstm") != "lstm" for r in runs)
