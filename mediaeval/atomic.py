"""Write a file completely or not at all: write to a temporary file beside it, then rename."""
from __future__ import annotations

import contextlib
import errno
import hashlib
import os
from pathlib import Path

NAME_MAX = 255   # bytes of a file name on Linux, macOS and Windows file systems


def temporary_name(name: str, pid: int | None = None) -> str:
    """The temporary name beside ``name``: ``.<name>.<pid>.tmp``; when that exceeds
    :data:`NAME_MAX` bytes (a film named by a long title), ``name`` is cut and given the first 8
    hex digits of its SHA-256, ``.<cut>~<hash>.<pid>.tmp``, which still reads as this tool's
    temporary file (:func:`mediaeval.features.store.remove_stale_temporaries`).

    >>> temporary_name("Film.npz", 42)
    '.Film.npz.42.tmp'
    >>> long = temporary_name("x" * 250 + ".npz", 42)
    >>> len(long.encode()), long[-20:]
    (255, 'xxxx~0a547101.42.tmp')
    """
    pid = os.getpid() if pid is None else pid
    tmp = f".{name}.{pid}.tmp"
    excess = len(tmp.encode()) - NAME_MAX
    if excess <= 0:
        return tmp
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    keep = len(name.encode("utf-8", "surrogateescape")) - excess - len(digest) - 1
    cut = name.encode("utf-8", "surrogateescape")[:keep].decode("utf-8", "ignore")   # never half a character
    return f".{cut}~{digest}.{pid}.tmp"


def make_parent(path) -> None:
    """Create the folder ``path`` goes into; a file standing where a folder should be is an
    ``OSError`` (ENOTDIR) naming that file and saying so, not mkdir's "File exists"."""
    path = Path(path)
    for ancestor in [path.parent, *path.parent.parents]:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, f"is a file, not a folder: cannot write {path} in it",
                                         str(ancestor))
            break
    path.parent.mkdir(parents=True, exist_ok=True)


def unwritable(folder) -> OSError | None:
    """Why no file can be written into ``folder`` (created if missing), as an ``OSError`` naming
    it, or None: tries to create it and a probe file in it (removed at once)."""
    folder = Path(folder)
    try:
        make_parent(folder / "probe")
        probe = folder / temporary_name(".mediaeval-probe")
        with open(probe, "x", encoding="utf-8"):
            pass
        probe.unlink()
    except OSError as error:
        return OSError(error.errno, f"cannot write into this folder ({error.strerror or error})", str(folder))
    return None


# Errors of the output's file system, not of one input: every later file would fail alike.
OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG})


@contextlib.contextmanager
def atomic_output(path):
    """Yield a temporary path beside ``path`` (:func:`temporary_name`); rename it onto ``path``
    only if the block succeeds.

    An interrupted or failing block (Ctrl-C included) leaves ``path`` as it was, and removes
    the temporary file.  An ``OSError`` that names no file (a full disk while writing) or names
    the temporary file is raised again naming ``path``, the file the user asked for.
    """
    path = Path(path)
    make_parent(path)
    tmp = path.with_name(temporary_name(path.name))
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if isinstance(error, OSError) and error.filename in (None, str(tmp), tmp):
            raise OSError(error.errno, error.strerror or str(error), str(path)) from error
        raise


def write_text_atomic(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8, ``\\n`` line ends)."""
    with atomic_output(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
