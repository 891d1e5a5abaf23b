"""Development sets of realistic difficulty, built from real per-second emotion curves.

The sample dataset (``mediaeval sample``) computes its pictures and sounds from its labels, so
every recipe scores PCC 0.9+ there and no recipe can be told from another.  Real audio-visual
features relate to induced emotion weakly, late and film by film.  This module builds, from the
real LIRIS-ACCEDE per-second valence and arousal curves (``shared/data/liris-accede-continuous``):

* annotation files in the official layout: 10 s means every 5 s (valence/arousal), and fear
  segments (the rare class, about 15 % of segments) from a fear process of its own
  (:func:`fear_latent`): correlated with low valence and high arousal, but not a function of
  them, and the same in every set (a property of the films, as the labels are);
* one feature table per film (``<Film>.csv``: ``time,f00,f01,...``) with:

  - a few **cues** of arousal (within-film correlation with the curve about 0.10-0.25 at 1 Hz),
    fewer and weaker ones of valence (at most 0.15), and a few of fear (0.10-0.20, with its
    latent process), each shifted in time (:attr:`Difficulty.delay_seconds`) and passed through
    a non-linearity (:attr:`Difficulty.cue_kinds`);
  - **slow noise** in every column (scene content unrelated to emotion: an AR(1) process with a
    20-60 s time constant) beside white noise;
  - a **per-film offset and scale** of every column (each film has its own look and sound), and
    optionally a **level** (:attr:`Difficulty.level_weight`): the film's mean label shifts its cues;
  - **distractor** columns made of the same noise and nothing else, and optionally **gate**
    columns (on/off) that switch gated cues on;
  - column names that do not tell cues from distractors (``f00`` ...), in a seeded order.

:class:`Difficulty` holds the knobs; ``tools/families.py`` sets them per family of sets.
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
KINDS = ("monotone", "u", "gated")
FEAR_SEED = 2017             # fear is a property of the films: one draw, whatever the set's seed
FEAR_SHARE = 0.15            # of the segments labelled fearful
FEAR_FROM_VA = 0.6           # weight of (high arousal, low valence) in the fear process (unit variance)
FEAR_SECONDS = 30.0          # time constant of its own slow part
FEAR_FILM_STD = 0.7          # sd of its per-film level, beside the slow part (unit variance)


@dataclass(frozen=True)
class Difficulty:
    """How hard the set is and what it plants.  Correlations are the targets of each cue, within a
    film, at 1 Hz (per-second means of the rows)."""

    arousal_cues: tuple[float, ...] = (0.25, 0.2, 0.15, 0.12, 0.1)
    valence_cues: tuple[float, ...] = (0.15, 0.15, 0.12, 0.1)
    fear_cues: tuple[float, ...] = (0.2, 0.15, 0.1)
    distractors: int = 39
    delay_seconds: tuple[int, int] = (0, 3)   # cue at t shows the emotion at t - delay, delay drawn per
                                              # cue in [low, high]; negative: the cue leads the label
    slow_share: float = 0.7            # of the noise variance that is slow (AR(1))
    slow_seconds: tuple[float, float] = (20.0, 60.0)
    offset_std: float = 1.0            # per-film offset of every column, in noise units
    log_scale_std: float = 0.3         # per-film scale of every column (log-normal)
    level_weight: tuple[float, float] = (0.0, 0.0)   # per cue, drawn in [low, high]: noise units by which a
                                                     # film's mean label (in sd over films) shifts the cue
    rate_hz: int = 1                   # rows per second
    jitter: float = 0.0                # each row's time moved by up to this share of the row spacing
    cue_kinds: tuple[str, ...] = ("monotone",)   # cycled over the cues (KINDS)
    gates: int = 0                     # gate columns (on/off, shared by the gated cues in turn)
    gate_seconds: float = 20.0         # mean time a gate stays on, or off

    @property
    def targets(self) -> list[tuple[str, float]]:
        """``(target, correlation)`` of every cue, in source order."""
        return ([("arousal", r) for r in self.arousal_cues] + [("valence", r) for r in self.valence_cues]
                + [("fear", r) for r in self.fear_cues])

    @property
    def columns(self) -> int:
        return len(self.targets) + self.gates + self.distractors


@dataclass(frozen=True)
class Cue:
    """What one cue column plants (the same in every film of a set)."""

    column: str                # its name in the table (f00 ...)
    target: str                # arousal, valence or fear
    correlation: float         # the calibration target
    delay: int                 # seconds: the cue at t shows the target at t - delay
    kind: str                  # KINDS
    shape: int                 # index into _SHAPES (monotone and gated cues)
    level: float               # noise units per sd of the films' mean target
    gate: str | None = None    # the gate column of a gated cue


@dataclass
class Film:
    """One film of the set: per-second curves, per-segment labels, feature rows."""

    name: str
    valence: np.ndarray                     # (T,) per second
    arousal: np.ndarray                     # (T,)
    fear_latent: np.ndarray | None = None   # (T,) the fear process (fear_latent)
    times: np.ndarray | None = None         # (rows,) seconds
    features: np.ndarray | None = None      # (rows, columns) float32
    segments: np.ndarray | None = None      # (K, 2) valence, arousal: 10 s means every 5 s
    fear: np.ndarray | None = None          # (K,) 0/1
    cues: tuple[Cue, ...] = ()
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


def slow_noise(rng, n: int, tau: float) -> np.ndarray:
    """Unit-variance AR(1) of ``n`` values with time constant ``tau`` values."""
    from scipy.signal import lfilter

    phi = math.exp(-1.0 / tau)
    e = rng.standard_normal(n) * math.sqrt(1 - phi ** 2)
    first = rng.standard_normal()
    return np.r_[first, lfilter([1.0], [1.0, -phi], e[1:], zi=[phi * first])[0]][:n]


def fear_latent(films: list[Film]) -> dict[str, np.ndarray]:
    """Per film, the per-second fear process: ``FEAR_FROM_VA`` x (high arousal, low valence: the
    films' standardised curves) plus its own part (a slow AR(1) and a per-film level), unit
    variance over the films.  Seeded by ``FEAR_SEED`` and the film's index only: the same in every
    set, as the valence and arousal curves are."""
    va = {f.name: _standardised(films, "arousal")[f.name] - _standardised(films, "valence")[f.name] for f in films}
    va_std = np.concatenate(list(va.values())).std()
    out = {}
    for index, f in enumerate(films):
        rng = np.random.default_rng([FEAR_SEED, index])
        own = (slow_noise(rng, len(f.valence), FEAR_SECONDS) + FEAR_FILM_STD * rng.standard_normal()) \
            / math.sqrt(1 + FEAR_FILM_STD ** 2)
        out[f.name] = FEAR_FROM_VA * va[f.name] / va_std + math.sqrt(1 - FEAR_FROM_VA ** 2) * own
    return out


def _standardised(films: list[Film], target: str) -> dict[str, np.ndarray]:
    """Per film, its per-second ``target`` curve standardised over all films' seconds."""
    every = np.concatenate([getattr(f, target) for f in films])
    return {f.name: (getattr(f, target) - every.mean()) / every.std() for f in films}


def _film_levels(films: list[Film], target: str) -> dict[str, float]:
    """Per film, its mean ``target`` in standard deviations of the films' means around their mean."""
    means = np.array([getattr(f, target).mean() for f in films])
    return {f.name: float((m - means.mean()) / means.std()) for f, m in zip(films, means)}


_SHAPES = (np.tanh, lambda x: np.exp(0.7 * x), lambda x: x + 0.3 * x ** 3, lambda x: np.log1p(np.exp(1.5 * x)))


def _within_film_r(parts, amplitude: float) -> float:
    """Mean over films of corr(signal + amplitude * noise, reference)."""
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


def _layout(difficulty: Difficulty, seed: int) -> tuple[np.ndarray, list[Cue]]:
    """The column order (column ``j`` of the file holds source column ``order[j]``: the cues, the
    gates, then the distractors) and what each cue plants."""
    rng = np.random.default_rng([seed, 10_000])
    order = rng.permutation(difficulty.columns)
    name = {source: f"f{j:02d}" for j, source in enumerate(order)}
    n_cues, cues, gated = len(difficulty.targets), [], 0
    for c, (target, r) in enumerate(difficulty.targets):
        delay = int(rng.integers(difficulty.delay_seconds[0], difficulty.delay_seconds[1] + 1))
        shape, level = int(rng.integers(len(_SHAPES))), float(rng.uniform(*difficulty.level_weight))
        kind = difficulty.cue_kinds[c % len(difficulty.cue_kinds)]
        gate = name[n_cues + gated % difficulty.gates] if kind == "gated" else None
        gated += kind == "gated"
        cues.append(Cue(name[c], target, r, delay, kind, shape, level, gate))
    return order, cues


def _row_times(rng, seconds: int, difficulty: Difficulty) -> np.ndarray:
    """Row times: ``rate_hz`` rows a second at the middles of their intervals, each moved by up
    to ``jitter`` of the spacing (below half of it, so rows stay in order and in their second)."""
    spacing = 1.0 / difficulty.rate_hz
    middles = (np.arange(seconds * difficulty.rate_hz) + 0.5) * spacing
    return middles + rng.uniform(-difficulty.jitter, difficulty.jitter, len(middles)) * spacing


def _gate(rng, n: int, mean_rows: float) -> np.ndarray:
    """An on/off series of ``n`` rows: alternating runs of geometric length (mean ``mean_rows``)."""
    lengths = rng.geometric(1.0 / mean_rows, size=int(4 * n / mean_rows) + 8)
    while lengths.sum() < n:
        lengths = np.r_[lengths, rng.geometric(1.0 / mean_rows, size=len(lengths))]
    states = (np.arange(len(lengths)) + rng.integers(2)) % 2
    return np.repeat(states, lengths)[:n].astype(np.float64)


def _signal(cue: Cue, curve: np.ndarray, times: np.ndarray) -> np.ndarray:
    """The cue's shape of the standardised target curve (per second, at the seconds' middles; held
    at the ends) ``delay`` seconds earlier, at the row times (before any gate)."""
    z = np.interp(times - cue.delay, np.arange(len(curve)) + 0.5, curve)
    return z ** 2 if cue.kind == "u" else _SHAPES[cue.shape](z)


def _per_second(rows: np.ndarray, rate: int) -> np.ndarray:
    """Per-second means of rows at ``rate`` a second (whole seconds)."""
    return rows.reshape(-1, rate).mean(axis=1) if rate > 1 else rows


def _noise(films: list[Film], difficulty: Difficulty, seed: int) -> tuple[dict, dict, dict]:
    """Per film: row times, ``(rows, columns)`` noise in source order, and ``(2, columns)`` per-film
    offsets (noise units) and scales of the columns."""
    rate = difficulty.rate_hz
    times, noise, effects = {}, {}, {}
    for index, f in enumerate(films):
        rng = np.random.default_rng([seed, index])
        n = len(f.valence) * rate
        noise[f.name], effects[f.name] = np.empty((n, difficulty.columns)), np.empty((2, difficulty.columns))
        for j in range(difficulty.columns):
            slow = slow_noise(rng, n, rng.uniform(*difficulty.slow_seconds) * rate)
            noise[f.name][:, j] = (math.sqrt(difficulty.slow_share) * slow
                                   + math.sqrt(1 - difficulty.slow_share) * rng.standard_normal(n))
            effects[f.name][:, j] = (rng.normal(0.0, difficulty.offset_std),
                                     math.exp(rng.normal(0.0, difficulty.log_scale_std)))
        times[f.name] = _row_times(np.random.default_rng([seed, 40_000, index]), len(f.valence), difficulty)
    return times, noise, effects


def _gates(films: list[Film], difficulty: Difficulty, seed: int, order: np.ndarray, columns: dict) -> dict:
    """Per film, ``{gate column name: on/off rows}``, written into the gate columns of ``columns``."""
    first = len(difficulty.targets)
    names = [f"f{int(np.flatnonzero(order == first + g)[0]):02d}" for g in range(difficulty.gates)]
    out = {}
    for index, f in enumerate(films):
        out[f.name] = {}
        for g, name in enumerate(names):
            rows = len(columns[f.name])
            out[f.name][name] = _gate(np.random.default_rng([seed, 30_000 + g, index]), rows,
                                      difficulty.gate_seconds * difficulty.rate_hz)
            columns[f.name][:, first + g] = out[f.name][name]
    return out


def _plant(films, c: int, cue: Cue, rate: int, times, gates, columns, effects) -> None:
    """Column ``c`` of every film becomes the cue: ``scale x (signal + a x (noise + offset + level x
    film's mean target))`` (a gated cue's signal: its shape, centred over the films, times the
    gate), ``a`` calibrated so that the mean within-film correlation at 1 Hz with its reference
    (monotone cues: the target curve; U-shaped and gated ones: their own signal, whose linear
    correlation with the curve says little) is ``cue.correlation``."""
    curves = (_standardised(films, cue.target) if cue.target != "fear"
              else {f.name: f.fear_latent for f in films})
    level = _film_levels(films, "fear_latent" if cue.target == "fear" else cue.target)
    signal = {f.name: _signal(cue, curves[f.name], times[f.name]) for f in films}
    if cue.kind == "gated":   # centred over the films, so that switching the gate moves no level
        centre = np.concatenate(list(signal.values())).mean()
        signal = {f.name: gates[f.name][cue.gate] * (signal[f.name] - centre) for f in films}

    def reference(f):
        if cue.kind != "monotone":
            return _per_second(signal[f.name], rate)
        return f.fear_latent if cue.target == "fear" else getattr(f, cue.target)

    amplitude = _calibrate([(_per_second(signal[f.name], rate), _per_second(columns[f.name][:, c], rate),
                             reference(f)) for f in films], cue.correlation)
    for f in films:
        offset, scale = effects[f.name][:, c]
        columns[f.name][:, c] = scale * (signal[f.name] + amplitude * (columns[f.name][:, c] + offset
                                                                       + cue.level * level[f.name]))
        f.cue_correlation[cue.column] = float(np.corrcoef(_per_second(columns[f.name][:, c], rate), reference(f))[0, 1])


def build(curves: dict, difficulty: Difficulty = Difficulty(), seed: int = 0) -> list[Film]:
    """The films of the set, with labels and features (see the module docstring)."""
    films = [Film(name, *map(np.asarray, curves[name])) for name in sorted(curves)]
    for f, latent in zip(films, fear_latent(films).values()):
        f.fear_latent = latent
    order, cues = _layout(difficulty, seed)
    times, columns, effects = _noise(films, difficulty, seed)
    gates = _gates(films, difficulty, seed, order, columns)
    for c, cue in enumerate(cues):
        _plant(films, c, cue, difficulty.rate_hz, times, gates, columns, effects)
    first = len(cues) + difficulty.gates          # the distractors: noise, offset, scale
    fear_at = np.quantile(np.concatenate([segment_means(f.fear_latent) for f in films]), 1 - FEAR_SHARE)
    for f in films:
        offset, scale = effects[f.name][:, first:]
        columns[f.name][:, first:] = scale * (columns[f.name][:, first:] + offset)
        f.times, f.features, f.cues = times[f.name], columns[f.name][:, order].astype(np.float32), tuple(cues)
        f.segments = np.column_stack([segment_means(f.valence), segment_means(f.arousal)])
        f.fear = (segment_means(f.fear_latent) > fear_at).astype(int)
    return films


def write(films: list[Film], dataset_root, features_src) -> None:
    """Annotation files in the official layout under ``dataset_root``; ``<Film>.csv`` feature
    tables (one row per row time; 5 significant digits) under ``features_src``."""
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
        regular = np.allclose(f.times, np.arange(len(f.times)) + 0.5)
        row = ("%.1f," if regular else "%.3f,") + ",".join(["%.5g"] * f.features.shape[1])
        rows = [row % (t, *values) for t, values in zip(f.times.tolist(), f.features.tolist())]
        (features_src / f"{f.name}.csv").write_text(header + "\n" + "\n".join(rows) + "\n")


def describe(films: list[Film]) -> str:
    """What the set is: films, hours, fear share, rows, and the realised within-film cue correlations."""
    seconds = sum(len(f.valence) for f in films)
    fear = np.concatenate([f.fear for f in films])
    cues = ", ".join(f"{c.target} {c.kind} {c.delay:+d} s {np.mean([f.cue_correlation[c.column] for f in films]):.2f}"
                     for c in films[0].cues)
    rate = sum(len(f.times) for f in films) / seconds
    return (f"{len(films)} films, {seconds / 3600:.1f} h, {fear.mean():.1%} fear segments "
            f"({sum(f.fear.any() for f in films)} films with fear), {films[0].features.shape[1]} columns at "
            f"{rate:g} rows a second; mean within-film cue correlation at 1 Hz (target, kind, delay): {cues}")
