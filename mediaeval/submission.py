"""Run files: writing, reading, validating, and packaging them into the submission zip.

A run file (the format of the 2017 task, one file per submitted run) holds every film of one set.
For each film, a line with the film's name alone, then one line per 10 s segment, values
separated by white space, no header:

* valence/arousal: ``valence arousal``, each in [-1, 1];
* fear: ``label confidence``, label 0 or 1, confidence in [0, 1] (a label alone is accepted
  with a warning, its confidence taken equal to the label).

What differs between the two (the row's values, their check and format) is the subtask's
(:mod:`mediaeval.task`).

Files are named ``me17ei_<TEAM>_<subtask>_run<N>.txt`` with subtask ``valence_arousal`` or
``fear`` and N in 1..5.  A run may have a description beside it, ``<run file>.json``.

Validation problems are reported as ``file:line: CODE message`` (line 0: the file as a
whole); codes starting with E are errors, with W warnings.  See :data:`PROBLEM_CODES`.  Files
are read one line at a time and at most :data:`PROBLEM_CAP` problems of each code are kept per
file (the others are counted), so memory and output stay bounded whatever the input.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .dataset import DEV, TEST, Dataset, film_name_problem, film_split, is_number
from .errors import DataError, MediaevalError
from .outputs import Kind, OutputGuard, json_object, sha256_of
from .task import FEAR, SUBTASKS, VALENCE_AROUSAL, Subtask
from .task import get as get_subtask

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


@dataclass(frozen=True)
class RunName:
    team: str
    subtask: str
    number: int

    @property
    def task(self) -> Subtask:
        return get_subtask(self.subtask)


def run_filename(team: str, subtask: str, number: int) -> str:
    """``me17ei_<team>_<subtask>_run<number>.txt``, checking each part."""
    if not TEAM_NAME.match(team):
        raise ValueError(f"team name {team!r}: expected letters, digits and '-' only")
    get_subtask(subtask)   # a ValueError naming the subtasks for any other
    if not 1 <= int(number) <= MAX_RUNS:
        raise ValueError(f"run number {number}: expected 1 to {MAX_RUNS}")
    return f"me17ei_{team}_{subtask}_run{int(number)}.txt"


def parse_run_name(path) -> RunName | None:
    """Team, subtask and number from a run file's name, or ``None`` if it does not follow the rule."""
    match = RUN_NAME.match(Path(path).name)
    if not match or not 1 <= int(match["number"]) <= MAX_RUNS:
        return None
    return RunName(match["team"], match["subtask"], int(match["number"]))


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


@dataclass
class Run:
    """A run file's content: ``films[name]`` is an array (K, 2) of valence, arousal or label,
    confidence (the rows kept, see :func:`parse_run`); ``counts[name]`` its number of value
    lines; ``film_lines[name]`` the line of the film's name; ``extra_lines`` the lines whose
    values after the first two were ignored (``ignore_extra_values``), the first of them at
    ``first_extra_line``."""

    path: Path
    subtask: str
    films: dict[str, np.ndarray] = field(default_factory=dict)
    film_lines: dict[str, int] = field(default_factory=dict)
    name: RunName | None = None
    counts: dict[str, int] = field(default_factory=dict)
    unknown: dict[str, int] = field(default_factory=dict)
    extra_lines: int = 0
    first_extra_line: int | None = None

    @property
    def task(self) -> Subtask:
        return get_subtask(self.subtask)

    @property
    def split(self) -> str | None:
        splits = {film_split(f) for f in self.film_lines}
        return splits.pop() if len(splits) == 1 else None


# --------------------------------------------------------------------------- reading

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


def _guess_subtask(path: Path, rows: int = 1000) -> str:
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
        return FEAR.name
    return VALENCE_AROUSAL.name


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


def run_subtask(path) -> str:
    """The subtask of a run file: from its name, else guessed from its values."""
    name = parse_run_name(path)
    return name.subtask if name else _guess_subtask(Path(path))


def parse_run(path, subtask: str | None = None, dataset: Dataset | None = None,
              keep: int | Callable[[str], int] | None = None,
              ignore_extra_values: bool = False) -> tuple[Run, Problems]:
    """Read a run file and collect the problems of its form (not of its set of films; see
    :func:`validate_run`).  ``subtask`` defaults to the one in the file name.

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
    task = get_subtask(subtask)
    if name is None:
        problems.add(0, "E100", f"{PROBLEM_CODES['E100']}; read as {subtask}")
    run = Run(path, subtask, name=name)
    films: dict[str, _FilmLines] = {}
    ignored = _FilmLines(keep=0)          # values of an unknown or repeated film: checked, not kept
    current: _FilmLines | None = None
    previous: str | None = None           # the film read last, for the sorted order
    try:
        with open(path, "rb") as handle:
            if handle.read(len(BOM)) == BOM:
                problems.add(1, "E116", "the file starts with a byte order mark (BOM): the organisers' scorer "
                                        "read it as part of the first film's name; save the file as UTF-8 "
                                        "without BOM")
        for number, text, bad in _lines(path):
            if bad is not None:
                problems.add(number, *bad)
                continue
            tokens = text.split()
            if not tokens:
                problems.add(number, "E113", "a blank line; the organisers' scorer read one film name or one "
                                             "value line per line")
                continue
            if len(tokens) == 1 and not is_number(tokens[0]):
                film = tokens[0]
                if text != film:
                    problems.add(number, "E114", f"film name {film!r} has spaces or tabs before or after it")
                if film in run.film_lines:
                    problems.add(number, "E104", f"film {film} appears a second time "
                                                 f"(first at line {run.film_lines[film]})")
                    current = ignored
                elif dataset is not None and film not in dataset.films:
                    problems.add(number, "E103", f"film {film} is not in the dataset at {dataset.root}")
                    if len(run.unknown) < PROBLEM_CAP:
                        run.unknown.setdefault(film, number)
                    current = ignored
                else:
                    if previous is not None and film < previous:
                        problems.add(number, "W203", f"film {film} comes after {previous}: films are expected in "
                                                     f"sorted order (the organisers' scorer did not mind)")
                    previous = film
                    run.film_lines[film] = number
                    rows = keep(film) if callable(keep) else keep
                    current = films[film] = _FilmLines(rows)
                continue
            if current is None:
                problems.add(number, "E102", "a value line before any film name")
                continue
            if ignore_extra_values and len(tokens) > max(task.row_widths):
                run.extra_lines += 1
                run.first_extra_line = run.first_extra_line or number
                tokens = tokens[:max(task.row_widths)]
            current.add(_check_values(number, tokens, task, problems))
    except OSError as error:
        problems.add(0, "E101", f"cannot read: {error.strerror or error}")
        return run, problems
    if not run.film_lines and not problems.counts["E101"] and not problems.counts["E103"]:
        problems.add(0, "E101", "holds no film name")
    run.films = {film: np.asarray(lines.rows, dtype=np.float64).reshape(-1, 2) for film, lines in films.items()}
    run.counts = {film: lines.count for film, lines in films.items()}
    for film, lines in films.items():   # the columns scored by PCC (valence/arousal), if any
        constant = [column for column, varies in zip(task.pcc_columns, lines.varies) if not varies]
        if lines.count >= 2 and lines.first is not None and constant:
            problems.add(run.film_lines[film], "W202",
                         f"film {film}: its {' and '.join(constant)} predictions are constant: its PCC is "
                         f"undefined, and so is the official mean PCC over films")
    return run, problems


def raise_if_errors(path, problems: Problems, tolerate=SCORER_FAILURES) -> None:
    """Raise :class:`DataError` listing the errors, if any, but those in ``tolerate``: by
    default the ones that made the organisers' scorer fail but leave the run readable."""
    errors = sum(n for code, n in problems.counts.items() if code.startswith("E") and code not in tolerate)
    if errors:
        shown = "\n".join(problems.report(errors_only=True, skip=tolerate))
        raise DataError(path, f"{errors} problem(s):\n{shown}")


def read_run(path, subtask: str | None = None) -> Run:
    """Read a run file; raise :class:`DataError` listing the problems if it is malformed
    (blank lines and spaces around film names are errors for a submission, not for reading)."""
    run, problems = parse_run(path, subtask)
    raise_if_errors(path, problems)
    return run


# --------------------------------------------------------------------------- validating

def _check_run(path, dataset: Dataset, subtask: str | None = None) -> tuple[Run, Problems]:
    run, problems = parse_run(path, subtask, dataset, keep=0)
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


def validate_run(path, dataset: Dataset, subtask: str | None = None) -> Problems:
    """Every problem of a run file against a dataset: its form, the set of films, and the
    number of segment lines of each film, at most :data:`PROBLEM_CAP` of each code (the others
    counted in ``.counts``; see :class:`Problems`).  An empty list means a valid run."""
    return _check_run(path, dataset, subtask)[1]


# --------------------------------------------------------------------------- writing

def write_run(path, predictions: Mapping[str, np.ndarray], subtask: str,
              description: Mapping | None = None, guard: OutputGuard | None = None) -> Path:
    """Write a run file atomically, films in sorted order, six decimals, and its description
    beside it as ``<path>.json`` (keys such as ``description``, ``features``, ``external_data``,
    ``model``, ``settings``, which the packager puts into the zip; always written, as it carries
    the mark of the run file: see :data:`RUN_FILE`).

    ``predictions``: film name -> array (K, 2): valence and arousal, or fear label (0/1) and
    confidence.  Both files go through ``guard`` (:class:`~mediaeval.outputs.OutputGuard`; by
    default one without ``force``): a run file mediaeval did not write, or one edited since, is
    refused (:class:`~mediaeval.outputs.OutputRefused`).
    """
    path = Path(path)
    guard = guard or OutputGuard()
    task = get_subtask(subtask)
    out = []
    for film in sorted(predictions):
        problem = film_name_problem(film)
        if problem:
            raise ValueError(f"film {film!r}: a run file cannot hold this name ({problem})")
        values = np.asarray(predictions[film], dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != 2:
            raise ValueError(f"film {film}: expected an array (K, 2), got shape {values.shape}")
        if not np.all(np.isfinite(values)):
            raise ValueError(f"film {film}: predictions hold values that are not finite")
        out.append(film)
        out.extend(task.format_rows(film, values))
    text = "\n".join(out) + "\n"
    sidecar = description_path(path)
    guard.check(sidecar, DESCRIPTION)
    with naming_output(path), guard.writing(path, RUN_FILE) as tmp:
        tmp.write_bytes(text.encode("utf-8"))
    with naming_output(sidecar), guard.writing(sidecar, DESCRIPTION) as tmp:
        tmp.write_text(_marked_description(description or {}, text), encoding="utf-8")
    return path


def _description_digest(description: Mapping) -> str:
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode("utf-8")).hexdigest()


def _marked_description(description: Mapping, run_text: str) -> str:
    """The description's JSON text, with its mark: what wrote it, the sha256 of the run file
    beside it and of the description itself (so an edit to either shows)."""
    from . import __version__

    description = {k: v for k, v in dict(description).items() if k != WRITTEN_BY}
    mark = {"tool": "mediaeval", "version": __version__,
            "run_sha256": hashlib.sha256(run_text.encode("utf-8")).hexdigest(),
            "description_sha256": _description_digest(description)}
    return json.dumps({**description, WRITTEN_BY: mark}, indent=2) + "\n"


WRITTEN_BY = "written_by"   # the key of a run description that holds its mark


def _mark(sidecar) -> dict | None:
    """The mark of a description written by :func:`write_run` and unchanged since, or None."""
    data = json_object(sidecar)
    mark = data.get(WRITTEN_BY) if data else None
    if not isinstance(mark, dict) or mark.get("tool") != "mediaeval":
        return None
    rest = {k: v for k, v in data.items() if k != WRITTEN_BY}
    return mark if mark.get("description_sha256") == _description_digest(rest) else None


def _run_marked(path) -> bool:
    mark = _mark(description_path(path))
    return mark is not None and mark.get("run_sha256") == sha256_of(path)


def looks_like_run(path, limit: int = 1 << 16) -> bool:
    """Whether ``path`` reads as a run file, judged on its first ``limit`` bytes: UTF-8 text whose
    first line is a film name and whose every line is a film name (one word, not a number) or
    one to three numbers (a note, a PDF or random bytes are not).

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "run.txt"
    >>> _ = path.write_text("MEDIAEVAL17_00\\n0.1 -0.2\\n")
    >>> looks_like_run(path)
    True
    >>> _ = path.write_text("my notes about the runs\\n")
    >>> looks_like_run(path)
    False
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(limit)
        lines = head.decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return False
    if len(head) == limit:
        lines = lines[:-1]     # the last line may be cut
    tokens = [line.split() for line in lines if line.strip()]
    if not tokens or len(tokens[0]) != 1 or is_number(tokens[0][0]):
        return False
    return all(len(t) == 1 or (len(t) <= 3 and all(map(is_number, t))) for t in tokens)


RUN_FILE = Kind("run file", _run_marked, looks_like_run)
DESCRIPTION = Kind("run description", lambda path: _mark(path) is not None,
                   lambda path: json_object(path) is not None, "a JSON object (a run description)")


@contextlib.contextmanager
def naming_output(path):
    """Let an ``OSError`` raised while writing ``path`` name ``path``: a full disk's error names
    no file, and one about the temporary file beside it would puzzle the user."""
    path = Path(path)
    try:
        yield
    except OSError as error:
        named = Path(error.filename) if isinstance(error.filename, (str, os.PathLike)) else None
        if named is None or (named.parent == path.parent and named.name.startswith(f".{path.name}.")):
            raise OSError(error.errno, error.strerror or str(error), str(path)) from error
        raise


def description_path(run_path) -> Path:
    run_path = Path(run_path)
    return run_path.with_name(run_path.name + ".json")


# --------------------------------------------------------------------------- packaging

PACKAGE_TITLE = "MediaEval 2017 Emotional Impact of Movies - submission of team"
DESCRIPTION_LIMIT = 1 << 20  # bytes: a run's description is a few lines


def read_description(run_path) -> dict:
    """The description beside a run (``<run>.json``, a JSON object), ``{}`` when there is none.

    Raises :class:`DataError` naming the file when it cannot be read or is not a JSON object.
    """
    path = description_path(run_path)
    if not path.exists():
        return {}
    try:
        if path.stat().st_size > DESCRIPTION_LIMIT:
            raise DataError(path, f"expected a JSON object describing the run, of at most {DESCRIPTION_LIMIT} bytes")
        meta = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise DataError(path, f"cannot read: {error.strerror or error}") from error
    except ValueError as error:  # JSON and UTF-8 decoding errors
        raise DataError(path, f"expected a JSON object describing the run: {error}") from error
    if not isinstance(meta, dict):
        raise DataError(path, f"expected a JSON object describing the run, got a {type(meta).__name__}")
    meta.pop(WRITTEN_BY, None)   # the output guard's mark, not part of the description
    return meta


def _describe(path: Path, name: RunName, meta: Mapping) -> str:
    lines = [f"{path.name}", f"  subtask: {name.subtask}", f"  run: {name.number}",
             f"  description: {meta.get('description', 'none given')}",
             f"  external data: {'yes' if meta.get('external_data') else 'no'}"]
    for key in ("features", "model", "settings"):
        if key in meta:
            value = meta[key]
            if isinstance(value, (list, tuple)):
                value = ", ".join(map(str, value))
            elif isinstance(value, dict):
                value = ", ".join(f"{k}={v}" for k, v in value.items())
            lines.append(f"  {key}: {value or 'none'}")
    return "\n".join(lines)


def is_package(path) -> bool:
    """Whether ``path`` is a zip written by :func:`package_runs`: zip magic bytes, and a
    ``README.txt`` that starts with the package title."""
    try:
        with open(path, "rb") as handle:
            if handle.read(4) != b"PK\x03\x04":
                return False
        with zipfile.ZipFile(path) as archive, archive.open("README.txt") as readme:
            return readme.read(len(PACKAGE_TITLE)).decode("utf-8", "replace") == PACKAGE_TITLE
    except (OSError, KeyError, zipfile.BadZipFile):
        return False


def _members_digest(archive: zipfile.ZipFile) -> bytes:
    """The zip's mark: ``mediaeval`` and a digest of its members' names, sizes and CRCs (read
    from its directory, so an added, removed or changed member shows)."""
    members = sorted((i.filename, i.CRC, i.file_size) for i in archive.infolist())
    return b"mediaeval " + hashlib.sha256(json.dumps(members).encode("utf-8")).hexdigest().encode("ascii")


def _package_marked(path) -> bool:
    if not is_package(path):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.comment == _members_digest(archive)
    except (OSError, zipfile.BadZipFile):
        return False


PACKAGE = Kind("zip", _package_marked, is_package, "a zip made by mediaeval package")


def package_runs(run_paths: Iterable, team: str, out, dataset: Dataset, force: bool = False,
                 guard: OutputGuard | None = None) -> Path:
    """Validate test-set runs and write them, with a description of each, into one zip.

    Refuses (raising :class:`MediaevalError` that lists every reason, at most
    :data:`PROBLEM_CAP` problems of a code per run) invalid runs, runs of another team or of
    the development set, more than five runs per subtask, two runs with the same subtask and
    number, an unreadable description, and an ``out`` that the output guard refuses
    (:mod:`mediaeval.outputs`: a folder, one of the inputs, a file under the dataset root, or an
    existing file other than a zip this function wrote and nobody changed since; ``force``
    replaces a zip this function wrote and that was changed since, never another file).
    The zip is written to a temporary file, then renamed.  ``guard``: the caller's output guard
    instead (the pipeline's).
    """
    from . import __version__

    run_paths = [Path(p) for p in run_paths]
    out = Path(out)
    reasons: list[str] = []
    if not TEAM_NAME.match(team):
        reasons.append(f"team name {team!r}: expected letters, digits and '-' only")
    guard = guard or OutputGuard(force, dataset_root=dataset.root,
                                 inputs=run_paths + [description_path(p) for p in run_paths],
                                 inputs_are="one of the run files given or their descriptions")
    problem = guard.refusal(out, PACKAGE)
    if problem:
        reasons.append(str(problem))
    if not run_paths:
        reasons.append("no run file given")
    names: dict[Path, RunName] = {}
    descriptions: dict[Path, dict] = {}
    for path in run_paths:
        run, problems = _check_run(path, dataset)
        reasons.extend(problems.report(errors_only=True))
        try:
            descriptions[path] = read_description(path)
        except DataError as error:
            reasons.append(str(error))
        name = parse_run_name(path)
        if name is None:
            continue
        names[path] = name
        if name.team != team:
            reasons.append(f"{path}: belongs to team {name.team}, not {team}")
        if run.film_lines and run.split == DEV:
            reasons.append(f"{path}: holds development films; a submission holds test-set runs")
    per_subtask = Counter(n.subtask for n in names.values())
    for subtask, count in per_subtask.items():
        if count > MAX_RUNS:
            reasons.append(f"{count} {subtask} runs; at most {MAX_RUNS} may be submitted")
    for key, count in Counter((n.subtask, n.number) for n in names.values()).items():
        if count > 1:
            reasons.append(f"{count} files are {key[0]} run {key[1]}: "
                           + ", ".join(str(p) for p, n in names.items() if (n.subtask, n.number) == key))
    if reasons:
        raise MediaevalError("not packaged:\n" + "\n".join(reasons))
    order = list(SUBTASKS)
    ordered = sorted(names.items(), key=lambda item: (order.index(item[1].subtask), item[1].number))
    readme = [f"{PACKAGE_TITLE} {team}",
              f"Made with mediaeval {__version__}. One run file per run; each holds every test film.",
              ""] + [_describe(path, name, descriptions[path]) + "\n" for path, name in ordered]
    with naming_output(out), guard.writing(out, PACKAGE) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path, _ in ordered:
                archive.write(path, arcname=path.name)
            archive.writestr("README.txt", "\n".join(readme))
            archive.comment = _members_digest(archive)
    return out
