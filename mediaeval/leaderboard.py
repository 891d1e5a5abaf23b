"""Which trained run is best, and how sure that is: out-of-fold figures of model folders with
their intervals, compared with the best run and the constant baseline on the same films.

A row per model folder written by ``mediaeval train`` (or ``pipeline``): its out-of-fold
figures (official means over films), and the constant baseline on the *same* folds (each
fold's films predicted by the mean label of the other folds' films), both scored by the same
code.  Nothing is retrained: it reads ``scores.json``, ``folds.json`` and ``run.toml``, and the
annotations (and the out-of-fold run file when ``scores.json`` predates a figure).

Every figure comes with a 95 % interval from a percentile bootstrap over *films* (the unit the
official figures average; :mod:`mediaeval.evidence`: 2,000 resamples, seeded), and every run is
compared, film by film, with the best run (on every figure) and with the constant (on the
subtask's :attr:`~mediaeval.task.Subtask.constant_keys`: the MSEs, MAP), the same film resamples
for every run (paired): the difference, its interval and a verdict, ``better``, ``worse`` or
``indistinguishable`` (the interval holds 0).  Runs are compared on the films they all hold
(a note says so when their film sets differ).

Order, per subtask: by the *criterion* (:meth:`mediaeval.task.Subtask.rank_value`; the runs'
own ``criterion`` when they agree, else the subtask's default: valence/arousal the mean of the
two MSEs, fear MAP), the runs *tied with the best* first: those none of whose criterion figures
is worse than the best run's by its paired interval.

A model trained on other labels than the dataset's, or on films it lacks, is not compared with
its constant, and a note says why; so does a note for a model folder that records no digest of
its labels (it cannot be checked: :func:`mediaeval.provenance.check_labels`).

A run cross-validated several times (``folds_repeats``) is weighed by each film's figure averaged
over its repeats, the constant on every repeat's folds alike; its comparisons resample its repeats
within each film resample (:func:`mediaeval.evidence.repeated_difference`), and each figure's
spread over repeats is given beside its interval (:class:`Spread`).  A run trained with a lockbox
(:mod:`mediaeval.lockbox`) has its figures on the lockbox films weighed apart
(:class:`LockboxEvidence`): never ranked, never compared with the best run.
"""
from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from . import evidence
from .baseline import constant_predictions
from .dataset import TEST
from .errors import DataError
from .folds import read_repeats, read_seed
from .manifest import read_manifest
from .model_folder import chosen_text
from .plots import new_plot, save_plot
from .provenance import check_labels
from .runs import RunDefinition
from .repeats import spread
from .scoring import Scores, score_repeats, score_run
from .task import Subtask


@dataclass(frozen=True)
class Interval:
    """A figure on the compared films and its percentile interval (``None`` where undefined)."""

    value: float | None
    low: float | None
    high: float | None

    def to_json(self) -> dict:
        return {"value": self.value, "ci": [self.low, self.high]}


@dataclass(frozen=True)
class Comparison:
    """A run's figure minus another's on the same films, its paired interval and its verdict
    (:func:`mediaeval.evidence.verdict`; ``None`` when undefined)."""

    difference: float | None
    low: float | None
    high: float | None
    verdict: str | None

    def to_json(self) -> dict:
        return {"difference": self.difference, "ci": [self.low, self.high], "verdict": self.verdict}


@dataclass(frozen=True)
class Spread:
    """A figure in each repeat of the cross-validation (on the compared films) and their sample
    standard deviation (:func:`mediaeval.repeats.spread`; ``None`` where undefined)."""

    values: tuple[float | None, ...]
    sd: float | None

    def to_json(self) -> dict:
        return {"sd": self.sd, "values": list(self.values)}


@dataclass(frozen=True)
class LockboxEvidence:
    """A run's figures on the lockbox films (scored once by its submitted models), each with its
    interval over those films, and the constant's (the mean label of the films it was trained
    on) with the paired difference to it."""

    films: tuple[str, ...]
    figures: dict[str, Interval]
    constant: dict[str, Interval]       # empty: no constant (labels not the dataset's)
    vs_constant: dict[str, Comparison]

    def to_json(self) -> dict:
        return {"films": list(self.films), "figures": {k: v.to_json() for k, v in self.figures.items()},
                "constant": {k: v.to_json() for k, v in self.constant.items()} or None,
                "vs_constant": {k: v.to_json() for k, v in self.vs_constant.items()}}


@dataclass(frozen=True)
class Evidence:
    """What the leaderboard found for one run, beside its fellows of the same subtask."""

    criterion: str                      # what the board ranks by
    films: tuple[str, ...]              # the films its figures and comparisons are on
    figures: dict[str, Interval]        # per table key
    constant: dict[str, Interval]       # the constant on its folds, per table key (empty: none)
    vs_best: dict[str, Comparison | None]   # per table key; None for the best run itself
    vs_constant: dict[str, Comparison]  # per constant key (empty: no constant)
    tied: bool                          # no criterion figure worse than the best run's
    best: bool                          # the best run by the criterion
    method: str = ""                    # how the (95 %) intervals were drawn, in words
    notes: tuple[str, ...] = ()         # the board's notes (the same for every run of the subtask)
    repeats: dict[str, Spread] = field(default_factory=dict)   # per table key; empty: one cross-validation
    lockbox: LockboxEvidence | None = None   # None: no lockbox


@dataclass(frozen=True)
class Entry:
    """One trained run and the constant baseline on its folds (``None``: no honest baseline);
    ``note``: what the reader must know of it (its labels are not the dataset's, say);
    ``evidence`` once ranked (:func:`ranked`)."""

    name: str
    subtask: Subtask
    description: str
    path: Path
    scores: Scores
    baseline: Scores | None
    criterion: str | None = None        # the run's own criterion (run.toml), None: the subtask's
    note: str | None = None
    lockbox: Scores | None = None           # its lockbox films' figures (lockbox.json); None: no lockbox
    lockbox_baseline: Scores | None = None  # the constant (its training films' mean label) on them
    chosen: str | None = None               # what its final model's inner cross-validation chose, in words
    evidence: Evidence | None = field(default=None, compare=False)

    def figure(self, key: str, which: str = "official"):
        """``which``: official, fold_mean or fold_std; of the run (or of ``baseline:...``); ``None``
        when undefined or absent (as in ``scores.json``, on the run's own films)."""
        source = self.baseline if which.startswith("baseline:") else self.scores
        return None if source is None else source.figure(key, which.split(":")[-1])


def _with_every_figure(scores: Scores, model_dir: Path, dataset) -> Scores:
    """``scores``, or, when its per-film figures lack one the subtask now reports (a
    ``scores.json`` written by an older version: no CCC, no false alarm), the out-of-fold run
    file of the folder scored again by its folds, if the folder holds it."""
    task = scores.subtask
    needed = {task.film_figure(k) for k in task.table_keys} - {None}
    held = set().union(*(set(v) for v in scores.per_film.values())) if scores.per_film else set()
    run_file = (read_manifest(model_dir) or {}).get("run_file")
    if needed <= held or not run_file or not (model_dir / run_file).is_file():
        return scores
    return score_run(model_dir / run_file, dataset, folds_file=model_dir / "folds.json")


def read_entry(model_dir, dataset) -> Entry:
    """The figures of one model folder, and the constant baseline on its folds (on every repeat's,
    averaged as its figures are: :func:`~mediaeval.scoring.score_repeats`), with what
    :func:`~mediaeval.provenance.check_labels` says of the labels it was trained on (no baseline
    when they are not the dataset's, or a film of its folds has none); and its lockbox's figures
    and constant, if it has a lockbox."""
    model_dir = Path(model_dir)
    if not (model_dir / "scores.json").exists():
        raise DataError(model_dir, "expected a model folder made by mediaeval train; scores.json is missing")
    scores = Scores.read(model_dir / "scores.json")
    repeats = read_repeats(model_dir / "folds.json")
    config = RunDefinition.load(model_dir / "run.toml")
    subtask = config.task
    films = [n for fold in repeats[0] for n in fold]
    manifest = read_manifest(model_dir)
    check = check_labels(manifest, dataset, subtask, config.name, films)
    entry = Entry(config.name, subtask, config.description, model_dir, scores, None, config.criterion, check.note,
                  *_lockbox_scores(model_dir, manifest, dataset, films, subtask, check.comparable),
                  chosen=chosen_text(model_dir, config))
    if not check.comparable:
        return entry
    scores = _with_every_figure(scores, model_dir, dataset)
    truth = {n: dataset.films[n].labels(subtask) for n in films}
    predictions = []
    for folds in repeats:
        prediction = {}
        for held in folds:
            train = [dataset.films[n] for n in films if n not in held]
            prediction.update(constant_predictions(train, [dataset.films[n] for n in held], subtask))
        predictions.append(prediction)
    baseline = score_repeats(truth, predictions, repeats, subtask, read_seed(model_dir / "folds.json"))
    return replace(entry, scores=scores, baseline=baseline)


def _lockbox_scores(model_dir: Path, manifest: dict | None, dataset, films: list[str], subtask: Subtask,
                    comparable: bool) -> tuple[Scores | None, Scores | None]:
    """The figures of a model folder's lockbox films (``lockbox.json``, when its manifest names a
    lockbox) and, when its labels are the dataset's, the constant's on them: the mean label of
    ``films``, those it was trained on."""
    from .model_folder import LOCKBOX_SCORES

    boxed = (manifest or {}).get("lockbox")
    if not boxed:
        return None, None
    scores = Scores.read(model_dir / LOCKBOX_SCORES)
    if not comparable or any(n not in dataset.films or not dataset.films[n].has_labels(subtask) for n in boxed):
        return scores, None
    prediction = constant_predictions([dataset.films[n] for n in films], [dataset.films[n] for n in boxed], subtask)
    return scores, subtask.score({n: dataset.films[n].labels(subtask) for n in boxed}, prediction)



def run_file_entry(path, scores, dataset) -> Entry:
    """The entry of a run file, for comparing run files (``mediaeval plot``).

    A run file of a model folder (the run file its manifest names) is that folder's entry
    (:func:`read_entry`: out-of-fold figures, the constant on the same folds), named after the
    file.  Any other run file (a test-set prediction, the output of ``mediaeval fuse``) has no
    folds: its own figures ``scores`` (a :class:`~mediaeval.scoring.Scores` of the films it was
    scored on), and the constant baseline only where it is honest without folds: when every
    scored film is a test film, the mean label of the labelled development films (as ``mediaeval
    baseline --films test``); none for development films of unknown folds.
    """
    path = Path(path)
    manifest = read_manifest(path.parent)
    if manifest is not None and manifest.get("state") == "complete" and manifest.get("run_file") == path.name:
        return replace(read_entry(path.parent, dataset), name=path.stem)
    return Entry(path.stem, scores.subtask, "", path, scores,
                 _test_baseline(sorted(scores.per_film), scores.subtask, dataset))


def _test_baseline(films: list[str], subtask: Subtask, dataset) -> Scores | None:
    """The constant (mean label of the labelled development films) scored on ``films``, if they
    are all test films and some development film is labelled; else ``None``."""
    train = [f for f in dataset.dev_films if f.has_labels(subtask)]
    if not films or not train or any(dataset.films[f].split != TEST for f in films):
        return None
    prediction = constant_predictions(train, [dataset.films[f] for f in films], subtask)
    return subtask.score({f: dataset.films[f].labels(subtask) for f in films}, prediction)


# --------------------------------------------------------------------------- the evidence

def _number(value) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _values(scores: Scores, task, key: str, films) -> np.ndarray:
    """Per film (in ``films``' order) the per-film figure behind the official ``key``; ``nan``
    where undefined or absent."""
    source = task.film_figure(key)
    return np.array([scores.per_film.get(f, {}).get(source, math.nan) if source else math.nan for f in films],
                    dtype=np.float64)


def _interval(task, key: str, values: np.ndarray, samples: np.ndarray, level: float) -> Interval:
    low, high = evidence.interval(values, samples, level)
    value = evidence.film_mean(values, strict=key in task.strict_keys)
    return Interval(_number(value), _number(low), _number(high))


def _stack(scores: Scores, task, key: str, films) -> np.ndarray:
    """``(repeats, films)``: each repeat's per-film figure behind ``key`` (:func:`_values`); one
    row, the scores' own, for scores of one cross-validation."""
    if not scores.repeats:
        return _values(scores, task, key, films)[None, :]
    return np.stack([_values(r, task, key, films) for r in scores.repeats])


def _compare(task, key: str, values: np.ndarray, reference: np.ndarray, samples: np.ndarray,
             level: float, stacks: tuple[np.ndarray, np.ndarray] | None = None,
             repeats: dict[int, np.ndarray] | None = None) -> Comparison:
    """The paired difference of ``values`` and ``reference`` (per-film figures, averaged over
    repeats); when ``stacks`` (each repeat's) hold several repeats, its interval resamples the
    repeats too (:func:`mediaeval.evidence.repeated_difference`, by ``repeats``)."""
    if stacks is not None and max(stack.shape[0] for stack in stacks) > 1:
        difference, low, high = evidence.repeated_difference(*stacks, samples, repeats or {}, level)
    else:
        difference, low, high = evidence.paired_difference(values, reference, samples, level)
    return Comparison(_number(difference), _number(low), _number(high),
                      evidence.verdict(low, high, task.lower_is_better(key)))


def _criterion(entries: list[Entry], task, criterion: str | None, notes: list[str]) -> str:
    """The board's criterion: ``criterion`` if given, else the runs' own when they agree, else
    the subtask's default (with a note)."""
    if criterion is not None:
        return task.criterion_of(criterion)
    declared = sorted({task.criterion_of(e.criterion) for e in entries})
    if len(declared) == 1:
        return declared[0]
    notes.append(f"the runs declare different criteria ({', '.join(declared)}): ranked by the subtask's "
                 f"default, {task.criterion} (leaderboard --criterion chooses)")
    return task.criterion


def _films(entries: list[Entry], notes: list[str]) -> list[str] | None:
    """The films every run holds (sorted), with a note when their film sets differ; ``None``
    when no film is common to them all."""
    sets = [set(e.scores.per_film) for e in entries]
    common = set.intersection(*sets)
    if all(s == common for s in sets):
        return sorted(common)
    if not common:
        notes.append("no film is common to every run: each run's figures are on its own films, and runs are "
                     "not compared with one another")
        return None
    extra = "; ".join(f"{e.name} {len(s - common)} more" for e, s in zip(entries, sets) if s - common)
    notes.append(f"the runs hold different films: figures and comparisons are on the {len(common)} films common "
                 f"to all ({extra})")
    return sorted(common)


def _missing_note(entries: list[Entry], task, notes: list[str]) -> None:
    for e in entries:
        held = set().union(*(set(v) for v in e.scores.per_film.values())) if e.scores.per_film else set()
        absent = [k for k in task.table_keys if task.film_figure(k) not in held]
        if absent:
            notes.append(f"{e.name}: no {', '.join(absent)} in its scores.json (written by an older version, "
                         f"without its out-of-fold run file): retrain it to get them")


def _versus(task, e: Entry, best: Entry, values: dict, stacks: dict, films: list[str], samples, repeats: dict,
            common: bool, level: float):
    """``(constant, vs_constant, vs_best)`` of one run (see :class:`Evidence`): ``values`` and
    ``stacks`` per run and key, the per-film figures averaged over repeats and each repeat's."""
    keys = task.table_keys
    constant, vs_constant = {}, {}
    if e.baseline is not None and films:
        base = {k: _values(e.baseline, task, k, films) for k in keys}
        constant = {k: _interval(task, k, base[k], samples, level) for k in keys}
        vs_constant = {k: _compare(task, k, values[e.name][k], base[k], samples, level,
                                   (stacks[e.name][k], _stack(e.baseline, task, k, films)), repeats)
                       for k in task.constant_keys}
    if e is best or not common:
        return constant, vs_constant, {k: None for k in keys}
    return constant, vs_constant, {k: _compare(task, k, values[e.name][k], values[best.name][k], samples, level,
                                               (stacks[e.name][k], stacks[best.name][k]), repeats) for k in keys}


def _spreads(e: Entry, task, films: list[str]) -> dict[str, Spread]:
    """Per table key, the run's figure in each repeat of its cross-validation on ``films`` and
    their spread; empty for a run cross-validated once."""
    if not e.scores.repeats or not films:
        return {}
    out = {}
    for key in task.table_keys:
        values = tuple(_number(evidence.film_mean(_values(r, task, key, films), strict=key in task.strict_keys))
                       for r in e.scores.repeats)
        out[key] = Spread(values, _number(spread(values)))
    return out


def _lockbox(e: Entry, task, resamples: int, seed: int, level: float) -> LockboxEvidence | None:
    """The run's :class:`LockboxEvidence` (intervals over its lockbox films, their own
    resamples), or None without a lockbox."""
    if e.lockbox is None or not e.lockbox.per_film:
        return None
    films = sorted(e.lockbox.per_film)
    samples = evidence.film_resamples(len(films), resamples, seed)
    values = {k: _values(e.lockbox, task, k, films) for k in task.table_keys}
    constant, vs_constant = {}, {}
    if e.lockbox_baseline is not None:
        base = {k: _values(e.lockbox_baseline, task, k, films) for k in task.table_keys}
        constant = {k: _interval(task, k, base[k], samples, level) for k in task.table_keys}
        vs_constant = {k: _compare(task, k, values[k], base[k], samples, level) for k in task.constant_keys}
    return LockboxEvidence(tuple(films), {k: _interval(task, k, values[k], samples, level) for k in task.table_keys},
                           constant, vs_constant)


def _lockbox_notes(entries: list[Entry], notes: list[str]) -> None:
    """Notes when some runs have a lockbox and others none, or lockboxes of other films."""
    boxed = {e.name: tuple(sorted(e.lockbox.per_film)) for e in entries if e.lockbox is not None}
    if boxed and len(boxed) < len(entries):
        notes.append(f"no lockbox for {', '.join(e.name for e in entries if e.name not in boxed)}: trained without "
                     f"one (mediaeval train --lockbox, or pipeline with runs/lockbox.toml)")
    if len(set(boxed.values())) > 1:
        notes.append("the runs' lockboxes hold different films: their lockbox figures are not on the same films")


def weigh(entries: list[Entry], criterion: str | None = None, resamples: int = evidence.RESAMPLES,
          seed: int = evidence.SEED, level: float = evidence.LEVEL) -> list[Entry]:
    """The entries of one subtask with their :class:`Evidence`, in the board's order: tied with
    the best first, each group by the criterion (best first), then by name.  A run cross-validated
    several times is weighed by its figures averaged over repeats (each film's, then their mean),
    with their spread over repeats beside, and its comparisons resample its repeats as well as the
    films (:func:`mediaeval.evidence.repeated_difference`); its lockbox's figures are weighed apart
    and never ranked."""
    task = entries[0].subtask
    notes: list[str] = []
    notes += [e.note for e in entries if e.note]
    criterion = _criterion(entries, task, criterion, notes)
    common = _films(entries, notes)
    _missing_note(entries, task, notes)
    _lockbox_notes(entries, notes)
    keys = task.table_keys
    method = f"percentile bootstrap over films, {resamples:,} resamples, seed {seed}"
    films = {e.name: common if common is not None else sorted(e.scores.per_film) for e in entries}
    samples = {n: evidence.film_resamples(len(fs), resamples, seed) if fs else None for n, fs in films.items()}
    values = {e.name: {k: _values(e.scores, task, k, films[e.name]) for k in keys} for e in entries}
    stacks = {e.name: {k: _stack(e.scores, task, k, films[e.name]) for k in keys} for e in entries}
    repeats = {n: evidence.repeat_resamples(n, resamples, seed)
               for n in {len(e.scores.repeats) for e in entries if e.scores.repeats}}
    figures = {e.name: {k: _interval(task, k, values[e.name][k], samples[e.name], level) if films[e.name]
                        else Interval(None, None, None) for k in keys} for e in entries}
    rank = {e.name: task.rank_value(lambda k, n=e.name: figures[n][k].value, criterion) for e in entries}
    best = min(entries, key=lambda e: (-rank[e.name], e.name))
    out = []
    for e in entries:
        constant, vs_constant, vs_best = _versus(task, e, best, values, stacks, films[e.name], samples[e.name],
                                                 repeats, common is not None, level)
        tied = e is best or (common is not None and all(
            vs_best[k].verdict in (evidence.INDISTINGUISHABLE, evidence.BETTER)
            for k in task.criterion_keys(criterion)))
        out.append(replace(e, evidence=Evidence(criterion, tuple(films[e.name]), figures[e.name], constant, vs_best,
                                                vs_constant, tied, e is best, method, tuple(notes),
                                                _spreads(e, task, films[e.name]),
                                                _lockbox(e, task, resamples, seed, level))))
    return sorted(out, key=lambda e: (not e.evidence.tied, -rank[e.name], e.name))


def ranked(entries, criterion: str | None = None, resamples: int = evidence.RESAMPLES,
           seed: int = evidence.SEED) -> dict[str, list[Entry]]:
    """``{subtask name: entries with their evidence, in the board's order}`` (:func:`weigh`)."""
    out: dict[str, list[Entry]] = {}
    for entry in entries:
        out.setdefault(entry.subtask.name, []).append(entry)
    return {s: weigh(rows, criterion, resamples, seed) for s, rows in sorted(out.items())}


def leaderboard(model_dirs, dataset, criterion: str | None = None, resamples: int = evidence.RESAMPLES,
                seed: int = evidence.SEED) -> dict[str, list[Entry]]:
    """``{subtask name: entries, in the board's order}`` of the given model folders."""
    return ranked([read_entry(model_dir, dataset) for model_dir in model_dirs], criterion, resamples, seed)


# --------------------------------------------------------------------------- records

def to_records(board: dict[str, list[Entry]]) -> list[dict]:
    """One record per run (what ``leaderboard --json`` prints): rank, subtask, run, path,
    description, criterion, the number of films compared, ``tied_with_best``, ``best``, and
    ``figures.<key> = {"value", "ci": [low, high]}``, ``constant.<key>`` alike (``null``: no
    constant), ``vs_best.<key>`` (``null`` for the best run itself) and ``vs_constant.<key>`` =
    ``{"difference", "ci": [low, high], "verdict"}``, then the board's notes.  When some run of
    the board was cross-validated several times: ``repeats.<key> = {"sd", "values"}`` (each
    repeat's figure on the compared films, their sample sd; ``null`` for a run cross-validated
    once) after ``figures``; when some run has a lockbox: ``lockbox`` = ``{"films", "figures",
    "constant", "vs_constant"}`` (``null``: none) before the notes; last ``chosen``: what the final
    model's inner cross-validation chose, in words (null where it records none)."""
    records = []
    entries = [e for rows in board.values() for e in rows]
    repeated, boxed = any(e.evidence.repeats for e in entries), any(e.evidence.lockbox for e in entries)
    for subtask, rows in board.items():
        for rank, e in enumerate(rows, start=1):
            ev = e.evidence
            record = {
                "rank": rank, "subtask": subtask, "run": e.name, "path": str(e.path), "description": e.description,
                "criterion": ev.criterion, "films": len(ev.films), "best": ev.best, "tied_with_best": ev.tied,
                "figures": {k: v.to_json() for k, v in ev.figures.items()}}
            if repeated:
                record["repeats"] = {k: v.to_json() for k, v in ev.repeats.items()} or None
            record.update({
                "constant": {k: v.to_json() for k, v in ev.constant.items()} if ev.constant else None,
                "vs_best": {k: None if v is None else v.to_json() for k, v in ev.vs_best.items()},
                "vs_constant": {k: v.to_json() for k, v in ev.vs_constant.items()}})
            if boxed:
                record["lockbox"] = None if ev.lockbox is None else ev.lockbox.to_json()
            records.append({**record, "notes": list(ev.notes), "chosen": e.chosen})
    return records


def to_flat_records(board: dict[str, list[Entry]]) -> list[dict]:
    """The records of :func:`to_records` flattened for CSV: ``<key>``, ``<key>_ci_low``,
    ``<key>_ci_high``, ``constant_<key>`` (and its bounds), ``vs_best_<key>`` (the difference,
    its bounds, ``_verdict``), ``vs_constant_<key>`` alike; ``<key>_repeats_sd`` and
    ``<key>_repeat<r>`` over repeats, ``lockbox_films`` and ``lockbox_<column>`` for the lockbox;
    notes joined by ``; ``; ``chosen``."""
    rows = []
    for record in to_records(board):
        row = {k: record[k] for k in ("rank", "subtask", "run", "path", "description", "criterion", "films",
                                      "best", "tied_with_best")}
        _flat_figures(row, "", record)
        for key, v in (record.get("repeats") or {}).items():
            row.update({f"{key}_repeats_sd": v["sd"],
                        **{f"{key}_repeat{r}": x for r, x in enumerate(v["values"], start=1)}})
        if record.get("lockbox"):
            row["lockbox_films"] = len(record["lockbox"]["films"])
            _flat_figures(row, "lockbox_", {**record["lockbox"], "vs_best": {}})
        row["notes"] = "; ".join(record["notes"])
        row["chosen"] = record["chosen"]
        rows.append(row)
    return rows


def _flat_figures(row: dict, start: str, record: dict) -> None:
    """Into ``row``: the figures, constant and comparisons of ``record``, their columns named
    after ``start``."""
    for prefix, part in (("", record["figures"]), ("constant_", record["constant"] or {})):
        for key, v in part.items():
            row.update({f"{start}{prefix}{key}": v["value"], f"{start}{prefix}{key}_ci_low": v["ci"][0],
                        f"{start}{prefix}{key}_ci_high": v["ci"][1]})
    for prefix in ("vs_best", "vs_constant"):
        for key, v in record[prefix].items():
            v = v or {"difference": None, "ci": [None, None], "verdict": None}
            row.update({f"{start}{prefix}_{key}": v["difference"], f"{start}{prefix}_{key}_ci_low": v["ci"][0],
                        f"{start}{prefix}_{key}_ci_high": v["ci"][1], f"{start}{prefix}_{key}_verdict": v["verdict"]})


# --------------------------------------------------------------------------- the plot

def _plot_title(board: dict[str, list[Entry]]) -> str:
    entries = [e for rows in board.values() for e in rows]
    lines = ["official figures with 95 % intervals (percentile bootstrap over films); constant dashed; "
             "grey names: worse than the best run on the criterion"]
    without = [e.name for e in entries if not e.baseline]
    if without:
        lines.append(f"no constant for {', '.join(without)}: development films of unknown folds")
    return "\n".join(lines)


def with_evidence(board) -> dict:
    """``board`` with every entry's evidence (:func:`weigh` for a subtask whose entries lack it:
    a board built by hand)."""
    return {s: entries if all(e.evidence for e in entries) else weigh(entries) for s, entries in board.items()}


def leaderboard_plot(board: dict[str, list[Entry]]):
    """The plot of :func:`plot_leaderboard` (a matplotlib ``Figure`` of its own, outside pyplot).

    One panel per figure (MSE and PCC never share an axis), titled by the figure's key: each
    run's value as a point with its 95 % interval over films (a bar from its low to its high
    end; none where undefined), the runs tied with the best named in black, the others in grey.
    The constant baseline is a dashed line across the panel when the runs share it, else a
    dashed mark on each run's row (runs on other folds or films); a run without an honest
    constant has none.
    """
    board = with_evidence(board)
    panels = [(s, k) for s, entries in board.items() for k in entries[0].subtask.panel_keys]
    # wrapped to the plot's width (about 13 characters an inch): one panel of fear is narrow
    title = "\n".join(textwrap.fill(line, int(13 * 3.6 * len(panels))) for line in _plot_title(board).split("\n"))
    plot = new_plot(figsize=(3.6 * len(panels), 0.45 * max(len(e) for e in board.values()) + 2.2
                             + 0.2 * title.count("\n")))
    axes = plot.subplots(1, len(panels), squeeze=False)
    for ax, (subtask, key) in zip(axes[0], panels):
        _draw_panel(ax, board[subtask][::-1], key)
    plot.suptitle(title, fontsize=10 if "\n" not in title else 8)
    plot.tight_layout()
    return plot


def _draw_panel(ax, entries: list[Entry], key: str) -> None:
    """One panel of :func:`leaderboard_plot`: ``entries`` bottom to top."""
    figures = [e.evidence.figures[key] for e in entries]
    values = np.array([math.nan if f.value is None else f.value for f in figures])
    low = np.array([math.nan if f.low is None else f.low for f in figures])
    high = np.array([math.nan if f.high is None else f.high for f in figures])
    errors = np.nan_to_num(np.vstack([values - low, high - values]))
    ys = range(len(entries))
    ax.errorbar(values, ys, xerr=errors, fmt="o", color="#1f5fbf", ecolor="#7f9fd0", capsize=3)
    bases = [e.evidence.constant[key].value if e.evidence.constant else None for e in entries]
    known = [b for b in bases if b is not None]
    if known and len(known) == len(bases) and max(known) - min(known) <= 1e-12:
        ax.axvline(known[0], color="#c8372d", ls="--", lw=1.2, label="constant")
    elif known:
        rows = [(y, b) for y, b in zip(ys, bases) if b is not None]
        ax.vlines([b for _, b in rows], [y - 0.4 for y, _ in rows], [y + 0.4 for y, _ in rows],
                  color="#c8372d", ls="--", lw=1.2, label="constant (of each run)")
    if known:
        ax.legend(fontsize=7, loc="best")
    if key.endswith(("pcc", "ccc")):
        ax.axvline(0, color="#999999", lw=0.6)
    ax.set_yticks(list(ys))
    ax.set_ylim(-0.6, len(entries) - 0.4)
    ax.set_yticklabels([e.name for e in entries], fontsize=7)
    for label, e in zip(ax.get_yticklabels(), entries):
        label.set_color("#222222" if e.evidence.tied else "#999999")
    lower = entries[0].subtask.lower_is_better(key)
    ax.set_title(f"{key}{' (lower is better)' if lower else ''}", fontsize=9)
    ax.grid(axis="x", color="#dddddd", lw=0.6)


def plot_leaderboard(board: dict[str, list[Entry]], out, guard=None) -> Path:
    """Draw :func:`leaderboard_plot` to the PNG ``out`` (:func:`mediaeval.plots.save_plot`:
    through ``guard``, written to a temporary name, then renamed)."""
    return save_plot(leaderboard_plot(board), out, guard)
