"""The manifest of a model folder (``model.json``, written by ``mediaeval train``): reading it, and
the files it says are train's.

Its own module, importing nothing of the package but :mod:`mediaeval.errors`, so that the output
guard (:mod:`mediaeval.outputs`, which protects a model folder's own files), the leaderboard and
provenance read it without importing training.
"""
from __future__ import annotations

import json
from pathlib import Path

from .errors import DataError

MANIFEST = "model.json"      # the mark of a folder made by mediaeval train, and what it holds
MADE_BY = "mediaeval train"
DAMAGED = "the model folder is damaged: remove it and train again"   # train refuses one without a readable manifest


def read_manifest(folder) -> dict | None:
    """The manifest of a folder made by mediaeval train (complete or being written); None when
    the folder has no ``model.json`` or one made by something else.  A ``model.json`` that
    cannot be read, is not JSON, or lists its files wrongly is a :class:`DataError` naming it
    (neither a model folder to use nor one to replace)."""
    path = Path(folder) / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise DataError(path, f"cannot read this manifest of a model folder ({reason}); {DAMAGED}") from error
    try:
        data = json.loads(text)
    except ValueError as error:
        raise DataError(path, f"expected the JSON manifest written by mediaeval train ({error}); {DAMAGED}") from error
    if not isinstance(data, dict) or data.get("made_by") != MADE_BY:
        return None
    files = data.get("files", [])
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise DataError(path, f"expected 'files' to be a list of file names; {DAMAGED}")
    return data


def own_files(manifest: dict) -> set[str]:
    """The files a model folder's manifest says are train's (relative paths), descriptions of
    its run file included."""
    files = set(manifest.get("files") or ())
    run_file = manifest.get("run_file")
    if isinstance(run_file, str):
        files |= {run_file, run_file + ".json"}
    return {f for f in files if isinstance(f, str)}


def model_subfolders(manifest: dict) -> set[str]:
    """The folders of a model folder's models (``fold1/seed0``, ``final/seed0``): every file of
    them is train's (logs and TensorBoard events included)."""
    return {f.rsplit("/", 1)[0] for f in own_files(manifest) if "/" in f}


def model_folder_owning(path: Path) -> Path | None:
    """The model folder (made by ``mediaeval train``, complete or being written) whose own file
    ``path`` is, or None: its manifest, a file it lists, the description of its run file, or
    anything inside one of its models' folders."""
    for folder in list(path.parents)[:4]:
        try:
            manifest = read_manifest(folder)
        except DataError:   # a model.json of something else, or a damaged one: not ours to protect
            continue
        if manifest is None:
            continue
        relative = path.relative_to(folder).as_posix()
        return folder if relative in own_files(manifest) or any(
            relative.startswith(d + "/") for d in model_subfolders(manifest)) or relative == MANIFEST else None
    return None
