"""Per-segment models: an estimator per 10 s segment, with its post-processing chosen by nested
cross-validation.  The estimators themselves (ridge, SVR, gradient boosting) are families
(:mod:`mediaeval.families.segment`); this module is what they share.

Inputs of segment ``k`` of a film (:mod:`mediaeval.segment_inputs`): the overlap-weighted mean
and standard deviation of the film's steps inside it, beside the means of neighbouring segments,
the steps first delayed and standardised (within the film, over the training films, or both).

Everything chosen from data is chosen on the training films only, by an inner cross-validation
over those films (:func:`inner_folds`), for each output on its own:

1. one setting after another (:mod:`mediaeval.segment_choices`): the estimator's
   hyper-parameters, the standardisation, the delay, the context before and after, the film
   weighting, the hyper-parameters again, each by the run's criterion on the inner out-of-fold
   predictions (:meth:`mediaeval.task.Subtask.column_figure`; by default the official mean
   per-film MSE for valence and arousal, each on its own; MAP for fear);
2. with ``hedge`` (a share), each film's inner out-of-fold curve keeps the winner's level and
   takes that share of its within-film shape from the run's fixed inputs, with the
   hyper-parameters chosen for them in the first step
   (:func:`~mediaeval.segment_choices.hedged`; the test films' curves alike);
3. on the winner's (hedged) inner out-of-fold predictions, the post-processing
   (:meth:`mediaeval.post_processing.PostProcessing.choose`): each film's curve smoothed (by
   the criterion), then (valence and arousal) shrunk towards the training mean by the scale in
   ``shrink`` with the least official MSE (:func:`~mediaeval.post_processing.choose_shrinkage`;
   without ``"shrink"`` in ``choose``, the least-squares line of before), and for fear the
   decision threshold that maximises F1;
4. the estimator (and the hedge's) is refitted on all training films with what was chosen, and
   its calibration capped so that its predictions of them spread no wider than their truth.

A fear run with ``from_valence_arousal`` also fits that valence/arousal recipe on its training
films and takes its predicted valence and arousal as inputs (:func:`_valence_arousal_inputs`).

So the out-of-fold figures of the outer folds stay honest: no choice ever sees the films it
is scored on.  :class:`SegmentModel` holds the fitted pieces and predicts run rows.
"""
from __future__ import annotations

import pickle
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from .errors import DataError, MediaevalError
from .post_processing import PostProcessing, choose_shrinkage, smooth
from .segment_choices import CHOICES, Candidate, InnerCV, choose, hedge_start, hedged, raw_predict, refit, with_extra
from .segment_inputs import STANDARDISATIONS, InputSpec, clip_inputs, spec_inputs
from .task import SUBTASKS, VALENCE_AROUSAL, Subtask
from .validation import SEGMENTS, Bool, Float, Int, Widths, adapter, error_text, problem, problems

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

Positives = Annotated[tuple[Annotated[Float, Field(gt=0)], ...], Field(min_length=1)]


Delays = Annotated[tuple[Annotated[Float, Field(ge=0, le=30, json_schema_extra={"unit": "seconds"})], ...],
                   Field(min_length=1)]
Counts = Annotated[tuple[Annotated[Int, Field(ge=0, le=20, json_schema_extra=SEGMENTS)], ...], Field(min_length=1)]
Shrinks = Annotated[tuple[Annotated[Float, Field(ge=0.05, le=1)], ...], Field(min_length=1)]
PER_SEGMENT = ("ridge", "svr", "hgb")


@dataclass(frozen=True)
class SegmentSettings:
    """The ``[model]`` table of a per-segment run (``type``: its family).

    ``choose`` lists what the inner cross-validation chooses (:mod:`mediaeval.segment_choices`),
    each among its grid; a choice not listed keeps its fixed value (``per_film_standardise``, no
    delay, ``spread``, ``context`` each side, ``film_weighting``; calibration: the least-squares line of
    before instead of the shrinkage).  ``choose = []`` with ``film_weighting = 0`` is the recipe of
    before the choices, but for a regression's level, now the films' (:mod:`mediaeval.segment_choices`)."""

    __pydantic_config__ = ConfigDict(extra="forbid")

    type: Literal["ridge", "svr", "hgb"] = "ridge"
    context: Annotated[Int, Field(ge=0, le=20, json_schema_extra=SEGMENTS)] = 1   # neighbours on each side
    per_film_standardise: Bool = True
    smoothing: Widths = (0.0, 1.0, 2.0, 4.0, 8.0)        # candidate sigmas, in 5 s segments
    calibrate: Bool = True
    inner_folds: Annotated[Int, Field(ge=2)] = 5
    # splits of the training films into inner folds whose out-of-fold predictions are averaged
    inner_repeats: Annotated[Int, Field(ge=1, le=10)] = 2
    alphas: Positives = (10.0, 100.0, 1000.0, 10000.0, 100000.0)   # ridge
    svr_c: Positives = (0.1, 1.0)                                  # svr (RBF, gamma "scale")
    svr_epsilon: Annotated[Float, Field(ge=0)] = 0.1
    hgb_learning_rate: Positives = (0.05,)                         # hgb
    hgb_max_leaf_nodes: Annotated[tuple[Annotated[Int, Field(ge=2)], ...], Field(min_length=1)] = (7, 15)
    hgb_max_iter: Annotated[Int, Field(ge=1)] = 200
    hgb_l2: Annotated[Float, Field(ge=0)] = 1.0
    choose: tuple[Literal["standardise", "delay", "spread", "context", "weights", "shrink"], ...] = CHOICES
    standardisations: Annotated[tuple[Literal["film", "global", "both"], ...], Field(min_length=1)] = STANDARDISATIONS
    delays: Delays = (0.0, 2.0, 4.0, 6.0, 8.0)                     # seconds the features lag the labels
    context_past: Counts = (0, 1, 2, 3, 4)                         # segments before, to choose from
    context_future: Counts = (0, 1, 2)                             # segments after
    spread: Bool = True                 # the std of each segment's steps beside their mean (when not chosen)
    # how far the fit weighs every film the same rather than every segment (0: every segment, 1: every
    # film, each segment 1/K; a regression's level is the films' whatever the weighting): fixed (also
    # for a classifier, which has no level shifted), and chosen from
    film_weighting: Annotated[Float, Field(ge=0, le=1)] = 0.5
    film_weightings: Annotated[tuple[Annotated[Float, Field(ge=0, le=1)], ...], Field(min_length=1)] = (0.0, 0.5, 1.0)
    shrink: Shrinks = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    # a step leaves its starting value only for one better by this many standard errors of the paired
    # per-film differences of the inner figure (0: the best, however slightly)
    min_gain: Annotated[Float, Field(ge=0)] = 2.0
    # each film's predicted curve keeps the chosen candidate's level, and takes this share of its
    # within-film shape from the run's fixed settings (inputs and film weighting, with the first step's
    # hyper-parameters) where the steps moved any of them (0: the chosen candidate alone;
    # mediaeval.segment_choices.hedged)
    hedge: Annotated[Float, Field(ge=0, le=1)] = 0.0
    # fear: a valence/arousal recipe (a run number of the runs folder, or its [model] table) whose
    # predictions, refitted inside each fold, are inputs beside the features
    from_valence_arousal: SegmentSettings | None = None

    def as_dict(self) -> dict:
        """Every setting, but ``hedge`` only when set (so that runs defined before it keep their
        digest, :meth:`mediaeval.runs.RunDefinition.digest`)."""
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        if not self.hedge:
            del out["hedge"]
        if self.from_valence_arousal is not None:
            out["from_valence_arousal"] = {k: v for k, v in self.from_valence_arousal.as_dict().items()
                                           if v is not None}
        return out

    def check(self) -> list[str]:
        """What is out of range in settings built in code, as ``key: expected ...`` texts."""
        return problems(self)

    @model_validator(mode="before")
    @classmethod
    def _film_weighted(cls, data):
        """A definition stored before the weighting was a share (a model folder's ``model.json``
        or ``run.toml``) says ``film_weighted``, every film or every segment: read as
        ``film_weighting`` 1 or 0, so that its models still load and predict."""
        if isinstance(data, dict) and isinstance(data.get("film_weighted"), bool):
            data = dict(data)
            weighted = data.pop("film_weighted")
            data.setdefault("film_weighting", 1.0 if weighted else 0.0)
        return data

    @field_validator("from_valence_arousal", mode="before")
    @classmethod
    def _valence_arousal_recipe(cls, value, info: ValidationInfo):
        """A fear run's only; a run number becomes that valence_arousal run's ``[model]`` table
        (read from ``<runs>/valence_arousal/run<N>.toml`` beside the run's own folder)."""
        if value is None:
            return value
        context = info.context or {}
        if context.get("subtask") not in (None, "fear") or context.get("nested"):
            raise problem("only a fear run takes the predictions of a valence/arousal recipe")
        if isinstance(value, int) and not isinstance(value, bool):
            value = _valence_arousal_table(value, context.get("path"))
        if isinstance(value, dict) and "from_valence_arousal" in value:
            raise problem("the valence/arousal recipe cannot itself take from_valence_arousal")
        return value


def _valence_arousal_table(number: int, path) -> dict:
    """The ``[model]`` table of valence_arousal run ``number`` beside the folder of the run file
    ``path`` (``runs/fear/run4.toml`` -> ``runs/valence_arousal/run<number>.toml``)."""
    if path is None:
        raise problem(f"run {number}: a run number is read beside the run file; give the [model] table instead")
    source = Path(path).parent.parent / "valence_arousal" / f"run{number}.toml"
    try:
        model = tomllib.loads(source.read_text(encoding="utf-8")).get("model")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise problem(f"expected valence_arousal run {number} at {source} ({reason})") from None
    if not isinstance(model, dict) or model.get("type") not in PER_SEGMENT:
        raise problem(f"valence_arousal run {number} ({source}) is not a per-segment run "
                      f"(type {', '.join(PER_SEGMENT)})")
    try:   # checked here, so that an error names the file and the value as given there
        adapter(SegmentSettings).validate_python(model, context={"subtask": "valence_arousal", "nested": True})
    except ValidationError as error:
        raise problem(f"valence_arousal run {number} ({source}): "
                      + error_text(error, model, SegmentSettings, prefix="model.")) from None
    return model


def inner_folds(names: list[str], n_folds: int, seed: int, repeat: int = 0) -> list[list[str]]:
    """Inner folds over the training films (as :func:`mediaeval.folds.make_folds`, other seed;
    ``repeat`` r > 0: another split, seeded apart)."""
    from .folds import make_folds

    return make_folds(names, n_folds, seed + 104_729 + 7_919 * repeat)


# --------------------------------------------------------------------------- the model

@dataclass
class FittedOutput:
    """One output (valence, arousal, or the fear confidence): its estimator, the hyper-parameters,
    inputs and weights the inner cross-validation chose, their inner figure and each step's
    winner (``path``)."""

    params: dict
    estimator: object = None
    inner_score: float = float("nan")
    spec: InputSpec = field(default_factory=InputSpec)
    weighting: float = 0.0          # segment_weights' share
    path: list = field(default_factory=list)
    hedge: float = 0.0              # the share of the within-film shape from ``plain`` (:func:`hedged`)
    plain: Candidate | None = None  # the run's fixed inputs and their hyper-parameters, hedged with
    plain_estimator: object = None  # ... and fitted on the same films

    def __setstate__(self, state: dict) -> None:
        """A pickle of before the choices has no spec: its inputs were the run's fixed ones
        (:meth:`SegmentModel.__setstate__` puts them); one of before the weighting was a share
        says ``weighted`` (every film, or every segment)."""
        weighted = state.pop("weighted", False)
        self.__dict__.update({"spec": None, "weighting": 1.0 if weighted else 0.0, "path": [], "hedge": 0.0,
                              "plain": None, "plain_estimator": None, **state})

    def curve(self, inputs, binary: bool) -> np.ndarray:
        """The raw predictions of a film (``inputs(spec)``: its inputs for an input spec), hedged."""
        raw = raw_predict(self.estimator, inputs(self.spec), binary)
        if not self.hedge or self.plain is None:
            return raw
        plain = raw_predict(self.plain_estimator, inputs(self.plain.spec), binary)
        return _hedged_curve(raw, plain, self.hedge, binary)


@dataclass
class SegmentModel:
    """Fitted per-segment model of one subtask; ``predict_rows`` gives run rows.  ``va_model``: a
    fear model's valence/arousal model, whose predictions are inputs beside the features."""

    task: Subtask
    settings: SegmentSettings
    outputs: list[FittedOutput]
    post: PostProcessing
    va_model: SegmentModel | None = None

    FILE = "segment_model.pkl"

    @property
    def threshold(self) -> float:
        return self.post.threshold

    def raw_curves(self, x_steps: np.ndarray, n_segments: int) -> np.ndarray:
        """(n_segments, outputs): the estimators' predictions, before post-processing."""
        extra = None if self.va_model is None else self.va_model.predict_curves(x_steps, n_segments)
        inputs: dict[InputSpec, np.ndarray] = {}

        def of(spec: InputSpec) -> np.ndarray:
            if spec not in inputs:
                inputs[spec] = with_extra(spec_inputs(x_steps, n_segments, spec), extra)
            return inputs[spec]

        raw = [o.curve(of, self.task.binary) for o in self.outputs]
        return np.column_stack(raw) if raw else np.zeros((n_segments, 0))

    def predict_curves(self, x_steps: np.ndarray, n_segments: int) -> np.ndarray:
        """(n_segments, outputs): post-processed predictions (fear: confidences in [0, 1])."""
        return self.post.apply(self.raw_curves(x_steps, n_segments), self.task)

    def predict_rows(self, x_steps: np.ndarray, n_segments: int) -> np.ndarray:
        """Run-file rows: (K, 2) valence, arousal; or (K, 2) label, confidence."""
        return self.task.rows(self.predict_curves(x_steps, n_segments), self.threshold)

    def predictions(self, films: list) -> list[tuple[np.ndarray, float]]:
        """``(curves, threshold)`` of each film (FilmData)."""
        return [(self.predict_curves(f.x, f.n_segments), self.threshold) for f in films]

    def refitted(self, films: list, seed: int = 0) -> SegmentModel:
        """This model's choices (inputs, weighting, hyper-parameters, post-processing) with its
        estimators fitted again on ``films`` (a fear model's valence/arousal inputs of its own
        training films: :func:`_valence_arousal_inputs`), by today's
        :func:`~mediaeval.segment_choices.fit_estimator`: a model pickled before the films' level
        gets that level now."""
        films = [f for f in films if f.n_segments > 0]
        labels = {f.name: self.task.targets(np.asarray(f.labels, np.float64)) for f in films}

        def fitted(candidate: Candidate, truth: dict):
            inputs = {f.name: spec_inputs(f.x, f.n_segments, candidate.spec) for f in films}
            return refit(_family(self.settings), self.settings, candidate, self.task.binary, seed, inputs, truth)

        outputs = []
        for j, o in enumerate(self.outputs):
            truth = {n: y[:, j] for n, y in labels.items()}
            estimator = fitted(Candidate(o.spec, o.weighting, tuple(sorted(o.params.items()))), truth)
            outputs.append(FittedOutput(o.params, estimator, o.inner_score, o.spec, o.weighting, o.path, o.hedge,
                                        o.plain, None if o.plain is None else fitted(o.plain, truth)))
        return SegmentModel(self.task, self.settings, outputs, self.post)

    def choices(self) -> dict:
        """What was chosen by the inner cross-validation (for settings.json and the README)."""
        post, shrinks = self.post, "shrink" in getattr(self.settings, "choose", ())
        out = {"targets": [{"params": o.params, **(o.spec.as_dict() if o.spec else {}), "film_weighting": o.weighting,
                            "smoothing_segments": post.sigma[j], "scale": post.scale[j], "offset": post.offset[j],
                            **({"shrink": post.scale[j]} if shrinks and self.settings.calibrate
                               and not self.task.binary else {}),
                            **({"hedge": o.hedge, "hedged_with": {**o.plain.spec.as_dict(), "params": o.plain.hyper,
                                                                  "film_weighting": o.plain.weighting}}
                               if o.plain is not None and o.hedge else {}),
                            "inner_score": o.inner_score, "path": o.path}
                           for j, o in enumerate(self.outputs)],
               "threshold": post.threshold}
        if self.va_model is not None:
            out["from_valence_arousal"] = self.va_model.choices()
        return out

    def __getstate__(self) -> dict:
        return {"subtask": self.task.name, "settings": self.settings, "outputs": self.outputs, "post": self.post,
                "va_model": self.va_model}

    def __setstate__(self, state: dict) -> None:
        if "targets" in state:   # the former layout: a Target per output held its post-processing
            targets = state["targets"]
            state = {**state, "outputs": [FittedOutput(t.params, t.estimator, t.inner_score) for t in targets],
                     "post": PostProcessing(tuple(t.sigma for t in targets), tuple(t.scale for t in targets),
                                            tuple(t.offset for t in targets), state["threshold"])}
        self.task, self.settings = SUBTASKS[state["subtask"]], state["settings"]
        self.outputs, self.post, self.va_model = state["outputs"], state["post"], state.get("va_model")
        for o in self.outputs:   # a model of before the choices: the run's fixed inputs
            if getattr(o, "spec", None) is None:
                o.spec = InputSpec("film" if self.settings.per_film_standardise else "global", 0.0,
                                   self.settings.context, self.settings.context)
                o.weighting, o.path = 0.0, []

    def save(self, path) -> None:
        """A pickle of the fitted model, written atomically (the model folder is the tool's own)."""
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
    (:data:`RENAMED`: the former ``Target``, and ``clip_inputs``, which the pipelines of models
    pickled before :mod:`mediaeval.segment_inputs` name as this module's)."""

    ALLOWED = ("mediaeval", "numpy", "sklearn", "scipy")
    RENAMED = {("mediaeval.segment_models", "Target"): _LegacyTarget,
               ("mediaeval.segment_models", "clip_inputs"): clip_inputs}

    def find_class(self, module: str, name: str):
        if (module, name) in self.RENAMED:
            return self.RENAMED[module, name]
        if module.split(".")[0] not in self.ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a per-segment model")
        return super().find_class(module, name)


# --------------------------------------------------------------------------- fitting

def _family(settings):
    """The family of ``settings`` (by their ``type``)."""
    from .families import family_of

    return family_of(settings)


def fit_segment_model(family, films, task: Subtask, settings: SegmentSettings, seed: int = 0,
                      criterion: str | None = None) -> SegmentModel:
    """Fit ``family``'s estimator (:class:`mediaeval.families.segment.SegmentFamily`) on ``films``
    (objects with ``name``, ``x`` steps, ``n_segments``, ``labels``; a fear run's films taking
    valence/arousal inputs also ``other_labels``), choosing everything by inner cross-validation
    over these films only, by ``criterion`` (``None``: the subtask's; see the module docstring)."""
    films = [f for f in films if f.n_segments > 0]   # a film shorter than one segment teaches nothing
    labels = {f.name: task.targets(np.asarray(f.labels, dtype=np.float64)) for f in films}
    names = [f.name for f in films]
    splits = ([inner_folds(names, settings.inner_folds, seed, r) for r in range(settings.inner_repeats)]
              if len(names) >= 2 else [[names]])
    folds = splits[0]
    va_model, extra = _valence_arousal_inputs(films, settings, seed, folds)
    cv = InnerCV(family, settings, films, folds, task.binary, seed, extra, splits[1:])
    if len(names) < 2:   # one training film: nothing to choose on; the fixed settings, as they are
        from .segment_choices import start

        first = start(settings, family)
        outputs = [FittedOutput(first.hyper, cv.fit(first, names, {n: labels[n][:, j] for n in names}),
                                spec=first.spec, weighting=first.weighting) for j in range(task.outputs)]
        return SegmentModel(task, settings, outputs, PostProcessing.identity(task.outputs), va_model)
    truths = [{n: labels[n][:, j] for n in names} for j in range(task.outputs)]
    chosen = [choose(cv, j, truths[j], task, criterion, settings, family) for j in range(task.outputs)]
    plains = [hedge_start(c, settings, family) if settings.hedge else None for c in chosen]
    oofs = [c.oof if plain is None else _hedged_oof(c.oof, cv.figure(j, plain, truths[j], task, criterion)[1],
                                                    settings.hedge, task.binary)
            for j, (c, plain) in enumerate(zip(chosen, plains))]
    raw = {n: np.column_stack([oof[n] for oof in oofs]) for n in names}
    shrinks = settings.calibrate and "shrink" in settings.choose and not task.binary
    post = PostProcessing.choose(labels, raw, settings.smoothing, settings.calibrate and not shrinks, task, criterion)
    if shrinks:
        post = _shrunk(post, labels, raw, folds, settings.shrink, task)
    outputs = []
    for j, (c, plain) in enumerate(zip(chosen, plains)):
        y = truths[j]
        output = FittedOutput(c.candidate.hyper, cv.fit(c.candidate, names, y), c.score, c.candidate.spec,
                              c.candidate.weighting, c.path, settings.hedge if plain else 0.0, plain,
                              None if plain is None else cv.fit(plain, names, y))
        outputs.append(output)
        if not task.binary and settings.calibrate:   # fitted on more films than the inner models: capped
            fitted = [smooth(output.curve(lambda spec, n=n: cv.inputs(spec)[n], False), post.sigma[j]) for n in names]
            post = post.capped(j, np.concatenate(fitted), np.concatenate(list(y.values())))
    return SegmentModel(task, settings, outputs, post, va_model)


def _hedged_curve(chosen: np.ndarray, plain: np.ndarray, share: float, binary: bool) -> np.ndarray:
    """A film's raw curve hedged (:func:`~mediaeval.segment_choices.hedged`), fear's confidences
    clipped to [0, 1] as :func:`~mediaeval.segment_choices.raw_predict` clips them: inner curves and
    test curves alike."""
    out = hedged(chosen, plain, share)
    return np.clip(out, 0.0, 1.0) if binary else out


def _hedged_oof(chosen: dict, plain: dict, share: float, binary: bool) -> dict:
    """Each film's inner out-of-fold curve of the chosen candidate hedged with the plain one's
    (:func:`_hedged_curve`)."""
    return {n: _hedged_curve(curve, plain[n], share, binary) for n, curve in chosen.items()}


def _shrunk(post: PostProcessing, labels: dict, raw: dict, folds: list[list[str]], grid, task) -> PostProcessing:
    """``post`` with each output's calibration the shrinkage towards the training mean that
    :func:`~mediaeval.post_processing.choose_shrinkage` chooses on the inner out-of-fold
    predictions (each film's towards the mean label of its inner fold's training films),
    applied towards the mean label of every training film."""
    for j in range(task.outputs):
        truth = {n: y[:, j] for n, y in labels.items()}
        means = {}
        for held in folds:
            mean = float(np.concatenate([truth[n] for n in truth if n not in held]).mean())
            means.update({n: mean for n in held})
        smoothed = {n: smooth(r[:, j], post.sigma[j]) for n, r in raw.items()}
        scale = choose_shrinkage(truth, smoothed, means, grid, task.output_range)
        post = post.shrunk(j, scale, float(np.concatenate(list(truth.values())).mean()))
    return post


def _valence_arousal_inputs(films: list, settings: SegmentSettings, seed: int, folds: list[list[str]]):
    """``(va_model, inputs)`` of a fear run with ``from_valence_arousal`` (else ``(None, None)``):
    the valence/arousal recipe fitted on the training films that have valence/arousal labels
    (``other_labels``), and per training film its predicted valence and arousal (K, 2) by that
    recipe refitted without the film's inner fold, its choices kept (so the fear model learns from
    predictions nearly as good as a test film's, not from in-sample ones).  Nothing of a film
    outside ``films`` is seen: inside an outer fold, its held-out films are not among them."""
    va_settings = settings.from_valence_arousal
    if va_settings is None:
        return None, None
    va_films = [replace_labels(f, f.other_labels[VALENCE_AROUSAL.name]) for f in films
                if (f.other_labels or {}).get(VALENCE_AROUSAL.name) is not None]
    if len(va_films) < 1:
        raise MediaevalError("from_valence_arousal: no training film has valence/arousal annotations")
    va_model = fit_segment_model(_family(va_settings), va_films, VALENCE_AROUSAL, va_settings, seed)
    extra = {}
    for held in folds:
        inner = va_model.refitted([f for f in va_films if f.name not in held], seed) if len(folds) > 1 else va_model
        extra.update({f.name: inner.predict_curves(f.x, f.n_segments) for f in films if f.name in held})
    return va_model, extra


def replace_labels(film, labels):
    """A copy of ``film`` whose labels are ``labels``."""
    import dataclasses

    return dataclasses.replace(film, labels=labels)
