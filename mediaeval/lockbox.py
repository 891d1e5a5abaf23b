"""A lockbox: development films set aside from every choice of a submission, and scored once.

Out-of-fold figures are honest for one run; a team that tries many runs and keeps the best has
chosen on those same figures, and its best figure is then optimistic.  A lockbox keeps a handful of
development films out of all of it: one list for every run and every fusion of a submission,
``runs/lockbox.toml`` beside the run definitions (:data:`LOCKBOX_FILE`), which

* ``mediaeval train --lockbox`` and ``mediaeval pipeline`` (by default, when the file exists)
  leave out of the cross-validation (its folds, so of every inner choice: hyper-parameters,
  smoothing, calibration, fear threshold, early stopping) and of the final models' training;
* the fused runs' weights never see (they are chosen on the runs' out-of-fold files, which do
  not hold them);
* the models that predict the test films then predict once (:mod:`mediaeval.training`): each
  model folder holds ``lockbox/<run file>`` and ``lockbox.json``, their figures, which the
  leaderboard shows apart from the out-of-fold ones.

The submitted models are those trained without the lockbox films, so the lockbox's figures are
those of the very models submitted (see docs/decisions.md for why they are not retrained on
every film).  The list is chosen once (:func:`choose_lockbox`, ``mediaeval lockbox``), seeded and
stratified for fear, and written with what chose it; a lockbox looked at after every change is
one more development set, not a lockbox.

``lockbox.toml``::

    films = ["Chatter", "Decay", "Norm", "Payload", "Sintel", "Wanted"]
    seed = 0          # what chose them (a record; only films is read)
    share = 0.2       # or count = 6
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import ConfigDict, Field, ValidationError

from .errors import DataError, MediaevalError
from .outputs import Kind, OutputGuard
from .task import FEAR, SUBTASKS, Subtask
from .validation import Float, Int, Str, adapter, error_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

LOCKBOX_FILE = "lockbox.toml"   # in the folder of run definitions
DEFAULT_SHARE = 0.2
LOCKBOX = Kind("lockbox", lambda path: False, lambda path: False,
               "a lockbox to replace (a lockbox is chosen once: remove the file to choose another)")
HEADER = ("The lockbox of a submission (mediaeval lockbox): development films set aside from every choice\n"
          "(folds, inner choices, fusion weights, the final models' training) and predicted once by the\n"
          "submitted models (mediaeval train --lockbox, mediaeval pipeline).  Chosen once: do not edit.")


@dataclass
class _LockboxTable:
    """What ``lockbox.toml`` holds: the films, and what chose them (a record)."""

    __pydantic_config__ = ConfigDict(extra="forbid")

    films: Annotated[list[Str], Field(min_length=1)]
    seed: Int | None = None
    share: Annotated[Float, Field(gt=0, lt=1)] | None = None
    count: Annotated[Int, Field(ge=1)] | None = None


@dataclass(frozen=True)
class Lockbox:
    """The films of a lockbox (sorted), what chose them, and the file it was read from."""

    films: tuple[str, ...]
    seed: int | None = None
    share: float | None = None
    count: int | None = None
    path: Path | None = None

    @classmethod
    def load(cls, path) -> Lockbox:
        """Read and check ``lockbox.toml``: a non-empty list of distinct film names;
        :class:`DataError` naming the file and the key otherwise."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            raise DataError(path, f"cannot read: {error}") from error
        except tomllib.TOMLDecodeError as error:
            raise DataError(path, f"expected TOML: {error}") from error
        try:
            table = adapter(_LockboxTable).validate_python(data)
        except ValidationError as error:
            raise DataError(path, error_text(error, data, _LockboxTable,
                                             unknown=lambda key, tag: f"unknown key {key!r}; expected films, seed, "
                                                                      f"share or count")) from None
        twice = sorted({n for n in table.films if table.films.count(n) > 1})
        if twice:
            raise DataError(path, f"films: {', '.join(twice)} named twice; expected each film once")
        return cls(tuple(sorted(table.films)), table.seed, table.share, table.count, path)

    def check(self, dataset) -> Lockbox:
        """``self``, once every film is a development film of ``dataset`` (:class:`DataError`
        naming the file and the first that is not)."""
        development = {f.name for f in dataset.dev_films}
        for name in self.films:
            if name not in development:
                raise DataError(self.path or LOCKBOX_FILE, f"films: {name} is not a development film of "
                                                           f"{dataset.root}; expected the films of this dataset's "
                                                           f"lockbox")
        return self

    def films_of(self, task: Subtask, dataset) -> list:
        """The lockbox's films annotated for ``task`` (the dataset's :class:`~mediaeval.dataset.Film`,
        in the dataset's order); :class:`DataError` when none is."""
        self.check(dataset)
        films = [f for f in dataset.dev_films if f.name in self.films and f.has_labels(task)]
        if not films:
            raise DataError(self.path or LOCKBOX_FILE, f"holds no development film with {task} annotations; a "
                                                       f"lockbox needs some of every subtask it checks")
        return films

    def to_toml(self) -> str:
        """The text of ``lockbox.toml`` (tomlkit): a comment saying what it is, the films, and
        what chose them."""
        import tomlkit

        document = tomlkit.document()
        for line in HEADER.split("\n"):
            document.add(tomlkit.comment(line))
        document.add("films", list(self.films))
        for key in ("seed", "share", "count"):
            if getattr(self, key) is not None:
                document.add(key, getattr(self, key))
        return tomlkit.dumps(document)

    def save(self, path, guard: OutputGuard | None = None) -> Path:
        """Write the lockbox as the new file ``path`` through ``guard`` (the output guard: never
        under the dataset root, nor a model folder's file); an existing ``path`` is never
        replaced: a lockbox is chosen once."""
        path = Path(path)
        if path.exists() or path.is_symlink():
            raise DataError(path, "exists: a lockbox is chosen once, before its films are seen; remove it yourself "
                                  "to choose another (every run is then trained again)")
        guard = guard or OutputGuard()
        with guard.writing(path, LOCKBOX) as tmp:
            tmp.write_text(self.to_toml(), encoding="utf-8")
        return path


def find_lockbox(runs_dir) -> Lockbox | None:
    """The lockbox beside the run definitions (``<runs_dir>/lockbox.toml``), or None."""
    path = Path(runs_dir) / LOCKBOX_FILE
    return Lockbox.load(path) if path.is_file() or path.is_symlink() else None


# --------------------------------------------------------------------------- choosing one

def strata(dataset) -> dict[str, list[str]]:
    """The development films annotated for some subtask (sorted names) by what they hold of fear:
    ``fear`` (a fear segment), ``no fear`` (fear annotations, no fear segment), ``no fear
    annotations``."""
    films = [f for f in dataset.dev_films if any(f.has_labels(t) for t in SUBTASKS.values())]
    out: dict[str, list[str]] = {"fear": [], "no fear": [], "no fear annotations": []}
    for film in sorted(films, key=lambda f: f.name):
        if not film.has_labels(FEAR):
            out["no fear annotations"].append(film.name)
        else:
            out["fear" if np.any(np.asarray(film.labels(FEAR)) > 0) else "no fear"].append(film.name)
    return out


def quotas(sizes: list[int], count: int) -> list[int]:
    """How many films each stratum of ``sizes`` gives to a lockbox of ``count``: its share of
    ``count`` by largest remainders (ties to the larger stratum, then the first), then at least
    one from every stratum of 2 films or more when ``count`` allows (taken from the largest quota),
    so that the lockbox holds films with and without fear and leaves some of each to train on.

    >>> quotas([20, 10], 6), quotas([27, 3], 6), quotas([28, 2], 6), quotas([29, 1], 6)
    ([4, 2], [5, 1], [5, 1], [6, 0])
    """
    total = sum(sizes)
    exact = [count * s / total for s in sizes]
    out = [int(np.floor(e)) for e in exact]
    order = sorted(range(len(sizes)), key=lambda i: (-(exact[i] - out[i]), -sizes[i], i))
    for i in order[:count - sum(out)]:
        out[i] += 1
    wanted = [i for i, s in enumerate(sizes) if s >= 2 and out[i] == 0]
    if count >= sum(1 for s in sizes if s >= 2):
        for i in wanted:
            out[max(range(len(out)), key=lambda j: (out[j], -j))] -= 1
            out[i] += 1
    return out


def choose_lockbox(dataset, count: int | None = None, share: float | None = None, seed: int = 0) -> Lockbox:
    """A lockbox of ``count`` development films (or ``share`` of them, at least 1; by default
    :data:`DEFAULT_SHARE`), drawn with ``seed`` within the :func:`strata` by their :func:`quotas`
    (a seeded permutation of each stratum's sorted names, the strata in order).  At least 2 films
    of every subtask must be left to train on (:class:`MediaevalError` otherwise)."""
    groups = strata(dataset)
    films = sorted(n for names in groups.values() for n in names)
    if count is None:
        share = DEFAULT_SHARE if share is None else share
        count = max(1, int(np.floor(share * len(films) + 0.5)))
    rng = np.random.default_rng(seed)
    chosen = []
    for names, quota in zip(groups.values(), quotas([len(n) for n in groups.values()], count)):
        order = rng.permutation(len(names))
        chosen += [names[i] for i in sorted(order[:quota])]
    box = Lockbox(tuple(sorted(chosen)), seed, share, None if share is not None else count)
    for task in SUBTASKS.values():
        left = [f for f in dataset.dev_films if f.has_labels(task) and f.name not in box.films]
        annotated = [f for f in dataset.dev_films if f.has_labels(task)]
        if annotated and len(left) < 2:
            raise MediaevalError(f"a lockbox of {count} of the {len(films)} development films leaves {len(left)} "
                                 f"with {task} annotations to train on; expected at least 2: choose fewer")
    return box
