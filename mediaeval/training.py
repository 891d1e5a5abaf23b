"""Training a run: cross-validation by film (a model per fold and seed, each predicting its
fold's films; repeated on several fold splits with ``folds_repeats``), the out-of-fold run file
and its scores, the final model(s) on every development film (but a lockbox's), all written into
a model folder (:mod:`mediaeval.model_folder`).  What a model is and how
it learns is its family's (:mod:`mediaeval.families`)."""
from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import write_text_atomic
from .errors import DataError, MediaevalError
from .families import FitJob, FitOutcome, family_of
from .film_data import FilmData, data_digests, load_films
from .fit_jobs import ModelKey, run_jobs
from .lockbox import Lockbox
from .model_folder import LOCKBOX_SCORES, ModelFolder, lockbox_run, model_files, model_name
from .prediction import ensemble_rows
from .runs import RunDefinition
from .scoring import Scores


@dataclass
class TrainResult:
    model_dir: Path
    run_file: Path
    scores: Scores
    config: RunDefinition     # the definition the model was trained from (stored in the folder)
    skipped: bool = False
    lockbox: Scores | None = None   # the figures of the lockbox films (None: no lockbox)


def train_run(config: RunDefinition, dataset, features_dir, model_dir, team: str, overwrite: bool = False,
              progress: bool = True, jobs=1, echo=print, lockbox: Lockbox | None = None) -> TrainResult:
    """Cross-validate ``config`` on the development films, write the out-of-fold run file and its
    scores, then train the final model(s) on all development films.

    Everything is checked before TensorFlow starts: that the run is not a fused one
    (:func:`refuse_fused`), the output folder (see :meth:`ModelFolder.check`), the films and
    their features (made from the films' files as they are: :func:`~mediaeval.film_data.load_films`).
    A complete model folder trained from the same definition, team and features, on the same
    data (:func:`~mediaeval.film_data.data_digests`) and lockbox, is kept (``skipped``); one trained
    from others is retrained, ``echo`` saying what changed.  The model is written into
    ``<folder>.partial`` under :meth:`ModelFolder.lock`, then installed by :meth:`ModelFolder.install`.

    With ``folds_repeats = R > 1`` the cross-validation is repeated on ``R`` fold splits (seeds
    ``seed`` to ``seed + R - 1``): every repeat's fold models and out-of-fold run file are kept
    (``repeat<r>/``), the scores are the mean over repeats (:func:`mediaeval.scoring.score_repeats`),
    and the run file beside them is the first repeat's; the final model(s), and the fold models
    that ``ensemble = "folds"`` predicts with, are the first repeat's, as with ``R = 1``.

    ``lockbox`` (:class:`~mediaeval.lockbox.Lockbox`): its films are set aside from everything,
    folds, inner choices and the final models' training; the models that predict the test films
    then predict them once, into ``lockbox/<run file>`` and ``lockbox.json`` (their figures).

    ``jobs > 1`` trains that many models at once in separate processes; every model is seeded
    on its own, so the numbers do not depend on ``jobs``.  ``jobs`` may also be an
    :class:`~mediaeval.workers.Executor`: a Dask cluster (:mod:`mediaeval.cluster`) trains the
    models, its workers first checked to write into the model folder.
    """
    from .run_files import run_filename
    from .workers import as_executor

    refuse_fused(config)
    jobs = as_executor(jobs)
    folder = ModelFolder(jobs.job_path(model_dir))
    folder.check({"dataset": dataset.root, "features": features_dir, "run definition": config.path,
                  "lockbox": None if lockbox is None else lockbox.path})
    run_name = run_filename(team, config.task, config.run)
    dev, boxed = _training_films(config, dataset, lockbox)
    with folder.lock():
        folder.check()
        films = load_films(dataset, features_dir, config.features, dev + boxed, config.task, with_labels=True,
                           other=other_subtasks(config))
        films, boxed = films[:len(dev)], films[len(dev):]
        _check_other_labels(config, films)
        if folder.is_complete() and not overwrite:
            kept = _kept_model(folder, config, films + boxed, team, run_name, echo, [f.name for f in boxed])
            if kept is not None:
                return kept
        scores, boxed_scores = _train_and_install(folder, config, films, boxed, run_name, team, progress, jobs)
    return TrainResult(folder.path, folder.path / run_name, scores, folder.definition(), lockbox=boxed_scores)


def refuse_fused(config: RunDefinition) -> None:
    """A fused run (``fuse = [...]``) trains no model of its own: refused, saying how to make it."""
    if not config.fused:
        return
    message = (f"a fused run (fuse = {list(config.fuse)}) has no model to train; fuse the out-of-fold run files "
               f"of the trained runs {', '.join(map(str, config.fuse))} with mediaeval fuse, or let mediaeval "
               f"pipeline train them and fuse them")
    raise DataError(config.path, message) if config.path is not None else MediaevalError(message)


def other_subtasks(config: RunDefinition) -> tuple:
    """The subtasks whose labels a run learns from besides its own: valence/arousal for a fear run
    with ``from_valence_arousal``."""
    from .task import VALENCE_AROUSAL

    return (VALENCE_AROUSAL,) if getattr(config.model, "from_valence_arousal", None) is not None else ()


def _check_other_labels(config: RunDefinition, films: list[FilmData]) -> None:
    """A run that learns from another subtask's labels needs them on every film it trains on:
    the recipe is fitted, and refitted without each inner fold, inside every fold (a fold
    or an inner fold without them would have nothing to fit)."""
    for task in other_subtasks(config):
        missing = [f.name for f in films if (f.other_labels or {}).get(task.name) is None]
        if missing:
            raise DataError(config.path or config.name,
                            f"model.from_valence_arousal: the valence/arousal recipe needs {task.title} annotations "
                            f"of every development film the run trains on; missing for {len(missing)} of "
                            f"{len(films)}: {', '.join(missing[:5])}" + (", ..." if len(missing) > 5 else ""))


def _training_films(config: RunDefinition, dataset, lockbox: Lockbox | None = None) -> tuple[list, list]:
    """The development films annotated for the run's subtask, without and within the lockbox;
    DataError if fewer than 2 are left to train on."""
    annotated = [f for f in dataset.dev_films if f.has_labels(config.task)]
    boxed = [] if lockbox is None else lockbox.films_of(config.task, dataset)
    dev = [f for f in annotated if f.name not in {b.name for b in boxed}]
    if len(dev) < 2:
        raise DataError(dataset.root, f"training needs at least 2 development films with {config.subtask} "
                                      f"annotations, found {len(dev)}"
                                      + (f" besides the {len(boxed)} of the lockbox" if boxed else ""))
    return dev, boxed


def _kept_model(folder: ModelFolder, config: RunDefinition, films: list[FilmData], team: str, run_name: str,
                echo, boxed: list[str]) -> TrainResult | None:
    """The complete model folder as it is (``skipped``) if trained from this definition and
    team, on these films with these features and labels (:func:`~mediaeval.film_data.data_digests`)
    and with these films of the lockbox set aside (``boxed``); None, ``echo`` saying what changed,
    if it is to be retrained."""
    changed = folder.changes(config, team, films[0].made_by, data_digests(films), boxed)
    if changed:
        echo(f"{folder.path} was trained from another definition or data; retraining: " + "; ".join(changed))
        return None
    boxed_scores = Scores.read(folder.path / LOCKBOX_SCORES) if boxed else None
    return TrainResult(folder.path, folder.path / run_name, Scores.read(folder.path / "scores.json"),
                       folder.definition(), skipped=True, lockbox=boxed_scores)


def _train_and_install(folder: ModelFolder, config: RunDefinition, films: list[FilmData], boxed: list[FilmData],
                       run_name: str, team: str, progress: bool, jobs) -> tuple[Scores, Scores | None]:
    """Train into ``<folder>.partial`` (one left by a process that died removed), marked by its
    manifest as being written by this command (a random token the jobs check), then complete
    (with the data's digests, and the labels' alone for ``leaderboard`` and ``score``:
    :func:`mediaeval.provenance.check_labels`; the lockbox films' included, and named under
    ``lockbox``); install it onto ``folder``.  Returns the out-of-fold scores and the lockbox's."""
    from .provenance import labels_digests

    token = secrets.token_hex(8)   # the jobs of this command write into partial only while it holds it
    partial = folder.start(pid=os.getpid(), token=token)
    scores, folds, boxed_scores = _train_into(partial.path, config, films, boxed, run_name, progress, jobs, token)
    every = films + boxed
    files = model_files(len(folds), _seeds(config), run_name, family_of(config.model).files, config.folds_repeats,
                        lockbox=bool(boxed))
    partial.write_manifest(state="complete", definition=config.to_data(), digest=config.digest(), team=team,
                           extractors=films[0].made_by, data=data_digests(every),
                           labels=labels_digests({f.name: f.labels for f in every}), run_file=run_name, files=files,
                           **({"lockbox": sorted(f.name for f in boxed)} if boxed else {}))
    folder.install(partial)
    return scores, boxed_scores


def _seeds(config: RunDefinition) -> list[int]:
    return [config.seed + s for s in range(config.seeds)]


def _train_into(folder: Path, config: RunDefinition, films: list[FilmData], boxed: list[FilmData], run_name: str,
                progress: bool, jobs, token: str) -> tuple[Scores, list[list[str]], Scores | None]:
    """Train every repeat's fold models and the final model(s) into ``folder``; write the
    definition (``run.toml``: :meth:`RunDefinition.text`), the folds, the out-of-fold run files and
    their scores, and the lockbox's.  Returns the scores, the (first repeat's) folds and the
    lockbox's scores (None: no lockbox)."""
    from .folds import repeated_folds, write_folds

    repeats = repeated_folds({f.name: f for f in films}, config.folds, config.seed, config.folds_repeats)
    write_text_atomic(folder / "run.toml", config.text())
    write_folds(folder / "folds.json", repeats[0], config.seed, repeats)
    outcomes = _train_models(folder, config, films, boxed, repeats, progress, jobs, token)
    scores = _write_out_of_fold(folder, config, films, repeats, outcomes, run_name)
    boxed_scores = _write_lockbox(folder, config, boxed, repeats[0], outcomes, run_name) if boxed else None
    return scores, repeats[0], boxed_scores


def _fold_jobs(folder: Path, config: RunDefinition, films: list[FilmData], boxed: list[FilmData],
               repeats: list[list[list[str]]], progress: bool) -> list[FitJob]:
    """One job per repeat, fold and seed: the model learns from the other folds' films and
    predicts the fold's (in the fold's order), and, when the fold models of the first repeat
    predict the test films (``ensemble = "folds"``), the lockbox's after them."""
    by_name = {f.name: f for f in films}
    extra = boxed if config.test_ensemble == "folds" else []
    return [FitJob(k, seed, [f for f in films if f.name not in names], [by_name[n] for n in names]
                   + (extra if r == 1 else []), config.task, config.model, folder / model_name(k, seed, r), progress,
                   n_folds=len(folds), criterion=config.criterion, repeat=r)
            for r, folds in enumerate(repeats, start=1) for k, names in enumerate(folds, start=1)
            for seed in _seeds(config)]


def _final_jobs(folder: Path, config: RunDefinition, films: list[FilmData], boxed: list[FilmData],
                progress: bool) -> list[FitJob]:
    """One job per seed: the final model, which learns from every development film (but the
    lockbox's, which it predicts when the final models predict the test films)."""
    held_out = boxed if config.test_ensemble == "final" else []
    return [FitJob(None, seed, films, held_out, config.task, config.model, folder / model_name(None, seed), progress,
                   criterion=config.criterion)
            for seed in _seeds(config)]


def _train_models(folder: Path, config: RunDefinition, films: list[FilmData], boxed: list[FilmData],
                  repeats: list[list[list[str]]], progress: bool, jobs, token: str) -> dict[ModelKey, FitOutcome]:
    """Train every repeat's fold models and the final model of every seed; the outcomes by
    (repeat, fold, seed).  The final models train beside the fold models, or after them when their
    family makes them from the fold models' outcomes (the LSTM:
    :meth:`~mediaeval.families.Family.final_job`; the first repeat's, so that repeats never change
    the final models)."""
    from .progress import progress as progress_bar

    family = family_of(config.model)
    fold_jobs = _fold_jobs(folder, config, films, boxed, repeats, progress)
    final_jobs = _final_jobs(folder, config, films, boxed, progress)
    jobs.check_shared(write={"the model folder being written": folder})
    with progress_bar(total=len(fold_jobs) + len(final_jobs), desc=f"{config.name} models", unit="model",
                      disable=not progress) as bar:
        if not family.final_after_folds:
            return run_jobs(fold_jobs + final_jobs, jobs, bar, token)
        outcomes = run_jobs(fold_jobs, jobs, bar, token)
        fold_outcomes = [outcomes[job.key] for job in fold_jobs if job.repeat == 1]
        final_jobs = [family.final_job(job, fold_outcomes) for job in final_jobs]
        return {**outcomes, **run_jobs(final_jobs, jobs, bar, token)}


def _out_of_fold(folds: list[list[str]], seeds: list[int], outcomes: dict[ModelKey, FitOutcome],
                 config: RunDefinition, repeat: int = 1) -> dict[str, np.ndarray]:
    """The run rows of every development film by its fold's models of ``repeat``: the mean over seeds."""
    rows = {}
    for k, names in enumerate(folds, start=1):
        per_seed = [outcomes[repeat, k, seed].predictions for seed in seeds]   # in the order of the fold's films
        for i, name in enumerate(names):
            rows[name] = ensemble_rows([predictions[i] for predictions in per_seed], config.task)
    return rows


def _write_out_of_fold(folder: Path, config: RunDefinition, films: list[FilmData], repeats: list[list[list[str]]],
                       outcomes: dict[ModelKey, FitOutcome], run_name: str) -> Scores:
    """Write every repeat's out-of-fold run file (the first's as ``run_name``, repeat ``r``'s as
    ``repeat<r>/<run_name>``) and ``scores.json`` (official and pooled figures, per fold and mean ±
    std; over repeats, their mean and each repeat's: :func:`~mediaeval.scoring.score_repeats`);
    returns the scores."""
    from .folds import repeat_path
    from .scoring import score_repeats
    from .submission import write_run

    rows = [_out_of_fold(folds, _seeds(config), outcomes, config, r) for r, folds in enumerate(repeats, start=1)]
    for r, repeat_rows in enumerate(rows, start=1):
        (folder / repeat_path(r, run_name)).parent.mkdir(exist_ok=True)
        write_run(folder / repeat_path(r, run_name), repeat_rows, config.task, config.describe())
    scores = score_repeats({f.name: f.labels for f in films}, rows, repeats, config.task, config.seed)
    write_text_atomic(folder / "scores.json", json.dumps(scores.to_json(), indent=2) + "\n")
    return scores


def _write_lockbox(folder: Path, config: RunDefinition, boxed: list[FilmData], folds: list[list[str]],
                   outcomes: dict[ModelKey, FitOutcome], run_name: str) -> Scores:
    """The lockbox films predicted once, by the models that predict the test films (the final
    model of each seed, or with ``ensemble = "folds"`` every fold model of the first repeat: the
    mean of their outputs, as :func:`~mediaeval.prediction.predict_run`), written as
    ``lockbox/<run_name>``, and their figures as ``lockbox.json``; returns the figures."""
    from .submission import write_run

    if config.test_ensemble == "folds":
        per_model = [outcomes[1, k, seed].predictions[len(names):] for k, names in enumerate(folds, start=1)
                     for seed in _seeds(config)]
    else:
        per_model = [outcomes[1, None, seed].predictions for seed in _seeds(config)]
    rows = {f.name: ensemble_rows([m[i] for m in per_model], config.task) for i, f in enumerate(boxed)}
    (folder / lockbox_run(run_name)).parent.mkdir(exist_ok=True)
    write_run(folder / lockbox_run(run_name), rows, config.task, config.describe())
    scores = config.task.score({f.name: f.labels for f in boxed}, rows)
    write_text_atomic(folder / LOCKBOX_SCORES, json.dumps(scores.to_json(), indent=2) + "\n")
    return scores
