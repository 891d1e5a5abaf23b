"""Training a run: cross-validation by film, out-of-fold predictions, the final model; prediction.

A model folder holds::

    run.toml                     the run definition it was trained from
    folds.json                   the folds (film names), for ``mediaeval score --folds``
    fold<k>/seed<s>/             one model per fold (and seed): model.keras, normalisation.npz,
                                 log.csv, tensorboard/
    final/seed<s>/               the same, trained on every development film
    me17ei_<TEAM>_<subtask>_run<N>.txt   out-of-fold predictions of every development film
    scores.json                  their official and pooled figures, per fold and mean ± std

It is written as ``<folder>.partial`` and renamed when complete, so a model folder that exists
is complete.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import write_text_atomic
from .dataset import VALENCE_AROUSAL
from .errors import DataError
from .model import ModelSettings, Trainer, batches, build_model, pad_films, positive_weight, set_seed
from .runs import RunConfig, load_run
from .windows import segments_to_n_steps, steps_to_n_segments


@dataclass
class FilmData:
    """One film's inputs on the steps, and its labels per segment when known."""

    name: str
    x: np.ndarray                    # (n_steps, features) float32
    n_segments: int
    labels: np.ndarray | None = None  # (n_segments, 2) valence/arousal, or (n_segments,) fear

    def targets(self, subtask: str) -> np.ndarray:
        """Labels brought onto the steps by overlap: (n_steps, 2) or (n_steps, 1)."""
        values = self.labels if subtask == VALENCE_AROUSAL else self.labels.reshape(-1, 1)
        return segments_to_n_steps(values.astype(np.float64), len(self.x)).astype(np.float32)


def load_films(dataset, features_dir, extractors, films, subtask: str, with_labels: bool) -> list[FilmData]:
    """Features (and labels) of ``films``; a missing feature file says what to run."""
    from .features.store import feature_path, load_set

    out, columns = [], None
    for film in films:
        try:
            features = load_set(features_dir, extractors, film.name)
        except FileNotFoundError:
            path = feature_path(features_dir, extractors, film.name)
            raise DataError(path, f"no features for film {film.name}; run: mediaeval extract --dataset "
                                  f"{dataset.root} --out {features_dir} --extractor {','.join(extractors)}") from None
        if columns is None:
            columns = features.columns
        elif features.columns != columns:
            raise DataError(feature_path(features_dir, extractors, film.name),
                            f"its {len(features.columns)} feature columns differ from those of "
                                  f"{out[0].name} ({len(columns)}); extract all films with the same settings")
        labels = film.labels(subtask) if with_labels else None
        out.append(FilmData(film.name, features.values, film.n_segments, labels))
    return out


class Normaliser:
    """Per-feature standardisation with statistics of the training films only."""

    def __init__(self, mean: np.ndarray, std: np.ndarray):
        self.mean, self.std = mean.astype(np.float32), std.astype(np.float32)

    @classmethod
    def fit(cls, films: list[FilmData]) -> "Normaliser":
        stacked = np.concatenate([f.x for f in films]).astype(np.float64)
        std = stacked.std(axis=0)
        return cls(stacked.mean(axis=0), np.where(std > 1e-8, std, 1.0))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.std).astype(np.float32)

    def save(self, path) -> None:
        np.savez(path, mean=self.mean, std=self.std)

    @classmethod
    def load(cls, path) -> "Normaliser":
        with np.load(path) as data:
            return cls(data["mean"], data["std"])


def _step_weights(targets: np.ndarray, subtask: str, pos_weight: float) -> np.ndarray:
    if subtask == VALENCE_AROUSAL:
        return np.ones(len(targets), np.float32)
    return (1.0 + (pos_weight - 1.0) * targets[:, 0]).astype(np.float32)


def _validation_split(names: list[str], share: float, seed: int) -> set[str]:
    count = int(round(share * len(names)))
    if len(names) < 3 or count == 0:
        return set()
    order = np.random.default_rng(seed + 7919).permutation(sorted(names))
    return set(order[:min(count, len(names) - 2)])


def _save_keras(model, path: Path) -> None:
    tmp = path.with_name(f".{os.getpid()}-{path.name}")
    model.save(tmp)
    os.replace(tmp, path)


def fit(films: list[FilmData], subtask: str, settings: ModelSettings, seed: int, out_dir: Path | None = None,
        progress: bool = True, label: str = "") -> tuple[object, Normaliser, list[dict]]:
    """Train one model on ``films`` (a share held out for early stopping); save it to ``out_dir``.

    Returns the Keras model, its normaliser and the per-epoch log.
    """
    import tensorflow as tf
    from tqdm import tqdm

    set_seed(seed)
    held_out = _validation_split([f.name for f in films], settings.validation_share, seed)
    train = [f for f in films if f.name not in held_out]
    valid = [f for f in films if f.name in held_out]
    normaliser = Normaliser.fit(train)
    targets = [f.targets(subtask) for f in train]
    pos_weight = positive_weight(targets, settings) if subtask != VALENCE_AROUSAL else 1.0
    xs = [normaliser(f.x) for f in train]
    weights = [_step_weights(t, subtask, pos_weight) for t in targets]
    valid_xs = [normaliser(f.x) for f in valid]
    valid_targets = [f.targets(subtask) for f in valid]
    if valid:  # the held-out films end to end, as one weighted series
        valid_y = np.concatenate(valid_targets)[None]
        valid_weight = np.concatenate([_step_weights(t, subtask, pos_weight) for t in valid_targets])[None]
    model = build_model(xs[0].shape[1], subtask, settings)
    trainer = Trainer(model, subtask, settings)
    rng = np.random.default_rng(seed)
    n_outputs = targets[0].shape[1]
    writer = tf.summary.create_file_writer(str(out_dir / "tensorboard")) if out_dir else None
    log, best, best_loss, waited = [], None, np.inf, 0
    bar = tqdm(range(settings.epochs), desc=label or "epochs", unit="epoch", leave=False, disable=not progress)
    for epoch in bar:
        started = time.perf_counter()
        losses = []
        for group in batches(len(xs), settings.batch_films, [len(x) for x in xs], rng):
            batch = pad_films([xs[i] for i in group], [targets[i] for i in group], [weights[i] for i in group],
                              n_outputs)
            losses.append(trainer.train_batch(batch) * float(batch.weight.sum()))
        loss = float(np.sum(losses) / sum(float(w.sum()) for w in weights))
        row = {"epoch": epoch + 1, "loss": loss, "seconds": time.perf_counter() - started}
        if valid:
            predictions = np.concatenate(trainer.predict(valid_xs))[None]
            row["val_loss"] = float(trainer.loss(valid_y, predictions, valid_weight))
        log.append(row)
        if writer is not None:
            with writer.as_default():
                for key in ("loss", "val_loss"):
                    if key in row:
                        tf.summary.scalar(key, row[key], step=epoch + 1)
        bar.set_postfix({k: f"{v:.4f}" for k, v in row.items() if k in ("loss", "val_loss")})
        if valid:
            if row["val_loss"] < best_loss - 1e-6:
                best_loss, best, waited = row["val_loss"], model.get_weights(), 0
            else:
                waited += 1
                if waited >= settings.patience:
                    break
    bar.close()
    if best is not None:
        model.set_weights(best)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        _save_keras(model, out_dir / "model.keras")
        normaliser.save(out_dir / "normalisation.npz")
        with open(out_dir / "log.csv", "w", newline="") as handle:
            writer_csv = csv.DictWriter(handle, fieldnames=["epoch", "loss", "val_loss", "seconds"])
            writer_csv.writeheader()
            writer_csv.writerows(log)
        write_text_atomic(out_dir / "settings.json", json.dumps(
            {"subtask": subtask, "seed": seed, "settings": settings.as_dict(), "positive_weight": pos_weight,
             "train_films": [f.name for f in train], "validation_films": [f.name for f in valid]}, indent=2))
    return model, normaliser, log


def predict_steps(models, normalisers: list[Normaliser], films: list[FilmData]) -> list[np.ndarray]:
    """Per-step outputs of each film, averaged over ``models`` (a seed ensemble), each with its
    own normaliser."""
    from .model import compiled_inference, predict_films

    outputs = []
    for model, normaliser in zip(models, normalisers):
        infer = compiled_inference(model)
        outputs.append(predict_films(infer, [normaliser(f.x) for f in films], model.get_layer("lstm").units))
    return [np.mean([out[i] for out in outputs], axis=0) for i in range(len(films))]


def to_segments(step_outputs: np.ndarray, n_segments: int, subtask: str) -> np.ndarray:
    """Run-file rows of one film from its per-step outputs: (K, 2) valence/arousal or label, confidence."""
    from .submission import fear_rows

    if n_segments == 0:   # a film shorter than a segment (or than a step): its name and no rows
        return np.zeros((0, 2))
    segments = steps_to_n_segments(step_outputs.astype(np.float64), n_segments)
    if subtask == VALENCE_AROUSAL:
        return np.clip(segments, -1.0, 1.0)
    return fear_rows(segments[:, 0])


@dataclass
class TrainResult:
    model_dir: Path
    run_file: Path
    scores: dict
    skipped: bool = False


def is_trained(model_dir) -> bool:
    model_dir = Path(model_dir)
    return (model_dir / "scores.json").exists() and any((model_dir / "final").glob("seed*/model.keras"))


def _fit_job(job) -> list[np.ndarray]:
    """Train one model (one fold or the final model, one seed); predict its held-out films."""
    train, held_out, subtask, settings, seed, out_dir, progress, label = job
    model, normaliser, _ = fit(train, subtask, settings, seed, out_dir, progress, label)
    return predict_steps([model], [normaliser], held_out) if held_out else []


def _one_thread_each() -> None:
    """Worker processes share the cores: one TensorFlow thread each."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


_POOLS: dict = {}


def _pool(workers: int):
    """One pool of worker processes per size for the life of this process: TensorFlow is
    imported once per worker, not once per run."""
    if workers not in _POOLS:
        import atexit

        from .workers import WorkerPool

        _POOLS[workers] = WorkerPool(workers, initializer=_one_thread_each)  # workers die with this process
        atexit.register(_POOLS[workers].shutdown)
    return _POOLS[workers]


def _run_jobs(jobs: list, workers: int, bar) -> list:
    """Run fit jobs here or in ``workers`` processes (each seeded alike, so the results agree)."""
    if workers <= 1 or len(jobs) <= 1:
        results = []
        for job in jobs:
            results.append(_fit_job(job))
            bar.update()
        return results
    from concurrent.futures import as_completed

    pool = _pool(workers)
    results: list = [None] * len(jobs)
    futures = {pool.submit(_fit_job, job[:6] + (False,) + job[7:]): i for i, job in enumerate(jobs)}
    for future in as_completed(futures):
        results[futures[future]] = future.result()
        bar.update()
    return results


def train_run(config: RunConfig, dataset, features_dir, model_dir, team: str, overwrite: bool = False,
              progress: bool = True, jobs: int = 1) -> TrainResult:
    """Cross-validate ``config`` on the development films, write the out-of-fold run file and its
    scores, then train the final model(s) on all development films.

    ``jobs > 1`` trains that many models at once in separate processes; every model is seeded
    on its own, so the numbers do not depend on ``jobs``.
    """
    from tqdm import tqdm

    from .folds import make_folds, write_folds
    from .metrics import score_folds
    from .submission import run_filename, write_run

    model_dir = Path(model_dir)
    run_name = run_filename(team, config.subtask, config.run)
    if is_trained(model_dir) and not overwrite:
        return TrainResult(model_dir, model_dir / run_name,
                           json.loads((model_dir / "scores.json").read_text()), skipped=True)
    dev = [f for f in dataset.dev_films if f.has_labels(config.subtask)]
    if len(dev) < 2:
        raise DataError(dataset.root, f"training needs at least 2 development films with {config.subtask} "
                                      f"annotations, found {len(dev)}")
    films = load_films(dataset, features_dir, config.features, dev, config.subtask, with_labels=True)
    by_name = {f.name: f for f in films}
    folds = make_folds(by_name, config.folds, config.seed)
    partial = model_dir.with_name(model_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    write_text_atomic(partial / "run.toml", config.path.read_text() if config.path else "")
    write_folds(partial / "folds.json", folds, config.seed)
    seeds = [config.seed + s for s in range(config.seeds)]
    fit_jobs, held = [], []
    for k, held_names in enumerate(folds, start=1):
        held_films = [by_name[n] for n in held_names]
        train = [f for f in films if f.name not in held_names]
        for seed in seeds:
            fit_jobs.append((train, held_films, config.subtask, config.model, seed,
                             partial / f"fold{k}" / f"seed{seed}", progress, f"fold {k}/{len(folds)} seed {seed}"))
            held.append(held_films)
    for seed in seeds:
        fit_jobs.append((films, [], config.subtask, config.model, seed, partial / "final" / f"seed{seed}",
                         progress, f"final seed {seed}"))
    with tqdm(total=len(fit_jobs), desc=f"{config.name} models", unit="model", disable=not progress) as bar:
        results = _run_jobs(fit_jobs, jobs, bar)
    oof: dict[str, np.ndarray] = {}
    for k in range(len(folds)):
        per_seed = results[k * len(seeds):(k + 1) * len(seeds)]
        for i, film in enumerate(held[k * len(seeds)]):
            steps = np.mean([r[i] for r in per_seed], axis=0)
            oof[film.name] = to_segments(steps, film.n_segments, config.subtask)
    write_run(partial / run_name, oof, config.subtask, config.describe())
    truth = {f.name: f.labels for f in films}
    scores = score_folds(truth, oof, folds, config.subtask)
    write_text_atomic(partial / "scores.json", json.dumps(scores, indent=2) + "\n")
    if model_dir.exists():
        shutil.rmtree(model_dir)
    os.replace(partial, model_dir)
    return TrainResult(model_dir, model_dir / run_name, scores)


def load_final_models(model_dir) -> tuple[RunConfig, list, list[Normaliser]]:
    """The run definition and the final model(s) of a trained model folder."""
    import keras

    from .model import chunk_lstm_class

    model_dir = Path(model_dir)
    if not is_trained(model_dir):
        raise DataError(model_dir, "expected a trained model folder (made by mediaeval train)")
    config = load_run(model_dir / "run.toml")
    models, norms = [], []
    for seed_dir in sorted((model_dir / "final").glob("seed*")):
        models.append(keras.saving.load_model(seed_dir / "model.keras",
                                              custom_objects={"ChunkLSTM": chunk_lstm_class()}))
        norms.append(Normaliser.load(seed_dir / "normalisation.npz"))
    return config, models, norms


def predict_run(model_dir, dataset, features_dir, films, out) -> Path:
    """Predict ``films`` with the final model(s) of ``model_dir`` and write the run file ``out``."""
    from .submission import parse_run_name, write_run

    config, models, norms = load_final_models(model_dir)
    name = parse_run_name(out)
    if name is not None and name.subtask != config.subtask:
        raise DataError(out, f"the model is for {config.subtask}, the file name says {name.subtask}")
    data = load_films(dataset, features_dir, config.features, films, config.subtask, with_labels=False)
    steps = predict_steps(models, norms, data)
    rows = {f.name: to_segments(s, f.n_segments, config.subtask) for f, s in zip(data, steps)}
    return write_run(out, rows, config.subtask, config.describe())
