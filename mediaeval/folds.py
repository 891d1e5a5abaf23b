"""Cross-validation folds by film, deterministic from sorted film names and a seed."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .atomic import write_text_atomic
from .errors import DataError


def make_folds(films, n_folds: int, seed: int = 0) -> list[list[str]]:
    """Split film names into ``n_folds`` folds of near-equal size (sorted names, then a seeded
    permutation).  Fewer films than folds gives one film per fold.

    >>> make_folds(["c", "a", "b", "d"], 2, seed=0)
    [['b', 'c'], ['a', 'd']]
    """
    names = sorted(films)
    if len(names) < 2:
        raise ValueError(f"cross-validation needs at least 2 films, got {len(names)}")
    order = np.random.default_rng(seed).permutation(len(names))
    n_folds = min(n_folds, len(names))
    return [sorted(names[i] for i in order[k::n_folds]) for k in range(n_folds)]


def write_folds(path, folds: list[list[str]], seed: int) -> Path:
    write_text_atomic(path, json.dumps({"seed": seed, "folds": folds}, indent=2) + "\n")
    return Path(path)


def read_folds(path) -> list[list[str]]:
    """Folds from a folds file (``{"seed": ..., "folds": [[film, ...], ...]}``)."""
    path = Path(path)
    try:
        folds = json.loads(path.read_text(encoding="utf-8"))["folds"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DataError(path, f"expected a folds file with a 'folds' list: {error}") from error
    if not isinstance(folds, list) or not all(isinstance(f, list) and all(isinstance(n, str) for n in f)
                                              for f in folds):
        raise DataError(path, "expected 'folds' to be a list of lists of film names")
    films = [n for f in folds for n in f]
    if len(films) != len(set(films)):
        raise DataError(path, "a film is in two folds")
    return folds
