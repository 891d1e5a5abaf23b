"""A model folder: what ``mediaeval train`` (and a fused run of ``pipeline``) writes, as one
object, :class:`ModelFolder`.

A model folder holds::

    model.json                   the manifest: made by mediaeval train; the run definition (as data),
                                 the team and what made the features (extractors, versions,
                                 settings) it was trained from; digests of each film's data and
                                 of its labels alone (``labels``); every file below
    run.toml                     the run definition: its file as written, or as RunDefinition.to_toml
                                 writes it (a run built or changed in code, or lightened)
    folds.json                   the folds (film names; every repeat's), for ``mediaeval score --folds``
    fold<k>/seed<s>/             one model per fold (and seed), the files of its family
                                 (mediaeval.families): an LSTM's model.keras, normalisation.npz,
                                 post_processing.json, log.csv, tensorboard/; a per-segment
                                 segment_model.pkl; and settings.json
    final/seed<s>/               the same, trained on every development film
    me17ei_<TEAM>_<subtask>_run<N>.txt   out-of-fold predictions of every development film
    scores.json                  their official and pooled figures, per fold and mean ± std (with
                                 folds_repeats > 1: the mean over repeats, and each repeat's)
    repeat<r>/                   folds_repeats > 1, repeats 2 to R: fold<k>/seed<s>/ and the
                                 out-of-fold run file of that repeat's folds
    lockbox/<run file>, lockbox.json   with a lockbox (mediaeval.lockbox): its films predicted once
                                 by the models that predict the test films, and their figures

It is written as ``<folder>.partial`` (:attr:`ModelFolder.partial`, under the exclusive
:meth:`ModelFolder.lock`) and installed when complete (:meth:`ModelFolder.install`): a previous
model folder is moved aside and deleted only then, the files a user put in it carried over.  A
folder without the manifest is never deleted (:meth:`ModelFolder.check`).  A model folder is
complete when its manifest and every file it lists exist (:meth:`ModelFolder.is_complete`).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

from .atomic import write_text_atomic
from .changes import changes
from .errors import DataError, MediaevalError
from .folds import repeat_path
from .manifest import DAMAGED, MADE_BY, MANIFEST, model_subfolders, own_files
from .manifest import read_manifest as _read_manifest
from .runs import RunDefinition


LOCKBOX_SCORES = "lockbox.json"   # the figures of a model folder's lockbox films


def lockbox_run(run_name: str) -> str:
    """Where a model folder holds the predictions of its lockbox films: ``lockbox/<run file>``."""
    return f"lockbox/{run_name}"


def model_name(fold: int | None, seed: int, repeat: int = 1) -> str:
    """A model's folder inside a model folder: ``fold<k>/seed<s>`` (``repeat<r>/fold<k>/seed<s>``
    for a repeat after the first), or ``final/seed<s>`` (fold None)."""
    return f"final/seed{seed}" if fold is None else repeat_path(repeat, f"fold{fold}/seed{seed}")


def model_files(n_folds: int, seeds: list[int], run_name: str, per_model: tuple[str, ...], repeats: int = 1,
                lockbox: bool = False) -> list[str]:
    """Every file a complete model folder holds (relative paths), besides its manifest;
    ``per_model`` the files of each fold/seed and final/seed model (its family's), every repeat's
    fold models and out-of-fold run file (and its description), and with ``lockbox`` the
    lockbox's run file, description and figures."""
    models = ([model_name(k, s, r) for r in range(1, repeats + 1) for k in range(1, n_folds + 1) for s in seeds]
              + [model_name(None, s) for s in seeds])
    runs = [repeat_path(r, run_name) for r in range(2, repeats + 1)] + ([lockbox_run(run_name)] if lockbox else [])
    return (["run.toml", "folds.json", "scores.json", run_name]
            + [f"{m}/{name}" for m in models for name in per_model]
            + [name for run in runs for name in (run, run + ".json")] + ([LOCKBOX_SCORES] if lockbox else []))


def _contains(folder: Path, path) -> bool:
    folder, path = folder.resolve(), Path(path).resolve()
    return path == folder or folder in path.parents


class ModelFolder:
    """The model folder at ``path`` (which may not exist yet)."""

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"ModelFolder({str(self.path)!r})"

    @property
    def partial(self) -> ModelFolder:
        """Where the model is written before it is installed: ``<path>.partial``."""
        return ModelFolder(self.path.with_name(self.path.name + ".partial"))

    # ------------------------------------------------------------------ the manifest

    def manifest(self) -> dict | None:
        """The manifest of a folder made by mediaeval train (complete or being written); None
        when the folder has no ``model.json`` or one made by something else.  A ``model.json``
        that cannot be read, is not JSON, or lists its files wrongly is a :class:`DataError`
        naming it (neither a model folder to use nor one to replace)."""
        return _read_manifest(self.path)

    def write_manifest(self, **content) -> None:
        """Write the manifest (``made_by`` and ``content``): ``state="partial"`` while the folder
        is being written (with the writer's ``pid`` and ``token``), ``"complete"`` with the
        definition, digests and ``files`` once it is."""
        write_text_atomic(self.path / MANIFEST, json.dumps({"made_by": MADE_BY, **content}, indent=2) + "\n")

    def missing(self) -> list[Path]:
        """The files a complete model folder has and this one lacks (its manifest, if it is not
        a complete model folder)."""
        manifest = self.manifest()
        if manifest is None or manifest.get("state") != "complete":
            return [self.path / MANIFEST]
        return [self.path / name for name in manifest.get("files", []) if not (self.path / name).is_file()]

    def is_complete(self) -> bool:
        """True if this is a complete model folder: made by mediaeval train and holding every file
        it lists (definition, folds, scores, run file, each fold's and the final model of every seed)."""
        return not self.missing()

    def definition(self) -> RunDefinition:
        """The run definition the models were trained from, as stored in the manifest."""
        manifest = self.manifest()
        if manifest is None or "definition" not in manifest:
            raise DataError(self.path / MANIFEST, "expected the manifest of a model folder made by mediaeval train")
        return RunDefinition.from_data(self.path / MANIFEST, manifest["definition"])

    def trained(self) -> tuple[RunDefinition, dict]:
        """The stored definition and manifest of a complete model folder; DataError naming what
        is missing otherwise.  Reads no model (TensorFlow does not start)."""
        if self.manifest() is None:
            raise DataError(self.path, f"expected a model folder made by mediaeval train (no {MANIFEST})")
        missing = self.missing()
        if missing:
            raise DataError(missing[0], "missing: the model folder is incomplete; retrain it with mediaeval train")
        manifest = self.manifest()
        if not isinstance(manifest.get("extractors"), dict):
            raise DataError(self.path / MANIFEST, f"expected 'extractors', what made the features; {DAMAGED}")
        return self.definition(), manifest

    def changes(self, definition: RunDefinition, team: str, extractors: dict, data: dict,
                lockbox: list[str] | None = None) -> list[str]:
        """``key: old -> new`` for what differs between this trained folder and a run to train
        from ``definition`` for ``team`` on features made by ``extractors`` (``data.<film>`` for a
        film added, removed, or whose features or labels changed: :func:`~mediaeval.film_data.data_digests`),
        with the films of ``lockbox`` set aside (``lockbox``: the films another lockbox sets aside)."""
        manifest = self.manifest()
        old = {**manifest.get("definition", {}), "team": manifest.get("team"),
               "extractors": manifest.get("extractors"), "data": manifest.get("data", data),
               "lockbox": manifest.get("lockbox") or []}
        new = {**definition.to_data(), "team": team, "extractors": extractors, "data": data,
               "lockbox": sorted(lockbox or [])}
        lines = changes(old, new)
        if "data" not in manifest:   # trained before the data were recorded: what it learnt from is unknown
            lines.append("data: not recorded by the mediaeval that trained it")
        return lines

    # ------------------------------------------------------------------ writing safely

    def check(self, inputs: dict | None = None) -> None:
        """Refuse an output folder that train could not replace safely: one that holds an input
        (``inputs``: {what: path}, such as the dataset, the features, the run definition), a
        file, or a folder that is neither empty nor a model folder made by mediaeval train."""
        for what, path in (inputs or {}).items():
            if path is not None and _contains(self.path, path):
                raise DataError(self.path, f"holds the {what} ({path}); a model folder is replaced as a whole, "
                                           f"give --out a folder of its own")
        if self.path.exists() and not self.path.is_dir():
            raise DataError(self.path, "is a file; expected a model folder")
        if self.path.is_dir() and self.manifest() is None and any(self.path.iterdir()):
            raise DataError(self.path, f"is not empty and is not a model folder made by mediaeval train (no "
                                       f"{MANIFEST}); give --out a new or empty folder")

    @contextlib.contextmanager
    def lock(self, shared: bool = False):
        """Hold the lock of the folder (the file ``.<name>.lock`` beside it) for the block:
        exclusive to train (``shared=False``), shared to read a model (``predict``: any number of
        readers, no writer).

        A holder that cannot have it is refused at once, with the writer's process id.  The
        operating system releases the lock when its process ends, killed or not, so a lock is
        never stale.
        """
        import fcntl

        lock = self.path.parent / f".{self.path.name}.lock"
        if shared and not lock.exists():   # never trained here: nothing to wait for, nothing to create
            yield
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock, "a+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                writer = handle.read().strip() or "?"
                raise MediaevalError(f"{self.path} is being trained by process {writer}; " + (
                    "predict once it has finished" if shared else
                    "wait for it to finish, or train into another --out")) from None
            if not shared:
                handle.seek(0)
                handle.truncate()
                handle.write(str(os.getpid()))
                handle.flush()
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def foreign_files(self, manifest: dict | None = None) -> list[str]:
        """The files (relative paths) of a complete model folder that train did not make: neither
        its manifest, nor a file it lists (:func:`own_files`), nor anything inside its models'
        folders, nor a job's hidden temporary beside them.  A user's notes, or predictions written
        into the folder, say."""
        manifest = self.manifest() if manifest is None else manifest
        if manifest is None or manifest.get("state") != "complete":
            return []
        own, models = own_files(manifest) | {MANIFEST}, model_subfolders(manifest)
        parents = {m.rsplit("/", 1)[0] for m in models}   # where a job's hidden temporary lies
        found = []
        for root, dirs, files in os.walk(self.path):
            relative = Path(root).relative_to(self.path).as_posix()
            relative = "" if relative == "." else relative + "/"
            dirs[:] = [d for d in dirs if relative + d not in models
                       and not (relative[:-1] in parents and d.startswith("."))]
            found += [relative + f for f in files if relative + f not in own
                      and not (relative[:-1] in parents and f.startswith("."))]
        return sorted(found)

    def remove(self) -> None:
        """Remove a left-over folder made by mediaeval train (``.partial``, ``.old``); refuse any
        other, and one holding files train did not make (:meth:`foreign_files`)."""
        if not self.path.exists():
            return
        manifest = self.manifest()
        if manifest is None:
            raise DataError(self.path, f"exists and was not made by mediaeval train (no {MANIFEST}); move it away")
        theirs = self.foreign_files(manifest)
        if theirs:
            raise DataError(self.path / theirs[0], f"was not made by mediaeval train ({len(theirs)} such files in "
                                                   f"{self.path}); move them away")
        shutil.rmtree(self.path)

    def start(self, **content) -> ModelFolder:
        """The empty :attr:`partial` folder, marked as being written (``content``: the writer's
        ``pid`` and ``token``); one left by a process that died is removed first (the lock is
        ours, so nobody writes it)."""
        partial = self.partial
        partial.remove()
        partial.path.mkdir(parents=True)
        partial.write_manifest(state="partial", **content)
        return partial

    def install(self, partial: ModelFolder) -> None:
        """Rename the complete ``partial`` onto this folder.  A previous model folder is moved
        aside to ``<name>.old`` first, the files train did not make (:meth:`foreign_files`) are
        moved from it into the new folder, and it is deleted only then; an empty folder is
        replaced; anything else is left alone (the new model then stays in ``partial``)."""
        manifest = self.manifest()
        if manifest is None:
            if self.path.exists() and (not self.path.is_dir() or any(self.path.iterdir())):
                raise DataError(self.path, f"was filled by something else during training; the new model is in "
                                           f"{partial.path}")
            os.replace(partial.path, self.path)
            return
        theirs = self.foreign_files(manifest)
        clash = [name for name in theirs if (partial.path / name).exists() or (partial.path / name).is_symlink()]
        if clash:
            raise DataError(self.path / clash[0], f"was not made by mediaeval train and has the name of a file of "
                                                  f"the new model; move it away and train again (the new model is "
                                                  f"in {partial.path})")
        old = ModelFolder(self.path.with_name(self.path.name + ".old"))
        old.remove()
        os.replace(self.path, old.path)
        try:
            os.replace(partial.path, self.path)
        except BaseException:
            os.replace(old.path, self.path)
            raise
        for name in theirs:   # the user's files go with the model folder
            (self.path / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(old.path / name, self.path / name)
        shutil.rmtree(old.path)


def read_manifest(folder) -> dict | None:
    """:meth:`ModelFolder.manifest` of ``folder``."""
    return ModelFolder(folder).manifest()


def write_manifest(folder, **content) -> None:
    """:meth:`ModelFolder.write_manifest` of ``folder``."""
    ModelFolder(folder).write_manifest(**content)


def is_trained(model_dir) -> bool:
    """:meth:`ModelFolder.is_complete` of ``model_dir``."""
    return ModelFolder(model_dir).is_complete()


def stored_run(model_dir) -> RunDefinition:
    """:meth:`ModelFolder.definition` of ``model_dir``."""
    return ModelFolder(model_dir).definition()


def check_model_folder(model_dir, inputs: dict | None = None) -> None:
    """:meth:`ModelFolder.check` of ``model_dir``."""
    ModelFolder(model_dir).check(inputs)


def model_lock(model_dir, shared: bool = False):
    """:meth:`ModelFolder.lock` of ``model_dir``."""
    return ModelFolder(model_dir).lock(shared)


def chosen_text(model_dir: Path, config) -> str | None:
    """What the final model (of the run's first seed) chose, from its ``settings.json``
    (:func:`mediaeval.segment_choices.choices_text`); None where it records no choice or cannot be read."""
    from .segment_choices import choices_text

    try:
        settings = json.loads((model_dir / model_name(None, config.seed) / "settings.json").read_text(encoding="utf-8"))
        chosen = settings.get("chosen") if isinstance(settings, dict) else None
        return choices_text(chosen, config.task.output_columns) or None if isinstance(chosen, dict) else None
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
