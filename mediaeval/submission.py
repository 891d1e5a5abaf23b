"""Run files written, described and packaged: :func:`write_run` (a run file and its description,
through the output guard), the marks by which mediaeval knows its own run files and zips, and
:func:`package_runs` (the submission zip).  Reading and validating run files is
:mod:`mediaeval.run_files`'s.

A run may have a description beside it, ``<run file>.json`` (keys such as ``description``,
``features``, ``external_data``, ``model``, ``settings``), which the packager turns into the zip's
README.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from .dataset import DEV, Dataset, film_name_problem, is_number
from .errors import DataError, MediaevalError
from .outputs import Kind, OutputGuard, json_object, sha256_of
from .run_files import MAX_RUNS, TEAM_NAME, RunName, check_run, parse_run_name
from .task import SUBTASKS, Subtask

# --------------------------------------------------------------------------- writing

def write_run(path, predictions: Mapping[str, np.ndarray], subtask: Subtask,
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
        out.extend(subtask.format_rows(film, values))
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
    :data:`~mediaeval.run_files.PROBLEM_CAP` problems of a code per run) invalid runs, runs of
    another team or of the development set, more than five runs per subtask, two runs with the
    same subtask and number, an unreadable description, and an ``out`` that the output guard
    refuses (:mod:`mediaeval.outputs`: a folder, one of the inputs, a file under the dataset root,
    or an existing file other than a zip this function wrote and nobody changed since; ``force``
    replaces a zip this function wrote and that was changed since, never another file).
    The zip is written to a temporary file, then renamed.  ``guard``: the caller's output guard
    instead (the pipeline's).
    """
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
    names, descriptions = _checked_runs(run_paths, team, dataset, reasons)
    reasons += _numbering_problems(names)
    if reasons:
        raise MediaevalError("not packaged:\n" + "\n".join(reasons))
    order = list(SUBTASKS)
    ordered = sorted(names.items(), key=lambda item: (order.index(item[1].subtask), item[1].number))
    _write_package(out, team, ordered, descriptions, guard)
    return out


def _checked_runs(run_paths: list[Path], team: str, dataset: Dataset,
                  reasons: list[str]) -> tuple[dict[Path, RunName], dict[Path, dict]]:
    """The names and descriptions of the runs to package; adds to ``reasons`` what is wrong with
    each (its problems, its description, its team, its set)."""
    names: dict[Path, RunName] = {}
    descriptions: dict[Path, dict] = {}
    for path in run_paths:
        run, problems = check_run(path, dataset)
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
    return names, descriptions


def _numbering_problems(names: dict[Path, RunName]) -> list[str]:
    """More than :data:`MAX_RUNS` runs of a subtask, or two files of the same run."""
    reasons = []
    per_subtask = Counter(n.subtask for n in names.values())
    for subtask, count in per_subtask.items():
        if count > MAX_RUNS:
            reasons.append(f"{count} {subtask} runs; at most {MAX_RUNS} may be submitted")
    for key, count in Counter((n.subtask, n.number) for n in names.values()).items():
        if count > 1:
            reasons.append(f"{count} files are {key[0]} run {key[1]}: "
                           + ", ".join(str(p) for p, n in names.items() if (n.subtask, n.number) == key))
    return reasons


def _write_package(out: Path, team: str, ordered: list[tuple[Path, RunName]], descriptions: dict[Path, dict],
                   guard: OutputGuard) -> None:
    """The zip: the run files in ``ordered``'s order, and a README describing each."""
    from . import __version__

    readme = [f"{PACKAGE_TITLE} {team}",
              f"Made with mediaeval {__version__}. One run file per run; each holds every test film.",
              ""] + [_describe(path, name, descriptions[path]) + "\n" for path, name in ordered]
    with naming_output(out), guard.writing(out, PACKAGE) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path, _ in ordered:
                archive.write(path, arcname=path.name)
            archive.writestr("README.txt", "\n".join(readme))
            archive.comment = _members_digest(archive)
