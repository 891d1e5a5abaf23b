"""Which trained run is best: out-of-fold figures of model folders beside the constant baseline.

A row per model folder written by ``mediaeval train`` (or ``pipeline``): its official
out-of-fold figures (per-film means over every development film) with their mean ± standard
deviation over folds, and the constant baseline on the *same* folds (each fold's films predicted
by the mean label of the other folds' films), both scored by the same code.  Nothing is
retrained: it reads ``scores.json``, ``folds.json`` and ``run.toml``, and the annotations.

Order, per subtask: valence/arousal by the mean of the two official PCCs (higher first; a run
with an undefined PCC last), fear by MAP.  A run *beats the constant* when its mean of the
valence and arousal MSE is lower than the constant's (valence/arousal), or its MAP higher
(fear); rows that do not are marked.  Both rules, and the figures shown, are the subtask's
(:mod:`mediaeval.task`).  A model trained on other labels than the dataset's, or on films it
lacks, is not compared with its constant, and a note says why; so does a note for a model folder
that records no digest of its labels (it cannot be checked: :func:`mediaeval.provenance.check_labels`).
"""
from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from pathlib import Path

from .errors import DataError
from .scoring import Scores
from .task import get as get_subtask


@dataclass(frozen=True)
class Entry:
    """One trained run and the constant baseline on its folds (``None``: no honest baseline);
    ``note``: what the reader must know of it (its labels are not the dataset's, say), and
    ``comparable``: whether its figures are the dataset's, to compare with the constant."""

    name: str
    subtask: str
    description: str
    path: Path
    scores: Scores
    baseline: Scores | None
    note: str | None = None
    comparable: bool = True

    def figure(self, key: str, which: str = "official"):
        """``which``: official, fold_mean or fold_std; of the run (or of ``baseline:...``); ``None``
        when undefined or absent."""
        source = self.baseline if which.startswith("baseline:") else self.scores
        return None if source is None else source.figure(key, which.split(":")[-1])

    @property
    def rank_value(self) -> float:
        return get_subtask(self.subtask).rank_value(self.figure)

    @property
    def beats_constant(self) -> bool | None:
        """Whether it beats the constant; ``None`` when its figures are not comparable with it."""
        if not self.comparable:
            return None
        return get_subtask(self.subtask).beats(self.figure, lambda key: self.figure(key, "baseline:official"))


def read_entry(model_dir, dataset) -> Entry:
    """The figures of one model folder, and the constant baseline on its folds, with what
    :func:`~mediaeval.provenance.check_labels` says of the labels it was trained on (no baseline
    when they are not the dataset's, or a film of its folds has none)."""
    from .baseline import constant_predictions
    from .folds import read_folds
    from .provenance import check_labels
    from .runs import load_run
    from .scoring import score_folds
    from .training import read_manifest

    model_dir = Path(model_dir)
    if not (model_dir / "scores.json").exists():
        raise DataError(model_dir, "expected a model folder made by mediaeval train; scores.json is missing")
    scores = Scores.read(model_dir / "scores.json")
    folds = read_folds(model_dir / "folds.json")
    config = load_run(model_dir / "run.toml")
    films = [n for fold in folds for n in fold]
    check = check_labels(read_manifest(model_dir), dataset, config.subtask, config.name, films)
    if not check.comparable:
        return Entry(config.name, config.subtask, config.description, model_dir, scores, None, check.note, False)
    truth = {n: dataset.films[n].labels(config.subtask) for n in films}
    prediction = {}
    for held in folds:
        train = [dataset.films[n] for n in films if n not in held]
        prediction.update(constant_predictions(train, [dataset.films[n] for n in held], config.subtask))
    baseline = score_folds(truth, prediction, folds, config.subtask)
    return Entry(config.name, config.subtask, config.description, model_dir, scores, baseline, check.note)


def run_file_entry(path, scores, dataset) -> Entry:
    """The entry of a run file, for comparing run files (``mediaeval plot``).

    A run file of a model folder (the run file its manifest names) is that folder's entry
    (:func:`read_entry`: out-of-fold figures ± std over folds, the constant on the same folds),
    named after the file.  Any other run file (a test-set prediction, the output of ``mediaeval
    fuse``) has no folds: its own figures ``scores`` (a :class:`~mediaeval.scoring.Scores` of
    the films it was scored on) without spread, and the constant baseline only where it is honest
    without folds: when every scored film is a test film, the mean label of the labelled
    development films (as ``mediaeval baseline --films test``); none for development films of
    unknown folds.
    """
    import dataclasses

    from .training import read_manifest

    path = Path(path)
    manifest = read_manifest(path.parent)
    if manifest is not None and manifest.get("state") == "complete" and manifest.get("run_file") == path.name:
        return dataclasses.replace(read_entry(path.parent, dataset), name=path.stem)
    return Entry(path.stem, scores.subtask, "", path, scores,
                 _test_baseline(sorted(scores.per_film), scores.subtask, dataset))


def _test_baseline(films: list[str], subtask: str, dataset) -> Scores | None:
    """The constant (mean label of the labelled development films) scored on ``films``, if they
    are all test films and some development film is labelled; else ``None``."""
    from .baseline import constant_predictions
    from .dataset import TEST

    train = [f for f in dataset.dev_films if f.has_labels(subtask)]
    if not films or not train or any(dataset.films[f].split != TEST for f in films):
        return None
    prediction = constant_predictions(train, [dataset.films[f] for f in films], subtask)
    return get_subtask(subtask).score({f: dataset.films[f].labels(subtask) for f in films}, prediction)


def ranked(entries) -> dict[str, list[Entry]]:
    """``{subtask: entries, best first}``: valence/arousal by the mean of the two PCCs, fear by MAP."""
    out: dict[str, list[Entry]] = {}
    for entry in entries:
        out.setdefault(entry.subtask, []).append(entry)
    return {s: sorted(rows, key=lambda e: (-e.rank_value, e.name)) for s, rows in sorted(out.items())}


def leaderboard(model_dirs, dataset) -> dict[str, list[Entry]]:
    """``{subtask: entries, best first}`` of the given model folders."""
    return ranked(read_entry(model_dir, dataset) for model_dir in model_dirs)


def _cell(value, spread=None) -> str:
    text = "—" if value is None else f"{value:.3f}"
    return text if spread is None or value is None else f"{text} ±{spread:.3f}"


def format_table(board: dict[str, list[Entry]]) -> str:
    """Plain-text leaderboard: per subtask, a row per run and the constant on the same folds."""
    lines = []
    for subtask, entries in board.items():
        keys = get_subtask(subtask).table_keys
        lines.append(f"{subtask}: out-of-fold figures on the development films; value is the official "
                     f"(per-film mean over all films), ± the std over folds")
        lines.append(f"  {'run':28s}" + "".join(f"{k:>19s}" for k in keys) + "  vs constant")
        for e in entries:
            cells = "".join(f"{_cell(e.figure(k), e.figure(k, 'fold_std')):>19s}" for k in keys)
            verdict = {True: "beats it", False: "* does not beat it", None: "not compared (see note)"}[e.beats_constant]
            lines.append(f"  {e.name:28s}{cells}  {verdict}")
        base = next((e for e in entries if e.baseline is not None), None)   # none: no run is compared
        if base is not None:
            cells = "".join(f"{_cell(base.figure(k, 'baseline:official'), base.figure(k, 'baseline:fold_std')):>19s}"
                            for k in keys)
            lines.append(f"  {'constant (training mean)':28s}{cells}"
                         + ("" if len(entries) == 1 else "  (folds of the first run)" if base is entries[0]
                            else f"  (folds of {base.name})"))
        lines.append("")
    lines.append("PCC and AP of a constant are undefined (—).  Sorted by the mean of the two PCCs "
                 "(valence/arousal) or MAP (fear).")
    lines += [f"note: {e.note}" for entries in board.values() for e in entries if e.note]
    return "\n".join(lines)


def to_records(board: dict[str, list[Entry]]) -> list[dict]:
    """One flat record per run: name, subtask, figures, fold std, baseline figures, beats_constant."""
    records = []
    for subtask, entries in board.items():
        for rank, e in enumerate(entries, start=1):
            record = {"rank": rank, "subtask": subtask, "run": e.name, "path": str(e.path),
                      "description": e.description, "beats_constant": e.beats_constant, "note": e.note}
            for key in get_subtask(subtask).table_keys:
                record[key] = e.figure(key)
                record[f"{key}_fold_std"] = e.figure(key, "fold_std")
                record[f"constant_{key}"] = e.figure(key, "baseline:official")
            records.append(record)
    return records


def has_folds(entry: Entry) -> bool:
    """Whether the entry's figures have a spread over folds (a model folder's; not a plain run file's)."""
    return bool(entry.scores.fold_std)


def _plot_title(board: dict[str, list[Entry]]) -> str:
    entries = [e for rows in board.values() for e in rows]
    plain = [e.name for e in entries if not has_folds(e)]
    if not plain:
        return "out-of-fold figures (official value ± std over folds), constant on the same folds"
    lines = [f"official figures (± std over folds for the runs of model folders); no spread for "
             f"{len(plain)} run file(s) without folds (marked *)"]
    without = [e.name for e in entries if not has_folds(e) and not e.baseline]
    if without:
        lines.append(f"no constant for {', '.join(without)}: development films of unknown folds")
    return "\n".join(lines)


def leaderboard_figure(board: dict[str, list[Entry]]):
    """The figure of :func:`plot_leaderboard` (a matplotlib ``Figure`` of its own, outside pyplot).

    One panel per figure (MSE and PCC never share an axis), titled by the figure's key: each
    run's official value as a point with its spread over folds (± std; none for a run file
    without folds, whose name is marked ``*``).  The constant baseline is a dashed line across
    the panel when the runs share it, else a dashed mark on each run's row (runs on other folds
    or films); a run without an honest constant has none.
    """
    from .plots import new_figure

    panels = [(s, k) for s, entries in board.items() for k in get_subtask(s).panel_keys]
    # wrapped to the figure's width (about 13 characters an inch): one panel of fear is narrow
    title = "\n".join(textwrap.fill(line, int(13 * 3.6 * len(panels))) for line in _plot_title(board).split("\n"))
    fig = new_figure(figsize=(3.6 * len(panels), 0.45 * max(len(e) for e in board.values()) + 2.2
                              + 0.2 * title.count("\n")))
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, (subtask, key) in zip(axes[0], panels):
        entries = board[subtask][::-1]
        names = [e.name + ("" if has_folds(e) else " *") for e in entries]
        values = [e.figure(key) for e in entries]
        spreads = [e.figure(key, "fold_std") or 0.0 for e in entries]
        ys = range(len(names))
        ax.errorbar([math.nan if v is None else v for v in values], ys, xerr=spreads, fmt="o", color="#1f5fbf",
                    ecolor="#7f9fd0", capsize=3)
        bases = [e.figure(key, "baseline:official") for e in entries]
        known = [b for b in bases if b is not None]
        if known and len(known) == len(bases) and max(known) - min(known) <= 1e-12:
            ax.axvline(known[0], color="#c8372d", ls="--", lw=1.2, label="constant")
        elif known:
            rows = [(y, b) for y, b in zip(ys, bases) if b is not None]
            ax.vlines([b for _, b in rows], [y - 0.4 for y, _ in rows], [y + 0.4 for y, _ in rows],
                      color="#c8372d", ls="--", lw=1.2, label="constant (of each run)")
        if known:
            ax.legend(fontsize=7, loc="best")
        if key.endswith("pcc"):
            ax.axvline(0, color="#999999", lw=0.6)
        ax.set_yticks(list(ys))
        ax.set_ylim(-0.6, len(names) - 0.4)
        ax.set_yticklabels(names, fontsize=7)
        ax.set_title(f"{key}{' (lower is better)' if key.endswith('mse') else ''}", fontsize=9)
        ax.grid(axis="x", color="#dddddd", lw=0.6)
    fig.suptitle(title, fontsize=10 if "\n" not in title else 8)
    fig.tight_layout()
    return fig


def plot_leaderboard(board: dict[str, list[Entry]], out, guard=None) -> Path:
    """Draw :func:`leaderboard_figure` to the PNG ``out`` (:func:`mediaeval.plots.save_plot`:
    through ``guard``, written to a temporary name, then renamed)."""
    from .plots import save_plot

    return save_plot(leaderboard_figure(board), out, guard)
