"""Reading films: container metadata now; streaming decode on the step grid comes with extraction."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import DataError


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


def probe(path) -> VideoInfo:
    """Read duration (seconds), frame rate, size and audio presence without decoding.

    The duration is the video stream's own when the container records it, else the
    container's.  Raises :class:`DataError` naming the file when it is not a readable video.
    """
    import av

    path = Path(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DataError(path, "expected a video stream, found none")
            video = container.streams.video[0]
            if video.duration is not None and video.time_base is not None:
                duration = float(video.duration * video.time_base)
            elif container.duration is not None:
                duration = container.duration / 1_000_000
            else:
                raise DataError(path, "the container records no duration")
            fps = float(video.average_rate or video.guessed_rate or 0)
            audio = container.streams.audio[0] if container.streams.audio else None
            return VideoInfo(path, duration, fps, video.codec_context.width,
                             video.codec_context.height, audio is not None,
                             audio.codec_context.sample_rate if audio is not None else None)
    except DataError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as error:
        raise DataError(path, f"expected a readable video file: {error}") from error
