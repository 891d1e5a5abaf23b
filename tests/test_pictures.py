"""Plots and the emotion amplifier, on generated films."""
from fractions import Fraction

import av
import numpy as np
import pytest
from click.testing import CliRunner

from films import write_film
from mediaeval.cli import cli
from mediaeval.render import amplify_rgb, curves_at, gain
from mediaeval.submission import fear_rows, write_run


def test_gain_is_steepest_in_the_middle():
    assert gain(0.0) == 1.0
    assert gain(0.3) - gain(0.0) > gain(1.0) - gain(0.7)
    assert gain(1.0) == pytest.approx(1 + 0.35 * np.tanh(1 / 0.3))


def test_bars_show_the_values():
    frame = np.full((100, 100, 3), 100, np.uint8)
    out = amplify_rgb(frame, valence=1.0, arousal=-1.0)
    assert out[50, 50, 0] == int(100 * gain(-1.0)) and out[50, 50, 2] == int(100 * gain(1.0))
    # arousal -1: empty bar at the top; valence 1: full bar at the bottom
    assert tuple(out[6, 5]) != (220, 40, 40)
    assert tuple(out[100 - 5 - 3, 18]) == (40, 80, 220)


def decoded(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [(f.time, f.to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0)) for f in container.decode(stream)]
        rate = float(stream.average_rate)
        duration = float(stream.duration * stream.time_base)
        has_audio = bool(container.streams.audio)
    return np.array([t for t, _ in frames]), np.array([m for _, m in frames]), rate, duration, has_audio


@pytest.mark.parametrize("style", ["rgb", "vignette"])
def test_render_follows_the_curve(tmp_path, style):
    film = write_film(tmp_path / "Film.mp4", 30.0, fps=Fraction(25), size=(96, 64), grey=lambda k: 128)
    n = 5  # segments of a 30 s film
    valence = np.linspace(-0.8, 0.8, n)
    arousal = np.linspace(0.6, -0.6, n)
    run = write_run(tmp_path / "me17ei_T_valence_arousal_run1.txt", {"Film": np.column_stack([valence, arousal])},
                    "valence_arousal")
    out = tmp_path / f"{style}.mp4"
    result = CliRunner().invoke(cli, ["render", str(film), "--run", str(run), "--out", str(out), "--style", style],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    times, colour, rate, duration, has_audio = decoded(out)
    assert rate == 25 and has_audio
    assert duration == pytest.approx(30.0, abs=0.05)
    v, a = curves_at(times, np.column_stack([valence, arousal]))
    if style == "rgb":
        assert np.corrcoef(colour[:, 0], a)[0, 1] > 0.95   # red follows arousal
        assert np.corrcoef(colour[:, 2], v)[0, 1] > 0.95   # blue follows valence
    else:
        assert np.corrcoef(colour.mean(axis=1), v)[0, 1] > 0.95   # brightness follows valence


def test_render_refuses_a_film_not_in_the_run(tmp_path):
    film = write_film(tmp_path / "Other.mp4", 2.0)
    run = write_run(tmp_path / "me17ei_T_valence_arousal_run1.txt", {"Film": np.zeros((1, 2))}, "valence_arousal")
    result = CliRunner().invoke(cli, ["render", str(film), "--run", str(run), "--out", str(tmp_path / "o.mp4")])
    assert result.exit_code == 1 and "holds no film named Other" in result.output


def test_plots(tiny_dataset, tmp_path):
    from mediaeval.dataset import Dataset

    dataset = Dataset.discover(tiny_dataset)
    rng = np.random.default_rng(0)
    runs = []
    for n in (1, 2):
        va = {f.name: np.clip(f.labels("valence_arousal") + rng.normal(0, 0.1, (f.n_segments, 2)), -1, 1)
              for f in dataset.dev_films}
        runs.append(write_run(tmp_path / f"me17ei_T_valence_arousal_run{n}.txt", va, "valence_arousal"))
    fear = write_run(tmp_path / "me17ei_T_fear_run1.txt",
                     {f.name: fear_rows(rng.random(f.n_segments)) for f in dataset.test_films}, "fear")
    out = tmp_path / "plots"
    result = CliRunner().invoke(cli, ["plot", *map(str, runs), "--dataset", str(tiny_dataset), "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    for n in (1, 2):
        folder = out / f"me17ei_T_valence_arousal_run{n}"
        assert sorted(p.name for p in folder.iterdir()) == ["Sample_01.png", "Sample_02.png", "summary.png"]
    assert (out / "comparison-valence_arousal.png").stat().st_size > 10_000
    result = CliRunner().invoke(cli, ["plot", str(fear), "--dataset", str(tiny_dataset), "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0
    assert (out / "me17ei_T_fear_run1" / "MEDIAEVAL17_00.png").exists()
