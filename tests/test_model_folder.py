"""Issue 10 "Never lose or misreport a user's work" (train, predict, pipeline, run definitions) and
issue 11 item 2 (run definitions accept every setting they document): one test per item, on tiny
generated films and real tiny models."""
import json
import os
import shutil
import subprocess
import sys
import time
import typing
import zipfile
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pytest

from conftest import invoke
from mediaeval.dataset import Dataset
from mediaeval.errors import DataError, MediaevalWarning
from mediaeval.model import ModelSettings
from mediaeval.runs import load_run, run_from_data
from mediaeval.model_folder import MANIFEST, is_trained, model_lock, stored_run, write_manifest

REPO = Path(__file__).resolve().parents[1]
RUN = """subtask = "{subtask}"
run = 1
description = "{description}"
features = ["visual-stats", "audio-stats"]
seed = 1
folds = 2

[model]
lstm_units = {units}
epochs = 1
chunk_steps = 16
batch_films = 2
"""


def write_run(path, subtask="valence_arousal", description="tiny run", units=8, extra=""):
    path.write_text(RUN.format(subtask=subtask, description=description, units=units) + extra)
    return path


@pytest.fixture(scope="module")
def trained(tiny_dataset, features, tmp_path_factory):
    """A model trained into a folder that existed, empty (allowed)."""
    root = tmp_path_factory.mktemp("models")
    config = write_run(root / "run1.toml")
    (root / "va").mkdir()
    result = invoke("train", config, "--dataset", tiny_dataset, "--features", features, "--out", root / "va",
                    "--team", "T")
    assert result.exit_code == 0, result.output
    return root / "va", config


def copy_model(trained, tmp_path) -> Path:
    model_dir = tmp_path / "va"
    shutil.copytree(trained[0], model_dir)
    return model_dir


# --------------------------------------------------------------------------- item 1


def test_item1_train_out_not_a_model_folder_is_refused(tiny_dataset, features, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "notes.txt").write_text("notes\n")
    config = write_run(tmp_path / "run1.toml")
    result = invoke("train", config, "--dataset", tiny_dataset, "--features", features, "--out", victim)
    assert result.exit_code == 1
    assert result.output == (f"Error: {victim}: is not empty and is not a model folder made by mediaeval train "
                             f"(no {MANIFEST}); give --out a new or empty folder\n")
    assert (victim / "notes.txt").read_text() == "notes\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run1.toml", "victim"]


def test_item1_train_out_holding_an_input_is_refused(tiny_dataset, features, tmp_path, monkeypatch):
    config = write_run(tmp_path / "run1.toml")
    monkeypatch.chdir(tmp_path)
    result = invoke("train", "run1.toml", "--dataset", tiny_dataset, "--features", features, "--out", ".")
    assert result.exit_code == 1
    assert result.output == ("Error: .: holds the run definition (run1.toml); a model folder is replaced as a "
                             "whole, give --out a folder of its own\n")
    for out, what in ((tiny_dataset.parent, "dataset"), (features, "features")):
        result = invoke("train", config, "--dataset", tiny_dataset, "--features", features, "--out", out)
        assert result.exit_code == 1 and f"holds the {what} (" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run1.toml"]


def test_item1_checks_come_before_tensorflow(tiny_dataset, features, tmp_path):
    """Refusals of train and predict (out folder, [model] ranges, incomplete model) start no TensorFlow."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "notes.txt").write_text("notes\n")
    good, bad = write_run(tmp_path / "good.toml"), write_run(tmp_path / "bad.toml", extra="input_dropout = 1.5\n")
    incomplete = tmp_path / "incomplete"
    incomplete.mkdir()
    write_manifest(incomplete, state="partial", pid=1)
    calls = [["train", good, "--dataset", tiny_dataset, "--features", features, "--out", victim],
             ["train", bad, "--dataset", tiny_dataset, "--features", features, "--out", tmp_path / "m"],
             ["predict", incomplete, "--dataset", tiny_dataset, "--features", features,
              "--out", tmp_path / "me17ei_T_valence_arousal_run1.txt"]]
    argv = [[str(a) for a in call] for call in calls]
    script = ("import json, sys\nfrom click.testing import CliRunner\nfrom mediaeval.cli import cli\n"
              f"codes = [CliRunner().invoke(cli, args).exit_code for args in {argv!r}]\n"
              "print(json.dumps([codes, 'tensorflow' in sys.modules]))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) == [[1, 1, 1], False]


def test_item1_overwrite_replaces_a_model_folder(trained, tiny_dataset, features, tmp_path):
    model_dir = copy_model(trained, tmp_path)
    (model_dir / "final" / "seed1" / "model.keras").write_bytes(b"old model")
    result = invoke("train", trained[1], "--dataset", tiny_dataset, "--features", features, "--out", model_dir,
                    "--team", "T", "--overwrite")
    assert result.exit_code == 0, result.output
    assert is_trained(model_dir) and (model_dir / "final" / "seed1" / "model.keras").read_bytes() != b"old model"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".va.lock", "va"]  # no .partial nor .old left


def test_item1_item2_killed_train_keeps_the_old_model(trained, tiny_dataset, features, tmp_path):
    """A train killed while replacing a model leaves the old one whole and its lock free; the
    next train removes the killed one's .partial and completes."""
    model_dir = copy_model(trained, tmp_path)
    run_file = model_dir / "me17ei_T_valence_arousal_run1.txt"
    before = run_file.read_text()
    config = write_run(tmp_path / "run1.toml", units=4).read_text()
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


# --------------------------------------------------------------------------- item 2


def test_item2_concurrent_train_is_refused(trained, tiny_dataset, features, tmp_path):
    config = trained[1]
    partial = tmp_path / "va.partial"   # the first process's work in progress
    with model_lock(tmp_path / "va"):
        partial.mkdir()
        write_manifest(partial, state="partial", pid=os.getpid())
        result = invoke("train", config, "--dataset", tiny_dataset, "--features", features, "--out", tmp_path / "va")
        assert result.exit_code == 1
        assert result.output == (f"Error: {tmp_path / 'va'} is being trained by process {os.getpid()}; wait for it "
                                 f"to finish, or train into another --out\n")
        assert (partial / MANIFEST).exists()


def test_item2_predict_waits_for_no_train_and_reads_beside_another_predict(trained, tiny_dataset, features, tmp_path):
    model_dir = trained[0]
    out = tmp_path / "me17ei_T_valence_arousal_run1.txt"
    args = ("predict", model_dir, "--dataset", tiny_dataset, "--features", features, "--out", out)
    with model_lock(model_dir):   # a train is replacing the model
        result = invoke(*args)
        assert result.exit_code == 1 and not out.exists()
        assert result.output == (f"Error: {model_dir} is being trained by process {os.getpid()}; predict once it "
                                 f"has finished\n")
    with model_lock(model_dir, shared=True):   # another predict reads it: no conflict
        assert invoke(*args).exit_code == 0 and out.exists()


def test_item2_stale_partial_is_removed_a_foreign_one_refused(tiny_dataset, features, tmp_path):
    config = write_run(tmp_path / "run1.toml")
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


def test_item2_complete_means_every_file(trained, tiny_dataset, features, tmp_path):
    model_dir = copy_model(trained, tmp_path)
    assert is_trained(model_dir)
    (model_dir / "fold2" / "seed1" / "normalisation.npz").unlink()
    assert not is_trained(model_dir)
    out = tmp_path / "me17ei_T_valence_arousal_run1.txt"
    result = invoke("predict", model_dir, "--dataset", tiny_dataset, "--features", features, "--out", out)
    assert result.exit_code == 1
    assert result.output == (f"Error: {model_dir / 'fold2' / 'seed1' / 'normalisation.npz'}: missing: the model "
                             f"folder is incomplete; retrain it with mediaeval train\n")
    result = invoke("train", trained[1], "--dataset", tiny_dataset, "--features", features, "--out", model_dir,
                    "--team", "T")
    assert result.exit_code == 0 and "already trained" not in result.output
    assert is_trained(model_dir)


# --------------------------------------------------------------------------- item 3


def test_item3_changed_definition_is_retrained(trained, tiny_dataset, features, tmp_path):
    model_dir = copy_model(trained, tmp_path)
    config = write_run(tmp_path / "run1.toml", description="smaller", units=4)
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


def test_item3_changed_data_is_retrained(trained, tiny_dataset, features, tmp_path):
    """A film whose labels or features changed, or a film added, is a reason to retrain: the
    model records what it learnt from (mediaeval.training.data_digests)."""
    from mediaeval.model_folder import read_manifest

    model_dir = copy_model(trained, tmp_path)
    data = tmp_path / "data"
    shutil.copytree(tiny_dataset, data)
    recorded = read_manifest(model_dir)["data"]
    assert sorted(recorded) == ["Sample_01", "Sample_02"] and all(len(d) == 16 for d in recorded.values())
    again = invoke("train", trained[1], "--dataset", data, "--features", features, "--out", model_dir, "--team", "T")
    assert again.exit_code == 0 and "already trained" in again.output       # a copy of the same data
    annotations = next(data.rglob("Sample_01*valence_arousal*.txt"))
    lines = annotations.read_text().splitlines()
    fields = lines[1].split()
    lines[1] = "\t".join(fields[:2] + [f"{float(fields[2]) / 2:.6f}", fields[3]])   # one label corrected
    annotations.write_text("\n".join(lines) + "\n")
    result = invoke("train", trained[1], "--dataset", data, "--features", features, "--out", model_dir,
                    "--team", "T")
    assert result.exit_code == 0, result.output
    changed = read_manifest(model_dir)["data"]
    assert changed["Sample_02"] == recorded["Sample_02"] and changed["Sample_01"] != recorded["Sample_01"]
    assert (f"{model_dir} was trained from another definition or data; retraining: data.Sample_01: "
            f"\"{recorded['Sample_01']}\" -> \"{changed['Sample_01']}\"\n") in result.output


def test_item3_predict_refuses_features_made_otherwise(trained, tiny_dataset, features, tmp_path):
    from mediaeval.features.store import load_features, save_features

    other = tmp_path / "features"
    shutil.copytree(features, other)
    path = other / "visual-stats+audio-stats" / "MEDIAEVAL17_00.npz"
    made = load_features(path)
    audio = [e for e in made.meta["extractors"] if e["name"] == "audio-stats"][0]
    old_version = audio["version"]
    audio["version"] = "0-other"
    save_features(path, made)
    out = tmp_path / "me17ei_T_valence_arousal_run1.txt"
    result = invoke("predict", trained[0], "--dataset", tiny_dataset, "--features", other, "--out", out)
    assert result.exit_code == 1
    assert result.output == (f"Error: {path}: made with other extractor versions or settings than the model was "
                             f"trained on: extractors.audio-stats.version: \"{old_version}\" -> \"0-other\"\n")
    assert not out.exists()
    for path in sorted((other / "visual-stats+audio-stats").glob("Sample_*.npz")):  # train re-extracted alike
        made = load_features(path)
        [e for e in made.meta["extractors"] if e["name"] == "audio-stats"][0]["version"] = "0-other"
        save_features(path, made)
    model_dir = copy_model(trained, tmp_path)
    result = invoke("train", trained[1], "--dataset", tiny_dataset, "--features", other, "--out", model_dir,
                    "--team", "T")
    assert result.exit_code == 0, result.output
    assert f'retraining: extractors.audio-stats.version: "{old_version}" -> "0-other"\n' in result.output
    assert invoke("predict", model_dir, "--dataset", tiny_dataset, "--features", other, "--out", out).exit_code == 0


def test_item3_pipeline_retrains_an_edited_run_and_describes_it(tiny_dataset, tmp_path):
    runs = tmp_path / "runs" / "fear"
    runs.mkdir(parents=True)
    definition = write_run(runs / "run1.toml", subtask="fear", description="first")
    args = ["pipeline", "--dataset", tiny_dataset, "--team", "T", "--runs", tmp_path / "runs",
            "--features", tmp_path / "features", "--models", tmp_path / "models", "--out", tmp_path / "sub"]
    assert invoke(*args).exit_code == 0
    write_run(definition, subtask="fear", description="second", units=4)
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert "already trained" not in result.output and "model.lstm_units: 8 -> 4" in result.output
    with zipfile.ZipFile(tmp_path / "sub" / "me17ei_T.zip") as archive:
        readme = archive.read("README.txt").decode()
    assert "description: second" in readme and "LSTM(4)" in readme
    assert stored_run(tmp_path / "models" / "fear_run1").model.lstm_units == 4

    # item 11: a run file edited since the pipeline wrote it is not overwritten without --force
    run_file = tmp_path / "sub" / "me17ei_T_fear_run1.txt"
    edited = run_file.read_text() + "\n"
    run_file.write_text(edited)
    result = invoke(*args)
    assert result.exit_code == 1
    assert result.output == (f"Error: not overwritten (not written by mediaeval, or edited since): "
                             f"{run_file}; move them away or use --force\n")
    assert run_file.read_text() == edited
    assert invoke(*args, "--force").exit_code == 0 and run_file.read_text() != edited


def test_item11_pipeline_refuses_files_it_did_not_write(tiny_dataset, tmp_path):
    runs = tmp_path / "runs" / "fear"
    runs.mkdir(parents=True)
    write_run(runs / "run1.toml", subtask="fear")
    (tmp_path / "sub").mkdir()
    mine = tmp_path / "sub" / "me17ei_T.zip"
    mine.write_text("hand-made\n")
    result = invoke("pipeline", "--dataset", tiny_dataset, "--team", "T", "--runs", tmp_path / "runs",
                    "--features", tmp_path / "features", "--models", tmp_path / "models", "--out", tmp_path / "sub")
    assert result.exit_code == 1    # not a zip: left alone, even with --force
    assert result.output == (f"Error: {mine} exists and is not a zip made by mediaeval package; it is left alone "
                             f"(even with --force)\n")
    assert mine.read_text() == "hand-made\n" and not (tmp_path / "features").exists()


# --------------------------------------------------------------------------- items 10 and 11


@pytest.mark.parametrize("name", ["model.keras", "normalisation.npz"])
def test_item10_corrupt_model_files_are_named(trained, tiny_dataset, features, tmp_path, name):
    model_dir = copy_model(trained, tmp_path)
    broken = model_dir / "final" / "seed1" / name
    broken.write_bytes(b"not a model")
    out = tmp_path / "me17ei_T_valence_arousal_run1.txt"
    result = invoke("predict", model_dir, "--dataset", tiny_dataset, "--features", features, "--out", out)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {broken}: ") and len(result.output.splitlines()) == 1
    assert "retrain with mediaeval train --overwrite" in result.output


@pytest.mark.parametrize("setting, message", [
    ("batch_films = 0", "model.batch_films: expected at least 1, got 0"),
    ("chunk_steps = 0", "model.chunk_steps: expected at least 1, got 0"),
    ("input_dropout = 1.5", "model.input_dropout: expected at least 0 and less than 1, got 1.5"),
    ("output_dropout = -0.1", "model.output_dropout: expected at least 0 and less than 1, got -0.1"),
    ("lstm_units = 0", "model.lstm_units: expected at least 1, got 0"),
    ("epochs = 0", "model.epochs: expected at least 1, got 0"),
    ("patience = 0", "model.patience: expected at least 1, got 0"),
    ("learning_rate = -0.001", "model.learning_rate: expected greater than 0, got -0.001"),
    ("validation_share = 5", "model.validation_share: expected at least 0 and less than 1, got 5"),
    ("fear_positive_weight = 0", "model.fear_positive_weight: expected greater than 0, got 0"),
    ("max_positive_weight = 0.5", "model.max_positive_weight: expected at least 1, got 0.5"),
    ('projection_dtype = "float16"', 'model.projection_dtype: expected one of "float32", "bfloat16", got \'float16\''),
])
def test_item10_item11_model_ranges_are_checked_by_load_run(tmp_path, setting, message):
    path = tmp_path / "run1.toml"
    path.write_text(f'subtask = "fear"\nrun = 1\ndescription = "d"\nfeatures = ["audio-stats"]\n[model]\n{setting}\n')
    with pytest.raises(DataError) as error:
        load_run(path)
    assert str(error.value) == f"{path}: {message}"


def test_item11_train_says_what_is_wrong(tiny_dataset, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_dataset, data)
    Dataset.discover(data).films["Sample_01"].video.unlink()
    (tmp_path / "features").mkdir()
    config = write_run(tmp_path / "run1.toml")
    args = ["--dataset", data, "--features", tmp_path / "features", "--out", tmp_path / "m"]
    result = invoke("train", config, *args)
    assert result.exit_code == 1
    assert "no features and no video for film Sample_01: its annotations were found but not its mp4" in result.output
    assert "mediaeval extract" not in result.output
    config.write_text(config.read_text().replace('["visual-stats", "audio-stats"]', '["nosuch"]'))
    result = invoke("train", config, *args)
    assert result.exit_code == 1
    assert 'unknown feature set "nosuch": known extractors are ' in result.output
    assert "audio-stats" in result.output and "mediaeval extract" not in result.output


# --------------------------------------------------------------------------- issue 11 item 2


def _other_value(hint, default):
    """A value of type ``hint`` other than ``default``, in range."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return [a for a in args if a != default][0]
    if type(None) in args:
        return 2.5
    if origin is tuple:
        return [0.0, 3.0]
    return {bool: not default, int: default + 1, float: default / 2}[hint]


def test_issue11_item2_every_model_setting_round_trips(tmp_path):
    hints = typing.get_type_hints(ModelSettings)
    defaults = ModelSettings()
    table = "".join(f"{f.name} = {json.dumps(_other_value(hints[f.name], getattr(defaults, f.name)))}\n"
                    for f in fields(ModelSettings))
    path = tmp_path / "every.toml"
    path.write_text('subtask = "valence_arousal"\nrun = 2\ndescription = "every setting"\nfeatures = ["audio-stats"]\n'
                    "external_data = true\nseed = 3\nseeds = 2\nfolds = 3\n[model]\n" + table)
    configs = [load_run(path)] + [load_run(p) for p in sorted((REPO / "runs").glob("*/*.toml"))]
    assert all(getattr(configs[0].model, f.name) != getattr(defaults, f.name) for f in fields(ModelSettings))
    for config in configs:
        folder = tmp_path / config.name
        folder.mkdir(exist_ok=True)
        write_manifest(folder, state="complete", definition=config.to_data())   # as train stores it
        again = stored_run(folder)
        assert replace(again, path=None) == replace(config, path=None)
        assert run_from_data(path, json.loads(json.dumps(config.to_data()))).to_data() == config.to_data()


def test_issue11_item2_bfloat16_run_loads_and_trains(tiny_dataset, features, tmp_path):
    config = write_run(tmp_path / "run1.toml", extra='projection_dtype = "bfloat16"\n')
    assert load_run(config).model.projection_dtype == "bfloat16"
    from mediaeval import lstm_layer
    from mediaeval.cpu import NATIVE, bfloat16_support

    lstm_layer._WARNED.clear()   # warned once per process: this test expects it where bfloat16 is emulated
    import warnings

    expected = (pytest.warns(UserWarning, match="no native bfloat16, so it is emulated")
                if bfloat16_support() != NATIVE else warnings.catch_warnings())
    with expected:   # both restore the warning filters on leaving
        warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)   # as setup.cfg does
        result = invoke("train", config, "--dataset", tiny_dataset, "--features", features, "--out", tmp_path / "m")
    assert result.exit_code == 0, result.output
    assert stored_run(tmp_path / "m").model.projection_dtype == "bfloat16"
    settings = json.loads((tmp_path / "m" / "final" / "seed1" / "settings.json").read_text())
    assert settings["settings"]["projection_dtype"] == "bfloat16"
    out = tmp_path / "me17ei_team_valence_arousal_run1.txt"
    result = invoke("predict", tmp_path / "m", "--dataset", tiny_dataset, "--features", features, "--out", out)
    assert result.exit_code == 0, result.output
    values = np.array([ln.split() for ln in out.read_text().splitlines()[1:]], float)
    assert values.shape[1] == 2 and np.isfinite(values).all()


# --------------------------------------------------------------------------- issue 20 "nothing stale used"

SET = ["visual-stats", "audio-stats"]


def test_issue20_item1_features_of_a_replaced_film_are_refused_naming_it(trained, tiny_dataset, features, tmp_path):
    """Features carry their film's identity (size, hash of its first and last MiB): train and
    predict refuse those of a film replaced since, naming it and what to run; a touched film is the same."""
    from mediaeval.film_data import load_films
    from mediaeval.task import VALENCE_AROUSAL

    data, other = tmp_path / "data", tmp_path / "features"
    shutil.copytree(tiny_dataset, data)
    shutil.copytree(features, other)
    dataset = Dataset.discover(data)
    first, second, test = (dataset.films[n].video for n in ("Sample_01", "Sample_02", "MEDIAEVAL17_00"))
    os.utime(first, (1e9, 1e9))              # touched, or copied without its times: the same film
    assert [f.name for f in load_films(dataset, other, SET, dataset.dev_films, VALENCE_AROUSAL, True)] == [
        "Sample_01", "Sample_02"]
    shutil.copyfile(second, first)           # re-downloaded: another film under its name
    shutil.copyfile(second, test)
    result = invoke("train", write_run(tmp_path / "run1.toml"), "--dataset", data, "--features", other,
                    "--out", tmp_path / "m", "--team", "T")
    assert result.exit_code == 1
    assert result.output == (f"Error: {other / 'visual-stats+audio-stats' / 'Sample_01.npz'}: made from another "
                             f"version of film Sample_01's file than {first} (its size or content changed since); "
                             f"run: mediaeval extract --dataset {data} --out {other} --extractor "
                             f"visual-stats,audio-stats\n")
    assert not (tmp_path / "m").exists()
    out = tmp_path / "me17ei_T_valence_arousal_run1.txt"
    result = invoke("predict", trained[0], "--dataset", data, "--features", other, "--out", out)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {other / 'visual-stats+audio-stats' / 'MEDIAEVAL17_00.npz'}: made "
                                    f"from another version of film MEDIAEVAL17_00's file than {test} ")
    assert not out.exists()
    result = invoke("extract", "--dataset", data, "--out", other)
    assert result.exit_code == 0 and "2 films extracted, 1 already complete, 0 failed" in result.output
    assert len(load_films(dataset, other, SET, dataset.films.values(), VALENCE_AROUSAL, False)) == 3


def test_issue20_item2_score_of_a_model_folders_run_file_says_when_its_labels_are_not_the_datasets(
        trained, tiny_dataset, tmp_path):
    from mediaeval.model_folder import read_manifest

    data = tmp_path / "data"
    shutil.copytree(tiny_dataset, data)
    run_file, folds = trained[0] / "me17ei_T_valence_arousal_run1.txt", trained[0] / "folds.json"
    assert sorted(read_manifest(trained[0])["labels"]) == ["Sample_01", "Sample_02"]
    result = invoke("score", run_file, "--dataset", data, "--folds", folds)
    assert result.exit_code == 0 and "labels" not in result.output
    annotations = next(data.rglob("Sample_02*valence_arousal*.txt"))
    lines = annotations.read_text().splitlines()
    fields = lines[1].split()
    lines[1] = "\t".join(fields[:2] + [f"{float(fields[2]) / 2:.6f}", fields[3]])   # another dataset's label
    annotations.write_text("\n".join(lines) + "\n")
    result = invoke("score", run_file, "--dataset", data, "--folds", folds)
    assert result.exit_code == 0
    assert (f"note: {trained[0]}: trained on other valence_arousal labels than those of {data} for 1 of 2 films "
            f"(Sample_02): its figures are not this dataset's, so they are not compared with its constant"
            ) in result.output.splitlines()


def test_issue20_item3_development_films_predicted_by_models_that_saw_them_are_scored_as_in_sample(
        trained, tiny_dataset, features, tmp_path):
    from mediaeval.submission import description_path

    out = tmp_path / "me17ei_T_valence_arousal_run1.txt"
    result = invoke("predict", trained[0], "--dataset", tiny_dataset, "--features", features, "--out", out,
                    "--films", "all")
    assert result.exit_code == 0, result.output
    assert json.loads(description_path(out).read_text())["in_sample_films"] == ["Sample_01", "Sample_02"]
    result = invoke("score", out, "--dataset", tiny_dataset)
    assert result.exit_code == 0
    assert ("note: in-sample: 2 of the 3 films scored (Sample_01, Sample_02) were predicted by models trained on "
            "them (me17ei_T_valence_arousal_run1.txt.json): these figures are not honest; the model folder's "
            "out-of-fold run file gives honest ones") in result.output.splitlines()
    result = invoke("predict", trained[0], "--dataset", tiny_dataset, "--features", features, "--out", out)
    assert result.exit_code == 0 and "in_sample_films" not in json.loads(description_path(out).read_text())
    assert "in-sample" not in invoke("score", out, "--dataset", tiny_dataset).output


def test_issue20_item4_train_refuses_a_fused_run_before_anything_starts(tiny_dataset, features, tmp_path):
    from mediaeval.training import train_run

    config = tmp_path / "run3.toml"
    config.write_text('subtask = "valence_arousal"\nrun = 3\ndescription = "fusion"\nfuse = [1, 2]\n')
    result = invoke("train", config, "--dataset", tiny_dataset, "--features", features, "--out", tmp_path / "m")
    assert result.exit_code == 1
    assert result.output == (f"Error: {config}: a fused run (fuse = [1, 2]) has no model to train; fuse the "
                             f"out-of-fold run files of the trained runs 1, 2 with mediaeval fuse, or let mediaeval "
                             f"pipeline train them and fuse them\n")
    with pytest.raises(DataError, match=r"has no model to train; fuse .* with mediaeval fuse"):
        train_run(load_run(config), Dataset.discover(tiny_dataset), features, tmp_path / "m", "T")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run3.toml"]


# --------------------------------------------------------------------------- issue 20: one line naming the cause

RIDGE_RUN = """subtask = "valence_arousal"
run = 1
description = "ridge per segment"
features = ["visual-stats", "audio-stats"]
seed = {seed}
folds = 2

[model]
type = "ridge"
"""


@pytest.fixture(scope="module")
def ridge(tiny_dataset, features, tmp_path_factory):
    """A per-segment (ridge) model folder."""
    root = tmp_path_factory.mktemp("ridge")
    (root / "run1.toml").write_text(RIDGE_RUN.format(seed=0))
    result = invoke("train", root / "run1.toml", "--dataset", tiny_dataset, "--features", features,
                    "--out", root / "va", "--team", "T")
    assert result.exit_code == 0, result.output
    return root / "va"


def test_issue20_film_shorter_than_a_step_in_a_per_segment_run(tiny_dataset, tmp_path):
    from films import write_film

    data = tmp_path / "data"
    shutil.copytree(tiny_dataset, data)
    write_film(next(data.rglob("MEDIAEVAL17_00.mp4")).with_name("MEDIAEVAL17_09.mp4"), 0.4)
    (tmp_path / "runs" / "valence_arousal").mkdir(parents=True)
    (tmp_path / "runs" / "valence_arousal" / "run1.toml").write_text(RIDGE_RUN.format(seed=0))
    with pytest.warns(MediaevalWarning, match="MEDIAEVAL17_09 lasts 0.40 s, less than one step"):
        result = invoke("pipeline", "--dataset", data, "--team", "T", "--runs", tmp_path / "runs", "--features",
                        tmp_path / "features", "--models", tmp_path / "models", "--out", tmp_path / "sub")
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "sub" / "me17ei_T_valence_arousal_run1.txt").read_text().splitlines()
    assert lines[-1] == "MEDIAEVAL17_09" and lines.count("MEDIAEVAL17_00") == 1   # its name, and no segment
    out = tmp_path / "short" / "me17ei_T_valence_arousal_run1.txt"
    result = invoke("predict", tmp_path / "models" / "valence_arousal_run1", "--dataset", data, "--features",
                    tmp_path / "features", "--films", "MEDIAEVAL17_09", "--out", out)
    assert result.exit_code == 0, result.output
    assert out.read_text() == "MEDIAEVAL17_09\n"


@pytest.mark.parametrize("seed, seeds, message", [
    (-1, 1, "seed: expected 0 to 4294967295, got -1"),
    (2**32, 1, "seed: expected 0 to 4294967295, got 4294967296"),
    (2**32 - 2, 3, "seed: expected 0 to 4294967293 (with seeds = 3, the last seed is below 2**32), got 4294967294"),
])
def test_issue20_seed_out_of_range_is_refused_by_load_run(tmp_path, seed, seeds, message):
    path = tmp_path / "run1.toml"
    path.write_text(RIDGE_RUN.format(seed=seed).replace("folds = 2", f"folds = 2\nseeds = {seeds}"))
    with pytest.raises(DataError) as error:
        load_run(path)
    assert str(error.value) == f"{path}: {message}"
    path.write_text(RIDGE_RUN.format(seed=2**32 - seeds).replace("folds = 2", f"folds = 2\nseeds = {seeds}"))
    assert load_run(path).seed == 2**32 - seeds


def test_issue20_features_named_twice_are_refused(tmp_path):
    path = tmp_path / "run1.toml"
    path.write_text(RIDGE_RUN.format(seed=0).replace('["visual-stats", "audio-stats"]',
                                                     '["visual-stats", "audio-stats", "visual-stats"]'))
    with pytest.raises(DataError) as error:
        load_run(path)
    assert str(error.value) == f"{path}: features: 'visual-stats' named twice; expected each feature set once"


@pytest.mark.parametrize("command", ["train", "pipeline"])
def test_issue20_a_team_name_that_cannot_be_a_file_name_is_a_usage_error(tiny_dataset, features, tmp_path, command):
    (tmp_path / "runs" / "valence_arousal").mkdir(parents=True)
    config = write_run(tmp_path / "runs" / "valence_arousal" / "run1.toml")
    args = (["train", config, "--dataset", tiny_dataset, "--features", features, "--out", tmp_path / "m"]
            if command == "train" else ["pipeline", "--dataset", tiny_dataset, "--runs", tmp_path / "runs",
                                        "--features", features, "--models", tmp_path / "m", "--out", tmp_path / "s"])
    result = invoke(*args, "--team", "my team")
    assert result.exit_code == 2
    assert ("Invalid value for '--team': 'my team': expected letters, digits and '-' only (it goes into file "
            "names me17ei_<TEAM>_...)") in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]


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
def test_issue20_damaged_model_folder_files_are_named(ridge, tiny_dataset, features, tmp_path, name, command,
                                                      reason):
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
