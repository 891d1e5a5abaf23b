"""Extraction: one film in memory, one film to its file, a whole dataset."""
from __future__ import annotations

import traceback
import warnings as python_warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..media import iter_steps, probe, rotation
from ..windows import step_count, step_starts
from .registry import DEFAULT_EXTRACTORS, Extractor, FilmSource, get_extractor
from .store import (FilmFeatures, feature_path, file_fingerprint, is_complete, remove_stale_temporaries,
                    save_features, set_name)


def _extractors(names, settings: dict | None = None) -> list[Extractor]:
    names = list(names) or list(DEFAULT_EXTRACTORS)
    if len(set(names)) != len(names):
        raise ValueError(f"an extractor is named twice: {', '.join(names)}")
    settings = settings or {}
    unused = sorted(set(settings) - set(names))
    if unused:
        raise ValueError(f"settings given for {', '.join(unused)}, which is not among the extractors "
                         f"{', '.join(names)}")
    return [get_extractor(n, settings.get(n)) for n in names]


def check_ready(extractors) -> None:
    """Raise before any decoding if an extractor cannot run (weights missing, say)."""
    for extractor in extractors:
        if extractor.check is not None:
            extractor.check()


def extract_film(video, extractors=DEFAULT_EXTRACTORS, name: str | None = None, dataset_root=None,
                 progress: bool = False, video_backend: str = "pyav", settings: dict | None = None) -> FilmFeatures:
    """Extract features of one film in memory.

    Parameters
    ----------
    video : path
        The film (mp4 or anything FFmpeg reads).
    extractors : sequence of str
        Extractor names, concatenated in this order.
    name : str, optional
        The film's name (default: the file's stem); whole-film extractors may need it.
    progress : bool
        Show a progress bar of the steps.
    video_backend : {"pyav", "decord"}
        Video decoder (see :func:`mediaeval.media.iter_video_steps`).
    settings : dict, optional
        ``{extractor name: {setting: value}}``, e.g. ``{"c3d": {"weights": "c3d.h5"}}``.

    Returns
    -------
    FilmFeatures
        ``values`` of shape (step_count(duration), sum of the extractors' dims); a film shorter
        than one step gets 0 rows and a warning.  ``meta["video_file"]`` is the film file's
        :func:`~mediaeval.features.store.file_fingerprint`, taken before decoding.

    Raises
    ------
    DataError
        Naming the film when it cannot be decoded, or when decoding stops more than
        :func:`mediaeval.media.truncation_limit` before its end (a truncated file).
    """
    from ..progress import progress as progress_bar

    from .. import __version__

    video = Path(video)
    name = name or video.stem
    chosen = _extractors(extractors, settings)
    fingerprint = file_fingerprint(video)
    info = probe(video)
    n_steps = step_count(info.duration)
    warnings: list[str] = []

    def note(message: str) -> None:
        python_warnings.warn(f"{video}: {message}", stacklevel=2)
        warnings.append(message)

    if n_steps == 0:
        note(f"film {name} lasts {info.duration:.2f} s, less than one step (16/30 s): its features have 0 rows "
             f"and it has no segment")
    angle = rotation(video)
    if angle:
        note(f"film {name}: its video stream is to be shown rotated by {angle} degrees counter-clockwise; "
             f"features are computed on the frames as stored (unrotated)")
    parts: dict[str, list[np.ndarray] | np.ndarray] = {}
    check_ready(chosen)
    streaming = [e for e in chosen if e.streaming]
    # One decode per frame size in use (i3d-224 wants 224 x 224 frames); audio extractors join
    # the first, or have an audio-only pass of their own when no visual extractor streams.
    sizes = sorted({e.frame_size for e in streaming if e.modality == "visual"}) or [None]
    for size in sizes:
        group = [e for e in streaming if (e.frame_size == size if e.modality == "visual" else size == sizes[0])]
        states = {e.name: {} for e in group}
        outputs = {e.name: [] for e in group}
        label = name if len(sizes) == 1 or size is None else f"{name} {size}px"
        with progress_bar(total=n_steps, desc=label, unit="step", leave=False, disable=not progress) as bar:
            for block in iter_steps(video, n_steps, size=size, video_backend=video_backend,
                                    warnings_out=warnings if size == sizes[0] else None):
                for extractor in group:
                    outputs[extractor.name].append(extractor.process(states[extractor.name], block))
                bar.update(len(block))
        for extractor in group:
            parts[extractor.name] = (np.concatenate(outputs[extractor.name]) if outputs[extractor.name]
                                     else np.zeros((0, extractor.dim), np.float32))
    source = FilmSource(name, video, n_steps, dataset_root, warnings, progress)
    columns_of = {e.name: e.columns for e in chosen}
    for extractor in chosen:
        if not extractor.streaming:
            result = extractor.whole_film(source)
            if extractor.columns is None:
                result, columns_of[extractor.name] = result
            parts[extractor.name] = result
    for extractor in chosen:
        expected = (n_steps, len(columns_of[extractor.name]))
        if parts[extractor.name].shape != expected:
            raise DataError(video, f"extractor {extractor.name} gave {parts[extractor.name].shape} values, "
                                   f"expected {expected}")
    values = np.concatenate([parts[e.name] for e in chosen], axis=1)
    columns = [f"{e.name}/{c}" for e in chosen for c in columns_of[e.name]]
    described = [{**e.describe(), "dim": len(columns_of[e.name])} for e in chosen]
    meta = {"film": name, "video": str(video), "duration": info.duration, "fps": info.fps,
            "n_steps": n_steps, "step_seconds": 16 / 30, "extractors": described,
            "toolkit_version": __version__, "warnings": warnings, "video_file": fingerprint}
    return FilmFeatures(step_starts(n_steps), values.astype(np.float32), columns, meta)


def extract_to_file(video, features_dir, extractors=DEFAULT_EXTRACTORS, name: str | None = None,
                    dataset_root=None, overwrite: bool = False, progress: bool = False,
                    video_backend: str = "pyav", settings: dict | None = None) -> tuple[Path, bool]:
    """Extract one film into ``<features_dir>/<set>/<name>.npz`` unless a complete file is there.

    A file made by other extractor versions or settings, of another version of the film's file
    (size or content changed), or unreadable, is redone.  Returns the path and whether it was
    (re)written.
    """
    video = Path(video)
    name = name or video.stem
    extractors = list(extractors) or list(DEFAULT_EXTRACTORS)
    path = feature_path(features_dir, extractors, name)
    if not overwrite and is_complete(path, _extractors(extractors, settings), video):
        return path, False
    features = extract_film(video, extractors, name, dataset_root, progress, video_backend, settings)
    save_features(path, features)
    return path, True


@dataclass
class ExtractionReport:
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    removed: list[Path] = field(default_factory=list)   # stale temporary files of interrupted runs


def _extract_one(args) -> tuple[str, str, str]:
    """A job: one film to its file; ``(name, "written" | "skipped" | "failed", message)``."""
    name, video, features_dir, extractors, root, overwrite, progress, backend, settings = args
    try:
        _, wrote = extract_to_file(video, features_dir, extractors, name, root, overwrite, progress, backend,
                                   settings)
        return name, "written" if wrote else "skipped", ""
    except DataError as error:
        return name, "failed", str(error)
    except Exception as error:  # one film's failure never stops the others
        return name, "failed", f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=3)}"


def extract_dataset(films, features_dir, extractors=DEFAULT_EXTRACTORS, dataset_root=None,
                    overwrite: bool = False, jobs=1, progress: bool = True,
                    video_backend: str = "pyav", settings: dict | None = None) -> ExtractionReport:
    """Extract every film of ``films`` (:class:`~mediaeval.dataset.Film` s with a video).

    One failing film does not stop the others; the report lists written, skipped and failed
    films.  ``jobs``: films extracted at once in local processes
    (:class:`mediaeval.workers.WorkerPool`: they die with this process), or an
    :class:`~mediaeval.workers.Executor` (a Dask cluster: :mod:`mediaeval.cluster`, whose
    workers are first checked to see the films and the feature folder).  Temporary files that
    killed runs left in the set's folder are removed first
    (:func:`~mediaeval.features.store.remove_stale_temporaries`).
    """
    from ..progress import progress as progress_bar
    from ..workers import as_executor

    executor = as_executor(jobs)
    extractors = list(extractors) or list(DEFAULT_EXTRACTORS)
    check_ready(_extractors(extractors, settings))  # unknown names, missing weights fail before any work
    features_dir = executor.job_path(features_dir)
    folder = features_dir / set_name(extractors)
    report = ExtractionReport(removed=remove_stale_temporaries(folder))
    root = executor.job_path(dataset_root) if dataset_root is not None else None
    settings = {name: dict(values) for name, values in (settings or {}).items()}
    weights = {}                # weights files (c3d, vgg19-audio), as the jobs are to read them
    for name, values in settings.items():
        if values.get("weights"):
            values["weights"] = weights[f"the weights of {name}"] = str(executor.job_path(values["weights"]))
    todo = []
    for film in films:
        if film.video is None:
            report.failed[film.name] = "no video file (.mp4) was found for this film"
        else:
            todo.append((film.name, executor.job_path(film.video), features_dir, extractors, root, overwrite,
                         progress and executor.in_process, video_backend, settings))
    if todo:
        executor.check_shared(read={**({"the dataset": root} if root is not None else {}), **weights,
                                    **{f"film {args[0]}": args[1] for args in todo}},
                              write={"the feature folder": folder})
    with progress_bar(total=len(todo), desc="films", unit="film", disable=not progress) as bar:
        for _, result in executor.run(_extract_one, todo, names=[args[0] for args in todo]):
            _record(report, result, bar)
    return report


def _record(report: ExtractionReport, result, bar) -> None:
    name, status, message = result
    if status == "failed":
        report.failed[name] = message
        bar.write(f"failed: {name}: {message.splitlines()[0] if message else ''}")
    else:
        getattr(report, status).append(name)
    bar.update()
