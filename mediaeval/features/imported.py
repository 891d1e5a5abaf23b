"""Bring your own features: per-film tables at any rate, put on the step grid.

A source folder holds one file per film:

* ``<Film>.csv``: a header ``time,<name>,<name>,...``, then one row per instant; ``time`` in
  seconds, strictly increasing, the instant the row describes; every value a finite number.
* ``<Film>.npz``: arrays ``times`` (n,), ``values`` (n, d), and optionally ``columns`` (d,).

Step ``i`` of the 16/30 s grid covers ``[i S, (i + 1) S)`` with ``S = 16/30`` s.  It gets the
mean of the rows whose time falls inside it; when none does (a source slower than the grid, or
a gap), the row nearest to the step's middle, ``(i + 1/2) S`` (the earlier row on a tie).  The
number of steps is the film's: ``step_count(duration)``, with the duration from its video, or
from its annotations when it has no video.

The output is the same per-film store file as ``mediaeval extract`` writes
(``<FEATURES>/<NAME>/<Film>.npz``, columns ``<NAME>/<column>``), so a run names the set as
``features = ["NAME"]``.  The meta records the source's SHA-256 and, for a film with a video,
the video file's identity as extraction records it (``video_file``:
:func:`~mediaeval.features.store.file_fingerprint`): a rerun skips a film whose source and
video are unchanged and whose file is complete, and redoes one whose video was replaced (or
whose file, made before the identity was recorded, holds none).
"""
from __future__ import annotations

import array
import csv
import itertools
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError, MediaevalError, warn
from ..outputs import sha256_of
from ..windows import STEP_SECONDS, step_count, step_starts
from .store import FilmFeatures, feature_path, file_fingerprint, load_features, same_file, save_features

IMPORTED_VERSION = "1"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Table:
    """A source table: ``times`` (n,), ``values`` (n, d) float64, ``columns`` (d,)."""

    times: np.ndarray
    values: np.ndarray
    columns: tuple[str, ...]


def check_set_name(name: str) -> str:
    """A feature set name usable as a folder and beside extractor names (no ``+`` or ``/``)."""
    if not _NAME.match(name):
        raise MediaevalError(f"feature set name {name!r}: expected letters, digits, '_', '-' or '.', "
                             f"starting with a letter or digit")
    return name


def _number(text: str, path, line: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DataError(path, f"column {column!r}: expected a number, got {text.strip()!r}", line) from None
    if not math.isfinite(value):
        raise DataError(path, f"column {column!r}: expected a finite number, got {text.strip()!r}", line)
    return value


MAX_LINE_CHARS = 1 << 20   # a row of 10,000 columns takes about 200,000; a longer line is refused unread
MAX_BLANK_LINES = 1000     # blank lines in a row: more is not a table (and would be read one by one)
_SEPARATORS = {";": "semicolons (;)", "\t": "tabs", "|": "vertical bars (|)"}


def _bounded_lines(handle, path):
    """The lines of a text file, each at most :data:`MAX_LINE_CHARS` characters long (a longer
    one, or one holding a NUL byte, is a :class:`DataError` before more of it is read), and at
    most :data:`MAX_BLANK_LINES` blank ones in a row: memory stays bounded whatever the file."""
    blank_run = 0
    for number in itertools.count(1):
        line = handle.readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        if "\0" in line:
            raise DataError(path, "holds NUL bytes: expected a text table (is it a binary or damaged file?)", number)
        if len(line) > MAX_LINE_CHARS:
            raise DataError(path, f"a line longer than {MAX_LINE_CHARS:,} characters: expected one row per line "
                                  f"(time and its values)", number)
        blank_run = blank_run + 1 if not line.strip() else 0
        if blank_run > MAX_BLANK_LINES:
            raise DataError(path, f"more than {MAX_BLANK_LINES} blank lines in a row: expected table rows", number)
        yield line


def _header_problem(line: str) -> str:
    """Why ``line`` is not a header ``time,<name>,...``: the byte order mark or the separator
    found, or what it starts with."""
    if line.startswith("\ufeff"):
        return ("starts with a byte order mark (BOM, as 'UTF-8 with BOM' or Excel's 'CSV UTF-8' save it); "
                "expected a header line starting with 'time': save the table as UTF-8 without BOM")
    text = line.strip()
    found = [name for separator, name in _SEPARATORS.items() if separator in text]
    if found and "," not in text:
        return (f"expected comma-separated columns, found {found[0]}: {text[:60]!r}; expected a header line "
                f"starting with 'time', e.g. time,brightness,loudness")
    return f"expected a header line starting with 'time', e.g. time,brightness,loudness, got {text[:60]!r}"


def read_csv_table(path) -> Table:
    """Read ``time,<name>,...`` rows; :class:`DataError` names the file and line of any fault:
    a header with another separator or a byte order mark says which.

    Reads line by line, each line bounded (:func:`_bounded_lines`); the table itself is held in
    memory (it is what the film needs), as 8 bytes per number.
    """
    path = Path(path)
    try:
        handle = open(path, newline="", encoding="utf-8")
    except OSError as error:
        raise DataError(path, f"cannot read: {error.strerror or error}") from error
    times, values = array.array("d"), array.array("d")
    with handle:
        reader = csv.reader(_bounded_lines(handle, path))
        try:
            header = next(reader, None)
            if header is None or not header or header[0].strip().lower() != "time":
                raise DataError(path, _header_problem(",".join(header or [])), 1)
            columns = tuple(c.strip() for c in header[1:])
            if not columns or any(not c for c in columns) or len(set(columns)) != len(columns):
                raise DataError(path, "expected named, distinct value columns after 'time' in the header", 1)
            for row in reader:
                line = reader.line_num
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) != len(columns) + 1:
                    raise DataError(path, f"expected {len(columns) + 1} comma-separated values (time and "
                                          f"{len(columns)} columns), found {len(row)}", line)
                time = _number(row[0], path, line, "time")
                if times and time <= times[-1]:
                    raise DataError(path, f"time {row[0].strip()} is not after the previous row's "
                                          f"{times[-1]:g}; expected strictly increasing times", line)
                times.append(time)
                values.extend(_number(cell, path, line, name) for cell, name in zip(row[1:], columns))
        except UnicodeDecodeError as error:
            raise DataError(path, f"expected UTF-8 text: {error.reason}", reader.line_num + 1) from error
        except csv.Error as error:
            raise DataError(path, f"expected CSV: {error}", reader.line_num) from error
    if not times:
        raise DataError(path, "expected at least one row after the header")
    return Table(np.frombuffer(times, dtype=np.float64),
                 np.frombuffer(values, dtype=np.float64).reshape(len(times), len(columns)), columns)


def read_npz_table(path) -> Table:
    """Read arrays ``times``, ``values`` and optionally ``columns`` (no pickles)."""
    path = Path(path)
    try:
        if not zipfile.is_zipfile(path):
            raise DataError(path, "not an NPZ file (a zip of .npy arrays, as numpy.savez writes); expected arrays "
                                  "'times' and 'values'")
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in ("times", "values") if k not in data.files]
            if missing:
                raise DataError(path, f"expected arrays 'times' and 'values' (and optionally 'columns'); "
                                      f"missing {', '.join(missing)}")
            times, values = _real(data["times"], "times", path), _real(data["values"], "values", path)
            columns = data["columns"].tolist() if "columns" in data.files else None
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise DataError(path, f"expected an .npz file with arrays 'times' and 'values': {reason}") from error
    if times.ndim != 1 or len(times) == 0:
        raise DataError(path, f"expected 'times' of shape (n,) with n >= 1, got {times.shape}")
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2 or len(values) != len(times) or values.shape[1] == 0:
        raise DataError(path, f"expected 'values' of shape ({len(times)}, d), got {values.shape}")
    if columns is None:
        columns = [f"v{j}" for j in range(values.shape[1])]
    if not isinstance(columns, list) or len(columns) != values.shape[1] or len(set(map(str, columns))) != len(columns):
        raise DataError(path, f"expected 'columns' to hold {values.shape[1]} distinct names")
    bad = np.flatnonzero(~np.isfinite(times) | ~np.isfinite(values).all(axis=1))
    if len(bad):
        raise DataError(path, f"row {bad[0]} (from 0) holds a value that is not a finite number")
    back = np.flatnonzero(np.diff(times) <= 0)
    if len(back):
        raise DataError(path, f"times[{back[0] + 1}] = {times[back[0] + 1]:g} is not after times[{back[0]}] = "
                              f"{times[back[0]]:g}; expected strictly increasing times")
    return Table(times, values, tuple(map(str, columns)))


def _real(array_, name: str, path) -> np.ndarray:
    """``array_`` as float64 if it holds real numbers (bool, int, float); a complex array (whose
    imaginary part a conversion would drop), strings or others are a :class:`DataError`."""
    if array_.dtype.kind not in "biuf":
        raise DataError(path, f"expected real numbers in '{name}', got {array_.dtype} values")
    return np.asarray(array_, dtype=np.float64)


def read_table(path) -> Table:
    path = Path(path)
    if path.suffix.lower() == ".npz":
        return read_npz_table(path)
    return read_csv_table(path)


def to_steps(times, values, n_steps: int) -> np.ndarray:
    """Put rows at ``times`` onto ``n_steps`` steps: the mean of each step's rows, else the row
    nearest to the step's middle (the earlier one on a tie).  Rows outside the film count only
    as nearest rows.

    >>> to_steps([0.1, 0.2, 0.6, 2.0], [[1.0], [3.0], [5.0], [7.0]], 4)[:, 0].tolist()
    [2.0, 5.0, 7.0, 7.0]
    """
    times = np.asarray(times, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64).reshape(len(times), -1)
    out = np.empty((n_steps, values.shape[1]), dtype=np.float64)
    if n_steps == 0:
        return out
    step = np.floor(times / STEP_SECONDS).astype(np.int64)
    inside = (step >= 0) & (step < n_steps)
    counts = np.bincount(step[inside], minlength=n_steps)
    sums = np.zeros_like(out)
    np.add.at(sums, step[inside], values[inside])
    filled = counts > 0
    out[filled] = sums[filled] / counts[filled, None]
    empty = np.flatnonzero(~filled)
    if len(empty):
        middles = step_starts(n_steps)[empty] + STEP_SECONDS / 2
        after = np.clip(np.searchsorted(times, middles), 0, len(times) - 1)
        before = np.clip(after - 1, 0, len(times) - 1)
        nearest = np.where(np.abs(times[before] - middles) <= np.abs(times[after] - middles), before, after)
        out[empty] = values[nearest]
    return out


COVERAGE_WARN_SECONDS = 1.0   # an uncovered span longer than this, within the limit, is a stored warning


def uncovered(times, duration: float) -> list[tuple[float, float]]:
    """The spans of ``[0, duration]`` that rows at ``times`` leave uncovered, in order: each row
    covers half the table's usual spacing (the median time between rows; none for a single row)
    on either side of its time, so a regular table at any rate covers its film.

    >>> uncovered([0.5, 1.5, 2.5, 9.5], 12.0)   # rows 1 s apart: 3-9 s and 10-12 s lack rows
    [(3.0, 9.0), (10.0, 12.0)]
    >>> uncovered([100.0, 110.0], 33.0)          # a table of another film
    [(0.0, 33.0)]
    """
    times = np.asarray(times, dtype=np.float64)
    half = float(np.median(np.diff(times))) / 2 if len(times) > 1 else 0.0
    starts, ends = times - half, times + half
    edges = [(0.0, starts[0])] + list(zip(ends[:-1], starts[1:])) + [(ends[-1], duration)]
    spans = [(max(0.0, float(a)), min(duration, float(b))) for a, b in edges]
    return [(a, b) for a, b in spans if b > a]


def check_coverage(table: Table, duration: float, path) -> list[str]:
    """Refuse a table that leaves more than max(2 s, 2 % of the film) of its film uncovered (at
    its start, its end, or a gap; :func:`uncovered`), naming the span its rows cover and the
    film's duration: every step there would repeat the nearest row.  Returns the messages of
    the shorter gaps over :data:`COVERAGE_WARN_SECONDS`, each warned (:func:`mediaeval.errors.warn`)."""
    limit = max(2.0, 0.02 * duration)
    first, last = float(table.times[0]), float(table.times[-1])
    messages = []
    for a, b in uncovered(table.times, duration):
        where = "its start" if a == 0.0 else "its end" if b == duration else "a gap"
        if b - a > limit:
            raise DataError(path, f"its rows ({first:g} to {last:g} s) leave {a:.2f}-{b:.2f} s of the film "
                                  f"uncovered ({where}, {b - a:.2f} s; the film lasts {duration:.2f} s), more than "
                                  f"max(2 s, 2 % of the film) = {limit:.2f} s: is it the table of another film, or "
                                  f"in other units than seconds?")
        if b - a > COVERAGE_WARN_SECONDS:
            message = (f"imported table leaves {a:.2f}-{b:.2f} s of the film ({duration:.2f} s) uncovered "
                       f"({where}): those steps repeat the nearest row")
            warn(path, message)
            messages.append(message)
    return messages


def source_files(src) -> dict[str, Path]:
    """``{film: path}`` of the ``.csv`` / ``.npz`` files directly in ``src``; a film with both is an error."""
    src = Path(src)
    if not src.is_dir():
        raise DataError(src, "expected a folder of <Film>.csv or <Film>.npz files")
    found: dict[str, Path] = {}
    for path in sorted(src.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in (".csv", ".npz") or not path.is_file():
            continue
        if path.stem in found:
            raise DataError(path, f"film {path.stem} also has {found[path.stem].name}; keep one of them")
        found[path.stem] = path
    return found


@dataclass
class ImportReport:
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _meta(name: str, table: Table, source: Path, digest: str, film: str, duration: float, n_steps: int,
          video_file: dict | None, warnings: list[str]) -> dict:
    from .. import __version__

    # The source is per film, so it is kept apart from ``params`` (what a model depends on).
    meta = {"extractors": [{"name": name, "modality": "imported", "version": IMPORTED_VERSION,
                            "dim": len(table.columns), "params": {},
                            "source": {"file": source.name, "sha256": digest}}],
            "film": film, "duration": duration, "fps": None, "n_steps": n_steps, "toolkit": __version__,
            "warnings": list(warnings)}
    if video_file is not None:
        meta["video_file"] = video_file
    return meta


def is_imported(path, name: str, digest: str, video_file: dict | None = None) -> bool:
    """True if ``path`` is a complete imported feature file of set ``name`` from a source with this
    hash and, given the film's ``video_file`` (:func:`~mediaeval.features.store.file_fingerprint`),
    imported for this version of the film's file (a file that records none is redone: importing
    is cheap, and the rerun records it)."""
    path = Path(path)
    if not path.exists():
        return False
    try:
        meta = load_features(path).meta
    except DataError:
        return False
    made_by = meta.get("extractors", [])
    if video_file is not None and (meta.get("video_file") is None or not same_file(meta["video_file"], video_file)):
        return False
    return (len(made_by) == 1 and made_by[0].get("name") == name and made_by[0].get("version") == IMPORTED_VERSION
            and (made_by[0].get("source") or {}).get("sha256") == digest)


def _names(names) -> str:
    names = list(names)
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _same_columns(first, these, path, first_path=None) -> tuple[str, ...]:
    """``these`` columns if they are ``first`` (those of the first film, from ``first_path``);
    else a :class:`DataError` naming the columns that differ."""
    if first is None or these == first:
        return these
    extra, lacking = [c for c in these if c not in first], [c for c in first if c not in these]
    of = f" ({Path(first_path).name})" if first_path is not None else ""
    if not extra and not lacking and len(these) == len(first):
        why = f"the same names in another order ({_names(these)} against {_names(first)})"
    else:
        why = "; ".join(part for part in (extra and f"{_names(extra)} only here",
                                         lacking and f"{_names(lacking)} only in the first film's") if part)
    raise DataError(path, f"its columns differ from the first film's{of}: {why}; every film needs the same columns")


def import_features(src, dataset, features_dir, name: str, films=None, overwrite: bool = False,
                    progress: bool = True) -> ImportReport:
    """Import the source tables of ``films`` (default: every film of ``dataset``) into
    ``features_dir/name``.

    Before anything is written: a source file naming a film the dataset does not know, or a
    chosen film without a source file, is a :class:`DataError` listing them.  Then film by film:
    a faulty table is a :class:`DataError` naming its file and line, and each film's file is
    written atomically, so what exists is complete and nothing is half-written.  A rerun skips a
    film whose file is complete, from the same source, for the same video file (:func:`is_imported`).
    """
    from ..progress import progress as progress_bar

    check_set_name(name)
    sources = source_files(src)
    unknown = sorted(set(sources) - set(dataset.films))
    if unknown:
        others = f" (nor {', '.join(unknown[1:4])}{' ...' if len(unknown) > 4 else ''})" if len(unknown) > 1 else ""
        raise DataError(sources[unknown[0]], f"the dataset at {dataset.root} has no film named {unknown[0]!r}{others}")
    chosen = list(films) if films is not None else list(dataset.films.values())
    missing = [f.name for f in chosen if f.name not in sources]
    if missing:
        raise DataError(src, f"no source file for {len(missing)} film(s): {', '.join(missing[:10])}"
                             f"{' ...' if len(missing) > 10 else ''} (expected <Film>.csv or <Film>.npz)")
    report = ImportReport()
    columns, first = None, None
    for film in progress_bar(chosen, desc=f"import {name}", unit="film", disable=not progress):
        source = sources[film.name]
        digest = sha256_of(source)
        out = feature_path(features_dir, [name], film.name)
        video_file = file_fingerprint(film.video) if film.video is not None else None
        if not overwrite and is_imported(out, name, digest, video_file):
            stored = tuple(c.split("/", 1)[1] for c in load_features(out).columns)
            columns, first = _same_columns(columns, stored, out, first), first or out
            report.skipped.append(film.name)
            continue
        table = read_table(source)
        columns, first = _same_columns(columns, table.columns, source, first), first or source
        duration = film.duration
        warnings = check_coverage(table, duration, source)
        n_steps = step_count(duration)
        values = to_steps(table.times, table.values, n_steps).astype(np.float32)
        save_features(out, FilmFeatures(step_starts(n_steps), values, [f"{name}/{c}" for c in table.columns],
                                        _meta(name, table, source, digest, film.name, duration, n_steps,
                                              video_file, warnings)))
        report.written.append(film.name)
    return report
