"""The two subtasks of the task, each one object that knows everything that differs between them.

:data:`VALENCE_AROUSAL` (subtask 1: a valence and an arousal score in [-1, 1] per 10 s segment)
and :data:`FEAR` (subtask 2: whether a segment is likely to induce fear, with a confidence) are
the instances of :class:`Subtask`; :data:`SUBTASKS` holds them by name.  Their names are the
public strings ``"valence_arousal"`` and ``"fear"`` of annotation files, run file names, run
definitions and the CLI, and the rest of the toolkit passes those strings around: where
behaviour depends on the subtask it asks :func:`get` for the object, and never compares names.

Each subtask knows its label columns (annotations), its model outputs and their activation
and range, its loss, its run-file rows (how they are written and checked, and how a model's
per-segment outputs become rows), its metric keys and scorer, and the figure by which choices
(weights, hyper-parameters, early stopping, ranking) are made.  Adding a subtask is adding an
instance here (see README, "Extending mediaeval").

Importing this module imports nothing heavy (NumPy is imported by the methods that need it),
so the CLI's choices can read :data:`SUBTASKS` and ``--help`` stays instant.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from .scoring import Scores
    from .submission import Problems


@dataclass(frozen=True)
class Subtask:
    """What one subtask is made of; the methods that differ are implemented by its subclass.

    Labels are ``(K, n)`` arrays of ``label_columns`` per 10 s segment (``(K,)`` when there is
    one column); a model predicts ``outputs`` values per step or segment ("curves", in
    ``output_range``); a run file holds two values per segment, ``row_columns``.
    """

    name: str                          # "valence_arousal", "fear": file names, run definitions, CLI
    title: str                         # in messages: "valence/arousal"
    label_columns: tuple[str, ...]     # annotation columns, in the annotation file's order
    output_columns: tuple[str, ...]    # what a model predicts per segment (and fusion averages)
    row_columns: tuple[str, str]       # the two values of a run-file line
    row_widths: tuple[int, ...]        # numbers of values a run-file line may hold
    activation: str                    # of the model's output layer
    output_range: tuple[float, float]  # of its outputs
    binary: bool                       # 0/1 labels: the positive class is weighted in the loss and
                                       # a threshold turns confidences into labels
    losses: tuple[str, ...]            # accepted values of the ``loss`` setting of an LSTM run
    loss_text: str                     # what it trains on, in messages
    metric_keys: tuple[str, ...]       # the figures of a run, official and pooled alike
    table_keys: tuple[str, ...]        # the columns of the leaderboard
    panel_keys: tuple[str, ...]        # a panel each in the leaderboard's plot
    film_panels: tuple[tuple[str, ...], ...]   # per-film figures drawn side by side, a panel per group
    pcc_columns: tuple[str, ...]       # row columns scored by PCC: a film's constant prediction is warned

    def __str__(self) -> str:
        return self.name

    @property
    def outputs(self) -> int:
        """Number of model outputs per step or segment."""
        return len(self.output_columns)

    # ------------------------------------------------------------------ labels

    def labels(self, table) -> np.ndarray:
        """Ground truth per segment from an annotation table (a DataFrame with ``label_columns``):
        ``(K, n)``, or ``(K,)`` for a single column."""
        if len(self.label_columns) == 1:
            return table[self.label_columns[0]].to_numpy()
        return table[list(self.label_columns)].to_numpy()

    def targets(self, labels) -> np.ndarray:
        """Labels as a ``(K, outputs)`` matrix, what a model is trained against."""
        import numpy as np

        return np.asarray(labels).reshape(-1, self.outputs)

    # ------------------------------------------------------------------ run rows

    def rows(self, curves, threshold: float = 0.5) -> np.ndarray:
        """Run-file rows ``(K, 2)`` from per-segment outputs ``(K, outputs)`` (a model's, a
        fusion's, a constant); ``threshold`` makes labels of confidences where there are any."""
        raise NotImplementedError

    def curves(self, rows) -> np.ndarray:
        """Per-segment outputs ``(K, outputs)`` from run-file rows (what fusion averages)."""
        raise NotImplementedError

    def check_row(self, number: int, tokens: list[str], values: list[float], problems: Problems) -> list[float]:
        """Add to ``problems`` what is wrong with the finite ``values`` of line ``number``
        (``tokens`` as read); returns the row's two values."""
        raise NotImplementedError

    def format_rows(self, film: str, values) -> list[str]:
        """The run-file lines of one film's rows ``(K, 2)``; ``ValueError`` naming the film when a
        value is out of its range."""
        raise NotImplementedError

    # ------------------------------------------------------------------ figures

    def score(self, truth: dict, prediction: dict) -> Scores:
        """Official and pooled figures of run rows against labels, per film
        (:mod:`mediaeval.scoring`)."""
        raise NotImplementedError

    def column_figure(self, truth: dict, prediction: dict) -> float:
        """The official figure of one output column, higher is better (``truth[film]`` and
        ``prediction[film]`` 1-D): how fusion weights, per-segment hyper-parameters and
        smoothing are chosen."""
        raise NotImplementedError

    def stopping_figure(self, scores: Scores, stop_on: str) -> float:
        """What early stopping minimises, from the held-out films' :class:`~mediaeval.scoring.Scores`
        (``stop_on``: ``official`` or ``pcc``; see :class:`mediaeval.model.ModelSettings`)."""
        raise NotImplementedError

    def rank_value(self, figure: Callable[[str], float | None]) -> float:
        """A run's place on the leaderboard, higher first (``figure(key)``: its official
        figure, ``None`` when undefined)."""
        raise NotImplementedError

    def beats(self, figure: Callable[[str], float | None], baseline: Callable[[str], float | None]) -> bool:
        """Whether a run's official figures beat the constant baseline's."""
        raise NotImplementedError


def fear_rows(confidence, threshold: float = 0.5) -> np.ndarray:
    """Fear run rows (K, 2) from confidences (K,): label = confidence >= threshold."""
    import numpy as np

    confidence = np.clip(np.asarray(confidence, dtype=np.float64), 0.0, 1.0)
    return np.column_stack([(confidence >= threshold).astype(np.float64), confidence])


@dataclass(frozen=True)
class _ValenceArousal(Subtask):
    """Subtask 1: valence and arousal in [-1, 1], scored by MSE and PCC per film."""

    def rows(self, curves, threshold: float = 0.5) -> np.ndarray:
        import numpy as np

        return np.clip(curves, -1.0, 1.0)

    def curves(self, rows) -> np.ndarray:
        return rows

    def check_row(self, number, tokens, values, problems) -> list[float]:
        for name, value in zip(self.row_columns, values):
            if not -1.0 <= value <= 1.0:
                problems.add(number, "E110", f"{name} {value!r} is outside [-1, 1]")
        return values

    def format_rows(self, film, values) -> list[str]:
        import numpy as np

        if np.any(np.abs(values) > 1):
            raise ValueError(f"film {film}: valence/arousal outside [-1, 1]")
        return [f"{v:.6f} {a:.6f}" for v, a in values]

    def score(self, truth, prediction):
        from .scoring import score_valence_arousal

        return score_valence_arousal(truth, prediction)

    def column_figure(self, truth, prediction) -> float:
        from .metrics import film_mean_mse

        return -film_mean_mse(truth, prediction)

    def stopping_figure(self, scores, stop_on) -> float:
        import numpy as np

        if stop_on == "pcc":
            keys = ("valence_pcc", "arousal_pcc")
            pccs = [np.nan_to_num(figures[k]) for figures in scores.per_film.values() for k in keys]
            return 1.0 - float(np.mean(pccs))
        return float(np.mean([scores.official["valence_mse"], scores.official["arousal_mse"]]))

    def rank_value(self, figure) -> float:
        pccs = [figure("valence_pcc"), figure("arousal_pcc")]
        return -math.inf if None in pccs else sum(pccs) / 2

    def beats(self, figure, baseline) -> bool:
        mine = [figure(k) for k in ("valence_mse", "arousal_mse")]
        base = [baseline(k) for k in ("valence_mse", "arousal_mse")]
        return None not in mine and None not in base and sum(mine) < sum(base)


@dataclass(frozen=True)
class _Fear(Subtask):
    """Subtask 2: a fear label and confidence per segment, scored by AP per film (MAP)."""

    def rows(self, curves, threshold: float = 0.5) -> np.ndarray:
        return fear_rows(curves[:, 0], threshold)

    def curves(self, rows) -> np.ndarray:
        return rows[:, 1:2]

    def check_row(self, number, tokens, values, problems) -> list[float]:
        if values[0] not in (0.0, 1.0):
            problems.add(number, "E111", f"expected fear label 0 or 1, got {tokens[0]!r}")
        if len(values) == 1:
            problems.add(number, "W201", "label without confidence; confidence = label")
            values.append(values[0])
        elif not 0.0 <= values[1] <= 1.0:
            problems.add(number, "E112", f"confidence {values[1]!r} is outside [0, 1]")
        return values

    def format_rows(self, film, values) -> list[str]:
        import numpy as np

        if not np.all(np.isin(values[:, 0], (0, 1))) or np.any((values[:, 1] < 0) | (values[:, 1] > 1)):
            raise ValueError(f"film {film}: expected labels 0/1 and confidences in [0, 1]")
        return [f"{int(label)} {conf:.6f}" for label, conf in values]

    def score(self, truth, prediction):
        from .scoring import score_fear

        return score_fear(truth, prediction)

    def column_figure(self, truth, prediction) -> float:
        from .metrics import mean_average_precision

        return mean_average_precision(truth, prediction)

    def stopping_figure(self, scores, stop_on) -> float:
        return 1.0 - scores.official["map"]

    def rank_value(self, figure) -> float:
        value = figure("map")
        return -math.inf if value is None else value

    def beats(self, figure, baseline) -> bool:
        mine, base = figure("map"), baseline("map")
        return mine is not None and (base is None or mine > base)


_VALENCE_AROUSAL_KEYS = ("valence_mse", "valence_pcc", "arousal_mse", "arousal_pcc", "quadrant_accuracy")
_FEAR_KEYS = ("map", "accuracy", "precision", "recall", "f1")

VALENCE_AROUSAL: Subtask = _ValenceArousal(
    name="valence_arousal", title="valence/arousal",
    label_columns=("valence", "arousal"), output_columns=("valence", "arousal"),
    row_columns=("valence", "arousal"), row_widths=(2,),
    activation="tanh", output_range=(-1.0, 1.0), binary=False,
    losses=("mse", "ccc"), loss_text="squared error (mse) or 1 - concordance (ccc)",
    metric_keys=_VALENCE_AROUSAL_KEYS, table_keys=_VALENCE_AROUSAL_KEYS[:4], panel_keys=_VALENCE_AROUSAL_KEYS[:4],
    film_panels=(("valence_mse", "arousal_mse"), ("valence_pcc", "arousal_pcc")),
    pcc_columns=("valence", "arousal"))

FEAR: Subtask = _Fear(
    name="fear", title="fear",
    label_columns=("fear",), output_columns=("fear confidence",),
    row_columns=("label", "confidence"), row_widths=(1, 2),   # a label alone: accepted with a warning
    activation="sigmoid", output_range=(0.0, 1.0), binary=True,
    losses=("mse",), loss_text="cross-entropy",   # the default setting, which fear leaves for cross-entropy
    metric_keys=_FEAR_KEYS, table_keys=_FEAR_KEYS, panel_keys=("map",),
    film_panels=(("ap",), ("f1",)),
    pcc_columns=())

SUBTASKS: dict[str, Subtask] = {t.name: t for t in (VALENCE_AROUSAL, FEAR)}


def get(subtask: str | Subtask) -> Subtask:
    """The subtask of a name (a :class:`Subtask` is returned as it is); ``ValueError`` naming
    the known ones otherwise."""
    if isinstance(subtask, Subtask):
        return subtask
    try:
        return SUBTASKS[subtask]
    except (KeyError, TypeError):
        raise ValueError(f"subtask {subtask!r}: expected one of {', '.join(SUBTASKS)}") from None
