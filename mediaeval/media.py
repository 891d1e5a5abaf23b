"""Reading films: container metadata, and streaming decode on the 16/30 s step grid.

Video is decoded as a stream (PyAV by default, decord as an option) at 112 x 112 and resampled
to 30 fps by timestamps (the frame shown at each 1/30 s instant); audio is decoded as a stream
with PyAV and resampled to 44.1 kHz mono (why not decord for audio: docs/decisions.md).  Each
step is 16 frames and 23,520 samples, so audio and video steps coincide.

Times are taken from the container's start (a video stream starting at 5 s shows its first
frame 5 s into the film), and a film lasts until its video stream ends.  Decoding checks how
far each stream really went against what the container says it holds: a file that stops
short (a partial download) gets a warning with the true position when the gap is small, and
is refused (:class:`DataError`) when the gap exceeds :func:`truncation_limit`.
"""
from __future__ import annotations

import contextvars
import itertools
import queue
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DataError, warn
from .windows import AUDIO_RATE, FRAMES_PER_STEP, SAMPLES_PER_STEP, STEP_SECONDS, VIDEO_FPS, step_count


@dataclass(frozen=True)
class VideoInfo:
    """What a film's container says about it."""

    path: Path
    duration: float
    fps: float
    width: int
    height: int
    has_audio: bool
    audio_rate: int | None


def open_film(path):
    """Open a film for reading with PyAV; :class:`DataError` naming it if it cannot be read."""
    import av

    try:
        return av.open(str(path))
    except (av.error.FFmpegError, OSError) as error:
        raise DataError(path, f"expected a readable video file: {error}") from error


def origin(container) -> float:
    """The container's start in seconds (0 when unknown): every time is taken relative to it."""
    return container.start_time / 1_000_000 if container.start_time is not None else 0.0


def stream_end(container, stream) -> float | None:
    """Seconds from the container's start to the end of ``stream``, if the container says."""
    if stream.duration is None or stream.time_base is None:
        return None
    start = float(stream.start_time * stream.time_base) if stream.start_time is not None else origin(container)
    return start - origin(container) + float(stream.duration * stream.time_base)


def film_duration(path, container) -> float:
    """The film's duration: from the container's start to the end of its video stream (the
    container's duration when the stream records none)."""
    end = stream_end(container, container.streams.video[0])
    if end is not None:
        return end
    if container.duration is not None:
        return container.duration / 1_000_000
    raise DataError(path, "the container records no duration")


TRUNCATION_SECONDS = 2.0
TRUNCATION_SHARE = 0.02
STOP_TOLERANCE = 0.25


def truncation_limit(duration: float) -> float:
    """Largest gap (seconds) between where decoding stopped and where a stream should end that
    still gives features: ``max(2 s, 2 % of the duration)``; a larger gap fails the film.

    >>> truncation_limit(30.0), truncation_limit(600.0)
    (2.0, 12.0)
    """
    return max(TRUNCATION_SECONDS, TRUNCATION_SHARE * duration)


def check_decoded(path, stream: str, decoded: float, expected: float | None, error=None) -> str | None:
    """Compare how far ``stream`` ("video" or "audio") decoded with where it should end.

    Returns ``None`` when the gap is within :data:`STOP_TOLERANCE` (frame and packet rounding),
    a warning giving the true position when it is at most :func:`truncation_limit`, and raises
    :class:`DataError` naming the file beyond that.  ``expected=None`` (unknown end) checks nothing.

    >>> check_decoded("f.mp4", "video", 29.9, 30.0) is None
    True
    >>> check_decoded("f.mp4", "audio", 28.5, 30.0)
    'audio decoding stopped at 28.5 s of 30.0 s (1.5 s missing: truncated or damaged file?)'
    >>> check_decoded("f.mp4", "video", 13.9, 30.0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mediaeval.errors.DataError: f.mp4: video decoding stopped at 13.9 s of 30.0 s (16.1 s missing: ...); more than ...
    """
    if expected is None or expected - decoded <= STOP_TOLERANCE:
        return None
    message = (f"{stream} decoding stopped at {decoded:.1f} s of {expected:.1f} s "
               f"({expected - decoded:.1f} s missing: truncated or damaged file?)")
    if error is not None:
        message += f" [{error}]"
    if expected - decoded > truncation_limit(expected):
        raise DataError(path, f"{message}; more than max({TRUNCATION_SECONDS:g} s, {TRUNCATION_SHARE * 100:g} % "
                              f"of the duration) is missing, so no features are made")
    return message


def rotation(path) -> int:
    """Degrees, counter-clockwise in [0, 360), by which a player turns the film's picture: from
    the video stream's ``rotate`` tag (older FFmpeg; it counts clockwise) or its display matrix
    (read from its first frame); 0 if none.  Features are computed on the frames as stored."""
    import av

    try:
        with open_film(path) as container:
            stream = container.streams.video[0]
            tag = stream.metadata.get("rotate")
            if tag:
                return -int(float(tag)) % 360
            for frame in container.decode(stream):
                return int(round(frame.rotation or 0)) % 360
    except (av.error.FFmpegError, ValueError, IndexError):
        return 0
    return 0


def probe(path) -> VideoInfo:
    """Read duration (seconds), frame rate, size and audio presence without decoding.

    The duration runs from the container's start to the end of the video stream (see
    :func:`film_duration`).  Raises :class:`DataError` naming the file when it is not a
    readable video.
    """
    import av

    path = Path(path)
    try:
        with open_film(path) as container:
            if not container.streams.video:
                raise DataError(path, "expected a video stream, found none")
            video = container.streams.video[0]
            duration = film_duration(path, container)
            fps = float(video.average_rate or video.guessed_rate or 0)
            audio = container.streams.audio[0] if container.streams.audio else None
            return VideoInfo(path, duration, fps, video.codec_context.width,
                             video.codec_context.height, audio is not None,
                             audio.codec_context.sample_rate if audio is not None else None)
    except DataError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as error:
        raise DataError(path, f"expected a readable video file: {error}") from error


# --------------------------------------------------------------------------- streaming on the step grid

STEPS_PER_CHUNK = 32
FRAME_SIZE = 112
_TIMESTAMP_SLACK = 1e-4


@dataclass
class StepBlock:
    """Consecutive steps of a film, as decoded.

    Attributes
    ----------
    first_step : int
        Index of the block's first step; step ``i`` starts at ``i * 16/30`` s.
    frames : numpy.ndarray, uint8, shape (n, 16, size, size, 3), or None
        RGB frames resampled to 30 fps: the frame shown at each 1/30 s instant (``None`` when
        only the audio was decoded).
    audio : numpy.ndarray, float32, shape (n, 23520)
        Mono samples at 44.1 kHz.
    """

    first_step: int
    frames: np.ndarray
    audio: np.ndarray

    def __len__(self) -> int:
        return len(self.audio)


def shown_frames(frame_starts: np.ndarray, n_out: int, fps: float = VIDEO_FPS) -> np.ndarray:
    """Index of the source frame shown at each instant ``j / fps`` (the last one started by then).

    Works for any source rate, variable ones included, because it uses the frames' own
    timestamps.  Instants before the first frame show the first frame.  A frame starting
    less than 0.1 ms after an instant counts as shown then: decord gives float32 timestamps
    (0.2 s reads 0.2000000030).

    >>> shown_frames(np.array([0.0, 0.04, 0.08, 0.12]), 4, fps=30).tolist()
    [0, 0, 1, 2]
    """
    times = np.arange(n_out) / fps
    index = np.searchsorted(frame_starts, times + _TIMESTAMP_SLACK, side="right") - 1
    return np.clip(index, 0, len(frame_starts) - 1)


VIDEO_BACKENDS = ("pyav", "decord")


def iter_video_steps(path, n_steps: int, size: int = FRAME_SIZE, steps_per_chunk: int = STEPS_PER_CHUNK,
                     backend: str = "pyav") -> Iterator[np.ndarray]:
    """Yield arrays (n, 16, size, size, 3) of RGB frames at 30 fps, ``n_steps`` steps in all.

    Each 1/30 s instant shows the last frame started by then (:func:`shown_frames`), times
    counted from the container's start.  When the stream stops before the end the container
    gives it, the last frame is held, with a warning (:func:`mediaeval.errors.warn`) for a
    small gap, and a :class:`DataError` beyond :func:`truncation_limit` (:func:`check_decoded`).

    ``backend="pyav"`` (default) decodes packet by packet, so memory stays flat whatever the
    film's length.  ``backend="decord"`` uses decord's ``VideoReader(width=size, height=size)``,
    which reads compressed packets ahead of its decoder without bound, so its memory grows to
    the size of the file (docs/decisions.md): fine for short films only.
    """
    if backend == "pyav":
        return _video_steps_pyav(Path(path), n_steps, size, steps_per_chunk)
    if backend == "decord":
        return _video_steps_decord(Path(path), n_steps, size, steps_per_chunk)
    raise ValueError(f"video backend {backend!r}: expected one of {', '.join(VIDEO_BACKENDS)}")


def _stop_message(path, stream: str, decoded: float, expected: float | None, failure) -> str | None:
    """The warning on where decoding of ``stream`` stopped: :func:`check_decoded`'s, or, when it
    finds nothing missing but a decoding error ended the stream, that error; ``None`` when all is well."""
    message = check_decoded(path, stream, decoded, expected, failure)
    if message is None and failure is not None:
        message = f"{stream} decoding stopped at {decoded:.1f} s [{failure}]"
    return message


class _FrameChunks:
    """Output instants (``VIDEO_FPS`` a second) filled with the frame on screen, handed out in
    chunks of ``steps_per_chunk`` steps: arrays ``(steps, FRAMES_PER_STEP, size, size, 3)``."""

    def __init__(self, n_out: int, size: int, steps_per_chunk: int):
        self.n_out, self.size = n_out, size
        self.chunk_frames = steps_per_chunk * FRAMES_PER_STEP
        self.chunk = np.empty((min(self.chunk_frames, n_out), size, size, 3), np.uint8)
        self.filled = 0     # frames of ``chunk`` set
        self.emitted = 0    # output instants handed out before ``chunk``

    @property
    def done(self) -> int:
        """Output instants set so far."""
        return self.emitted + self.filled

    def put(self, array: np.ndarray, until: int) -> Iterator[np.ndarray]:
        """Show ``array`` at every output instant before ``until``; yield full chunks."""
        while self.done < until:
            take = min(until - self.done, len(self.chunk) - self.filled)
            self.chunk[self.filled:self.filled + take] = array
            self.filled += take
            if self.filled == len(self.chunk):
                yield self.chunk.reshape(-1, FRAMES_PER_STEP, self.size, self.size, 3).copy()
                self.emitted += self.filled
                self.filled = 0
                self.chunk = self.chunk[:min(self.chunk_frames, self.n_out - self.emitted)]


def _video_steps_pyav(path: Path, n_steps: int, size: int, steps_per_chunk: int) -> Iterator[np.ndarray]:
    import av

    n_out = n_steps * FRAMES_PER_STEP
    if n_out == 0:
        return
    chunks = _FrameChunks(n_out, size, steps_per_chunk)
    shown = None        # the frame on screen (an av.VideoFrame), converted lazily
    shown_array = None
    with open_film(path) as container:
        if not container.streams.video:
            raise DataError(path, "expected a video stream, found none")
        stream = container.streams.video[0]
        start = origin(container)
        frame_seconds = 1 / float(stream.average_rate or stream.guessed_rate or VIDEO_FPS)
        last_time = None
        decoded_to = 0.0    # end of the last decoded frame, seconds from the container's start
        failure = None
        try:
            for frame in container.decode(stream):
                time_ = frame.time - start if frame.time is not None else (last_time or 0.0) + 1 / VIDEO_FPS
                last_time = time_
                length = float(frame.duration * frame.time_base) if frame.duration and frame.time_base else 0.0
                decoded_to = max(decoded_to, time_ + (length or frame_seconds))
                if shown is None:
                    shown = frame
                    continue
                # instants before this frame starts (within the slack) show the previous one
                until = min(n_out, int(np.floor((time_ - _TIMESTAMP_SLACK) * VIDEO_FPS)) + 1)
                if until > chunks.done:
                    if shown_array is None:
                        shown_array = shown.to_ndarray(width=size, height=size, format="rgb24")
                    yield from chunks.put(shown_array, until)
                shown, shown_array = frame, None
                if chunks.done >= n_out:
                    return
        except av.error.FFmpegError as error:
            if shown is None:
                raise DataError(path, f"expected a decodable video: {error}") from error
            failure = error
        if shown is None:
            raise DataError(path, "the video has no frame")
        message = _stop_message(path, "video", decoded_to, film_duration(path, container), failure)
        if message is not None:
            warn(path, f"{message}; the last frame is held")
        if shown_array is None:
            shown_array = shown.to_ndarray(width=size, height=size, format="rgb24")
        yield from chunks.put(shown_array, n_out)


def _video_timeline(path: Path) -> tuple[float, float]:
    """Where the video stream starts, and the film's duration, in seconds from the container's start."""
    with open_film(path) as container:
        if not container.streams.video:
            raise DataError(path, "expected a video stream, found none")
        stream = container.streams.video[0]
        start = (float(stream.start_time * stream.time_base) - origin(container)
                 if stream.start_time is not None and stream.time_base is not None else 0.0)
        return start, film_duration(path, container)


def _video_steps_decord(path: Path, n_steps: int, size: int, steps_per_chunk: int) -> Iterator[np.ndarray]:
    import decord

    if n_steps == 0:
        return
    offset, duration = _video_timeline(path)   # decord counts from the stream's first frame
    try:
        reader = decord.VideoReader(str(path), width=size, height=size, num_threads=1)
        stamps = reader.get_frame_timestamp(range(len(reader)))
    except Exception as error:  # decord raises its own DECORDError, or RuntimeError
        raise DataError(path, f"expected a decodable video: {error}") from error
    if len(stamps) == 0:
        raise DataError(path, "the video has no frame")
    starts = stamps[:, 0] + offset
    message = check_decoded(path, "video", float(stamps[:, 1].max()) + offset, duration)
    if message is not None:
        warn(path, f"{message}; the last frame is held")
    order = np.maximum.accumulate(starts)  # a stray decreasing timestamp must not reorder frames
    indices = shown_frames(order, n_steps * FRAMES_PER_STEP)
    for first in range(0, n_steps, steps_per_chunk):
        chunk = indices[first * FRAMES_PER_STEP:(first + steps_per_chunk) * FRAMES_PER_STEP]
        wanted, repeat = np.unique(chunk, return_inverse=True)
        try:
            frames = reader.get_batch(wanted.tolist()).asnumpy()
        except Exception as error:
            raise DataError(path, f"decoding failed near {first * STEP_SECONDS:.1f} s: {error}") from error
        yield frames[repeat].reshape(-1, FRAMES_PER_STEP, size, size, 3)


def iter_audio_steps(path, n_steps: int, steps_per_chunk: int = STEPS_PER_CHUNK) -> Iterator[np.ndarray]:
    """Yield arrays (n, 23520) of mono float32 samples at 44.1 kHz, ``n_steps`` steps in all.

    The track is decoded and resampled as a stream (PyAV), so memory stays bounded.  A film
    without audio gives silence and a warning (:func:`mediaeval.errors.warn`); a track that
    ends early is padded with silence.  A track that stops before the end the container gives
    it gets a warning with the position reached, or a :class:`DataError` beyond
    :func:`truncation_limit` (:func:`check_decoded`).
    """
    path = Path(path)
    chunk_samples = steps_per_chunk * SAMPLES_PER_STEP
    total = n_steps * SAMPLES_PER_STEP
    emitted = 0
    with open_film(path) as container:
        if not container.streams.audio:
            warn(path, "no audio track: the audio features are computed on silence")
        else:
            track = _AudioDecoding(container, container.streams.audio[0])
            emitted = yield from _track_steps(path, track, total, chunk_samples)
    while emitted < total:
        take = min(chunk_samples, total - emitted)
        yield np.zeros((take // SAMPLES_PER_STEP, SAMPLES_PER_STEP), np.float32)
        emitted += take


@dataclass
class _AudioDecoding:
    """An audio track being decoded: how far it got, the error that stopped it if any, and the
    samples decoded (44.1 kHz mono) and not yet handed out."""

    container: object
    stream: object
    decoded_to: float = 0.0     # end of the last decoded frame, seconds from the container's start
    failure: Exception | None = None
    pending: list = field(default_factory=list)
    held: int = 0               # samples in ``pending``

    def add(self, samples: np.ndarray) -> None:
        self.pending.append(samples)
        self.held += samples.size

    def take(self, n: int) -> np.ndarray:
        """The first ``n`` samples held (fewer if fewer are), no longer held."""
        samples = np.concatenate(self.pending) if self.pending else np.zeros(0, np.float32)
        self.pending, self.held = [samples[n:]], max(0, samples.size - n)
        return samples[:n]


def _decode_audio(decoding: _AudioDecoding) -> Iterator[None]:
    """Decode and resample the track into ``decoding``, pausing after each frame (silence first
    when the track starts after the container); the resampler's tail is added after the last
    frame without a pause, and an FFmpeg error ends decoding (kept in ``decoding.failure``)."""
    import av

    resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
    start = origin(decoding.container)
    first = True
    try:
        for frame in decoding.container.decode(decoding.stream):
            time_ = frame.time - start if frame.time is not None else decoding.decoded_to
            if first and time_ > 0:
                decoding.add(np.zeros(int(round(time_ * AUDIO_RATE)), np.float32))
            first = False
            if frame.sample_rate:
                decoding.decoded_to = max(decoding.decoded_to, time_ + frame.samples / frame.sample_rate)
            for out in resampler.resample(frame):
                decoding.add(out.to_ndarray().reshape(-1))
            yield
        for out in resampler.resample(None):
            decoding.add(out.to_ndarray().reshape(-1))
    except av.error.FFmpegError as error:
        decoding.failure = error


def _track_steps(path: Path, decoding: _AudioDecoding, total: int,
                 chunk_samples: int) -> Generator[np.ndarray, None, int]:
    """Yield the track's steps, ``chunk_samples`` at a time, up to ``total`` samples; the last
    block is padded with silence to a whole step.  Warns when decoding stopped short (or beyond
    :func:`truncation_limit`, raises), or when the track ends more than a step before the video.
    Returns how many samples it yielded."""
    emitted = 0
    for _ in _decode_audio(decoding):
        while decoding.held >= chunk_samples and emitted < total:
            take = min(chunk_samples, total - emitted)
            yield decoding.take(take).reshape(-1, SAMPLES_PER_STEP)
            emitted += take
        if emitted >= total:
            return emitted
    message = _stop_message(path, "audio", decoding.decoded_to, stream_end(decoding.container, decoding.stream),
                            decoding.failure)
    if message is not None:
        warn(path, f"{message}; the rest is silence")
    rest = decoding.take(total - emitted)
    if rest.size:
        padded = np.zeros(-(-rest.size // SAMPLES_PER_STEP) * SAMPLES_PER_STEP, np.float32)
        padded[:rest.size] = rest
        yield padded.reshape(-1, SAMPLES_PER_STEP)
        emitted += padded.size
    if total - emitted > SAMPLES_PER_STEP and message is None:
        warn(path, f"the audio track ends {(total - emitted) / AUDIO_RATE:.1f} s before the video; "
                   f"padded with silence")
    return emitted


def iter_steps(path, n_steps: int | None = None, size: int | None = FRAME_SIZE,
               steps_per_chunk: int = STEPS_PER_CHUNK, prefetch: int = 2,
               video_backend: str = "pyav") -> Iterator[StepBlock]:
    """Yield :class:`StepBlock` s covering the film's ``step_count(duration)`` steps.

    ``size=None`` decodes the audio only (the blocks' ``frames`` are ``None``).

    Decoding runs in a background thread, ``prefetch`` chunks ahead, so that decoding and
    feature computation overlap; memory stays bounded by ``(prefetch + 2) * steps_per_chunk``
    steps whatever the film length.  Warnings (:func:`mediaeval.errors.warn`) raised while
    decoding reach the :func:`~mediaeval.errors.collect_warnings` blocks open around the
    iteration, the thread's included.
    """
    path = Path(path)
    if n_steps is None:
        n_steps = step_count(probe(path).duration)

    def produce():
        video = (itertools.repeat(None) if size is None
                 else iter_video_steps(path, n_steps, size, steps_per_chunk, video_backend))
        audio = _rechunk(iter_audio_steps(path, n_steps, steps_per_chunk), steps_per_chunk)
        first = 0
        for frames, samples in zip(video, audio):
            yield StepBlock(first, frames, samples)
            first += len(samples)

    if prefetch <= 0:
        yield from produce()
        return
    yield from _in_background(produce(), prefetch)


def _rechunk(blocks: Iterator[np.ndarray], steps: int) -> Iterator[np.ndarray]:
    """Regroup (n, k) arrays into arrays of exactly ``steps`` rows (the last may be shorter)."""
    pending, held = [], 0
    for block in blocks:
        pending.append(block)
        held += len(block)
        while held >= steps:
            rows = np.concatenate(pending)
            yield rows[:steps]
            pending, held = [rows[steps:]], len(rows) - steps
    if held:
        yield np.concatenate(pending)


_DONE = object()


def _in_background(iterator: Iterator, depth: int) -> Iterator:
    """Run ``iterator`` in a daemon thread, ``depth`` items ahead; re-raise its errors here.
    The thread runs in a copy of this context (the warnings it raises are collected as here)."""
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work():
        try:
            for item in iterator:
                while not stop.is_set():
                    try:
                        items.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put(_DONE)
        except BaseException as error:  # handed to the consumer, raised there
            items.put(error)

    thread = threading.Thread(target=contextvars.copy_context().run, args=(work,), daemon=True,
                              name="mediaeval-decode")
    thread.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


class RollingAudio:
    """Samples [a, b) of a streamed track, zeros outside it; forgets what lies before ``drop``."""

    def __init__(self, blocks, total: int):
        self.blocks, self.total = blocks, total
        self.start, self.data = 0, np.zeros(0, np.float32)

    def take(self, a: int, b: int) -> np.ndarray:
        while self.start + self.data.size < min(b, self.total):
            self.data = np.concatenate([self.data, next(self.blocks).reshape(-1)])
        out = np.zeros(b - a, np.float32)
        lo, hi = max(a, self.start), min(b, self.start + self.data.size)
        if hi > lo:
            out[lo - a:hi - a] = self.data[lo - self.start:hi - self.start]
        return out

    def drop(self, before: int) -> None:
        cut = max(0, before - self.start)
        self.data, self.start = self.data[cut:], self.start + cut
