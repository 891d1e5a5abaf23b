"""What a model folder or a run file was made from, checked against the dataset at hand.

* The labels a model learnt from: ``mediaeval train`` records in ``model.json`` (``labels``) a
  digest of each development film's labels (:func:`labels_digests`).  ``leaderboard``, and
  ``score`` of a model folder's run file, compare them with the dataset's (:func:`check_labels`):
  figures of a model trained on other labels are not this dataset's, and this dataset's
  constant is no yardstick for them.
* The films a prediction's models saw: ``predict`` records in the run's description
  (``<run>.txt.json``, ``in_sample_films``) the films it predicted that its models were trained
  on (:func:`in_sample_films`), and ``score`` says its figures on them are in-sample
  (:func:`score_notes`).
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError
from .task import Subtask

LABELS = "labels"                    # the key of model.json holding the labels' digests
IN_SAMPLE = "in_sample_films"        # the key of a run's description naming its in-sample films


def labels_digest(labels) -> str:
    """The first 16 hex digits of the SHA-256 of a film's labels (as float64).

    >>> labels_digest([[0.1, 0.2]]) == labels_digest(np.array([[0.1, 0.2]]))
    True
    >>> labels_digest([[0.1, 0.2]]) == labels_digest([[0.1, 0.3]])
    False
    """
    return hashlib.sha256(np.ascontiguousarray(labels, np.float64).tobytes()).hexdigest()[:16]


def labels_digests(labels: Mapping[str, np.ndarray]) -> dict[str, str]:
    """``{film: labels_digest}`` of ``{film: labels}``."""
    return {film: labels_digest(values) for film, values in labels.items()}


def _names(films: list[str], shown: int = 5) -> str:
    return ", ".join(films[:shown]) + (" ..." if len(films) > shown else "")


@dataclass(frozen=True)
class LabelsCheck:
    """What :func:`check_labels` found: a ``note`` for the user (``None``: nothing to say), and
    whether the model's figures are ``comparable`` with this dataset's (its constant's, say)."""

    note: str | None = None
    comparable: bool = True


def check_labels(manifest: dict | None, dataset, task: Subtask, name: str, films: Iterable[str] = ()) -> LabelsCheck:
    """Whether the model folder ``name`` (its ``manifest``, ``None`` when it has none) was trained
    on this ``dataset``'s labels of ``task``: not comparable when a film it recorded, or one of
    ``films`` (those of its folds), has no such labels here, or other ones; comparable with a
    note when its manifest records no labels (an older model folder: it cannot be checked)."""
    recorded = (manifest or {}).get(LABELS)
    named = sorted(set(films) | set(recorded if isinstance(recorded, dict) else {}))
    missing = [n for n in named if n not in dataset.films or not dataset.films[n].has_labels(task)]
    if missing:
        return LabelsCheck(f"{name}: trained on {len(missing)} film(s) without {task} annotations in "
                           f"{dataset.root} ({_names(missing)}): its figures are not this dataset's, so they are "
                           f"not compared with its constant", False)
    if not isinstance(recorded, dict):
        return LabelsCheck(f"{name}: its model.json records no digest of the labels it was trained on (made by "
                           f"an earlier mediaeval): whether they are those of {dataset.root} cannot be checked")
    differ = [n for n in named if recorded.get(n) != labels_digest(dataset.films[n].labels(task))]
    if differ:
        return LabelsCheck(f"{name}: trained on other {task} labels than those of {dataset.root} for "
                           f"{len(differ)} of {len(named)} films ({_names(differ)}): its figures are not this "
                           f"dataset's, so they are not compared with its constant", False)
    return LabelsCheck()


def in_sample_films(model_dir, films: Iterable[str]) -> list[str]:
    """Those of ``films`` (names) that the models of ``model_dir`` were trained on, sorted: every
    development film of its folds, since the final models saw them all and, with ``ensemble =
    "folds"``, every fold's models but one saw each."""
    from .folds import read_folds

    trained = {n for fold in read_folds(Path(model_dir) / "folds.json") for n in fold}
    return sorted(set(films) & trained)


def score_notes(run_path, dataset, task: Subtask, films: Iterable[str]) -> list[str]:
    """Notes for ``score`` of the run file ``run_path`` on ``films``: that its figures on films
    its models were trained on are in-sample (its description's ``in_sample_films``), and, for a
    model folder's own run file, what :func:`check_labels` says of the labels it was trained on."""
    from .submission import description_path, read_description
    from .model_folder import ModelFolder

    run_path, films = Path(run_path), sorted(films)
    notes = []
    try:
        seen = [n for n in read_description(run_path).get(IN_SAMPLE) or [] if n in films]
    except DataError as error:
        seen = []
        notes.append(f"{error}: whether the run's figures are in-sample cannot be told")
    if seen:
        notes.append(f"in-sample: {len(seen)} of the {len(films)} films scored ({_names(seen)}) were predicted by "
                     f"models trained on them ({description_path(run_path).name}): these figures are not honest; "
                     f"the model folder's out-of-fold run file gives honest ones")
    manifest = ModelFolder(run_path.parent).manifest()
    if manifest is not None and manifest.get("state") == "complete" and manifest.get("run_file") == run_path.name:
        note = check_labels(manifest, dataset, task, str(run_path.parent), films).note
        notes += [note] if note else []
    return notes
