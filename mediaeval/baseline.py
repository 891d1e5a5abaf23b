"""The constant baseline: every segment gets the training films' mean label."""
from __future__ import annotations

import numpy as np

from .dataset import VALENCE_AROUSAL, Film
from .errors import MediaevalError
from .submission import fear_rows


def constant_predictions(train_films: list[Film], films: list[Film], subtask: str) -> dict[str, np.ndarray]:
    """Predict, for every segment of ``films``, the mean label of all segments of ``train_films``.

    Valence/arousal: the mean valence and arousal.  Fear: the share of fear segments as the
    confidence, and the label it rounds to (0 unless most segments are fearful).

    Returns
    -------
    dict of film name to numpy.ndarray, shape (n_segments, 2)
    """
    labelled = [f for f in train_films if f.has_labels(subtask)]
    if not labelled:
        raise MediaevalError(f"no training film has {subtask} annotations")
    mean = np.concatenate([f.labels(subtask) for f in labelled]).astype(np.float64).mean(axis=0)
    out = {}
    for film in films:
        if subtask == VALENCE_AROUSAL:
            out[film.name] = np.tile(mean, (film.n_segments, 1))
        else:
            out[film.name] = fear_rows(np.full(film.n_segments, float(mean)))
    return out
