"""Late fusion: weights on the simplex, chosen by nested CV over films, never much worse than the best run."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from conftest import write_annotations
from mediaeval.dataset import Dataset
from mediaeval.errors import DataError, MediaevalError
from mediaeval.fusion import fixed, fuse_auto, read_runs, simplex_grid
from mediaeval.scoring import score_valence_arousal
from mediaeval.submission import write_run
from mediaeval.task import SUBTASKS, VALENCE_AROUSAL, fear_rows

@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Ten annotated films of 30-60 segments with smooth random curves and rare fear."""
    root = tmp_path_factory.mktemp("fusion") / "data"
    rng = np.random.default_rng(5)
    for i in range(10):
        k = int(rng.integers(30, 60))
        curve = np.clip(np.cumsum(rng.normal(0, 0.05, (k, 2)), axis=0), -0.9, 0.9)
        fear = ((curve[:, 0] < -0.1) & (curve[:, 1] > 0.0)).astype(int)
        fear[i % k] = 1
        write_annotations(root, f"Film_{i:02d}", valence_arousal=curve, fear=fear)
    return Dataset.discover(root)


def _noisy_run(dataset, path, subtask, noise, seed):
    rng = np.random.default_rng(seed)
    rows = {}
    for film in dataset.dev_films:
        truth = film.labels(SUBTASKS[subtask]).astype(float)
        if subtask == "valence_arousal":
            rows[film.name] = np.clip(truth + rng.normal(0, noise, truth.shape), -1, 1)
        else:
            rows[film.name] = fear_rows(np.clip(0.5 * truth + 0.25 + rng.normal(0, noise, truth.shape), 0, 1))
    return write_run(path, rows, SUBTASKS[subtask],
                     {"description": path.stem, "features": [path.stem], "external_data": False})


def test_simplex_grid_sums_to_one():
    grid = simplex_grid(3)
    assert len(grid) == 66 and np.allclose(grid.sum(axis=1), 1.0) and grid.min() == 0.0


def test_auto_weights_are_never_much_worse_than_the_better_run(dataset, tmp_path):
    good = _noisy_run(dataset, tmp_path / "me17ei_T_valence_arousal_run1.txt", "valence_arousal", 0.05, 1)
    poor = _noisy_run(dataset, tmp_path / "me17ei_T_valence_arousal_run2.txt", "valence_arousal", 0.4, 2)
    fusion, rows, scores = fuse_auto(read_runs([good, poor]), dataset)
    assert fusion.weights[0].min() >= 0.8           # the good run dominates both columns
    single = {f.name: read_runs([good, poor])[0].films[f.name] for f in dataset.dev_films}
    better = score_valence_arousal({f.name: f.labels(VALENCE_AROUSAL) for f in dataset.dev_films}, single)
    for key in ("valence_mse", "arousal_mse"):
        assert scores.official[key] <= better.official[key] * 1.10
    for key in ("valence_pcc", "arousal_pcc"):
        assert scores.official[key] >= better.official[key] - 0.02


def test_two_equal_runs_with_independent_noise_fuse_better_than_either(dataset, tmp_path):
    a = _noisy_run(dataset, tmp_path / "me17ei_T_valence_arousal_run1.txt", "valence_arousal", 0.2, 3)
    b = _noisy_run(dataset, tmp_path / "me17ei_T_valence_arousal_run2.txt", "valence_arousal", 0.2, 4)
    fusion, _, scores = fuse_auto(read_runs([a, b]), dataset)
    truth = {f.name: f.labels(VALENCE_AROUSAL) for f in dataset.dev_films}
    alone = [score_valence_arousal(truth, r.films).official["valence_mse"] for r in read_runs([a, b])]
    assert scores.official["valence_mse"] < min(alone)
    assert np.all(np.abs(fusion.weights - 0.5) <= 0.2)


def test_fear_fusion_by_map(dataset, tmp_path):
    good = _noisy_run(dataset, tmp_path / "me17ei_T_fear_run1.txt", "fear", 0.05, 5)
    poor = _noisy_run(dataset, tmp_path / "me17ei_T_fear_run2.txt", "fear", 0.5, 6)
    fusion, rows, scores = fuse_auto(read_runs([good, poor]), dataset)
    assert fusion.weights[0, 0] >= 0.7 and 0.0 <= fusion.threshold <= 1.0
    assert scores.official["map"] > 0.9
    assert set(np.unique(np.concatenate([r[:, 0] for r in rows.values()]))) <= {0.0, 1.0}


def test_fixed_weights_are_normalised_and_checked():
    assert fixed([1, 3], 2, 2).weights.tolist() == [[0.25, 0.25], [0.75, 0.75]]
    with pytest.raises(MediaevalError, match="expected 2 non-negative numbers"):
        fixed([1, -1], 2, 2)


def test_runs_of_other_subtasks_or_films_are_refused(dataset, tmp_path):
    va = _noisy_run(dataset, tmp_path / "me17ei_T_valence_arousal_run1.txt", "valence_arousal", 0.1, 1)
    fear = _noisy_run(dataset, tmp_path / "me17ei_T_fear_run1.txt", "fear", 0.1, 1)
    with pytest.raises(DataError, match="fuse runs of one subtask"):
        read_runs([va, fear])
    with pytest.raises(MediaevalError, match="at least 2 run files"):
        read_runs([va])
    fewer = write_run(tmp_path / "me17ei_T_valence_arousal_run3.txt",
                      {n: r for n, r in read_runs([va, va])[0].films.items() if n != "Film_00"}, VALENCE_AROUSAL)
    with pytest.raises(DataError, match="holds other films"):
        read_runs([va, fewer])


def test_fuse_command_applies_auto_weights_to_test_files(dataset, tmp_path):
    from click.testing import CliRunner

    from mediaeval.cli import cli
    from mediaeval.run_files import RunFile

    a = _noisy_run(dataset, tmp_path / "me17ei_T_valence_arousal_run1.txt", "valence_arousal", 0.05, 1)
    b = _noisy_run(dataset, tmp_path / "me17ei_T_valence_arousal_run2.txt", "valence_arousal", 0.4, 2)
    out = tmp_path / "out" / "me17ei_T_valence_arousal_run5.txt"
    args = ["fuse", str(a), str(b), "--dataset", str(dataset.root), "--out", str(out)]
    result = CliRunner().invoke(cli, args + ["--apply-to", str(a), "--apply-to", str(b)])
    assert result.exit_code == 0, result.output
    assert "nested out-of-fold figures of the fusion: valence_mse" in result.output
    assert out.exists() and (out.parent / "me17ei_T_valence_arousal_run5.oof.txt").exists()
    assert set(RunFile.read(out).films) == {f.name for f in dataset.dev_films}
    sidecar = (out.parent / "me17ei_T_valence_arousal_run5.txt.json").read_text()
    assert "late fusion (weighted mean) of 2 runs" in sidecar and '"external_data": false' in sidecar
    again = CliRunner().invoke(cli, args)        # its own output, unchanged: replaced
    assert again.exit_code == 0, again.output
    out.write_text(out.read_text().replace("\n", "\n\n", 1).replace("\n\n", "\n", 1) + "Film_99\n")  # edited
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 1 and "use --force" in again.output
    same = CliRunner().invoke(cli, ["fuse", str(a), str(b), "--dataset", str(dataset.root), "--out", str(a)])
    assert same.exit_code == 2 and "is one of the input run files" in same.output
    fixed_weights = CliRunner().invoke(cli, args + ["--weights", "1,0", "--force"])
    assert fixed_weights.exit_code == 0, fixed_weights.output
    assert np.array_equal(RunFile.read(out).films["Film_03"], RunFile.read(a).films["Film_03"])
    bad = CliRunner().invoke(cli, args + ["--weights", "1,x", "--force"])
    assert bad.exit_code == 2 and "expected auto or numbers" in bad.output


def test_fixed_weights_must_be_finite():
    with pytest.raises(MediaevalError, match="expected 2 non-negative numbers"):
        fixed([float("nan"), 1], 2, 2)


def test_fuse_never_replaces_the_out_of_fold_file_without_force(dataset, tmp_path):
    from click.testing import CliRunner

    from mediaeval.cli import cli

    a = _noisy_run(dataset, tmp_path / "me17ei_T_valence_arousal_run1.txt", "valence_arousal", 0.05, 1)
    b = _noisy_run(dataset, tmp_path / "me17ei_T_valence_arousal_run2.txt", "valence_arousal", 0.4, 2)
    out = tmp_path / "me17ei_T_valence_arousal_run5.txt"
    (tmp_path / "me17ei_T_valence_arousal_run5.oof.txt").write_text("mine\n")
    result = CliRunner().invoke(cli, ["fuse", str(a), str(b), "--dataset", str(dataset.root), "--out", str(out),
                                      "--apply-to", str(a), "--apply-to", str(b)])
    assert result.exit_code == 1 and "use --force" in result.output
    assert (tmp_path / "me17ei_T_valence_arousal_run5.oof.txt").read_text() == "mine\n" and not out.exists()


def test_a_fused_run_is_described_by_its_fused_runs_and_weights_not_model_settings(dataset, tmp_path):
    import json

    from mediaeval.fusion import fuse_trained
    from mediaeval.runs import RunDefinition
    from mediaeval.run_files import parse_run_name
    from mediaeval.submission import _describe

    models = tmp_path / "models"
    for n, noise in ((1, 0.05), (2, 0.4)):
        (models / f"valence_arousal_run{n}").mkdir(parents=True)
        _noisy_run(dataset, models / f"valence_arousal_run{n}" / f"me17ei_T_valence_arousal_run{n}.txt",
                   "valence_arousal", noise, n)
    definition = tmp_path / "run5.toml"
    definition.write_text('subtask = "valence_arousal"\nrun = 5\ndescription = "runs 1 and 2 fused"\nfuse = [1, 2]\n')
    config = RunDefinition.load(definition)
    assert config.describe() == {
        "description": "runs 1 and 2 fused", "features": [], "external_data": False,
        "model": "late fusion (weighted mean, weights by nested CV over films) of valence_arousal runs 1, 2",
        "fused_runs": [1, 2], "settings": {"seed": 0, "folds": 5}}
    model_dir, _, chosen = fuse_trained(config, dataset, models, "T")
    run = model_dir / "me17ei_T_valence_arousal_run5.txt"
    sidecar = json.loads((model_dir / "me17ei_T_valence_arousal_run5.txt.json").read_text())
    assert sidecar.pop("written_by")["run_sha256"] == hashlib.sha256(run.read_bytes()).hexdigest()   # its mark
    names = ["me17ei_T_valence_arousal_run1.txt", "me17ei_T_valence_arousal_run2.txt"]
    weights = {c: {n: round(float(chosen.weights[i, j]), 4) for i, n in enumerate(names)}
               for j, c in enumerate(("valence", "arousal"))}
    text = "; ".join(f"{c}: {w[names[0]]:g} x {names[0]}, {w[names[1]]:g} x {names[1]}" for c, w in weights.items())
    assert sidecar == {
        "description": "runs 1 and 2 fused", "external_data": False, "fused_runs": [1, 2],
        "features": ["me17ei_T_valence_arousal_run1", "me17ei_T_valence_arousal_run2"],   # the fused runs' features
        "model": "late fusion (weighted mean, weights by nested CV over films) of valence_arousal runs 1, 2; weights "
                 f"chosen on all development films: {text}",
        "settings": {"seed": 0, "folds": 5}, "weights": weights}
    readme = _describe(run, parse_run_name(run), sidecar)
    assert readme.splitlines()[-1] == "  settings: seed=0, folds=5"       # no LSTM settings for a run without a model
    assert "lstm" not in readme.lower() and "  model: late fusion" in readme


def test_a_fused_model_folder_holds_its_definition_as_written_or_as_built(dataset, tmp_path):
    import dataclasses

    from mediaeval.fusion import fuse_trained
    from mediaeval.runs import RunDefinition

    models = tmp_path / "models"
    for n, noise in ((1, 0.05), (2, 0.4)):
        (models / f"fear_run{n}").mkdir(parents=True)
        _noisy_run(dataset, models / f"fear_run{n}" / f"me17ei_T_fear_run{n}.txt", "fear", noise, n)
    definition = tmp_path / "run5.toml"
    definition.write_text('# my notes\nsubtask = "fear"\nrun = 5\ndescription = "1 and 2"\nfuse = [1, 2]\n')
    model_dir, _, _ = fuse_trained(RunDefinition.load(definition), dataset, models, "T")
    assert (model_dir / "run.toml").read_text() == definition.read_text()
    built = dataclasses.replace(RunDefinition.load(definition), description="changed in code", folds=3)
    model_dir, _, _ = fuse_trained(built, dataset, models, "T")
    assert RunDefinition.load(model_dir / "run.toml").to_data() == built.to_data()
