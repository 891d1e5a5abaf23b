"""Plots of a run: predictions against truth per film (:func:`plot_film`), its per-film figures
(:func:`plot_summary`); and the primitives every plot is made with (:func:`new_plot`,
:func:`save_plot`, :data:`COLOURS`), which the leaderboard's plot uses too
(:func:`mediaeval.leaderboard.plot_leaderboard`).

Matplotlib with the Agg backend (no screen).  Time runs along the x axis in minutes, at the
middle of each 10 s segment (5 k + 5 s).  Colours are the same everywhere: valence blue,
arousal red, fear purple; the truth is drawn in black.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .outputs import PLOT, OutputGuard, png_metadata
from .scoring import format_scores
from .task import Subtask
from .windows import SEGMENT_SECONDS, SEGMENT_SHIFT

COLOURS = {"valence": "#1f5fbf", "arousal": "#c8372d", "fear": "#7b3294", "truth": "#222222"}


def new_plot(**kwargs):
    """A plot: a matplotlib ``Figure`` of its own (``figsize=...``), outside pyplot: nothing global
    (no backend switched, nothing kept by pyplot; a notebook's own plots are untouched); it is
    freed like any object, and ``savefig`` draws it with Agg."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def save_plot(plot, out, guard: OutputGuard | None = None) -> Path:
    """Draw ``plot`` (:func:`new_plot`) to the PNG ``out`` through ``guard`` (:mod:`mediaeval.outputs`; a PNG plot that
    mediaeval drew, marked so in its ``Software`` text, is replaced, no other file), written to a
    temporary name, then renamed."""
    out = Path(out)
    with (guard or OutputGuard()).writing(out, PLOT) as tmp:
        plot.savefig(tmp, dpi=110, format="png", metadata=png_metadata())
    return out


def segment_minutes(n_segments: int) -> np.ndarray:
    """Middle of each segment in minutes."""
    return (np.arange(n_segments) * SEGMENT_SHIFT + SEGMENT_SECONDS / 2) / 60


def _fmt(value) -> str:
    return "n/a" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.3f}"


def plot_film(film: str, prediction: np.ndarray, subtask: Subtask, truth: np.ndarray | None, figures: dict | None,
              out, guard: OutputGuard | None = None) -> Path:
    """One film: predicted (and true) valence and arousal, a panel each (a subtask of continuous values), or
    fear confidence and true fear segments (a binary subtask); ``figures``: the film's, in the titles."""
    minutes = segment_minutes(len(prediction))
    if not subtask.binary:
        plot = new_plot(figsize=(10, 5.5))
        axes = plot.subplots(len(subtask.row_columns), 1, sharex=True)
        for column, (ax, name) in enumerate(zip(axes, subtask.row_columns)):
            ax.plot(minutes, prediction[:, column], color=COLOURS[name], lw=1.8, label=f"predicted {name}")
            if truth is not None:
                ax.plot(minutes[:len(truth)], truth[:, column], color=COLOURS["truth"], lw=1.2, ls="--",
                        label=f"true {name}")
            ax.axhline(0, color="#999999", lw=0.6)
            ax.set_ylim(-1, 1)
            ax.set_ylabel(name)
            ax.legend(loc="upper right", fontsize=8)
            if figures:
                ax.set_title(f"{name}: MSE {_fmt(figures.get(f'{name}_mse'))}, PCC {_fmt(figures.get(f'{name}_pcc'))}",
                             fontsize=9, loc="left")
        axes[-1].set_xlabel("time (minutes, segment middles)")
    else:
        plot = new_plot(figsize=(10, 3.5))
        ax = plot.subplots()
        axes = [ax]
        if truth is not None:
            for k in np.flatnonzero(truth):
                start = k * SEGMENT_SHIFT / 60
                ax.axvspan(start, start + SEGMENT_SECONDS / 60, color=COLOURS["fear"], alpha=0.15, lw=0)
            ax.plot([], [], color=COLOURS["fear"], alpha=0.3, lw=8, label="true fear segments")
        ax.plot(minutes, prediction[:, 1], color=COLOURS["fear"], lw=1.8, label="predicted fear confidence")
        ax.scatter(minutes[prediction[:, 0] > 0], np.full(int((prediction[:, 0] > 0).sum()), 1.02), marker="|",
                   color=COLOURS["truth"], label="predicted fear label")
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("fear")
        ax.set_xlabel("time (minutes, segment middles)")
        ax.legend(loc="upper right", fontsize=8)
        if figures:
            ap = _fmt(figures.get("ap"))
            ap = "undefined (no fear segment in the truth)" if ap == "n/a" else ap
            ax.set_title(f"AP {ap}, F1 {_fmt(figures.get('f1'))}", fontsize=9, loc="left")
    plot.suptitle(film + ("" if truth is not None else " (no ground truth: predictions only)"), fontsize=11)
    plot.tight_layout()
    return save_plot(plot, out, guard)


def plot_summary(name: str, scores, out, guard: OutputGuard | None = None) -> Path:
    """Per-film figures of a run (:class:`~mediaeval.scoring.Scores`) as bars (MSE and PCC, or AP
    and F1: the subtask's ``film_panels``), titled by its official figures."""
    per_film = scores.per_film
    films = list(per_film)
    keys = scores.subtask.film_panels
    plot = new_plot(figsize=(max(8, 0.5 * len(films) + 4), 4.5))
    axes = plot.subplots(1, 2)
    for ax, group in zip(axes, keys):
        width = 0.8 / len(group)
        for j, key in enumerate(group):
            values = [per_film[f].get(key) for f in films]
            values = [np.nan if v is None else v for v in values]
            colour = COLOURS[next((c for c in ("valence", "arousal") if key.startswith(c)), "fear")]
            ax.bar(np.arange(len(films)) + j * width, values, width, color=colour, label=key)
        ax.set_xticks(np.arange(len(films)) + width * (len(group) - 1) / 2)
        ax.set_xticklabels(films, rotation=60, ha="right", fontsize=7)
        ax.axhline(0, color="#999999", lw=0.6)
        ax.legend(fontsize=8)
    plot.suptitle(f"{name}: per film (official: {format_scores(scores)})", fontsize=9)
    plot.tight_layout()
    return save_plot(plot, out, guard)
