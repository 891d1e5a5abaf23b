"""``organisers``, ``organisers-visual``, ``organisers-audio``: the task's own features on the step grid.

Visual (LIRE descriptors and VGG16 fc6, extracted by the organisers with ``ffmpeg -r 1``): one
frame per second, numbered from 00001 (frame n shows second n - 1), one text file per frame and
feature, ``<features>/<Film>/<feat>/<Film>-NNNNN_<feat>.txt``, one comma-separated line each.
Each step takes the frame of the second holding its middle.  Missing, empty or unreadable files
are listed in the film's warnings and filled from the nearest second that has one.

Audio: openSMILE output in ARFF-style ``.csv`` files under ``<audio features>/<Film>/``
(``@attribute`` lines, ``@data``, rows whose first value is a name).  Rows of all files are
taken in natural file-name order.  If there is one row per 10 s segment (the probable 2017
layout; the film's whole steps may end up to one step before the film, which may drop its last
segment, so either count is taken) they are brought onto the steps with
``segments_to_n_steps``; otherwise the rows are spread evenly over the film, and a warning says so.
"""
from __future__ import annotations

import math
import os
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import DataError, warn
from ..windows import STEP_SECONDS, segment_count, segments_to_n_steps
from .registry import Extractor, FilmSource, as_float32, register

VISUAL_ORDER = ["acc", "cedd", "cl", "eh", "fcth", "gabor", "jcd", "sc", "tamura", "lbp", "fc6"]
_FRAME_FILE = re.compile(r"-(\d+)_([^_]+)\.txt$")


@lru_cache(maxsize=8)
def feature_folders(root: str) -> dict[str, dict[str, Path]]:
    """``{film: {"visual": dir, "audio": dir}}`` for every film folder under a features tree."""
    found: dict[str, dict[str, Path]] = {}
    for folder, subfolders, _ in os.walk(root, followlinks=True):
        lowered = folder.lower()
        kind = "visual" if "visual_features" in lowered else "audio" if "audio_features" in lowered else None
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and d != "__MACOSX")
        if kind is None:
            continue
        for name in list(subfolders):
            if name in ("features", "visual_features", "audio_features"):
                continue
            found.setdefault(name, {}).setdefault(kind, Path(folder) / name)
            subfolders.remove(name)
    return found


def _folder(source: FilmSource, kind: str) -> Path:
    if source.dataset_root is None:
        raise DataError(source.video, "the organisers' features need the dataset root (--dataset)")
    folder = feature_folders(str(source.dataset_root)).get(source.name, {}).get(kind)
    if folder is None:
        raise DataError(source.dataset_root, f"no organisers' {kind} features found for film {source.name} "
                                             f"(expected a folder {source.name} under *{kind.title()}_features*)")
    return folder


def _read_vector(path: Path) -> np.ndarray | None:
    try:
        text = path.read_text(encoding="utf-8", errors="strict").strip()
        values = np.array([float(v) for v in text.replace(";", ",").split(",") if v.strip()], np.float64)
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return values if values.size and np.all(np.isfinite(values)) else None


def _nearest_fill(rows: list, what: str, source: FilmSource, folder: Path) -> np.ndarray:
    """``rows`` (one per second, ``None`` where the file in ``folder`` is missing, empty, unreadable
    or of another length) with each gap taken from the nearest second, and a warning listing them."""
    have = [i for i, r in enumerate(rows) if r is not None]
    if not have:
        raise DataError(source.dataset_root, f"film {source.name}: no readable {what} file")
    dim = rows[have[0]].size
    bad = [i for i in have if rows[i].size != dim]
    for i in bad:
        rows[i] = None
    have = np.array([i for i, r in enumerate(rows) if r is not None])
    missing = [i for i, r in enumerate(rows) if r is None]
    if missing:
        shown = ", ".join(str(i + 1) for i in missing[:10]) + (" ..." if len(missing) > 10 else "")
        warn(folder, f"organisers' {what}: {len(missing)} of {len(rows)} frame files missing, "
                     f"empty or unreadable (frames {shown}); filled from the nearest second")
    out = np.empty((len(rows), dim), np.float64)
    for i in range(len(rows)):
        if rows[i] is None:
            j = have[np.argmin(np.abs(have - i))]
            out[i] = rows[j]
        else:
            out[i] = rows[i]
    return out


def _visual_files(folder: Path) -> dict[str, dict[int, Path]]:
    """``{kind: {frame number: file}}`` of a film's visual features folder, kinds in
    :data:`VISUAL_ORDER` (others after them, by name)."""
    kinds = [d.name for d in folder.iterdir() if d.is_dir()]
    kinds.sort(key=lambda k: (VISUAL_ORDER.index(k) if k in VISUAL_ORDER else len(VISUAL_ORDER), k))
    files: dict[str, dict[int, Path]] = {}
    for kind in kinds:
        files[kind] = {}
        for path in (folder / kind).iterdir():
            match = _FRAME_FILE.search(path.name)
            if match:
                files[kind][int(match[1])] = path
    return files


def _audio_files(folder: Path) -> list[Path]:
    """A film's openSMILE files, in natural name order."""
    return sorted(folder.rglob("*.csv"), key=_natural_key)


def visual_inputs(source: FilmSource) -> list[Path]:
    """What :func:`visual_features` reads: the film's visual folder and its kind folders (a kind
    or frame file added or removed changes their modification time), and every frame file."""
    folder = _folder(source, "visual")
    files = _visual_files(folder)
    return [folder, *(folder / kind for kind in files), *(p for by_frame in files.values() for p in by_frame.values())]


def audio_inputs(source: FilmSource) -> list[Path]:
    """What :func:`audio_features` reads: the film's audio folder, its sub-folders and its
    openSMILE files."""
    folder = _folder(source, "audio")
    return [folder, *sorted(p for p in folder.rglob("*") if p.is_dir()), *_audio_files(folder)]


def visual_features(source: FilmSource) -> tuple[np.ndarray, list[str]]:
    """Per-second visual features of every kind found, on the steps: (n_steps, dim), columns."""
    folder = _folder(source, "visual")
    by_kind = _visual_files(folder)
    if not by_kind:
        raise DataError(folder, "expected one sub-folder per visual feature (acc, cedd, ..., fc6), found none")
    n_seconds = max(1, math.ceil(source.n_steps * STEP_SECONDS))
    second_of_step = np.minimum(((np.arange(source.n_steps) + 0.5) * STEP_SECONDS).astype(int), n_seconds - 1)
    parts, columns = [], []
    for kind, files in by_kind.items():
        rows = [_read_vector(files[s + 1]) if s + 1 in files else None for s in range(n_seconds)]
        per_second = _nearest_fill(rows, f"visual {kind}", source, folder / kind)
        parts.append(per_second[second_of_step])
        columns += [f"{kind}_{j}" for j in range(per_second.shape[1])]
    return as_float32(np.concatenate(parts, axis=1)), columns


def read_arff(path) -> tuple[list[str], np.ndarray]:
    """Numeric attributes and data rows of an openSMILE ARFF-style file (strings and ``class`` dropped)."""
    path = Path(path)
    names, numeric, rows = [], [], []
    in_data = False
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("%"):
            continue
        lowered = line.lower()
        if lowered.startswith("@attribute"):
            parts = line.split()
            if len(parts) < 3:
                raise DataError(path, "expected '@attribute NAME TYPE'", number)
            names.append(parts[1])
            numeric.append(parts[2].lower() in ("numeric", "real", "integer") and parts[1].lower() != "class")
        elif lowered.startswith("@data"):
            in_data = True
        elif in_data:
            values = line.split(",")
            if len(values) != len(names):
                raise DataError(path, f"expected {len(names)} comma-separated values, got {len(values)}", number)
            try:
                rows.append([float(v) for v, keep in zip(values, numeric) if keep])
            except ValueError as error:
                raise DataError(path, f"expected numbers in the numeric attributes: {error}", number) from error
    if not rows:
        raise DataError(path, "expected data rows after '@data', found none")
    return [n for n, keep in zip(names, numeric) if keep], np.array(rows, np.float64)


def _natural_key(path: Path):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def audio_features(source: FilmSource) -> tuple[np.ndarray, list[str]]:
    """The organisers' openSMILE rows on the steps: (n_steps, dim), columns."""
    folder = _folder(source, "audio")
    files = _audio_files(folder)
    if not files:
        raise DataError(folder, "expected openSMILE .csv files, found none")
    names, blocks = None, []
    for path in files:
        these, rows = read_arff(path)
        if names is not None and these != names:
            raise DataError(path, f"expected the same attributes as {files[0].name}")
        names = these
        blocks.append(rows)
    rows = np.concatenate(blocks)
    # The film lasts from the end of its whole steps to one step more: its segments are as many
    # as a film of either length has (a 45.2 s film's whole steps end at 44.8 s: 7 segments by
    # its steps, 8 by its duration, as its annotations).
    covered = source.n_steps * STEP_SECONDS
    counts = (segment_count(covered), segment_count(covered + STEP_SECONDS * (1 - 1e-9)))
    if counts[0] <= len(rows) <= counts[1]:
        on_steps = segments_to_n_steps(rows, source.n_steps)
    else:
        expected = str(counts[0]) if counts[0] == counts[1] else f"{counts[0]} or {counts[1]}"
        warn(folder, f"organisers' audio: {len(rows)} rows for {expected} segments; "
                     f"rows spread evenly over the film")
        mids = (np.arange(source.n_steps) + 0.5) / max(source.n_steps, 1)
        on_steps = rows[np.minimum((mids * len(rows)).astype(int), len(rows) - 1)]
    return as_float32(np.nan_to_num(on_steps)), list(names)


def both_inputs(source: FilmSource) -> list[Path]:
    return visual_inputs(source) + audio_inputs(source)


def both(source: FilmSource) -> tuple[np.ndarray, list[str]]:
    visual, visual_columns = visual_features(source)
    audio, audio_columns = audio_features(source)
    return (np.concatenate([visual, audio], axis=1),
            [f"visual/{c}" for c in visual_columns] + [f"audio/{c}" for c in audio_columns])


@register("organisers")
def _organisers() -> Extractor:
    return Extractor("organisers", "organisers", "2", None, whole_film=both, inputs=both_inputs)


@register("organisers-visual")
def _organisers_visual() -> Extractor:
    return Extractor("organisers-visual", "visual", "1", None, whole_film=visual_features, inputs=visual_inputs)


@register("organisers-audio")
def _organisers_audio() -> Extractor:
    return Extractor("organisers-audio", "audio", "2", None, whole_film=audio_features, inputs=audio_inputs)
