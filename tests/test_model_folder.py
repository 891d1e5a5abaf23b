"""The model folder (mediaeval/model_folder.py): train never deletes a folder it did not make,
replaces one whole (a killed train leaves the old model), two trains never clobber each other,
"trained" means every file is there, and damaged files are named.  Tiny generated films, real
tiny models."""
import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import REPO, RIDGE_RUN, copy_model, invoke, write_tiny_run
from mediaeval.model_folder import MANIFEST, is_trained, model_lock, stored_run, write_manifest


def test_train_out_not_a_model_folder_is_refused(tiny_dataset, features, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "notes.txt").write_text("notes\n")
    config = write_tiny_run(tmp_path / "run1.toml")
    result = invoke("train", config, "--dataset", tiny_dataset, "--features", features, "--out", victim)
    assert result.exit_code == 1
    assert result.output == (f"Error: {victim}: is not empty and is not a model folder made by mediaeval train "
                             f"(no {MANIFEST}); give --out a new or empty folder\n")
    assert (victim / "notes.txt").read_text() == "notes\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run1.toml", "victim"]


def test_train_out_holding_an_input_is_refused(tiny_dataset, features, tmp_path, monkeypatch):
    config = write_tiny_run(tmp_path / "run1.toml")
    monkeypatch.chdir(tmp_path)
    result = invoke("train", "run1.toml", "--dataset", tiny_dataset, "--features", features, "--out", ".")
    assert result.exit_code == 1
    assert result.output == ("Error: .: holds the run definition (run1.toml); a model folder is replaced as a "
                             "whole, give --out a folder of its own\n")
    for out, what in ((tiny_dataset.parent, "dataset"), (features, "features")):
        result = invoke("train", config, "--dataset", tiny_dataset, "--features", features, "--out", out)
        assert result.exit_code == 1 and f"holds the {what} (" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run1.toml"]


@pytest.mark.slow
def test_overwrite_replaces_a_model_folder(tiny_model, tiny_dataset, features, tmp_path):
    model_dir = copy_model(tiny_model, tmp_path)
    (model_dir / "final" / "seed1" / "model.keras").write_bytes(b"old model")
    result = invoke("train", tiny_model[1], "--dataset", tiny_dataset, "--features", features, "--out", model_dir,
                    "--team", "T", "--overwrite")
    assert result.exit_code == 0, result.output
    assert is_trained(model_dir) and (model_dir / "final" / "seed1" / "model.keras").read_bytes() != b"old model"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".va.lock", "va"]  # no .partial nor .old left


@pytest.mark.slow
def test_killed_train_keeps_the_old_model(tiny_model, tiny_dataset, features, tmp_path):
    """A train killed while replacing a model leaves the old one whole and its lock free; the
    next train removes the killed one's .partial and completes."""
    model_dir = copy_model(tiny_model, tmp_path)
    run_file = model_dir / "me17ei_T_valence_arousal_run1.txt"
    before = run_file.read_text()
    config = write_tiny_run(tmp_path / "run1.toml", units=4).read_text()
    (tmp_path / "run1.toml").write_text(config.replace("epochs = 1", "epochs = 100000"))
    args = ["train", tmp_path / "run1.toml", "--dataset", tiny_dataset, "--features", features, "--out", model_dir,
            "--team", "T"]
    partial = tmp_path / "va.partial"
    process = subprocess.Popen([sys.executable, "-c", "from mediaeval.cli import main; main()", *map(str, args)],
                               env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        # a fit writes into a temporary folder beside its own (.seed1.<token>.tmp) until it is complete
        while process.poll() is None and not any(partial.glob("fold1/*seed1*/tensorboard")):
            time.sleep(0.2)
    finally:
        process.kill()
        process.wait()
    assert (partial / MANIFEST).exists()   # it was training
    assert is_trained(model_dir) and run_file.read_text() == before
    (tmp_path / "run1.toml").write_text(config)
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert "model.lstm_units: 8 -> 4" in result.output and not partial.exists()
    assert stored_run(model_dir).model.lstm_units == 4


@pytest.mark.slow
def test_concurrent_train_is_refused(tiny_model, tiny_dataset, features, tmp_path):
    config = tiny_model[1]
    partial = tmp_path / "va.partial"   # the first process's work in progress
    with model_lock(tmp_path / "va"):
        partial.mkdir()
        write_manifest(partial, state="partial", pid=os.getpid())
        result = invoke("train", config, "--dataset", tiny_dataset, "--features", features, "--out", tmp_path / "va")
        assert result.exit_code == 1
        assert result.output == (f"Error: {tmp_path / 'va'} is being trained by process {os.getpid()}; wait for it "
                                 f"to finish, or train into another --out\n")
        assert (partial / MANIFEST).exists()


@pytest.mark.slow
def test_predict_waits_for_no_train_and_reads_beside_another_predict(tiny_model, tiny_dataset, features, tmp_path):
    model_dir = tiny_model[0]
    out = tmp_path / "me17ei_T_valence_arousal_run1.txt"
    args = ("predict", model_dir, "--dataset", tiny_dataset, "--features", features, "--out", out)
    with model_lock(model_dir):   # a train is replacing the model
        result = invoke(*args)
        assert result.exit_code == 1 and not out.exists()
        assert result.output == (f"Error: {model_dir} is being trained by process {os.getpid()}; predict once it "
                                 f"has finished\n")
    with model_lock(model_dir, shared=True):   # another predict reads it: no conflict
        assert invoke(*args).exit_code == 0 and out.exists()


@pytest.mark.slow
def test_stale_partial_is_removed_a_foreign_one_refused(tiny_dataset, features, tmp_path):
    config = write_tiny_run(tmp_path / "run1.toml")
    partial = tmp_path / "va.partial"
    partial.mkdir()
    (partial / "mine.txt").write_text("mine\n")
    args = ["train", config, "--dataset", tiny_dataset, "--features", features, "--out", tmp_path / "va"]
    result = invoke(*args)
    assert result.exit_code == 1
    assert result.output == (f"Error: {partial}: exists and was not made by mediaeval train (no {MANIFEST}); "
                             f"move it away\n")
    assert (partial / "mine.txt").exists()
    (partial / "mine.txt").unlink()
    write_manifest(partial, state="partial", pid=999999)  # left by a killed train
    (partial / "fold1").mkdir()
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert is_trained(tmp_path / "va") and not partial.exists()


@pytest.mark.slow
def test_complete_means_every_file(tiny_model, tiny_dataset, features, tmp_path):
    model_dir = copy_model(tiny_model, tmp_path)
    assert is_trained(model_dir)
    (model_dir / "fold2" / "seed1" / "normalisation.npz").unlink()
    assert not is_trained(model_dir)
    out = tmp_path / "me17ei_T_valence_arousal_run1.txt"
    result = invoke("predict", model_dir, "--dataset", tiny_dataset, "--features", features, "--out", out)
    assert result.exit_code == 1
    assert result.output == (f"Error: {model_dir / 'fold2' / 'seed1' / 'normalisation.npz'}: missing: the model "
                             f"folder is incomplete; retrain it with mediaeval train\n")
    result = invoke("train", tiny_model[1], "--dataset", tiny_dataset, "--features", features, "--out", model_dir,
                    "--team", "T")
    assert result.exit_code == 0 and "already trained" not in result.output
    assert is_trained(model_dir)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["model.keras", "normalisation.npz"])
def test_corrupt_model_files_are_named(tiny_model, tiny_dataset, features, tmp_path, name):
    model_dir = copy_model(tiny_model, tmp_path)
    broken = model_dir / "fold1" / "seed1" / name   # the LSTM predicts by its fold models (ensemble "folds")
    broken.write_bytes(b"not a model")
    out = tmp_path / "me17ei_T_valence_arousal_run1.txt"
    result = invoke("predict", model_dir, "--dataset", tiny_dataset, "--features", features, "--out", out)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {broken}: ") and len(result.output.splitlines()) == 1
    assert "retrain with mediaeval train --overwrite" in result.output


@pytest.fixture(scope="module")
def ridge(tiny_dataset, features, tmp_path_factory):
    """A per-segment (ridge) model folder."""
    root = tmp_path_factory.mktemp("ridge")
    (root / "run1.toml").write_text(RIDGE_RUN.format(seed=0))
    result = invoke("train", root / "run1.toml", "--dataset", tiny_dataset, "--features", features,
                    "--out", root / "va", "--team", "T")
    assert result.exit_code == 0, result.output
    return root / "va"


@pytest.mark.parametrize("name, command, reason", [
    ("model.json", "predict", "expected the JSON manifest written by mediaeval train (Expecting value: line 1 "
                              "column 1 (char 0)); the model folder is damaged: remove it and train again"),
    ("model.json", "train", "expected the JSON manifest written by mediaeval train (Expecting value: line 1 "
                            "column 1 (char 0)); the model folder is damaged: remove it and train again"),
    ("scores.json", "train", "expected the scores written by mediaeval train (JSONDecodeError: Expecting value: "
                             "line 1 column 1 (char 0)); retrain with mediaeval train --overwrite"),
    ("scores.json", "leaderboard", "expected the scores written by mediaeval train (JSONDecodeError: Expecting "
                                   "value: line 1 column 1 (char 0)); retrain with mediaeval train --overwrite"),
    ("final/seed0/segment_model.pkl", "predict", "expected a per-segment model written by mediaeval train "
                                                 "(UnpicklingError: pickle data was truncated); "
                                                 "retrain with mediaeval train --overwrite"),
    ("folds.json", "leaderboard", "expected a folds file with a 'folds' list: Expecting value: line 1 column 1"),
])
def test_damaged_model_folder_files_are_named(ridge, tiny_dataset, features, tmp_path, name, command, reason):
    model_dir = tmp_path / "va"
    shutil.copytree(ridge, model_dir)
    (model_dir / name).write_text("garbage{")
    (tmp_path / "run1.toml").write_text(RIDGE_RUN.format(seed=0))
    args = {"predict": ["predict", model_dir, "--dataset", tiny_dataset, "--features", features, "--out",
                        tmp_path / "me17ei_T_valence_arousal_run1.txt"],
            "train": ["train", tmp_path / "run1.toml", "--dataset", tiny_dataset, "--features", features, "--out",
                      model_dir, "--team", "T"],
            "leaderboard": ["leaderboard", model_dir, "--dataset", tiny_dataset]}[command]
    result = invoke(*args)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {model_dir / name}: {reason}") and len(result.output.splitlines()) == 1
