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

import csv
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError, MediaevalError
from ..windows import STEP_SECONDS, step_count, step_starts
from .store import FilmFeatures, feature_path, file_fingerprint, file_sha256, load_features, same_file, save_features

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


def read_csv_table(path) -> Table:
    """Read ``time,<name>,...`` rows; :class:`DataError` names the file and line of any fault.

    Reads line by line; the table itself is held in memory (it is what the film needs).
    """
    path = Path(path)
    try:
        handle = open(path, newline="", encoding="utf-8")
    except OSError as error:
        raise DataError(path, f"cannot read: {error.strerror or error}") from error
    times: list[float] = []
    rows: list[list[float]] = []
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if header is None or not header or header[0].strip().lower() != "time":
                raise DataError(path, "expected a header line starting with 'time', e.g. time,brightness,loudness", 1)
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
                rows.append([_number(cell, path, line, name) for cell, name in zip(row[1:], columns)])
        except UnicodeDecodeError as error:
            raise DataError(path, f"expected UTF-8 text: {error.reason}", reader.line_num + 1) from error
        except csv.Error as error:
            raise DataError(path, f"expected CSV: {error}", reader.line_num) from error
    if not times:
        raise DataError(path, "expected at least one row after the header")
    return Table(np.asarray(times), np.asarray(rows, dtype=np.float64).reshape(len(times), len(columns)), columns)


def read_npz_table(path) -> Table:
    """Read arrays ``times``, ``values`` and optionally ``columns`` (no pickles)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in ("times", "values") if k not in data.files]
            if missing:
                raise DataError(path, f"expected arrays 'times' and 'values' (and optionally 'columns'); "
                                      f"missing {', '.join(missing)}")
            times = np.asarray(data["times"], dtype=np.float64)
            values = np.asarray(data["values"], dtype=np.float64)
            columns = data["columns"].tolist() if "columns" in data.files else None
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(path, f"expected an .npz file with arrays 'times' and 'values': {error}") from error
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
          video_file: dict | None) -> dict:
    from .. import __version__

    # The source is per film, so it is kept apart from ``params`` (what a model depends on).
    meta = {"extractors": [{"name": name, "modality": "imported", "version": IMPORTED_VERSION,
                            "dim": len(table.columns), "params": {},
                            "source": {"file": source.name, "sha256": digest}}],
            "film": film, "duration": duration, "fps": None, "n_steps": n_steps, "toolkit": __version__,
            "warnings": []}
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


def _same_columns(first, these, path) -> tuple[str, ...]:
    if first is not None and these != first:
        raise DataError(path, f"its columns differ from the first film's ({len(these)} vs {len(first)} "
                              f"columns, or other names); every film needs the same columns")
    return these


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
    columns = None
    for film in progress_bar(chosen, desc=f"import {name}", unit="film", disable=not progress):
        source = sources[film.name]
        digest = file_sha256(source)
        out = feature_path(features_dir, [name], film.name)
        video_file = file_fingerprint(film.video) if film.video is not None else None
        if not overwrite and is_imported(out, name, digest, video_file):
            stored = tuple(c.split("/", 1)[1] for c in load_features(out).columns)
            columns = _same_columns(columns, stored, out)
            report.skipped.append(film.name)
            continue
        table = read_table(source)
        columns = _same_columns(columns, table.columns, source)
        duration = film.duration
        n_steps = step_count(duration)
        values = to_steps(table.times, table.values, n_steps).astype(np.float32)
        save_features(out, FilmFeatures(step_starts(n_steps), values, [f"{name}/{c}" for c in table.columns],
                                        _meta(name, table, source, digest, film.name, duration, n_steps,
                                              video_file)))
        report.written.append(film.name)
    return report
