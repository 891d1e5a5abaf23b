"""Training a run: cross-validation by film, out-of-fold predictions, the final model; prediction.

A model folder holds::

    model.json                   the manifest: made by mediaeval train; the run definition (as data),
                                 the team and what made the features (extractors, versions,
                                 settings) it was trained from; every file below
    run.toml                     the run definition as it was written
    folds.json                   the folds (film names), for ``mediaeval score --folds``
    fold<k>/seed<s>/             one model per fold (and seed): model.keras, normalisation.npz,
                                 log.csv, tensorboard/
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
import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import write_text_atomic
from .dataset import VALENCE_AROUSAL
from .errors import DataError, MediaevalError
from .model import ModelSettings, Trainer, batches, build_model, pad_films, positive_weight, set_seed
from .runs import RunConfig, changes, run_from_data
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
        """Labels brought onto the steps by overlap: (n_steps, 2) or (n_steps, 1)."""
        values = self.labels if subtask == VALENCE_AROUSAL else self.labels.reshape(-1, 1)
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
                               f"or a set made by mediaeval import-features --name {unknown[0]} (none in {features_dir})")
    if film.video is None:
        return DataError(path, f"no features and no video for film {film.name}: its annotations were found "
                               f"but not its mp4, so it cannot be extracted; add the video under {dataset.root}")
    return DataError(path, f"no features for film {film.name}; run: mediaeval extract --dataset "
                           f"{dataset.root} --out {features_dir} --extractor {','.join(extractors)}")


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
    and the first key that differs otherwise.
    """
    from .features.store import feature_path, load_set

    out, columns = [], None
    for film in films:
        try:
            features = load_set(features_dir, extractors, film.name)
        except FileNotFoundError:
            raise _missing_features(dataset, features_dir, extractors, film) from None
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
        labels = film.labels(subtask) if with_labels else None
        out.append(FilmData(film.name, features.values, film.n_segments, labels, made))
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
    from .progress import progress as progress_bar

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
    bar = progress_bar(range(settings.epochs), desc=label or "epochs", unit="epoch", leave=False, disable=not progress)
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


# --------------------------------------------------------------------------- model folders

MANIFEST = "model.json"      # the mark of a folder made by mediaeval train, and what it holds
MADE_BY = "mediaeval train"


@dataclass
class TrainResult:
    model_dir: Path
    run_file: Path
    scores: dict
    config: RunConfig         # the definition the model was trained from (stored in the folder)
    skipped: bool = False


def read_manifest(folder) -> dict | None:
    """The manifest of a folder made by mediaeval train (complete or being written), else None."""
    try:
        data = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("made_by") == MADE_BY else None


def _write_manifest(folder: Path, **content) -> None:
    write_text_atomic(folder / MANIFEST, json.dumps({"made_by": MADE_BY, **content}, indent=2) + "\n")


LSTM_FILES = ("model.keras", "normalisation.npz")
SEGMENT_FILES = ("segment_model.pkl",)


def _is_segment_family(settings) -> bool:
    from .segment_models import SegmentSettings

    return isinstance(settings, SegmentSettings)


def model_files(n_folds: int, seeds: list[int], run_name: str, per_model=LSTM_FILES) -> list[str]:
    """Every file a complete model folder holds (relative paths), besides its manifest;
    ``per_model`` the files of each fold/seed and final/seed model (its family's)."""
    models = [f"fold{k}/seed{s}" for k in range(1, n_folds + 1) for s in seeds] + [f"final/seed{s}" for s in seeds]
    return (["run.toml", "folds.json", "scores.json", run_name]
            + [f"{m}/{name}" for m in models for name in per_model])


def missing_files(model_dir) -> list[Path]:
    """The files a complete model folder has and ``model_dir`` lacks (its manifest, if it is not
    a complete model folder)."""
    model_dir = Path(model_dir)
    manifest = read_manifest(model_dir)
    if manifest is None or manifest.get("state") != "complete":
        return [model_dir / MANIFEST]
    return [model_dir / name for name in manifest["files"] if not (model_dir / name).is_file()]


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


def _record(config: RunConfig, team: str, extractors: dict) -> dict:
    """What a model depends on, compared with :func:`changes`: the definition, the team (the run
    file's name) and what made the features."""
    return {**config.to_data(), "team": team, "extractors": extractors}


def model_changes(model_dir, config: RunConfig, team: str, extractors: dict) -> list[str]:
    """``key: old -> new`` for what differs between a trained model folder and a run to train."""
    manifest = read_manifest(model_dir)
    old = {**manifest.get("definition", {}), "team": manifest.get("team"), "extractors": manifest.get("extractors")}
    return changes(old, _record(config, team, extractors))


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
def model_lock(model_dir):
    """Hold the exclusive lock of ``model_dir`` (the file ``.<name>.lock`` beside it) for the block.

    A second holder is refused at once with the first one's process id.  The operating system
    releases the lock when its process ends, killed or not, so a lock is never stale.
    """
    import fcntl

    model_dir = Path(model_dir)
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(model_dir.parent / f".{model_dir.name}.lock", "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise MediaevalError(f"{model_dir} is being trained by process {handle.read().strip() or '?'}; "
                                 f"wait for it to finish, or train into another --out") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_ours(folder: Path) -> None:
    """Remove a left-over folder made by mediaeval train (``.partial``, ``.old``); refuse any other."""
    if not folder.exists():
        return
    if read_manifest(folder) is None:
        raise DataError(folder, f"exists and was not made by mediaeval train (no {MANIFEST}); move it away")
    shutil.rmtree(folder)


def _install(partial: Path, model_dir: Path) -> None:
    """Rename the complete ``partial`` onto ``model_dir``.  A previous model folder is moved aside
    to ``<name>.old`` first and deleted only once the new one is in place; an empty folder is
    replaced; anything else is left alone (the new model then stays in ``partial``)."""
    if read_manifest(model_dir) is not None:
        old = model_dir.with_name(model_dir.name + ".old")
        _remove_ours(old)
        os.replace(model_dir, old)
        try:
            os.replace(partial, model_dir)
        except BaseException:
            os.replace(old, model_dir)
            raise
        shutil.rmtree(old)
        return
    if model_dir.exists() and (not model_dir.is_dir() or any(model_dir.iterdir())):
        raise DataError(model_dir, f"was filled by something else during training; the new model is in {partial}")
    os.replace(partial, model_dir)


def _fit_job(job) -> list:
    """Train one model (one fold or the final model, one seed); predict its held-out films:
    per-step outputs (LSTM), or ``(curves, threshold)`` per film (per-segment families)."""
    train, held_out, subtask, settings, seed, out_dir, progress, label = job
    if _is_segment_family(settings):
        return _fit_segment_job(train, held_out, subtask, settings, seed, out_dir)
    model, normaliser, _ = fit(train, subtask, settings, seed, out_dir, progress, label)
    return predict_steps([model], [normaliser], held_out) if held_out else []


def _fit_segment_job(train, held_out, subtask, settings, seed, out_dir) -> list:
    from .segment_models import fit_segment_model

    model = fit_segment_model(train, subtask, settings, seed)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        model.save(out_dir / SEGMENT_FILES[0])
        write_text_atomic(out_dir / "settings.json", json.dumps(
            {"subtask": subtask, "seed": seed, "settings": settings.as_dict(), "chosen": model.choices(),
             "train_films": [f.name for f in train]}, indent=2, default=float) + "\n")
    return [(model.predict_curves(f.x, f.n_segments), model.threshold) for f in held_out]


def segment_rows(per_seed: list[tuple[np.ndarray, float]], subtask: str) -> np.ndarray:
    """Run rows from the curves of one film by each seed's per-segment model: their mean, and for
    fear the label by the mean of the seeds' thresholds."""
    from .submission import fear_rows

    curves = np.mean([c for c, _ in per_seed], axis=0)
    if subtask == VALENCE_AROUSAL:
        return np.clip(curves, -1.0, 1.0)
    return fear_rows(curves[:, 0], float(np.mean([t for _, t in per_seed])))


def _one_thread_each() -> None:
    """Worker processes share the cores: one TensorFlow thread each, and one OpenMP thread for
    scikit-learn's gradient boosting (set before anything loads OpenMP)."""
    os.environ["OMP_NUM_THREADS"] = "1"
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def _fit_job_afresh(item) -> list:
    """:func:`_fit_job` ``(job, token)`` into a temporary folder beside its own
    (``<model>.partial/fold<k>/.seed<s>.<token>.tmp``), renamed onto it once complete, and only
    while ``<model>.partial`` is still being written by the command that made the job (``token``
    in its manifest).  So a job whose worker died and that runs again starts clean, and one that
    outlived its command (Dask does not stop running tasks) leaves nothing behind."""
    job, token = item
    if job[5] is None:
        return _fit_job(job)
    out_dir = Path(job[5])
    partial = out_dir.parents[1]
    tmp = out_dir.with_name(f".{out_dir.name}.{token}.tmp")
    try:
        if tmp.exists():
            shutil.rmtree(tmp)
        result = _fit_job(job[:5] + (tmp,) + job[6:])
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


def _run_jobs(jobs: list, executor, bar, token: str) -> list:
    """Run fit jobs with ``executor`` (here, local processes or a cluster: each seeded alike,
    so the results agree) as :func:`_fit_job_afresh` with ``token``; jobs that run elsewhere
    draw no progress bar, and a cluster gets every film's data once."""
    from .workers import as_executor

    executor = as_executor(executor)
    if not executor.in_process:
        films = list({id(f): f for job in jobs for f in (*job[0], *job[1])}.values())
        shared = dict(zip(map(id, films), executor.share(films)))
        jobs = [([shared[id(f)] for f in job[0]], [shared[id(f)] for f in job[1]]) + job[2:6] + (False,) + job[7:]
                for job in jobs]
    results: list = [None] * len(jobs)
    for index, result in executor.run(_fit_job_afresh, [(job, token) for job in jobs], names=[job[7] for job in jobs],
                                      initializer=_one_thread_each):
        results[index] = result
        bar.update()
    return results


def _inputs(config: RunConfig, dataset, features_dir) -> dict:
    return {"dataset": dataset.root, "features": features_dir, "run definition": config.path}


def train_run(config: RunConfig, dataset, features_dir, model_dir, team: str, overwrite: bool = False,
              progress: bool = True, jobs=1, echo=print) -> TrainResult:
    """Cross-validate ``config`` on the development films, write the out-of-fold run file and its
    scores, then train the final model(s) on all development films.

    Everything is checked before TensorFlow starts: the output folder (see
    :func:`check_model_folder`), the films and their features.  A complete model folder trained
    from the same definition, team and features is kept (``skipped``); one trained from others
    is retrained, ``echo`` saying what changed.  The model is written into ``<folder>.partial``
    under :func:`model_lock`, then installed by :func:`_install`.

    ``jobs > 1`` trains that many models at once in separate processes; every model is seeded
    on its own, so the numbers do not depend on ``jobs``.  ``jobs`` may also be an
    :class:`~mediaeval.workers.Executor`: a Dask cluster (:mod:`mediaeval.cluster`) trains the
    models, its workers first checked to write into the model folder.
    """
    from .submission import run_filename
    from .workers import as_executor

    jobs = as_executor(jobs)
    model_dir = jobs.job_path(model_dir)
    check_model_folder(model_dir, _inputs(config, dataset, features_dir))
    run_name = run_filename(team, config.subtask, config.run)
    dev = [f for f in dataset.dev_films if f.has_labels(config.subtask)]
    if len(dev) < 2:
        raise DataError(dataset.root, f"training needs at least 2 development films with {config.subtask} "
                                      f"annotations, found {len(dev)}")
    definition_text = config.path.read_text(encoding="utf-8") if config.path else ""
    with model_lock(model_dir):
        check_model_folder(model_dir)
        if is_trained(model_dir) and not overwrite:
            first = load_films(dataset, features_dir, config.features, dev[:1], config.subtask, with_labels=False)
            changed = model_changes(model_dir, config, team, first[0].made_by)
            if not changed:
                return TrainResult(model_dir, model_dir / run_name,
                                   json.loads((model_dir / "scores.json").read_text()), stored_run(model_dir),
                                   skipped=True)
            echo(f"{model_dir} was trained from another definition; retraining: " + "; ".join(changed))
        films = load_films(dataset, features_dir, config.features, dev, config.subtask, with_labels=True)
        partial = model_dir.with_name(model_dir.name + ".partial")
        _remove_ours(partial)  # left by a process that died: the lock is ours, so nobody writes it
        partial.mkdir(parents=True)
        token = secrets.token_hex(8)   # the jobs of this command write into partial only while it holds it
        _write_manifest(partial, state="partial", pid=os.getpid(), token=token)
        scores, folds = _train_into(partial, config, films, run_name, definition_text, progress, jobs, token)
        _write_manifest(partial, state="complete", definition=config.to_data(), digest=config.digest(), team=team,
                        extractors=films[0].made_by, run_file=run_name,
                        files=model_files(len(folds), _seeds(config), run_name,
                                          SEGMENT_FILES if _is_segment_family(config.model) else LSTM_FILES))
        _install(partial, model_dir)
    return TrainResult(model_dir, model_dir / run_name, scores, stored_run(model_dir))


def _seeds(config: RunConfig) -> list[int]:
    return [config.seed + s for s in range(config.seeds)]


def _train_into(folder: Path, config: RunConfig, films: list[FilmData], run_name: str, definition_text: str,
                progress: bool, jobs, token: str) -> tuple[dict, list[list[str]]]:
    """Train every fold and the final model(s) into ``folder``; write the definition, folds,
    out-of-fold run file and scores.  Returns the scores and the folds."""
    from .progress import progress as progress_bar

    from .folds import make_folds, write_folds
    from .metrics import score_folds
    from .submission import write_run

    by_name = {f.name: f for f in films}
    folds = make_folds(by_name, config.folds, config.seed)
    write_text_atomic(folder / "run.toml", definition_text)
    write_folds(folder / "folds.json", folds, config.seed)
    seeds = _seeds(config)
    fit_jobs, held = [], []
    for k, held_names in enumerate(folds, start=1):
        held_films = [by_name[n] for n in held_names]
        train = [f for f in films if f.name not in held_names]
        for seed in seeds:
            fit_jobs.append((train, held_films, config.subtask, config.model, seed,
                             folder / f"fold{k}" / f"seed{seed}", progress, f"fold {k}/{len(folds)} seed {seed}"))
            held.append(held_films)
    for seed in seeds:
        fit_jobs.append((films, [], config.subtask, config.model, seed, folder / "final" / f"seed{seed}",
                         progress, f"final seed {seed}"))
    jobs.check_shared(write={"the model folder being written": folder})
    with progress_bar(total=len(fit_jobs), desc=f"{config.name} models", unit="model", disable=not progress) as bar:
        results = _run_jobs(fit_jobs, jobs, bar, token)
    oof: dict[str, np.ndarray] = {}
    for k in range(len(folds)):
        per_seed = results[k * len(seeds):(k + 1) * len(seeds)]
        for i, film in enumerate(held[k * len(seeds)]):
            if _is_segment_family(config.model):
                oof[film.name] = segment_rows([r[i] for r in per_seed], config.subtask)
                continue
            steps = np.mean([r[i] for r in per_seed], axis=0)
            oof[film.name] = to_segments(steps, film.n_segments, config.subtask)
    write_run(folder / run_name, oof, config.subtask, config.describe())
    scores = score_folds({f.name: f.labels for f in films}, oof, folds, config.subtask)
    write_text_atomic(folder / "scores.json", json.dumps(scores, indent=2) + "\n")
    return scores, folds


def trained_run(model_dir) -> tuple[RunConfig, dict]:
    """The stored definition and manifest of a complete model folder; DataError naming what is
    missing otherwise.  Reads no model (TensorFlow does not start)."""
    model_dir = Path(model_dir)
    if read_manifest(model_dir) is None:
        raise DataError(model_dir, f"expected a model folder made by mediaeval train (no {MANIFEST})")
    missing = missing_files(model_dir)
    if missing:
        raise DataError(missing[0], "missing: the model folder is incomplete; retrain it with mediaeval train")
    return stored_run(model_dir), read_manifest(model_dir)


def _load_model(path: Path):
    import keras

    from .model import chunk_lstm_class

    try:
        return keras.saving.load_model(path, custom_objects={"ChunkLSTM": chunk_lstm_class()})
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


def load_final_models(model_dir) -> tuple[RunConfig, list, list[Normaliser]]:
    """The stored run definition and the final model(s) of a trained model folder."""
    model_dir = Path(model_dir)
    config, _ = trained_run(model_dir)
    models, norms = [], []
    for seed in _seeds(config):
        seed_dir = model_dir / "final" / f"seed{seed}"
        norms.append(_load_normaliser(seed_dir / "normalisation.npz"))
        models.append(_load_model(seed_dir / "model.keras"))
    return config, models, norms


def predict_run(model_dir, dataset, features_dir, films, out) -> Path:
    """Predict ``films`` with the final model(s) of ``model_dir`` and write the run file ``out``,
    described by the definition stored in the model folder.

    Checked before TensorFlow starts: the model folder is complete, ``out`` names the model's
    subtask, and the films' features exist and were made by the extractors, versions and
    settings the model was trained on.
    """
    from .submission import parse_run_name, write_run

    config, manifest = trained_run(model_dir)
    name = parse_run_name(out)
    if name is not None and name.subtask != config.subtask:
        raise DataError(out, f"the model is for {config.subtask}, the file name says {name.subtask}")
    data = load_films(dataset, features_dir, config.features, films, config.subtask, with_labels=False,
                      expected_made_by=manifest["extractors"])
    if _is_segment_family(config.model):
        models = [_load_segment_model(Path(model_dir) / "final" / f"seed{seed}" / SEGMENT_FILES[0]) for seed in _seeds(config)]
        rows = {f.name: segment_rows([(m.predict_curves(f.x, f.n_segments), m.threshold) for m in models],
                                     config.subtask) for f in data}
        return write_run(out, rows, config.subtask, config.describe())
    config, models, norms = load_final_models(model_dir)
    steps = predict_steps(models, norms, data)
    rows = {f.name: to_segments(s, f.n_segments, config.subtask) for f, s in zip(data, steps)}
    return write_run(out, rows, config.subtask, config.describe())
