"""train and predict on tiny generated films, through the CLI; a changed definition or data is
retrained, a fused run refused."""
import json
import shutil

import numpy as np
import pytest

from conftest import TRAINING_RUN, assert_runs_close, copy_model, invoke, write_tiny_run
from mediaeval.dataset import Dataset
from mediaeval.errors import DataError
from mediaeval.model_folder import stored_run
from mediaeval.runs import RunDefinition
from mediaeval.scoring import score_run
from mediaeval.run_files import validate_run

@pytest.fixture(scope="module")
def trained(tiny_dataset, features, tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    config = root / "run3.toml"
    config.write_text(TRAINING_RUN.format(subtask="valence_arousal", seeds=1))
    result = invoke("train", config, "--dataset", tiny_dataset, "--features", features, "--out", root / "va",
                    "--team", "T")
    assert result.exit_code == 0, result.output
    return root / "va", config


def test_model_folder(trained, tiny_dataset):
    model_dir, _ = trained
    for name in ("run.toml", "folds.json", "scores.json", "me17ei_T_valence_arousal_run3.txt",
                 "fold1/seed1/model.keras", "fold2/seed1/normalisation.npz", "fold1/seed1/log.csv",
                 "final/seed1/model.keras", "final/seed1/settings.json"):
        assert (model_dir / name).exists(), name
    assert list((model_dir / "final/seed1/tensorboard").iterdir())
    log = (model_dir / "final/seed1/log.csv").read_text().splitlines()
    assert log[0] == "epoch,loss,val_loss,val_figure,seconds" and len(log) == 3
    final = json.loads((model_dir / "final/seed1/settings.json").read_text())
    # the final LSTM sees every development film, none held out, for the folds' median kept epoch
    assert final["train_films"] == ["Sample_01", "Sample_02"] and final["validation_films"] == []
    assert final["settings"]["epochs"] == 2 and final["settings"]["validation_share"] == 0.0
    assert not model_dir.with_name("va.partial").exists()
    folds = json.loads((model_dir / "folds.json").read_text())["folds"]
    assert sorted(n for f in folds for n in f) == ["Sample_01", "Sample_02"]


def test_out_of_fold_run_is_valid_and_scored(trained, tiny_dataset):
    model_dir, _ = trained
    dataset = Dataset.discover(tiny_dataset)
    run_file = model_dir / "me17ei_T_valence_arousal_run3.txt"
    assert [p for p in validate_run(run_file, dataset) if p.is_error] == []
    scores = json.loads((model_dir / "scores.json").read_text())
    rescored = score_run(run_file, dataset).to_json()
    for key in ("valence_mse", "arousal_mse"):
        assert scores["official"][key] == pytest.approx(rescored["official"][key], abs=1e-6)
    assert len(scores["folds"]) == 2 and set(scores["fold_mean"]) == set(scores["official"])
    result = invoke("score", run_file, "--dataset", tiny_dataset, "--folds", model_dir / "folds.json", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["fold_mean"]["valence_mse"] == pytest.approx(scores["fold_mean"]["valence_mse"])


def test_retrain_is_skipped(trained, tiny_dataset, features):
    model_dir, config = trained
    result = invoke("train", config, "--dataset", tiny_dataset, "--features", features, "--out", model_dir,
                    "--team", "T")
    assert result.exit_code == 0 and "already trained" in result.output


def test_predict_writes_a_valid_test_run(trained, tiny_dataset, features, tmp_path):
    model_dir, _ = trained
    out = tmp_path / "me17ei_T_valence_arousal_run3.txt"
    result = invoke("predict", model_dir, "--dataset", tiny_dataset, "--features", features, "--out", out)
    assert result.exit_code == 0, result.output
    assert validate_run(out, Dataset.discover(tiny_dataset)) == []
    rows = out.read_text().splitlines()
    assert rows[0] == "MEDIAEVAL17_00" and len(rows[1].split()) == 2
    wrong = tmp_path / "me17ei_T_fear_run3.txt"
    result = invoke("predict", model_dir, "--dataset", tiny_dataset, "--features", features, "--out", wrong)
    assert result.exit_code == 1 and "the model is for valence_arousal" in result.output


@pytest.mark.slow
def test_fold_ensemble_predicts_the_mean_of_the_fold_models(tiny_dataset, features, tmp_path):
    from mediaeval.film_data import load_films
    from mediaeval.lstm_training import TrainedLSTM
    from mediaeval.model_folder import stored_run
    from mediaeval.prediction import ensemble_dirs
    from mediaeval.task import VALENCE_AROUSAL

    config = tmp_path / "run3.toml"
    config.write_text(TRAINING_RUN.format(subtask="valence_arousal", seeds=1).replace(
        "folds = 2", 'folds = 2\nensemble = "folds"'))
    model_dir = tmp_path / "va"
    assert invoke("train", config, "--dataset", tiny_dataset, "--features", features, "--out", model_dir,
                  "--team", "T").exit_code == 0
    out = tmp_path / "me17ei_T_valence_arousal_run3.txt"
    assert invoke("predict", model_dir, "--dataset", tiny_dataset, "--features", features, "--out", out).exit_code == 0
    dirs = ensemble_dirs(model_dir, stored_run(model_dir))
    assert [d.relative_to(model_dir).as_posix() for d in dirs] == ["fold1/seed1", "fold2/seed1"]
    dataset = Dataset.discover(tiny_dataset)
    film = load_films(dataset, features, ["visual-stats", "audio-stats"], dataset.test_films, VALENCE_AROUSAL, False)
    models = [TrainedLSTM.load(d, VALENCE_AROUSAL) for d in dirs]
    curves = [m.post.curves(m.steps(film)[0], film[0].n_segments, VALENCE_AROUSAL) for m in models]
    expected = np.mean(curves, axis=0)
    written = np.array([ln.split() for ln in out.read_text().splitlines()[1:]], float)
    assert np.allclose(written, expected, atol=1e-6)
    assert "mean of the 2 fold models" in json.dumps(stored_run(model_dir).describe())


@pytest.mark.slow
def test_fear_seed_ensemble(tiny_dataset, features, tmp_path):
    config = tmp_path / "run3.toml"
    config.write_text(TRAINING_RUN.format(subtask="fear", seeds=2))
    result = invoke("train", config, "--dataset", tiny_dataset, "--features", features, "--out", tmp_path / "fear",
                    "--team", "T")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "fear" / "final").iterdir()) == ["seed1", "seed2"]
    out = tmp_path / "me17ei_T_fear_run3.txt"
    assert invoke("predict", tmp_path / "fear", "--dataset", tiny_dataset, "--features", features,
                  "--out", out).exit_code == 0
    values = np.array([ln.split() for ln in out.read_text().splitlines()[1:]], float)
    assert set(values[:, 0]) <= {0.0, 1.0} and ((values[:, 1] >= 0) & (values[:, 1] <= 1)).all()


def test_missing_features_say_what_to_run(tiny_dataset, tmp_path):
    config = tmp_path / "run3.toml"
    config.write_text(TRAINING_RUN.format(subtask="fear", seeds=1).replace('"visual-stats", ', ""))
    (tmp_path / "features").mkdir()
    result = invoke("train", config, "--dataset", tiny_dataset, "--features", tmp_path / "features",
                    "--out", tmp_path / "m")
    assert result.exit_code == 1
    assert "no features for film Sample_01; run: mediaeval extract" in result.output


def test_standardisation_uses_the_training_films_only(trained, features):
    from mediaeval.features.store import load_features

    model_dir, _ = trained
    folds = json.loads((model_dir / "folds.json").read_text())["folds"]
    held = folds[0][0]
    train = [n for fold in folds for n in fold if n != held]
    stats = np.load(model_dir / "fold1" / "seed1" / "normalisation.npz")
    values = np.concatenate([load_features(features / "visual-stats+audio-stats" / f"{n}.npz").values for n in train])
    assert np.allclose(stats["mean"], values.astype(np.float64).mean(axis=0), atol=1e-5)
    held_values = load_features(features / "visual-stats+audio-stats" / f"{held}.npz").values
    assert not np.allclose(stats["mean"], held_values.mean(axis=0), atol=1e-3)


@pytest.mark.slow
def test_results_do_not_depend_on_jobs(trained, tiny_dataset, features, tmp_path):
    """Every model seeded on its own: trained in two worker processes (one thread each), the
    run file of the one trained here (every core), within float32 rounding (TRAINED_ATOL: the
    sums may be split otherwise with other thread counts)."""
    model_dir, config = trained
    result = invoke("train", config, "--dataset", tiny_dataset, "--features", features, "--out", tmp_path / "va",
                    "--team", "T", "--jobs", "2")
    assert result.exit_code == 0, result.output
    name = "me17ei_T_valence_arousal_run3.txt"
    assert_runs_close(tmp_path / "va" / name, model_dir / name)


def test_the_model_folder_keeps_the_run_file_as_written(trained):
    model_dir, config = trained
    assert (model_dir / "run.toml").read_text() == config.read_text()


@pytest.mark.slow
def test_a_run_built_in_code_trains_and_its_folder_holds_its_definition(tiny_dataset, features, tmp_path):
    from mediaeval.model import ModelSettings
    from mediaeval.training import train_run

    config = RunDefinition("valence_arousal", 3, "built in code", ["visual-stats", "audio-stats"], seed=1, folds=2,
                           model=ModelSettings(lstm_units=8, epochs=2, chunk_steps=16, batch_films=2))
    result = train_run(config, Dataset.discover(tiny_dataset), features, tmp_path / "va", "T", progress=False)
    assert not result.skipped and result.config.to_data() == config.to_data()
    assert RunDefinition.load(tmp_path / "va" / "run.toml").to_data() == config.to_data()


@pytest.mark.slow
def test_changed_definition_is_retrained(tiny_model, tiny_dataset, features, tmp_path):
    model_dir = copy_model(tiny_model, tmp_path)
    config = write_tiny_run(tmp_path / "run1.toml", description="smaller", units=4)
    result = invoke("train", config, "--dataset", tiny_dataset, "--features", features, "--out", model_dir,
                    "--team", "T")
    assert result.exit_code == 0, result.output
    assert (f"{model_dir} was trained from another definition or data; retraining: description: \"tiny run\" -> "
            f"\"smaller\"; model.lstm_units: 8 -> 4\n") in result.output
    stored = stored_run(model_dir)
    assert (stored.description, stored.model.lstm_units) == ("smaller", 4)
    again = invoke("train", config, "--dataset", tiny_dataset, "--features", features, "--out", model_dir,
                   "--team", "T")
    assert "already trained" in again.output


@pytest.mark.slow
def test_changed_data_is_retrained(tiny_model, tiny_dataset, features, tmp_path):
    """A film whose labels or features changed, or a film added, is a reason to retrain: the
    model records what it learnt from (mediaeval.training.data_digests)."""
    from mediaeval.model_folder import read_manifest

    model_dir = copy_model(tiny_model, tmp_path)
    data = tmp_path / "data"
    shutil.copytree(tiny_dataset, data)
    recorded = read_manifest(model_dir)["data"]
    assert sorted(recorded) == ["Sample_01", "Sample_02"] and all(len(d) == 16 for d in recorded.values())
    again = invoke("train", tiny_model[1], "--dataset", data, "--features", features, "--out", model_dir, "--team", "T")
    assert again.exit_code == 0 and "already trained" in again.output       # a copy of the same data
    annotations = next(data.rglob("Sample_01*valence_arousal*.txt"))
    lines = annotations.read_text().splitlines()
    fields = lines[1].split()
    lines[1] = "\t".join(fields[:2] + [f"{float(fields[2]) / 2:.6f}", fields[3]])   # one label corrected
    annotations.write_text("\n".join(lines) + "\n")
    result = invoke("train", tiny_model[1], "--dataset", data, "--features", features, "--out", model_dir,
                    "--team", "T")
    assert result.exit_code == 0, result.output
    changed = read_manifest(model_dir)["data"]
    assert changed["Sample_02"] == recorded["Sample_02"] and changed["Sample_01"] != recorded["Sample_01"]
    assert (f"{model_dir} was trained from another definition or data; retraining: data.Sample_01: "
            f"\"{recorded['Sample_01']}\" -> \"{changed['Sample_01']}\"\n") in result.output


def test_train_refuses_a_fused_run_before_anything_starts(tiny_dataset, features, tmp_path):
    from mediaeval.training import train_run

    config = tmp_path / "run3.toml"
    config.write_text('subtask = "valence_arousal"\nrun = 3\ndescription = "fusion"\nfuse = [1, 2]\n')
    result = invoke("train", config, "--dataset", tiny_dataset, "--features", features, "--out", tmp_path / "m")
    assert result.exit_code == 1
    assert result.output == (f"Error: {config}: a fused run (fuse = [1, 2]) has no model to train; fuse the "
                             f"out-of-fold run files of the trained runs 1, 2 with mediaeval fuse, or let mediaeval "
                             f"pipeline train them and fuse them\n")
    with pytest.raises(DataError, match=r"has no model to train; fuse .* with mediaeval fuse"):
        train_run(RunDefinition.load(config), Dataset.discover(tiny_dataset), features, tmp_path / "m", "T")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run3.toml"]
