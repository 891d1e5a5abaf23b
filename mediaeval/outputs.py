"""Who may write where: the one output guard that every command writing a file calls.

A path is written only if

1. it is new; or
2. it was written by mediaeval for the same purpose and is unchanged since (each :class:`Kind`
   knows its mark: a run file's sha256 in its ``.json`` description, a tag in a PNG, a zip or an
   mp4); or
3. ``force`` is given *and* the file is of the kind the command writes (a run file, a PNG, an
   mp4, a zip made by ``mediaeval package``).

Never, ``force`` or not: a path that is not a regular file (a folder, a device, a link), one of
the command's inputs, a file under the dataset root or bearing a name that discovery reads as an
annotation file, or a model folder's own files (as its manifest lists them:
:func:`mediaeval.manifest.model_folder_owning`; only ``train`` replaces those, as a whole:
:func:`mediaeval.training.train_run`).

A command checks its outputs with :meth:`OutputGuard.check` before its work starts (so nothing
is decoded or trained for an output it cannot write), and writes each through
:meth:`OutputGuard.writing`, which checks again (a file may have appeared meanwhile) and writes
to a temporary name renamed into place.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .atomic import atomic_output
from .errors import DataError
from .manifest import model_folder_owning


@dataclass(frozen=True)
class Kind:
    """A kind of file a command writes.

    ``name``: what mediaeval writes (``"run file"``); ``marked(path)``: whether the file was
    written by mediaeval as this kind and is unchanged since; ``looks_like(path)``: whether it is
    of this kind at all, whoever wrote it (what ``force`` may replace), ``what`` saying what that
    is, with its article (``"an mp4 film"``; ``"a <name>"`` by default)."""

    name: str
    marked: Callable[[Path], bool]
    looks_like: Callable[[Path], bool]
    what: str = ""


class OutputRefused(DataError):
    """An output the guard will not write; ``forceable`` if ``force`` would allow it.
    ``str()`` reads ``path message`` (``x.png exists and ...``)."""

    def __init__(self, path, message: str, forceable: bool = False):
        super().__init__(path, message)
        self.forceable = forceable
        self.args = (f"{self.path} {message}",)

    def __reduce__(self):
        return type(self), (self.path, self.message, self.forceable), self.__dict__


def sha256_of(path) -> str:
    """SHA-256 of a whole file, read in 1 MiB blocks (memory stays flat)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False


def _resolved(path) -> Path:
    """``path`` made absolute with its folder's links resolved (the path itself is not followed:
    a link is refused as a link, not as its target)."""
    path = Path(path).absolute()
    return path.parent.resolve() / path.name


def discovered_name(name: str) -> bool:
    """Whether discovery (:mod:`mediaeval.dataset`) reads a file of this name as an annotation
    file, wherever it lies (a film, ``*.mp4``, is the task's only under the dataset root, where
    nothing is replaced).

    >>> discovered_name("After_The_Rain-MEDIAEVAL2017-valence_arousal.txt"), discovered_name("me17ei_T_fear_run1.txt")
    (True, False)
    """
    from .dataset import ANNOTATION_FILE   # here, not at the top: dataset imports pandas

    return bool(ANNOTATION_FILE.match(name))


@dataclass
class OutputGuard:
    """The rule of this module for one command.

    ``force``: replace a file of the right kind that mediaeval did not write (or that was
    edited since); ``flag``: how the command spells it, for messages; ``dataset_root``: files
    under it are never replaced; ``inputs``: the command's input files, never written (with
    ``inputs_are``, how a message names them); ``model_folders``: whether a model folder's own
    files may be written (only ``train`` and fusion into their ``.partial`` folder); ``ours``:
    files known by a record of their own to be mediaeval's and unchanged (an earlier pipeline's,
    see :func:`mediaeval.pipeline.legacy_outputs`)."""

    force: bool = False
    flag: str = "--force"
    dataset_root: Path | None = None
    inputs: Iterable = ()
    inputs_are: str = "one of the inputs"
    model_folders: bool = False
    ours: Iterable = ()
    _inputs: list[Path] = field(init=False, repr=False)
    _ours: set[Path] = field(init=False, repr=False)

    def __post_init__(self):
        self._inputs = [_resolved(p) for p in self.inputs]
        self._ours = {_resolved(p) for p in self.ours}
        if self.dataset_root is not None:
            self.dataset_root = Path(self.dataset_root).resolve()

    def refusal(self, path, kind: Kind) -> OutputRefused | None:
        """Why ``path`` may not be written as ``kind``, or None (the checks in the module's order)."""
        path = Path(path)
        where = _resolved(path)
        for given in self._inputs:
            if where == given or _same_file(path, given):
                return OutputRefused(path, f"is {self.inputs_are} ({given}); choose another output")
        if path.is_dir():
            return OutputRefused(path, f"is a folder; expected the {kind.name} file to write")
        if not path.is_symlink() and not path.exists():
            return self._protected(path, where)
        if path.is_symlink() or not path.is_file():
            return OutputRefused(path, f"is {'a link' if path.is_symlink() else 'not a regular file'}; "
                                       f"mediaeval writes only new or regular files, never through links or "
                                       f"over devices: choose another output")
        if not kind.looks_like(path):
            return OutputRefused(path, f"exists and is not {kind.what or 'a ' + kind.name}; it is left alone (even "
                                       f"with {self.flag})")
        if self.dataset_root is not None and _inside(where, self.dataset_root):
            return OutputRefused(path, f"is under the dataset root {self.dataset_root}; mediaeval never "
                                       f"replaces a file there: choose another output")
        return self._protected(path, where) or (None if where in self._ours else self._foreign(path, kind))

    def _protected(self, path: Path, where: Path) -> OutputRefused | None:
        """Why a path is never written, new or not: a name discovery reads, a model folder's own file."""
        if discovered_name(path.name):
            return OutputRefused(path, "is named as an annotation file, which discovery reads as the task's; "
                                       "choose another name")
        owner = None if self.model_folders else model_folder_owning(where)
        if owner is not None:
            return OutputRefused(path, f"belongs to the model folder {owner}: only mediaeval train writes its "
                                       f"files; choose another output")
        return None

    def _foreign(self, path: Path, kind: Kind) -> OutputRefused | None:
        if kind.marked(path) or self.force:
            return None
        return OutputRefused(path, f"exists and is not a {kind.name} made by mediaeval (or was changed since); use "
                                   f"{self.flag} to replace it", forceable=True)

    def check(self, path, kind: Kind) -> Path:
        """Raise the :class:`OutputRefused` of ``path``, if any; return ``path``."""
        problem = self.refusal(path, kind)
        if problem is not None:
            raise problem
        return Path(path)

    @contextlib.contextmanager
    def writing(self, path, kind: Kind) -> Iterator[Path]:
        """Check ``path`` (:meth:`check`), then yield a temporary path beside it, renamed onto it if
        the block succeeds (:func:`mediaeval.atomic.atomic_output`) and ``path`` passes the check
        again (a file made meanwhile by something else is not replaced)."""
        with atomic_output(self.check(path, kind)) as tmp:
            yield tmp
            self.check(path, kind)


# --------------------------------------------------------------------------- kinds of file

def has_magic(path, magic: bytes, offset: int = 0) -> bool:
    """Whether the file ``path`` holds ``magic`` at ``offset`` (False if it cannot be read)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read(len(magic)) == magic
    except OSError:
        return False


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PNG_SOFTWARE = "mediaeval"   # the PNG's ``Software`` text, as the plots write it (``mediaeval <version>``)


def png_metadata() -> dict:
    """What matplotlib's ``savefig(metadata=...)`` writes into a plot: its mark."""
    from . import __version__

    return {"Software": f"{PNG_SOFTWARE} {__version__}"}


def _png_marked(path) -> bool:
    if not has_magic(path, PNG_MAGIC):
        return False
    try:
        from PIL import Image

        with Image.open(path) as image:
            return str(image.text.get("Software", "")).startswith(PNG_SOFTWARE + " ")
    except (OSError, ValueError, SyntaxError):
        return False


PLOT = Kind("plot", _png_marked, lambda path: has_magic(path, PNG_MAGIC), "a PNG image")


def json_object(path, limit: int = 1 << 20) -> dict | None:
    """The JSON object the file ``path`` holds (at most ``limit`` bytes), or None."""
    try:
        if Path(path).stat().st_size > limit:
            return None
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
