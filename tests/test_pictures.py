"""The commands that draw (mediaeval/cli/pictures.py): plots, and the emotion amplifier on
generated films, which never writes over its source."""
import shutil
from fractions import Fraction

import av
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import invoke
from films import write_film
from mediaeval.cli import cli
from mediaeval.media import probe
from mediaeval.render import amplify_rgb, curves_at, gain
from mediaeval.run_files import RunFile
from mediaeval.submission import write_run
from mediaeval.task import FEAR, VALENCE_AROUSAL, fear_rows

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
                    VALENCE_AROUSAL)
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
    run = write_run(tmp_path / "me17ei_T_valence_arousal_run1.txt", {"Film": np.zeros((1, 2))}, VALENCE_AROUSAL)
    result = CliRunner().invoke(cli, ["render", str(film), "--run", str(run), "--out", str(tmp_path / "o.mp4")])
    assert result.exit_code == 1 and "holds no film named Other" in result.output


@pytest.mark.slow
def test_plots(tiny_dataset, tmp_path):
    from mediaeval.dataset import Dataset

    dataset = Dataset.discover(tiny_dataset)
    rng = np.random.default_rng(0)
    runs = []
    for n in (1, 2):
        va = {f.name: np.clip(f.labels(VALENCE_AROUSAL) + rng.normal(0, 0.1, (f.n_segments, 2)), -1, 1)
              for f in dataset.dev_films}
        runs.append(write_run(tmp_path / f"me17ei_T_valence_arousal_run{n}.txt", va, VALENCE_AROUSAL))
    fear = write_run(tmp_path / "me17ei_T_fear_run1.txt",
                     {f.name: fear_rows(rng.random(f.n_segments)) for f in dataset.test_films}, FEAR)
    out = tmp_path / "plots"
    result = CliRunner().invoke(cli, ["plot", *map(str, runs), "--dataset", str(tiny_dataset), "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    for n in (1, 2):
        folder = out / f"me17ei_T_valence_arousal_run{n}"
        assert sorted(p.name for p in folder.iterdir()) == ["Sample_01.png", "Sample_02.png", "summary.png"]
    assert png_size(out / "comparison-valence_arousal.png") == (int(3.6 * 4 * 110), int((0.45 * 2 + 2.2 + 0.2) * 110))
    result = CliRunner().invoke(cli, ["plot", str(fear), "--dataset", str(tiny_dataset), "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0
    assert (out / "me17ei_T_fear_run1" / "MEDIAEVAL17_00.png").exists()


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _model_folder(folder, dataset, prediction: dict, n: int):
    """What mediaeval train leaves in a model folder, for the comparison: manifest, definition,
    folds, scores of the out-of-fold run file, and the run file."""
    import json

    from mediaeval.folds import write_folds
    from mediaeval.scoring import score_folds
    from mediaeval.model_folder import MADE_BY, MANIFEST

    folder.mkdir(parents=True)
    name = f"me17ei_T_valence_arousal_run{n}.txt"
    run = write_run(folder / name, prediction, VALENCE_AROUSAL)
    folds = [[f] for f in sorted(prediction)]
    write_folds(folder / "folds.json", folds, 0)
    (folder / "run.toml").write_text(f'subtask = "valence_arousal"\nrun = {n}\ndescription = "d"\n'
                                     f'features = ["x"]\nfolds = 2\n')
    truth = {f: dataset.films[f].labels(VALENCE_AROUSAL) for f in prediction}
    rounded = {f: np.round(v, 6) for f, v in prediction.items()}
    (folder / "scores.json").write_text(json.dumps(score_folds(truth, rounded, folds, VALENCE_AROUSAL).to_json()))
    (folder / MANIFEST).write_text(json.dumps({"made_by": MADE_BY, "state": "complete", "run_file": name}))
    return run


@pytest.mark.slow
def test_runs_compared_as_the_leaderboard(tiny_dataset, tmp_path):
    """Run files of model folders bring their out-of-fold figures and the constant on their folds;
    a test-set run file has the development films' constant; a plain development run file has
    none, and the plot's title says so.  Every run has its interval over films."""
    from mediaeval.dataset import Dataset
    from mediaeval.leaderboard import leaderboard_plot as leaderboard_figure
    from mediaeval.leaderboard import ranked, run_file_entry
    from mediaeval.scoring import score_valence_arousal

    dataset = Dataset.discover(tiny_dataset)
    rng = np.random.default_rng(1)
    dev = {f.name: f.labels(VALENCE_AROUSAL) for f in dataset.dev_films}
    folders = [_model_folder(tmp_path / f"models/valence_arousal_run{n}", dataset,
                             {f: np.clip(t + rng.normal(0, 0.1 * n, t.shape), -1, 1) for f, t in dev.items()}, n)
               for n in (1, 2)]
    plain_dev = write_run(tmp_path / "me17ei_T_valence_arousal_run3.txt",
                          {f: np.clip(t + rng.normal(0, 0.2, t.shape), -1, 1) for f, t in dev.items()},
                          VALENCE_AROUSAL)
    test = {f.name: f.labels(VALENCE_AROUSAL) for f in dataset.test_films}
    plain_test = write_run(tmp_path / "me17ei_T_valence_arousal_run4.txt",
                           {f: np.clip(t + rng.normal(0, 0.1, t.shape), -1, 1) for f, t in test.items()},
                           VALENCE_AROUSAL)
    paths = [*folders, plain_dev, plain_test]

    entries = []
    for path in paths:
        run = RunFile.read(path)
        truth = {f: dataset.films[f].labels(VALENCE_AROUSAL) for f in run.films}
        entries.append(run_file_entry(path, score_valence_arousal(truth, run.films), dataset))
    by_name = {e.name: e for e in entries}
    # a model folder's run file: its out-of-fold figures with their std over folds (one film per fold),
    # and the constant on its folds (each film predicted by the other film's mean label)
    first = by_name["me17ei_T_valence_arousal_run1"]
    per_film = [np.mean((dev[f] - np.round(RunFile.read(folders[0]).films[f], 6)) ** 2, axis=0) for f in sorted(dev)]
    assert first.figure("valence_mse") == pytest.approx(np.mean([m[0] for m in per_film]), abs=1e-9)
    assert first.figure("valence_mse", "fold_std") == pytest.approx(np.std([m[0] for m in per_film]), abs=1e-9)
    a, b = sorted(dev)
    constant = np.mean([np.mean((dev[a][:, 0] - dev[b][:, 0].mean()) ** 2),
                        np.mean((dev[b][:, 0] - dev[a][:, 0].mean()) ** 2)])
    assert first.figure("valence_mse", "baseline:official") == pytest.approx(constant, abs=1e-12)
    # a test-set run file: no spread; the constant is the mean label of every development film
    fourth = by_name["me17ei_T_valence_arousal_run4"]
    mean = np.concatenate(list(dev.values())).mean(axis=0)
    (film, labels), = test.items()
    assert fourth.figure("valence_mse", "fold_std") is None
    assert fourth.figure("arousal_mse", "baseline:official") == pytest.approx(np.mean((labels[:, 1] - mean[1]) ** 2))
    # a development run file of unknown folds: no spread, no constant
    third = by_name["me17ei_T_valence_arousal_run3"]
    assert third.figure("valence_mse") is not None and third.baseline is None

    fig = leaderboard_figure(ranked(entries))
    keys = ("valence_mse", "valence_pcc", "arousal_mse", "arousal_pcc")
    assert [ax.get_title() for ax in fig.axes] == ["valence_mse (lower is better)", "valence_pcc",
                                                   "arousal_mse (lower is better)", "arousal_pcc"]
    for ax, key in zip(fig.axes, keys):
        labels_drawn = [t.get_text() for t in ax.get_yticklabels()]
        # every run has its 95 % interval over films now (issue 22): no name is marked for lacking a spread
        assert sorted(labels_drawn) == ["me17ei_T_valence_arousal_run1", "me17ei_T_valence_arousal_run2",
                                        "me17ei_T_valence_arousal_run3", "me17ei_T_valence_arousal_run4"]
        points = next(line for line in ax.get_lines() if line.get_marker() == "o")
        drawn = dict(zip(labels_drawn, points.get_xdata()))
        value = fourth.figure(key)   # a PCC of a test film this short may be undefined: not drawn (nan)
        assert drawn["me17ei_T_valence_arousal_run4"] == pytest.approx(np.nan if value is None else value,
                                                                       nan_ok=True)
        bars = {lab: s[1][0] - s[0][0] if len(s) else None   # no bar at an undefined value
                for lab, s in zip(labels_drawn, ax.collections[0].get_segments())}
        # one test film: every resample is that film, so its interval is the value itself
        assert bars["me17ei_T_valence_arousal_run4"] == (None if value is None else 0)
        if key.endswith("mse"):   # the PCCs of films of 1-2 segments are undefined, so is their interval
            interval = next(e for e in ranked(entries)["valence_arousal"] if e.name == first.name).evidence.figures[key]
            assert bars["me17ei_T_valence_arousal_run1"] == pytest.approx(interval.high - interval.low)
        marks = [c for c in ax.collections[1:] if c.get_label() == "constant (of each run)"]
        if key.endswith("mse"):   # the runs' constants differ (folds, test films), so one mark per row that has one
            xs = sorted(seg[0][0] for seg in marks[0].get_segments())
            assert xs == pytest.approx(sorted([first.figure(key, "baseline:official")] * 2
                                              + [fourth.figure(key, "baseline:official")]))
        else:
            assert marks == []
    assert fig._suptitle.get_text() == (
        "official figures with 95 % intervals (percentile bootstrap over films); constant dashed; grey names: worse "
        "than the best run on the criterion\nno constant for me17ei_T_valence_arousal_run3: development films of "
        "unknown folds")

    out = tmp_path / "plots"
    result = CliRunner().invoke(cli, ["plot", *map(str, paths), "--dataset", str(tiny_dataset), "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert png_size(out / "comparison-valence_arousal.png")[0] == int(3.6 * 4 * 110)


def test_render_refuses_to_replace_its_source(tmp_path):
    from mediaeval.submission import write_run

    film = write_film(tmp_path / "Film.mp4", 10.0)
    original = film.read_bytes()
    run = write_run(tmp_path / "me17ei_T_valence_arousal_run1.txt", {"Film": np.zeros((1, 2))}, VALENCE_AROUSAL)
    for out in (film, tmp_path / "." / "Film.mp4"):
        for extra in ([], ["--overwrite"]):
            result = invoke("render", film, "--run", run, "--out", out, *extra)
            assert result.exit_code == 1 and "is the film being rendered" in result.output, result.output
    assert film.read_bytes() == original
    notes = tmp_path / "notes.mp4"
    notes.write_bytes(b"a user's file")
    for extra in ([], ["--overwrite"]):                # not an mp4: left alone, even with --overwrite
        result = invoke("render", film, "--run", run, "--out", notes, *extra)
        assert result.exit_code == 1 and "is not an mp4 film; it is left alone (even with --overwrite)" in result.output
    assert notes.read_bytes() == b"a user's file"
    mine = tmp_path / "mine.mp4"
    shutil.copy(film, mine)                            # a user's film: only with --overwrite
    result = invoke("render", film, "--run", run, "--out", mine)
    assert result.exit_code == 1 and "is not a render made by mediaeval (or was changed since); use --overwrite" \
        in result.output
    assert mine.read_bytes() == original
    rendered = tmp_path / "rendered.mp4"
    assert invoke("render", film, "--run", run, "--out", rendered).exit_code == 0
    assert invoke("render", film, "--run", run, "--out", rendered).exit_code == 0   # a previous render: redone
    assert invoke("render", film, "--run", run, "--out", mine, "--overwrite").exit_code == 0
    assert probe(mine).duration == pytest.approx(10.0, abs=0.05)
