"""Errors and warnings that name the file, the line and what was expected.

A problem that stops the work is a :class:`MediaevalError` (:class:`DataError` for a file).
A problem in a user's data that does not stop it (a film that ends early, a missing frame of
the organisers' features) is a :class:`MediaevalWarning`, raised by :func:`warn` and nothing
else: it goes through Python's :mod:`warnings` (a notebook or the CLI shows it) and to every
:func:`collect_warnings` block open in the same context, so that the caller can keep it (the
feature extractor stores a film's warnings with its features).
"""
from __future__ import annotations

import contextlib
import contextvars
import warnings
from collections.abc import Iterator
from pathlib import Path


class MediaevalError(Exception):
    """Base class: an input is wrong or a step failed (the CLI exits with status 1)."""


class DataError(MediaevalError, ValueError):
    """A file does not hold what it should; ``str()`` reads ``path:line: message``."""

    def __init__(self, path, message: str, line: int | None = None):
        self.path = Path(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {message}")

    def __reduce__(self):   # pickles whole: a job's error reaches the command from a worker process
        return type(self), (self.path, self.message, self.line), self.__dict__


class MediaevalWarning(UserWarning):
    """A problem in a user's data that does not stop the work; ``str()`` reads ``path: message``
    (``path`` a file, or a film's name), ``message`` alone is what is stored with features."""

    def __init__(self, path, message: str):
        self.path = str(path)
        self.message = message
        super().__init__(f"{self.path}: {message}")

    def __reduce__(self):   # pickles whole (pytest-xdist and worker processes carry warnings)
        return type(self), (self.path, self.message), self.__dict__


_COLLECTORS: contextvars.ContextVar[tuple[list, ...]] = contextvars.ContextVar("mediaeval_warnings", default=())


def warn(path, message: str, stacklevel: int = 2) -> MediaevalWarning:
    """Warn ``path: message`` as a :class:`MediaevalWarning`, and record it in the open
    :func:`collect_warnings` blocks of this context (thread or task: contexts do not mix, so
    films extracted in threads keep their own warnings)."""
    warning = MediaevalWarning(path, message)
    for collected in _COLLECTORS.get():
        collected.append(warning)
    warnings.warn(warning, stacklevel=stacklevel + 1)
    return warning


@contextlib.contextmanager
def collect_warnings() -> Iterator[list[MediaevalWarning]]:
    """The :class:`MediaevalWarning` s that :func:`warn` raises inside the block, in order
    (whatever Python's warning filters show or hide).

    >>> with collect_warnings() as caught:
    ...     with warnings.catch_warnings():
    ...         warnings.simplefilter("ignore")
    ...         _ = warn("Film_A", "the video stops 3.0 s early")
    >>> [str(w) for w in caught]
    ['Film_A: the video stops 3.0 s early']
    """
    collected: list[MediaevalWarning] = []
    token = _COLLECTORS.set((*_COLLECTORS.get(), collected))
    try:
        yield collected
    finally:
        _COLLECTORS.reset(token)
