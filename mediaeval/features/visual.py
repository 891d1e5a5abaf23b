"""``visual-stats``: colour, light, texture and motion statistics of each 16-frame step."""
from __future__ import annotations

import numpy as np

from .registry import Extractor, as_float32, register

COLUMNS = [f"{stat}_{c}" for stat in ("mean", "std", "skew") for c in "rgb"] + [
    "luminance_mean", "luminance_std", "colourfulness", "saturation_mean", "saturation_std",
    "hue_cos", "hue_sin", "edge_density", "motion_mean", "motion_max", "cut_score"]
HIST_BINS = 8
EDGE_THRESHOLD = 0.1
PIXEL_STRIDE = 4
EDGE_FRAME_STRIDE = 8


def visual_stats(state: dict, block) -> np.ndarray:
    """Per step, from its 16 frames.

    Colour moments (mean, std, skewness of R, G, B); luminance (Rec. 601) mean and std;
    colourfulness (Hasler & Suesstrunk 2003); HSV saturation mean and std; the
    saturation-weighted mean hue as (cos, sin): all on every frame, every fourth pixel (28 x 28
    at the default size).  Edge density (share of pixels whose luminance gradient exceeds 0.1)
    on frames 0 and 8, every second pixel.  Motion energy (mean absolute luminance difference
    of consecutive frames, every fourth pixel: mean and max over the step, the first frame
    compared with the previous step's last) and shot-cut score (largest half L1 distance
    between the 8-bin luminance histograms of consecutive frames, 0 to 1).
    """
    small = block.frames[:, :, ::PIXEL_STRIDE, ::PIXEL_STRIDE, :].astype(np.float32) * (1 / 255)
    n, f = small.shape[:2]
    pixels = small.reshape(n, -1, 3)
    mean = pixels.mean(axis=1)
    centred = pixels - mean[:, None, :]
    squared = centred * centred
    var = squared.mean(axis=1)
    skew = (squared * centred).mean(axis=1) / np.maximum(var, 1e-12) ** 1.5
    r, g, b = small[..., 0], small[..., 1], small[..., 2]
    lum = 0.299 * r + 0.587 * g + 0.114 * b                                        # (n, 16, h, w)
    rg, yb = r - g, 0.5 * (r + g) - b
    colourful = (np.sqrt(rg.var(axis=(2, 3)) + yb.var(axis=(2, 3)))
                 + 0.3 * np.sqrt(rg.mean(axis=(2, 3)) ** 2 + yb.mean(axis=(2, 3)) ** 2)).mean(axis=1)
    high, low = np.maximum(np.maximum(r, g), b), np.minimum(np.minimum(r, g), b)
    sat = (high - low) / np.maximum(high, 1e-6)
    hue = _hue(r, g, b, high, low)
    hue_cos = (np.cos(hue) * sat).mean(axis=(1, 2, 3))
    hue_sin = (np.sin(hue) * sat).mean(axis=(1, 2, 3))
    edges = _edge_density(block.frames[:, ::EDGE_FRAME_STRIDE, ::2, ::2, :])
    previous = state.get("last_lum")
    sequence = lum.reshape(n * f, *lum.shape[2:])
    chain = np.concatenate([sequence[:1] if previous is None else previous, sequence])
    diffs = np.abs(np.diff(chain, axis=0)).mean(axis=(1, 2)).reshape(n, f)
    hist = _histograms(chain)
    cuts = (0.5 * np.abs(np.diff(hist, axis=0)).sum(axis=1)).reshape(n, f)
    state["last_lum"] = sequence[-1:]
    return as_float32(np.column_stack([
        mean, np.sqrt(var), skew, lum.mean(axis=(1, 2, 3)), lum.std(axis=(1, 2, 3)), colourful,
        sat.mean(axis=(1, 2, 3)), sat.std(axis=(1, 2, 3)), hue_cos, hue_sin, edges,
        diffs.mean(axis=1), diffs.max(axis=1), cuts.max(axis=1)]))


def _edge_density(frames: np.ndarray) -> np.ndarray:
    """Share of pixels whose luminance gradient exceeds the threshold, per step: (n, k, h, w, 3) -> (n,)."""
    lum = frames.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) * (1 / 255)
    gx = np.diff(lum, axis=3)[:, :, :-1, :]
    gy = np.diff(lum, axis=2)[:, :, :, :-1]
    return (gx * gx + gy * gy > EDGE_THRESHOLD ** 2).mean(axis=(1, 2, 3))


def _hue(r, g, b, high, low) -> np.ndarray:
    """HSV hue in radians."""
    delta = np.maximum(high - low, 1e-6)
    hue = np.where(high == r, ((g - b) / delta) % 6,
                   np.where(high == g, (b - r) / delta + 2, (r - g) / delta + 4))
    return hue * (np.pi / 3)


def _histograms(lum: np.ndarray) -> np.ndarray:
    """Normalised 8-bin luminance histogram of each frame, shape (frames, 8)."""
    count = lum.shape[0]
    bins = np.minimum((lum * HIST_BINS).astype(np.int64), HIST_BINS - 1).reshape(count, -1)
    offsets = (np.arange(count) * HIST_BINS)[:, None]
    hist = np.bincount((bins + offsets).ravel(), minlength=count * HIST_BINS).reshape(count, HIST_BINS)
    return hist / bins.shape[1]


@register("visual-stats")
def _visual_stats() -> Extractor:
    return Extractor("visual-stats", "visual", "1", list(COLUMNS), process=visual_stats,
                     params={"pixel_stride": PIXEL_STRIDE, "edge_frame_stride": EDGE_FRAME_STRIDE,
                             "hist_bins": HIST_BINS, "edge_threshold": EDGE_THRESHOLD})
