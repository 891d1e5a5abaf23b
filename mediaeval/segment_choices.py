"""What the inner cross-validation of a per-segment model chooses for one output, one setting
after another (coordinate-wise, not a full grid, so that a run stays fast).

Starting from the run's fixed settings (``per_film_standardise``, no delay, ``spread``, ``context``
segments each side, ``film_weighting``, the first hyper-parameter candidate), each step tries every value
of one setting with the others as chosen so far and keeps the one whose inner out-of-fold
predictions have the best figure by the run's criterion (:meth:`mediaeval.task.Subtask.column_figure`;
the first in the grid's order on a tie):

1. the hyper-parameters (the family's candidates: ``alphas``, ...);
2. ``standardise``: within each film, over the training films, or both (:mod:`mediaeval.segment_inputs`);
3. ``delay``: the features delayed by each of ``delays`` seconds;
4. ``spread``: the standard deviation of each segment's steps beside their mean, or not;
5. ``context``: the segments before (``context_past``), then after (``context_future``);
6. ``weights``: how far the fit weighs every film the same rather than every segment
   (``film_weightings``: 0 every segment the same, 1 every segment of a film of K segments
   1/K, as the official mean over films counts it, 0.5 halfway; :func:`segment_weights`);
7. the hyper-parameters again, for the inputs chosen.

Whatever the weighting, a regression's level is the films': its predictions are shifted so that
the training films' mean residual, every film counting once, is 0 (:class:`LevelShifted`).  The
official MSE is a mean over films, and the constant that minimises it is the mean of the films'
mean labels, not of all their segments'.  The slopes are a trade: every segment counting uses
all the evidence (a long film holds more of how a cue moves with the label), every film counting
fits them as the official mean weighs the films; which is better depends on the data, hence the
choice.  The level is that of the raw predictions: the shrinkage (:mod:`mediaeval.segment_models`)
pulls them towards the mean of all training segments, by ``1 - shrink`` of the way.

Every inner figure is taken on the mean of each film's predictions over ``inner_repeats``
splits of the training films into inner folds (:class:`InnerCV`).

A step whose choice is not in the run's ``choose`` list keeps the fixed value.  Smoothing and
the shrinkage of the predictions towards the training mean follow on the winner's inner
out-of-fold predictions (:mod:`mediaeval.segment_models`).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from .segment_inputs import InputSpec, clip_inputs, spec_inputs

CHOICES = ("standardise", "delay", "spread", "context", "weights", "shrink")


def film_weights(lengths: list[int]) -> np.ndarray:
    """Per segment of films of ``lengths`` segments: 1/K for a film of K segments, scaled so
    that the weights average 1 (so regularisation strengths keep their meaning).

    >>> film_weights([1, 3]).round(4).tolist()
    [2.0, 0.6667, 0.6667, 0.6667]
    """
    lengths = [k for k in lengths if k > 0]
    weights = np.concatenate([np.full(k, 1.0 / k) for k in lengths]) if lengths else np.zeros(0)
    return weights * (len(weights) / weights.sum()) if len(weights) else weights


def segment_weights(lengths: list[int], share: float) -> np.ndarray | None:
    """Per segment of films of ``lengths`` segments: ``(1 - share)`` + ``share`` times the
    :func:`film_weights` (0: every segment the same, None; 1: every film the same).

    >>> segment_weights([1, 3], 0.5).round(4).tolist()
    [1.5, 0.8333, 0.8333, 0.8333]
    """
    return None if share == 0 else (1.0 - share) + share * film_weights(lengths)


class LevelShifted:
    """A fitted regression whose predictions are shifted by ``shift`` (its level made the
    films', :func:`fit_estimator`)."""

    def __init__(self, estimator, shift: float):
        self.estimator, self.shift = estimator, float(shift)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.estimator.predict(x) + self.shift


def fit_estimator(family, settings, params: dict, classify: bool, seed: int, x: np.ndarray, y: np.ndarray,
                  lengths: list[int] | None = None, weighting: float = 0.0):
    """The family's estimator, after standardisation by the training films and
    :func:`~mediaeval.segment_inputs.clip_inputs`, fitted on (x, y), the rows of films of
    ``lengths`` segments (None: one film) each weighing as :func:`segment_weights` says for
    ``weighting``; a regression's predictions then shifted so that its training films' mean
    residual, every film counting once, is 0 (:class:`LevelShifted`).  For fear without both
    classes in y, the prior (the share of fear segments) as every confidence, since no
    classifier can be fitted."""
    if classify and len(np.unique(y)) < 2:
        from sklearn.dummy import DummyClassifier

        return DummyClassifier(strategy="prior").fit(x, y)
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    lengths = [len(x)] if lengths is None else lengths
    estimator = family.estimator(settings, params, classify, seed)
    pipeline = make_pipeline(StandardScaler(), FunctionTransformer(clip_inputs), estimator)
    weights = segment_weights(lengths, weighting) if takes_weights(estimator) else None
    extra = {} if weights is None else {f"{pipeline.steps[-1][0]}__sample_weight": weights}
    pipeline.fit(x, y, **extra)
    if classify:
        return pipeline
    residual = np.asarray(y, np.float64) - pipeline.predict(x)
    return LevelShifted(pipeline, float(film_weights(lengths) @ residual / len(residual)))


def takes_weights(estimator) -> bool:
    """Whether the estimator's ``fit`` takes sample weights (a family's may not: the weights
    step is then left out, :func:`steps`)."""
    from sklearn.utils.validation import has_fit_parameter

    return has_fit_parameter(estimator, "sample_weight")


def raw_predict(estimator, x: np.ndarray, classify: bool) -> np.ndarray:
    """An estimator's raw predictions of ``x`` (fear: the confidence of the positive class)."""
    if len(x) == 0:
        return np.zeros(0)
    if classify and hasattr(estimator, "predict_proba"):
        classes = list(estimator.classes_)        # a prior fitted on one class has one column
        return estimator.predict_proba(x)[:, classes.index(1)] if 1 in classes else np.zeros(len(x))
    out = estimator.predict(x)
    return np.clip(out, 0.0, 1.0) if classify else out


@dataclass(frozen=True)
class Candidate:
    """One setting of everything a step may change: the inputs, the weights, the hyper-parameters."""

    spec: InputSpec
    weighting: float       # segment_weights' share
    params: tuple          # the hyper-parameters as sorted (name, value) pairs (hashable)

    @property
    def hyper(self) -> dict:
        return dict(self.params)


@dataclass
class Chosen:
    """What the steps chose for one output, its inner figure and out-of-fold raw predictions,
    and each step's winner (``path``: step, value, inner figure)."""

    candidate: Candidate
    score: float
    oof: dict
    path: list = field(default_factory=list)


class InnerCV:
    """The training films of one model, their inner folds, and the inputs and inner out-of-fold
    predictions of every candidate tried (each computed once).  ``extra``: film -> (K, e) inputs
    put beside every spec's (fear's valence/arousal predictions).  ``repeats``: more splits of the
    same films into inner folds; a candidate's inner out-of-fold prediction of a film is then the
    mean of its predictions by each split's model without the film, so that a choice depends less
    on how 16 or so films happened to fall into folds."""

    def __init__(self, family, settings, films, folds: list[list[str]], classify: bool, seed: int,
                 extra: dict | None = None, repeats: list[list[list[str]]] = ()):
        self.family, self.settings, self.classify, self.seed = family, settings, classify, seed
        self.films = {f.name: f for f in films}
        self.folds, self.extra = folds, extra or {}
        self.splits = [folds, *repeats]
        self._inputs: dict[InputSpec, dict] = {}
        self._figures: dict = {}
        self._ridge: dict = {}

    def inputs(self, spec: InputSpec) -> dict:
        """``{film: (K, columns)}`` of the training films for ``spec``."""
        if spec not in self._inputs:
            self._inputs[spec] = {n: with_extra(spec_inputs(f.x, f.n_segments, spec), self.extra.get(n))
                                  for n, f in self.films.items()}
        return self._inputs[spec]

    def fit(self, candidate: Candidate, names: list[str], truth: dict):
        """The estimator of ``candidate`` fitted on the films ``names`` (:func:`refit`)."""
        return refit(self.family, self.settings, candidate, self.classify, self.seed, self.inputs(candidate.spec),
                     {n: truth[n] for n in names})

    def predictions(self, candidate: Candidate, truth: dict) -> dict:
        """Inner out-of-fold raw predictions of every training film of ``truth``, the mean over
        the splits (a ridge regression's by :class:`RidgeFolds`, the same ridge in closed form,
        for every alpha at the cost of one)."""
        if self.family.type == "ridge" and not self.classify and set(candidate.hyper) == {"alpha"}:
            outs = []
            for r, folds in enumerate(self.splits):
                key = (candidate.spec, candidate.weighting, r)
                if key not in self._ridge:
                    self._ridge[key] = RidgeFolds(self.inputs(candidate.spec), truth, folds, candidate.weighting)
                outs.append(self._ridge[key].predictions(truth, candidate.hyper["alpha"]))
            return _mean_over(outs, truth)
        return self.fitted_predictions(candidate, truth)

    def fitted_predictions(self, candidate: Candidate, truth: dict) -> dict:
        """Inner out-of-fold raw predictions of every training film, each inner fold's estimator
        fitted, the mean over the splits."""
        inputs, outs = self.inputs(candidate.spec), []
        for folds in self.splits:
            oof = {}
            for held in folds:
                estimator = self.fit(candidate, [n for n in truth if n not in held], truth)
                for n in held:
                    oof[n] = raw_predict(estimator, inputs[n], self.classify)
            outs.append(oof)
        return _mean_over(outs, truth)

    def figure(self, output: int, candidate: Candidate, truth: dict, task, criterion) -> tuple[float, dict]:
        """``(figure, oof)`` of a candidate for one output (``-inf`` for an undefined figure)."""
        key = (output, candidate)
        if key not in self._figures:
            oof = self.predictions(candidate, truth)
            score = task.column_figure(truth, oof, criterion)
            self._figures[key] = (-math.inf if math.isnan(score) else score, oof)
        return self._figures[key]


def _mean_over(outs: list[dict], truth: dict) -> dict:
    """``{film: the mean of its predictions in outs}`` (one split: as they are)."""
    return outs[0] if len(outs) == 1 else {n: np.mean([o[n] for o in outs], axis=0) for n in truth}


class RidgeFolds:
    """Inner out-of-fold predictions of a ridge regression (scikit-learn's ``Ridge`` after its
    ``StandardScaler`` and :func:`~mediaeval.segment_inputs.clip_inputs`, as
    :func:`fit_estimator` fits it: weighted centring, intercept unpenalised, then the films'
    level) in closed form: per
    inner fold, the eigendecomposition of the weighted Gram matrix of the training films' inputs,
    so that every alpha and every output costs a matrix product.  The same figures as fitting
    each alpha (up to float rounding), several times faster."""

    def __init__(self, inputs: dict, truth: dict, folds: list[list[str]], weighting: float):
        from sklearn.preprocessing import StandardScaler

        self.folds = []
        for held in folds:
            names = [n for n in truth if n not in held]
            x = np.concatenate([inputs[n] for n in names])
            lengths = [len(truth[n]) for n in names]
            w = segment_weights(lengths, weighting)
            w = np.ones(len(x)) if w is None else w
            scaler = StandardScaler().fit(x)   # its own test of a constant column (relative to the mean)
            mean, scale = scaler.mean_, scaler.scale_
            z = clip_inputs((x - mean) / scale)
            centre = w @ z / w.sum()
            zw = (z - centre) * w[:, None]
            values, vectors = np.linalg.eigh(zw.T @ (z - centre))
            held_inputs = {n: clip_inputs((inputs[n] - mean) / scale) - centre for n in held}
            self.folds.append((names, w, z - centre, zw, values, vectors, held_inputs, film_weights(lengths)))

    def predictions(self, truth: dict, alpha: float) -> dict:
        """``{film: raw predictions}`` of every training film by the ridge of strength ``alpha``
        fitted without its inner fold."""
        oof = {}
        for names, w, centred, zw, values, vectors, held_inputs, films in self.folds:
            y = np.concatenate([truth[n] for n in names])
            level = w @ y / w.sum()
            coefficients = vectors @ ((vectors.T @ (zw.T @ (y - level))) / (np.maximum(values, 0.0) + alpha))
            level += films @ (y - level - centred @ coefficients) / len(y)   # the films' level
            oof.update({n: z @ coefficients + level for n, z in held_inputs.items()})
        return oof


def with_extra(inputs: np.ndarray, extra: np.ndarray | None) -> np.ndarray:
    """A film's inputs with its extra columns beside them (none: as they are)."""
    return inputs if extra is None else np.concatenate([inputs, np.asarray(extra, np.float64)], axis=1)


def start(settings, family) -> Candidate:
    """The run's fixed settings: where the steps start, and what a step not chosen keeps (a
    family whose estimator takes no sample weights: weighting 0, the one it is fitted with)."""
    spec = InputSpec("film" if settings.per_film_standardise else "global", 0.0, settings.context, settings.context,
                     settings.spread)
    weighting = float(settings.film_weighting) if _weighs(settings, family) else 0.0
    return Candidate(spec, weighting, tuple(sorted(family.candidates(settings)[0].items())))


def _weighs(settings, family) -> bool:
    """Whether the family's estimator (with its first hyper-parameters) takes sample weights."""
    return takes_weights(family.estimator(settings, family.candidates(settings)[0], False, 0))


def steps(settings, family) -> list[tuple[str, list]]:
    """``(step, values)`` in the order they are chosen (see the module docstring)."""
    chosen = set(settings.choose)
    regularisation = ("regularisation", [tuple(sorted(p.items())) for p in family.candidates(settings)])
    out = [regularisation]
    if "standardise" in chosen:
        out.append(("standardise", list(settings.standardisations)))
    if "delay" in chosen:
        out.append(("delay", [float(d) for d in settings.delays]))
    if "spread" in chosen:
        out.append(("spread", [False, True]))
    if "context" in chosen:
        out += [("context_past", list(settings.context_past)), ("context_future", list(settings.context_future))]
    if "weights" in chosen and _weighs(settings, family):
        out.append(("weights", [float(w) for w in settings.film_weightings]))
    return out + [regularisation] if len(out) > 1 else out


_SET = {"standardise": lambda c, v: dataclasses.replace(c, spec=dataclasses.replace(c.spec, standardise=v)),
        "delay": lambda c, v: dataclasses.replace(c, spec=dataclasses.replace(c.spec, delay_seconds=v)),
        "context_past": lambda c, v: dataclasses.replace(c, spec=dataclasses.replace(c.spec, past=v)),
        "context_future": lambda c, v: dataclasses.replace(c, spec=dataclasses.replace(c.spec, future=v)),
        "spread": lambda c, v: dataclasses.replace(c, spec=dataclasses.replace(c.spec, spread=v)),
        "weights": lambda c, v: dataclasses.replace(c, weighting=v),
        "regularisation": lambda c, v: dataclasses.replace(c, params=v)}


_VALUE = {"standardise": lambda c: c.spec.standardise, "delay": lambda c: c.spec.delay_seconds,
          "context_past": lambda c: c.spec.past, "context_future": lambda c: c.spec.future,
          "spread": lambda c: c.spec.spread, "weights": lambda c: c.weighting, "regularisation": lambda c: c.params}


def choose(cv: InnerCV, output: int, truth: dict, task, criterion, settings, family) -> Chosen:
    """The candidate the steps choose for one output (``truth``: film -> its targets).

    A hyper-parameter or weights step keeps the candidate with the best inner figure (both are
    ways of fitting the same inputs).  Any other step (the inputs' structure) keeps
    the value it starts from (the fixed one, or the grid's first if the fixed one is not in the
    grid) unless another is better by at least ``settings.min_gain`` standard errors of the
    paired per-film differences (:func:`gain`): with a few films, inner figures are noisy, and
    a structure chosen by noise costs more on new films than it gains on these."""
    current = start(settings, family)
    path = []
    for step, values in steps(settings, family):
        margin = 0.0 if step in ("regularisation", "weights") else settings.min_gain
        held = _VALUE[step](current)
        incumbent = _SET[step](current, held if held in values else values[0])
        best = (*cv.figure(output, incumbent, truth, task, criterion), incumbent, _VALUE[step](incumbent))
        for value in values:
            candidate = _SET[step](current, value)
            score, oof = cv.figure(output, candidate, truth, task, criterion)
            if score > best[0] and (margin == 0 or gain(truth, oof, best[1], task, criterion) >= margin):
                best = (score, oof, candidate, value)
        current = best[2]
        path.append({"step": step, "value": dict(best[3]) if step == "regularisation" else best[3],
                     "inner_figure": best[0]})
    score, oof = cv.figure(output, current, truth, task, criterion)
    return Chosen(current, score, oof, path)


def hedge_start(chosen: Chosen, settings, family) -> Candidate | None:
    """The candidate whose within-film curve a hedged model mixes into the chosen one's
    (:func:`hedged`): the run's fixed settings (:func:`start`: inputs and film weighting) with the
    hyper-parameters the first step chose for them; None where that is the chosen candidate itself
    (nothing to hedge; a chosen candidate that differs from it only in its weighting or its
    hyper-parameters is hedged)."""
    first = chosen.path[0]["value"]   # the first step is the regularisation's (:func:`steps`)
    plain = dataclasses.replace(start(settings, family), params=tuple(sorted(first.items())))
    return None if plain == chosen.candidate else plain


def hedged(chosen: np.ndarray, plain: np.ndarray, share: float) -> np.ndarray:
    """One film's curve: the level (mean over the film's segments) of ``chosen``, and its
    within-film deviations ``1 - share`` of ``chosen``'s plus ``share`` of ``plain``'s.

    With a few training films a step may move the inputs' structure by noise, and a structure
    that carries the films' level (global standardisation) may shape each film's curve worse
    than per-film z-scores: the hedge keeps what the choice learnt about the level and averages
    the two shapes, as model averaging does when the evidence cannot tell them apart.

    >>> hedged(np.array([1.0, 3.0]), np.array([0.0, -4.0]), 0.5).tolist()
    [2.5, 1.5]
    >>> hedged(np.array([1.0, 3.0]), np.array([5.0, 9.0]), 0.0).tolist()
    [1.0, 3.0]
    """
    if share == 0 or len(chosen) == 0:
        return chosen
    return chosen + share * ((plain - plain.mean()) - (chosen - chosen.mean()))


def gain(truth: dict, challenger: dict, incumbent: dict, task, criterion) -> float:
    """How much better ``challenger``'s predictions are than ``incumbent``'s, per film by the
    criterion (films where it is undefined left out), in standard errors of the mean of the
    paired differences (``inf`` when they all agree; ``-inf`` with fewer than 2 films).

    >>> from mediaeval.task import VALENCE_AROUSAL
    >>> truth = {"A": np.zeros(2), "B": np.zeros(2), "C": np.zeros(2)}
    >>> near = {"A": np.full(2, 0.1), "B": np.full(2, 0.2), "C": np.full(2, 0.1)}
    >>> far = {"A": np.full(2, 0.3), "B": np.full(2, 0.3), "C": np.full(2, 0.4)}
    >>> round(gain(truth, near, far, VALENCE_AROUSAL, None), 2)
    3.15
    """
    differences = np.array([task.column_figure({n: truth[n]}, {n: challenger[n]}, criterion)
                            - task.column_figure({n: truth[n]}, {n: incumbent[n]}, criterion) for n in truth])
    differences = differences[~np.isnan(differences)]
    if len(differences) < 2:
        return -math.inf
    error = differences.std(ddof=1) / math.sqrt(len(differences))
    return math.copysign(math.inf, differences.mean()) if error == 0 else float(differences.mean() / error)


def refit(cv_family, settings, candidate: Candidate, classify: bool, seed: int, inputs: dict, truth: dict):
    """``candidate``'s estimator fitted on every film of ``truth`` (``inputs``: film -> its inputs)."""
    names = list(truth)
    return fit_estimator(cv_family, settings, candidate.hyper, classify, seed,
                         np.concatenate([inputs[n] for n in names]), np.concatenate([truth[n] for n in names]),
                         [len(truth[n]) for n in names], candidate.weighting)


def choices_text(chosen: dict, outputs) -> str:
    """What a model's settings.json says was chosen (``chosen``), in one line, an output after
    another (``outputs``: their names): the standardisation, delay, context, weights,
    hyper-parameters, smoothing and shrinkage.

    >>> choices_text({"targets": [{"standardise": "global", "delay_seconds": 4.0, "context_past": 3,
    ...   "context_future": 1, "film_weighting": 1.0, "params": {"alpha": 1000.0}, "smoothing_segments": 2.0,
    ...   "shrink": 0.6, "hedge": 0.5, "hedged_with": {"standardise": "film", "delay_seconds": 0.0,
    ...   "context_past": 0, "context_future": 0, "film_weighting": 0.5, "params": {"alpha": 300.0}}}]},
    ...   ["valence"])  # doctest: +NORMALIZE_WHITESPACE
    'valence: global standardisation, delay 4 s, context 3 before 1 after, film weighting 1, alpha 1000,
     smoothing 2, shrink 0.60, shape hedged 0.5 with film standardisation, delay 0 s, context 0 before 0 after,
     film weighting 0.5, alpha 300'
    """
    parts = []
    for name, t in zip(outputs, chosen.get("targets", [])):
        bits = []
        if "standardise" in t:
            bits.append(f"{t['standardise']} standardisation")
        if "delay_seconds" in t:
            bits.append(f"delay {t['delay_seconds']:g} s")
        if t.get("spread") is False:
            bits.append("means only")
        if "context_past" in t:
            bits.append(f"context {t['context_past']} before {t['context_future']} after")
        if "film_weighting" in t:
            bits.append(f"film weighting {t['film_weighting']:g}")
        elif t.get("film_weighted"):   # a model of before the weighting was a share
            bits.append("films weighted")
        bits += [f"{k} {v:g}" if isinstance(v, (int, float)) else f"{k} {v}" for k, v in t.get("params", {}).items()]
        if "smoothing_segments" in t:
            bits.append(f"smoothing {t['smoothing_segments']:g}")
        if "shrink" in t:
            bits.append(f"shrink {t['shrink']:.2f}")
        if isinstance(t.get("hedged_with"), dict):
            plain = t["hedged_with"]
            params = "".join(f", {k} {v:g}" for k, v in plain.get("params", {}).items() if isinstance(v, (int, float)))
            bits.append(f"shape hedged {t.get('hedge', 0):g} with {plain.get('standardise')} standardisation, "
                        f"delay {plain.get('delay_seconds', 0):g} s, context {plain.get('context_past', 0)} before "
                        f"{plain.get('context_future', 0)} after, film weighting {plain.get('film_weighting', 0):g}"
                        + params)
        parts.append(f"{name}: " + ", ".join(bits))
    if isinstance(chosen.get("inputs"), dict):   # an LSTM's: its inputs' standardisation and delay
        inputs = chosen["inputs"]
        parts.append(f"inputs ({inputs.get('by', '')}): {inputs.get('standardise')} standardisation, delay "
                     f"{inputs.get('delay_steps', 0)} steps")
    if chosen.get("from_valence_arousal"):
        parts.append("valence/arousal inputs by "
                     + choices_text(chosen["from_valence_arousal"], ("valence", "arousal")))
    return "; ".join(parts)
