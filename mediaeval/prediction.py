"""Predicting films with a trained run: the models of its model folder (the final model of each
seed, or every fold's model), each loaded by its family, their mean written as a run file."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import DataError
from .families import family_of
from .film_data import load_films
from .model_folder import ModelFolder, model_name
from .runs import RunDefinition
from .task import Subtask


def ensemble_rows(per_model: list[tuple[np.ndarray, float]], task: Subtask) -> np.ndarray:
    """Run rows of one film from each model's ``(curves, threshold)``: the mean of the curves, and
    for fear the label by the mean of the models' thresholds."""
    curves = np.mean([c for c, _ in per_model], axis=0)
    return task.rows(curves, float(np.mean([t for _, t in per_model])))


def ensemble_dirs(model_dir, config: RunDefinition) -> list[Path]:
    """The folders of the models that predict test films: the final model of each seed
    (``ensemble = "final"``), or every fold's model of each seed (``ensemble = "folds"``; without
    ``ensemble``, the family's default: :attr:`mediaeval.runs.RunDefinition.test_ensemble`)."""
    model_dir = Path(model_dir)
    seeds = [config.seed + s for s in range(config.seeds)]
    if config.test_ensemble == "folds":
        from .folds import read_folds

        n_folds = len(read_folds(model_dir / "folds.json"))
        return [model_dir / model_name(k, seed) for k in range(1, n_folds + 1) for seed in seeds]
    return [model_dir / model_name(None, seed) for seed in seeds]


def predict_run(model_dir, dataset, features_dir, films, out, force: bool = False, guard=None) -> Path:
    """Predict ``films`` with the final model(s) of ``model_dir`` (or its fold models, with
    ``ensemble = "folds"``: the mean of their outputs) and write the run file ``out``,
    described by the definition stored in the model folder.

    Checked before TensorFlow starts: the model folder is complete, ``out`` names the model's
    subtask and may be written (``guard``, by default :class:`~mediaeval.outputs.OutputGuard`
    with ``force`` and the dataset's root), and the films' features exist and were made by the
    extractors, versions and settings the model was trained on, from the films' files as they
    are.  Development films the models were trained on are named in the description as
    ``in_sample_films`` (:func:`mediaeval.provenance.in_sample_films`), so that ``score`` says
    their figures are in-sample.
    """
    from .outputs import OutputGuard

    guard = guard or OutputGuard(force, dataset_root=dataset.root)
    with ModelFolder(model_dir).lock(shared=True):   # no train replaces the model while it is read
        return _predict_run(model_dir, dataset, features_dir, films, out, guard)


def _predict_run(model_dir, dataset, features_dir, films, out, guard) -> Path:
    from .provenance import IN_SAMPLE, in_sample_films
    from .run_files import parse_run_name
    from .submission import DESCRIPTION, RUN_FILE, description_path, write_run

    guard.check(out, RUN_FILE)
    guard.check(description_path(out), DESCRIPTION)
    config, manifest = ModelFolder(model_dir).trained()
    name = parse_run_name(out)
    if name is not None and name.task is not config.task:
        raise DataError(out, f"the model is for {config.subtask}, the file name says {name.subtask}")
    data = load_films(dataset, features_dir, config.features, films, config.task, with_labels=False,
                      expected_made_by=manifest["extractors"])
    seen = in_sample_films(model_dir, [f.name for f in data])
    family = family_of(config.model)   # one model in memory at a time
    per_model = [family.load(folder, config.task).predictions(data) for folder in ensemble_dirs(model_dir, config)]
    rows = {f.name: ensemble_rows([m[i] for m in per_model], config.task) for i, f in enumerate(data)}
    return write_run(out, rows, config.task, {**config.describe(), **({IN_SAMPLE: seen} if seen else {})}, guard)
