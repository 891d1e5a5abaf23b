"""How sure a figure is: percentile bootstrap intervals over films, and paired comparisons.

The official figures of the task are means over films of per-film figures, and the segments of
one film are strongly dependent, so the film is the unit that varies from one set of films to
another: these intervals resample *films* (with replacement), never segments.

* :func:`film_resamples` draws the resamples once, seeded: row ``b`` holds the film indices of
  resample ``b``.  Every figure and every run of one comparison uses the same rows, so two runs
  are compared on the same films in every resample (*paired*).
* :func:`resampled_means` is a figure's value in each resample: the mean over the resample's
  films where the figure is defined (a film without a PCC, or without fear for AP, is left out,
  as it is of the official mean); ``nan`` where no film of the resample has one.
* :func:`percentile_interval` is the percentile interval of those values (95 % by default:
  their 2.5th and 97.5th percentiles, NumPy's linear interpolation between order statistics).
* :func:`paired_difference` is the difference of two runs' figures with the interval of its
  resampled values (:func:`pooled_difference`: its mean over several draws of data and folds on
  the same films), and :func:`verdict` says what that interval shows: ``"better"``,
  ``"worse"`` or ``"indistinguishable"`` (the interval holds 0).
* :func:`repeated_difference` is that difference for runs cross-validated several times (each
  film's figure in each repeat, on other fold splits): films are resampled as above and, within
  each resample, the repeats too (:func:`repeat_resamples`), because the films of one fold share a
  model and its choices, so the luck of the folds is not independent from film to film and a
  resampling of films alone, however many repeats are averaged, does not see it; a resampling of
  whole repeats does.

Pure functions of NumPy arrays; nothing here knows runs, files or subtasks.
"""
from __future__ import annotations

import numpy as np

RESAMPLES = 2000
LEVEL = 0.95
SEED = 0

BETTER, WORSE, INDISTINGUISHABLE = "better", "worse", "indistinguishable"


def film_resamples(n_films: int, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """``(resamples, n_films)`` film indices, each row ``n_films`` draws with replacement from
    ``range(n_films)`` (``numpy.random.default_rng(seed)``: the same seed, the same rows).

    >>> film_resamples(3, resamples=4, seed=0).shape
    (4, 3)
    >>> bool(((film_resamples(3, 50) >= 0) & (film_resamples(3, 50) < 3)).all())
    True
    """
    if n_films < 1 or resamples < 1:
        raise ValueError(f"expected at least one film and one resample, got {n_films} and {resamples}")
    return np.random.default_rng(seed).integers(0, n_films, size=(resamples, n_films))


def film_mean(values, strict: bool = False) -> float:
    """The mean of per-film ``values`` over the films where it is defined (not ``nan``); with
    ``strict``, ``nan`` as soon as one film's is (the 2017 rule for the official PCC).  ``nan``
    when no film has one.

    >>> film_mean([0.5, float("nan"), 0.25]), film_mean([0.5, float("nan")], strict=True)
    (0.375, nan)
    """
    values = np.asarray(values, dtype=np.float64)
    defined = values[~np.isnan(values)]
    if not defined.size or (strict and defined.size < values.size):
        return float("nan")
    return float(np.mean(defined))


def resampled_means(values, samples: np.ndarray) -> np.ndarray:
    """Per resample (row of ``samples``), the mean of ``values`` over its films where defined;
    ``nan`` where none is.

    >>> resampled_means([1.0, 2.0, float("nan")], np.array([[0, 0, 1], [2, 2, 2], [1, 2, 2]])).tolist()
    [1.3333333333333333, nan, 2.0]
    """
    drawn = np.asarray(values, dtype=np.float64)[samples]
    defined = ~np.isnan(drawn)
    counts = defined.sum(axis=1)
    sums = np.where(defined, drawn, 0.0).sum(axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def percentile_interval(statistics, level: float = LEVEL) -> tuple[float, float]:
    """The ``(1 - level) / 2`` and ``(1 + level) / 2`` percentiles of the defined ``statistics``
    (NumPy's linear interpolation); ``(nan, nan)`` when none is defined.

    >>> [round(v, 9) for v in percentile_interval(np.arange(101.0), 0.9)]
    [5.0, 95.0]
    """
    statistics = np.asarray(statistics, dtype=np.float64)
    statistics = statistics[~np.isnan(statistics)]
    if not statistics.size:
        return float("nan"), float("nan")
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(statistics, [tail, 100.0 - tail])
    return float(low), float(high)


def interval(values, samples: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The percentile interval of the film mean of per-film ``values`` over ``samples``.

    >>> [round(v, 9) for v in interval([0.1, 0.1, 0.1], film_resamples(3))]
    [0.1, 0.1]
    """
    return percentile_interval(resampled_means(values, samples), level)


def paired_difference(values, reference, samples: np.ndarray,
                      level: float = LEVEL) -> tuple[float, float, float]:
    """``(difference, low, high)``: the film mean of ``values`` minus that of ``reference`` (per-film
    figures of two runs on the same films, in the same order; each mean over its defined films),
    and the percentile interval of that difference over ``samples``, both means taken on the
    same resampled films.

    >>> [round(v, 9) for v in paired_difference([0.2, 0.3, 0.4], [0.1, 0.2, 0.3], film_resamples(3))]
    [0.1, 0.1, 0.1]
    """
    difference = film_mean(values) - film_mean(reference)
    low, high = percentile_interval(resampled_means(values, samples) - resampled_means(reference, samples), level)
    return difference, low, high


def pooled_difference(pairs, samples: np.ndarray, level: float = LEVEL) -> tuple[float, float, float]:
    """``(difference, low, high)`` of a difference measured in several draws (other data, other
    folds) on the same films: ``pairs`` holds, per draw, the per-film figures of a run and of its
    reference (each in the same film order).  The difference is the mean over draws of each draw's
    :func:`paired_difference`; its interval is the percentile interval of that mean when every
    draw takes the same film resamples (a film drawn is drawn in every draw).

    >>> samples = film_resamples(3)
    >>> [round(v, 9) for v in pooled_difference([([0.2, 0.3, 0.4], [0.1, 0.2, 0.3]),
    ...                                          ([0.3, 0.3, 0.3], [0.3, 0.3, 0.3])], samples)]
    [0.05, 0.05, 0.05]
    """
    differences = [paired_difference(values, reference, samples, level)[0] for values, reference in pairs]
    resampled = np.mean([resampled_means(values, samples) - resampled_means(reference, samples)
                         for values, reference in pairs], axis=0)
    low, high = percentile_interval(resampled, level)
    return float(np.mean(differences)), low, high


def repeat_resamples(n_repeats: int, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """``(resamples, n_repeats)`` repeat indices, each row ``n_repeats`` draws with replacement
    from ``range(n_repeats)`` (``numpy.random.default_rng([seed, n_repeats])``: runs of as many
    repeats draw the same rows, so runs on the same fold splits are paired repeat by repeat).

    >>> repeat_resamples(3, resamples=5).shape, bool((repeat_resamples(1, 5) == 0).all())
    ((5, 3), True)
    """
    return np.random.default_rng([seed, n_repeats]).integers(0, n_repeats, size=(resamples, n_repeats))


def resampled_repeats(values, samples: np.ndarray, repeat_samples: np.ndarray | None = None) -> np.ndarray:
    """Per resample, the mean over the resample's repeats (the row of ``repeat_samples``; every
    repeat once when ``None``) of each repeat's film mean (:func:`resampled_means`) over the
    resample's films; ``values`` is ``(repeats, films)``: each repeat's per-film figures.

    A mean of ``R`` values drawn with replacement from ``R`` varies by ``(R - 1) / R`` of the
    variance of the mean of ``R`` new ones (the plain bootstrap's bias, large for 3 repeats), so
    its distance to the resample's mean over every repeat is stretched by ``sqrt(R / (R - 1))``
    (the same as resampling the repeats' deviations so stretched).

    >>> values = [[1.0, 2.0], [3.0, 4.0]]
    >>> resampled_repeats(values, np.array([[0, 0], [1, 1]]), np.array([[1, 1], [0, 1]])).tolist()
    [3.414213562373095, 3.0]
    """
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    per_repeat = np.stack([resampled_means(v, samples) for v in values], axis=1)   # (resamples, repeats)
    center = per_repeat.mean(axis=1)
    if repeat_samples is None or values.shape[0] == 1:
        return center
    drawn = np.take_along_axis(per_repeat, repeat_samples, axis=1).mean(axis=1)
    return center + np.sqrt(values.shape[0] / (values.shape[0] - 1)) * (drawn - center)


def repeated_difference(values, reference, samples: np.ndarray, repeat_samples: dict[int, np.ndarray],
                        level: float = LEVEL) -> tuple[float, float, float]:
    """``(difference, low, high)`` of two runs cross-validated ``R`` times each (``values`` and
    ``reference``: ``(R, films)``, each repeat's per-film figures, the films in the same order):
    the difference of the film means of each film's figure averaged over repeats, and the
    percentile interval of its resampled values, films drawn by ``samples`` (the same for both
    runs: paired) and repeats by ``repeat_samples[R]`` (:func:`repeat_resamples`) within each.

    >>> samples, repeats = film_resamples(3), {2: repeat_resamples(2)}
    >>> [round(v, 9) for v in repeated_difference([[0.2, 0.3, 0.4], [0.2, 0.3, 0.4]], [[0.1, 0.2, 0.3]] * 2,
    ...                                           samples, repeats)]
    [0.1, 0.1, 0.1]
    """
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    reference = np.atleast_2d(np.asarray(reference, dtype=np.float64))
    difference = film_mean(values.mean(axis=0)) - film_mean(reference.mean(axis=0))
    resampled = (resampled_repeats(values, samples, repeat_samples.get(values.shape[0]))
                 - resampled_repeats(reference, samples, repeat_samples.get(reference.shape[0])))
    low, high = percentile_interval(resampled, level)
    return difference, low, high


def verdict(low: float, high: float, lower_is_better: bool) -> str | None:
    """What the interval ``[low, high]`` of a difference (a run minus another) says: ``"better"``
    or ``"worse"`` when it excludes 0 (by the figure's direction), ``"indistinguishable"`` when it
    holds 0; ``None`` when undefined.

    >>> verdict(-0.02, -0.01, lower_is_better=True), verdict(-0.02, 0.01, True), verdict(0.01, 0.02, True)
    ('better', 'indistinguishable', 'worse')
    >>> verdict(0.01, 0.02, lower_is_better=False)
    'better'
    """
    if np.isnan(low) or np.isnan(high):
        return None
    if low > 0:
        return WORSE if lower_is_better else BETTER
    if high < 0:
        return BETTER if lower_is_better else WORSE
    return INDISTINGUISHABLE
