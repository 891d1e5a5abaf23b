"""The LSTM family: the thesis's recurrent network over the steps (:mod:`mediaeval.model`),
trained by :mod:`mediaeval.lstm_training`.  Its settings are :class:`~mediaeval.model.ModelSettings`.

Its fold models stop early on held-out training films; the final model of each seed then trains
on every development film for the fold models' median kept epoch (:func:`final_epochs`), none
held out, and keeps the median of their post-processing choices."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ..lstm_training import TrainedLSTM, fit
from ..model import ModelSettings
from ..post_processing import PostProcessing
from ..task import Subtask
from . import FitJob, FitOutcome, register


def final_epochs(best_epochs: list[int]) -> int:
    """The final LSTM's epoch count from the fold models' kept epochs: their median, halves
    rounded up (at least 1).

    >>> final_epochs([3, 4, 8, 5, 2]), final_epochs([3, 4]), final_epochs([])
    (4, 4, 1)
    """
    return max(1, int(np.floor(np.median(best_epochs) + 0.5))) if best_epochs else 1


class LSTMFamily:
    type = "lstm"
    ensemble = "folds"   # its final model's post-processing (the median of its folds') is checked on no film
    settings = ModelSettings
    files = TrainedLSTM.FILES
    final_after_folds = True

    def fit(self, job: FitJob) -> FitOutcome:
        fitted = fit(job.train, job.task, job.settings, job.seed, job.out_dir, job.progress, job.label,
                     job.criterion, job.post)
        return FitOutcome(fitted.trained.predictions(job.held_out), fitted.best_epoch, fitted.post)

    def final_job(self, job: FitJob, fold_outcomes: list[FitOutcome]) -> FitJob:
        """Trained for the fold models' median kept epoch (:func:`final_epochs`), none held out,
        post-processed as the median of the fold models' choices (the identity if none chose: no
        fold model held a film out)."""
        settings = dataclasses.replace(job.settings, epochs=final_epochs([o.best_epoch for o in fold_outcomes]),
                                       validation_share=0.0)
        chosen = [o.post for o in fold_outcomes if o.post is not None]
        post = PostProcessing.median(chosen) if chosen else PostProcessing.identity(job.task.outputs)
        return dataclasses.replace(job, settings=settings, post=post)

    def load(self, folder: Path, task: Subtask) -> TrainedLSTM:
        return TrainedLSTM.load(folder, task)

    def describe(self, settings: ModelSettings) -> str:
        return f"BatchNorm, Dropout, LSTM({settings.lstm_units}), Dropout, Dense"


register(LSTMFamily())
