"""A development set of realistic difficulty, built from real per-second emotion curves.

The sample dataset (``mediaeval sample``) computes its pictures and sounds from its labels, so
every recipe scores PCC 0.9+ there and no recipe can be told from another.  Real audio-visual
features relate to induced emotion weakly, late and film by film.  This module builds, from the
real LIRIS-ACCEDE per-second valence and arousal curves (``shared/data/liris-accede-continuous``):

* annotation files in the official layout: 10 s means every 5 s (valence/arousal), and fear
  segments where valence is low and arousal high (the rare class, as in the task);
* one per-second feature table per film (``<Film>.csv``: ``time,f00,f01,...``) with:

  - a few **cues** of arousal (within-film correlation with the curve about 0.10-0.25 at 1 Hz)
    and fewer, weaker ones of valence (at most 0.15), each lagged 0-3 s and passed through a
    monotone non-linearity;
  - **slow noise** in every column (scene content unrelated to emotion: an AR(1) process with a
    20-60 s time constant) beside white noise;
  - a **per-film offset and scale** of every column (each film has its own look and sound);
  - **distractor** columns made of the same noise and nothing else;
  - column names that do not tell cues from distractors (``f00`` ...), in a seeded order.

Everything is drawn from ``numpy.random.default_rng`` seeded by ``seed`` and the film's index in
sorted order: the same seed gives the same files, byte for byte.  The real curves are
research-use data: they are read from where the user keeps them, never copied into the package.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CURVES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "liris-accede-continuous"
VA_DIR = "MEDIAEVAL17-DevSet-Valence_Arousal-annotations/annotations"
FEAR_DIR = "MEDIAEVAL17-DevSet-Fear-annotations/annotations"


@dataclass(frozen=True)
class Difficulty:
    """How hard the set is.  Correlations are the targets of each cue, within a film, at 1 Hz."""

    arousal_cues: tuple[float, ...] = (0.25, 0.2, 0.15, 0.12, 0.1)
    valence_cues: tuple[float, ...] = (0.15, 0.15, 0.12, 0.1)
    distractors: int = 39
    max_lag_seconds: int = 3
    slow_share: float = 0.7            # of the noise variance that is slow (AR(1))
    slow_seconds: tuple[float, float] = (20.0, 60.0)
    offset_std: float = 1.0            # per-film offset of every column, in noise units
    log_scale_std: float = 0.3         # per-film scale of every column (log-normal)
    fear_valence_quantile: float = 0.3
    fear_arousal_quantile: float = 0.7

    @property
    def columns(self) -> int:
        return len(self.arousal_cues) + len(self.valence_cues) + self.distractors


@dataclass
class Film:
    """One film of the set: per-second curves, per-segment labels, per-second features."""

    name: str
    valence: np.ndarray                     # (T,) per second
    arousal: np.ndarray                     # (T,)
    features: np.ndarray | None = None      # (T, columns) at times t + 0.5
    segments: np.ndarray | None = None      # (K, 2) valence, arousal: 10 s means every 5 s
    fear: np.ndarray | None = None          # (K,) 0/1
    cue_correlation: dict = field(default_factory=dict)   # column -> within-film r at 1 Hz


def read_curves(folder=CURVES) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{film: (valence, arousal)}`` per second, from ``<Film>_Valence.txt`` / ``_Arousal.txt``."""
    folder = Path(folder)
    curves = {}
    for valence_file in sorted(folder.glob("*_Valence.txt")):
        film = valence_file.name[: -len("_Valence.txt")]
        valence = np.loadtxt(valence_file, skiprows=1, ndmin=2)[:, 1]
        arousal = np.loadtxt(folder / f"{film}_Arousal.txt", skiprows=1, ndmin=2)[:, 1]
        n = min(len(valence), len(arousal))
        curves[film] = (valence[:n], arousal[:n])
    return curves


def segment_means(per_second: np.ndarray) -> np.ndarray:
    """10 s means every 5 s of a per-second series: segment k is the mean of seconds 5k .. 5k+9.

    >>> segment_means(np.arange(20.0))
    array([ 4.5,  9.5, 14.5])
    """
    n = (len(per_second) - 10) // 5 + 1 if len(per_second) >= 10 else 0
    return np.array([per_second[5 * k: 5 * k + 10].mean(axis=0) for k in range(n)])


def _slow_noise(rng, n: int, tau: float) -> np.ndarray:
    """Unit-variance AR(1) with time constant ``tau`` seconds."""
    phi = math.exp(-1.0 / tau)
    e = rng.standard_normal(n) * math.sqrt(1 - phi ** 2)
    out = np.empty(n)
    out[0] = rng.standard_normal()
    for t in range(1, n):
        out[t] = phi * out[t - 1] + e[t]
    return out


_SHAPES = (np.tanh, lambda x: np.exp(0.7 * x), lambda x: x + 0.3 * x ** 3, lambda x: np.log1p(np.exp(1.5 * x)))


def _within_film_r(parts, amplitude: float) -> float:
    """Mean over films of corr(signal + amplitude * noise, curve)."""
    return float(np.mean([np.corrcoef(s + amplitude * n, y)[0, 1] for s, n, y in parts]))


def _calibrate(parts, target: float) -> float:
    """The noise amplitude whose mean within-film correlation is ``target`` (bisection on a log
    scale; the correlation falls as the amplitude grows).  Films with flat curves end up below
    the target and lively ones above it, as in real data."""
    low, high = 1e-3, 1e3
    for _ in range(60):
        middle = math.sqrt(low * high)
        low, high = (middle, high) if _within_film_r(parts, middle) > target else (low, middle)
    return math.sqrt(low * high)


def build(curves: dict, difficulty: Difficulty = Difficulty(), seed: int = 0) -> list[Film]:
    """The films of the set, with labels and features (see the module docstring)."""
    films = [Film(name, *map(np.asarray, curves[name])) for name in sorted(curves)]
    everything_v = np.concatenate([f.valence for f in films])
    everything_a = np.concatenate([f.arousal for f in films])
    norm = {"valence": (everything_v.mean(), everything_v.std()), "arousal": (everything_a.mean(), everything_a.std())}
    cues = [("arousal", r) for r in difficulty.arousal_cues] + [("valence", r) for r in difficulty.valence_cues]
    layout_rng = np.random.default_rng([seed, 10_000])
    order = layout_rng.permutation(difficulty.columns)        # column j of the file holds source order[j]
    kinds = [(layout_rng.integers(0, difficulty.max_lag_seconds + 1), layout_rng.integers(len(_SHAPES)))
             for _ in cues]
    signals = {}
    for f in films:
        for c, (target, _r) in enumerate(cues):
            lag, shape = kinds[c]
            z = (getattr(f, target) - norm[target][0]) / norm[target][1]
            z = np.r_[np.full(lag, z[0]), z[: len(z) - lag]]
            signals[f.name, c] = _SHAPES[shape](z)
    fear_v = np.quantile(np.concatenate([segment_means(f.valence) for f in films]), difficulty.fear_valence_quantile)
    fear_a = np.quantile(np.concatenate([segment_means(f.arousal) for f in films]), difficulty.fear_arousal_quantile)
    noises, offsets, scales = {}, {}, {}
    for index, f in enumerate(films):
        rng = np.random.default_rng([seed, index])
        n = len(f.valence)
        for j in range(difficulty.columns):
            slow = _slow_noise(rng, n, rng.uniform(*difficulty.slow_seconds))
            noises[f.name, j] = (math.sqrt(difficulty.slow_share) * slow
                                 + math.sqrt(1 - difficulty.slow_share) * rng.standard_normal(n))
            offsets[f.name, j] = rng.normal(0.0, difficulty.offset_std)
            scales[f.name, j] = math.exp(rng.normal(0.0, difficulty.log_scale_std))
    amplitude = [_calibrate([(signals[f.name, c], noises[f.name, c], getattr(f, target)) for f in films], r)
                 for c, (target, r) in enumerate(cues)]
    for f in films:
        columns = np.empty((len(f.valence), difficulty.columns))
        for j in range(difficulty.columns):
            if j < len(cues):
                value, unit = signals[f.name, j] + amplitude[j] * noises[f.name, j], amplitude[j]
            else:
                value, unit = noises[f.name, j], 1.0
            columns[:, j] = scales[f.name, j] * (value + offsets[f.name, j] * unit)
        for j, (target, _r) in enumerate(cues):
            f.cue_correlation[f"{target}{j}"] = float(np.corrcoef(columns[:, j], getattr(f, target))[0, 1])
        f.features = columns[:, order.argsort()].astype(np.float32)
        f.segments = np.column_stack([segment_means(f.valence), segment_means(f.arousal)])
        f.fear = ((f.segments[:, 0] < fear_v) & (f.segments[:, 1] > fear_a)).astype(int)
    return films


def write(films: list[Film], dataset_root, features_src) -> None:
    """Annotation files in the official layout under ``dataset_root``; ``<Film>.csv`` feature
    tables (one row per second, at the middle of the second) under ``features_src``."""
    dataset_root, features_src = Path(dataset_root), Path(features_src)
    (dataset_root / VA_DIR).mkdir(parents=True, exist_ok=True)
    (dataset_root / FEAR_DIR).mkdir(parents=True, exist_ok=True)
    features_src.mkdir(parents=True, exist_ok=True)
    for f in films:
        va = ["Id\tTime\tMeanValence\tMeanArousal"] + [
            f"{k}\t{5 * k}\t{v:.6f}\t{a:.6f}" for k, (v, a) in enumerate(f.segments)]
        (dataset_root / VA_DIR / f"{f.name}-MEDIAEVAL2017-valence_arousal.txt").write_text("\n".join(va) + "\n")
        fear = ["Id\tTime\tFear"] + [f"{k}\t{5 * k}\t{int(x)}" for k, x in enumerate(f.fear)]
        (dataset_root / FEAR_DIR / f"{f.name}-MEDIAEVAL2017-fear.txt").write_text("\n".join(fear) + "\n")
        header = "time," + ",".join(f"f{j:02d}" for j in range(f.features.shape[1]))
        rows = [f"{t + 0.5:.1f}," + ",".join(f"{x:.5g}" for x in row) for t, row in enumerate(f.features)]
        (features_src / f"{f.name}.csv").write_text(header + "\n" + "\n".join(rows) + "\n")


def describe(films: list[Film]) -> str:
    """What the set is: films, hours, fear share, and the realised within-film cue correlations."""
    seconds = sum(len(f.valence) for f in films)
    fear = np.concatenate([f.fear for f in films])
    names = sorted(films[0].cue_correlation)
    cues = ", ".join(f"{n} {np.mean([f.cue_correlation[n] for f in films]):.2f}" for n in names)
    return (f"{len(films)} films, {seconds / 3600:.1f} h, {fear.mean():.1%} fear segments "
            f"({sum(f.fear.any() for f in films)} films with fear), {films[0].features.shape[1]} columns; "
            f"mean within-film cue correlation at 1 Hz: {cues}")
