"""Predicting films with trained runs (mediaeval/prediction.py): a film shorter than one step."""
import shutil

import pytest

from conftest import RIDGE_RUN, invoke
from mediaeval.errors import MediaevalWarning


def test_film_shorter_than_a_step_in_a_per_segment_run(tiny_dataset, tmp_path):
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
