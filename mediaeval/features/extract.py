"""Extraction: one film in memory, one film to its file, a whole dataset.

What to extract, and how, is one :class:`ExtractionOptions`.  A film of a dataset to extract
is an :class:`ExtractionJob` (it pickles: jobs run in local processes or on a Dask cluster),
and what became of it an :class:`ExtractionOutcome`.

A film's data warnings (:func:`mediaeval.errors.warn`: a truncated track, a missing frame of
the organisers' features) are shown as Python warnings and stored in its ``meta["warnings"]``.
"""
from __future__ import annotations

import dataclasses
import enum
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import OUTPUT_ERRNOS, unwritable
from ..errors import DataError, MediaevalWarning, collect_warnings, warn
from ..media import VideoInfo, iter_steps, probe, rotation
from ..windows import step_count, step_starts
from .registry import DEFAULT_EXTRACTORS, Extractor, FilmSource, get_extractor
from .store import (FilmFeatures, feature_path, file_fingerprint, files_fingerprint, is_complete,
                    remove_stale_temporaries, save_features, set_name)


@dataclass(frozen=True)
class ExtractionOptions:
    """What to extract from each film, and how.

    Attributes
    ----------
    extractors : tuple of str
        Extractor names, concatenated in this order; empty (the default) means
        :data:`~mediaeval.features.registry.DEFAULT_EXTRACTORS`.  A list, or one name, is taken too.
    settings : dict
        ``{extractor name: {setting: value}}``, e.g. ``{"c3d": {"weights": "c3d.h5"}}`` (copied).
    video_backend : {"pyav", "decord"}
        Video decoder (see :func:`mediaeval.media.iter_video_steps`).
    overwrite : bool
        Redo a film whose complete feature file exists (:func:`extract_to_file`, :func:`extract_dataset`).
    progress : bool
        Show progress bars.
    dataset_root : path, optional
        The dataset's folder, for the extractors that read it (the organisers' features).

    >>> ExtractionOptions().extractors
    ('visual-stats', 'audio-stats')
    >>> ExtractionOptions("egemaps", {"egemaps": {"context_seconds": 5}}).extractors
    ('egemaps',)
    """

    extractors: tuple[str, ...] = ()
    settings: dict = field(default_factory=dict)
    video_backend: str = "pyav"
    overwrite: bool = False
    progress: bool = False
    dataset_root: Path | None = None

    def __post_init__(self):
        names = (self.extractors,) if isinstance(self.extractors, str) else tuple(self.extractors)
        object.__setattr__(self, "extractors", names or DEFAULT_EXTRACTORS)
        object.__setattr__(self, "settings", {name: dict(values) for name, values in (self.settings or {}).items()})
        if self.dataset_root is not None:
            object.__setattr__(self, "dataset_root", Path(self.dataset_root))


def _extractors(options: ExtractionOptions) -> list[Extractor]:
    """The extractors of ``options``, built with their settings; ValueError for a name given
    twice, or settings of an extractor that is not chosen."""
    names, settings = list(options.extractors), options.settings
    if len(set(names)) != len(names):
        raise ValueError(f"an extractor is named twice: {', '.join(names)}")
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


@dataclass(frozen=True)
class _Film:
    """A film being extracted: its file, its name, what its container says, and its steps."""

    video: Path
    name: str
    info: VideoInfo
    n_steps: int
    fingerprint: dict     # the file's fingerprint, taken before decoding


def extract_film(video, options: ExtractionOptions | None = None, name: str | None = None) -> FilmFeatures:
    """Extract features of one film in memory.

    Parameters
    ----------
    video : path
        The film (mp4 or anything FFmpeg reads).
    options : ExtractionOptions, optional
        The extractors and their settings, the video backend, progress bars, the dataset root
        (default: ``ExtractionOptions()``, the default extractors); ``overwrite`` is not used here.
    name : str, optional
        The film's name (default: the file's stem); whole-film extractors may need it.

    Returns
    -------
    FilmFeatures
        ``values`` of shape (step_count(duration), sum of the extractors' dims); a film shorter
        than one step gets 0 rows and a warning.  ``meta["video_file"]`` is the film file's
        :func:`~mediaeval.features.store.file_fingerprint`, taken before decoding;
        ``meta["warnings"]`` the messages of the data warnings raised meanwhile, in order.

    Raises
    ------
    DataError
        Naming the film when it cannot be decoded, or when decoding stops more than
        :func:`mediaeval.media.truncation_limit` before its end (a truncated file).

    Threads: the extraction holds this process's BLAS and OpenMP pools to one thread, as every
    job process is held (:func:`mediaeval.workers.one_thread_here`), so the features are the
    same here, in a ``--jobs`` worker and on a cluster (a BLAS sum split over two threads gives
    other last digits).  TensorFlow's pools are left as the process has them (they can be set
    only before TensorFlow starts, for the whole process): the pretrained networks (``i3d``,
    ``musicnn``, ...) use every core here, and bit-identity with a worker's features (one
    thread) is not promised for them (README, "On a cluster").

    For example ``extract_film("Film.mp4", ExtractionOptions(("visual-stats",)))``.
    """
    from ..workers import one_thread_here

    options = ExtractionOptions() if options is None else options
    video = Path(video)
    chosen = _extractors(options)
    with one_thread_here(), collect_warnings() as caught:
        film = _open(video, name or video.stem)
        check_ready(chosen)
        source = FilmSource(film.name, film.video, film.n_steps, dataset_root=options.dataset_root,
                            progress=options.progress)
        inputs = input_fingerprints(chosen, source)   # taken before reading, as the video's
        parts, repeated = _stream(film, [e for e in chosen if e.streaming], options)
        whole, columns_of = _whole_film(source, [e for e in chosen if not e.streaming])
    stored = [w.message for w in caught if not any(w is again for again in repeated)]
    return _assemble(film, chosen, {**parts, **whole}, columns_of, stored, inputs)


def input_fingerprints(extractors: list[Extractor], source: FilmSource) -> dict[str, str]:
    """``{extractor: files_fingerprint}`` of the files besides the video that ``extractors``
    read for the film of ``source`` (:attr:`Extractor.inputs`: the organisers' features).  An
    extractor whose files cannot be listed (its folder gone) is left out: a rerun then keeps
    the features made from them rather than fail."""
    out = {}
    for extractor in extractors:
        if extractor.inputs is not None:
            try:
                out[extractor.name] = files_fingerprint(extractor.inputs(source), source.dataset_root)
            except (DataError, OSError):
                continue
    return out


def _open(video: Path, name: str) -> _Film:
    """Fingerprint and probe the film, and warn when it is shorter than one step or rotated."""
    fingerprint = file_fingerprint(video)
    info = probe(video)
    n_steps = step_count(info.duration)
    if n_steps == 0:
        warn(video, f"film {name} lasts {info.duration:.2f} s, less than one step (16/30 s): its features have "
                    f"0 rows and it has no segment")
    angle = rotation(video)
    if angle:
        warn(video, f"film {name}: its video stream is to be shown rotated by {angle} degrees counter-clockwise; "
                    f"features are computed on the frames as stored (unrotated)")
    return _Film(video, name, info, n_steps, fingerprint)


def _stream(film: _Film, streaming: list[Extractor],
            options: ExtractionOptions) -> tuple[dict[str, np.ndarray], list[MediaevalWarning]]:
    """Run the streaming extractors: one decode pass per frame size in use (i3d-224 wants
    224 x 224 frames), the audio extractors joining the first, or an audio-only pass of their
    own when no visual extractor streams.

    Returns each extractor's values, and the warnings of the passes after the first: they
    decode the same film again and repeat the first pass's warnings, which are stored once.
    Without a streaming extractor the film is not decoded here (the whole-film extractors read
    what they need: the organisers' features do not decode it at all).
    """
    if not streaming:
        return {}, []
    sizes = sorted({e.frame_size for e in streaming if e.modality == "visual"}) or [None]
    parts: dict[str, np.ndarray] = {}
    repeated: list[MediaevalWarning] = []
    for size in sizes:
        group = [e for e in streaming if (e.frame_size == size if e.modality == "visual" else size == sizes[0])]
        label = film.name if len(sizes) == 1 or size is None else f"{film.name} {size}px"
        if size == sizes[0]:
            parts.update(_decode_pass(film, size, group, label, options))
        else:
            with collect_warnings() as again:
                parts.update(_decode_pass(film, size, group, label, options))
            repeated += again
    return parts, repeated


def _decode_pass(film: _Film, size: int | None, group: list[Extractor], label: str,
                 options: ExtractionOptions) -> dict[str, np.ndarray]:
    """Decode the film once (frames of ``size`` x ``size``, or audio only for ``None``) and
    run every extractor of ``group`` on its blocks: ``{name: (n_steps, dim)}``."""
    from ..progress import progress as progress_bar

    states = {e.name: {} for e in group}
    outputs = {e.name: [] for e in group}
    with progress_bar(total=film.n_steps, desc=label, unit="step", leave=False, disable=not options.progress) as bar:
        for block in iter_steps(film.video, film.n_steps, size=size, video_backend=options.video_backend):
            for extractor in group:
                outputs[extractor.name].append(extractor.process(states[extractor.name], block))
            bar.update(len(block))
    return {e.name: (np.concatenate(outputs[e.name]) if outputs[e.name] else np.zeros((0, e.dim), np.float32))
            for e in group}


def _whole_film(source: FilmSource, extractors: list[Extractor]) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    """Run the whole-film extractors in order: their values, and the columns of each (those the
    data decide, such as the organisers' features, as the extractor returns them)."""
    parts, columns_of = {}, {}
    for extractor in extractors:
        result = extractor.whole_film(source)
        if extractor.columns is None:
            result, columns_of[extractor.name] = result
        parts[extractor.name] = result
    return parts, columns_of


def _assemble(film: _Film, chosen: list[Extractor], parts: dict[str, np.ndarray],
              data_columns: dict[str, list[str]], warnings: list[str], inputs: dict[str, str]) -> FilmFeatures:
    """Check each extractor gave (n_steps, its dim) values, and join them, in the order chosen,
    with their columns and the film's meta (``inputs`` in it when an extractor read other files)."""
    from .. import __version__

    columns_of = {e.name: e.columns for e in chosen} | data_columns
    for extractor in chosen:
        expected = (film.n_steps, len(columns_of[extractor.name]))
        if parts[extractor.name].shape != expected:
            raise DataError(film.video, f"extractor {extractor.name} gave {parts[extractor.name].shape} values, "
                                        f"expected {expected}")
    values = np.concatenate([parts[e.name] for e in chosen], axis=1)
    columns = [f"{e.name}/{c}" for e in chosen for c in columns_of[e.name]]
    described = [{**e.describe(), "dim": len(columns_of[e.name])} for e in chosen]
    meta = {"film": film.name, "video": str(film.video), "duration": film.info.duration, "fps": film.info.fps,
            "n_steps": film.n_steps, "step_seconds": 16 / 30, "extractors": described,
            "toolkit_version": __version__, "warnings": warnings, "video_file": film.fingerprint}
    if inputs:
        meta["inputs"] = inputs
    return FilmFeatures(step_starts(film.n_steps), values.astype(np.float32), columns, meta)


def extract_to_file(video, features_dir, options: ExtractionOptions | None = None,
                    name: str | None = None) -> tuple[Path, bool]:
    """Extract one film into ``<features_dir>/<set>/<name>.npz`` unless a complete file is there
    (or ``options.overwrite``).

    A file made by other extractor versions or settings, of another version of the film's file
    (size or content changed), from other versions of the files an extractor reads besides it
    (the organisers' features: a file added, removed, resized or modified), or unreadable, is
    redone.  Returns the path and whether it was
    (re)written.  ``options`` default to ``ExtractionOptions()``, as for :func:`extract_film`.
    """
    options = ExtractionOptions() if options is None else options
    video = Path(video)
    name = name or video.stem
    path = feature_path(features_dir, options.extractors, name)
    if _up_to_date(video, features_dir, options, name):
        return path, False
    save_features(path, extract_film(video, options, name))
    return path, True


def _up_to_date(video, features_dir, options: ExtractionOptions, name: str) -> bool:
    """True when :func:`extract_to_file` would keep the film's file as it is."""
    path = feature_path(features_dir, options.extractors, name)
    if options.overwrite or not path.exists():
        return False
    chosen = _extractors(options)
    source = FilmSource(name, Path(video), 0, dataset_root=options.dataset_root)
    return is_complete(path, chosen, Path(video), input_fingerprints(chosen, source))


@dataclass
class ExtractionReport:
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    removed: list[Path] = field(default_factory=list)   # stale temporary files of interrupted runs


class ExtractionStatus(enum.Enum):
    """What became of a film: its file written, a complete one kept (skipped), or it failed."""

    WRITTEN = "written"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class ExtractionJob:
    """One film of a dataset to extract into ``features_dir``, with the paths as the workers see them."""

    name: str
    video: Path
    features_dir: Path
    options: ExtractionOptions


@dataclass(frozen=True)
class ExtractionOutcome:
    """What became of an :class:`ExtractionJob`; ``message`` says why it failed."""

    name: str
    status: ExtractionStatus
    message: str = ""


def _extract_one(job: ExtractionJob) -> ExtractionOutcome:
    """A job: one film to its file; never raises for the film's own failure."""
    try:
        _, wrote = extract_to_file(job.video, job.features_dir, job.options, job.name)
        return ExtractionOutcome(job.name, ExtractionStatus.WRITTEN if wrote else ExtractionStatus.SKIPPED)
    except DataError as error:
        return ExtractionOutcome(job.name, ExtractionStatus.FAILED, str(error))
    except OSError as error:
        if error.errno in OUTPUT_ERRNOS:   # a full disk, a read-only folder: every film would fail alike
            raise
        where = f"{error.filename}: " if error.filename is not None else ""
        return ExtractionOutcome(job.name, ExtractionStatus.FAILED, f"{where}{error.strerror or error}")
    except Exception as error:  # one film's failure never stops the others
        return ExtractionOutcome(job.name, ExtractionStatus.FAILED,
                                 f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=3)}")


def extract_dataset(films, features_dir, options: ExtractionOptions | None = None, jobs=1) -> ExtractionReport:
    """Extract every film of ``films`` (:class:`~mediaeval.dataset.Film` s with a video).

    ``options`` default to ``ExtractionOptions(progress=True)`` (the default extractors, a
    progress bar of the films).  One failing film does not stop the others; the report lists
    written, skipped and failed films.  The output does stop them all, as an ``OSError`` naming
    the path: a folder that cannot be written into (checked before any film is decoded, unless
    every film is up to date) or a full disk (:data:`~mediaeval.atomic.OUTPUT_ERRNOS`).
    ``jobs``: films extracted at once in local processes (:class:`mediaeval.workers.WorkerPool`:
    they die with this process; one thread each, :func:`~mediaeval.workers.one_thread_each`, so
    that they give the features extracted here), or an :class:`~mediaeval.workers.Executor` (a
    Dask cluster: :mod:`mediaeval.cluster`, whose workers are first checked to see the films and
    the feature folder).  Temporary files that killed runs left in the set's folder are removed first
    (:func:`~mediaeval.features.store.remove_stale_temporaries`).
    """
    from ..progress import progress as progress_bar
    from ..workers import as_executor, one_thread_each

    options = ExtractionOptions(progress=True) if options is None else options
    executor = as_executor(jobs)
    check_ready(_extractors(options))  # unknown names, missing weights fail before any work
    features_dir = executor.job_path(features_dir)
    folder = features_dir / set_name(options.extractors)
    report = ExtractionReport(removed=remove_stale_temporaries(folder))
    root = executor.job_path(options.dataset_root) if options.dataset_root is not None else None
    settings = {name: dict(values) for name, values in options.settings.items()}
    weights = {}                # weights files (c3d, vgg19-audio), as the jobs are to read them
    for name, values in settings.items():
        if values.get("weights"):
            values["weights"] = weights[f"the weights of {name}"] = str(executor.job_path(values["weights"]))
    job_options = dataclasses.replace(options, settings=settings, dataset_root=root,
                                      progress=options.progress and executor.in_process)
    todo = []
    for film in films:
        if film.video is None:
            report.failed[film.name] = "no video file (.mp4) was found for this film"
        else:
            todo.append(ExtractionJob(film.name, executor.job_path(film.video), features_dir, job_options))
    problem = unwritable(folder)
    if problem is not None and not all(_up_to_date(job.video, features_dir, job_options, job.name) for job in todo):
        raise problem   # before decoding any film, not once every film has been decoded
    if todo:
        executor.check_shared(read={**({"the dataset": root} if root is not None else {}), **weights,
                                    **{f"film {job.name}": job.video for job in todo}},
                              write={"the feature folder": folder})
    with progress_bar(total=len(todo), desc="films", unit="film", disable=not options.progress) as bar:
        for _, outcome in executor.run(_extract_one, todo, names=[job.name for job in todo],
                                       initializer=one_thread_each):
            _record(report, outcome, bar)
    return report


def _record(report: ExtractionReport, outcome: ExtractionOutcome, bar) -> None:
    if outcome.status is ExtractionStatus.FAILED:
        report.failed[outcome.name] = outcome.message
        bar.write(f"failed: {outcome.name}: {outcome.message.splitlines()[0] if outcome.message else ''}")
    elif outcome.status is ExtractionStatus.WRITTEN:
        report.written.append(outcome.name)
    else:
        report.skipped.append(outcome.name)
    bar.update()
