"""The films as models see them (mediaeval/film_data.py): features refused when made otherwise
than the model's or from another version of the film's file, and what train says when a film
has neither features nor video."""
import os
import shutil

import pytest

from conftest import copy_model, invoke, write_tiny_run
from mediaeval.dataset import Dataset

SET = ["visual-stats", "audio-stats"]


@pytest.mark.slow
def test_predict_refuses_features_made_otherwise(tiny_model, tiny_dataset, features, tmp_path):
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
    result = invoke("predict", tiny_model[0], "--dataset", tiny_dataset, "--features", other, "--out", out)
    assert result.exit_code == 1
    assert result.output == (f"Error: {path}: made with other extractor versions or settings than the model was "
                             f"trained on: extractors.audio-stats.version: \"{old_version}\" -> \"0-other\"\n")
    assert not out.exists()
    for path in sorted((other / "visual-stats+audio-stats").glob("Sample_*.npz")):  # train re-extracted alike
        made = load_features(path)
        [e for e in made.meta["extractors"] if e["name"] == "audio-stats"][0]["version"] = "0-other"
        save_features(path, made)
    model_dir = copy_model(tiny_model, tmp_path)
    result = invoke("train", tiny_model[1], "--dataset", tiny_dataset, "--features", other, "--out", model_dir,
                    "--team", "T")
    assert result.exit_code == 0, result.output
    assert f'retraining: extractors.audio-stats.version: "{old_version}" -> "0-other"\n' in result.output
    assert invoke("predict", model_dir, "--dataset", tiny_dataset, "--features", other, "--out", out).exit_code == 0


def test_train_says_what_is_wrong(tiny_dataset, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_dataset, data)
    Dataset.discover(data).films["Sample_01"].video.unlink()
    (tmp_path / "features").mkdir()
    config = write_tiny_run(tmp_path / "run1.toml")
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


@pytest.mark.slow
def test_features_of_a_replaced_film_are_refused_naming_it(tiny_model, tiny_dataset, features, tmp_path):
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
    result = invoke("train", write_tiny_run(tmp_path / "run1.toml"), "--dataset", data, "--features", other,
                    "--out", tmp_path / "m", "--team", "T")
    assert result.exit_code == 1
    assert result.output == (f"Error: {other / 'visual-stats+audio-stats' / 'Sample_01.npz'}: made from another "
                             f"version of film Sample_01's file than {first} (its size or content changed since); "
                             f"run: mediaeval extract --dataset {data} --out {other} --extractor "
                             f"visual-stats,audio-stats\n")
    assert not (tmp_path / "m").exists()
    out = tmp_path / "me17ei_T_valence_arousal_run1.txt"
    result = invoke("predict", tiny_model[0], "--dataset", data, "--features", other, "--out", out)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {other / 'visual-stats+audio-stats' / 'MEDIAEVAL17_00.npz'}: made "
                                    f"from another version of film MEDIAEVAL17_00's file than {test} ")
    assert not out.exists()
    result = invoke("extract", "--dataset", data, "--out", other)
    assert result.exit_code == 0 and "2 films extracted, 1 already complete, 0 failed" in result.output
    assert len(load_films(dataset, other, SET, dataset.films.values(), VALENCE_AROUSAL, False)) == 3
