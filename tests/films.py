"""Real mp4 films made by the tests: known frame rates, timestamps, brightness and sound."""
from __future__ import annotations

from fractions import Fraction

import av
import numpy as np


def write_film(path, duration: float, fps=Fraction(25), size=(64, 48), audio: bool = True,
               audio_rate: int = 44100, channels: int = 2, frame_times=None, grey=None, loud_after=None,
               faststart: bool = False, rotation: int = 0):
    """Write an H.264 (+ AAC) mp4.

    ``faststart`` puts the index (moov) before the data, as films made for the web have it: a
    partial download of such a file still opens.  ``rotation`` (degrees, counter-clockwise)
    stores a display matrix asking players to rotate the picture.

    ``frame_times`` (seconds) gives every frame's timestamp (variable frame rate); otherwise
    frames are regular at ``fps``.  ``grey(k)`` is the grey level of frame k (default 8 * k mod
    256).  The sound is a 440 Hz tone, silent before ``loud_after`` seconds when given.
    """
    width, height = size
    if frame_times is None:
        frame_times = np.arange(int(round(duration * float(fps)))) / float(fps)
    grey = grey or (lambda k: (8 * k) % 256)
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", format="mp4", options=options) as container:
        video = container.add_stream("libx264", rate=fps)
        if rotation:
            video.set_display_rotation(rotation)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.time_base = video.codec_context.time_base = Fraction(1, 90000)
        video.options = {"preset": "ultrafast", "qp": "0"}
        if audio:
            sound = container.add_stream("aac", rate=audio_rate)
            sound.layout = "stereo" if channels == 2 else "mono"
        for k, t in enumerate(frame_times):
            frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), grey(k), np.uint8), format="rgb24")
            frame.pts = int(round(t * 90000))
            frame.time_base = Fraction(1, 90000)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if audio:
            n = int(round(duration * audio_rate))
            t = np.arange(n) / audio_rate
            tone = 0.3 * np.sin(2 * np.pi * 440 * t)
            if loud_after is not None:
                tone[t < loud_after] = 0.0
            samples = np.tile(tone.astype(np.float32), (channels, 1))
            for start in range(0, n, audio_rate):
                chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, start:start + audio_rate]),
                                                   format="fltp", layout="stereo" if channels == 2 else "mono")
                chunk.sample_rate, chunk.pts = audio_rate, start
                container.mux(sound.encode(chunk))
            container.mux(sound.encode(None))
    return path


def truncate(path, keep: float):
    """Keep the first ``keep`` share of the file's bytes (a partial download); returns ``path``."""
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    return path


def source_grey(path, backend):
    """Grey level of every source frame as the backend decodes it, without resampling."""
    if backend == "decord":
        import decord

        reader = decord.VideoReader(str(path), width=112, height=112)
        return reader.get_batch(list(range(len(reader)))).asnumpy().mean(axis=(1, 2, 3))
    with av.open(str(path)) as container:
        return np.array([f.to_ndarray(width=112, height=112, format="rgb24").mean()
                         for f in container.decode(video=0)])
