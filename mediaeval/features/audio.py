"""``audio-stats`` and ``log-mel``: the 98 x 64 log-mel patch of each step and statistics of it.

A step is 23,520 samples at 44.1 kHz.  Its patch has 98 frames of 10 ms (441-sample Hann
windows, FFT of 512) every 240 samples (5.44 ms, so that 98 frames fill the step; the last
window is completed with zeros), and 64 mel bands (HTK mel scale, 0 to 22,050 Hz), as
``log(power + 1e-10)``.
"""
from __future__ import annotations

from functools import cache

import numpy as np

from ..windows import AUDIO_RATE, SAMPLES_PER_STEP
from .registry import Extractor, as_float32, register

N_FRAMES, N_MELS, WINDOW, HOP, N_FFT = 98, 64, 441, 240, 512
ROLLOFF = 0.85


def _hz_to_mel(hz):
    return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)


def _mel_to_hz(mel):
    return 700.0 * (10.0 ** (np.asarray(mel) / 2595.0) - 1.0)


@cache
def mel_filterbank(n_mels: int = N_MELS, n_fft: int = N_FFT, rate: int = AUDIO_RATE) -> np.ndarray:
    """Triangular mel filters, shape (n_mels, n_fft // 2 + 1), each peaking at 1."""
    bins = np.linspace(0, rate / 2, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0), _hz_to_mel(rate / 2), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - lower) / np.maximum(centre - lower, 1e-9)
    falling = (upper - bins) / np.maximum(upper - centre, 1e-9)
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


def power_spectra(samples: np.ndarray) -> np.ndarray:
    """Framewise power spectra of steps: (n, 23520) -> (n, 98, 257)."""
    n = samples.shape[0]
    padded = np.zeros((n, (N_FRAMES - 1) * HOP + WINDOW), np.float32)
    padded[:, :SAMPLES_PER_STEP] = samples
    frames = np.lib.stride_tricks.sliding_window_view(padded, WINDOW, axis=1)[:, ::HOP][:, :N_FRAMES]
    spectrum = np.fft.rfft(frames * np.hanning(WINDOW).astype(np.float32), n=N_FFT, axis=-1)
    return (spectrum.real ** 2 + spectrum.imag ** 2).astype(np.float32)


def log_mel(power: np.ndarray) -> np.ndarray:
    """Log-mel patches: (n, 98, 257) power spectra -> (n, 98, 64)."""
    return np.log(power @ mel_filterbank().T + 1e-10)


def audio_stats(state: dict, block) -> np.ndarray:
    """Per step: the 64 band means and 64 band standard deviations of the log-mel patch over
    its 98 frames; log RMS energy; spectral centroid and roll-off (85 %) as fractions of the
    Nyquist frequency and spectral flatness, each averaged over frames; zero-crossing rate.
    """
    samples = block.audio
    power = power_spectra(samples)
    patch = log_mel(power)
    freqs = np.linspace(0.0, 1.0, power.shape[-1], dtype=np.float32)
    total = power.sum(axis=-1) + 1e-12
    centroid = (power @ freqs) / total
    cumulative = np.cumsum(power, axis=-1)
    rolloff = (cumulative < ROLLOFF * total[..., None]).sum(axis=-1) / (power.shape[-1] - 1)
    flatness = np.exp(np.log(power + 1e-12).mean(axis=-1)) / (power.mean(axis=-1) + 1e-12)
    rms = np.sqrt((samples.astype(np.float64) ** 2).mean(axis=1))
    zcr = (np.diff(np.signbit(samples), axis=1)).mean(axis=1)
    return as_float32(np.column_stack([
        patch.mean(axis=1), patch.std(axis=1), np.log(rms + 1e-8), centroid.mean(axis=1),
        rolloff.mean(axis=1), flatness.mean(axis=1), zcr]))


def log_mel_patch(state: dict, block) -> np.ndarray:
    """The 98 x 64 log-mel patch of each step, flattened frame-major: (n, 6272)."""
    patch = log_mel(power_spectra(block.audio))
    return as_float32(patch.reshape(len(patch), -1))


_PARAMS = {"rate": AUDIO_RATE, "window": WINDOW, "hop": HOP, "n_fft": N_FFT, "frames": N_FRAMES, "mels": N_MELS}


@register("audio-stats")
def _audio_stats() -> Extractor:
    columns = ([f"mel{i:02d}_mean" for i in range(N_MELS)] + [f"mel{i:02d}_std" for i in range(N_MELS)]
               + ["log_rms", "centroid", "rolloff", "flatness", "zcr"])
    return Extractor("audio-stats", "audio", "1", columns, process=audio_stats,
                     params={**_PARAMS, "rolloff": ROLLOFF})


@register("log-mel")
def _log_mel() -> Extractor:
    columns = [f"t{t:02d}_mel{m:02d}" for t in range(N_FRAMES) for m in range(N_MELS)]
    return Extractor("log-mel", "audio", "1", columns, process=log_mel_patch, params=dict(_PARAMS))
