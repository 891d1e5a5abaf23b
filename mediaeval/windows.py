"""The time grid: 0.533 s model steps and 10 s annotation segments every 5 s.

Step ``i`` covers ``[i * STEP_SECONDS, (i + 1) * STEP_SECONDS)``: 16 frames at 30 fps, or
23,520 audio samples at 44.1 kHz.  Segment ``k`` covers ``[5 k, 5 k + 10)`` seconds; only whole
segments exist.  5 s is 9.375 steps, so every conversion here is computed from times in seconds,
never from step counts.

Conversions in both directions are overlap-weighted means: a segment is the mean of the steps
it overlaps, each weighted by the seconds they share; a step is the mean of the segments it
overlaps, weighted the same way.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import sparse

FRAMES_PER_STEP = 16
VIDEO_FPS = 30
AUDIO_RATE = 44_100
SAMPLES_PER_STEP = 23_520
STEP_SECONDS = FRAMES_PER_STEP / VIDEO_FPS
SEGMENT_SECONDS = 10.0
SEGMENT_SHIFT = 5.0

# Durations read from containers carry rounding noise (a 60 s film may say 59.99999999):
# counts are taken with this tolerance so that such a film still has its last whole window.
_EPS = 1e-6

__all__ = [
    "STEP_SECONDS", "SEGMENT_SECONDS", "SEGMENT_SHIFT", "FRAMES_PER_STEP", "VIDEO_FPS",
    "AUDIO_RATE", "SAMPLES_PER_STEP", "step_count", "segment_count", "step_starts",
    "segment_starts", "overlap_seconds", "steps_to_segments", "segments_to_steps",
    "steps_to_n_segments", "segments_to_n_steps",
]


def _check_duration(duration: float) -> float:
    duration = float(duration)
    if not math.isfinite(duration) or duration < 0:
        raise ValueError(f"duration must be a finite number of seconds >= 0, got {duration!r}")
    return duration


def step_count(duration: float) -> int:
    """Number of whole 16/30 s steps in a film of ``duration`` seconds.

    >>> step_count(10.0), step_count(16 / 30), step_count(0.5)
    (18, 1, 0)
    """
    duration = _check_duration(duration)
    return int(math.floor(duration / STEP_SECONDS + _EPS))


def segment_count(duration: float) -> int:
    """Number of whole 10 s segments, one every 5 s: ``floor((duration - 10) / 5) + 1``, 0 below 10 s.

    >>> segment_count(590), segment_count(119), segment_count(9.99), segment_count(14.99)
    (117, 22, 0, 1)
    """
    duration = _check_duration(duration)
    if duration + _EPS < SEGMENT_SECONDS:
        return 0
    return int(math.floor((duration - SEGMENT_SECONDS) / SEGMENT_SHIFT + _EPS)) + 1


def step_starts(n_steps: int) -> np.ndarray:
    """Start times in seconds of the first ``n_steps`` steps, shape (n_steps,)."""
    return np.arange(n_steps, dtype=np.float64) * STEP_SECONDS


def segment_starts(n_segments: int) -> np.ndarray:
    """Start times in seconds of the first ``n_segments`` segments, shape (n_segments,)."""
    return np.arange(n_segments, dtype=np.float64) * SEGMENT_SHIFT


def overlap_seconds(n_segments: int, n_steps: int) -> sparse.csr_matrix:
    """Seconds shared by each segment and each step.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (n_segments, n_steps)
        Entry ``[k, i]`` is the length of ``[5k, 5k+10) ∩ [i s, (i+1) s)`` with ``s = 16/30``.
        Each segment overlaps at most 20 steps, so the matrix stays small for any film length.
    """
    rows, cols = [], []
    seg_start = segment_starts(n_segments)
    first = np.floor(seg_start / STEP_SECONDS).astype(np.int64)
    last = np.ceil((seg_start + SEGMENT_SECONDS) / STEP_SECONDS).astype(np.int64) - 1
    last = np.minimum(last, n_steps - 1)
    for k in range(n_segments):
        if first[k] <= last[k]:
            idx = np.arange(first[k], last[k] + 1)
            rows.append(np.full(idx.size, k))
            cols.append(idx)
    if not rows:
        return sparse.csr_matrix((n_segments, n_steps))
    rows = np.concatenate(rows)
    cols = np.concatenate(cols)
    step_begin = cols * STEP_SECONDS
    seg_begin = rows * SEGMENT_SHIFT
    shared = np.minimum(seg_begin + SEGMENT_SECONDS, step_begin + STEP_SECONDS) - np.maximum(seg_begin, step_begin)
    keep = shared > 1e-12
    return sparse.csr_matrix((shared[keep], (rows[keep], cols[keep])), shape=(n_segments, n_steps))


def _as_rows(values, expected: int, what: str, duration: float) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim not in (1, 2):
        raise ValueError(f"{what} must have shape (n,) or (n, d), got {values.shape}")
    if values.shape[0] != expected:
        raise ValueError(
            f"a film of {duration:g} s has {expected} {what}, got values for {values.shape[0]}")
    return values


def _weighted_mean(weights: sparse.csr_matrix, values: np.ndarray) -> np.ndarray:
    totals = np.asarray(weights.sum(axis=1)).ravel()
    # not reshape(n, -1): -1 is ambiguous for 0 rows (a film shorter than one step has no segment)
    flat = values.reshape(values.shape[0], int(np.prod(values.shape[1:])))
    out = weights @ flat
    with np.errstate(invalid="ignore", divide="ignore"):
        out = out / totals[:, None]
    return out.reshape((weights.shape[0],) + values.shape[1:]), totals


def steps_to_segments(values, duration: float) -> np.ndarray:
    """Overlap-weighted mean of the steps inside each segment.

    Parameters
    ----------
    values : array_like, shape (n_steps,) or (n_steps, d)
        One value (or vector) per step; ``n_steps == step_count(duration)``.
    duration : float
        Film duration in seconds.

    Returns
    -------
    numpy.ndarray, shape (n_segments,) or (n_segments, d)
        ``n_segments == segment_count(duration)``.  The last segment may reach past the last
        whole step; it is then the mean over the part that steps cover.
    """
    values = _as_rows(values, step_count(duration), "steps", duration)
    return steps_to_n_segments(values, segment_count(duration))


def steps_to_n_segments(values, n_segments: int) -> np.ndarray:
    """:func:`steps_to_segments` for a given number of segments, with as many steps as ``values`` has.

    For films whose annotations count another number of segments than their video's duration
    implies: segments past the last step take the last covered segment's value.
    """
    values = np.asarray(values, dtype=np.float64)
    out, totals = _weighted_mean(overlap_seconds(n_segments, values.shape[0]), values)
    covered = np.flatnonzero(totals > 0)
    if covered.size and covered[-1] < n_segments - 1:
        out[covered[-1] + 1:] = out[covered[-1]]
    return out


def segments_to_steps(values, duration: float) -> np.ndarray:
    """Overlap-weighted mean of the segments covering each step (labels onto the step grid).

    Parameters
    ----------
    values : array_like, shape (n_segments,) or (n_segments, d)
        One label (or vector) per segment; ``n_segments == segment_count(duration)``.
    duration : float
        Film duration in seconds.

    Returns
    -------
    numpy.ndarray, shape (n_steps,) or (n_steps, d)
        Steps after the end of the last segment take the last segment's value.
    """
    values = _as_rows(values, segment_count(duration), "segments", duration)
    if len(values) == 0:
        raise ValueError(f"a film of {duration:g} s has no whole 10 s segment to take labels from")
    return segments_to_n_steps(values, step_count(duration))


def segments_to_n_steps(values, n_steps: int) -> np.ndarray:
    """:func:`segments_to_steps` onto a given number of steps, with as many segments as ``values`` has."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        raise ValueError("no segment to take labels from")
    out, totals = _weighted_mean(overlap_seconds(len(values), n_steps).T.tocsr(), values)
    out[totals <= 0] = values[-1]
    return out
