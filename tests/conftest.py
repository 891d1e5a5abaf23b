"""Shared fixtures and helpers: a tiny sample dataset made once per test session, its features,
the real curves, the CLI runner, annotation files, training runs (a tiny LSTM run and its trained
model, a per-segment ridge run), a temporary extractor, an annotation-only dataset with valid runs
of its test films and a junk run.

Test modules import the helpers from here (``from conftest import invoke``), never from one another.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_CURVES = Path(os.environ.get("MEDIAEVAL_SHARED", REPO.parent / "shared")) / "data" / "liris-accede-continuous"

# Where the task's zips put the annotation files (discovery finds them at any depth).
VA_ANNOTATIONS = "MEDIAEVAL17-DevSet-Valence_Arousal-annotations/annotations"
FEAR_ANNOTATIONS = "MEDIAEVAL17-DevSet-Fear-annotations/annotations"

# A tiny LSTM run trained on the default features (format with subtask and seeds).
TRAINING_RUN = """subtask = "{subtask}"
run = 3
description = "tiny test run"
features = ["visual-stats", "audio-stats"]
seed = 1
seeds = {seeds}
folds = 2

[model]
lstm_units = 8
epochs = 2
chunk_steps = 16
batch_films = 2
"""

# A tiny LSTM run of one epoch (format with subtask, description and units): write_tiny_run.
TINY_RUN = """subtask = "{subtask}"
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

# A per-segment (ridge) valence/arousal run on the default features (format with seed).
RIDGE_RUN = """subtask = "valence_arousal"
run = 1
description = "ridge per segment"
features = ["visual-stats", "audio-stats"]
seed = {seed}
folds = 2

[model]
type = "ridge"
"""


def invoke(*args, catch_exceptions: bool = False):
    """Run the ``mediaeval`` command with ``args`` (any objects, made strings) in Click's runner."""
    from click.testing import CliRunner

    from mediaeval.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=catch_exceptions)


# Trained numbers compared across processes (here with every core, in a worker with one thread)
# or CPUs: TensorFlow's and BLAS's float32 sums may be split otherwise there, and a difference
# of a few units in the last place grows through training.  Measured: a run file trained with
# oneDNN and OpenBLAS held to AVX2 differs from this machine's AVX-512 one by 1e-6 (the sixth
# printed decimal) in half its values.  Ten times that, far below any real difference.
TRAINED_ATOL = 1e-5


def assert_runs_close(path, expected, atol: float = TRAINED_ATOL) -> None:
    """Two run files hold the same films in the same order, the same segment counts, and values
    within ``atol`` (see :data:`TRAINED_ATOL`)."""
    import numpy as np

    from mediaeval.run_files import RunFile

    ours, theirs = RunFile.read(path), RunFile.read(expected)
    assert list(ours.films) == list(theirs.films), (path, expected)
    for film, values in theirs.films.items():
        assert ours.films[film].shape == values.shape, film
        np.testing.assert_allclose(ours.films[film], values, rtol=0, atol=atol, err_msg=film)


def assert_json_close(ours, theirs, rtol: float = 1e-4, atol: float = TRAINED_ATOL, where: str = "") -> None:
    """Two JSON values alike: the same keys, lists, strings, booleans and nulls, numbers within
    ``atol + rtol * |expected|`` (figures computed from trained predictions: see :data:`TRAINED_ATOL`)."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict) and sorted(ours) == sorted(theirs), where
        for key, value in theirs.items():
            assert_json_close(ours[key], value, rtol, atol, f"{where}/{key}")
    elif isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs), where
        for k, (a, b) in enumerate(zip(ours, theirs)):
            assert_json_close(a, b, rtol, atol, f"{where}[{k}]")
    elif isinstance(theirs, float) and not isinstance(ours, bool) and isinstance(ours, (int, float)):
        assert abs(ours - theirs) <= atol + rtol * abs(theirs), (where, ours, theirs)
    else:
        assert ours == theirs, (where, ours, theirs)


def valence_arousal_text(rows) -> str:
    """A valence/arousal annotation file: header, then ``id time valence arousal`` per segment
    (six decimals)."""
    return "Id\tTime\tMeanValence\tMeanArousal\n" + "".join(
        f"{k}\t{5 * k}\t{v:.6f}\t{a:.6f}\n" for k, (v, a) in enumerate(rows))


def fear_text(labels) -> str:
    """A fear annotation file: header, then ``id time label`` per segment."""
    return "Id\tTime\tFear\n" + "".join(f"{k}\t{5 * k}\t{int(x)}\n" for k, x in enumerate(labels))


def write_annotations(root, film: str, valence_arousal=None, fear=None) -> None:
    """A film's annotation files where the task's zips put them under ``root``."""
    root = Path(root)
    if valence_arousal is not None:
        (root / VA_ANNOTATIONS).mkdir(parents=True, exist_ok=True)
        (root / VA_ANNOTATIONS / f"{film}-MEDIAEVAL2017-valence_arousal.txt").write_text(
            valence_arousal_text(valence_arousal))
    if fear is not None:
        (root / FEAR_ANNOTATIONS).mkdir(parents=True, exist_ok=True)
        (root / FEAR_ANNOTATIONS / f"{film}-MEDIAEVAL2017-fear.txt").write_text(fear_text(fear))


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """Two development films and one test film of 12-16 s, with test labels."""
    from mediaeval.sample import make_sample

    root = tmp_path_factory.mktemp("tiny") / "data"
    make_sample(root, films=2, test_films=1, durations=(12.0, 16.0), seed=3, jobs=1,
                test_labels=True, progress=False)
    return root


@pytest.fixture(scope="module")
def features(tiny_dataset, tmp_path_factory):
    """The tiny dataset's default features (visual-stats + audio-stats), extracted once per module."""
    out = tmp_path_factory.mktemp("features")
    result = invoke("extract", "--dataset", tiny_dataset, "--out", out)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def temporary_extractor(monkeypatch):
    """``add(name, factory)`` registers an extractor for one test; the registry is as before after it."""
    from mediaeval.features import registry

    registry.available()   # the built-in extractors are in before the test adds its own

    def add(name, factory):
        monkeypatch.setitem(registry._REGISTRY, name, factory)

    return add


@pytest.fixture(scope="session")
def real_curves():
    """Per-second (valence, arousal) arrays of the real LIRIS-ACCEDE films; skip when absent."""
    import numpy as np

    if not SHARED_CURVES.is_dir():
        pytest.skip(f"real curves not found at {SHARED_CURVES}")
    curves = {}
    for valence_file in sorted(SHARED_CURVES.glob("*_Valence.txt")):
        film = valence_file.name[: -len("_Valence.txt")]
        valence = np.loadtxt(valence_file, skiprows=1)[:, 1]
        arousal = np.loadtxt(SHARED_CURVES / f"{film}_Arousal.txt", skiprows=1)[:, 1]
        n = min(len(valence), len(arousal))
        curves[film] = (valence[:n], arousal[:n])
    return curves


def cli_with_mount(args, folder, mount: str):
    """Run the ``mediaeval`` command with ``args`` in a child process that sees ``folder`` as a
    real file system of another kind: ``"size=64k"`` (any tmpfs options) a small tmpfs mounted
    there (a disk that fills up), ``"ro"`` the folder itself mounted read-only.  The mount lives
    in a mount namespace of the child's own (``unshare -rm``); the test is skipped where that is
    not allowed.  Returns the ``subprocess.CompletedProcess`` (text)."""
    import shutil
    import subprocess
    import sys

    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode:
        pytest.skip("unshare -rm (a mount namespace of one's own) is not allowed here")
    Path(folder).mkdir(parents=True, exist_ok=True)
    setup = ('mount --bind "$1" "$1" && mount -o remount,ro,bind "$1"' if mount == "ro"
             else f'mount -t tmpfs -o {mount} none "$1"')
    code = "import sys; from mediaeval.cli import main; sys.argv = ['mediaeval', *sys.argv[1:]]; main()"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run(["unshare", "-rm", "sh", "-c", f'{setup} && shift && exec "$@"', "sh", str(folder),
                           sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=600)


def write_tiny_run(path, subtask="valence_arousal", description="tiny run", units=8, extra=""):
    """Write :data:`TINY_RUN` to ``path`` (``extra`` lines appended to its ``[model]`` table); returns ``path``."""
    path.write_text(TINY_RUN.format(subtask=subtask, description=description, units=units) + extra)
    return path


@pytest.fixture(scope="module")
def tiny_model(tiny_dataset, features, tmp_path_factory):
    """``(model folder, run definition)``: :data:`TINY_RUN` trained into a folder that existed,
    empty (allowed), for team T, once per module.  Tests that change it work on a copy (copy_model)."""
    root = tmp_path_factory.mktemp("models")
    config = write_tiny_run(root / "run1.toml")
    (root / "va").mkdir()
    result = invoke("train", config, "--dataset", tiny_dataset, "--features", features, "--out", root / "va",
                    "--team", "T")
    assert result.exit_code == 0, result.output
    return root / "va", config


def copy_model(tiny_model, tmp_path) -> Path:
    """A copy of :func:`tiny_model`'s model folder, ``tmp_path / "va"``."""
    import shutil

    model_dir = tmp_path / "va"
    shutil.copytree(tiny_model[0], model_dir)
    return model_dir


def make_dataset(root, films=(("A", 3), ("B", 2), ("MEDIAEVAL17_00", 2), ("MEDIAEVAL17_01", 1))):
    """An annotation-only dataset under ``root`` (``films``: name and segment count; names starting
    with MEDIAEVAL17 are test films): valence i/10 - 0.1, arousal 0.1 - i/10, fear i % 2; returns ``root``."""
    for film, k in films:
        folder = root / ("test" if film.startswith("MEDIAEVAL17") else "dev")
        folder.mkdir(parents=True, exist_ok=True)
        values = [(round(i / 10 - 0.1, 1), round(0.1 - i / 10, 1)) for i in range(k)]
        (folder / f"{film}_valence_arousal.txt").write_text(valence_arousal_text(values))
        (folder / f"{film}_fear.txt").write_text(fear_text([i % 2 for i in range(k)]))
    return root


def junk_run(path, value_lines=120_000, names=60_000):
    """A few MB of junk: lines of words before any film (E102 each), then unknown film names
    (E103 each)."""
    with open(path, "w") as handle:
        for i in range(value_lines):
            handle.write(f"junk{i} more words here\n")
        for i in range(names):
            handle.write(f"NoSuchFilm{i}\n")
    return path


def write_test_runs(folder, team="T"):
    """Valid runs of the test films of :func:`make_dataset`, valence_arousal run 1 and fear run 1 of
    ``team``, each with a description, written into ``folder``; returns their paths."""
    import numpy as np

    from mediaeval.submission import write_run
    from mediaeval.task import FEAR, VALENCE_AROUSAL, fear_rows

    folder.mkdir(parents=True, exist_ok=True)
    va = write_run(folder / f"me17ei_{team}_valence_arousal_run1.txt",
                   {"MEDIAEVAL17_00": np.array([[0.1, 0.2], [0.3, 0.1]]), "MEDIAEVAL17_01": np.array([[0.0, 0.5]])},
                   VALENCE_AROUSAL, {"description": "va"})
    fear = write_run(folder / f"me17ei_{team}_fear_run1.txt",
                     {"MEDIAEVAL17_00": fear_rows([0.1, 0.7]), "MEDIAEVAL17_01": fear_rows([0.3])}, FEAR,
                     {"description": "fear"})
    return [va, fear]


@pytest.fixture
def data(tmp_path):
    """:func:`make_dataset`'s default films (development A and B, test MEDIAEVAL17_00 and _01) under
    ``tmp_path / "data"``."""
    return make_dataset(tmp_path / "data")


@pytest.fixture
def run_dataset(tmp_path):
    """The :class:`~mediaeval.dataset.Dataset` of dev films A (3 segments) and B (2), test films
    MEDIAEVAL17_00 (2) and MEDIAEVAL17_01 (1): annotations only, valence i/10, arousal -i/10, fear i % 2."""
    from mediaeval.dataset import Dataset

    root = tmp_path / "data"
    for film, k in [("A", 3), ("B", 2), ("MEDIAEVAL17_00", 2), ("MEDIAEVAL17_01", 1)]:
        folder = root / ("dev" if film in "AB" else "test")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{film}_valence_arousal.txt").write_text(valence_arousal_text([(i / 10, -i / 10) for i in range(k)]))
        (folder / f"{film}_fear.txt").write_text(fear_text([i % 2 for i in range(k)]))
    return Dataset.discover(root)


def random_walk_film(rng, k: int, level: bool = True):
    """``(seconds, curve, segments)`` of a film of ``k`` segments: a per-second valence/arousal
    random walk (step sd 0.03, clipped to +-0.9; with ``level``, from a per-film start of sd 0.05)
    and its official 10 s segment means every 5 s."""
    import numpy as np

    seconds = 5 * (k - 1) + 10
    start = rng.normal(0, 0.05, 2) if level else 0.0
    curve = np.clip(start + np.cumsum(rng.normal(0, 0.03, (seconds, 2)), axis=0), -0.9, 0.9)
    return seconds, curve, np.array([curve[5 * j: 5 * j + 10].mean(axis=0) for j in range(k)])


def write_feature_table(path, columns: str, table) -> None:
    """A 1 Hz feature table as ``mediaeval import-features`` reads it: a ``time`` column (the
    middle of each second) and ``columns`` (comma-separated names), 5 decimals."""
    rows = [f"time,{columns}"] + [f"{t + 0.5}," + ",".join(f"{x:.5f}" for x in row) for t, row in enumerate(table)]
    Path(path).write_text("\n".join(rows) + "\n")


def write_weak_films(root, src, seed: int = 0, n: int = 16) -> None:
    """``n`` annotation-only films of 40-70 segments (per-film level, random-walk curves) and their
    1 Hz tables: a weak cue of valence and a clear one of arousal, each in slow noise (AR(1),
    20 s), two columns of slow noise alone, every column with a per-film scale and offset
    (tests/test_evidence.py, tests/test_repeats.py)."""
    import numpy as np
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    src.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        seconds, curve, segments = random_walk_film(rng, 40 + 2 * i)
        write_annotations(root, f"Film_{i:02d}", valence_arousal=segments)
        slow = lfilter([np.sqrt(1 - 0.95 ** 2)], [1, -0.95], rng.normal(0, 1, (seconds, 4)), axis=0)
        z = (curve - curve.mean(axis=0)) / (curve.std(axis=0) + 1e-9)
        table = np.c_[0.15 * z[:, :1] + slow[:, :1], z[:, 1:] + slow[:, 1:2], slow[:, 2:]]
        table = table * rng.lognormal(0, 0.3, 4) + rng.normal(0, 1, 4)
        write_feature_table(src / f"Film_{i:02d}.csv", "v,a,n1,n2", table)
