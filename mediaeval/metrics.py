"""The task's metrics: arrays in, numbers out.

Every metric takes the ground truth first and the prediction second.  Undefined values are
``nan`` (never a substitute number).  The official figures of the task are per film, then
averaged over films: MSE and PCC of valence and arousal, and the AP of the fear confidences,
whose mean over the films with at least one fear segment is the MAP.  The concordance
correlation (CCC) is reported beside them.  :mod:`mediaeval.scoring`
turns these into the figures of a whole run, with notes on what is undefined and why.
"""
from __future__ import annotations

import numpy as np


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


def concordance_correlation(truth, prediction) -> float:
    """Lin's concordance correlation coefficient (CCC): how well the prediction follows the truth's
    swings *and* its level.

    ``2 s_yŷ / (s_y² + s_ŷ² + (ȳ - mean ŷ)²)`` with population moments (divided by n); range
    [-1, 1], 1 only when ``ŷ = y``.  It is PCC times a bias factor, so a prediction with the right
    shape but the wrong level or scale loses.  A constant prediction scores 0 (where its PCC is
    undefined).  ``nan`` when there are fewer than 2 values or both series are the same constant.

    >>> round(concordance_correlation([1, 2, 3], [2, 3, 4]), 9)     # 2 (2/3) / (2/3 + 2/3 + 1) = 4/7
    0.571428571
    >>> concordance_correlation([1, 2, 3], [1, 2, 3])
    1.0
    >>> concordance_correlation([1, 2, 3], [0.5, 0.5, 0.5])
    0.0
    """
    truth, prediction = _pair(truth, prediction)
    if truth.size < 2:
        return float("nan")
    dt = truth - truth.mean()
    dp = prediction - prediction.mean()
    denominator = float(np.mean(dt ** 2) + np.mean(dp ** 2) + (truth.mean() - prediction.mean()) ** 2)
    if denominator == 0.0:
        return float("nan")
    return min(1.0, max(-1.0, float(2.0 * np.mean(dt * dp) / denominator)))


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


def film_mean_correlation(truth: dict, prediction: dict, metric=pearson_correlation) -> float:
    """The mean over the films of ``truth`` of each film's correlation ``metric`` (PCC, or
    :func:`concordance_correlation`), an undefined one (a film's constant prediction) counting 0:
    what a choice by correlation maximises, so that a candidate cannot win by leaving films
    undefined.

    >>> round(film_mean_correlation({"A": [0.0, 1.0, 2.0], "B": [1.0, 0.0, 1.0]},
    ...                             {"A": [0.0, 1.0, 3.0], "B": [0.5, 0.5, 0.5]}), 9)
    0.490990253
    """
    return float(np.mean([np.nan_to_num(metric(truth[f], prediction[f])) for f in truth]))


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
