"""Per-segment models: an estimator per 10 s segment, with its post-processing chosen by nested
cross-validation.  The estimators themselves (ridge, SVR, gradient boosting) are families
(:mod:`mediaeval.families.segment`); this module is what they share.

Inputs of segment ``k`` of a film: the overlap-weighted mean and standard deviation of the
film's steps inside it (``2 d`` values), optionally beside the means of ``context`` neighbouring
segments on each side (edges repeat the first or last segment).  Each column is first
standardised *within the film* (per-film z-score: every film has its own look and sound; it
uses no label, so it is the same for a test film), then by the training films' statistics.

Everything chosen from data is chosen on the training films only, by an inner cross-validation
over those films (:func:`inner_folds`):

1. the estimator's hyper-parameters (its family's candidates) by the run's criterion on the
   inner out-of-fold predictions (:meth:`mediaeval.task.Subtask.column_figure`; by default the
   official mean per-film MSE for valence and arousal, each on its own; MAP for fear);
2. on the winner's inner out-of-fold predictions, the post-processing
   (:meth:`mediaeval.post_processing.PostProcessing.choose`): each film's curve smoothed, then
   calibrated (valence and arousal), and for fear the decision threshold that maximises F1;
3. the estimator is refitted on all training films with the chosen hyper-parameters, and its
   calibration capped so that its predictions of them spread no wider than their truth.

So the out-of-fold figures of the outer folds stay honest: no choice ever sees the films it
is scored on.  :class:`SegmentModel` holds the fitted pieces and predicts run rows.
"""
from __future__ import annotations

import math
import pickle
from dataclasses import asdict, dataclass
from typing import Annotated, Literal

import numpy as np
from pydantic import ConfigDict, Field

from .errors import DataError
from .post_processing import PostProcessing, smooth
from .task import SUBTASKS, Subtask
from .validation import SEGMENTS, Bool, Float, Int, Widths, problems

Positives = Annotated[tuple[Annotated[Float, Field(gt=0)], ...], Field(min_length=1)]


@dataclass(frozen=True)
class SegmentSettings:
    """The ``[model]`` table of a per-segment run (``type``: its family)."""

    __pydantic_config__ = ConfigDict(extra="forbid")

    type: Literal["ridge", "svr", "hgb"] = "ridge"
    context: Annotated[Int, Field(ge=0, le=20, json_schema_extra=SEGMENTS)] = 1   # neighbours on each side
    per_film_standardise: Bool = True
    smoothing: Widths = (0.0, 1.0, 2.0, 4.0, 8.0)        # candidate sigmas, in 5 s segments
    calibrate: Bool = True
    inner_folds: Annotated[Int, Field(ge=2)] = 5
    alphas: Positives = (10.0, 100.0, 1000.0, 10000.0, 100000.0)   # ridge
    svr_c: Positives = (0.1, 1.0)                                  # svr (RBF, gamma "scale")
    svr_epsilon: Annotated[Float, Field(ge=0)] = 0.1
    hgb_learning_rate: Positives = (0.05,)                         # hgb
    hgb_max_leaf_nodes: Annotated[tuple[Annotated[Int, Field(ge=2)], ...], Field(min_length=1)] = (7, 15)
    hgb_max_iter: Annotated[Int, Field(ge=1)] = 200
    hgb_l2: Annotated[Float, Field(ge=0)] = 1.0

    def as_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def check(self) -> list[str]:
        """What is out of range in settings built in code, as ``key: expected ...`` texts."""
        return problems(self)


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


CLIP = 10.0


def clip_inputs(x: np.ndarray) -> np.ndarray:
    """Standardised inputs clipped to +-:data:`CLIP`: a column nearly constant in the training
    films (its scale set by rounding noise) must not turn a test film's ordinary values into
    thousands of standard deviations, and predictions into nonsense."""
    return np.clip(x, -CLIP, CLIP)


def _fit(family, settings: SegmentSettings, params: dict, classify: bool, seed: int, x: np.ndarray, y: np.ndarray):
    """The family's estimator, after standardisation by the training films and :func:`clip_inputs`,
    fitted on (x, y); for fear without both classes in y, the prior (the share of fear
    segments) as every confidence, since no classifier can be fitted."""
    if classify and len(np.unique(y)) < 2:
        from sklearn.dummy import DummyClassifier

        return DummyClassifier(strategy="prior").fit(x, y)
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    estimator = family.estimator(settings, params, classify, seed)
    return make_pipeline(StandardScaler(), FunctionTransformer(clip_inputs), estimator).fit(x, y)


def _raw_predict(estimator, x: np.ndarray, classify: bool) -> np.ndarray:
    if len(x) == 0:
        return np.zeros(0)
    if classify and hasattr(estimator, "predict_proba"):
        classes = list(estimator.classes_)        # a prior fitted on one class has one column
        return estimator.predict_proba(x)[:, classes.index(1)] if 1 in classes else np.zeros(len(x))
    out = estimator.predict(x)
    return np.clip(out, 0.0, 1.0) if classify else out


# --------------------------------------------------------------------------- the model

@dataclass
class FittedOutput:
    """One output (valence, arousal, or the fear confidence): its estimator and the
    hyper-parameters the inner cross-validation chose, with their inner figure."""

    params: dict
    estimator: object = None
    inner_score: float = float("nan")


@dataclass
class SegmentModel:
    """Fitted per-segment model of one subtask; ``predict_rows`` gives run rows."""

    task: Subtask
    settings: SegmentSettings
    outputs: list[FittedOutput]
    post: PostProcessing

    FILE = "segment_model.pkl"

    @property
    def threshold(self) -> float:
        return self.post.threshold

    def predict_curves(self, x_steps: np.ndarray, n_segments: int) -> np.ndarray:
        """(n_segments, outputs): post-processed predictions (fear: confidences in [0, 1])."""
        x = segment_inputs(x_steps, n_segments, self.settings.context, self.settings.per_film_standardise)
        raw = [_raw_predict(o.estimator, x, self.task.binary) for o in self.outputs]
        return self.post.apply(np.column_stack(raw) if raw else np.zeros((n_segments, 0)), self.task)

    def predict_rows(self, x_steps: np.ndarray, n_segments: int) -> np.ndarray:
        """Run-file rows: (K, 2) valence, arousal; or (K, 2) label, confidence."""
        return self.task.rows(self.predict_curves(x_steps, n_segments), self.threshold)

    def predictions(self, films: list) -> list[tuple[np.ndarray, float]]:
        """``(curves, threshold)`` of each film (FilmData)."""
        return [(self.predict_curves(f.x, f.n_segments), self.threshold) for f in films]

    def choices(self) -> dict:
        """What was chosen by the inner cross-validation (for settings.json and the README)."""
        post = self.post
        return {"targets": [{"params": o.params, "smoothing_segments": post.sigma[j], "scale": post.scale[j],
                             "offset": post.offset[j], "inner_score": o.inner_score}
                            for j, o in enumerate(self.outputs)],
                "threshold": post.threshold}

    def __getstate__(self) -> dict:
        return {"subtask": self.task.name, "settings": self.settings, "outputs": self.outputs, "post": self.post}

    def __setstate__(self, state: dict) -> None:
        if "targets" in state:   # the former layout: a Target per output held its post-processing
            targets = state["targets"]
            state = {**state, "outputs": [FittedOutput(t.params, t.estimator, t.inner_score) for t in targets],
                     "post": PostProcessing(tuple(t.sigma for t in targets), tuple(t.scale for t in targets),
                                            tuple(t.offset for t in targets), state["threshold"])}
        self.task, self.settings = SUBTASKS[state["subtask"]], state["settings"]
        self.outputs, self.post = state["outputs"], state["post"]

    def save(self, path) -> None:
        """A pickle of the fitted model, written atomically (the model folder is the tool's own)."""
        from pathlib import Path

        from .atomic import atomic_output

        with atomic_output(Path(path)) as tmp:
            with open(tmp, "wb") as handle:
                pickle.dump(self, handle, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def load(path) -> SegmentModel:
        """The model pickled at ``path`` by :meth:`save`, now or by an earlier mediaeval
        (:class:`_ModelUnpickler`); DataError naming the file otherwise."""
        try:
            with open(path, "rb") as handle:
                model = _ModelUnpickler(handle).load()
        except Exception as error:  # a damaged pickle raises almost anything (ValueError, KeyError, ...)
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            raise DataError(path, f"expected a per-segment model written by mediaeval train ({type(error).__name__}: "
                                  f"{reason}); retrain with mediaeval train --overwrite") from error
        if not isinstance(model, SegmentModel):
            raise DataError(path, "expected a per-segment model written by mediaeval train")
        return model


class _LegacyTarget:
    """An output of a model pickled in the former layout (``mediaeval.segment_models.Target``):
    params, estimator, inner_score and its post-processing, read by :meth:`SegmentModel.__setstate__`."""


class _ModelUnpickler(pickle.Unpickler):
    """Unpickles a per-segment model: only the classes a model holds (mediaeval's, NumPy's,
    scikit-learn's, SciPy's), with those of earlier mediaeval versions mapped to today's
    (:data:`RENAMED`)."""

    ALLOWED = ("mediaeval", "numpy", "sklearn", "scipy")
    RENAMED = {("mediaeval.segment_models", "Target"): _LegacyTarget}

    def find_class(self, module: str, name: str):
        if (module, name) in self.RENAMED:
            return self.RENAMED[module, name]
        if module.split(".")[0] not in self.ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a per-segment model")
        return super().find_class(module, name)


# --------------------------------------------------------------------------- fitting

def fit_segment_model(family, films, task: Subtask, settings: SegmentSettings, seed: int = 0,
                      criterion: str | None = None) -> SegmentModel:
    """Fit ``family``'s estimator (:class:`mediaeval.families.segment.SegmentFamily`) on ``films``
    (objects with ``name``, ``x`` steps, ``n_segments``, ``labels``), choosing everything by inner
    cross-validation over these films only, by ``criterion`` (``None``: the subtask's; see the
    module docstring)."""
    films = [f for f in films if f.n_segments > 0]   # a film shorter than one segment teaches nothing
    inputs = {f.name: segment_inputs(f.x, f.n_segments, settings.context, settings.per_film_standardise)
              for f in films}
    labels = {f.name: task.targets(np.asarray(f.labels, dtype=np.float64)) for f in films}
    names = [f.name for f in films]
    if len(names) < 2:   # one training film: nothing to choose on; the first candidate, as it is
        params = family.candidates(settings)[0]
        outputs = [FittedOutput(params, _fit(family, settings, params, task.binary, seed, inputs[names[0]],
                                             labels[names[0]][:, j])) for j in range(task.outputs)]
        return SegmentModel(task, settings, outputs, PostProcessing.identity(task.outputs))
    folds = inner_folds(names, settings.inner_folds, seed)
    chosen = [_best_candidate(family, settings, inputs, {n: labels[n][:, j] for n in names}, folds, task, seed,
                              criterion) for j in range(task.outputs)]
    raw = {n: np.column_stack([oof[n] for _, _, oof in chosen]) for n in chosen[0][2]}
    post = PostProcessing.choose(labels, raw, settings.smoothing, settings.calibrate, task, criterion)
    outputs = []
    for j, (score, params, _) in enumerate(chosen):
        y = {n: labels[n][:, j] for n in names}
        estimator = _fit(family, settings, params, task.binary, seed, np.concatenate([inputs[n] for n in names]),
                         np.concatenate(list(y.values())))
        outputs.append(FittedOutput(params, estimator, score))
        if not task.binary and settings.calibrate:   # fitted on more films than the inner models: capped
            fitted = [smooth(_raw_predict(estimator, inputs[n], False), post.sigma[j]) for n in names]
            post = post.capped(j, np.concatenate(fitted), np.concatenate(list(y.values())))
    return SegmentModel(task, settings, outputs, post)


def _best_candidate(family, settings: SegmentSettings, inputs: dict, truth: dict, folds: list[list[str]],
                    task: Subtask, seed: int, criterion: str | None) -> tuple[float, dict, dict]:
    """``(figure, params, inner out-of-fold raw predictions)`` of the family's candidate with the
    best inner figure by ``criterion`` (the first on a tie) for one output (``truth``)."""
    best = None
    for params in family.candidates(settings):
        oof = _inner_predictions(family, inputs, truth, folds, settings, params, task.binary, seed)
        score = task.column_figure(truth, oof, criterion)
        score = -math.inf if math.isnan(score) else score
        if best is None or score > best[0]:
            best = (score, params, oof)
    return best


def _inner_predictions(family, inputs, truth, folds, settings, params, classify, seed) -> dict:
    """Inner out-of-fold raw predictions of every training film for one candidate."""
    oof = {}
    for held in folds:
        train = [n for n in truth if n not in held]
        estimator = _fit(family, settings, params, classify, seed, np.concatenate([inputs[n] for n in train]),
                         np.concatenate([truth[n] for n in train]))
        for n in held:
            oof[n] = _raw_predict(estimator, inputs[n], classify)
    return oof
