"""The two subtasks of the task, each one object that knows everything that differs between them.

:data:`VALENCE_AROUSAL` (subtask 1: a valence and an arousal score in [-1, 1] per 10 s segment)
and :data:`FEAR` (subtask 2: whether a segment is likely to induce fear, with a confidence) are
the instances of :class:`Subtask`; :data:`SUBTASKS` holds them by name.  Their names are the
public strings ``"valence_arousal"`` and ``"fear"`` of annotation files, run file names, run
definitions and the CLI: where such a string is read (an option, a file name, a file), :func:`get`
turns it into the object once, and the library passes the object on (``str()`` of it is its
name, so messages read as before).  Behaviour that depends on the subtask asks the object; no
code compares names.

Each subtask knows its label columns (annotations), its model outputs and their activation
and range, its loss, its run-file rows (how they are written and checked, and how a model's
per-segment outputs become rows), its metric keys, and the *criterion*: the figure by which
choices (hyper-parameters, smoothing, early stopping, fusion weights) are made and the
leaderboard ranks (:attr:`Subtask.criterion`, which a run may override among
:attr:`Subtask.criteria`; calibration stays least squares whatever it is).  Its scorer is
:mod:`mediaeval.scoring`'s, which registers it (:func:`register_scorer`) so that this module
imports no other of the package but :mod:`mediaeval.metrics`.  Adding a subtask is adding an
instance here and its scorer there (see README, "Extending mediaeval").

Importing this module imports nothing heavy (NumPy is imported by the methods that need it),
so the CLI's choices can read :data:`SUBTASKS` and ``--help`` stays instant.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


class ProblemSink(Protocol):
    """Where :meth:`Subtask.check_row` reports what is wrong with a run-file line
    (:class:`mediaeval.run_files.Problems`)."""

    def add(self, line: int, code: str, message: str) -> None: ...


class FigureTable(Protocol):
    """Figures of a run as :meth:`Subtask.stopping_figure` reads them
    (:class:`mediaeval.scoring.Scores`): the official ones, and per film."""

    official: dict
    per_film: dict


Scorer = Callable[[dict, dict], object]   # (truth, prediction) per film -> Scores
_SCORERS: dict[str, Scorer] = {}


def register_scorer(subtask: Subtask, scorer: Scorer) -> None:
    """Make ``scorer`` what :meth:`Subtask.score` of ``subtask`` calls (:mod:`mediaeval.scoring`
    registers the official scorers when it is imported)."""
    _SCORERS[subtask.name] = scorer


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
    criteria: tuple[tuple[str, tuple[str, ...]], ...]  # criterion name -> the official figures it is made of;
                                       # the first is the default (:attr:`criterion`)
    film_figures: tuple[tuple[str, str], ...]   # official figure -> the per-film figure it is the mean of
    lower_better: tuple[str, ...]      # figures where lower is better (the others: higher)
    strict_keys: tuple[str, ...]       # official mean undefined as soon as one film's is (the 2017 PCC)
    constant_keys: tuple[str, ...]     # figures on which a run is compared with the constant baseline

    def __str__(self) -> str:
        return self.name

    def __reduce__(self):
        """Pickled by name: a subtask sent to a worker process is the same object there."""
        return get, (self.name,)

    @property
    def outputs(self) -> int:
        """Number of model outputs per step or segment."""
        return len(self.output_columns)

    # ------------------------------------------------------------------ the criterion

    @property
    def criterion(self) -> str:
        """The default criterion: what choices optimise and the leaderboard ranks by."""
        return self.criteria[0][0]

    def criterion_of(self, name: str | None) -> str:
        """``name`` checked against :attr:`criteria` (``None``: the default); ``ValueError``
        naming the accepted ones otherwise."""
        if name is None:
            return self.criterion
        if name not in dict(self.criteria):
            raise ValueError(f"criterion: expected one of {', '.join(c for c, _ in self.criteria)} for "
                             f"{self.name}, got {name!r}")
        return name

    def criterion_keys(self, criterion: str | None = None) -> tuple[str, ...]:
        """The official figures a criterion is made of (each output's, for valence/arousal)."""
        return dict(self.criteria)[self.criterion_of(criterion)]

    def lower_is_better(self, key: str) -> bool:
        """Whether a lower value of the figure ``key`` is better (MSE, false-alarm rate)."""
        return key in self.lower_better

    def film_figure(self, key: str) -> str | None:
        """The per-film figure whose mean over films the official figure ``key`` is (``None``:
        not a mean over films, a pooled figure)."""
        return dict(self.film_figures).get(key)

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

    def check_row(self, number: int, tokens: list[str], values: list[float], problems: ProblemSink) -> list[float]:
        """Add to ``problems`` what is wrong with the finite ``values`` of line ``number``
        (``tokens`` as read); returns the row's two values."""
        raise NotImplementedError

    def format_rows(self, film: str, values) -> list[str]:
        """The run-file lines of one film's rows ``(K, 2)``; ``ValueError`` naming the film when a
        value is out of its range."""
        raise NotImplementedError

    # ------------------------------------------------------------------ figures

    def score(self, truth: dict, prediction: dict):
        """Official and pooled figures of run rows against labels, per film: a
        :class:`~mediaeval.scoring.Scores`, by the scorer :mod:`mediaeval.scoring` registered."""
        try:
            scorer = _SCORERS[self.name]
        except KeyError:
            raise LookupError(f"no scorer registered for {self.name}: import mediaeval.scoring first") from None
        return scorer(truth, prediction)

    def column_figure(self, truth: dict, prediction: dict, criterion: str | None = None) -> float:
        """The criterion's figure of one output column, higher is better (``truth[film]`` and
        ``prediction[film]`` 1-D): how fusion weights, per-segment hyper-parameters and
        smoothing are chosen."""
        raise NotImplementedError

    def stopping_figure(self, scores: FigureTable, stop_on: str, criterion: str | None = None) -> float:
        """What early stopping minimises, from the held-out films' :class:`~mediaeval.scoring.Scores`
        (``stop_on``: ``official``, the criterion's figure, or ``pcc``; see
        :class:`mediaeval.model.ModelSettings`)."""
        raise NotImplementedError

    def rank_value(self, figure: Callable[[str], float | None], criterion: str | None = None) -> float:
        """A run's place on the leaderboard, higher first: the mean of the criterion's figures
        (``figure(key)``: the run's official figure, ``None`` when undefined), negated where lower
        is better; ``-inf`` when one is undefined."""
        values = [figure(key) for key in self.criterion_keys(criterion)]
        if None in values:
            return -math.inf
        return sum(-v if self.lower_is_better(k) else v for k, v in zip(self.criterion_keys(criterion), values)
                   ) / len(values)


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

    def column_figure(self, truth, prediction, criterion=None) -> float:
        """``mse``: minus the mean per-film MSE; ``pcc`` / ``ccc``: the mean per-film PCC / CCC,
        an undefined one counting 0."""
        from .metrics import concordance_correlation, film_mean_correlation, film_mean_mse, pearson_correlation

        criterion = self.criterion_of(criterion)
        if criterion == "mse":
            return -film_mean_mse(truth, prediction)
        metric = pearson_correlation if criterion == "pcc" else concordance_correlation
        return film_mean_correlation(truth, prediction, metric)

    def stopping_figure(self, scores, stop_on, criterion=None) -> float:
        """``official``: by the criterion, the mean of the valence and arousal MSE (``mse``), or 1 -
        the mean per-film PCC or CCC of both (an undefined one counting 0); ``pcc``: the latter
        for PCC, whatever the criterion."""
        import numpy as np

        criterion = "pcc" if stop_on == "pcc" else self.criterion_of(criterion)
        if criterion == "mse":
            return float(np.mean([scores.official["valence_mse"], scores.official["arousal_mse"]]))
        keys = [f"{column}_{criterion}" for column in ("valence", "arousal")]
        values = [np.nan_to_num(figures[k]) for figures in scores.per_film.values() for k in keys]
        return 1.0 - float(np.mean(values))


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

    def column_figure(self, truth, prediction, criterion=None) -> float:
        from .metrics import mean_average_precision

        self.criterion_of(criterion)
        return mean_average_precision(truth, prediction)

    def stopping_figure(self, scores, stop_on, criterion=None) -> float:
        return 1.0 - scores.official["map"]


_VALENCE_AROUSAL_KEYS = ("valence_mse", "valence_pcc", "arousal_mse", "arousal_pcc", "quadrant_accuracy",
                         "valence_ccc", "arousal_ccc")
_FEAR_KEYS = ("map", "accuracy", "precision", "recall", "f1")
# Fear's label figures as the leaderboard shows them: means over films, as 2017 probably reported
# them, and the false-alarm rate on the films without fear, which MAP leaves out.
_FEAR_FILM_KEYS = ("map", "accuracy_per_film", "precision_per_film", "recall_per_film", "f1_per_film",
                   "false_alarm_rate")

VALENCE_AROUSAL: Subtask = _ValenceArousal(
    name="valence_arousal", title="valence/arousal",
    label_columns=("valence", "arousal"), output_columns=("valence", "arousal"),
    row_columns=("valence", "arousal"), row_widths=(2,),
    activation="tanh", output_range=(-1.0, 1.0), binary=False,
    losses=("mse", "ccc"), loss_text="squared error (mse) or 1 - concordance (ccc)",
    metric_keys=_VALENCE_AROUSAL_KEYS,
    table_keys=("valence_mse", "valence_pcc", "valence_ccc", "arousal_mse", "arousal_pcc", "arousal_ccc"),
    panel_keys=_VALENCE_AROUSAL_KEYS[:4],
    film_panels=(("valence_mse", "arousal_mse"), ("valence_pcc", "arousal_pcc")),
    pcc_columns=("valence", "arousal"),
    # mse first: the official mean per-film MSE of each output is what the benchmark reports first,
    # and, unlike PCC, it sees the level of a prediction (a constant has no PCC, so cannot win by it)
    criteria=(("mse", ("valence_mse", "arousal_mse")), ("pcc", ("valence_pcc", "arousal_pcc")),
              ("ccc", ("valence_ccc", "arousal_ccc"))),
    film_figures=tuple((k, k) for k in _VALENCE_AROUSAL_KEYS),
    lower_better=("valence_mse", "arousal_mse"), strict_keys=("valence_pcc", "arousal_pcc"),
    constant_keys=("valence_mse", "arousal_mse"))

FEAR: Subtask = _Fear(
    name="fear", title="fear",
    label_columns=("fear",), output_columns=("fear confidence",),
    row_columns=("label", "confidence"), row_widths=(1, 2),   # a label alone: accepted with a warning
    activation="sigmoid", output_range=(0.0, 1.0), binary=True,
    losses=("mse",), loss_text="cross-entropy",   # the default setting, which fear leaves for cross-entropy
    metric_keys=_FEAR_KEYS, table_keys=_FEAR_FILM_KEYS, panel_keys=("map",),
    film_panels=(("ap",), ("f1",)),
    pcc_columns=(),
    criteria=(("map", ("map",)),),
    film_figures=(("map", "ap"), ("accuracy_per_film", "accuracy"), ("precision_per_film", "precision"),
                  ("recall_per_film", "recall"), ("f1_per_film", "f1"), ("false_alarm_rate", "false_alarm")),
    lower_better=("false_alarm_rate",), strict_keys=(),
    constant_keys=("map",))

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
