"""Finding the task's films and annotations wherever the zips were unpacked, and reading them.

Discovery walks the whole tree under a root (zips unpacked into a folder of the same name
give doubled folders), skipping hidden entries, ``__MACOSX`` and the organisers' feature trees
(``*Visual_features*``, ``*Audio_features*``).  It recognises:

* films: ``*.mp4``; ``MEDIAEVAL17_NN`` is a test film, any other name a development film;
* valence/arousal: ``<Film>-MEDIAEVAL2017-valence_arousal.txt``, ``<Film>_Valence-Arousal.txt``,
  ``<Film>_valence_arousal.txt`` (any case, ``-`` or ``_``);
* fear: ``<Film>-MEDIAEVAL2017-fear.txt``, ``<Film>_fear.txt``.

Symbolic links are followed, each folder at most once (by device and inode), so links that
point back into the tree cannot make the walk endless.  A film name must be one a run file can
hold (:func:`film_name_problem`); discovery refuses any other, naming the file.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError, warn
from .task import SUBTASKS, Subtask
from .windows import SEGMENT_SECONDS, SEGMENT_SHIFT, segment_count

DEV, TEST = "dev", "test"
TEST_FILM = re.compile(r"^MEDIAEVAL17_\d+$", re.IGNORECASE)
ANNOTATION_FILE = re.compile(
    r"^(?P<film>.+?)[-_](?:MEDIAEVAL2017[-_])?(?P<kind>valence[-_]arousal|fear)\.txt$",
    re.IGNORECASE)
# The organisers' feature trees hold hundreds of thousands of files and no film or annotation.
_FEATURE_TREE = re.compile(r"(visual|audio)_features", re.IGNORECASE)
_TIME_TOLERANCE = 1e-3


def is_number(token: str) -> bool:
    """Whether ``token`` reads as a number (as Python's ``float``, so ``1917``, ``nan``, ``1e5``)."""
    try:
        float(token)
    except ValueError:
        return False
    return True


RUN_FILM_NAME_RULE = "one word without white space that does not read as a number (not only digits)"


def film_name_problem(name: str) -> str | None:
    """Why a run file cannot hold the film name ``name``, or ``None`` if it can.

    A run file puts the name alone on a line and splits value lines on white space; a line of
    one token that reads as a number is a value, so a name must be one token (no white space of
    any kind) that does not read as a number.  The one definition, used by discovery and by the
    run writer.

    >>> film_name_problem("MEDIAEVAL17_00") is None
    True
    >>> film_name_problem("1917")
    'it reads as a number, so a run file would take its line for values'
    """
    if name.split() != [name]:
        return "it is empty or holds white space, and a run file splits its lines on white space"
    if is_number(name):
        return "it reads as a number, so a run file would take its line for values"
    return None


def film_split(name: str) -> str:
    """``"test"`` for ``MEDIAEVAL17_NN`` names, ``"dev"`` for any other film name."""
    return TEST if TEST_FILM.match(name) else DEV


# --------------------------------------------------------------------------- annotations

def _text_lines(path: Path):
    """``(number, line)`` of a UTF-8 text file, read line by line (never held whole).

    Raises :class:`DataError` naming the file (and the line) when it cannot be opened or read,
    or a line is not UTF-8.
    """
    number = 0
    try:
        with open(path, "rb") as handle:
            for raw in handle:
                try:
                    text = raw.decode("utf-8-sig" if number == 0 else "utf-8")
                except UnicodeDecodeError as error:
                    raise DataError(path, f"expected UTF-8 text: {error.reason} at byte {error.start} of the line",
                                    number + 1) from None
                for line in text.splitlines():  # a lone CR ends a line too
                    number += 1
                    yield number, line
    except OSError as error:
        raise DataError(path, f"cannot read: {error.strerror or error}") from error


def _read_segment_table(path, value_names: list[str], check_value) -> pd.DataFrame:
    """Read ``id, start, values...`` rows by position; check ids run 0..K-1 and start = 5 id."""
    path = Path(path)
    n_columns = 2 + len(value_names)
    rows = []
    header_seen = False
    for number, line in _text_lines(path):
        fields = line.split()
        if not fields:
            continue
        try:
            numbers = [float(f) for f in fields]
        except ValueError:
            if not rows and not header_seen:
                header_seen = True
                continue
            raise DataError(path, f"expected {n_columns} numbers (id, start time, "
                                  f"{', '.join(value_names)}), got {line.strip()!r}", number) from None
        if len(numbers) != n_columns:
            raise DataError(path, f"expected {n_columns} columns (id, start time, "
                                  f"{', '.join(value_names)}), got {len(numbers)}", number)
        segment_id, start, *values = numbers
        expected_id = len(rows)
        if segment_id != expected_id:
            raise DataError(path, f"expected segment id {expected_id}, got {fields[0]}", number)
        if abs(start - SEGMENT_SHIFT * expected_id) > _TIME_TOLERANCE:
            raise DataError(path, f"expected start time {SEGMENT_SHIFT * expected_id:g} s for segment "
                                  f"{expected_id}, got {fields[1]}", number)
        for name, value in zip(value_names, values):
            problem = check_value(value)
            if problem:
                raise DataError(path, f"{name}: expected {problem}, got {value!r}", number)
        rows.append([start, *values])
    if not rows:
        raise DataError(path, "expected at least one segment line after the header, found none")
    table = pd.DataFrame(rows, columns=["start", *value_names])
    table.index.name = "segment"
    return table


def _check_affect(value: float) -> str | None:
    if not math.isfinite(value) or not -1.0 <= value <= 1.0:
        return "a number in [-1, 1]"
    return None


def _check_fear(value: float) -> str | None:
    if value not in (0.0, 1.0):
        return "0 or 1"
    return None


def read_valence_arousal(path) -> pd.DataFrame:
    """Read a valence/arousal annotation file (header, then ``Id Time MeanValence MeanArousal``).

    Columns are read by position; any white space separates them.

    Returns
    -------
    pandas.DataFrame
        Index ``segment`` (0..K-1); columns ``start`` (seconds), ``valence``, ``arousal``.

    Raises
    ------
    DataError
        Naming the file and line when a line has the wrong number of columns, a non-number,
        an id out of sequence, a start time other than 5 x id, or a value outside [-1, 1].
    """
    return _read_segment_table(path, ["valence", "arousal"], _check_affect)


def read_fear(path) -> pd.DataFrame:
    """Read a fear annotation file (header, then ``Id Time Fear``); ``fear`` is 0 or 1 (int)."""
    table = _read_segment_table(path, ["fear"], _check_fear)
    table["fear"] = table["fear"].astype(np.int64)
    return table


# --------------------------------------------------------------------------- films and dataset

@dataclass
class Film:
    """One film of the task and the files found for it."""

    name: str
    video: Path | None = None
    valence_arousal_path: Path | None = None
    fear_path: Path | None = None

    @property
    def split(self) -> str:
        return film_split(self.name)

    @cached_property
    def valence_arousal(self) -> pd.DataFrame:
        """The valence/arousal annotations (see :func:`read_valence_arousal`)."""
        if self.valence_arousal_path is None:
            raise DataError(self.name, "no valence/arousal annotation file was found for this film")
        return read_valence_arousal(self.valence_arousal_path)

    @cached_property
    def fear(self) -> pd.DataFrame:
        """The fear annotations (see :func:`read_fear`)."""
        if self.fear_path is None:
            raise DataError(self.name, "no fear annotation file was found for this film")
        return read_fear(self.fear_path)

    def has_labels(self, subtask: Subtask) -> bool:
        """Whether an annotation file of ``subtask`` was found (attribute ``<subtask>_path``)."""
        return getattr(self, f"{subtask.name}_path") is not None

    def labels(self, subtask: Subtask) -> np.ndarray:
        """Ground truth per segment (:meth:`mediaeval.task.Subtask.labels` of the annotation table
        ``<subtask>``): (K, 2) valence, arousal; or (K,) fear labels."""
        return subtask.labels(getattr(self, subtask.name))

    @cached_property
    def info(self):
        """Container metadata of the film's video (:class:`mediaeval.media.VideoInfo`)."""
        from .media import probe

        if self.video is None:
            raise DataError(self.name, "no video file (.mp4) was found for this film")
        return probe(self.video)

    def _annotations(self) -> pd.DataFrame | None:
        if self.valence_arousal_path is not None:
            return self.valence_arousal
        if self.fear_path is not None:
            return self.fear
        return None

    @cached_property
    def duration(self) -> float:
        """Seconds: from the video when there is one, else the end of the last annotated segment."""
        if self.video is not None:
            return self.info.duration
        table = self._annotations()
        if table is None:
            raise DataError(self.name, "neither a video nor an annotation file was found for this film")
        return float(table["start"].iloc[-1] + SEGMENT_SECONDS)

    @cached_property
    def n_segments(self) -> int:
        """Segments a run must give for this film.

        The annotated count when the film has annotations (the truth a run is scored against),
        else ``segment_count(duration)``.  A video whose duration implies another count
        than its annotations gets a warning.
        """
        count, problem = self._segment_count()
        if problem:
            warn(self.name, problem)
        return count

    def _segment_count(self) -> tuple[int, str | None]:
        """:attr:`n_segments`, and why the video disagrees with the annotations (None if not)."""
        table = self._annotations()
        if table is None:
            return segment_count(self.duration), None
        annotated = len(table)
        if self.video is not None and segment_count(self.duration) != annotated:
            return annotated, (f"the video lasts {self.duration:.3f} s ({segment_count(self.duration)} segments) "
                               f"but its annotations have {annotated} segments; runs must follow the annotations")
        return annotated, None

    def summary(self) -> FilmSummary:
        """What :command:`mediaeval inspect` lists of this film, reading its annotation files
        and probing its video.  An unreadable video is a problem of the summary (``unreadable``);
        a malformed annotation file raises :class:`DataError`, naming its line."""
        problems: list[str] = []
        duration = fps = segments = None
        try:
            duration = self.duration
            fps = self.info.fps if self.video is not None else None
            segments, mismatch = self._segment_count()
            if mismatch:
                problems.append(f"{self.name}: {mismatch}")
        except DataError as error:
            if self.video is None or error.path != Path(self.video):
                raise                       # an annotation file
            problems.append(f"{self.name}: {error}")
        counts = {name: len(self.labels(s)) if self.has_labels(s) else None for name, s in SUBTASKS.items()}
        if self.video is None:
            problems.append(f"{self.name}: no video (.mp4) found; features cannot be extracted")
        if self.split == DEV and None in counts.values():
            problems.append(f"{self.name}: development film without "
                            + " and ".join(s for s, n in counts.items() if n is None) + " annotations")
        return FilmSummary(self.name, self.split, self.video is not None, duration is None, duration, fps,
                           counts, segments, tuple(problems))


@dataclass(frozen=True)
class FilmSummary:
    """One film as :meth:`Film.summary` found it: ``duration`` (s), ``fps`` and ``segments``
    are None when unknown (an unreadable video, or no video for ``fps``); ``label_counts`` the
    annotated segments per subtask (None: no annotation file); ``problems`` what is missing or
    inconsistent, each ``<film>: <what>``."""

    name: str
    split: str
    has_video: bool
    unreadable: bool
    duration: float | None
    fps: float | None
    label_counts: dict
    segments: int | None
    problems: tuple[str, ...]


def _suggest_name(name: str) -> str:
    suggestion = "_".join(name.split()) or "Film"
    return f"Film_{suggestion}" if is_number(suggestion) else suggestion


def _folder_key(path: Path) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_dev, info.st_ino


def _first_visit(folder: Path, visited: set) -> bool:
    """Whether the walk enters ``folder``: not when it (through any link) was entered already,
    nor when it cannot be examined.  Records it as visited."""
    try:
        key = _folder_key(folder)
    except OSError:
        return False
    if key in visited:
        return False
    visited.add(key)
    return True


@dataclass
class Dataset:
    """All films found under ``root``, by name."""

    root: Path
    films: dict[str, Film] = field(default_factory=dict)

    @classmethod
    def discover(cls, root) -> Dataset:
        """Walk ``root`` and collect films and annotation files (see the module docstring).

        Raises
        ------
        DataError
            If ``root`` is not a folder, one film has two files of the same kind
            (for example a zip unpacked twice), naming both, or a film's name is one a run
            file cannot hold (:func:`film_name_problem`).  Refusing, rather than skipping
            the film, keeps a film from silently leaving the training set or the submission.
        """
        root = Path(root)
        if not root.is_dir():
            raise DataError(root, "expected a dataset folder")
        films: dict[str, Film] = {}

        def put(name: str, attribute: str, path: Path) -> None:
            problem = film_name_problem(name)
            if problem:
                raise DataError(path, f"film name {name!r}: a run file cannot hold it ({problem}); a run file "
                                      f"holds {RUN_FILM_NAME_RULE}; rename the file, e.g. to "
                                      f"{_suggest_name(name)!r}")
            film = films.setdefault(name, Film(name))
            previous = getattr(film, attribute)
            if previous is not None and previous != path:
                raise DataError(path, f"film {name} has a second {attribute.replace('_path', '')} "
                                      f"file; the first is {previous}; remove one of them")
            setattr(film, attribute, path)

        visited = {_folder_key(root)}
        for folder, subfolders, files in os.walk(root, followlinks=True):
            subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and d != "__MACOSX"
                                   and not _FEATURE_TREE.search(d) and _first_visit(Path(folder) / d, visited))
            for filename in sorted(files):
                if filename.startswith("."):
                    continue
                path = Path(folder) / filename
                if filename.lower().endswith(".mp4"):
                    put(Path(filename).stem, "video", path)
                    continue
                match = ANNOTATION_FILE.match(filename)
                if match:
                    kind = match["kind"].lower().replace("-", "_")
                    put(match["film"], f"{kind}_path", path)
        return cls(root, dict(sorted(films.items())))

    @property
    def dev_films(self) -> list[Film]:
        return [f for f in self.films.values() if f.split == DEV]

    @property
    def test_films(self) -> list[Film]:
        return [f for f in self.films.values() if f.split == TEST]

    def film(self, name: str) -> Film:
        try:
            return self.films[name]
        except KeyError:
            raise DataError(self.root, f"no film named {name!r} in this dataset "
                                       f"({len(self.films)} films found)") from None

    def summaries(self):
        """:meth:`Film.summary` of every film, one at a time (a generator: a caller can list
        each as it is read)."""
        for film in self.films.values():
            yield film.summary()

    def problems(self) -> list[str]:
        """What is missing or inconsistent in the dataset, film by film (``<film>: <what>``):
        unreadable videos, films without video, development films lacking a subtask's
        annotations, videos whose duration disagrees with their annotations.  A malformed
        annotation file raises :class:`DataError`."""
        return [problem for summary in self.summaries() for problem in summary.problems]

    def select(self, names) -> list[Film]:
        """Films named by ``dev``, ``test``, ``all`` or film names (any mix, in order given)."""
        chosen: dict[str, Film] = {}
        for name in names:
            if name == "all":
                group = list(self.films.values())
            elif name in (DEV, TEST):
                group = self.dev_films if name == DEV else self.test_films
            else:
                group = [self.film(name)]
            chosen.update((f.name, f) for f in group)
        return list(chosen.values())
