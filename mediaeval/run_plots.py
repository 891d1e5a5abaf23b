"""Every plot of run files (``mediaeval plot``): per run, a plot per film and a summary of its
per-film figures (:mod:`mediaeval.plots`), and per subtask the runs compared as the leaderboard
draws them (:func:`mediaeval.leaderboard.plot_leaderboard`)."""
from __future__ import annotations

from pathlib import Path

from .leaderboard import plot_leaderboard, ranked, run_file_entry
from .outputs import PLOT, OutputGuard
from .plots import plot_film, plot_summary
from .run_files import RunFile


def plot_runs(run_paths, dataset, out_dir) -> list[Path]:
    """Every plot for the given run files: per run a folder of per-film plots and a summary,
    and per subtask with several scored runs ``comparison-<subtask>.png``, drawn as the
    leaderboard is (:func:`mediaeval.leaderboard.plot_leaderboard`: a panel per figure, 95 %
    intervals over films, the constant baseline as a line; see
    :func:`mediaeval.leaderboard.run_file_entry`).  Every output is checked by the output guard
    before anything is drawn (:func:`mediaeval.plots.save_plot`).  Returns the files written."""
    out_dir = Path(out_dir)
    runs = [(Path(path), RunFile.read(path)) for path in run_paths]
    guard = OutputGuard(dataset_root=dataset.root, inputs=[p for p, _ in runs], inputs_are="one of the run files given")
    for path, run in runs:
        for name in [*(f"{film}.png" for film in run.films), "summary.png"]:
            guard.check(out_dir / path.stem / name, PLOT)
    for subtask in {run.subtask for _, run in runs}:
        guard.check(out_dir / f"comparison-{subtask}.png", PLOT)
    written, entries = [], []
    for path, run in runs:
        folder = out_dir / path.stem
        truth = {f: dataset.films[f].labels(run.subtask) for f in run.films
                 if f in dataset.films and dataset.films[f].has_labels(run.subtask)}
        usable = {f: t for f, t in truth.items() if len(t) == len(run.films[f])}
        scores = None
        if usable:
            scores = run.subtask.score(usable, {f: run.films[f] for f in usable})
            entries.append(run_file_entry(path, scores, dataset))
        for film, values in run.films.items():
            figures = scores.per_film.get(film) if scores else None
            written.append(plot_film(film, values, run.subtask, truth.get(film), figures, folder / f"{film}.png",
                                     guard))
        if scores:
            written.append(plot_summary(path.stem, scores, folder / "summary.png", guard))
    for subtask, rows in ranked(entries).items():
        if len(rows) > 1:
            written.append(plot_leaderboard({subtask: rows}, out_dir / f"comparison-{subtask}.png", guard))
    return written
