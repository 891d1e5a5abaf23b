"""Cross-validation folds by film, deterministic from sorted film names and a seed; repeated
cross-validation draws one split per seed (``seed``, ``seed + 1``, ...: :func:`repeated_folds`).

A folds file (``folds.json`` of a model folder) holds ``{"seed": s, "folds": [[film, ...], ...]}``,
the split of the first repeat; a run cross-validated ``R > 1`` times adds ``"repeats": [{"seed": s,
"folds": [...]}, ...]``, every repeat's in order (the first again), which :func:`read_repeats` reads.
"""
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


def repeated_folds(films, n_folds: int, seed: int = 0, repeats: int = 1) -> list[list[list[str]]]:
    """The folds of each of ``repeats`` repeats: :func:`make_folds` with seeds ``seed``, ``seed + 1``, ...

    >>> repeated_folds(["c", "a", "b", "d"], 2, seed=0, repeats=2)[0] == make_folds(["a", "b", "c", "d"], 2, 0)
    True
    """
    return [make_folds(films, n_folds, seed + r) for r in range(repeats)]


def repeat_path(repeat: int, name: str) -> str:
    """``name`` (a model's folder, a run file) of repeat ``repeat`` of the cross-validation in a
    model folder: as it is for the first, ``repeat<r>/<name>`` for the others.

    >>> repeat_path(1, "fold2/seed0"), repeat_path(3, "fold2/seed0")
    ('fold2/seed0', 'repeat3/fold2/seed0')
    """
    return name if repeat == 1 else f"repeat{repeat}/{name}"


def write_folds(path, folds: list[list[str]], seed: int, repeats: list[list[list[str]]] | None = None) -> Path:
    """Write a folds file: ``folds`` (the first repeat's) and its ``seed``; with ``repeats`` (every
    repeat's folds, more than one) also ``"repeats"``, repeat ``r`` with seed ``seed + r - 1``."""
    data = {"seed": seed, "folds": folds}
    if repeats is not None and len(repeats) > 1:
        data["repeats"] = [{"seed": seed + r, "folds": f} for r, f in enumerate(repeats)]
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")
    return Path(path)


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DataError(path, f"expected a folds file with a 'folds' list: {error}") from error
    if not isinstance(data, dict) or "folds" not in data:
        raise DataError(path, "expected a folds file with a 'folds' list")
    return data


def _checked_folds(path: Path, folds, repeat: int | None = None) -> list[list[str]]:
    """``folds`` (of ``repeat``, if given), checked to be lists of film names, each film once."""
    where = "'folds'" if repeat is None else f"the folds of repeat {repeat}"
    if not isinstance(folds, list) or not all(isinstance(f, list) and all(isinstance(n, str) for n in f)
                                              for f in folds):
        raise DataError(path, f"expected {where} to be a list of lists of film names")
    films = [n for f in folds for n in f]
    if len(films) != len(set(films)):
        raise DataError(path, "a film is in two folds" + ("" if repeat is None else f" of repeat {repeat}"))
    return folds


def read_folds(path) -> list[list[str]]:
    """Folds from a folds file (``{"seed": ..., "folds": [[film, ...], ...]}``): the first repeat's."""
    path = Path(path)
    return _checked_folds(path, _read(path)["folds"])


def read_seed(path) -> int:
    """The fold seed of a folds file's first repeat (0 when it records none)."""
    seed = _read(Path(path)).get("seed", 0)
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else 0


def read_repeats(path) -> list[list[list[str]]]:
    """Every repeat's folds from a folds file (one repeat when it has no ``"repeats"``); each
    repeat must split the films of the first."""
    path = Path(path)
    data = _read(path)
    first = _checked_folds(path, data["folds"])
    repeats = data.get("repeats")
    if repeats is None:
        return [first]
    if not isinstance(repeats, list) or not all(isinstance(r, dict) and "folds" in r for r in repeats):
        raise DataError(path, "expected 'repeats' to be a list of {\"seed\", \"folds\"}")
    out = [_checked_folds(path, r["folds"], k) for k, r in enumerate(repeats, start=1)]
    films = sorted(n for f in first for n in f)
    for k, folds in enumerate(out, start=1):
        if sorted(n for f in folds for n in f) != films:
            raise DataError(path, f"repeat {k} splits other films than 'folds'")
    return out
