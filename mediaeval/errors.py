"""Errors that name the file, the line and what was expected."""
from __future__ import annotations

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
