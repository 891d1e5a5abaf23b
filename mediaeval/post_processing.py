"""What a model's segment curves go through before they become run rows, for every family.

Per output (valence and arousal, or the fear confidence): Gaussian smoothing of each film's
curve (``sigma``, in 5 s segments), a linear calibration (``scale``, ``offset``: a least-squares
line, or a shrinkage towards the training mean, :func:`choose_shrinkage`), then the clip to the
output's range; for fear, the label threshold.  Everything is chosen on predictions of
films the model did not learn from (held-out training films, or inner out-of-fold
predictions), by the run's criterion (:meth:`PostProcessing.choose`).
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import write_text_atomic
from .errors import DataError
from .metrics import best_f1_threshold
from .task import Subtask
from .windows import steps_to_n_segments

MIN_SCALE = 0.05   # the least calibration slope: no film's calibrated prediction becomes constant


def smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing of one film's curve (sigma in segments; 0 leaves it as it is)."""
    from scipy.ndimage import gaussian_filter1d

    if sigma <= 0 or len(values) < 2:
        return np.asarray(values, dtype=np.float64)
    return gaussian_filter1d(np.asarray(values, dtype=np.float64), sigma, mode="nearest")


def choose_output(truth: dict, predicted: dict, smoothing, calibrate: bool, task: Subtask,
                  criterion: str | None = None) -> tuple[float, float, float]:
    """``(sigma, scale, offset)`` for one output, chosen on held-out predictions ``predicted``
    (film -> curve of its segments) against ``truth``: the Gaussian smoothing width (in
    segments, among ``smoothing``) whose smoothed curves have the best figure by ``criterion``
    (``task.column_figure``; by default the mean per-film MSE, or MAP for fear; the first on a
    tie), then with ``calibrate`` the least-squares line ``scale p + offset`` of those curves
    (whatever the criterion: least squares is what a level needs, and PCC cannot see a level;
    ``scale`` at least :data:`MIN_SCALE`, so that no film's prediction becomes constant and its
    PCC undefined).  Apply as ``scale * smooth(p, sigma) + offset``."""
    best = None
    for sigma in smoothing:
        smoothed = {n: smooth(p, sigma) for n, p in predicted.items()}
        score = task.column_figure(truth, smoothed, criterion)
        score = -math.inf if math.isnan(score) else score
        if best is None or score > best[0]:
            best = (score, float(sigma), smoothed)
    if best is None:
        return 0.0, 1.0, 0.0
    _, sigma, smoothed = best
    scale, offset = _calibration(truth, smoothed) if calibrate else (1.0, 0.0)
    return sigma, scale, offset


def _calibration(truth: dict, predicted: dict) -> tuple[float, float]:
    """The least-squares line from ``predicted`` to ``truth`` over all their segments, its
    slope at least :data:`MIN_SCALE`."""
    p = np.concatenate([predicted[n] for n in truth])
    y = np.concatenate([truth[n] for n in truth])
    variance = float(np.var(p))
    scale = float(np.cov(p, y, bias=True)[0, 1] / variance) if variance > 1e-12 else 1.0
    scale = max(scale, MIN_SCALE)
    return scale, float(y.mean() - scale * p.mean())


def choose_shrinkage(truth: dict, predicted: dict, means: dict, grid, output_range=(-1.0, 1.0)) -> float:
    """The shrinkage ``s`` among ``grid`` whose predictions ``m + s (p - m)`` (``m``: ``means[film]``,
    the mean label of the films the model that predicted the film learnt from) have the least
    official MSE (the mean per-film MSE, clipped to ``output_range``; the first on a tie).  With
    ``s`` in [0.05, 1], no film's prediction becomes constant (its PCC stays defined), and at
    the smallest the predictions are all but the constant's: the choice cannot be much worse
    than the constant on the films it is made on, whatever the criterion.

    >>> choose_shrinkage({"A": np.array([0.0, 1.0])}, {"A": np.array([-2.0, 3.0])}, {"A": 0.5}, (0.1, 0.2, 1.0))
    0.2
    """
    from .metrics import film_mean_mse

    best = None
    for s in grid:
        shrunk = {n: np.clip(means[n] + s * (np.asarray(p, np.float64) - means[n]), *output_range)
                  for n, p in predicted.items()}
        figure = film_mean_mse(truth, shrunk)
        if best is None or figure < best[0]:
            best = (figure, float(s))
    return 1.0 if best is None else best[1]


@dataclass(frozen=True)
class PostProcessing:
    """Smoothing, calibration and clip of each output's segment curves, and the fear label
    threshold; stored with an LSTM as ``post_processing.json``, inside a per-segment model's pickle."""

    sigma: tuple[float, ...]
    scale: tuple[float, ...]
    offset: tuple[float, ...]
    threshold: float = 0.5

    FILE = "post_processing.json"

    @classmethod
    def identity(cls, n_outputs: int) -> PostProcessing:
        return cls((0.0,) * n_outputs, (1.0,) * n_outputs, (0.0,) * n_outputs)

    @classmethod
    def choose(cls, truth: dict, raw: dict, smoothing, calibrate: bool, task: Subtask, criterion: str | None = None,
               level: np.ndarray | None = None) -> PostProcessing:
        """Chosen on held-out films from ``raw`` (film -> raw segment curves, (K, outputs))
        against ``truth`` (film -> targets, (K, outputs)): each output's smoothing and, with
        ``calibrate`` (never for fear's confidences), calibration (:func:`choose_output`); for
        fear, the threshold that maximises F1 of the post-processed curves.

        ``level`` (per output): the mean label of every film the model was given, the constant
        predictor's value.  With it, calibration keeps the least-squares ``scale`` of the
        held-out films but sets ``offset`` so that their calibrated predictions average
        ``level``, rather than their own truth's mean: a film's mean valence is most of its
        variance, and the mean of the 3 or so held-out films is a noisy level (docs/decisions.md)."""
        calibrate = calibrate and not task.binary
        chosen = [choose_output({n: t[:, j] for n, t in truth.items()}, {n: r[:, j] for n, r in raw.items()},
                                smoothing, calibrate, task, criterion)
                  for j in range(task.outputs)]
        post = cls(*(tuple(c[i] for c in chosen) for i in range(3)))
        if level is not None and calibrate:
            post = dataclasses.replace(post, offset=tuple(
                float(level[j] - post.scale[j] * np.concatenate([smooth(r[:, j], post.sigma[j])
                                                                 for r in raw.values()]).mean())
                for j in range(task.outputs)))
        if task.binary:
            curves = {n: post.apply(raw[n], task)[:, 0] for n in truth}   # in truth's order: paired by position
            labels = {n: t[:, 0] for n, t in truth.items()}
            post = dataclasses.replace(post, threshold=best_f1_threshold(labels, curves))
        return post

    @classmethod
    def median(cls, posts: list[PostProcessing]) -> PostProcessing:
        """The element-wise median of several models' choices (the final model's, from its folds)."""
        return cls(*(tuple(float(v) for v in np.median([getattr(p, k) for p in posts], axis=0))
                     for k in ("sigma", "scale", "offset")), threshold=float(np.median([p.threshold for p in posts])))

    def shrunk(self, output: int, scale: float, mean: float) -> PostProcessing:
        """The calibration of ``output`` made a shrinkage by ``scale`` towards ``mean``:
        ``mean + scale (p - mean)``."""
        return dataclasses.replace(self, scale=_put(self.scale, output, float(scale)),
                                   offset=_put(self.offset, output, float((1.0 - scale) * mean)))

    def capped(self, output: int, fitted: np.ndarray, y: np.ndarray) -> PostProcessing:
        """The calibration of ``output`` capped so that the calibrated ``fitted`` curves (a
        model's smoothed predictions of its training films, concatenated) spread no wider than
        their truth ``y``: a model fitted on more films than those its calibration was chosen on
        may spread its predictions wider than they did, and a scale fitted on timid predictions
        would blow them up to the clip."""
        spread = float(np.std(fitted))
        if not (spread > 1e-12 and self.scale[output] * spread > float(np.std(y))):
            return self
        scale = float(np.std(y)) / spread
        offset = float(y.mean() - scale * fitted.mean())
        return dataclasses.replace(self, scale=_put(self.scale, output, scale),
                                   offset=_put(self.offset, output, offset))

    def curves_of(self, segments: np.ndarray) -> np.ndarray:
        """Raw segment curves (K, outputs) smoothed and calibrated (not clipped)."""
        if len(segments) == 0:
            return np.zeros_like(segments, dtype=np.float64)
        return np.column_stack([self.scale[j] * smooth(segments[:, j], self.sigma[j]) + self.offset[j]
                                for j in range(segments.shape[1])])

    def apply(self, segments: np.ndarray, task: Subtask) -> np.ndarray:
        """Raw segment curves (K, outputs) post-processed: smoothed, calibrated, clipped to the
        outputs' range."""
        return np.clip(self.curves_of(segments), *task.output_range)

    def curves(self, step_outputs: np.ndarray, n_segments: int, task: Subtask) -> np.ndarray:
        """A film's post-processed segment curves from a model's per-step outputs."""
        if n_segments == 0:   # a film shorter than a segment (or than a step): no rows
            return np.zeros((0, len(self.sigma)))
        return self.apply(steps_to_n_segments(step_outputs.astype(np.float64), n_segments), task)

    def save(self, folder: Path) -> None:
        write_text_atomic(folder / self.FILE, json.dumps(dataclasses.asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path) -> PostProcessing:
        path = Path(folder) / cls.FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(tuple(data["sigma"]), tuple(data["scale"]), tuple(data["offset"]), float(data["threshold"]))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise DataError(path, f"expected the post-processing written by mediaeval train ({error}); retrain "
                                  f"with mediaeval train --overwrite") from error


def _put(values: tuple, index: int, value: float) -> tuple:
    return values[:index] + (value,) + values[index + 1:]
