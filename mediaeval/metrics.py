"""The task's metrics, and scoring a whole run against ground truth.

Every metric takes the ground truth first and the prediction second.  Undefined values are
``nan`` (never a substitute number); the run-level scorer says in its notes which film and why.

Official figures (SPEC section 7): MSE and PCC per film, then their unweighted mean over films;
AP per film from the fear confidences, MAP over the films with at least one fear segment.
Pooled figures (every segment of every film together) are reported beside them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

VALENCE_AROUSAL_KEYS = ("valence_mse", "valence_pcc", "arousal_mse", "arousal_pcc", "quadrant_accuracy")
FEAR_KEYS = ("map", "accuracy", "precision", "recall", "f1")


def _pair(truth, prediction) -> tuple[np.ndarray, np.ndarray]:
    truth = np.asarray(truth, dtype=np.float64)
    prediction = np.asarray(prediction, dtype=np.float64)
    if truth.shape != prediction.shape:
        raise ValueError(f"truth and prediction differ in shape: {truth.shape} vs {prediction.shape}")
    return truth, prediction


def mean_squared_error(truth, prediction) -> float:
    """Mean squared error, ``mean((y - ŷ)²)``; range [0, ∞), 0 is perfect; ``nan`` when empty.

    >>> mean_squared_error([0.0, 0.5, -0.5], [0.0, 0.0, 0.0])
    0.16666666666666666
    """
    truth, prediction = _pair(truth, prediction)
    if truth.size == 0:
        return float("nan")
    return float(np.mean((truth - prediction) ** 2))


def pearson_correlation(truth, prediction) -> float:
    """Pearson's correlation coefficient (PCC).

    ``Σ (y - ȳ)(ŷ - mean ŷ) / sqrt(Σ (y - ȳ)² Σ (ŷ - mean ŷ)²)``; range [-1, 1].
    Undefined, so ``nan``, when either series is constant or has fewer than 2 values.

    >>> pearson_correlation([1, 2, 3], [2, 4, 7])
    0.9933992677987828
    >>> pearson_correlation([1, 2, 3], [0.5, 0.5, 0.5])
    nan
    """
    truth, prediction = _pair(truth, prediction)
    if truth.size < 2 or np.all(truth == truth[0]) or np.all(prediction == prediction[0]):
        return float("nan")
    dt = truth - truth.mean()
    dp = prediction - prediction.mean()
    value = float(np.sum(dt * dp) / np.sqrt(np.sum(dt ** 2) * np.sum(dp ** 2)))
    return min(1.0, max(-1.0, value))


def average_precision(truth, confidence) -> float:
    """Non-interpolated average precision of binary labels ranked by confidence.

    ``AP = Σ_n (R_n - R_{n-1}) P_n`` over the distinct confidence thresholds, highest first
    (as scikit-learn's ``average_precision_score``); tied confidences form one threshold.
    Range [0, 1]; ``nan`` when ``truth`` has no positive.

    >>> average_precision([0, 1, 1, 0], [0.1, 0.9, 0.4, 0.5])
    0.8333333333333333
    """
    truth, confidence = _pair(truth, confidence)
    positives = truth.sum()
    if truth.size == 0 or positives == 0:
        return float("nan")
    order = np.argsort(-confidence, kind="mergesort")
    truth, confidence = truth[order], confidence[order]
    last_of_threshold = np.r_[np.flatnonzero(np.diff(confidence)), truth.size - 1]
    true_positives = np.cumsum(truth)[last_of_threshold]
    precision = true_positives / (last_of_threshold + 1)
    recall = true_positives / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _confusion(truth, prediction) -> tuple[int, int, int, int]:
    truth, prediction = _pair(truth, prediction)
    truth, prediction = truth.astype(bool), prediction.astype(bool)
    tp = int(np.sum(truth & prediction))
    fp = int(np.sum(~truth & prediction))
    fn = int(np.sum(truth & ~prediction))
    tn = int(np.sum(~truth & ~prediction))
    return tp, fp, fn, tn


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else float("nan")


def accuracy(truth, prediction) -> float:
    """Share of labels predicted right, ``(TP + TN) / n``; ``nan`` when empty.

    >>> accuracy([0, 1, 1, 0], [0, 1, 0, 0])
    0.75
    """
    tp, fp, fn, tn = _confusion(truth, prediction)
    return _ratio(tp + tn, tp + fp + fn + tn)


def precision(truth, prediction) -> float:
    """``TP / (TP + FP)``; ``nan`` when nothing is predicted positive.

    >>> precision([0, 1, 1, 0], [1, 1, 0, 0])
    0.5
    """
    tp, fp, _, _ = _confusion(truth, prediction)
    return _ratio(tp, tp + fp)


def recall(truth, prediction) -> float:
    """``TP / (TP + FN)``; ``nan`` when the truth has no positive.

    >>> recall([0, 1, 1, 0], [1, 1, 0, 0])
    0.5
    """
    tp, _, fn, _ = _confusion(truth, prediction)
    return _ratio(tp, tp + fn)


def f1(truth, prediction) -> float:
    """``2 TP / (2 TP + FP + FN)``, the harmonic mean of precision and recall.

    ``nan`` when neither truth nor prediction has a positive.

    >>> f1([0, 1, 1, 0], [1, 1, 0, 0])
    0.5
    """
    tp, fp, fn, _ = _confusion(truth, prediction)
    return _ratio(2 * tp, 2 * tp + fp + fn)


def quadrant_accuracy(truth, prediction) -> float:
    """Share of segments whose (valence, arousal) quadrant is predicted right.

    Inputs have shape (n, 2); a value >= 0 counts as positive.  ``nan`` when empty.

    >>> quadrant_accuracy([[0.2, -0.1], [-0.3, 0.4]], [[0.1, 0.0], [-0.2, 0.1]])
    0.5
    """
    truth, prediction = _pair(truth, prediction)
    if truth.ndim != 2 or truth.shape[1] != 2:
        raise ValueError(f"expected shape (n, 2), got {truth.shape}")
    if truth.shape[0] == 0:
        return float("nan")
    return float(np.mean(np.all((truth >= 0) == (prediction >= 0), axis=1)))


# --------------------------------------------------------------------------- choosing on films

def film_mean_mse(truth: dict, prediction: dict) -> float:
    """The official MSE of one column: the unweighted mean over the films of ``truth`` of each
    film's :func:`mean_squared_error` (``truth[film]``, ``prediction[film]`` 1-D arrays).

    >>> film_mean_mse({"A": [0.0, 1.0], "B": [0.5]}, {"A": [0.0, 0.0], "B": [0.0]})
    0.375
    """
    return float(np.mean([mean_squared_error(truth[f], prediction[f]) for f in truth]))


def mean_average_precision(truth: dict, confidence: dict) -> float:
    """The official MAP: the mean :func:`average_precision` over the films of ``truth`` with at
    least one positive segment; ``nan`` when no film has one.

    >>> mean_average_precision({"A": [0, 1], "B": [1, 0], "C": [0, 0]},
    ...                        {"A": [0.2, 0.8], "B": [0.2, 0.8], "C": [0.5, 0.5]})
    0.75
    """
    values = [average_precision(truth[f], confidence[f]) for f in truth if np.any(np.asarray(truth[f]) > 0)]
    return float(np.mean(values)) if values else float("nan")


def best_f1_threshold(truth: dict, confidence: dict) -> float:
    """The confidence threshold (a value >= it is labelled positive) that maximises the F1 of all
    segments of all films together; ties go to the lowest.  Candidates are the confidences
    rounded to 6 decimals; 0.5 when no segment is positive.

    >>> best_f1_threshold({"A": [0, 1, 1, 0]}, {"A": [0.1, 0.8, 0.6, 0.3]})
    0.6
    >>> best_f1_threshold({"A": [0, 0]}, {"A": [0.1, 0.8]})
    0.5
    """
    y = np.concatenate([np.asarray(v, dtype=np.float64) for v in truth.values()])
    c = np.concatenate([np.asarray(v, dtype=np.float64) for v in confidence.values()])
    if not np.any(y > 0):
        return 0.5
    candidates = np.unique(np.round(c, 6))
    scores = [(f1(y, (c >= t).astype(float)), -t) for t in candidates]
    best = max(range(len(candidates)), key=lambda i: (np.nan_to_num(scores[i][0], nan=-1.0), scores[i][1]))
    return float(candidates[best])


# --------------------------------------------------------------------------- run-level scores

@dataclass
class Scores:
    """Figures of one run: the official ones, the pooled ones, and per film."""

    subtask: str
    official: dict[str, float]
    pooled: dict[str, float]
    per_film: dict[str, dict[str, float]]
    notes: list[str] = field(default_factory=list)
    folds: list[dict] = field(default_factory=list)
    fold_mean: dict = field(default_factory=dict)
    fold_std: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """A JSON-ready dict; ``nan`` becomes ``None``."""
        def clean(mapping):
            return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in mapping.items()}

        out = {"subtask": self.subtask, "official": clean(self.official),
               "pooled": clean(self.pooled),
               "per_film": {film: clean(v) for film, v in self.per_film.items()},
               "notes": list(self.notes)}
        if self.folds:
            out.update({"folds": self.folds, "fold_mean": self.fold_mean, "fold_std": self.fold_std})
        return out


def _film_mean(per_film: dict[str, dict[str, float]], key: str, notes: list[str], why: str,
               name: str | None = None) -> float:
    """Mean of ``per_film[*][key]`` over the films where it is defined; a note (about ``name``,
    default ``key``) names the others."""
    values = {film: figures[key] for film, figures in per_film.items()}
    undefined = sorted(film for film, v in values.items() if np.isnan(v))
    if undefined:
        notes.append(f"{name or key}: undefined for {len(undefined)} of {len(values)} films ({why}), left out "
                     f"of the mean: {', '.join(undefined)}")
    defined = [v for v in values.values() if not np.isnan(v)]
    return float(np.mean(defined)) if defined else float("nan")


def _official_pcc(per_film: dict[str, dict[str, float]], key: str, notes: list[str]) -> tuple[float, float]:
    """The official mean PCC over films and the mean over the films whose PCC is defined.

    As in the 2017 evaluation script, one film whose PCC is undefined (constant truth or
    prediction) makes the mean over films undefined (``nan``); the mean over the other films is
    returned beside it, and a note names the films.
    """
    values = {film: figures[key] for film, figures in per_film.items()}
    undefined = sorted(film for film, v in values.items() if np.isnan(v))
    defined = [v for v in values.values() if not np.isnan(v)]
    mean_defined = float(np.mean(defined)) if defined else float("nan")
    if undefined:
        notes.append(f"{key}: undefined for {len(undefined)} of {len(values)} films (constant truth or "
                     f"prediction): {', '.join(undefined)}; the official mean over films is undefined, as in "
                     f"the 2017 script; {key}_defined_films is the mean over the other {len(defined)}")
        return float("nan"), mean_defined
    return mean_defined, mean_defined


def score_valence_arousal(truth: dict[str, np.ndarray], prediction: dict[str, np.ndarray]) -> Scores:
    """Score valence/arousal predictions; each dict maps a film to an array (K, 2).

    Official figures are unweighted means over films of the per-film figures.  The official
    PCC is undefined (``nan``) when any film's PCC is (constant truth or prediction), as the mean
    over films of the 2017 script was; ``<key>_defined_films`` is the mean over the films whose
    PCC is defined, and a note names the others.  An undefined MSE or quadrant accuracy (a film
    of no segment) is left out of its mean, with a note.
    """
    per_film, notes = {}, []
    for film in sorted(truth):
        y, p = _pair(truth[film], prediction[film])
        per_film[film] = {
            "valence_mse": mean_squared_error(y[:, 0], p[:, 0]),
            "valence_pcc": pearson_correlation(y[:, 0], p[:, 0]),
            "arousal_mse": mean_squared_error(y[:, 1], p[:, 1]),
            "arousal_pcc": pearson_correlation(y[:, 1], p[:, 1]),
            "quadrant_accuracy": quadrant_accuracy(y, p),
        }
    official = {}
    for key in VALENCE_AROUSAL_KEYS:
        if key.endswith("_pcc"):
            official[key], official[f"{key}_defined_films"] = _official_pcc(per_film, key, notes)
        else:
            official[key] = _film_mean(per_film, key, notes, "no segment")
    y = np.concatenate([truth[f] for f in sorted(truth)])
    p = np.concatenate([prediction[f] for f in sorted(truth)])
    pooled = {
        "valence_mse": mean_squared_error(y[:, 0], p[:, 0]),
        "valence_pcc": pearson_correlation(y[:, 0], p[:, 0]),
        "arousal_mse": mean_squared_error(y[:, 1], p[:, 1]),
        "arousal_pcc": pearson_correlation(y[:, 1], p[:, 1]),
        "quadrant_accuracy": quadrant_accuracy(y, p),
    }
    for key in ("valence_pcc", "arousal_pcc"):
        if np.isnan(pooled[key]):
            notes.append(f"pooled {key}: undefined (constant truth or prediction over all films)")
    return Scores("valence_arousal", official, pooled, per_film, notes)


def _fear_figures(labels: np.ndarray, predicted: np.ndarray, confidence: np.ndarray) -> dict[str, float]:
    return {"ap": average_precision(labels, confidence), "accuracy": accuracy(labels, predicted),
            "precision": precision(labels, predicted), "recall": recall(labels, predicted),
            "f1": f1(labels, predicted)}


_UNDEFINED_BECAUSE = {"precision": "no segment is predicted fearful",
                      "recall": "no segment is fearful in the truth",
                      "f1": "no fearful segment in truth or prediction"}


def score_fear(truth: dict[str, np.ndarray], prediction: dict[str, np.ndarray]) -> Scores:
    """Score fear predictions; ``truth[film]`` is (K,) of 0/1, ``prediction[film]`` (K, 2) of
    label and confidence.

    Official: ``map`` is the mean AP over films with at least one fear segment (the others are
    counted in ``map_films_left_out``), the figure the task page announced; accuracy,
    precision, recall and F1 are pooled over all segments, and ``<figure>_per_film`` is their
    unweighted mean over films (over the films where the figure is defined; a note names the
    others).  Which of the two the 2017 overview reported is unconfirmed.  Pooled: the same
    label figures, and ``map`` the AP of all segments ranked together.
    """
    per_film, notes = {}, []
    for film in sorted(truth):
        y, p = np.asarray(truth[film], dtype=np.float64), np.asarray(prediction[film], dtype=np.float64)
        per_film[film] = _fear_figures(y, p[:, 0], p[:, 1])
    aps = {film: v["ap"] for film, v in per_film.items()}
    without = sorted(film for film, ap in aps.items() if np.isnan(ap))
    if without:
        notes.append(f"map: {len(without)} of {len(aps)} films have no fear segment and are left out: "
                     f"{', '.join(without)}")
    defined = [ap for ap in aps.values() if not np.isnan(ap)]
    y = np.concatenate([np.asarray(truth[f], dtype=np.float64) for f in sorted(truth)])
    p = np.concatenate([np.asarray(prediction[f], dtype=np.float64) for f in sorted(truth)])
    pooled = _fear_figures(y, p[:, 0], p[:, 1])
    pooled["map"] = pooled.pop("ap")
    official = {"map": float(np.mean(defined)) if defined else float("nan"),
                **{k: pooled[k] for k in FEAR_KEYS[1:]},
                "map_films": len(defined), "map_films_left_out": len(without)}
    for key in FEAR_KEYS[2:]:
        if np.isnan(pooled[key]):
            notes.append(f"{key}: undefined ({_UNDEFINED_BECAUSE[key]})")
    for key in FEAR_KEYS[1:]:
        official[f"{key}_per_film"] = _film_mean(per_film, key, notes, _UNDEFINED_BECAUSE.get(key, "no segment"),
                                                 f"{key}_per_film")
    return Scores("fear", official, {k: pooled[k] for k in FEAR_KEYS}, per_film, notes)


def score_run(path, dataset, truncate: bool = False, folds_file=None) -> Scores:
    """Score a run file against the ground truth of ``dataset`` (a :class:`~mediaeval.dataset.Dataset`).

    Every film of the run needs ground truth of the run's subtask, and by default exactly its
    number of segments; ``truncate=True`` cuts prediction and truth to the shorter length, as
    the evaluation script of the time did, and says so in the notes.

    Raises
    ------
    DataError
        A malformed run file, a film without ground truth, or a length mismatch (without
        ``truncate``), naming the film; a folds file naming a film the run does not hold.

    The run is read one line at a time, keeping per film at most its truth's number of rows.
    """
    from .dataset import VALENCE_AROUSAL
    from .errors import DataError
    from .submission import SCORER_FAILURES, parse_run, raise_if_errors, run_subtask

    subtask = run_subtask(path)

    def truth_length(film: str) -> int:  # rows kept per film: the truth's, so memory follows the dataset
        return len(dataset.films[film].labels(subtask)) if dataset.films[film].has_labels(subtask) else 0

    run, problems = parse_run(path, subtask, dataset, keep=truth_length)
    missing = [(film, line) for film, line in run.unknown.items()]
    missing += [(film, line) for film, line in run.film_lines.items() if not dataset.films[film].has_labels(subtask)]
    if missing:
        film, line = min(missing, key=lambda item: item[1])
        raise DataError(run.path, f"film {film} has no {subtask} ground truth in {dataset.root}", line)
    raise_if_errors(run.path, problems)
    truth, prediction, notes = {}, {}, []
    if any(problems.counts[code] for code in SCORER_FAILURES):
        notes.append(f"{run.path}: blank lines or spaces around film names: the organisers' scorer failed on "
                     f"such a run (see mediaeval validate)")
    for film, values in run.films.items():
        labels = dataset.films[film].labels(subtask)
        count = run.counts[film]
        if len(labels) != count:
            if not truncate:
                raise DataError(run.path, f"film {film} has {count} segment lines but its ground "
                                          f"truth has {len(labels)} (--truncate cuts both to the shorter)",
                                run.film_lines[film])
            shorter = min(len(labels), count)
            notes.append(f"{film}: truncated to {shorter} segments (prediction {count}, "
                         f"truth {len(labels)})")
            labels, values = labels[:shorter], values[:shorter]
        truth[film], prediction[film] = labels, values
    scorer = score_valence_arousal if run.subtask == VALENCE_AROUSAL else score_fear
    scores = scorer(truth, prediction)
    scores.notes[:0] = notes
    if folds_file is not None:
        from .folds import read_folds

        folds = read_folds(folds_file)
        for k, films in enumerate(folds, start=1):
            for film in films:
                if film not in truth:
                    raise DataError(folds_file, f"fold {k}: film {film} is not in the run {run.path}; "
                                                f"expected the folds of this run (folds.json of its model folder)")
        summary = score_folds(truth, prediction, folds, run.subtask)
        scores.folds, scores.fold_mean, scores.fold_std = summary["folds"], summary["fold_mean"], summary["fold_std"]
    return scores


def score_folds(truth: dict[str, np.ndarray], prediction: dict[str, np.ndarray], folds: list[list[str]],
                subtask: str) -> dict:
    """Scores of all films together, of each fold, and the mean and standard deviation over folds.

    Returns the JSON-ready dict of :meth:`Scores.to_json` plus ``folds`` (each fold's films and
    official figures), ``fold_mean`` and ``fold_std`` (population standard deviation; undefined
    fold figures are left out, and ``None`` when no fold has one).
    """
    from .dataset import VALENCE_AROUSAL

    scorer = score_valence_arousal if subtask == VALENCE_AROUSAL else score_fear
    result = scorer(truth, prediction).to_json()
    per_fold = []
    for films in folds:
        films = [f for f in films if f in truth]
        fold = scorer({f: truth[f] for f in films}, {f: prediction[f] for f in films})
        per_fold.append({"films": films, "official": fold.to_json()["official"]})
    keys = list(result["official"])
    mean, std = {}, {}
    for key in keys:
        values = [f["official"][key] for f in per_fold if f["official"][key] is not None]
        mean[key] = float(np.mean(values)) if values else None
        std[key] = float(np.std(values)) if values else None
    result.update({"folds": per_fold, "fold_mean": mean, "fold_std": std})
    return result
