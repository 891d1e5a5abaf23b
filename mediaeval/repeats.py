"""Repeated cross-validation: the figures of ``R`` repeats, each on its own fold split, as one.

A run with ``folds_repeats = R > 1`` (:class:`mediaeval.runs.RunDefinition`) is cross-validated on
``R`` fold splits (seeds ``seed``, ``seed + 1``, ...).  Each repeat predicts every development film
once, out of fold, and is scored on its own (:func:`mediaeval.scoring.score_folds`); the run's
figures are then the mean over repeats:

* each film's per-film figure: the mean over repeats of that film's figure in each repeat
  (:func:`mean_over_repeats`), so that the leaderboard's paired comparisons, film by film, see a
  film's figure with the luck of its folds averaged out;
* each official and pooled figure: the mean over repeats of the repeat's figure (for a mean over
  films, the same as the mean over films of the per-film means, whenever every film's is defined);
* an undefined figure in any repeat (``nan``: a PCC of a constant prediction, say) is undefined in
  the mean, never replaced by the mean of the other repeats;
* the spread over repeats (:func:`spread`): the sample standard deviation (``ddof = 1``) of the
  repeats' figures, what one repeat's figure would move by from one fold split to another.

Pure functions of dicts of numbers; nothing here knows files or runs.
"""
from __future__ import annotations

import math

import numpy as np


def _undefined(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def mean_over_repeats(tables: list[dict]) -> dict:
    """Per key of the first table, the mean over ``tables`` (one per repeat) of its value; ``nan``
    when any repeat's is undefined (``nan``, or absent); a value equal in every repeat (a count of
    films, say) as it is.

    >>> mean_over_repeats([{"mse": 0.1, "films": 3}, {"mse": 0.3, "films": 3}])
    {'mse': 0.2, 'films': 3}
    >>> mean_over_repeats([{"pcc": 0.5}, {"pcc": float("nan")}])
    {'pcc': nan}
    """
    out = {}
    for key in tables[0]:
        values = [table.get(key) for table in tables]
        if any(_undefined(v) for v in values):
            out[key] = math.nan
        elif all(v == values[0] and type(v) is type(values[0]) for v in values):
            out[key] = values[0]
        else:
            out[key] = float(np.mean(values))
    return out


def per_film_over_repeats(per_film: list[dict[str, dict]]) -> dict[str, dict]:
    """Per film (those of the first repeat), :func:`mean_over_repeats` of its per-film figures."""
    return {film: mean_over_repeats([repeat[film] for repeat in per_film]) for film in per_film[0]}


def spread(values) -> float:
    """The sample standard deviation (``ddof = 1``) of a figure over repeats; ``nan`` when one is
    undefined or there are fewer than 2.

    >>> round(spread([0.1, 0.2, 0.3]), 12), spread([0.1]), spread([0.1, None])
    (0.1, nan, nan)
    """
    values = list(values)
    if len(values) < 2 or any(_undefined(v) for v in values):
        return math.nan
    return float(np.std(np.asarray(values, dtype=np.float64), ddof=1))


def notes_over_repeats(notes: list[list[str]], seeds: list[int]) -> list[str]:
    """The notes of every repeat: a note every repeat has once, the others prefixed with their
    repeat and its fold seed (``repeat 2 (fold seed 1): ...``).

    >>> notes_over_repeats([["a", "b"], ["a", "c"]], [0, 1])
    ['a', 'repeat 1 (fold seed 0): b', 'repeat 2 (fold seed 1): c']
    """
    common = [n for n in notes[0] if all(n in other for other in notes[1:])]
    own = [f"repeat {r} (fold seed {seed}): {n}" for r, (seed, repeat) in enumerate(zip(seeds, notes), start=1)
           for n in repeat if n not in common]
    return common + own
