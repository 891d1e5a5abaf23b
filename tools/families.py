"""Families of realistic-difficulty sets (``tools/realistic.py``), each planting one thing that
real films may do and a recipe may get wrong.  A recipe designed on one family can be favoured
by it by construction; ``tools/bench_accuracy.py`` draws from every family, so that a recipe is
recommended only if it holds in all of them.

Every family builds from the same real per-second valence and arousal curves, with the same
fear annotations (a fear process of its own, correlated with low valence and high arousal:
:func:`realistic.fear_latent`), the same cue strengths (within-film correlation 0.10-0.25 at
1 Hz), slow noise and distractors; each departs from ``offsets`` in one respect (``shapes`` in
the form of its table and its cues).  None is tuned to a recipe: the knobs were set from what
the departure is, before any recipe was run on it.
"""
from __future__ import annotations

import realistic


def offsets(curves: dict, seed: int = 0) -> list[realistic.Film]:
    """(a) The set the shipped recipes were designed on.  Every column has a per-film offset (sd
    1 noise unit) and scale (log-normal, sd 0.3): each film its own look and sound, and none of a
    film's level of emotion in its features.  Cues lag the emotion by 0-3 s, monotone, at 1 Hz.
    Standardising each film by its own statistics is optimal here by construction."""
    return realistic.build(curves, realistic.Difficulty(), seed)


def levels(curves: dict, seed: int = 0) -> list[realistic.Film]:
    """(b) The features carry part of each film's level.  A film's mean valence, arousal or fear
    shows in the film means of its cue columns: each cue is shifted by 0.2-0.5 noise units per
    standard deviation of the films' mean label (a dark film looks darker throughout), and the
    per-film offsets and scales of all columns are smaller (sd 0.3, log-scale sd 0.15).  About half of
    the valence variance of these films lies between films: a recipe that standardises within
    each film throws that away, one that standardises over the training films keeps it."""
    return realistic.build(curves, realistic.Difficulty(offset_std=0.3, log_scale_std=0.15,
                                                        level_weight=(0.2, 0.5)), seed)


def leads(curves: dict, seed: int = 0) -> list[realistic.Film]:
    """(c) The features lead the labels.  Raters report an emotion a few seconds after the scene
    that caused it, so the content at t - d drives the label at t: each cue at t shows its target
    at t + d, d drawn per cue in 2-8 s (the other families: the cue lags by 0-3 s).  A recipe
    that looks only at the segment itself, or only forward, misses part of the cue."""
    return realistic.build(curves, realistic.Difficulty(delay_seconds=(-8, -2)), seed)


def shapes(curves: dict, seed: int = 0) -> list[realistic.Film]:
    """(d) Another form of table and of cue.  Rows at 10 Hz, each moved by up to 0.04 s (an
    extractor's own clock; ``mediaeval import-features`` puts any rate on the 0.533 s grid).  The
    cues cycle through three kinds: monotone as in (a); U-shaped (the square of the standardised
    target: extreme arousal or valence either way), whose linear correlation with the label is
    near 0; gated (informative only while one of two gate columns, on/off for 20 s at a time on
    average, is on, as a voice cue only while someone speaks).  A linear recipe sees the
    monotone third and little else."""
    return realistic.build(curves, realistic.Difficulty(rate_hz=10, jitter=0.4, gates=2,
                                                        cue_kinds=("monotone", "u", "gated")), seed)


FAMILIES = {"offsets": offsets, "levels": levels, "leads": leads, "shapes": shapes}
