"""The constant baseline: every segment gets the training films' mean label."""
from __future__ import annotations

import numpy as np

from .dataset import Film
from .errors import MediaevalError
from .task import Subtask


def constant_predictions(train_films: list[Film], films: list[Film], subtask: Subtask) -> dict[str, np.ndarray]:
    """Predict, for every segment of ``films``, the mean label of all segments of ``train_films``.

    Valence/arousal: the mean valence and arousal.  Fear: the share of fear segments as the
    confidence, and the label it rounds to (0 unless most segments are fearful).  The mean
    becomes run rows as a model's outputs do (:meth:`mediaeval.task.Subtask.rows`).

    Returns
    -------
    dict of film name to numpy.ndarray, shape (n_segments, 2)
    """
    labelled = [f for f in train_films if f.has_labels(subtask)]
    if not labelled:
        raise MediaevalError(f"no training film has {subtask} annotations")
    mean = np.concatenate([f.labels(subtask) for f in labelled]).astype(np.float64).mean(axis=0)
    return {film.name: subtask.rows(np.tile(np.reshape(mean, (1, -1)), (film.n_segments, 1))) for film in films}
