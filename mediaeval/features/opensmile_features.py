"""``egemaps``: the 88 eGeMAPS v02 functionals of openSMILE over a window centred on each step.

openSMILE computes its low-level descriptors on 10 ms frames, and 16/30 s is no multiple of
10 ms, but three steps (1.6 s) are.  So the windows are computed in three passes, one for the
steps i = 0, 1, 2 (mod 3), each with fixed windows every 1.6 s; every window is centred on its
step.  Audio is streamed, resampled from 44.1 kHz to 16 kHz per batch of about five minutes
(eGeMAPS is defined on speech-band audio), so memory stays bounded (its cost: README,
"Performance").
"""
from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

import numpy as np

from ..windows import AUDIO_RATE, SAMPLES_PER_STEP
from .registry import Extractor, FilmSource, as_float32, register

CONTEXT_SECONDS = 3.0
RATE = 16_000
BATCH_STEPS = 3 * 188           # about 300 s of steps per batch; a multiple of 3
_PASS_STEP_SECONDS = 1.6        # three steps


def _import_opensmile():
    """``import opensmile``, its native library first loaded with ``RTLD_DEEPBIND`` (Linux).

    TensorFlow loads its libraries with ``RTLD_GLOBAL``, and ``libtensorflow_framework.so``
    exports Ooura's FFT (``rdft``, ``makewt``, ...) in double precision.  ``libSMILEapi.so``
    has its own copy of these functions in single precision, but loaded after TensorFlow
    without ``RTLD_DEEPBIND`` it calls TensorFlow's, which write twice the floats' bytes and
    corrupt the heap ("malloc(): invalid size", then abort).  Deep binding makes the library
    use its own functions first, in any order of imports; the results are the same as in a
    process without TensorFlow.  (A library that is already loaded keeps its bindings: code
    that imported opensmile itself after TensorFlow is not mended.)
    """
    import glob
    import importlib.util
    import os

    missing = RuntimeError("the egemaps extractor needs the opensmile package: pip install opensmile")
    spec = importlib.util.find_spec("opensmile")
    if spec is None:
        raise missing
    deepbind = getattr(os, "RTLD_DEEPBIND", None)
    libraries = glob.glob(os.path.join(spec.submodule_search_locations[0], "core", "bin", "*", "libSMILEapi.so"))
    if deepbind is not None and len(libraries) == 1:
        import ctypes

        ctypes.CDLL(libraries[0], mode=os.RTLD_LOCAL | deepbind)   # opensmile's own load reuses it
    try:
        import opensmile
    except ImportError as error:
        raise missing from error
    return opensmile


@cache
def _smile(context_seconds: float):
    opensmile = _import_opensmile()
    frame_mode = Path(tempfile.gettempdir()) / f"mediaeval-egemaps-{context_seconds:g}s.conf.inc"
    frame_mode.write_text(f"frameMode = fixed\nframeSize = {context_seconds}\n"
                          f"frameStep = {_PASS_STEP_SECONDS}\nframeCenterSpecial = left\n")
    return opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                           feature_level=opensmile.FeatureLevel.Functionals,
                           options={"frameModeFunctionalsConf": str(frame_mode)})


def egemaps_windows(source: FilmSource, context_seconds: float = CONTEXT_SECONDS) -> np.ndarray:
    """eGeMAPS functionals of the ``context_seconds`` window centred on each step: (n_steps, 88)."""
    from scipy.signal import resample_poly

    from ..media import RollingAudio, iter_audio_steps

    smile = _smile(context_seconds)
    n = source.n_steps
    out = np.zeros((n, len(smile.feature_names)), np.float32)
    half = int(round(context_seconds * AUDIO_RATE / 2))
    window = 2 * half
    pass_step = 3 * SAMPLES_PER_STEP
    audio = RollingAudio(iter_audio_steps(source.video, n), n * SAMPLES_PER_STEP)
    for first in range(0, n, BATCH_STEPS):
        last = min(n, first + BATCH_STEPS)
        for offset in range(3):
            steps = np.arange(first + offset, last, 3)
            if steps.size == 0:
                continue
            a = steps[0] * SAMPLES_PER_STEP + SAMPLES_PER_STEP // 2 - half
            b = a + (steps.size - 1) * pass_step + window
            signal = resample_poly(audio.take(a, b), RATE // 100, AUDIO_RATE // 100).astype(np.float32)
            values = smile.process_signal(np.clip(signal, -1, 1), RATE).to_numpy()
            if len(values) < steps.size:  # the last window may fall a few samples short
                values = np.vstack([values, np.repeat(values[-1:], steps.size - len(values), axis=0)])
            out[steps] = values[:steps.size]
        audio.drop((last * SAMPLES_PER_STEP) + SAMPLES_PER_STEP // 2 - half)
    return as_float32(np.nan_to_num(out))


@register("egemaps")
def _egemaps() -> Extractor:
    smile = _smile(CONTEXT_SECONDS)
    # version 2: files of version 1 made in a process that had loaded TensorFlow (a --jobs worker
    # that had extracted i3d or musicnn) may hold values of a corrupted FFT (see _import_opensmile)
    return Extractor("egemaps", "audio", "2", list(smile.feature_names), whole_film=egemaps_windows,
                     params={"feature_set": "eGeMAPSv02", "context_seconds": CONTEXT_SECONDS, "rate": RATE})
