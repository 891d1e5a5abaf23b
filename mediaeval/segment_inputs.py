"""What a per-segment model sees of a film: per 10 s segment, the mean and standard deviation of
the film's steps inside it, beside the means of neighbouring segments, after the film's steps
were delayed and standardised as an :class:`InputSpec` says.

* **Standardisation** (``standardise``): ``"film"``, each column z-scored within the film (every
  film has its own look and sound; it uses no label, so it is the same for a test film);
  ``"global"``, the columns as they are (the model's own scaler then standardises them by the
  training films' statistics, so a film's level stays in them); ``"both"``, the per-film
  z-scores and, as extra inputs, each column's mean over the film (standardised over the
  training films by the same scaler): a film's level beside its within-film swings.
* **Delay** (``delay_seconds``): raters report an emotion seconds after the content that caused
  it, so the content at ``t - d`` is what predicts the label at ``t``.  The steps are shifted
  by ``round(d / (16/30))`` steps (a delay falls on the 0.533 s grid: 2 s is 4 steps, 2.13 s;
  8 s is 15 steps, 8.0 s), the film's start padded with its first step, before anything else.
* **Spread** (``spread``): the standard deviation of the segment's steps beside their mean.
* **Context** (``past``, ``future``): the means of that many segments before and after (nearest
  first, interleaved as before, after while both last; the film's edges repeat its first or
  last segment).  More past than future follows the same lag.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .windows import STEP_SECONDS, overlap_seconds

STANDARDISATIONS = ("film", "global", "both")
CLIP = 10.0


def standardise_within_film(x: np.ndarray) -> np.ndarray:
    """Each column of one film's steps z-scored by the film's own mean and std (float64).  A
    column (nearly) constant in the film carries nothing there: 0, not its rounding noise blown
    up to unit variance.

    >>> standardise_within_film(np.array([[1.0, 5.0], [3.0, 5.0]])).tolist()
    [[-1.0, 0.0], [1.0, 0.0]]
    """
    x = np.asarray(x, dtype=np.float64)
    if not len(x):
        return x
    mean, std = x.mean(axis=0), x.std(axis=0)
    varies = std > 1e-5 * np.maximum(1.0, np.abs(mean))
    return np.where(varies, (x - mean) / np.where(varies, std, 1.0), 0.0)


def delay_steps(seconds: float) -> int:
    """The steps a delay of ``seconds`` shifts the features by: the nearest whole number of steps.

    >>> [delay_steps(d) for d in (0, 2, 4, 6, 8)]
    [0, 4, 8, 11, 15]
    """
    return int(round(float(seconds) / STEP_SECONDS))


def delayed(x: np.ndarray, steps: int) -> np.ndarray:
    """``x`` (steps, d) shifted ``steps`` later: row ``i`` is row ``i - steps``, the first row
    repeated before the film's start.

    >>> delayed(np.arange(4.0)[:, None], 2).ravel().tolist()
    [0.0, 0.0, 0.0, 1.0]
    """
    x = np.asarray(x)
    if steps <= 0 or not len(x):
        return x
    index = np.maximum(np.arange(len(x)) - steps, 0)
    return x[index]


@dataclass(frozen=True)
class InputSpec:
    """How one film's steps become a model's per-segment inputs (see the module docstring)."""

    standardise: str = "film"        # "film", "global" or "both"
    delay_seconds: float = 0.0
    past: int = 1                    # neighbouring segments before
    future: int = 1                  # and after
    spread: bool = True              # the standard deviation of the segment's steps beside their mean

    @property
    def delay_steps(self) -> int:
        return delay_steps(self.delay_seconds)

    def as_dict(self) -> dict:
        """What settings.json records of it."""
        return {"standardise": self.standardise, "delay_seconds": float(self.delay_seconds),
                "delay_steps": self.delay_steps, "context_past": self.past, "context_future": self.future,
                "spread": self.spread}


def spec_inputs(x_steps: np.ndarray, n_segments: int, spec: InputSpec) -> np.ndarray:
    """Per-segment inputs of one film, shape (n_segments, d (1 [+ 1 with ``spread``] + past +
    future [+ 1 for "both"])) for d step features: mean (and with ``spread`` standard
    deviation) of the segment's steps (overlap-weighted), the means of the neighbouring segments
    (before 1, after 1, before 2, ...), then with ``"both"`` the film's mean of each (delayed, not
    standardised) column."""
    x = delayed(np.asarray(x_steps, dtype=np.float64), spec.delay_steps)
    own = x if spec.standardise == "global" else standardise_within_film(x)
    mean, square = (_segment_means(v, n_segments) for v in (own, own ** 2))
    std = np.sqrt(np.maximum(square - mean ** 2, 0.0))
    parts, last = ([mean, std] if spread_of(spec) else [mean]), max(n_segments - 1, 0)
    for offset in range(1, max(spec.past, spec.future) + 1):
        if offset <= spec.past:
            parts.append(mean[np.clip(np.arange(n_segments) - offset, 0, last)])
        if offset <= spec.future:
            parts.append(mean[np.clip(np.arange(n_segments) + offset, 0, last)])
    if spec.standardise == "both":
        level = x.mean(axis=0) if len(x) else np.zeros(x.shape[1])
        parts.append(np.tile(level, (n_segments, 1)))
    width = sum(p.shape[1] for p in parts)
    return np.concatenate(parts, axis=1) if n_segments else np.zeros((0, width))


def spread_of(spec: InputSpec) -> bool:
    """Whether ``spec`` has standard deviation columns (a spec pickled before ``spread`` had them)."""
    return getattr(spec, "spread", True)


@functools.lru_cache(maxsize=512)
def _overlap(n_segments: int, n_steps: int):
    """The overlap of segments and steps and its row sums (the same for every film of the sizes)."""
    weights = overlap_seconds(n_segments, n_steps)
    return weights, np.asarray(weights.sum(axis=1)).ravel()


def _segment_means(values: np.ndarray, n_segments: int) -> np.ndarray:
    """:func:`mediaeval.windows.steps_to_n_segments` of (steps, d) values, its overlap computed
    once per film size: segments past the last step take the last covered segment's value."""
    weights, totals = _overlap(n_segments, len(values))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (weights @ values) / totals[:, None]
    covered = np.flatnonzero(totals > 0)
    if covered.size and covered[-1] < n_segments - 1:
        out[covered[-1] + 1:] = out[covered[-1]]
    return out


def segment_inputs(x_steps: np.ndarray, n_segments: int, context: int = 0,
                   per_film_standardise: bool = True) -> np.ndarray:
    """Per-segment inputs of one film with ``context`` segments on each side, standardised within
    the film or not, undelayed (the recipe of before the choices): shape (n_segments, 2 d (1 +
    context)).

    >>> x = np.arange(37, dtype=float)[:, None]            # a 20 s film: 37 steps, 3 segments
    >>> segment_inputs(x, 3, context=1, per_film_standardise=False).shape
    (3, 4)
    """
    spec = InputSpec("film" if per_film_standardise else "global", 0.0, context, context)
    return spec_inputs(x_steps, n_segments, spec)


def clip_inputs(x: np.ndarray) -> np.ndarray:
    """Standardised inputs clipped to +-:data:`CLIP`: a column nearly constant in the training
    films (its scale set by rounding noise) must not turn a test film's ordinary values into
    thousands of standard deviations, and predictions into nonsense."""
    return np.clip(x, -CLIP, CLIP)
