"""Predicting films with trained runs (mediaeval/prediction.py): a film shorter than one step, with
an LSTM and with a per-segment model."""
import shutil

import pytest

from conftest import RIDGE_RUN, invoke
from films import write_film
from mediaeval.errors import MediaevalWarning
from mediaeval.features.store import feature_path, load_features

SET = ["visual-stats", "audio-stats"]

RUN = """subtask = "valence_arousal"
run = 1
description = "a film shorter than a step"
features = ["visual-stats", "audio-stats"]
seed = 1
folds = 2

[model]
lstm_units = 4
epochs = 1
chunk_steps = 16
batch_films = 2
"""


def test_film_shorter_than_a_step_in_a_per_segment_run(tiny_dataset, tmp_path):
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


@pytest.mark.slow
def test_film_shorter_than_a_step_gets_0_rows(tiny_dataset, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_dataset, data)
    video = next(data.rglob("MEDIAEVAL17_00.mp4"))
    write_film(video.with_name("MEDIAEVAL17_09.mp4"), 0.4)
    features = tmp_path / "features"
    with pytest.warns(UserWarning, match="film MEDIAEVAL17_09 lasts 0.40 s, less than one step"):
        result = invoke("extract", "--dataset", data, "--out", features)
    assert result.exit_code == 0, result.output
    short = load_features(feature_path(features, SET, "MEDIAEVAL17_09"))
    assert short.values.shape == (0, 153) and short.times.shape == (0,)
    assert short.meta["warnings"] == ["film MEDIAEVAL17_09 lasts 0.40 s, less than one step (16/30 s): its features "
                                      "have 0 rows and it has no segment"]
    (tmp_path / "run1.toml").write_text(RUN)
    result = invoke("train", tmp_path / "run1.toml", "--dataset", data, "--features", features,
                    "--out", tmp_path / "model", "--team", "T")
    assert result.exit_code == 0, result.output
    for films, expected in (("test", ["MEDIAEVAL17_00", "MEDIAEVAL17_09"]), ("MEDIAEVAL17_09", ["MEDIAEVAL17_09"])):
        run = tmp_path / films / "me17ei_T_valence_arousal_run1.txt"
        result = invoke("predict", tmp_path / "model", "--dataset", data, "--features", features,
                        "--films", films, "--out", run)
        assert result.exit_code == 0, result.output
        lines = run.read_text().splitlines()
        names = [line for line in lines if line.startswith("MEDIAEVAL17")]
        assert names == expected
        assert lines[-1] == "MEDIAEVAL17_09"         # its name line, and its 0 segments
    assert lines == ["MEDIAEVAL17_09"]
