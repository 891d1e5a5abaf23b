"""Run files: writing, reading, validating, and packaging them into the submission zip.

A run file (SPEC section 6) holds every film of one set.  For each film, a line with the film's
name alone, then one line per 10 s segment, values separated by white space, no header:

* valence/arousal: ``valence arousal``, each in [-1, 1];
* fear: ``label confidence``, label 0 or 1, confidence in [0, 1] (a label alone is accepted
  with a warning, its confidence taken equal to the label).

Files are named ``me17ei_<TEAM>_<subtask>_run<N>.txt`` with subtask ``valence_arousal`` or
``fear`` and N in 1..5.  A run may have a description beside it, ``<run file>.json``.

Validation problems are reported as ``file:line: CODE message`` (line 0: the file as a
whole); codes starting with E are errors, with W warnings.  See :data:`PROBLEM_CODES`.
"""
from __future__ import annotations

import json
import math
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from .atomic import atomic_output, write_text_atomic
from .dataset import DEV, FEAR, TEST, VALENCE_AROUSAL, Dataset, film_split
from .errors import DataError, MediaevalError

SUBTASKS = (VALENCE_AROUSAL, FEAR)
MAX_RUNS = 5
RUN_NAME = re.compile(r"^me17ei_(?P<team>[A-Za-z0-9-]+)_(?P<subtask>valence_arousal|fear)"
                      r"_run(?P<number>[1-9]\d*)\.txt$")
TEAM_NAME = re.compile(r"^[A-Za-z0-9-]+$")

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
    "W201": "fear line with a label and no confidence (confidence taken equal to the label)",
}


@dataclass(frozen=True)
class RunName:
    team: str
    subtask: str
    number: int


def run_filename(team: str, subtask: str, number: int) -> str:
    """``me17ei_<team>_<subtask>_run<number>.txt``, checking each part."""
    if not TEAM_NAME.match(team):
        raise ValueError(f"team name {team!r}: expected letters, digits and '-' only")
    if subtask not in SUBTASKS:
        raise ValueError(f"subtask {subtask!r}: expected one of {', '.join(SUBTASKS)}")
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
    confidence; ``film_lines[name]`` the line of the film's name."""

    path: Path
    subtask: str
    films: dict[str, np.ndarray] = field(default_factory=dict)
    film_lines: dict[str, int] = field(default_factory=dict)
    name: RunName | None = None

    @property
    def split(self) -> str | None:
        splits = {film_split(f) for f in self.films}
        return splits.pop() if len(splits) == 1 else None


# --------------------------------------------------------------------------- reading

def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _guess_subtask(lines: list[str]) -> str:
    rows = [ln.split() for ln in lines if ln.split() and _is_number(ln.split()[0])]
    if rows and all(r[0] in ("0", "1") for r in rows):
        return FEAR
    return VALENCE_AROUSAL


def _check_values(path, number, tokens, subtask, problems) -> list[float] | None:
    width = len(tokens)
    if not (width == 2 or (subtask == FEAR and width == 1)):
        expected = "valence arousal" if subtask == VALENCE_AROUSAL else "label confidence"
        problems.append(Problem(path, number, "E108", f"expected 2 values ({expected}), got {width}"))
        return None
    values = []
    for token in tokens:
        value = float(token) if _is_number(token) else float("nan")
        if not math.isfinite(value):
            problems.append(Problem(path, number, "E109", f"expected a finite number, got {token!r}"))
            return None
        values.append(value)
    if subtask == VALENCE_AROUSAL:
        for name, value in zip(("valence", "arousal"), values):
            if not -1.0 <= value <= 1.0:
                problems.append(Problem(path, number, "E110", f"{name} {value:g} is outside [-1, 1]"))
        return values
    if values[0] not in (0.0, 1.0):
        problems.append(Problem(path, number, "E111", f"expected fear label 0 or 1, got {tokens[0]!r}"))
    if width == 1:
        problems.append(Problem(path, number, "W201", "label without confidence; confidence = label"))
        values.append(values[0])
    elif not 0.0 <= values[1] <= 1.0:
        problems.append(Problem(path, number, "E112", f"confidence {values[1]:g} is outside [0, 1]"))
    return values


def parse_run(path, subtask: str | None = None) -> tuple[Run, list[Problem]]:
    """Read a run file and collect every problem of its form (not of its films; see
    :func:`validate_run`).  ``subtask`` defaults to the one in the file name."""
    path = Path(path)
    problems: list[Problem] = []
    name = parse_run_name(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        return Run(path, subtask or VALENCE_AROUSAL), [Problem(path, 0, "E101", f"cannot read: {error}")]
    if subtask is None:
        subtask = name.subtask if name else _guess_subtask(lines)
    if name is None:
        problems.append(Problem(path, 0, "E100", f"{PROBLEM_CODES['E100']}; read as {subtask}"))
    run = Run(path, subtask, name=name)
    rows: dict[str, list[list[float]]] = {}
    current = None
    for number, line in enumerate(lines, start=1):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) == 1 and not _is_number(tokens[0]):
            current = tokens[0]
            if current in run.film_lines:
                problems.append(Problem(path, number, "E104", f"film {current} appears a second time "
                                                              f"(first at line {run.film_lines[current]})"))
                current = None
                continue
            run.film_lines[current] = number
            rows[current] = []
            continue
        if current is None:
            if not run.film_lines:
                problems.append(Problem(path, number, "E102", "a value line before any film name"))
            continue
        values = _check_values(path, number, tokens, subtask, problems)
        rows[current].append(values if values is not None else [math.nan, math.nan])
    if not run.film_lines:
        problems.append(Problem(path, 0, "E101", "holds no film name"))
    run.films = {film: np.asarray(values, dtype=np.float64).reshape(-1, 2) for film, values in rows.items()}
    return run, problems


def _raise_if_errors(path, problems: list[Problem]) -> None:
    errors = [p for p in problems if p.is_error]
    if errors:
        shown = "\n".join(str(p) for p in errors[:20])
        more = f"\n... and {len(errors) - 20} more" if len(errors) > 20 else ""
        raise DataError(path, f"{len(errors)} problem(s):\n{shown}{more}")


def read_run(path, subtask: str | None = None) -> Run:
    """Read a run file; raise :class:`DataError` listing the problems if it is malformed."""
    run, problems = parse_run(path, subtask)
    _raise_if_errors(path, problems)
    return run


# --------------------------------------------------------------------------- validating

def validate_run(path, dataset: Dataset, subtask: str | None = None) -> list[Problem]:
    """Every problem of a run file against a dataset: its form, the set of films, and the
    number of segment lines of each film.  An empty list means a valid run."""
    run, problems = parse_run(path, subtask)
    path = run.path
    known = {f: line for f, line in run.film_lines.items() if f in dataset.films}
    for film, line in run.film_lines.items():
        if film not in dataset.films:
            problems.append(Problem(path, line, "E103", f"film {film} is not in the dataset at {dataset.root}"))
    splits = Counter(film_split(f) for f in known)
    if len(splits) > 1:
        problems.append(Problem(path, 0, "E106", f"holds {splits[DEV]} development and {splits[TEST]} "
                                                 f"test films; a run is for one set"))
    elif splits:
        split = next(iter(splits))
        expected = dataset.dev_films if split == DEV else dataset.test_films
        for film in expected:
            if film.name not in run.film_lines:
                problems.append(Problem(path, 0, "E105", f"{'development' if split == DEV else 'test'} "
                                                         f"film {film.name} is missing"))
    for film, line in known.items():
        have, want = len(run.films[film]), dataset.film(film).n_segments
        if have != want:
            problems.append(Problem(path, line, "E107", f"film {film} has {have} segment lines, "
                                                        f"expected {want}"))
    return sorted(problems, key=lambda p: (p.line, p.code))


# --------------------------------------------------------------------------- writing

def write_run(path, predictions: Mapping[str, np.ndarray], subtask: str,
              description: Mapping | None = None) -> Path:
    """Write a run file atomically, films in sorted order, six decimals.

    Parameters
    ----------
    predictions : mapping of film name to array
        Valence/arousal: shape (K, 2).  Fear: shape (K, 2) of label (0/1) and confidence.
    description : mapping, optional
        Written beside the run as ``<path>.json`` (keys such as ``description``, ``features``,
        ``external_data``, ``model``, ``settings``); the packager puts it into the zip.
    """
    path = Path(path)
    if subtask not in SUBTASKS:
        raise ValueError(f"subtask {subtask!r}: expected one of {', '.join(SUBTASKS)}")
    out = []
    for film in sorted(predictions):
        values = np.asarray(predictions[film], dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != 2:
            raise ValueError(f"film {film}: expected an array (K, 2), got shape {values.shape}")
        if not np.all(np.isfinite(values)):
            raise ValueError(f"film {film}: predictions hold values that are not finite")
        out.append(film)
        if subtask == VALENCE_AROUSAL:
            if np.any(np.abs(values) > 1):
                raise ValueError(f"film {film}: valence/arousal outside [-1, 1]")
            out.extend(f"{v:.6f} {a:.6f}" for v, a in values)
        else:
            if not np.all(np.isin(values[:, 0], (0, 1))) or np.any((values[:, 1] < 0) | (values[:, 1] > 1)):
                raise ValueError(f"film {film}: expected labels 0/1 and confidences in [0, 1]")
            out.extend(f"{int(label)} {conf:.6f}" for label, conf in values)
    write_text_atomic(path, "\n".join(out) + "\n")
    if description is not None:
        write_text_atomic(description_path(path), json.dumps(dict(description), indent=2) + "\n")
    return path


def description_path(run_path) -> Path:
    run_path = Path(run_path)
    return run_path.with_name(run_path.name + ".json")


def fear_rows(confidence, threshold: float = 0.5) -> np.ndarray:
    """Fear run rows (K, 2) from confidences (K,): label = confidence >= threshold."""
    confidence = np.clip(np.asarray(confidence, dtype=np.float64), 0.0, 1.0)
    return np.column_stack([(confidence >= threshold).astype(np.float64), confidence])


# --------------------------------------------------------------------------- packaging

def _describe(path: Path, name: RunName) -> str:
    meta = {}
    if description_path(path).exists():
        meta = json.loads(description_path(path).read_text(encoding="utf-8"))
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


def package_runs(run_paths: Iterable, team: str, out, dataset: Dataset, force: bool = False) -> Path:
    """Validate test-set runs and write them, with a description of each, into one zip.

    Refuses (raising :class:`MediaevalError` that lists every reason) invalid runs, runs of
    another team or of the development set, more than five runs per subtask, two runs with
    the same subtask and number, and an existing ``out`` unless ``force``.  The zip is
    written to a temporary file, then renamed.
    """
    from . import __version__

    run_paths = [Path(p) for p in run_paths]
    out = Path(out)
    reasons: list[str] = []
    if not TEAM_NAME.match(team):
        reasons.append(f"team name {team!r}: expected letters, digits and '-' only")
    if out.exists() and not force:
        reasons.append(f"{out} exists; use --force to overwrite it")
    if not run_paths:
        reasons.append("no run file given")
    names: dict[Path, RunName] = {}
    for path in run_paths:
        problems = validate_run(path, dataset)
        reasons.extend(str(p) for p in problems if p.is_error)
        name = parse_run_name(path)
        if name is None:
            continue
        names[path] = name
        if name.team != team:
            reasons.append(f"{path}: belongs to team {name.team}, not {team}")
        run, _ = parse_run(path)
        if run.films and run.split == DEV:
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
    ordered = sorted(names.items(), key=lambda item: (SUBTASKS.index(item[1].subtask), item[1].number))
    readme = [f"MediaEval 2017 Emotional Impact of Movies - submission of team {team}",
              f"Made with mediaeval {__version__}. One run file per run; each holds every test film.",
              ""] + [_describe(path, name) + "\n" for path, name in ordered]
    with atomic_output(out) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path, _ in ordered:
                archive.write(path, arcname=path.name)
            archive.writestr("README.txt", "\n".join(readme))
    return out
