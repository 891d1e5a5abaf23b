"""Run files (``me17ei_<TEAM>_<subtask>_run<N>.txt``): their names, reading and validating them.

A run file (the format of the 2017 task, one file per submitted run) holds every film of one set.
For each film, a line with the film's name alone, then one line per 10 s segment, values
separated by white space, no header:

* valence/arousal: ``valence arousal``, each in [-1, 1];
* fear: ``label confidence``, label 0 or 1, confidence in [0, 1] (a label alone is accepted
  with a warning, its confidence taken equal to the label).

What differs between the two (the row's values, their check and format) is the subtask's
(:mod:`mediaeval.task`).  Files are named ``me17ei_<TEAM>_<subtask>_run<N>.txt`` with subtask
``valence_arousal`` or ``fear`` and N in 1..5.  Writing, describing and packaging them is
:mod:`mediaeval.submission`'s.

Validation problems are reported as ``file:line: CODE message`` (line 0: the file as a
whole); codes starting with E are errors, with W warnings.  See :data:`PROBLEM_CODES`.  Files
are read one line at a time and at most :data:`PROBLEM_CAP` problems of each code are kept per
file (the others are counted), so memory and output stay bounded whatever the input.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .dataset import DEV, TEST, Dataset, film_split, is_number
from .errors import DataError
from .task import FEAR, SUBTASKS, VALENCE_AROUSAL, Subtask

MAX_RUNS = 5
RUN_NAME = re.compile(rf"^me17ei_(?P<team>[A-Za-z0-9-]+)_(?P<subtask>{'|'.join(SUBTASKS)})"
                      r"_run(?P<number>[1-9]\d*)\.txt$")
TEAM_NAME = re.compile(r"^[A-Za-z0-9-]+$")
PROBLEM_CAP = 50          # problems of one code kept (and printed) per file; the others are counted
MAX_LINE = 4096           # bytes: a longer line is reported, never held

# Errors of a submission (the organisers' scorer failed on them) that leave a run readable here.
SCORER_FAILURES = ("E113", "E114", "E116")
BOM = b"\xef\xbb\xbf"

PROBLEM_CODES = {
    "E100": "the file name is not me17ei_<TEAM>_<valence_arousal|fear>_run<1-5>.txt",
    "E101": "the file cannot be read as UTF-8 text, or holds no film",
    "E102": "a value line comes before any film name",
    "E103": "a film name that the dataset does not have",
    "E104": "a film appears twice",
    "E105": "a film of the set is missing",
    "E106": "films of both the development and the test set",
    "E107": "a film has a number of segment lines other than its segment count",
    "E108": "a line has the wrong number of values",
    "E109": "a value is not a finite number",
    "E110": "valence or arousal outside [-1, 1]",
    "E111": "fear label other than 0 or 1",
    "E112": "fear confidence outside [0, 1]",
    "E113": "a blank line inside the file (the organisers' scorer read a run line by line)",
    "E114": "spaces or tabs before or after a film name",
    "E115": "a line longer than 4096 bytes",
    "E116": "the file starts with a byte order mark (BOM)",
    "W201": "fear line with a label and no confidence (confidence taken equal to the label)",
    "W202": "a film's valence or arousal predictions are constant: its PCC, and the official mean PCC, "
            "are undefined",
    "W203": "films not in sorted order",
}


# --------------------------------------------------------------------------- names

@dataclass(frozen=True)
class RunName:
    """A run file's name read: ``subtask`` as written in it, ``task`` the subtask itself."""

    team: str
    subtask: str
    number: int
    task: Subtask = field(compare=False, repr=False)


def run_filename(team: str, subtask: Subtask, number: int) -> str:
    """``me17ei_<team>_<subtask>_run<number>.txt``, checking the team and the number."""
    if not TEAM_NAME.match(team):
        raise ValueError(f"team name {team!r}: expected letters, digits and '-' only")
    if not 1 <= int(number) <= MAX_RUNS:
        raise ValueError(f"run number {number}: expected 1 to {MAX_RUNS}")
    return f"me17ei_{team}_{subtask.name}_run{int(number)}.txt"


def parse_run_name(path) -> RunName | None:
    """Team, subtask and number from a run file's name, or ``None`` if it does not follow the rule."""
    match = RUN_NAME.match(Path(path).name)
    if not match or not 1 <= int(match["number"]) <= MAX_RUNS:
        return None
    return RunName(match["team"], match["subtask"], int(match["number"]), SUBTASKS[match["subtask"]])


# --------------------------------------------------------------------------- problems

@dataclass(frozen=True)
class Problem:
    """One thing wrong (or doubtful) in a run file."""

    path: Path
    line: int
    code: str
    message: str

    @property
    def is_error(self) -> bool:
        return self.code.startswith("E")

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.code} {self.message}"


class Problems(list):
    """The problems of one file, at most :data:`PROBLEM_CAP` of each code; the others are only
    counted, so that memory and output stay bounded whatever the file holds.

    ``counts[code]`` is how many problems of that code were found in all.
    """

    def __init__(self, path, cap: int = PROBLEM_CAP):
        super().__init__()
        self.path = Path(path)
        self.cap = cap
        self.counts: Counter = Counter()

    def add(self, line: int, code: str, message: str) -> None:
        self.counts[code] += 1
        if self.counts[code] <= self.cap:
            self.append(Problem(self.path, line, code, message))

    @property
    def errors(self) -> int:
        return sum(n for code, n in self.counts.items() if code.startswith("E"))

    @property
    def warnings(self) -> int:
        return sum(n for code, n in self.counts.items() if not code.startswith("E"))

    def report(self, errors_only: bool = False, skip=()) -> list[str]:
        """One line per stored problem, then ``… and N more <code> problems`` per capped code;
        without warnings if ``errors_only``, and without the codes in ``skip``."""
        def shown(code):
            return (code.startswith("E") or not errors_only) and code not in skip

        lines = [str(p) for p in self if shown(p.code)]
        for code in sorted(self.counts):
            more = self.counts[code] - self.cap
            if more > 0 and shown(code):
                lines.append(f"{self.path}: … and {more} more {code} problems")
        return lines


def raise_if_errors(path, problems: Problems, tolerate=SCORER_FAILURES) -> None:
    """Raise :class:`DataError` listing the errors, if any, but those in ``tolerate``: by
    default the ones that made the organisers' scorer fail but leave the run readable."""
    errors = sum(n for code, n in problems.counts.items() if code.startswith("E") and code not in tolerate)
    if errors:
        shown = "\n".join(problems.report(errors_only=True, skip=tolerate))
        raise DataError(path, f"{errors} problem(s):\n{shown}")


# --------------------------------------------------------------------------- reading

def _lines(path: Path):
    """``(number, text, bad)`` for each line of ``path``, read one line at a time in binary.

    ``text`` is the line without its end (``\\n`` or ``\\r\\n``) decoded as UTF-8 (a BOM at the
    start is dropped); ``bad`` is ``None`` or a problem ``(code, message)`` that made the line
    unreadable: not UTF-8 (E101) or longer than :data:`MAX_LINE` bytes (E115, the rest of such a
    line is skipped without being held).  Raises ``OSError`` when the file cannot be read.
    """
    with open(path, "rb") as handle:
        number = 0
        while True:
            raw = handle.readline(MAX_LINE + 2)
            if not raw:
                return
            number += 1
            if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):
                    raw = handle.readline(1 << 16)
                yield number, "", ("E115", f"a line longer than {MAX_LINE} bytes; a run line is a film name "
                                           f"or two values")
                continue
            raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1] if raw.endswith(b"\n") else raw
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as error:
                yield number, "", ("E101", f"not UTF-8 text: {error.reason} at byte {error.start} of the line")
                continue
            yield number, text, None


def _guess_subtask(path: Path, rows: int = 1000) -> Subtask:
    """Fear when the first ``rows`` value lines all start with 0 or 1, else valence/arousal."""
    firsts = []
    try:
        for _, text, bad in _lines(path):
            tokens = text.split()
            if bad is None and tokens and is_number(tokens[0]):
                firsts.append(tokens[0])
                if len(firsts) >= rows:
                    break
    except OSError:
        pass
    if firsts and all(t in ("0", "1") for t in firsts):
        return FEAR
    return VALENCE_AROUSAL


def run_subtask(path) -> Subtask:
    """The subtask of a run file: from its name, else guessed from its values."""
    name = parse_run_name(path)
    return name.task if name else _guess_subtask(Path(path))


def _check_values(number, tokens, task: Subtask, problems: Problems) -> list[float] | None:
    width = len(tokens)
    if width not in task.row_widths:
        problems.add(number, "E108", f"expected 2 values ({' '.join(task.row_columns)}), got {width}")
        return None
    values = []
    for token in tokens:
        value = float(token) if is_number(token) else float("nan")
        if not math.isfinite(value):
            problems.add(number, "E109", f"expected a finite number, got {token!r}")
            return None
        values.append(value)
    # values are shown with repr: every digit that decides the range check
    return task.check_row(number, tokens, values, problems)


class _FilmLines:
    """What the reader keeps of one film: its number of value lines, its first ``keep`` rows, and
    which columns have varied (for the constant-prediction warning)."""

    def __init__(self, keep: int | None):
        self.count = 0
        self.keep = keep
        self.rows: list[list[float]] = []
        self.first: list[float] | None = None
        self.varies = [False, False]

    def add(self, values: list[float] | None) -> None:
        self.count += 1
        row = values if values is not None else [math.nan, math.nan]
        if self.keep is None or len(self.rows) < self.keep:
            self.rows.append(row)
        if values is None:
            return
        if self.first is None:
            self.first = values
        else:
            self.varies = [v or a != b for v, a, b in zip(self.varies, values, self.first)]


@dataclass
class RunFile:
    """A run file's content: ``films[name]`` is an array (K, 2) of valence, arousal or label,
    confidence (the rows kept, see :meth:`parse`); ``counts[name]`` its number of value
    lines; ``film_lines[name]`` the line of the film's name; ``extra_lines`` the lines whose
    values after the first two were ignored (``ignore_extra_values``), the first of them at
    ``first_extra_line``."""

    path: Path
    subtask: Subtask
    films: dict[str, np.ndarray] = field(default_factory=dict)
    film_lines: dict[str, int] = field(default_factory=dict)
    name: RunName | None = None
    counts: dict[str, int] = field(default_factory=dict)
    unknown: dict[str, int] = field(default_factory=dict)
    extra_lines: int = 0
    first_extra_line: int | None = None

    @property
    def task(self) -> Subtask:
        """The run's subtask (the same as :attr:`subtask`)."""
        return self.subtask

    @property
    def split(self) -> str | None:
        splits = {film_split(f) for f in self.film_lines}
        return splits.pop() if len(splits) == 1 else None

    @classmethod
    def parse(cls, path, subtask: Subtask | None = None, dataset: Dataset | None = None,
              keep: int | Callable[[str], int] | None = None,
              ignore_extra_values: bool = False) -> tuple[RunFile, Problems]:
        """Read a run file and collect the problems of its form (not of its set of films; see
        :func:`validate_run`).  ``subtask`` defaults to the run's (:func:`run_subtask`).

        The file is read one line at a time and at most :data:`PROBLEM_CAP` problems of each code
        are kept (:class:`Problems`), so memory stays bounded by what is kept:

        * ``dataset``: a film it does not have is reported (E103) and its values are not kept (the
          first :data:`PROBLEM_CAP` such names are kept in ``run.unknown`` with their lines); without
          ``dataset``, every film is kept;
        * ``keep``: ``None`` keeps every row of every film; ``n`` the first ``n`` rows of each film,
          a function ``film -> n`` the first ``n`` rows of that film (the others are only counted,
          ``run.counts``);
        * ``ignore_extra_values``: a line of more values than a row holds is an error (E108: the
          format says two), unless ``True``: then its first two are read, as the organisers' scorer
          read them (a line split on white space, its first two values), and the line is counted in
          ``run.extra_lines`` (``score``).

        The organisers' scorer read a run film by film, splitting lines on white space: a blank
        line (E113) or white space around a film name (E114) made it fail, so both are errors; so
        is a byte order mark (E116), which it read as part of the first film's name.  CRLF line ends
        are harmless, and so were films out of sorted order (W203: the task asked for sorted order).
        A valence/arousal film of two or more lines whose predictions are constant gets a warning
        (W202): its PCC, and so the official mean PCC, is undefined (a film of one segment has no
        PCC either; ``score`` says so, but one value is not "constant").
        """
        path = Path(path)
        problems = Problems(path)
        name = parse_run_name(path)
        subtask = subtask or run_subtask(path)
        if name is None:
            problems.add(0, "E100", f"{PROBLEM_CODES['E100']}; read as {subtask}")
        run = cls(path, subtask, name=name)
        reader = _Reader(run, problems, dataset, keep, ignore_extra_values)
        try:
            reader.check_bom()
            for number, text, bad in _lines(path):
                reader.line(number, text, bad)
        except OSError as error:
            problems.add(0, "E101", f"cannot read: {error.strerror or error}")
            return run, problems
        reader.finish()
        return run, problems

    @classmethod
    def read(cls, path, subtask: Subtask | None = None) -> RunFile:
        """Read a run file; raise :class:`DataError` listing the problems if it is malformed
        (blank lines and spaces around film names are errors for a submission, not for reading)."""
        run, problems = cls.parse(path, subtask)
        raise_if_errors(path, problems)
        return run


class _Reader:
    """One pass of :meth:`RunFile.parse` over a run file's lines: fills ``run`` and ``problems``."""

    def __init__(self, run: RunFile, problems: Problems, dataset: Dataset | None, keep, ignore_extra_values: bool):
        self.run, self.problems, self.dataset = run, problems, dataset
        self.keep, self.ignore_extra_values = keep, ignore_extra_values
        self.task = run.subtask
        self.films: dict[str, _FilmLines] = {}
        self.ignored = _FilmLines(keep=0)        # values of an unknown or repeated film: checked, not kept
        self.current: _FilmLines | None = None
        self.previous: str | None = None         # the film read last, for the sorted order

    def check_bom(self) -> None:
        with open(self.run.path, "rb") as handle:
            if handle.read(len(BOM)) == BOM:
                self.problems.add(1, "E116", "the file starts with a byte order mark (BOM): the organisers' "
                                             "scorer read it as part of the first film's name; save the file as "
                                             "UTF-8 without BOM")

    def line(self, number: int, text: str, bad) -> None:
        if bad is not None:
            self.problems.add(number, *bad)
            return
        tokens = text.split()
        if not tokens:
            self.problems.add(number, "E113", "a blank line; the organisers' scorer read one film name or one "
                                              "value line per line")
        elif len(tokens) == 1 and not is_number(tokens[0]):
            self.film(number, text, tokens[0])
        elif self.current is None:
            self.problems.add(number, "E102", "a value line before any film name")
        else:
            width = max(self.task.row_widths)
            if self.ignore_extra_values and len(tokens) > width:
                self.run.extra_lines += 1
                self.run.first_extra_line = self.run.first_extra_line or number
                tokens = tokens[:width]
            self.current.add(_check_values(number, tokens, self.task, self.problems))

    def film(self, number: int, text: str, film: str) -> None:
        run, problems = self.run, self.problems
        if text != film:
            problems.add(number, "E114", f"film name {film!r} has spaces or tabs before or after it")
        if film in run.film_lines:
            problems.add(number, "E104", f"film {film} appears a second time (first at line {run.film_lines[film]})")
            self.current = self.ignored
        elif self.dataset is not None and film not in self.dataset.films:
            problems.add(number, "E103", f"film {film} is not in the dataset at {self.dataset.root}")
            if len(run.unknown) < PROBLEM_CAP:
                run.unknown.setdefault(film, number)
            self.current = self.ignored
        else:
            if self.previous is not None and film < self.previous:
                problems.add(number, "W203", f"film {film} comes after {self.previous}: films are expected in "
                                             f"sorted order (the organisers' scorer did not mind)")
            self.previous = film
            run.film_lines[film] = number
            rows = self.keep(film) if callable(self.keep) else self.keep
            self.current = self.films[film] = _FilmLines(rows)

    def finish(self) -> None:
        run, problems, films = self.run, self.problems, self.films
        if not run.film_lines and not problems.counts["E101"] and not problems.counts["E103"]:
            problems.add(0, "E101", "holds no film name")
        run.films = {film: np.asarray(lines.rows, dtype=np.float64).reshape(-1, 2) for film, lines in films.items()}
        run.counts = {film: lines.count for film, lines in films.items()}
        for film, lines in films.items():   # the columns scored by PCC (valence/arousal), if any
            constant = [column for column, varies in zip(self.task.pcc_columns, lines.varies) if not varies]
            if lines.count >= 2 and lines.first is not None and constant:
                problems.add(run.film_lines[film], "W202",
                             f"film {film}: its {' and '.join(constant)} predictions are constant: its PCC is "
                             f"undefined, and so is the official mean PCC over films")


# --------------------------------------------------------------------------- validating

def check_run(path, dataset: Dataset, subtask: Subtask | None = None) -> tuple[RunFile, Problems]:
    """The run file read (no row kept) and every problem of it against ``dataset``
    (:func:`validate_run`)."""
    run, problems = RunFile.parse(path, subtask, dataset, keep=0)
    splits = Counter(film_split(f) for f in run.film_lines)
    if len(splits) > 1:
        problems.add(0, "E106", f"holds {splits[DEV]} development and {splits[TEST]} test films; a run is for one set")
    elif splits:
        split = next(iter(splits))
        expected = dataset.dev_films if split == DEV else dataset.test_films
        for film in expected:
            if film.name not in run.film_lines:
                problems.add(0, "E105", f"{'development' if split == DEV else 'test'} film {film.name} is missing")
    for film, line in run.film_lines.items():
        have, want = run.counts[film], dataset.film(film).n_segments
        if have != want:
            problems.add(line, "E107", f"film {film} has {have} segment lines, expected {want}")
    problems.sort(key=lambda p: (p.line, p.code))
    return run, problems


def validate_run(path, dataset: Dataset, subtask: Subtask | None = None) -> Problems:
    """Every problem of a run file against a dataset: its form, the set of films, and the
    number of segment lines of each film, at most :data:`PROBLEM_CAP` of each code (the others
    counted in ``.counts``; see :class:`Problems`).  An empty list means a valid run."""
    return check_run(path, dataset, subtask)[1]
