"""Training one LSTM (:mod:`mediaeval.model`): its inputs standardised by the training films,
the loss weights of the steps, early stopping on held-out training films by the run's
criterion, the post-processing chosen on them; the trained model's files (:class:`TrainedLSTM`)."""
from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import write_text_atomic
from .errors import DataError
from .film_data import FilmData
from .model import ModelSettings, Trainer, build_model, positive_weight, set_seed
from .post_processing import PostProcessing
from .segment_inputs import clip_inputs, delay_steps, delayed, standardise_within_film
from .task import Subtask
from .windows import steps_to_n_segments


class Normaliser:
    """The LSTM's inputs: each film's steps delayed by ``delay`` steps, then as ``standardise``
    says (:mod:`mediaeval.segment_inputs`: ``"global"`` as they are, ``"film"`` z-scored by the
    film's own mean and std, ``"both"`` those z-scores beside the film's mean of each column),
    then standardised with statistics of the training films only."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, per_film: bool = False, standardise: str | None = None,
                 delay: int = 0):
        self.mean, self.std = mean.astype(np.float32), std.astype(np.float32)
        self.standardise = standardise or ("film" if per_film else "global")
        self.delay = int(delay)

    @property
    def per_film(self) -> bool:
        return self.standardise != "global"

    def _own(self, x: np.ndarray) -> np.ndarray:
        x = delayed(np.asarray(x, np.float64), self.delay)
        if self.standardise == "global":
            return x
        own = standardise_within_film(x)
        if self.standardise == "both":
            own = np.concatenate([own, np.tile(x.mean(axis=0) if len(x) else np.zeros(x.shape[1]), (len(x), 1))],
                                 axis=1)
        return own

    @classmethod
    def fit(cls, films: list[FilmData], per_film: bool = False, standardise: str | None = None,
            delay: int = 0) -> Normaliser:
        own = cls(np.zeros(1), np.ones(1), per_film, standardise, delay)
        stacked = np.concatenate([own._own(f.x) for f in films]).astype(np.float64)
        std = stacked.std(axis=0)
        return cls(stacked.mean(axis=0), np.where(std > 1e-8, std, 1.0), per_film, own.standardise, delay)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The network's inputs, clipped as the per-segment families' are
        (:func:`~mediaeval.segment_inputs.clip_inputs`): a column that barely varies over the
        training films (a film-mean column of ``"both"`` over a few films, say) must not turn a
        held-out film's ordinary value into thousands of standard deviations."""
        return clip_inputs((self._own(x) - self.mean) / self.std).astype(np.float32)

    def save(self, path) -> None:
        np.savez(path, mean=self.mean, std=self.std, per_film=np.array(self.per_film),
                 standardise=np.array(self.standardise), delay=np.array(self.delay))

    @classmethod
    def load(cls, path) -> Normaliser:
        with np.load(path) as data:
            per_film = bool(data["per_film"]) if "per_film" in data else False
            standardise = str(data["standardise"]) if "standardise" in data else None
            return cls(data["mean"], data["std"], per_film, standardise, int(data["delay"]) if "delay" in data else 0)


def input_choice(films: list[FilmData], task: Subtask, settings: ModelSettings, seed: int,
                 criterion: str | None = None) -> tuple[str, float]:
    """``(standardise, delay_seconds)`` of the LSTM's inputs: those of its settings
    (``inputs_from = "settings"``: ``film_standardise``, ``delay_seconds``), or those a ridge
    regression per segment chooses by its inner cross-validation over ``films`` (the LSTM's own
    training films; ``"ridge"``, :mod:`mediaeval.segment_choices`): where its outputs disagree on
    the standardisation, ``"both"``; the delay, the mean of theirs."""
    if settings.inputs_from == "settings" or len(films) < 3:
        return ("film" if settings.film_standardise else "global"), settings.delay_seconds
    from .families import family
    from .segment_models import SegmentSettings, fit_segment_model

    ridge = SegmentSettings(type="ridge", choose=("standardise", "delay"), smoothing=(0.0,), calibrate=False,
                            inner_folds=min(5, len(films)))
    outputs = fit_segment_model(family("ridge"), films, task, ridge, seed, criterion).outputs
    chosen = {o.spec.standardise for o in outputs}
    return (chosen.pop() if len(chosen) == 1 else "both"), float(np.mean([o.spec.delay_seconds for o in outputs]))


def _step_weights(targets: np.ndarray, task: Subtask, pos_weight: float) -> np.ndarray:
    """Loss weight of each step: 1, and for a binary subtask (fear) ``pos_weight`` on the positive steps."""
    if not task.binary:
        return np.ones(len(targets), np.float32)
    return (1.0 + (pos_weight - 1.0) * targets[:, 0]).astype(np.float32)


def _balanced(weights: list[np.ndarray]) -> list[np.ndarray]:
    """The step weights scaled so that every film weighs the same in total (the mean film
    length's worth of steps), whatever its length."""
    mean_length = float(np.mean([len(w) for w in weights]))
    return [(w * (mean_length / max(float(w.sum()), 1e-8))).astype(np.float32) for w in weights]


def _validation_split(names: list[str], share: float, seed: int) -> set[str]:
    count = int(round(share * len(names)))
    if len(names) < 3 or count == 0:
        return set()
    order = np.random.default_rng(seed + 7919).permutation(sorted(names))
    return set(order[:min(count, len(names) - 2)])


def validation_figure(films: list[FilmData], steps: list[np.ndarray], task: Subtask, stop_on: str,
                      criterion: str | None = None) -> float:
    """What early stopping minimises on the held-out training films, from their per-step
    outputs: the run's criterion on their 10 s segments (by default, valence/arousal: the mean
    per-film MSE of valence and arousal; with ``criterion = "pcc"`` or ``"ccc"``, or with
    ``stop_on = "pcc"``, 1 - their mean per-film PCC or CCC, an undefined one counting 0; fear:
    1 - MAP; :meth:`mediaeval.task.Subtask.stopping_figure`).  ``nan`` when undefined (no fear
    segment held out)."""
    from . import scoring  # noqa: F401  (registers the scorers: a worker process may not have imported it)

    truth = {f.name: f.labels for f in films}
    rows = {f.name: to_segments(s, f.n_segments, task) for f, s in zip(films, steps)}
    return task.stopping_figure(task.score(truth, rows), stop_on, criterion)


def _save_keras(model, path: Path) -> None:
    tmp = path.with_name(f".{os.getpid()}-{path.name}")
    model.save(tmp)
    os.replace(tmp, path)


@dataclass(frozen=True)
class TrainedLSTM:
    """A trained LSTM of a subtask as its folder holds it (:data:`FILES`): the Keras model
    (``model.keras``), the standardisation of its inputs (``normalisation.npz``) and the
    post-processing of its segment curves (``post_processing.json``)."""

    model: object
    normaliser: Normaliser
    post: PostProcessing
    task: Subtask

    FILES = ("model.keras", "normalisation.npz", PostProcessing.FILE)

    @classmethod
    def load(cls, folder, task: Subtask) -> TrainedLSTM:
        """The model saved in ``folder``; DataError naming a file that is missing or unreadable."""
        folder = Path(folder)
        post = PostProcessing.load(folder)
        return cls(_load_model(folder / "model.keras"), _load_normaliser(folder / "normalisation.npz"), post, task)

    def save(self, folder: Path) -> None:
        """Its three files into ``folder`` (made if need be)."""
        folder.mkdir(parents=True, exist_ok=True)
        _save_keras(self.model, folder / "model.keras")
        self.normaliser.save(folder / "normalisation.npz")
        self.post.save(folder)

    def steps(self, films: list[FilmData]) -> list[np.ndarray]:
        """Per-step outputs of each film (n_steps, outputs), before post-processing."""
        from .model import compiled_inference, predict_films

        if not films:
            return []
        infer = compiled_inference(self.model)
        return predict_films(infer, [self.normaliser(f.x) for f in films], self.model.get_layer("lstm").units)

    def predictions(self, films: list[FilmData]) -> list[tuple[np.ndarray, float]]:
        """``(curves, threshold)`` of each film: its post-processed segment curves and the fear
        label threshold."""
        return [(self.post.curves(s, f.n_segments, self.task), self.post.threshold)
                for f, s in zip(films, self.steps(films))]


@dataclass
class Fitted:
    """A trained LSTM and what came with it."""

    trained: TrainedLSTM     # its post-processing chosen on the held-out films (the identity without any)
    log: list[dict]
    best_epoch: int          # the epoch whose weights were kept (the last one without held-out films)
    validation_films: list[str]

    @property
    def post(self) -> PostProcessing | None:
        """The post-processing chosen on the held-out films; None without any."""
        return self.trained.post if self.validation_films else None


@dataclass
class _TrainingInputs:
    """What one LSTM learns and stops on: the training films' standardised inputs, targets and
    step weights, and the held-out films' standardised inputs."""

    normaliser: Normaliser
    train: list[FilmData]
    valid: list[FilmData]            # held out for early stopping and the post-processing
    xs: list[np.ndarray]
    targets: list[np.ndarray]
    weights: list[np.ndarray]
    valid_xs: list[np.ndarray]
    pos_weight: float


def _training_inputs(films: list[FilmData], task: Subtask, settings: ModelSettings, seed: int,
                     criterion: str | None = None) -> _TrainingInputs:
    """``settings.validation_share`` of ``films`` held out (by ``seed``), the inputs' standardisation
    and delay chosen (:func:`input_choice`) and fitted on the others, their step weights (fear:
    the positive steps weighted; film-balanced if asked)."""
    held_out = _validation_split([f.name for f in films], settings.validation_share, seed)
    train = [f for f in films if f.name not in held_out]
    valid = [f for f in films if f.name in held_out]
    standardise, delay = input_choice(films, task, settings, seed, criterion)
    normaliser = Normaliser.fit(train, standardise=standardise, delay=delay_steps(delay))
    targets = [f.targets(task) for f in train]
    pos_weight = positive_weight(targets, settings) if task.binary else 1.0
    weights = [_step_weights(t, task, pos_weight) for t in targets]
    if settings.film_balanced:
        weights = _balanced(weights)
    return _TrainingInputs(normaliser, train, valid, [normaliser(f.x) for f in train], targets, weights,
                           [normaliser(f.x) for f in valid], pos_weight)


def fit(films: list[FilmData], task: Subtask, settings: ModelSettings, seed: int, out_dir: Path | None = None,
        progress: bool = True, label: str = "", criterion: str | None = None,
        post: PostProcessing | None = None) -> Fitted:
    """Train one model on ``films``; save it to ``out_dir``.

    With ``settings.validation_share`` > 0, that share of ``films`` is held out and the epoch
    with the best validation figure (``settings.stop_on`` and ``criterion``, see
    :func:`validation_figure`) is kept, stopping after ``patience`` epochs without progress; with
    0 (the final model, whose epoch count comes from the folds) every film trains for
    ``settings.epochs`` epochs.  The post-processing is chosen on the held-out films, by
    ``criterion`` too (:meth:`PostProcessing.choose`), unless ``post`` is given (the identity
    without held-out films).
    """
    set_seed(seed)
    inputs = _training_inputs(films, task, settings, seed, criterion)
    model = build_model(inputs.xs[0].shape[1], task, settings)
    trainer = Trainer(model, task, settings)
    log, best_epoch = _train_epochs(trainer, inputs, task, settings, seed, out_dir, progress, label, criterion)
    valid = inputs.valid
    if post is None:
        post = (choose_post_processing(valid, trainer.predict(inputs.valid_xs), task, settings, _level(films, task),
                                       criterion)
                if valid else PostProcessing.identity(task.outputs))
    fitted = Fitted(TrainedLSTM(model, inputs.normaliser, post, task), log, best_epoch, [f.name for f in valid])
    if out_dir is not None:
        _save_fitted(out_dir, fitted, {
            "subtask": task.name, "seed": seed, "criterion": task.criterion_of(criterion),
            "settings": settings.as_dict(), "positive_weight": inputs.pos_weight,
            "best_epoch": best_epoch, "train_films": [f.name for f in inputs.train],
            "chosen": {"inputs": {"standardise": inputs.normaliser.standardise, "delay_steps": inputs.normaliser.delay,
                                  "by": settings.inputs_from}},
            "validation_films": fitted.validation_films})
    return fitted


def choose_post_processing(films: list[FilmData], steps: list[np.ndarray], task: Subtask, settings: ModelSettings,
                           level: np.ndarray | None = None, criterion: str | None = None) -> PostProcessing:
    """The post-processing chosen on the held-out ``films`` from the model's per-step outputs
    ``steps`` (:meth:`PostProcessing.choose`), the calibration's level that of every film the
    model was given (``level``, if given)."""
    raw = {f.name: steps_to_n_segments(s.astype(np.float64), f.n_segments) for f, s in zip(films, steps)}
    truth = {f.name: task.targets(np.asarray(f.labels, np.float64)) for f in films}
    return PostProcessing.choose(truth, raw, settings.smoothing, settings.calibrate, task, criterion, level)


def _level(films: list[FilmData], task: Subtask) -> np.ndarray:
    """The mean label per output over every segment of ``films`` (what the constant predictor
    trained on them gives)."""
    return np.concatenate([task.targets(np.asarray(f.labels, np.float64)) for f in films]).mean(axis=0)


class _EarlyStopping:
    """Keeps the weights of the epoch with the lowest held-out figure and says when
    ``patience`` epochs in a row have not lowered it.  Without held-out films every epoch is
    kept: the last one's weights stay."""

    def __init__(self, model, settings: ModelSettings):
        self.model, self.patience = model, settings.patience
        self.weights, self.figure, self.best_epoch, self.waited = None, np.inf, settings.epochs, 0

    def stop_after(self, epoch: int, figure: float | None) -> bool:
        """Record ``epoch`` (from 1) and its held-out figure (None without held-out films); True to stop."""
        if figure is None:
            self.best_epoch = epoch
            return False
        if np.isfinite(figure) and figure < self.figure - 1e-6:
            self.figure, self.weights, self.best_epoch, self.waited = figure, self.model.get_weights(), epoch, 0
            return False
        self.waited += 1
        return self.waited >= self.patience

    def restore(self) -> None:
        """Put the kept epoch's weights back into the model."""
        if self.weights is not None:
            self.model.set_weights(self.weights)


def _train_epochs(trainer, inputs: _TrainingInputs, task: Subtask, settings: ModelSettings, seed: int,
                  out_dir: Path | None, progress: bool, label: str, criterion: str | None = None
                  ) -> tuple[list[dict], int]:
    """The epoch loop: train, log (``log.csv`` rows, TensorBoard under ``out_dir``), stop early
    on the held-out films; the model ends with the kept epoch's weights.  Returns the log and
    the kept epoch."""
    import tensorflow as tf

    from .progress import progress as progress_bar

    rng = np.random.default_rng(seed)
    writer = tf.summary.create_file_writer(str(out_dir / "tensorboard")) if out_dir else None
    stopping = _EarlyStopping(trainer.model, settings)
    log = []
    bar = progress_bar(range(settings.epochs), desc=label or "epochs", unit="epoch", leave=False, disable=not progress)
    for epoch in bar:
        row = _train_epoch(trainer, inputs, task, settings, rng, epoch + 1, criterion)
        log.append(row)
        if writer is not None:
            with writer.as_default():
                for key in ("loss", "val_loss", "val_figure"):
                    if key in row:
                        tf.summary.scalar(key, row[key], step=epoch + 1)
        bar.set_postfix({k: f"{v:.4f}" for k, v in row.items() if k in ("loss", "val_figure")})
        if stopping.stop_after(epoch + 1, row["val_figure"] if inputs.valid else None):
            break
    bar.close()
    stopping.restore()
    return log, stopping.best_epoch


def _train_epoch(trainer, inputs: _TrainingInputs, task: Subtask, settings: ModelSettings, rng, epoch: int,
                 criterion: str | None = None) -> dict:
    """One epoch (a batch of training films packed into rows, ``rng`` drawing them), then the
    held-out films' loss and figure: its log row."""
    from .model import pack_films

    started = time.perf_counter()
    batch = pack_films(inputs.xs, inputs.targets, inputs.weights, settings.batch_films, settings, rng)
    row = {"epoch": epoch, "loss": trainer.train_batch(batch), "seconds": time.perf_counter() - started}
    if inputs.valid:
        row.update(_validation_row(trainer, inputs.valid, inputs.valid_xs, task, settings, inputs.pos_weight,
                                   criterion))
    return row


def _validation_row(trainer, valid, valid_xs, task, settings, pos_weight, criterion=None) -> dict:
    """The held-out films' loss (as trained: step-weighted) and early-stopping figure."""
    steps = trainer.predict(valid_xs)
    targets = [f.targets(task) for f in valid]
    weights = [_step_weights(t, task, pos_weight) for t in targets]
    loss = float(trainer.loss(np.concatenate(targets)[None], np.concatenate(steps)[None],
                              np.concatenate(weights)[None]))
    figure = (loss if settings.stop_on == "loss" else
              validation_figure(valid, steps, task, settings.stop_on, criterion))
    if not np.isfinite(figure):   # nothing to measure it on (no fear segment held out): the loss
        figure = loss
    return {"val_loss": loss, "val_figure": float(figure)}


def _save_fitted(out_dir: Path, fitted: Fitted, settings: dict) -> None:
    """The model (:meth:`TrainedLSTM.save`), its ``log.csv`` and ``settings.json``."""
    fitted.trained.save(out_dir)
    with open(out_dir / "log.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["epoch", "loss", "val_loss", "val_figure", "seconds"])
        writer.writeheader()
        writer.writerows(fitted.log)
    write_text_atomic(out_dir / "settings.json", json.dumps(settings, indent=2))


def to_segments(step_outputs: np.ndarray, n_segments: int, task: Subtask) -> np.ndarray:
    """Run-file rows of one film from its per-step outputs, with no post-processing: (K, 2)
    valence/arousal or label, confidence."""
    return task.rows(PostProcessing.identity(task.outputs).curves(step_outputs, n_segments, task))


def _load_model(path: Path):
    import keras

    from .lstm_layer import ChunkLSTM

    try:
        return keras.saving.load_model(path, custom_objects={"ChunkLSTM": ChunkLSTM})
    except Exception as error:  # Keras raises many kinds (ValueError, OSError, "File not found", ...)
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(path, f"cannot read this Keras model ({reason}); retrain with mediaeval train "
                              f"--overwrite") from error


def _load_normaliser(path: Path) -> Normaliser:
    import zipfile

    try:
        return Normaliser.load(path)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(path, f"expected a normalisation file (.npz with mean and std): {error}; "
                              f"retrain with mediaeval train --overwrite") from error
