"""The per-segment families: ridge regression (logistic for fear), RBF support vector regression
and histogram gradient boosting, each an estimator per 10 s segment (:mod:`mediaeval.segment_models`)
with its hyper-parameter candidates.  Their settings are :class:`~mediaeval.segment_models.SegmentSettings`."""
from __future__ import annotations

import itertools
import json
from pathlib import Path

from ..atomic import write_text_atomic
from .. import segment_models
from ..segment_models import SegmentModel, SegmentSettings
from ..task import Subtask
from . import FitJob, FitOutcome, family_of, register


def fit_segment_model(films, task: Subtask, settings: SegmentSettings, seed: int = 0,
                      criterion: str | None = None) -> SegmentModel:
    """A per-segment model of the family of ``settings`` fitted on ``films``
    (:func:`mediaeval.segment_models.fit_segment_model`)."""
    return segment_models.fit_segment_model(family_of(settings), films, task, settings, seed, criterion)


class SegmentFamily:
    """What the per-segment families share: fitting, files, loading, description.  A family
    adds its ``type``, ``title``, hyper-parameter ``candidates`` and ``estimator``."""

    type = ""
    ensemble = "final"   # the final model's choices were made by inner CV over its own training films
    title = ""
    settings = SegmentSettings
    files = (SegmentModel.FILE,)
    final_after_folds = False

    def candidates(self, settings: SegmentSettings) -> list[dict]:
        """The hyper-parameters the inner cross-validation chooses among."""
        raise NotImplementedError

    def estimator(self, settings: SegmentSettings, params: dict, classify: bool, seed: int):
        """An unfitted scikit-learn estimator (a classifier for fear where the family has one)."""
        raise NotImplementedError

    def fit(self, job: FitJob) -> FitOutcome:
        """Train one per-segment model, save it (and its settings and choices) into
        ``job.out_dir``; the predictions of its held-out films."""
        model = segment_models.fit_segment_model(self, job.train, job.task, job.settings, job.seed, job.criterion)
        if job.out_dir is not None:
            job.out_dir.mkdir(parents=True, exist_ok=True)
            model.save(job.out_dir / SegmentModel.FILE)
            write_text_atomic(job.out_dir / "settings.json", json.dumps(
                {"subtask": job.task.name, "seed": job.seed, "criterion": job.task.criterion_of(job.criterion),
                 "settings": job.settings.as_dict(), "chosen": model.choices(),
                 "train_films": [f.name for f in job.train]}, indent=2, default=float) + "\n")
        return FitOutcome(model.predictions(job.held_out))

    def final_job(self, job: FitJob, fold_outcomes: list[FitOutcome]) -> FitJob:
        return job

    def load(self, folder: Path, task) -> SegmentModel:   # a per-segment model knows its own subtask
        return SegmentModel.load(Path(folder) / SegmentModel.FILE)

    def describe(self, settings: SegmentSettings) -> str:
        chosen = [NAMES[c] for c in settings.choose if c in NAMES]
        fixed = [] if "spread" in settings.choose else [] if settings.spread else ["means only"]
        if "context" not in settings.choose:
            fixed.append(f"{settings.context} neighbouring segment(s) each side" if settings.context
                         else "no neighbouring segment")
        calibration = (", shrinkage towards the training mean" if "shrink" in settings.choose
                       else ", calibration") if settings.calibrate else ""
        text = (f"{self.title} per 10 s segment on the statistics of its steps and of neighbouring segments"
                + (f" ({', '.join(fixed)})" if fixed else "") + "; "
                + ", ".join([*chosen, "hyper-parameters", "smoothing"]) + calibration
                + " and fear threshold chosen by inner cross-validation over the training films")
        if settings.hedge:
            text += (f"; each film's within-film shape {settings.hedge:g} from the fixed settings' model, its level "
                     "from the chosen one")
        va = settings.from_valence_arousal
        if va is not None:
            text += f"; with the valence and arousal predicted by a {family_of(va).describe(va)}, refitted in each fold"
        return text


NAMES = {"standardise": "standardisation", "delay": "delay", "spread": "spread", "context": "context",
         "weights": "film weights"}   # the choices of a run's choose list, as its description says them


class Ridge(SegmentFamily):
    type = "ridge"
    title = "ridge regression (logistic for fear)"

    def candidates(self, settings):
        return [{"alpha": a} for a in settings.alphas]

    def estimator(self, settings, params, classify, seed):
        from sklearn.linear_model import LogisticRegression, Ridge

        return (LogisticRegression(C=1.0 / params["alpha"], class_weight="balanced", max_iter=2000)
                if classify else Ridge(alpha=params["alpha"]))


class SVR(SegmentFamily):
    type = "svr"
    title = "RBF support vector regression"

    def candidates(self, settings):
        return [{"C": c} for c in settings.svr_c]

    def estimator(self, settings, params, classify, seed):   # fear: regression on 0/1, clipped to [0, 1]
        from sklearn.svm import SVR

        return SVR(C=params["C"], gamma="scale", epsilon=settings.svr_epsilon)


class HGB(SegmentFamily):
    type = "hgb"
    title = "histogram gradient boosting"

    def candidates(self, settings):
        return [{"learning_rate": lr, "max_leaf_nodes": n}
                for lr, n in itertools.product(settings.hgb_learning_rate, settings.hgb_max_leaf_nodes)]

    def estimator(self, settings, params, classify, seed):
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        common = dict(learning_rate=params["learning_rate"], max_leaf_nodes=params["max_leaf_nodes"],
                      max_iter=settings.hgb_max_iter, l2_regularization=settings.hgb_l2, random_state=seed,
                      early_stopping=False)
        return (HistGradientBoostingClassifier(class_weight="balanced", **common) if classify
                else HistGradientBoostingRegressor(**common))


for _family in (Ridge(), SVR(), HGB()):
    register(_family)

FAMILIES = ("ridge", "svr", "hgb")   # the per-segment families built in
