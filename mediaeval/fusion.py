"""Late fusion of run files of one subtask: a weighted mean of their predictions.

Valence/arousal: each column (valence, arousal) is the weighted mean of the runs' columns, with
its own weights.  Fear: the weighted mean of the confidences, then the label by a threshold.

``auto`` weights are chosen on the runs' out-of-fold development files (what ``mediaeval train``
writes), from a grid over the simplex (steps of :data:`GRID_STEP`), by the criterion (by default
the subtask's: lowest mean per-film MSE, valence and arousal each column on its own, or highest
MAP for fear, whose threshold then maximises F1; see :class:`mediaeval.task.Subtask`).  The
figures of the fused run are themselves honest: each outer fold's films are fused with weights
chosen on the other films only (nested), and those nested out-of-fold predictions are what
:func:`fuse_auto` scores.  The weights applied to test files
are then chosen on all development films.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError, MediaevalError
from .folds import repeat_path
from .task import Subtask

GRID_STEP = 0.1


def simplex_grid(n_runs: int, step: float = GRID_STEP) -> np.ndarray:
    """Every weight vector of ``n_runs`` non-negative multiples of ``step`` summing to 1.

    >>> simplex_grid(2, 0.5).tolist()
    [[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]]
    """
    units = int(round(1 / step))
    rows = [c for c in itertools.product(range(units + 1), repeat=n_runs) if sum(c) == units]
    return np.asarray(rows, dtype=np.float64) / units


def read_runs(paths):
    """The runs, checked to be of one subtask and one set of films with equal lengths."""
    from .run_files import RunFile

    if len(paths) < 2:
        raise MediaevalError(f"fusion needs at least 2 run files, got {len(paths)}")
    runs = [RunFile.read(p) for p in paths]
    first = runs[0]
    for run in runs[1:]:
        if run.task is not first.task:
            raise DataError(run.path, f"is a {run.subtask} run; {first.path.name} is {first.subtask}: fuse runs "
                                      f"of one subtask")
        if set(run.films) != set(first.films):
            odd = sorted(set(run.films) ^ set(first.films))
            raise DataError(run.path, f"holds other films than {first.path.name} ({', '.join(odd[:5])}); fuse runs "
                                      f"of the same films")
        for film, rows in run.films.items():
            if len(rows) != len(first.films[film]):
                raise DataError(run.path, f"film {film} has {len(rows)} segments, {first.path.name} has "
                                          f"{len(first.films[film])}", run.film_lines[film])
    return runs


def columns(run, task: Subtask) -> dict[str, np.ndarray]:
    """Per film, the fused quantities (the subtask's outputs, :meth:`~mediaeval.task.Subtask.curves`):
    (K, 2) valence, arousal, or (K, 1) fear confidence."""
    return {f: task.curves(rows) for f, rows in run.films.items()}


def combine(parts: list[dict], weights: np.ndarray) -> dict[str, np.ndarray]:
    """Weighted mean per column: ``weights`` of shape (n_runs, n_columns)."""
    return {f: sum(w * part[f] for w, part in zip(weights, parts)) for f in parts[0]}


@dataclass(frozen=True)
class Fusion:
    """Weights (n_runs, n_columns) and, for fear, the label threshold."""

    weights: np.ndarray
    threshold: float = 0.5

    def rows(self, parts: list[dict], task: Subtask) -> dict[str, np.ndarray]:
        return {f: task.rows(v, self.threshold) for f, v in combine(parts, self.weights).items()}


def choose(parts: list[dict], truth: dict, films, task: Subtask, step: float = GRID_STEP,
           criterion: str | None = None) -> Fusion:
    """Weights (and threshold) chosen on ``films`` only, each column's by ``criterion``'s figure
    of that column (:meth:`~mediaeval.task.Subtask.column_figure`; ``None``: the subtask's)."""
    from .metrics import best_f1_threshold

    grid = simplex_grid(len(parts), step)
    n_columns = next(iter(parts[0].values())).shape[1]
    weights = np.zeros((len(parts), n_columns))
    for j in range(n_columns):
        column = [{f: p[f][:, j] for f in films} for p in parts]
        y = {f: truth[f][:, j] if truth[f].ndim == 2 else truth[f] for f in films}
        best = None
        for w in grid:
            fused = {f: sum(wi * c[f] for wi, c in zip(w, column)) for f in films}
            score = task.column_figure(y, fused, criterion)
            score = -np.inf if np.isnan(score) else score
            if best is None or score > best[0] + 1e-12:
                best = (score, w)
        weights[:, j] = best[1]
    threshold = 0.5
    if task.binary:
        fused = combine([{f: p[f] for f in films} for p in parts], weights)
        threshold = best_f1_threshold({f: truth[f] for f in films}, {f: v[:, 0] for f, v in fused.items()})
    return Fusion(weights, threshold)


def fuse_auto(runs, dataset, n_folds: int = 5, seed: int = 0, step: float = GRID_STEP, criterion: str | None = None):
    """Nested choice on out-of-fold development files, ``runs`` as :func:`read_runs` returns them,
    by ``criterion`` (``None``: the subtask's).

    Returns ``(fusion, rows, scores)``: the fusion chosen on all films (to apply to test files),
    the nested out-of-fold fused rows of every film, and their :class:`~mediaeval.scoring.Scores`
    by folds.
    """
    from .folds import make_folds
    from .scoring import score_folds

    task = runs[0].task
    films = sorted(runs[0].films)
    missing = [f for f in films if f not in dataset.films or not dataset.films[f].has_labels(task)]
    if missing:
        raise DataError(runs[0].path, f"film {missing[0]} has no {task} annotations in {dataset.root}: auto "
                                      f"weights need the out-of-fold development files of the runs")
    truth = {f: np.asarray(dataset.films[f].labels(task), dtype=np.float64) for f in films}
    parts = [columns(r, task) for r in runs]
    rows = {}
    folds = make_folds(films, n_folds, seed)
    for held in folds:
        inner = [f for f in films if f not in held]
        fusion = choose(parts, truth, inner, task, step, criterion)
        rows.update(fusion.rows([{f: p[f] for f in held} for p in parts], task))
    scores = score_folds(truth, rows, folds, task)
    return choose(parts, truth, films, task, step, criterion), rows, scores


def fixed(weights: list[float], n_runs: int, n_columns: int) -> Fusion:
    """Given weights, normalised to sum to 1 (the same for every column)."""
    w = np.asarray(weights, dtype=np.float64)
    if len(w) != n_runs or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise MediaevalError(f"--weights: expected {n_runs} non-negative numbers, not all 0, got "
                             f"{','.join(map(str, weights))}")
    return Fusion(np.tile((w / w.sum())[:, None], (1, n_columns)))


def describe(paths, fusion: Fusion, task: Subtask) -> dict:
    """The ``.json`` sidecar of a fused run (what ``package`` puts in the README): the weights,
    the fused runs' features, and external data if any fused run used some."""
    import json

    from .submission import description_path

    names = [Path(p).name for p in paths]
    sidecars = []
    for p in paths:
        try:
            sidecars.append(json.loads(description_path(p).read_text(encoding="utf-8")))
        except (OSError, ValueError):
            sidecars.append({})
    weights = _named_weights(names, fusion, task)
    text = _weights_text(weights)
    features = sorted({f for s in sidecars if isinstance(s, dict) for f in s.get("features", []) or []})
    out = {"description": f"late fusion (weighted mean) of {len(names)} runs: {text}", "fused_runs": names,
           "features": features, "weights": weights,
           "external_data": any(isinstance(s, dict) and s.get("external_data") is True for s in sidecars)}
    if task.binary:
        out["threshold"] = fusion.threshold
    return out


def _named_weights(names: list[str], fusion: Fusion, task: Subtask) -> dict:
    """``{column: {run name: weight}}``, the weights rounded to 4 decimals."""
    columns = task.output_columns
    return {c: {n: round(float(fusion.weights[i, j]), 4) for i, n in enumerate(names)} for j, c in enumerate(columns)}


def _weights_text(weights: dict) -> str:
    """``valence: 0.7 x a.txt, 0.3 x b.txt; arousal: ...``"""
    return "; ".join(f"{c}: " + ", ".join(f"{w:g} x {n}" for n, w in ws.items()) for c, ws in weights.items())


def describe_fused(described: dict, paths, fusion: Fusion, task: Subtask) -> dict:
    """The sidecar of a fused run of ``runs/`` fusing the run files ``paths``: its definition's
    description ``described`` (:meth:`~mediaeval.runs.RunDefinition.describe`: the fused runs,
    no model settings), the model line completed by the weights chosen on all development films,
    the ``weights``, the fused runs' features, and external data if the definition or a fused
    run declares some."""
    theirs = describe(paths, fusion, task)
    binary = task.binary
    threshold = f"; fear label threshold {fusion.threshold:g}" if binary else ""
    out = {**described, "model": f"{described['model']}; weights chosen on all development films: "
                                 f"{_weights_text(theirs['weights'])}{threshold}",
           "features": sorted({*described.get("features", []), *theirs["features"]}),
           "external_data": bool(described.get("external_data")) or theirs["external_data"],
           "weights": theirs["weights"]}
    if binary:
        out["threshold"] = fusion.threshold
    return out


@dataclass(frozen=True)
class FusedFiles:
    """What :func:`fuse_files` wrote: the fused run ``out`` of the subtask ``task``, with
    ``weights = "auto"`` its nested out-of-fold ``scores`` and, when test files were fused, the
    out-of-fold fusion ``oof``."""

    task: object
    fusion: Fusion
    out: Path
    scores: object = None
    oof: Path | None = None


def oof_path(out) -> Path:
    """Where :func:`fuse_files` puts the out-of-fold fusion beside the fused test files."""
    out = Path(out)
    return out.with_name(out.stem + ".oof.txt")


def fuse_files(run_files, dataset, out, weights="auto", apply_to=(), force: bool = False,
               criterion: str | None = None) -> FusedFiles:
    """Late fusion of run files (``mediaeval fuse``): with ``weights = "auto"``, weights chosen on
    the runs' out-of-fold development files (:func:`fuse_auto`) and written as the nested
    out-of-fold fusion, or applied to their test files ``apply_to`` (same order) and written to
    ``out``, the out-of-fold fusion beside it (:func:`oof_path`); with a list of weights, the
    runs fused with them.  Every output (run files and their descriptions) is checked by the
    output guard (:mod:`mediaeval.outputs`, ``force`` replacing run files mediaeval did not
    write) before anything is computed."""
    from .outputs import OutputGuard
    from .submission import DESCRIPTION, RUN_FILE, description_path, write_run

    out = Path(out)
    guard = OutputGuard(force, dataset_root=dataset.root, inputs=[*run_files, *apply_to],
                        inputs_are="one of the input run files")
    outputs = [out, oof_path(out)] if apply_to else [out]
    for path in outputs:
        guard.check(path, RUN_FILE)
        guard.check(description_path(path), DESCRIPTION)
    runs = read_runs(list(run_files))     # read once: the weights are chosen on them, or applied to them
    task = runs[0].task
    if weights != "auto":
        parts = [columns(r, task) for r in runs]
        chosen = fixed(list(weights), len(runs), next(iter(parts[0].values())).shape[1])
        write_run(out, chosen.rows(parts, task), task, describe(run_files, chosen, task), guard)
        return FusedFiles(task, chosen, out)
    tests = read_runs(list(apply_to)) if apply_to else None
    if tests and tests[0].task is not task:
        raise MediaevalError(f"{apply_to[0]}: a {tests[0].subtask} run; RUN_FILES are {task}")
    chosen, oof_rows, scores = fuse_auto(runs, dataset, criterion=criterion)
    if not tests:
        write_run(out, oof_rows, task, describe(run_files, chosen, task), guard)
        return FusedFiles(task, chosen, out, scores)
    write_run(oof_path(out), oof_rows, task, describe(run_files, chosen, task), guard)
    parts = [columns(r, task) for r in tests]
    write_run(out, chosen.rows(parts, task), task, describe(apply_to, chosen, task), guard)
    return FusedFiles(task, chosen, out, scores, oof_path(out))


def fuse_trained(config, dataset, models_dir, team: str, lockbox=None) -> tuple[Path, dict, Fusion]:
    """A fused run of ``runs/`` (``fuse = [...]``): fuse the out-of-fold files of the trained runs
    it names into a model folder of its own (the definition, folds, nested out-of-fold run file
    and scores, and ``fusion.json`` with the weights chosen on all development films), written
    like ``mediaeval train`` writes one (its manifest with the digests of the labels fused on:
    :class:`~mediaeval.model_folder.ModelFolder`), so that ``leaderboard`` reads it.

    With ``folds_repeats = R > 1`` the nested choice is repeated: repeat ``r`` fuses the runs'
    out-of-fold files of their repeat ``r`` on folds of seed ``seed + r - 1``, its figures the
    mean over repeats (as a trained run's); the weights applied to test files are those of the
    first repeat, chosen on all development films.  With a ``lockbox``
    (:class:`~mediaeval.lockbox.Lockbox`), the runs must have been trained with it (their
    out-of-fold files then never hold its films, so no weight is chosen on them); their lockbox
    predictions are fused with those weights, once, into the folder's ``lockbox/`` and
    ``lockbox.json``."""
    import os

    from .model_folder import ModelFolder, lockbox_run
    from .run_files import run_filename
    from .scoring import combine_repeats

    models_dir = Path(models_dir)
    sources = [models_dir / f"{config.subtask}_run{n}" / run_filename(team, config.task, n) for n in config.fuse]
    boxed = _check_sources(config, sources, dataset, lockbox)
    fused = [fuse_auto(read_runs([s.parent / repeat_path(r, s.name) for s in sources]), dataset, n_folds=config.folds,
                       seed=config.seed + r - 1, criterion=config.criterion)
             for r in range(1, config.folds_repeats + 1)]
    chosen = fused[0][0]
    scores = fused[0][2] if len(fused) == 1 else combine_repeats([f[2] for f in fused],
                                                                 [config.seed + r for r in range(len(fused))])
    boxed_rows = None
    if boxed:
        boxed_rows = chosen.rows([columns(r, config.task) for r in read_runs([s.parent / lockbox_run(s.name)
                                                                            for s in sources])], config.task)
    folder = ModelFolder(models_dir / config.name)
    folder.check()
    with folder.lock():
        partial = folder.start(pid=os.getpid())
        _write_fused(partial, config, dataset, team, sources, chosen, [(f[1], f[2]) for f in fused], scores,
                     boxed_rows)
        folder.install(partial)
    return folder.path, scores, chosen


def _check_sources(config, sources: list[Path], dataset, lockbox) -> list[str]:
    """The lockbox films of the fused run's subtask (sorted names; none without ``lockbox``),
    once every run it fuses is found to have been trained with them set aside and cross-validated
    at least ``folds_repeats`` times (:class:`DataError` naming the run's model folder otherwise)."""
    from .model_folder import ModelFolder

    boxed = [] if lockbox is None else sorted(f.name for f in lockbox.films_of(config.task, dataset))
    for source in sources:
        manifest = ModelFolder(source.parent).manifest() or {}
        theirs = sorted(manifest.get("lockbox") or [])
        if theirs != boxed:
            said = [f"the lockbox {', '.join(films)}" if films else "no lockbox" for films in (theirs, boxed)]
            raise DataError(source.parent, f"was trained with {said[0]}; the fused run {config.name} has {said[1]}: "
                                           f"train it again with the fused run's")
        repeats = (manifest.get("definition") or {}).get("folds_repeats", 1)
        if repeats < config.folds_repeats:
            raise DataError(source.parent, f"was cross-validated {repeats} time(s); the fused run {config.name} "
                                           f"(folds_repeats = {config.folds_repeats}) fuses each repeat of the runs "
                                           f"it fuses: give them folds_repeats = {config.folds_repeats} or more")
    return boxed


def _write_fused(partial, config, dataset, team: str, sources: list[Path], chosen: Fusion, repeats: list[tuple],
                 scores, boxed_rows: dict | None) -> None:
    """The files of a fused run's model folder into ``partial`` (a ModelFolder), its manifest
    last: ``repeats`` holds each repeat's nested out-of-fold rows and scores, ``scores`` the run's
    (over repeats), ``boxed_rows`` the fused lockbox films (None: no lockbox)."""
    import json

    from .atomic import write_text_atomic
    from .folds import write_folds
    from .model_folder import LOCKBOX_SCORES, lockbox_run
    from .provenance import labels_digests
    from .run_files import run_filename
    from .submission import write_run

    run_name = run_filename(team, config.task, config.run)
    described = describe_fused(config.describe(), sources, chosen, config.task)
    folds = [[list(f) for f in scores_folds(repeat_scores)] for _, repeat_scores in repeats]
    write_text_atomic(partial.path / "run.toml", config.text())
    write_folds(partial.path / "folds.json", folds[0], config.seed, folds)
    files = ["run.toml", "folds.json", "scores.json", run_name, "fusion.json"]
    for r, (rows, _) in enumerate(repeats, start=1):
        (partial.path / repeat_path(r, run_name)).parent.mkdir(exist_ok=True)
        write_run(partial.path / repeat_path(r, run_name), rows, config.task, described)
        files += [repeat_path(r, run_name), repeat_path(r, run_name) + ".json"] if r > 1 else []
    write_text_atomic(partial.path / "scores.json", json.dumps(scores.to_json(), indent=2) + "\n")
    write_text_atomic(partial.path / "fusion.json", json.dumps(
        {"fused_runs": [str(p) for p in sources], "weights": chosen.weights.tolist(),
         "threshold": chosen.threshold}, indent=2) + "\n")
    labelled = list(scores.per_film)
    if boxed_rows is not None:
        (partial.path / lockbox_run(run_name)).parent.mkdir(exist_ok=True)
        write_run(partial.path / lockbox_run(run_name), boxed_rows, config.task, described)
        truth = {n: dataset.films[n].labels(config.task) for n in boxed_rows}
        write_text_atomic(partial.path / LOCKBOX_SCORES,
                          json.dumps(config.task.score(truth, boxed_rows).to_json(), indent=2) + "\n")
        files += [lockbox_run(run_name), lockbox_run(run_name) + ".json", LOCKBOX_SCORES]
        labelled += sorted(boxed_rows)
    partial.write_manifest(state="complete", definition=config.to_data(), digest=config.digest(), team=team,
                           extractors={}, labels=labels_digests({n: dataset.films[n].labels(config.task)
                                                                 for n in labelled}),
                           run_file=run_name, files=files,
                           **({"lockbox": sorted(boxed_rows)} if boxed_rows is not None else {}))


def scores_folds(scores) -> list[list[str]]:
    """The folds' films, from :class:`~mediaeval.scoring.Scores` by folds."""
    return [fold["films"] for fold in scores.folds]


def apply_to_test(config, fusion: Fusion, test_runs: list, out, described_by: dict, guard=None) -> Path:
    """Fuse the fused runs' test files with the chosen weights into ``out`` (through ``guard``:
    :func:`mediaeval.submission.write_run`)."""
    from .submission import write_run

    runs = read_runs(test_runs)
    rows = fusion.rows([columns(r, config.task) for r in runs], config.task)
    return write_run(out, rows, config.task, describe_fused(described_by, test_runs, fusion, config.task), guard)
