"""Training a run: cross-validation by film, out-of-fold predictions, the final model; prediction.

A model folder holds::

    model.json                   the manifest: made by mediaeval train; the run definition (as data),
                                 the team and what made the features (extractors, versions,
                                 settings) it was trained from; digests of each film's data and
                                 of its labels alone (``labels``); every file below
    run.toml                     the run definition: its file as written, or as RunConfig.to_toml
                                 writes it (a run built or changed in code, or lightened)
    folds.json                   the folds (film names), for ``mediaeval score --folds``
    fold<k>/seed<s>/             one model per fold (and seed): the LSTM's model.keras,
                                 normalisation.npz, post_processing.json (TrainedLSTM), log.csv,
                                 tensorboard/, or a per-segment segment_model.pkl; settings.json
    final/seed<s>/               the same, trained on every development film
    me17ei_<TEAM>_<subtask>_run<N>.txt   out-of-fold predictions of every development film
    scores.json                  their official and pooled figures, per fold and mean ± std

It is written as ``<folder>.partial`` (under an exclusive lock, ``.<folder>.lock``) and renamed
when complete; a previous model folder is moved aside and deleted only then.  Train never
deletes a folder without the manifest: a non-empty ``--out`` that is not a model folder, or one
that holds the dataset, the features or the run definition, is refused before anything starts.
A model folder is complete when its manifest and every file it lists exist (:func:`is_trained`).
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import write_text_atomic
from .errors import DataError, MediaevalError
from .manifest import DAMAGED, MADE_BY, MANIFEST, model_subfolders, own_files, read_manifest  # noqa: F401  (moved there)
from .model import ModelSettings, Trainer, build_model, positive_weight, set_seed
from .runs import RunConfig, changes, run_from_data
from .scoring import Scores
from .task import get as get_subtask
from .windows import segments_to_n_steps, steps_to_n_segments


@dataclass
class FilmData:
    """One film's inputs on the steps, and its labels per segment when known."""

    name: str
    x: np.ndarray                    # (n_steps, features) float32
    n_segments: int
    labels: np.ndarray | None = None  # (n_segments, 2) valence/arousal, or (n_segments,) fear
    made_by: dict | None = None       # what made its features (see made_by)

    def targets(self, subtask: str) -> np.ndarray:
        """Labels brought onto the steps by overlap: (n_steps, outputs of the subtask)."""
        values = get_subtask(subtask).targets(self.labels)
        return segments_to_n_steps(values.astype(np.float64), len(self.x)).astype(np.float32)


def _missing_features(dataset, features_dir, extractors, film) -> DataError:
    """Why ``film`` has no features, and what to do: an unknown extractor, a film without video,
    or features not extracted yet."""
    from .features.registry import available
    from .features.store import feature_path

    path = feature_path(features_dir, extractors, film.name)
    unknown = [name for name in extractors if name not in available()]
    imported = [name for name in unknown if (Path(features_dir) / name).is_dir()]
    if imported:
        return DataError(path, f"no features for film {film.name} in the imported set {imported[0]}; add its "
                               f"table and run mediaeval import-features again")
    if unknown:
        return DataError(path, f'unknown feature set "{unknown[0]}": known extractors are {", ".join(available())}, '
                               f"or a set made by mediaeval import-features --name {unknown[0]} "
                               f"(none in {features_dir})")
    if film.video is None:
        return DataError(path, f"no features and no video for film {film.name}: its annotations were found "
                               f"but not its mp4, so it cannot be extracted; add the video under {dataset.root}")
    return DataError(path, f"no features for film {film.name}; run: mediaeval extract --dataset "
                           f"{dataset.root} --out {features_dir} --extractor {','.join(extractors)}")


def _stale_features(dataset, features_dir, stale) -> DataError:
    """What to run when a film's features (``stale``, a :class:`~mediaeval.features.store.StaleFeatures`)
    were made from another version of its file: extract its set again, or import its table again."""
    if stale.imported_from is not None:
        return DataError(stale.path, f"{stale.message}; make {stale.imported_from} again from the film as it is "
                                     f"now if it depends on it, and run: mediaeval import-features SRC --dataset "
                                     f"{dataset.root} --out {features_dir} --name {stale.path.parent.name} "
                                     f"(SRC: the folder of {stale.imported_from})")
    return DataError(stale.path, f"{stale.message}; run: mediaeval extract --dataset {dataset.root} --out "
                                 f"{features_dir} --extractor {stale.path.parent.name.replace('+', ',')}")


def made_by(meta: dict) -> dict:
    """What made a feature file, from its meta: ``{extractor: {version, dim, params}}`` (what a
    model depends on; film, duration and warnings left out)."""
    return {e["name"]: {"version": e.get("version"), "dim": e.get("dim"), "params": e.get("params", {})}
            for e in meta.get("extractors", [])}


def load_films(dataset, features_dir, extractors, films, subtask: str, with_labels: bool,
               expected_made_by: dict | None = None) -> list[FilmData]:
    """Features (and labels) of ``films``; a missing feature file says why and what to do.

    Every film's features must have been made by the same extractors, versions and settings
    (``expected_made_by`` if given, say those a model was trained on): DataError naming the file
    and the first key that differs otherwise.  A film with a video must have features made from
    that video as it is now (its size and head/tail hash, as extraction records them; files made
    before this was recorded are taken): DataError naming the film and what to run otherwise.
    """
    from .features.store import StaleFeatures, feature_path, load_set

    out, columns = [], None
    for film in films:
        try:
            features = load_set(features_dir, extractors, film.name, video=film.video)
        except FileNotFoundError:
            raise _missing_features(dataset, features_dir, extractors, film) from None
        except StaleFeatures as stale:
            raise _stale_features(dataset, features_dir, stale) from None
        path = features.meta.get("source") or feature_path(features_dir, extractors, film.name)
        made = made_by(features.meta)
        if expected_made_by is not None and made != expected_made_by:
            than = f"those of {out[0].name}" if out else "the model was trained on"
            raise DataError(path, f"made with other extractor versions or settings than {than}: "
                                  + "; ".join(changes(expected_made_by, made, "extractors.")))
        expected_made_by = made
        if columns is None:
            columns = features.columns
        elif features.columns != columns:
            raise DataError(path, f"its {len(features.columns)} feature columns differ from those of "
                                  f"{out[0].name} ({len(columns)}); extract all films with the same settings")
        labels = film.labels(get_subtask(subtask)) if with_labels else None
        out.append(FilmData(film.name, features.values, film.n_segments, labels, made))
    return out


class Normaliser:
    """Per-feature standardisation with statistics of the training films only; with
    ``per_film``, each film's features are first z-scored by that film's own mean and std."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, per_film: bool = False):
        self.mean, self.std, self.per_film = mean.astype(np.float32), std.astype(np.float32), bool(per_film)

    @staticmethod
    def _own(x: np.ndarray) -> np.ndarray:
        from .segment_models import standardise_within_film

        return standardise_within_film(x)

    @classmethod
    def fit(cls, films: list[FilmData], per_film: bool = False) -> Normaliser:
        stacked = np.concatenate([cls._own(f.x) if per_film else f.x for f in films]).astype(np.float64)
        std = stacked.std(axis=0)
        return cls(stacked.mean(axis=0), np.where(std > 1e-8, std, 1.0), per_film)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.per_film:
            x = self._own(x)
        return ((x - self.mean) / self.std).astype(np.float32)

    def save(self, path) -> None:
        np.savez(path, mean=self.mean, std=self.std, per_film=np.array(self.per_film))

    @classmethod
    def load(cls, path) -> Normaliser:
        with np.load(path) as data:
            return cls(data["mean"], data["std"], bool(data["per_film"]) if "per_film" in data else False)


def _step_weights(targets: np.ndarray, subtask: str, pos_weight: float) -> np.ndarray:
    """Loss weight of each step: 1, and for a binary subtask (fear) ``pos_weight`` on the positive steps."""
    if not get_subtask(subtask).binary:
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


def validation_figure(films: list[FilmData], steps: list[np.ndarray], subtask: str, stop_on: str,
                      criterion: str | None = None) -> float:
    """What early stopping minimises on the held-out training films, from their per-step
    outputs: the run's criterion on their 10 s segments (by default, valence/arousal: the mean
    per-film MSE of valence and arousal; with ``criterion = "pcc"`` or ``"ccc"``, or with
    ``stop_on = "pcc"``, 1 - their mean per-film PCC or CCC, an undefined one counting 0; fear:
    1 - MAP; :meth:`mediaeval.task.Subtask.stopping_figure`).  ``nan`` when undefined (no fear
    segment held out)."""
    task = get_subtask(subtask)
    truth = {f.name: f.labels for f in films}
    rows = {f.name: to_segments(s, f.n_segments, subtask) for f, s in zip(films, steps)}
    return task.stopping_figure(task.score(truth, rows), stop_on, criterion)


@dataclass(frozen=True)
class PostProcessing:
    """What the LSTM's segment curves go through before they become run rows, per output
    (valence and arousal, or the fear confidence): Gaussian smoothing of each film's curve
    (``sigma``, in segments), a linear calibration (``scale``, ``offset``), then the clip to the
    output's range; for fear, the label threshold.  Chosen on held-out training films by
    :meth:`choose` (:func:`mediaeval.segment_models.choose_post_processing`), stored with the
    model (``post_processing.json``)."""

    sigma: tuple[float, ...]
    scale: tuple[float, ...]
    offset: tuple[float, ...]
    threshold: float = 0.5

    FILE = "post_processing.json"

    @classmethod
    def identity(cls, n_outputs: int) -> PostProcessing:
        return cls((0.0,) * n_outputs, (1.0,) * n_outputs, (0.0,) * n_outputs)

    @classmethod
    def choose(cls, films: list[FilmData], steps: list[np.ndarray], subtask: str, settings: ModelSettings,
               level: np.ndarray | None = None, criterion: str | None = None):
        """Chosen on ``films`` (held out from training) from the model's per-step outputs, the
        smoothing by ``criterion`` (``None``: the subtask's).

        ``level`` (per output): the mean label of the segments of every film the model was given
        (trained on or held out), the constant predictor's value.  With it, calibration keeps the
        least-squares ``scale`` of the held-out films but sets ``offset`` so that their calibrated
        predictions average ``level``, rather than their own truth's mean: a film's mean valence
        is most of its variance, and the mean of the 3 or so held-out films is a noisy level
        (``make bench-accuracy``, valence_arousal run 4: valence MSE 0.113 against 0.167,
        arousal 0.082 against 0.085; the constant's 0.111 and 0.087)."""
        from .metrics import best_f1_threshold
        from .segment_models import choose_post_processing, smooth

        task = get_subtask(subtask)
        raw = {f.name: steps_to_n_segments(s.astype(np.float64), f.n_segments) for f, s in zip(films, steps)}
        truth = {f.name: task.targets(np.asarray(f.labels, np.float64)) for f in films}
        chosen = [choose_post_processing({n: t[:, j] for n, t in truth.items()}, {n: r[:, j] for n, r in raw.items()},
                                          settings.smoothing, settings.calibrate and not task.binary, task,
                                          criterion)
                  for j in range(task.outputs)]
        post = cls(*(tuple(c[i] for c in chosen) for i in range(3)))
        if level is not None and settings.calibrate and not task.binary:
            post = dataclasses.replace(post, offset=tuple(
                float(level[j] - post.scale[j] * np.concatenate([smooth(r[:, j], post.sigma[j])
                                                                 for r in raw.values()]).mean())
                for j in range(task.outputs)))
        if task.binary:
            curves = {n: post.curves_of(r) for n, r in raw.items()}
            post = dataclasses.replace(post, threshold=best_f1_threshold({n: t[:, 0] for n, t in truth.items()},
                                                                        {n: c[:, 0] for n, c in curves.items()}))
        return post

    @classmethod
    def median(cls, posts: list[PostProcessing]) -> PostProcessing:
        """The element-wise median of several models' choices (the final model's, from its folds)."""
        return cls(*(tuple(float(v) for v in np.median([getattr(p, k) for p in posts], axis=0))
                     for k in ("sigma", "scale", "offset")), threshold=float(np.median([p.threshold for p in posts])))

    def curves_of(self, segments: np.ndarray) -> np.ndarray:
        """Raw segment curves (K, outputs) smoothed and calibrated (not clipped)."""
        from .segment_models import smooth

        if len(segments) == 0:
            return np.zeros_like(segments, dtype=np.float64)
        return np.column_stack([self.scale[j] * smooth(segments[:, j], self.sigma[j]) + self.offset[j]
                                for j in range(segments.shape[1])])

    def curves(self, step_outputs: np.ndarray, n_segments: int, subtask: str) -> np.ndarray:
        """A film's post-processed segment curves from the model's per-step outputs, clipped to
        the output's range."""
        if n_segments == 0:   # a film shorter than a segment (or than a step): no rows
            return np.zeros((0, len(self.sigma)))
        segments = steps_to_n_segments(step_outputs.astype(np.float64), n_segments)
        return np.clip(self.curves_of(segments), *get_subtask(subtask).output_range)

    def save(self, folder: Path) -> None:
        write_text_atomic(folder / self.FILE, json.dumps(dataclasses.asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path) -> PostProcessing:
        path = Path(folder) / cls.FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(tuple(data["sigma"]), tuple(data["scale"]), tuple(data["offset"]), float(data["threshold"]))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise DataError(path, f"expected the post-processing written by mediaeval train ({error}); retrain "
                                  f"with mediaeval train --overwrite") from error


def _save_keras(model, path: Path) -> None:
    tmp = path.with_name(f".{os.getpid()}-{path.name}")
    model.save(tmp)
    os.replace(tmp, path)


@dataclass(frozen=True)
class TrainedLSTM:
    """A trained LSTM as its folder holds it (:data:`LSTM_FILES`): the Keras model
    (``model.keras``), the standardisation of its inputs (``normalisation.npz``) and the
    post-processing of its segment curves (``post_processing.json``)."""

    model: object
    normaliser: Normaliser
    post: PostProcessing

    @classmethod
    def load(cls, folder) -> TrainedLSTM:
        """The model saved in ``folder``; DataError naming a file that is missing or unreadable."""
        folder = Path(folder)
        post = PostProcessing.load(folder)
        return cls(_load_model(folder / "model.keras"), _load_normaliser(folder / "normalisation.npz"), post)

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

    def predictions(self, films: list[FilmData], subtask: str) -> list[tuple[np.ndarray, float]]:
        """``(curves, threshold)`` of each film: its post-processed segment curves and the fear
        label threshold (what :func:`segment_rows` takes)."""
        return [(self.post.curves(s, f.n_segments, subtask), self.post.threshold)
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


def _training_inputs(films: list[FilmData], subtask: str, settings: ModelSettings, seed: int) -> _TrainingInputs:
    """``settings.validation_share`` of ``films`` held out (by ``seed``), the standardisation fitted
    on the others, their step weights (fear: the positive steps weighted; film-balanced if asked)."""
    held_out = _validation_split([f.name for f in films], settings.validation_share, seed)
    train = [f for f in films if f.name not in held_out]
    valid = [f for f in films if f.name in held_out]
    normaliser = Normaliser.fit(train, settings.film_standardise)
    targets = [f.targets(subtask) for f in train]
    pos_weight = positive_weight(targets, settings) if get_subtask(subtask).binary else 1.0
    weights = [_step_weights(t, subtask, pos_weight) for t in targets]
    if settings.film_balanced:
        weights = _balanced(weights)
    return _TrainingInputs(normaliser, train, valid, [normaliser(f.x) for f in train], targets, weights,
                           [normaliser(f.x) for f in valid], pos_weight)


def fit(films: list[FilmData], subtask: str, settings: ModelSettings, seed: int, out_dir: Path | None = None,
        progress: bool = True, label: str = "", criterion: str | None = None) -> Fitted:
    """Train one model on ``films``; save it to ``out_dir``.

    With ``settings.validation_share`` > 0, that share of ``films`` is held out and the epoch
    with the best validation figure (``settings.stop_on`` and ``criterion``, see
    :func:`validation_figure`) is kept, stopping after ``patience`` epochs without progress; with
    0 (the final model, whose epoch count comes from the folds) every film trains for
    ``settings.epochs`` epochs.  The post-processing's smoothing is chosen by ``criterion`` too.
    """
    set_seed(seed)
    inputs = _training_inputs(films, subtask, settings, seed)
    model = build_model(inputs.xs[0].shape[1], subtask, settings)
    trainer = Trainer(model, subtask, settings)
    log, best_epoch = _train_epochs(trainer, inputs, subtask, settings, seed, out_dir, progress, label, criterion)
    valid = inputs.valid
    post = (PostProcessing.choose(valid, trainer.predict(inputs.valid_xs), subtask, settings, _level(films, subtask),
                                  criterion)
            if valid else PostProcessing.identity(get_subtask(subtask).outputs))
    fitted = Fitted(TrainedLSTM(model, inputs.normaliser, post), log, best_epoch, [f.name for f in valid])
    if out_dir is not None:
        _save_fitted(out_dir, fitted, {
            "subtask": subtask, "seed": seed, "criterion": get_subtask(subtask).criterion_of(criterion),
            "settings": settings.as_dict(), "positive_weight": inputs.pos_weight,
            "best_epoch": best_epoch, "train_films": [f.name for f in inputs.train],
            "validation_films": fitted.validation_films})
    return fitted


def _level(films: list[FilmData], subtask: str) -> np.ndarray:
    """The mean label per output over every segment of ``films`` (what the constant predictor
    trained on them gives)."""
    task = get_subtask(subtask)
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


def _train_epochs(trainer, inputs: _TrainingInputs, subtask: str, settings: ModelSettings, seed: int,
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
        row = _train_epoch(trainer, inputs, subtask, settings, rng, epoch + 1, criterion)
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


def _train_epoch(trainer, inputs: _TrainingInputs, subtask: str, settings: ModelSettings, rng, epoch: int,
                 criterion: str | None = None) -> dict:
    """One epoch (a batch of training films packed into rows, ``rng`` drawing them), then the
    held-out films' loss and figure: its log row."""
    from .model import pack_films

    started = time.perf_counter()
    batch = pack_films(inputs.xs, inputs.targets, inputs.weights, settings.batch_films, settings, rng)
    row = {"epoch": epoch, "loss": trainer.train_batch(batch), "seconds": time.perf_counter() - started}
    if inputs.valid:
        row.update(_validation_row(trainer, inputs.valid, inputs.valid_xs, subtask, settings, inputs.pos_weight,
                                   criterion))
    return row


def _validation_row(trainer, valid, valid_xs, subtask, settings, pos_weight, criterion=None) -> dict:
    """The held-out films' loss (as trained: step-weighted) and early-stopping figure."""
    steps = trainer.predict(valid_xs)
    targets = [f.targets(subtask) for f in valid]
    weights = [_step_weights(t, subtask, pos_weight) for t in targets]
    loss = float(trainer.loss(np.concatenate(targets)[None], np.concatenate(steps)[None],
                              np.concatenate(weights)[None]))
    figure = (loss if settings.stop_on == "loss" else
              validation_figure(valid, steps, subtask, settings.stop_on, criterion))
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


def to_segments(step_outputs: np.ndarray, n_segments: int, subtask: str) -> np.ndarray:
    """Run-file rows of one film from its per-step outputs, with no post-processing: (K, 2)
    valence/arousal or label, confidence."""
    task = get_subtask(subtask)
    return task.rows(PostProcessing.identity(task.outputs).curves(step_outputs, n_segments, subtask))


# --------------------------------------------------------------------------- model folders



@dataclass
class TrainResult:
    model_dir: Path
    run_file: Path
    scores: Scores
    config: RunConfig         # the definition the model was trained from (stored in the folder)
    skipped: bool = False


def _write_manifest(folder: Path, **content) -> None:
    write_text_atomic(folder / MANIFEST, json.dumps({"made_by": MADE_BY, **content}, indent=2) + "\n")


LSTM_FILES = ("model.keras", "normalisation.npz", "post_processing.json")
SEGMENT_FILES = ("segment_model.pkl",)


def _is_segment_family(settings) -> bool:
    from .segment_models import SegmentSettings

    return isinstance(settings, SegmentSettings)


def model_files(n_folds: int, seeds: list[int], run_name: str, per_model=LSTM_FILES) -> list[str]:
    """Every file a complete model folder holds (relative paths), besides its manifest;
    ``per_model`` the files of each fold/seed and final/seed model (its family's)."""
    models = [model_name(k, s) for k in range(1, n_folds + 1) for s in seeds] + [model_name(None, s) for s in seeds]
    return (["run.toml", "folds.json", "scores.json", run_name]
            + [f"{m}/{name}" for m in models for name in per_model])


def missing_files(model_dir) -> list[Path]:
    """The files a complete model folder has and ``model_dir`` lacks (its manifest, if it is not
    a complete model folder)."""
    model_dir = Path(model_dir)
    manifest = read_manifest(model_dir)
    if manifest is None or manifest.get("state") != "complete":
        return [model_dir / MANIFEST]
    return [model_dir / name for name in manifest.get("files", []) if not (model_dir / name).is_file()]


def is_trained(model_dir) -> bool:
    """True if ``model_dir`` is a complete model folder: made by mediaeval train and holding every
    file it lists (definition, folds, scores, run file, each fold's and the final model of every seed)."""
    return not missing_files(model_dir)


def stored_run(model_dir) -> RunConfig:
    """The run definition a model folder was trained from, as stored in it."""
    path = Path(model_dir) / MANIFEST
    manifest = read_manifest(model_dir)
    if manifest is None or "definition" not in manifest:
        raise DataError(path, "expected the manifest of a model folder made by mediaeval train")
    return run_from_data(path, manifest["definition"])


def _record(config: RunConfig, team: str, extractors: dict, data: dict) -> dict:
    """What a model depends on, compared with :func:`changes`: the definition, the team (the run
    file's name), what made the features, and the films' data (:func:`data_digests`)."""
    return {**config.to_data(), "team": team, "extractors": extractors, "data": data}


def model_changes(model_dir, config: RunConfig, team: str, extractors: dict, data: dict) -> list[str]:
    """``key: old -> new`` for what differs between a trained model folder and a run to train
    (``data.<film>`` for a film added, removed, or whose features or labels changed)."""
    manifest = read_manifest(model_dir)
    old = {**manifest.get("definition", {}), "team": manifest.get("team"), "extractors": manifest.get("extractors"),
           "data": manifest.get("data", data)}
    lines = changes(old, _record(config, team, extractors, data))
    if "data" not in manifest:   # trained before the data were recorded: what it learnt from is unknown
        lines.append("data: not recorded by the mediaeval that trained it")
    return lines


def _contains(folder: Path, path) -> bool:
    folder, path = folder.resolve(), Path(path).resolve()
    return path == folder or folder in path.parents


def check_model_folder(model_dir, inputs: dict | None = None) -> None:
    """Refuse an output folder that train could not replace safely: one that holds an input
    (``inputs``: {what: path}, such as the dataset, the features, the run definition), a file,
    or a folder that is neither empty nor a model folder made by mediaeval train."""
    model_dir = Path(model_dir)
    for what, path in (inputs or {}).items():
        if path is not None and _contains(model_dir, path):
            raise DataError(model_dir, f"holds the {what} ({path}); a model folder is replaced as a whole, "
                                       f"give --out a folder of its own")
    if model_dir.exists() and not model_dir.is_dir():
        raise DataError(model_dir, "is a file; expected a model folder")
    if model_dir.is_dir() and read_manifest(model_dir) is None and any(model_dir.iterdir()):
        raise DataError(model_dir, f"is not empty and is not a model folder made by mediaeval train (no {MANIFEST}); "
                                   f"give --out a new or empty folder")


@contextlib.contextmanager
def model_lock(model_dir, shared: bool = False):
    """Hold the lock of ``model_dir`` (the file ``.<name>.lock`` beside it) for the block:
    exclusive to train (``shared=False``), shared to read a model (``predict``: any number of
    readers, no writer).

    A holder that cannot have it is refused at once, with the writer's process id.  The
    operating system releases the lock when its process ends, killed or not, so a lock is never
    stale.
    """
    import fcntl

    model_dir = Path(model_dir)
    lock = model_dir.parent / f".{model_dir.name}.lock"
    if shared and not lock.exists():   # never trained here: nothing to wait for, nothing to create
        yield
        return
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            writer = handle.read().strip() or "?"
            raise MediaevalError(f"{model_dir} is being trained by process {writer}; " + (
                "predict once it has finished" if shared else
                "wait for it to finish, or train into another --out")) from None
        if not shared:
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def foreign_files(folder: Path, manifest: dict) -> list[str]:
    """The files (relative paths) of a complete model folder that train did not make: neither its
    manifest, nor a file it lists (:func:`mediaeval.manifest.own_files`), nor anything inside its
    models' folders, nor a job's hidden temporary beside them.  A user's notes, or predictions
    written into the folder, say."""
    if manifest.get("state") != "complete":
        return []
    own, models = own_files(manifest) | {MANIFEST}, model_subfolders(manifest)
    parents = {m.split("/", 1)[0] for m in models}
    found = []
    for root, dirs, files in os.walk(folder):
        relative = Path(root).relative_to(folder).as_posix()
        relative = "" if relative == "." else relative + "/"
        dirs[:] = [d for d in dirs if relative + d not in models
                   and not (relative[:-1] in parents and d.startswith("."))]
        found += [relative + f for f in files if relative + f not in own
                  and not (relative[:-1] in parents and f.startswith("."))]
    return sorted(found)


def _remove_ours(folder: Path) -> None:
    """Remove a left-over folder made by mediaeval train (``.partial``, ``.old``); refuse any
    other, and one holding files train did not make (:func:`foreign_files`)."""
    if not folder.exists():
        return
    manifest = read_manifest(folder)
    if manifest is None:
        raise DataError(folder, f"exists and was not made by mediaeval train (no {MANIFEST}); move it away")
    theirs = foreign_files(folder, manifest)
    if theirs:
        raise DataError(folder / theirs[0], f"was not made by mediaeval train ({len(theirs)} such files in "
                                            f"{folder}); move them away")
    shutil.rmtree(folder)


def _install(partial: Path, model_dir: Path) -> None:
    """Rename the complete ``partial`` onto ``model_dir``.  A previous model folder is moved aside
    to ``<name>.old`` first, the files train did not make (:func:`foreign_files`) are moved from it
    into the new folder, and it is deleted only then; an empty folder is replaced; anything else
    is left alone (the new model then stays in ``partial``)."""
    manifest = read_manifest(model_dir)
    if manifest is not None:
        theirs = foreign_files(model_dir, manifest)
        clash = [name for name in theirs if (partial / name).exists() or (partial / name).is_symlink()]
        if clash:
            raise DataError(model_dir / clash[0], f"was not made by mediaeval train and has the name of a file of the "
                                                  f"new model; move it away and train again (the new model is in "
                                                  f"{partial})")
        old = model_dir.with_name(model_dir.name + ".old")
        _remove_ours(old)
        os.replace(model_dir, old)
        try:
            os.replace(partial, model_dir)
        except BaseException:
            os.replace(old, model_dir)
            raise
        for name in theirs:   # the user's files go with the model folder
            (model_dir / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(old / name, model_dir / name)
        shutil.rmtree(old)
        return
    if model_dir.exists() and (not model_dir.is_dir() or any(model_dir.iterdir())):
        raise DataError(model_dir, f"was filled by something else during training; the new model is in {partial}")
    os.replace(partial, model_dir)


@dataclass(frozen=True)
class FitOutcome:
    """What a fit job sends back: ``(curves, threshold)`` of each held-out film (its
    post-processed segment curves, and for fear the label threshold) and, for the LSTM, the
    epoch it kept and the post-processing it chose (None: no film held out to choose on)."""

    predictions: list
    best_epoch: int | None = None
    post: PostProcessing | None = None


ModelKey = tuple[int | None, int]   # (fold, seed) of a model: fold 1 to n, or None for the final model


def model_name(fold: int | None, seed: int) -> str:
    """A model's folder inside a model folder: ``fold<k>/seed<s>``, or ``final/seed<s>`` (fold None)."""
    return f"{'final' if fold is None else f'fold{fold}'}/seed{seed}"


@dataclass(frozen=True)
class FitJob:
    """One model to train, keyed by its fold (1 to ``n_folds``; None: the final model) and seed,
    and the films it predicts."""

    fold: int | None
    seed: int
    train: list            # FilmData the model learns from
    held_out: list         # FilmData it predicts (the fold's; none for the final model)
    subtask: str
    settings: object       # ModelSettings or SegmentSettings
    out_dir: Path | None   # where the model is saved (None: not saved)
    progress: bool = True  # draw the epochs' bar (only where the job runs in this process)
    n_folds: int = 0       # how many folds the run has (for a fold model's label; 0: not said)
    criterion: str | None = None   # what the model's choices optimise (the run's; None: the subtask's)

    @property
    def key(self) -> ModelKey:
        return self.fold, self.seed

    @property
    def label(self) -> str:
        """The bar's and the failure's name: ``fold 2/5 seed 0``, ``final seed 0``."""
        return (f"final seed {self.seed}" if self.fold is None
                else f"fold {self.fold}{f'/{self.n_folds}' if self.n_folds else ''} seed {self.seed}")


def _fit_job(job: FitJob) -> FitOutcome:
    """Train one model (one fold or the final model, one seed); predict its held-out films."""
    if _is_segment_family(job.settings):
        return FitOutcome(_fit_segment_job(job))
    fitted = fit(job.train, job.subtask, job.settings, job.seed, job.out_dir, job.progress, job.label, job.criterion)
    return FitOutcome(fitted.trained.predictions(job.held_out, job.subtask), fitted.best_epoch, fitted.post)


def final_epochs(best_epochs: list[int]) -> int:
    """The final LSTM's epoch count from the fold models' kept epochs: their median, halves
    rounded up (at least 1).

    >>> final_epochs([3, 4, 8, 5, 2]), final_epochs([3, 4]), final_epochs([])
    (4, 4, 1)
    """
    return max(1, int(np.floor(np.median(best_epochs) + 0.5))) if best_epochs else 1


def _fit_segment_job(job: FitJob) -> list:
    """Train one per-segment model, save it (and its settings and choices) into ``job.out_dir``;
    the predictions of its held-out films."""
    from .segment_models import fit_segment_model

    model = fit_segment_model(job.train, job.subtask, job.settings, job.seed, job.criterion)
    if job.out_dir is not None:
        job.out_dir.mkdir(parents=True, exist_ok=True)
        model.save(job.out_dir / SEGMENT_FILES[0])
        write_text_atomic(job.out_dir / "settings.json", json.dumps(
            {"subtask": job.subtask, "seed": job.seed,
             "criterion": get_subtask(job.subtask).criterion_of(job.criterion),
             "settings": job.settings.as_dict(), "chosen": model.choices(),
             "train_films": [f.name for f in job.train]}, indent=2, default=float) + "\n")
    return _segment_predictions(model, job.held_out)


def _segment_predictions(model, films: list[FilmData]) -> list[tuple[np.ndarray, float]]:
    """``(curves, threshold)`` of each film by a per-segment model (what :func:`segment_rows` takes)."""
    return [(model.predict_curves(f.x, f.n_segments), model.threshold) for f in films]


def segment_rows(per_seed: list[tuple[np.ndarray, float]], subtask: str) -> np.ndarray:
    """Run rows from the curves of one film by each seed's per-segment model: their mean, and for
    fear the label by the mean of the seeds' thresholds."""
    curves = np.mean([c for c, _ in per_seed], axis=0)
    return get_subtask(subtask).rows(curves, float(np.mean([t for _, t in per_seed])))


def _fit_job_afresh(item) -> FitOutcome:
    """:func:`_fit_job` ``(job, token)`` into a temporary folder beside its own
    (``<model>.partial/fold<k>/.seed<s>.<token>.tmp``), renamed onto it once complete, and only
    while ``<model>.partial`` is still being written by the command that made the job (``token``
    in its manifest).  So a job whose worker died and that runs again starts clean, and one that
    outlived its command (Dask does not stop running tasks) leaves nothing behind."""
    job, token, *films = item
    if films:   # the films travel beside the job: Dask resolves scattered data in lists, not in a dataclass
        job = dataclasses.replace(job, train=list(films[0]), held_out=list(films[1]))
    if job.out_dir is None:
        return _fit_job(job)
    out_dir = Path(job.out_dir)
    partial = out_dir.parents[1]
    tmp = out_dir.with_name(f".{out_dir.name}.{token}.tmp")
    try:
        if tmp.exists():
            shutil.rmtree(tmp)
        result = _fit_job(dataclasses.replace(job, out_dir=tmp))
        if (read_manifest(partial) or {}).get("token") != token:
            raise MediaevalError(f"{partial} is no longer written by the command that started this job; "
                                 f"its model is dropped")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
        return result
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for folder in (tmp.parent, partial):   # remade by a job whose command is gone: empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def _run_jobs(jobs: list[FitJob], executor, bar, token: str) -> dict[ModelKey, FitOutcome]:
    """Run fit jobs with ``executor`` (here, local processes or a cluster: each seeded alike,
    so the results agree) as :func:`_fit_job_afresh` with ``token``; jobs that run elsewhere
    draw no progress bar, and a cluster gets every film's data once.  The outcomes by the
    jobs' keys (fold, seed)."""
    from .workers import as_executor, one_thread_each

    executor = as_executor(executor)
    if not executor.in_process:
        films = list({id(f): f for job in jobs for f in (*job.train, *job.held_out)}.values())
        shared = dict(zip(map(id, films), executor.share(films)))
        items = [(dataclasses.replace(job, train=[], held_out=[], progress=False), token,
                  [shared[id(f)] for f in job.train], [shared[id(f)] for f in job.held_out]) for job in jobs]
    else:
        items = [(job, token) for job in jobs]
    outcomes: dict[ModelKey, FitOutcome] = {}
    for index, outcome in executor.run(_fit_job_afresh, items, names=[job.label for job in jobs],
                                       initializer=one_thread_each):
        outcomes[jobs[index].key] = outcome
        bar.update()
    return outcomes


def _inputs(config: RunConfig, dataset, features_dir) -> dict:
    return {"dataset": dataset.root, "features": features_dir, "run definition": config.path}


def train_run(config: RunConfig, dataset, features_dir, model_dir, team: str, overwrite: bool = False,
              progress: bool = True, jobs=1, echo=print) -> TrainResult:
    """Cross-validate ``config`` on the development films, write the out-of-fold run file and its
    scores, then train the final model(s) on all development films.

    Everything is checked before TensorFlow starts: that the run is not a fused one
    (:func:`refuse_fused`), the output folder (see :func:`check_model_folder`), the films and
    their features (made from the films' files as they are: :func:`load_films`).  A complete
    model folder trained from the same definition, team and features, on the same data
    (:func:`data_digests`), is kept (``skipped``); one trained from others
    is retrained, ``echo`` saying what changed.  The model is written into ``<folder>.partial``
    under :func:`model_lock`, then installed by :func:`_install`.

    ``jobs > 1`` trains that many models at once in separate processes; every model is seeded
    on its own, so the numbers do not depend on ``jobs``.  ``jobs`` may also be an
    :class:`~mediaeval.workers.Executor`: a Dask cluster (:mod:`mediaeval.cluster`) trains the
    models, its workers first checked to write into the model folder.
    """
    from .submission import run_filename
    from .workers import as_executor

    refuse_fused(config)
    jobs = as_executor(jobs)
    model_dir = jobs.job_path(model_dir)
    check_model_folder(model_dir, _inputs(config, dataset, features_dir))
    run_name = run_filename(team, config.task, config.run)
    dev = _training_films(config, dataset)
    with model_lock(model_dir):
        check_model_folder(model_dir)
        films = load_films(dataset, features_dir, config.features, dev, config.subtask, with_labels=True)
        if is_trained(model_dir) and not overwrite:
            kept = _kept_model(model_dir, config, films, team, run_name, echo)
            if kept is not None:
                return kept
        scores = _train_and_install(model_dir, config, films, run_name, team, progress, jobs)
    return TrainResult(model_dir, model_dir / run_name, scores, stored_run(model_dir))


def refuse_fused(config: RunConfig) -> None:
    """A fused run (``fuse = [...]``) trains no model of its own: refused, saying how to make it."""
    if not config.fused:
        return
    message = (f"a fused run (fuse = {list(config.fuse)}) has no model to train; fuse the out-of-fold run files "
               f"of the trained runs {', '.join(map(str, config.fuse))} with mediaeval fuse, or let mediaeval "
               f"pipeline train them and fuse them")
    raise DataError(config.path, message) if config.path is not None else MediaevalError(message)


def _training_films(config: RunConfig, dataset) -> list:
    """The development films annotated for the run's subtask; DataError if fewer than 2."""
    dev = [f for f in dataset.dev_films if f.has_labels(config.task)]
    if len(dev) < 2:
        raise DataError(dataset.root, f"training needs at least 2 development films with {config.subtask} "
                                      f"annotations, found {len(dev)}")
    return dev


def _kept_model(model_dir: Path, config: RunConfig, films: list[FilmData], team: str, run_name: str,
                echo) -> TrainResult | None:
    """The complete model folder ``model_dir`` as it is (``skipped``) if trained from this
    definition and team, on these films with these features and labels
    (:func:`data_digests`); None, ``echo`` saying what changed, if it is to be retrained."""
    changed = model_changes(model_dir, config, team, films[0].made_by, data_digests(films))
    if changed:
        echo(f"{model_dir} was trained from another definition or data; retraining: " + "; ".join(changed))
        return None
    return TrainResult(model_dir, model_dir / run_name, Scores.read(model_dir / "scores.json"), stored_run(model_dir),
                       skipped=True)


def data_digests(films: list[FilmData]) -> dict[str, str]:
    """What a model learnt from, film by film: ``{film: the first 16 hex digits of the SHA-256 of
    its feature values and its labels}``.  A film added or removed, or whose features (say the
    organisers' files they came from) or annotations changed, changes them, and the model is
    retrained; features extracted again to the same values do not."""
    digests = {}
    for film in films:
        digest = hashlib.sha256(np.ascontiguousarray(film.x, np.float32).tobytes())
        digest.update(np.ascontiguousarray(film.labels, np.float64).tobytes())
        digests[film.name] = digest.hexdigest()[:16]
    return digests


def _train_and_install(model_dir: Path, config: RunConfig, films: list[FilmData], run_name: str, team: str,
                       progress: bool, jobs) -> Scores:
    """Train into ``<model_dir>.partial`` (one left by a process that died removed), marked by
    its manifest as being written by this command (a random token the jobs check), then
    complete (with the data's digests, and the labels' alone for ``leaderboard`` and ``score``:
    :func:`mediaeval.provenance.check_labels`); install it onto ``model_dir``.  Returns the
    out-of-fold scores."""
    from .provenance import labels_digests

    partial = model_dir.with_name(model_dir.name + ".partial")
    _remove_ours(partial)  # left by a process that died: the lock is ours, so nobody writes it
    partial.mkdir(parents=True)
    token = secrets.token_hex(8)   # the jobs of this command write into partial only while it holds it
    _write_manifest(partial, state="partial", pid=os.getpid(), token=token)
    scores, folds = _train_into(partial, config, films, run_name, progress, jobs, token)
    _write_manifest(partial, state="complete", definition=config.to_data(), digest=config.digest(), team=team,
                    extractors=films[0].made_by, data=data_digests(films),
                    labels=labels_digests({f.name: f.labels for f in films}), run_file=run_name,
                    files=model_files(len(folds), _seeds(config), run_name,
                                      SEGMENT_FILES if _is_segment_family(config.model) else LSTM_FILES))
    _install(partial, model_dir)
    return scores


def _seeds(config: RunConfig) -> list[int]:
    return [config.seed + s for s in range(config.seeds)]


def _train_into(folder: Path, config: RunConfig, films: list[FilmData], run_name: str, progress: bool, jobs,
                token: str) -> tuple[Scores, list[list[str]]]:
    """Train every fold's and the final model(s) into ``folder``; write the definition
    (``run.toml``: :meth:`RunConfig.text`), the folds, the out-of-fold run file and its scores.
    Returns the scores and the folds."""
    from .folds import make_folds, write_folds

    folds = make_folds({f.name: f for f in films}, config.folds, config.seed)
    write_text_atomic(folder / "run.toml", config.text())
    write_folds(folder / "folds.json", folds, config.seed)
    outcomes = _train_models(folder, config, films, folds, progress, jobs, token)
    return _write_out_of_fold(folder, config, films, folds, outcomes, run_name), folds


def _fold_jobs(folder: Path, config: RunConfig, films: list[FilmData], folds: list[list[str]],
               progress: bool) -> list[FitJob]:
    """One job per fold and seed: the model learns from the other folds' films and predicts the
    fold's (in the fold's order)."""
    by_name = {f.name: f for f in films}
    return [FitJob(k, seed, [f for f in films if f.name not in names], [by_name[n] for n in names], config.subtask,
                   config.model, folder / model_name(k, seed), progress, n_folds=len(folds),
                   criterion=config.criterion)
            for k, names in enumerate(folds, start=1) for seed in _seeds(config)]


def _final_jobs(folder: Path, config: RunConfig, films: list[FilmData], settings, progress: bool) -> list[FitJob]:
    """One job per seed: the final model, which learns from every development film."""
    return [FitJob(None, seed, films, [], config.subtask, settings, folder / model_name(None, seed), progress,
                   criterion=config.criterion)
            for seed in _seeds(config)]


def _train_models(folder: Path, config: RunConfig, films: list[FilmData], folds: list[list[str]], progress: bool,
                  jobs, token: str) -> dict[ModelKey, FitOutcome]:
    """Train every fold's model and the final model of every seed; the outcomes by (fold, seed).
    The per-segment final models need nothing from the folds and train beside them; the final
    LSTM trains after them (:func:`_train_final_lstm`)."""
    from .progress import progress as progress_bar

    fold_jobs = _fold_jobs(folder, config, films, folds, progress)
    jobs.check_shared(write={"the model folder being written": folder})
    total = len(fold_jobs) + config.seeds
    with progress_bar(total=total, desc=f"{config.name} models", unit="model", disable=not progress) as bar:
        if _is_segment_family(config.model):
            return _run_jobs(fold_jobs + _final_jobs(folder, config, films, config.model, progress), jobs, bar, token)
        outcomes = _run_jobs(fold_jobs, jobs, bar, token)
        folds_outcomes = [outcomes[job.key] for job in fold_jobs]
        return {**outcomes, **_train_final_lstm(folder, config, films, folds_outcomes, progress, jobs, bar, token)}


def _train_final_lstm(folder: Path, config: RunConfig, films: list[FilmData], fold_outcomes: list[FitOutcome],
                      progress: bool, jobs, bar, token: str) -> dict[ModelKey, FitOutcome]:
    """The final LSTM of every seed: trained on every development film for the fold models'
    median kept epoch (:func:`final_epochs`), none held out, and post-processed as the median of
    the fold models' choices (the identity if none chose: no fold model held a film out)."""
    epochs = final_epochs([o.best_epoch for o in fold_outcomes])
    settings = dataclasses.replace(config.model, epochs=epochs, validation_share=0.0)
    outcomes = _run_jobs(_final_jobs(folder, config, films, settings, progress), jobs, bar, token)
    chosen = [o.post for o in fold_outcomes if o.post is not None]
    post = PostProcessing.median(chosen) if chosen else PostProcessing.identity(config.task.outputs)
    for seed in _seeds(config):
        post.save(folder / model_name(None, seed))
    return outcomes


def _out_of_fold(folds: list[list[str]], seeds: list[int], outcomes: dict[ModelKey, FitOutcome],
                 subtask: str) -> dict[str, np.ndarray]:
    """The run rows of every development film by its fold's models: the mean over seeds."""
    rows = {}
    for k, names in enumerate(folds, start=1):
        per_seed = [outcomes[k, seed].predictions for seed in seeds]   # each in the order of the fold's films
        for i, name in enumerate(names):
            rows[name] = segment_rows([predictions[i] for predictions in per_seed], subtask)
    return rows


def _write_out_of_fold(folder: Path, config: RunConfig, films: list[FilmData], folds: list[list[str]],
                       outcomes: dict[ModelKey, FitOutcome], run_name: str) -> Scores:
    """Write the out-of-fold run file and ``scores.json`` (official and pooled figures, per fold
    and mean ± std); returns the scores."""
    from .scoring import score_folds
    from .submission import write_run

    rows = _out_of_fold(folds, _seeds(config), outcomes, config.subtask)
    write_run(folder / run_name, rows, config.task, config.describe())
    scores = score_folds({f.name: f.labels for f in films}, rows, folds, config.task)
    write_text_atomic(folder / "scores.json", json.dumps(scores.to_json(), indent=2) + "\n")
    return scores


def trained_run(model_dir) -> tuple[RunConfig, dict]:
    """The stored definition and manifest of a complete model folder; DataError naming what is
    missing otherwise.  Reads no model (TensorFlow does not start)."""
    model_dir = Path(model_dir)
    if read_manifest(model_dir) is None:
        raise DataError(model_dir, f"expected a model folder made by mediaeval train (no {MANIFEST})")
    missing = missing_files(model_dir)
    if missing:
        raise DataError(missing[0], "missing: the model folder is incomplete; retrain it with mediaeval train")
    manifest = read_manifest(model_dir)
    if not isinstance(manifest.get("extractors"), dict):
        raise DataError(model_dir / MANIFEST, f"expected 'extractors', what made the features; {DAMAGED}")
    return stored_run(model_dir), manifest


def _load_model(path: Path):
    import keras

    from .lstm_layer import ChunkLSTM

    try:
        return keras.saving.load_model(path, custom_objects={"ChunkLSTM": ChunkLSTM})
    except Exception as error:  # Keras raises many kinds (ValueError, OSError, "File not found", ...)
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(path, f"cannot read this Keras model ({reason}); retrain with mediaeval train "
                              f"--overwrite") from error


def _load_segment_model(path: Path):
    from .segment_models import SegmentModel

    return SegmentModel.load(path)


def _load_normaliser(path: Path) -> Normaliser:
    import zipfile

    try:
        return Normaliser.load(path)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(path, f"expected a normalisation file (.npz with mean and std): {error}; "
                              f"retrain with mediaeval train --overwrite") from error


def ensemble_dirs(model_dir, config: RunConfig) -> list[Path]:
    """The folders of the models that predict test films: the final model of each seed
    (``ensemble = "final"``), or every fold's model of each seed (``ensemble = "folds"``)."""
    model_dir = Path(model_dir)
    if config.ensemble == "folds":
        from .folds import read_folds

        n_folds = len(read_folds(model_dir / "folds.json"))
        return [model_dir / model_name(k, seed) for k in range(1, n_folds + 1) for seed in _seeds(config)]
    return [model_dir / model_name(None, seed) for seed in _seeds(config)]


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
    with model_lock(model_dir, shared=True):   # no train replaces the model while it is read
        return _predict_run(model_dir, dataset, features_dir, films, out, guard)


def _predict_run(model_dir, dataset, features_dir, films, out, guard) -> Path:
    from .provenance import IN_SAMPLE, in_sample_films
    from .submission import DESCRIPTION, RUN_FILE, description_path, parse_run_name, write_run

    guard.check(out, RUN_FILE)
    guard.check(description_path(out), DESCRIPTION)
    config, manifest = trained_run(model_dir)
    name = parse_run_name(out)
    if name is not None and name.task is not config.task:
        raise DataError(out, f"the model is for {config.subtask}, the file name says {name.subtask}")
    data = load_films(dataset, features_dir, config.features, films, config.subtask, with_labels=False,
                      expected_made_by=manifest["extractors"])
    seen = in_sample_films(model_dir, [f.name for f in data])
    folders = ensemble_dirs(model_dir, config)
    if _is_segment_family(config.model):
        models = [_load_segment_model(folder / SEGMENT_FILES[0]) for folder in folders]
        per_model = [_segment_predictions(model, data) for model in models]
    else:   # one LSTM in memory at a time
        per_model = [TrainedLSTM.load(folder).predictions(data, config.subtask) for folder in folders]
    rows = {f.name: segment_rows([m[i] for m in per_model], config.subtask) for i, f in enumerate(data)}
    return write_run(out, rows, config.task, {**config.describe(), **({IN_SAMPLE: seen} if seen else {})},
                     guard)
