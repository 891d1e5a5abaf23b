"""Progress bars that suit both a terminal and a log.

:func:`progress` is the one way the toolkit makes a progress bar.  On a terminal it is an
ordinary :class:`tqdm.tqdm`, redrawn in place.  When its stream is not a terminal (a CI log, a
file, a pipe) it writes plain lines instead, without carriage returns: one at the start, one each
time another tenth of the total is done, and one at the end (when the total is unknown: at the
start, at most once every :data:`LOG_INTERVAL` seconds, and at the end), so a log holds at most
a dozen lines per bar, each one complete.
"""
from __future__ import annotations

import math
import sys

from tqdm import tqdm

LOG_STEPS = 10  # lines per bar in a log, besides the first
LOG_INTERVAL = 60.0  # seconds between lines of a bar whose total is unknown
LOG_FORMAT = "{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"


class LogBar(tqdm):
    """A :class:`tqdm.tqdm` that writes whole lines at milestones instead of redrawing one line."""

    def __init__(self, *args, **kwargs):
        self._printed_n = None  # the count of the last line written
        self._printed_t = -math.inf
        self._next_n = 0.0
        kwargs.update(mininterval=0, miniters=1, dynamic_ncols=False)
        super().__init__(*args, **kwargs)

    def _due(self) -> bool:
        if self.n == self._printed_n:
            return False
        if self.total:
            return self.n >= self._next_n
        return self._time() - self._printed_t >= LOG_INTERVAL

    def _write_line(self) -> None:
        self.fp.write(self.__str__() + "\n")
        getattr(self.fp, "flush", lambda: None)()
        self._printed_n, self._printed_t = self.n, self._time()
        if self.total:
            step = self.total / LOG_STEPS
            self._next_n = (math.floor(self.n / step + 1e-9) + 1) * step

    def display(self, msg=None, pos=None):
        # msg is given only to clear or override the line, which a log has no use for
        if msg is None and self._due():
            self._write_line()
        return True

    def close(self):
        if not self.disable and hasattr(self, "sp"):
            if self.n != self._printed_n:
                self._write_line()
            self.sp = None  # lines are final: tqdm's close has nothing to clear or redraw
        super().close()


def _known_total(iterable, total) -> float | None:
    if total is not None:
        return total
    try:
        return len(iterable)
    except TypeError:
        return None


def progress(iterable=None, *, file=None, **kwargs) -> tqdm:
    """A progress bar over ``iterable`` (or updated by hand), written to ``file`` (stderr).

    Takes :class:`tqdm.tqdm`'s keyword arguments (``total``, ``desc``, ``unit``, ``leave``,
    ``disable``...).  A terminal gets tqdm's bar; anything else gets a :class:`LogBar`.
    """
    file = sys.stderr if file is None else file
    isatty = getattr(file, "isatty", None)
    if isatty is not None and isatty():
        return tqdm(iterable, file=file, **kwargs)
    if _known_total(iterable, kwargs.get("total")) and "bar_format" not in kwargs:
        kwargs["bar_format"] = LOG_FORMAT
    return LogBar(iterable, file=file, **kwargs)
