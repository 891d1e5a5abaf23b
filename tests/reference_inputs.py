"""Fixed inputs of the port tests, shared with the recipes in tools/reference/ that produced
the reference outputs with the original implementations.  Computed from formulas in float64,
so they are the same on every machine and need no stored file."""
import numpy as np

I3D_SIZES = (112, 224)
MUSICNN_RATE = 16_000


def i3d_clips(size: int, n_clips: int = 2) -> np.ndarray:
    """Moving colour patterns in [-1, 1], shape (n_clips, 16, size, size, 3), float32."""
    clip = np.arange(n_clips)[:, None, None, None, None]
    t = np.arange(16)[None, :, None, None, None]
    y = (np.arange(size) / size)[None, None, :, None, None]
    x = (np.arange(size) / size)[None, None, None, :, None]
    c = np.arange(3)[None, None, None, None, :]
    wave = np.sin(2 * np.pi * (3 * x + 2 * y) + 0.4 * t + 2.1 * c + 1.3 * clip)
    blob = np.exp(-((x - 0.3 - 0.03 * t) ** 2 + (y - 0.5 - 0.1 * clip) ** 2) / 0.02)
    return np.clip(0.7 * wave * np.cos(10 * np.pi * x * y - 0.3 * t) + blob - 0.2, -1, 1).astype(np.float32)


def musicnn_signal(seconds: float = 7.0) -> np.ndarray:
    """Chords, a chirp, clicks and seeded noise at 16 kHz, as int16 samples.

    Quiet (peak about 0.06): musicnn's own front end computes ``log10(10000 x + 1)`` in
    float16, which overflows to inf where a mel band's power exceeds 6.55 (loud passages).
    """
    t = np.arange(int(seconds * MUSICNN_RATE)) / MUSICNN_RATE
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.18, 329.63)) / 3
    chirp = np.sin(2 * np.pi * (100 * t + 150 * t ** 2))
    clicks = (np.mod(t, 0.5) < 0.004) * np.sin(2 * np.pi * 2000 * t)
    noise = np.random.default_rng(0).standard_normal(t.size) * 0.004
    signal = 0.05 * chord * (t < 3.5) + 0.03 * chirp * (t >= 2) + 0.04 * clicks + noise
    return np.round(np.clip(signal, -1, 1) * 32767).astype(np.int16)
