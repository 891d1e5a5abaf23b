"""One feature file per film and extractor set: step times, values, and what made them.

``<FEATURES>/<set>/<Film>.npz`` with ``set`` the extractor names joined by ``+`` (in the order
given).  Arrays: ``times`` (n_steps,) step start times in seconds, ``values`` (n_steps, dim)
float32, ``columns`` (dim,) the value names, and ``meta``, a JSON text: extractors (name,
version, dim, params), film, duration, fps, n_steps, toolkit version, warnings, and
``video_file``, the film file's size, modification time and hash of its first and last MiB
(:func:`file_fingerprint`), and ``inputs``, the fingerprints of the other files an extractor
read (:func:`files_fingerprint`; the organisers' features).
Files are written to a temporary name, then renamed: a file that exists is complete.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..outputs import Kind, OutputGuard, has_magic
from ..errors import DataError


@dataclass
class FilmFeatures:
    """Features of one film on the step grid.

    Attributes
    ----------
    times : numpy.ndarray, shape (n_steps,)
        Start time of each step in seconds.
    values : numpy.ndarray, float32, shape (n_steps, dim)
    columns : list of str, length dim
    meta : dict
        What made them (see the module docstring).
    """

    times: np.ndarray
    values: np.ndarray
    columns: list[str]
    meta: dict = field(default_factory=dict)

    @property
    def film(self) -> str:
        return self.meta.get("film", "")


def set_name(extractor_names) -> str:
    """Folder name of an extractor set: ``visual-stats+audio-stats``."""
    return "+".join(extractor_names)


def feature_path(features_dir, extractor_names, film: str) -> Path:
    return Path(features_dir) / set_name(extractor_names) / f"{film}.npz"


NPZ_MAGIC = b"PK\x03\x04"
# A feature file: the store's folders are mediaeval's, so any NPZ there may be replaced (a stale or
# damaged one is redone), never another file (a user's note named Film.npz is left alone).
FEATURES = Kind("feature file", lambda path: has_magic(path, NPZ_MAGIC), lambda path: has_magic(path, NPZ_MAGIC),
                "an NPZ file")


def save_features(path, features: FilmFeatures) -> Path:
    """Write ``features`` to ``path`` atomically, through the output guard (:data:`FEATURES`)."""
    path = Path(path)
    with OutputGuard(force=True).writing(path, FEATURES) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, times=features.times, values=features.values,
                     columns=np.asarray(features.columns), meta=np.asarray(json.dumps(features.meta)))
    return path


def load_features(path) -> FilmFeatures:
    """Read a feature file; :class:`DataError` naming it if it is corrupt or inconsistent."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            features = FilmFeatures(data["times"], data["values"], data["columns"].tolist(),
                                    json.loads(str(data["meta"])))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(path, f"expected a mediaeval feature file (.npz): {error}") from error
    n = features.meta.get("n_steps")
    if features.values.shape != (n, len(features.columns)) or features.times.shape != (n,):
        raise DataError(path, f"expected {n} steps of {len(features.columns)} values, "
                              f"found values {features.values.shape} and times {features.times.shape}")
    values = features.values
    if np.issubdtype(values.dtype, np.number) and not np.isfinite(values).all():
        step, column = np.argwhere(~np.isfinite(values))[0]
        raise DataError(path, f"holds a value that is not finite ({values[step, column]} at step {step}, column "
                              f"{features.columns[column]}); extract or import the film again")
    return features


FINGERPRINT_BYTES = 1 << 20


_FINGERPRINTS: dict[tuple, dict] = {}   # by the file's path and stat: each film hashed once per process


def file_fingerprint(path) -> dict:
    """What identifies a film's file cheaply: ``size`` (bytes), ``mtime`` (seconds) and
    ``head_tail_sha256``, the SHA-256 of its first and last MiB (the whole file when smaller).

    Remembered for the process by the file's path, device, inode, size, modification and change
    times (any write changes the change time), so a command that checks a film several times
    (extract, then train and predict in the pipeline) reads it once."""
    path = Path(path)
    stat = path.stat()
    key = (str(path), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    if key not in _FINGERPRINTS:
        _FINGERPRINTS[key] = _head_tail(path, stat)
    return dict(_FINGERPRINTS[key])


def _head_tail(path: Path, stat) -> dict:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        digest.update(handle.read(FINGERPRINT_BYTES))
        if stat.st_size > FINGERPRINT_BYTES:
            handle.seek(max(FINGERPRINT_BYTES, stat.st_size - FINGERPRINT_BYTES))
            digest.update(handle.read(FINGERPRINT_BYTES))
    return {"size": stat.st_size, "mtime": stat.st_mtime, "head_tail_sha256": digest.hexdigest()}


def files_fingerprint(paths, root=None) -> str:
    """What identifies a set of input files cheaply (the organisers' features: tens of thousands
    of small files per film): the SHA-256 of their sorted names (relative to ``root`` when they
    are named under it, so that a moved dataset is the same dataset), sizes and modification
    times (ns); a file that cannot be examined (a broken link) counts as ``unreadable``.
    Folders given among ``paths`` count by their modification time, which changes when an
    entry is added or removed.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.txt").write_text("1,2")
    >>> before = files_fingerprint([folder / "a.txt"], folder)
    >>> _ = (folder / "a.txt").write_text("1,2,3")
    >>> before == files_fingerprint([folder / "a.txt"], folder)
    False
    """
    root = Path(root) if root is not None else None
    entries = []
    for path in paths:
        path = Path(path)
        try:   # by name, not resolved: the files are found under root, and a film has tens of thousands
            name = path.relative_to(root) if root is not None else path
        except ValueError:
            name = path
        try:
            stat = path.stat()
            entries.append(f"{name.as_posix()}\t{stat.st_size}\t{stat.st_mtime_ns}")
        except OSError:   # a broken link, a file gone meanwhile: recorded as such, the others still count
            entries.append(f"{name.as_posix()}\tunreadable")
    return hashlib.sha256("\n".join(sorted(entries)).encode()).hexdigest()


def same_file(recorded: dict | None, current: dict) -> bool:
    """True when a recorded :func:`file_fingerprint` matches the file's current one: same size
    and same hash (the modification time alone does not count: a copy of the same film is the
    same film).  Feature files made before fingerprints were recorded (``None``) are accepted.

    >>> old = {"size": 3, "mtime": 1.0, "head_tail_sha256": "ab"}
    >>> same_file(old, {"size": 3, "mtime": 9.0, "head_tail_sha256": "ab"})
    True
    >>> same_file(old, {"size": 4, "mtime": 1.0, "head_tail_sha256": "ab"})
    False
    """
    if recorded is None:
        return True
    return (recorded.get("size"), recorded.get("head_tail_sha256")) == (current["size"], current["head_tail_sha256"])


class StaleFeatures(DataError):
    """A feature file made from another version of its film's file than the one there now
    (:func:`load_set` with ``video``); ``path`` is the feature file, ``imported_from`` the name
    of the table ``mediaeval import-features`` read (``None`` for extracted features)."""

    imported_from: str | None = None


def check_made_from(path, meta: dict, video) -> None:
    """Raise :class:`StaleFeatures` when the feature file ``path`` (its ``meta``) records another
    version of the film's file than ``video`` (:func:`same_file`: size and head/tail hash; the
    modification time alone does not count).  Nothing to check without ``video`` (a film known
    by its annotations only) or for a file made before the film's identity was recorded."""
    recorded = meta.get("video_file")
    if video is None or recorded is None or same_file(recorded, file_fingerprint(video)):
        return
    error = StaleFeatures(path, f"made from another version of film {meta.get('film', Path(path).stem)}'s file "
                                f"than {video} (its size or content changed since)")
    error.imported_from = next((e["source"].get("file") for e in meta.get("extractors", [])
                                if isinstance(e.get("source"), dict)), None)
    raise error


def is_complete(path, extractors, video=None, inputs: dict | None = None) -> bool:
    """True if ``path`` holds readable features made by these extractors at these versions and
    settings (a setting requested as ``None``, such as weights not named, accepts any) and,
    when ``video`` is given, from this version of the film's file (:func:`same_file`); with
    ``inputs`` (``{extractor: files_fingerprint}`` of the other files extractors read, see
    :func:`mediaeval.features.extract.input_fingerprints`), from these versions of them."""
    path = Path(path)
    if not path.exists():
        return False
    try:
        meta = load_features(path).meta
    except DataError:
        return False
    if video is not None and not same_file(meta.get("video_file"), file_fingerprint(video)):
        return False
    if any(meta.get("inputs", {}).get(name) != fingerprint for name, fingerprint in (inputs or {}).items()):
        return False
    made_by = meta.get("extractors", [])
    if [(e["name"], e["version"]) for e in made_by] != [(e.name, e.version) for e in extractors]:
        return False
    return all(json.loads(json.dumps(value)) == stored.get("params", {}).get(key)
               for extractor, stored in zip(extractors, made_by)
               for key, value in extractor.params.items() if value is not None)


_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.tmp$")
STALE_SECONDS = 300


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:    # someone else's process
        return True
    return True


def remove_stale_temporaries(folder, now: float | None = None) -> list[Path]:
    """Remove the temporary files an interrupted extraction left in ``folder`` (an extractor
    set's folder): ``.<name>.<pid>.tmp``, :func:`mediaeval.atomic.atomic_output`'s pattern (a
    long ``<name>`` cut to ``<cut>~<hash>``, :func:`mediaeval.atomic.temporary_name`), so
    they are this tool's, whose process is no longer alive here and which were not modified in
    the last :data:`STALE_SECONDS` (a process writing one from another machine sharing the
    folder is alive elsewhere).  Returns the paths removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    now = time.time() if now is None else now
    removed = []
    for candidate in sorted(folder.iterdir()):
        match = _TEMPORARY.match(candidate.name)
        if match is None or not candidate.is_file() or _pid_alive(int(match["pid"])):
            continue
        try:
            if now - candidate.stat().st_mtime < STALE_SECONDS:
                continue
            candidate.unlink()
        except FileNotFoundError:
            continue
        removed.append(candidate)
    return removed


def _cut(features: FilmFeatures, path: Path, names: list[str]) -> FilmFeatures:
    """The columns of ``names`` (in that order) from the features of a larger set."""
    owner = [c.split("/", 1)[0] for c in features.columns]
    order = [i for name in names for i, o in enumerate(owner) if o == name]
    meta = dict(features.meta, source=str(path),
                extractors=[e for name in names for e in features.meta["extractors"] if e["name"] == name])
    return FilmFeatures(features.times, features.values[:, order], [features.columns[i] for i in order], meta)


def load_set(features_dir, extractors, film: str, video=None) -> FilmFeatures:
    """Features of ``film`` made by ``extractors`` (in that order): from their own file, cut from
    the file of a larger extractor set, or put side by side from several sets' files (an
    extracted set beside one made by ``mediaeval import-features``, say); columns are named
    ``<extractor>/<value>``.  Among several files that hold an extractor, the most recently
    written is read (the one an extraction last brought up to date).  With ``video`` (the
    film's file), every file read must have been made from it as it is now (:func:`check_made_from`).

    Raises
    ------
    FileNotFoundError
        When some extractor of ``extractors`` is in no file of ``film``.
    StaleFeatures
        When a file read was made from another version of ``video``.
    DataError
        When files to put side by side disagree on the number of steps.
    """
    def read(path: Path) -> FilmFeatures:
        features = load_features(path)
        check_made_from(path, features.meta, video)
        return features

    extractors = list(extractors)
    exact = feature_path(features_dir, extractors, film)
    if exact.exists():
        return read(exact)
    folder = Path(features_dir)
    holders = [c for c in (sorted(folder.iterdir()) if folder.is_dir() else []) if (c / f"{film}.npz").exists()]
    # The most recently written first: after an extraction brought its set up to date, that file
    # reflects the film and inputs as they are, where a set left over from other runs may not.
    holders.sort(key=lambda c: -(c / f"{film}.npz").stat().st_mtime_ns)
    for candidate in holders:
        if set(extractors) <= set(candidate.name.split("+")):
            path = candidate / f"{film}.npz"
            return _cut(read(path), path, extractors)
    parts: list[tuple[Path, list[str]]] = []
    for name in extractors:
        holder = next((c for c in holders if name in c.name.split("+")), None)
        if holder is None:
            raise FileNotFoundError(exact)
        path = holder / f"{film}.npz"
        if parts and parts[-1][0] == path:
            parts[-1][1].append(name)
        else:
            parts.append((path, [name]))
    pieces = [_cut(read(path), path, names) for path, names in parts]
    first = pieces[0]
    for (path, _), piece in zip(parts[1:], pieces[1:]):
        if len(piece.times) != len(first.times):
            raise DataError(path, f"{len(piece.times)} steps, but {parts[0][0]} has {len(first.times)} for the same "
                                  f"film; extract or import both from the same film")
    meta = dict(first.meta, source=" + ".join(str(p) for p, _ in parts),
                extractors=[e for piece in pieces for e in piece.meta["extractors"]],
                warnings=[w for piece in pieces for w in piece.meta.get("warnings", [])])
    return FilmFeatures(first.times, np.concatenate([p.values for p in pieces], axis=1),
                        [c for p in pieces for c in p.columns], meta)


def covering_sets(extractor_sets) -> list[tuple[str, ...]]:
    """The sets to extract so that every set is itself or a part of one of them.

    >>> covering_sets([("audio-stats",), ("visual-stats", "audio-stats"), ("egemaps",)])
    [('egemaps',), ('visual-stats', 'audio-stats')]
    """
    sets = sorted({tuple(s) for s in extractor_sets})
    return [s for s in sets if not any(set(s) < set(t) for t in sets)]
