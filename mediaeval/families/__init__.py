"""Model families: what every family implements (:class:`Family`), and the registry of them.

A family is named by the ``type`` of a run's ``[model]`` table (``"lstm"`` when it has none)
and brings its settings (a dataclass with that ``type`` tag, whose fields carry their ranges:
:mod:`mediaeval.validation`), how to fit one model (a :class:`FitJob`: a fold's or the final
model of a seed), the files of a fitted model in its folder, how to load one as a
:class:`Predictor`, and one line describing it for the submission's README.  Cross-validation
(:mod:`mediaeval.training`) and prediction (:mod:`mediaeval.prediction`) ask the registry for
the family of a run's settings (:func:`family_of`) and never look at the settings' class.

Built in: ``lstm`` (:mod:`mediaeval.families.lstm`) and the per-segment ``ridge``, ``svr`` and
``hgb`` (:mod:`mediaeval.families.segment`).  Adding a family is one module that defines it and
calls :func:`register`, named in :func:`_load_builtin` (see README, "Extending mediaeval").
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Protocol, Union

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from ..post_processing import PostProcessing
    from ..task import Subtask


@dataclass(frozen=True)
class FitJob:
    """One model to train, keyed by its repeat of the cross-validation (1 to the run's
    ``folds_repeats``; 1 for the final model), its fold (1 to ``n_folds``; None: the final model)
    and seed, and the films it predicts."""

    fold: int | None
    seed: int
    train: list            # FilmData the model learns from
    held_out: list         # FilmData it predicts (the fold's; none for the final model)
    task: Subtask
    settings: object       # the family's settings
    out_dir: Path | None   # where the model is saved (None: not saved)
    progress: bool = True  # draw the epochs' bar (only where the job runs in this process)
    n_folds: int = 0       # how many folds the run has (for a fold model's label; 0: not said)
    criterion: str | None = None   # what the model's choices optimise (the run's; None: the subtask's)
    post: PostProcessing | None = None   # the post-processing to keep instead of choosing one (the
                                         # final LSTM's: the median of its folds' choices)
    repeat: int = 1        # the repeat of the cross-validation (folds_repeats > 1: its fold split)

    @property
    def key(self) -> tuple[int, int | None, int]:
        return self.repeat, self.fold, self.seed

    @property
    def label(self) -> str:
        """The bar's and the failure's name: ``fold 2/5 seed 0``, ``repeat 2 fold 2/5 seed 0``,
        ``final seed 0``."""
        if self.fold is None:
            return f"final seed {self.seed}"
        return (f"{f'repeat {self.repeat} ' if self.repeat > 1 else ''}fold {self.fold}"
                f"{f'/{self.n_folds}' if self.n_folds else ''} seed {self.seed}")


@dataclass(frozen=True)
class FitOutcome:
    """What a fit job sends back: ``(curves, threshold)`` of each held-out film (its
    post-processed segment curves, and for fear the label threshold) and, for a family whose
    final model learns from its folds (the LSTM), the epoch it kept and the post-processing it
    chose (None: no film held out to choose on)."""

    predictions: list
    best_epoch: int | None = None
    post: PostProcessing | None = None


class Predictor(Protocol):
    """A fitted model loaded from its folder."""

    def predictions(self, films: list) -> list[tuple[np.ndarray, float]]:
        """``(curves, threshold)`` of each film (FilmData): its post-processed segment curves
        (K, outputs) and the fear label threshold."""


class Family(Protocol):
    """A model family.  ``final_after_folds``: its final model needs the fold models' outcomes
    (:meth:`final_job`), so it trains after them; otherwise beside them."""

    type: str                    # the ``type`` of its settings
    ensemble: str                # which models predict test films when a run does not say: "final" or "folds"
    settings: type               # its settings dataclass, with ``type: Literal[<type>, ...]``
    files: tuple[str, ...]       # the files of one fitted model, in its folder
    final_after_folds: bool

    def fit(self, job: FitJob) -> FitOutcome:
        """Train one model, save it into ``job.out_dir`` (if any), predict ``job.held_out``."""

    def final_job(self, job: FitJob, fold_outcomes: list[FitOutcome]) -> FitJob:
        """The final model's job, given what the fold models of the run gave."""

    def load(self, folder: Path, task: Subtask) -> Predictor:
        """The model of a ``task`` run saved in ``folder``; DataError naming a file that is
        missing or unreadable."""

    def describe(self, settings) -> str:
        """One line for the submission's README."""


_REGISTRY: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Register ``family`` under its ``type`` (a family's module calls this for its instance)."""
    _REGISTRY[family.type] = family
    return family


BUILTIN = ("lstm", "segment")   # the modules of the built-in families, in the order they are listed


def _load_builtin() -> None:
    from . import lstm, segment  # noqa: F401  (they register)


def _families() -> list[Family]:
    """Every family: the built-in ones first (by :data:`BUILTIN`), then others as registered."""
    _load_builtin()
    order = {name: i for i, name in enumerate(BUILTIN)}
    registered = list(_REGISTRY.values())
    return sorted(registered, key=lambda f: (order.get(type(f).__module__.removeprefix(__name__ + "."),
                                                       len(order)), registered.index(f)))


def types() -> list[str]:
    """The ``type`` of every family (``lstm``, ``ridge``, ``svr``, ``hgb``, then others as registered)."""
    return [f.type for f in _families()]


def family(type_: str) -> Family:
    """The family of ``type``; ValueError naming the known ones otherwise."""
    _load_builtin()
    if type_ not in _REGISTRY:
        raise ValueError(f"model type {type_!r}: expected one of {', '.join(_REGISTRY)}")
    return _REGISTRY[type_]


def family_of(settings) -> Family:
    """The family of a run's ``[model]`` settings (by their ``type``)."""
    return family(settings.type)


def settings_types() -> tuple[type, ...]:
    """The settings dataclass of every family (each once, in the order of :func:`types`)."""
    return tuple(dict.fromkeys(f.settings for f in _families()))


def _type_of(table) -> str | None:
    """The family a ``[model]`` table (or settings) is of: its ``type``, ``"lstm"`` when it has none."""
    return table.get("type", "lstm") if isinstance(table, dict) else getattr(table, "type", None)


def _without_type(table):
    """A table for settings whose ``type`` is not a field (the LSTM's: a class constant)."""
    return {k: v for k, v in table.items() if k != "type"} if isinstance(table, dict) else table


def settings_union():
    """The annotation of a run's ``[model]`` table: the settings of one of the families, told
    apart by ``type`` (pydantic's discriminated union; ``"lstm"`` when the table has none)."""
    import dataclasses

    from pydantic import BeforeValidator, Discriminator, Tag

    members = []
    for family in _families():
        type_ = family.type
        has_field = "type" in {f.name for f in dataclasses.fields(family.settings)}
        members.append(Annotated[family.settings, Tag(type_)] if has_field else
                       Annotated[family.settings, BeforeValidator(_without_type), Tag(type_)])
    return Annotated[Union[tuple(members)], Discriminator(_type_of)]  # noqa: UP007 (known at run time only)
