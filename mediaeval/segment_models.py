"""Per-segment models: the recipes that did well in 2016-2018 (ridge, SVR, gradient boosting per
10 s segment), with smoothing, calibration and the fear threshold chosen by nested cross-validation.

Inputs of segment ``k`` of a film: the overlap-weighted mean and standard deviation of the
film's steps inside it (``2 d`` values), optionally beside the means of ``context`` neighbouring
segments on each side (edges repeat the first or last segment).  Each column is first
standardised *within the film* (per-film z-score: every film has its own look and sound; it
uses no label, so it is the same for a test film), then by the training films' statistics.

Everything chosen from data is chosen on the training films only, by an inner cross-validation
over those films (:func:`inner_folds`):

1. the estimator's hyper-parameters (a small grid per family) by the run's criterion on the
   inner out-of-fold predictions (:meth:`mediaeval.task.Subtask.column_figure`; by default the
   official mean per-film MSE for valence and arousal, each on its own; MAP for fear);
2. on the winner's inner out-of-fold predictions: the Gaussian smoothing width of each film's
   predicted curve (in segments, 0 = none; by the criterion too), then a linear calibration ``a p + b`` (least
   squares, ``a`` kept >= ``MIN_SCALE`` so that no film's prediction becomes constant, which
   would leave its PCC and so the official mean undefined); for fear, the decision threshold
   that maximises F1 of the inner out-of-fold labels;
3. the estimator is refitted on all training films with the chosen hyper-parameters.

So the out-of-fold figures of the outer folds stay honest: no choice ever sees the films it
is scored on.  :class:`SegmentModel` holds the fitted pieces and predicts run rows.
"""
from __future__ import annotations

import itertools
import math
import pickle
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .metrics import best_f1_threshold
from .task import Subtask
from .task import get as get_subtask

FAMILIES = ("ridge", "svr", "hgb")
MIN_SCALE = 0.05


@dataclass(frozen=True)
class SegmentSettings:
    """The ``[model]`` table of a per-segment run (``type`` one of :data:`FAMILIES`)."""

    type: str = "ridge"
    context: int = 1                       # neighbouring segments on each side
    per_film_standardise: bool = True
    smoothing: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0, 8.0)   # candidate sigmas, in 5 s segments
    calibrate: bool = True
    inner_folds: int = 5
    alphas: tuple[float, ...] = (10.0, 100.0, 1000.0, 10000.0, 100000.0)  # ridge
    svr_c: tuple[float, ...] = (0.1, 1.0)                               # svr (RBF, gamma "scale")
    svr_epsilon: float = 0.1
    hgb_learning_rate: tuple[float, ...] = (0.05,)                      # hgb
    hgb_max_leaf_nodes: tuple[int, ...] = (7, 15)
    hgb_max_iter: int = 200
    hgb_l2: float = 1.0

    def as_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def describe(self) -> str:
        """One line for the submission's README."""
        names = {"ridge": "ridge regression (logistic for fear)", "svr": "RBF support vector regression",
                 "hgb": "histogram gradient boosting"}
        return (f"{names.get(self.type, self.type)} per 10 s segment on the mean and std of its steps"
                + (f" and the means of {self.context} neighbouring segment(s) each side" if self.context else "")
                + "; hyper-parameters, smoothing" + (", calibration" if self.calibrate else "")
                + " and fear threshold chosen by inner cross-validation over the training films")

    def check(self) -> list[str]:
        """What is out of range, as ``key: expected ...`` texts (empty when all is well)."""
        problems = []
        if self.type not in FAMILIES:
            problems.append(f"type: expected one of {', '.join(FAMILIES)}, got {self.type!r}")
        if not 0 <= self.context <= 20:
            problems.append(f"context: expected 0 to 20 segments, got {self.context}")
        if not self.smoothing or any(not (0 <= s <= 50) for s in self.smoothing):
            problems.append("smoothing: expected a non-empty list of widths from 0 to 50 segments")
        if self.inner_folds < 2:
            problems.append(f"inner_folds: expected at least 2, got {self.inner_folds}")
        for key in ("alphas", "svr_c", "hgb_learning_rate"):
            values = getattr(self, key)
            if not values or any(not (isinstance(v, (int, float)) and v > 0) for v in values):
                problems.append(f"{key}: expected a non-empty list of numbers > 0")
        if not self.hgb_max_leaf_nodes or any(v < 2 for v in self.hgb_max_leaf_nodes):
            problems.append("hgb_max_leaf_nodes: expected a non-empty list of integers >= 2")
        if self.svr_epsilon < 0:
            problems.append(f"svr_epsilon: expected at least 0, got {self.svr_epsilon}")
        if self.hgb_l2 < 0:
            problems.append(f"hgb_l2: expected at least 0, got {self.hgb_l2}")
        if self.hgb_max_iter < 1:
            problems.append(f"hgb_max_iter: expected at least 1, got {self.hgb_max_iter}")
        return problems


# --------------------------------------------------------------------------- inputs

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


def segment_inputs(x_steps: np.ndarray, n_segments: int, context: int = 0,
                   per_film_standardise: bool = True) -> np.ndarray:
    """Per-segment inputs of one film: shape (n_segments, 2 d (1 + context)) for d step features.

    Columns: mean and standard deviation of the segment's steps (overlap-weighted), then the
    means of the ``context`` segments before and after (nearest first; edges repeated).

    >>> x = np.arange(37, dtype=float)[:, None]            # a 20 s film: 37 steps, 3 segments
    >>> segment_inputs(x, 3, context=1, per_film_standardise=False).shape
    (3, 4)
    """
    from .windows import steps_to_n_segments

    x = standardise_within_film(x_steps) if per_film_standardise else np.asarray(x_steps, dtype=np.float64)
    mean = steps_to_n_segments(x, n_segments)
    square = steps_to_n_segments(x ** 2, n_segments)
    std = np.sqrt(np.maximum(square - mean ** 2, 0.0))
    parts = [mean, std]
    for offset in range(1, context + 1):
        before = np.clip(np.arange(n_segments) - offset, 0, max(n_segments - 1, 0))
        after = np.clip(np.arange(n_segments) + offset, 0, max(n_segments - 1, 0))
        parts += [mean[before], mean[after]]
    return np.concatenate(parts, axis=1) if n_segments else np.zeros((0, mean.shape[1] * len(parts)))


def inner_folds(names: list[str], n_folds: int, seed: int) -> list[list[str]]:
    """Inner folds over the training films (as :func:`mediaeval.folds.make_folds`, other seed)."""
    from .folds import make_folds

    return make_folds(names, n_folds, seed + 104_729)


# --------------------------------------------------------------------------- estimators

def _candidates(settings: SegmentSettings, classify: bool) -> list[dict]:
    if settings.type == "ridge":
        return [{"alpha": a} for a in settings.alphas]
    if settings.type == "svr":
        return [{"C": c} for c in settings.svr_c]
    return [{"learning_rate": lr, "max_leaf_nodes": n}
            for lr, n in itertools.product(settings.hgb_learning_rate, settings.hgb_max_leaf_nodes)]


def _estimator(settings: SegmentSettings, params: dict, classify: bool, seed: int):
    """A scikit-learn pipeline (standardisation by the training films, then the estimator)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler
    from sklearn.svm import SVR

    if settings.type == "ridge":
        model = (LogisticRegression(C=1.0 / params["alpha"], class_weight="balanced", max_iter=2000)
                 if classify else Ridge(alpha=params["alpha"]))
    elif settings.type == "svr":   # fear: regression on 0/1, clipped to [0, 1] as the confidence
        model = SVR(C=params["C"], gamma="scale", epsilon=settings.svr_epsilon)
    else:
        common = dict(learning_rate=params["learning_rate"], max_leaf_nodes=params["max_leaf_nodes"],
                      max_iter=settings.hgb_max_iter, l2_regularization=settings.hgb_l2, random_state=seed,
                      early_stopping=False)
        model = (HistGradientBoostingClassifier(class_weight="balanced", **common) if classify
                 else HistGradientBoostingRegressor(**common))
    return make_pipeline(StandardScaler(), FunctionTransformer(clip_inputs), model)


def _fit(settings: SegmentSettings, params: dict, classify: bool, seed: int, x: np.ndarray, y: np.ndarray):
    """The estimator fitted on (x, y); for fear without both classes in y, the prior (the share of
    fear segments) as every confidence, since no classifier can be fitted."""
    if classify and len(np.unique(y)) < 2:
        from sklearn.dummy import DummyClassifier

        return DummyClassifier(strategy="prior").fit(x, y)
    return _estimator(settings, params, classify, seed).fit(x, y)


CLIP = 10.0


def clip_inputs(x: np.ndarray) -> np.ndarray:
    """Standardised inputs clipped to +-:data:`CLIP`: a column nearly constant in the training
    films (its scale set by rounding noise) must not turn a test film's ordinary values into
    thousands of standard deviations, and predictions into nonsense."""
    return np.clip(x, -CLIP, CLIP)


def _raw_predict(estimator, x: np.ndarray, classify: bool) -> np.ndarray:
    if len(x) == 0:
        return np.zeros(0)
    if classify and hasattr(estimator, "predict_proba"):
        classes = list(estimator.classes_)        # a prior fitted on one class has one column
        return estimator.predict_proba(x)[:, classes.index(1)] if 1 in classes else np.zeros(len(x))
    out = estimator.predict(x)
    return np.clip(out, 0.0, 1.0) if classify else out


def smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing of one film's curve (sigma in segments; 0 leaves it as it is)."""
    from scipy.ndimage import gaussian_filter1d

    if sigma <= 0 or len(values) < 2:
        return np.asarray(values, dtype=np.float64)
    return gaussian_filter1d(np.asarray(values, dtype=np.float64), sigma, mode="nearest")


# --------------------------------------------------------------------------- the model

@dataclass
class Target:
    """One output: valence, arousal, or the fear confidence."""

    params: dict
    sigma: float = 0.0
    scale: float = 1.0
    offset: float = 0.0
    estimator: object = None
    inner_score: float = float("nan")


@dataclass
class SegmentModel:
    """Fitted per-segment model of one subtask; ``predict`` gives run rows."""

    subtask: str
    settings: SegmentSettings
    targets: list[Target] = field(default_factory=list)
    threshold: float = 0.5

    @property
    def classify(self) -> bool:
        """A binary subtask (fear): classifiers, confidences, a threshold."""
        return get_subtask(self.subtask).binary

    def predict_curves(self, x_steps: np.ndarray, n_segments: int) -> np.ndarray:
        """(n_segments, outputs): smoothed, calibrated predictions (fear: confidences in [0, 1])."""
        x = segment_inputs(x_steps, n_segments, self.settings.context, self.settings.per_film_standardise)
        columns = []
        for target in self.targets:
            raw = smooth(_raw_predict(target.estimator, x, self.classify), target.sigma)
            columns.append(target.scale * raw + target.offset)
        out = np.column_stack(columns) if columns else np.zeros((n_segments, 0))
        return np.clip(out, *get_subtask(self.subtask).output_range)

    def predict_rows(self, x_steps: np.ndarray, n_segments: int) -> np.ndarray:
        """Run-file rows: (K, 2) valence, arousal; or (K, 2) label, confidence."""
        return get_subtask(self.subtask).rows(self.predict_curves(x_steps, n_segments), self.threshold)

    def choices(self) -> dict:
        """What was chosen by the inner cross-validation (for settings.json and the README)."""
        return {"targets": [{"params": t.params, "smoothing_segments": t.sigma, "scale": t.scale,
                             "offset": t.offset, "inner_score": t.inner_score} for t in self.targets],
                "threshold": self.threshold}

    def save(self, path) -> None:
        """A pickle of the fitted model, written atomically (the model folder is the tool's own)."""
        from .atomic import atomic_output

        with atomic_output(Path(path)) as tmp:
            with open(tmp, "wb") as handle:
                pickle.dump(self, handle, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def load(path) -> SegmentModel:
        from .errors import DataError

        path = Path(path)
        try:
            with open(path, "rb") as handle:
                model = pickle.load(handle)
        except Exception as error:  # a damaged pickle raises almost anything (ValueError, KeyError, ...)
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            raise DataError(path, f"expected a per-segment model written by mediaeval train ({type(error).__name__}: "
                                  f"{reason}); retrain with mediaeval train --overwrite") from error
        if not isinstance(model, SegmentModel):
            raise DataError(path, "expected a per-segment model written by mediaeval train")
        return model


def _labels(film, task: Subtask) -> np.ndarray:
    return task.targets(np.asarray(film.labels, dtype=np.float64))


def fit_segment_model(films, subtask: str, settings: SegmentSettings, seed: int = 0,
                      criterion: str | None = None) -> SegmentModel:
    """Fit on ``films`` (objects with ``name``, ``x`` steps, ``n_segments``, ``labels``), choosing
    everything by inner cross-validation over these films only, by ``criterion`` (``None``: the
    subtask's; see the module docstring)."""
    task = get_subtask(subtask)
    classify = task.binary
    films = [f for f in films if f.n_segments > 0]   # a film shorter than one segment teaches nothing
    inputs = {f.name: segment_inputs(f.x, f.n_segments, settings.context, settings.per_film_standardise)
              for f in films}
    labels = {f.name: _labels(f, task) for f in films}
    names = [f.name for f in films]
    folds = inner_folds(names, settings.inner_folds, seed) if len(names) >= 2 else []
    model = SegmentModel(subtask, settings, threshold=0.5)
    n_outputs = labels[names[0]].shape[1]
    for j in range(n_outputs):
        truth = {n: labels[n][:, j] for n in names}
        if not folds:   # one training film: nothing to choose on; the first candidate, as it is
            params = _candidates(settings, classify)[0]
            target = Target(params=params, estimator=_fit(settings, params, classify, seed,
                                                          inputs[names[0]], truth[names[0]]))
            model.targets.append(target)
            continue
        best = None
        for params in _candidates(settings, classify):
            oof = _inner_predictions(inputs, truth, folds, settings, params, classify, seed)
            score = task.column_figure(truth, oof, criterion)
            score = -math.inf if math.isnan(score) else score
            if best is None or score > best[0]:
                best = (score, params, oof)
        score, params, oof = best
        target = Target(params=params, inner_score=score)
        _choose_post_processing(target, truth, oof, settings, task, criterion)
        target.estimator = _fit(settings, params, classify, seed, np.concatenate([inputs[n] for n in names]),
                                np.concatenate([truth[n] for n in names]))
        if not classify and settings.calibrate:
            _cap_scale(target, inputs, truth)
        model.targets.append(target)
        if classify:
            calibrated = {n: np.clip(target.scale * smooth(oof[n], target.sigma) + target.offset, 0, 1) for n in names}
            model.threshold = best_f1_threshold(truth, calibrated)
    return model


def _cap_scale(target: Target, inputs: dict, truth: dict) -> None:
    """The final estimator, fitted on more films than the inner ones, may spread its predictions
    wider than they did: cap the calibration scale so that its calibrated predictions of the
    training films spread no wider than their truth (else a scale fitted on timid inner
    predictions would blow the final ones up to the [-1, 1] clip)."""
    fitted = np.concatenate([smooth(_raw_predict(target.estimator, inputs[n], False), target.sigma) for n in truth])
    y = np.concatenate(list(truth.values()))
    spread = float(np.std(fitted))
    if spread > 1e-12 and target.scale * spread > float(np.std(y)):
        target.scale = float(np.std(y)) / spread
        target.offset = float(y.mean() - target.scale * fitted.mean())


def _inner_predictions(inputs, truth, folds, settings, params, classify, seed) -> dict:
    """Inner out-of-fold raw predictions of every training film for one candidate."""
    oof = {}
    for held in folds:
        train = [n for n in truth if n not in held]
        estimator = _fit(settings, params, classify, seed, np.concatenate([inputs[n] for n in train]),
                         np.concatenate([truth[n] for n in train]))
        for n in held:
            oof[n] = _raw_predict(estimator, inputs[n], classify)
    return oof


def _choose_post_processing(target: Target, truth: dict, oof: dict, settings: SegmentSettings,
                            task: Subtask, criterion: str | None = None) -> None:
    """Smoothing width and calibration (not of confidences), on the inner out-of-fold predictions."""
    target.sigma, target.scale, target.offset = choose_post_processing(
        truth, oof, settings.smoothing, settings.calibrate and not task.binary, task, criterion)


def choose_post_processing(truth: dict, predicted: dict, smoothing, calibrate: bool,
                           task: Subtask, criterion: str | None = None) -> tuple[float, float, float]:
    """``(sigma, scale, offset)`` for one output, chosen on held-out predictions ``predicted``
    (film -> curve of its segments) against ``truth``: the Gaussian smoothing width (in
    segments, among ``smoothing``) whose smoothed curves have the best figure by ``criterion``
    (``task.column_figure``; by default the mean per-film MSE, or MAP for fear; the first on a
    tie), then with ``calibrate`` the least-squares line ``scale p + offset`` of those curves
    (whatever the criterion: least squares is what a level needs, and PCC cannot see a level;
    ``scale`` at least :data:`MIN_SCALE`, so that no film's prediction becomes constant and its
    PCC undefined).  Apply as ``scale * smooth(p, sigma) + offset``.

    (Choosing the width by the *calibrated* figure instead was tried: on ``make bench-accuracy``
    it smoothed less and lowered valence_arousal run 1's arousal PCC from 0.44 to 0.43.)"""
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
