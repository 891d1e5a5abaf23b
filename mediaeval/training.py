"""Training a run: cross-validation by film (a model per fold and seed, each predicting its
fold's films), the out-of-fold run file and its scores, the final model(s) on every development
film, all written into a model folder (:mod:`mediaeval.model_folder`).  What a model is and how
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
# check_model_folder, read_manifest and predict_run were defined here before issue 23: imported for the
# modules that still import them from here (the other half of issue 23), until the integrator changes them
from .model_folder import ModelFolder, check_model_folder, model_files, model_name, read_manifest  # noqa: F401
from .prediction import ensemble_rows, predict_run  # noqa: F401
from .runs import RunDefinition
from .scoring import Scores


@dataclass
class TrainResult:
    model_dir: Path
    run_file: Path
    scores: Scores
    config: RunDefinition     # the definition the model was trained from (stored in the folder)
    skipped: bool = False


def train_run(config: RunDefinition, dataset, features_dir, model_dir, team: str, overwrite: bool = False,
              progress: bool = True, jobs=1, echo=print) -> TrainResult:
    """Cross-validate ``config`` on the development films, write the out-of-fold run file and its
    scores, then train the final model(s) on all development films.

    Everything is checked before TensorFlow starts: that the run is not a fused one
    (:func:`refuse_fused`), the output folder (see :meth:`ModelFolder.check`), the films and
    their features (made from the films' files as they are: :func:`~mediaeval.film_data.load_films`).
    A complete model folder trained from the same definition, team and features, on the same
    data (:func:`~mediaeval.film_data.data_digests`), is kept (``skipped``); one trained from
    others is retrained, ``echo`` saying what changed.  The model is written into
    ``<folder>.partial`` under :meth:`ModelFolder.lock`, then installed by :meth:`ModelFolder.install`.

    ``jobs > 1`` trains that many models at once in separate processes; every model is seeded
    on its own, so the numbers do not depend on ``jobs``.  ``jobs`` may also be an
    :class:`~mediaeval.workers.Executor`: a Dask cluster (:mod:`mediaeval.cluster`) trains the
    models, its workers first checked to write into the model folder.
    """
    from .submission import run_filename
    from .workers import as_executor

    refuse_fused(config)
    jobs = as_executor(jobs)
    folder = ModelFolder(jobs.job_path(model_dir))
    folder.check({"dataset": dataset.root, "features": features_dir, "run definition": config.path})
    run_name = run_filename(team, config.task, config.run)
    dev = _training_films(config, dataset)
    with folder.lock():
        folder.check()
        films = load_films(dataset, features_dir, config.features, dev, config.task, with_labels=True,
                           other=other_subtasks(config))
        _check_other_labels(config, films)
        if folder.is_complete() and not overwrite:
            kept = _kept_model(folder, config, films, team, run_name, echo)
            if kept is not None:
                return kept
        scores = _train_and_install(folder, config, films, run_name, team, progress, jobs)
    return TrainResult(folder.path, folder.path / run_name, scores, folder.definition())


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
    """A run that learns from another subtask's labels needs them on at least 2 training films."""
    for task in other_subtasks(config):
        having = [f for f in films if (f.other_labels or {}).get(task.name) is not None]
        if len(having) < 2:
            raise DataError(config.path or config.name, f"model.from_valence_arousal: the valence/arousal recipe "
                                                        f"needs {task.title} annotations of at least 2 development "
                                                        f"films, found {len(having)}")


def _training_films(config: RunDefinition, dataset) -> list:
    """The development films annotated for the run's subtask; DataError if fewer than 2."""
    dev = [f for f in dataset.dev_films if f.has_labels(config.task)]
    if len(dev) < 2:
        raise DataError(dataset.root, f"training needs at least 2 development films with {config.subtask} "
                                      f"annotations, found {len(dev)}")
    return dev


def _kept_model(folder: ModelFolder, config: RunDefinition, films: list[FilmData], team: str, run_name: str,
                echo) -> TrainResult | None:
    """The complete model folder as it is (``skipped``) if trained from this definition and
    team, on these films with these features and labels (:func:`~mediaeval.film_data.data_digests`);
    None, ``echo`` saying what changed, if it is to be retrained."""
    changed = folder.changes(config, team, films[0].made_by, data_digests(films))
    if changed:
        echo(f"{folder.path} was trained from another definition or data; retraining: " + "; ".join(changed))
        return None
    return TrainResult(folder.path, folder.path / run_name, Scores.read(folder.path / "scores.json"),
                       folder.definition(), skipped=True)


def _train_and_install(folder: ModelFolder, config: RunDefinition, films: list[FilmData], run_name: str, team: str,
                       progress: bool, jobs) -> Scores:
    """Train into ``<folder>.partial`` (one left by a process that died removed), marked by its
    manifest as being written by this command (a random token the jobs check), then complete
    (with the data's digests, and the labels' alone for ``leaderboard`` and ``score``:
    :func:`mediaeval.provenance.check_labels`); install it onto ``folder``.  Returns the
    out-of-fold scores."""
    from .provenance import labels_digests

    token = secrets.token_hex(8)   # the jobs of this command write into partial only while it holds it
    partial = folder.start(pid=os.getpid(), token=token)
    scores, folds = _train_into(partial.path, config, films, run_name, progress, jobs, token)
    partial.write_manifest(state="complete", definition=config.to_data(), digest=config.digest(), team=team,
                           extractors=films[0].made_by, data=data_digests(films),
                           labels=labels_digests({f.name: f.labels for f in films}), run_file=run_name,
                           files=model_files(len(folds), _seeds(config), run_name, family_of(config.model).files))
    folder.install(partial)
    return scores


def _seeds(config: RunDefinition) -> list[int]:
    return [config.seed + s for s in range(config.seeds)]


def _train_into(folder: Path, config: RunDefinition, films: list[FilmData], run_name: str, progress: bool, jobs,
                token: str) -> tuple[Scores, list[list[str]]]:
    """Train every fold's and the final model(s) into ``folder``; write the definition
    (``run.toml``: :meth:`RunDefinition.text`), the folds, the out-of-fold run file and its
    scores.  Returns the scores and the folds."""
    from .folds import make_folds, write_folds

    folds = make_folds({f.name: f for f in films}, config.folds, config.seed)
    write_text_atomic(folder / "run.toml", config.text())
    write_folds(folder / "folds.json", folds, config.seed)
    outcomes = _train_models(folder, config, films, folds, progress, jobs, token)
    return _write_out_of_fold(folder, config, films, folds, outcomes, run_name), folds


def _fold_jobs(folder: Path, config: RunDefinition, films: list[FilmData], folds: list[list[str]],
               progress: bool) -> list[FitJob]:
    """One job per fold and seed: the model learns from the other folds' films and predicts the
    fold's (in the fold's order)."""
    by_name = {f.name: f for f in films}
    return [FitJob(k, seed, [f for f in films if f.name not in names], [by_name[n] for n in names], config.task,
                   config.model, folder / model_name(k, seed), progress, n_folds=len(folds),
                   criterion=config.criterion)
            for k, names in enumerate(folds, start=1) for seed in _seeds(config)]


def _final_jobs(folder: Path, config: RunDefinition, films: list[FilmData], progress: bool) -> list[FitJob]:
    """One job per seed: the final model, which learns from every development film."""
    return [FitJob(None, seed, films, [], config.task, config.model, folder / model_name(None, seed), progress,
                   criterion=config.criterion)
            for seed in _seeds(config)]


def _train_models(folder: Path, config: RunDefinition, films: list[FilmData], folds: list[list[str]], progress: bool,
                  jobs, token: str) -> dict[ModelKey, FitOutcome]:
    """Train every fold's model and the final model of every seed; the outcomes by (fold, seed).
    The final models train beside the fold models, or after them when their family makes them
    from the fold models' outcomes (the LSTM: :meth:`~mediaeval.families.Family.final_job`)."""
    from .progress import progress as progress_bar

    family = family_of(config.model)
    fold_jobs = _fold_jobs(folder, config, films, folds, progress)
    final_jobs = _final_jobs(folder, config, films, progress)
    jobs.check_shared(write={"the model folder being written": folder})
    with progress_bar(total=len(fold_jobs) + len(final_jobs), desc=f"{config.name} models", unit="model",
                      disable=not progress) as bar:
        if not family.final_after_folds:
            return run_jobs(fold_jobs + final_jobs, jobs, bar, token)
        outcomes = run_jobs(fold_jobs, jobs, bar, token)
        fold_outcomes = [outcomes[job.key] for job in fold_jobs]
        final_jobs = [family.final_job(job, fold_outcomes) for job in final_jobs]
        return {**outcomes, **run_jobs(final_jobs, jobs, bar, token)}


def _out_of_fold(folds: list[list[str]], seeds: list[int], outcomes: dict[ModelKey, FitOutcome],
                 config: RunDefinition) -> dict[str, np.ndarray]:
    """The run rows of every development film by its fold's models: the mean over seeds."""
    rows = {}
    for k, names in enumerate(folds, start=1):
        per_seed = [outcomes[k, seed].predictions for seed in seeds]   # each in the order of the fold's films
        for i, name in enumerate(names):
            rows[name] = ensemble_rows([predictions[i] for predictions in per_seed], config.task)
    return rows


def _write_out_of_fold(folder: Path, config: RunDefinition, films: list[FilmData], folds: list[list[str]],
                       outcomes: dict[ModelKey, FitOutcome], run_name: str) -> Scores:
    """Write the out-of-fold run file and ``scores.json`` (official and pooled figures, per fold
    and mean ± std); returns the scores."""
    from .scoring import score_folds
    from .submission import write_run

    rows = _out_of_fold(folds, _seeds(config), outcomes, config)
    write_run(folder / run_name, rows, config.task, config.describe())
    scores = score_folds({f.name: f.labels for f in films}, rows, folds, config.task)
    write_text_atomic(folder / "scores.json", json.dumps(scores.to_json(), indent=2) + "\n")
    return scores
