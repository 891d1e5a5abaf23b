"""The emotion amplifier: a film's predicted mood rendered onto its picture.

Two styles, after the NNIME "emotion amplifier":

* ``rgb``: the red channel rises with arousal and the blue with valence, green kept.  The gain
  is ``1 + 0.35 tanh(value / 0.3)``: steepest around 0, where most predictions lie, so the
  change is visible.  Two bars at the left edge show arousal (top, red) and valence (bottom,
  blue), their length (value + 1) / 2 of a fifth of the width.
* ``vignette``: a Gaussian vignette whose bright area grows with valence; above an arousal
  threshold the picture flickers between greyscale and colour (four frames each).

Values are interpolated linearly between segment middles (5 k + 5 s), so the effect is smooth.
The film is streamed (bounded memory), its audio packets are copied unchanged, and the output
is H.264 mp4 written under a temporary name, tagged as a render (:data:`RENDER_TAG`).  The
output is never the film itself, and an existing file that is not a previous render is
replaced only when asked (``overwrite``).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .errors import DataError
from .media import open_film
from .outputs import Kind, OutputGuard, has_magic
from .windows import SEGMENT_SECONDS, SEGMENT_SHIFT

STYLES = ("rgb", "vignette")
RENDER_TAG = "mediaeval render"   # the output's ``comment`` metadata
GAIN, SOFTNESS = 0.35, 0.3
FLICKER_FRAMES = 4


def curves_at(times: np.ndarray, valence_arousal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Valence and arousal at ``times`` (seconds), linear between segment middles, held at the ends.

    >>> curves_at(np.array([0.0, 7.5, 100.0]), np.array([[0.0, 1.0], [1.0, -1.0]]))
    (array([0. , 0.5, 1. ]), array([ 1.,  0., -1.]))
    """
    middles = np.arange(len(valence_arousal)) * SEGMENT_SHIFT + SEGMENT_SECONDS / 2
    return (np.interp(times, middles, valence_arousal[:, 0]), np.interp(times, middles, valence_arousal[:, 1]))


def gain(value: float) -> float:
    """Channel gain for a value in [-1, 1]: 1 + 0.35 tanh(value / 0.3)."""
    return 1.0 + GAIN * math.tanh(value / SOFTNESS)


def amplify_rgb(frame: np.ndarray, valence: float, arousal: float) -> np.ndarray:
    """Red with arousal, blue with valence, and the two bars; ``frame`` is (h, w, 3) uint8."""
    out = frame.astype(np.float32)
    out[..., 0] *= gain(arousal)
    out[..., 2] *= gain(valence)
    out = np.clip(out, 0, 255).astype(np.uint8)
    height, width = out.shape[:2]
    bar_h, bar_w = max(2, height // 25), max(2, width // 5)
    for row, value, colour in ((height // 20, arousal, (220, 40, 40)), (height - height // 20 - bar_h, valence,
                                                                      (40, 80, 220))):
        out[row:row + bar_h, 2:2 + bar_w] //= 3
        length = int(round((value + 1) / 2 * bar_w))
        out[row:row + bar_h, 2:2 + length] = colour
    return out


def amplify_vignette(frame: np.ndarray, valence: float, arousal: float, index: int,
                     threshold: float = 0.3) -> np.ndarray:
    """Gaussian vignette widening with valence; greyscale flicker above the arousal threshold."""
    height, width = frame.shape[:2]
    sigma = (0.2 + 0.6 * (valence + 1) / 2) * max(height, width)
    y = (np.arange(height) - height / 2)[:, None]
    x = (np.arange(width) - width / 2)[None, :]
    mask = np.exp(-(x ** 2 + y ** 2) / (2 * sigma ** 2)).astype(np.float32)
    out = frame.astype(np.float32) * mask[..., None]
    if arousal > threshold and (index // FLICKER_FRAMES) % 2:
        grey = out @ np.array([0.299, 0.587, 0.114], np.float32)
        out = np.repeat(grey[..., None], 3, axis=-1)
    return np.clip(out, 0, 255).astype(np.uint8)


def is_render(path) -> bool:
    """True if ``path`` is an mp4 that :func:`render` wrote (its ``comment`` is :data:`RENDER_TAG`)."""
    import av

    try:
        with av.open(str(path)) as container:
            return container.metadata.get("comment") == RENDER_TAG
    except (av.error.FFmpegError, OSError, ValueError):
        return False


RENDER = Kind("render", is_render, lambda path: has_magic(path, b"ftyp", offset=4), "an mp4 film")


def output_guard(film, overwrite: bool) -> OutputGuard:
    """The guard of a render's output (:mod:`mediaeval.outputs`): never the film itself
    (whatever the path's spelling, links included); an existing file that is not a previous
    render replaced only with ``overwrite`` (``--overwrite``), and only if it is an mp4."""
    return OutputGuard(overwrite, flag="--overwrite", inputs=[film], inputs_are="the film being rendered")


def render(film, valence_arousal: np.ndarray, out, style: str = "rgb", threshold: float = 0.3,
           progress: bool = True, overwrite: bool = False) -> Path:
    """Render ``film`` with its per-segment (valence, arousal) predictions onto ``out`` (mp4).

    Raises :class:`DataError` when ``out`` is ``film`` itself, or an existing file that is not a
    previous render and ``overwrite`` is false (:func:`output_guard`).
    """
    import av
    from .progress import progress as progress_bar

    if style not in STYLES:
        raise ValueError(f"style {style!r}: expected one of {', '.join(STYLES)}")
    film, out = Path(film), Path(out)
    guard = output_guard(film, overwrite)
    guard.check(out, RENDER)
    values = np.asarray(valence_arousal, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != 2 or len(values) == 0:
        raise DataError(film, "expected at least one segment of valence and arousal to render")
    with open_film(film) as source, guard.writing(out, RENDER) as tmp:
        if not source.streams.video:
            raise DataError(film, "expected a video stream, found none")
        video_in = source.streams.video[0]
        audio_in = source.streams.audio[0] if source.streams.audio else None
        rate = video_in.average_rate or video_in.guessed_rate
        width, height = video_in.codec_context.width // 2 * 2, video_in.codec_context.height // 2 * 2
        total = int(float(video_in.duration * video_in.time_base) * float(rate)) if video_in.duration else None
        with av.open(str(tmp), "w", format="mp4") as target:
            target.metadata["comment"] = RENDER_TAG
            video_out = target.add_stream("libx264", rate=rate)
            video_out.width, video_out.height, video_out.pix_fmt = width, height, "yuv420p"
            video_out.options = {"preset": "veryfast", "crf": "20"}
            audio_out = target.add_stream_from_template(audio_in) if audio_in is not None else None
            streams = [video_in] + ([audio_in] if audio_in is not None else [])
            bar = progress_bar(total=total, desc=f"render {film.stem}", unit="frame", disable=not progress)
            index = 0
            for packet in source.demux(*streams):
                if packet.stream is audio_in:
                    if packet.dts is None:
                        continue
                    packet.stream = audio_out
                    target.mux(packet)
                    continue
                for frame in packet.decode():
                    valence, arousal = (float(v[0]) for v in curves_at(np.array([frame.time or 0.0]), values))
                    picture = frame.to_ndarray(format="rgb24")[:height, :width]
                    if style == "rgb":
                        picture = amplify_rgb(picture, valence, arousal)
                    else:
                        picture = amplify_vignette(picture, valence, arousal, index, threshold)
                    new = av.VideoFrame.from_ndarray(picture, format="rgb24")
                    new.pts, new.time_base = frame.pts, frame.time_base
                    target.mux(video_out.encode(new))
                    index += 1
                    bar.update()
            target.mux(video_out.encode(None))
            bar.close()
    return out
