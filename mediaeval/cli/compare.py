"""Commands that compare and combine trained runs: ``leaderboard``, ``fuse``."""
from __future__ import annotations

import click

from .options import dataset_option, load_dataset


@click.command()
@click.argument("model_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@dataset_option()
@click.option("--json", "as_json", is_flag=True, help="Print JSON records (undefined figures are null).")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV records.")
@click.option("--plot", "plot_file", type=click.Path(dir_okay=False), default=None,
              help="Also draw it to this PNG: one panel per figure, spread over folds, baseline line.  A new "
                   "file, or a plot mediaeval drew; never another file.")
def leaderboard(model_dirs, dataset_root, as_json, as_csv, plot_file):
    """Rank trained runs (model folders of mediaeval train) by their out-of-fold figures.

    One row per model folder: the official figures of its out-of-fold predictions (per-film
    means over all development films) ± their std over folds, and the constant baseline (the
    training folds' mean label) on the same folds.  Valence/arousal is sorted by the mean of
    the two PCCs, fear by MAP; rows marked * do not beat the constant (mean MSE, or MAP).
    Nothing is retrained.
    """
    from ..leaderboard import format_table, leaderboard as build, plot_leaderboard, to_records
    from ..outputs import PLOT, OutputGuard

    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    dataset = load_dataset(dataset_root)
    guard = OutputGuard(dataset_root=dataset.root)
    if plot_file:
        guard.check(plot_file, PLOT)
    board = build(model_dirs, dataset)
    if as_json:
        import json

        click.echo(json.dumps(to_records(board), indent=2))
    elif as_csv:
        import csv
        import io

        records = to_records(board)
        buffer = io.StringIO()
        fields = list(dict.fromkeys(k for r in records for k in r))
        writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        click.echo(buffer.getvalue(), nl=False)
    else:
        click.echo(format_table(board))
    if plot_file:
        plot_leaderboard(board, plot_file, guard)
        click.echo(f"leaderboard plot: {plot_file}", err=as_json or as_csv)


@click.command()
@click.argument("run_files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@dataset_option()
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Fused run file to write (me17ei_<TEAM>_<subtask>_run<N>.txt).")
@click.option("--weights", default="auto", show_default=True, metavar="auto|W1,W2,...",
              help="auto: chosen on the runs' out-of-fold development files by nested CV over films; "
                   "or one weight per run (normalised to sum to 1).")
@click.option("--apply-to", "apply_to", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="With --weights auto: the runs' test files, in the same order as RUN_FILES; the chosen "
                   "weights fuse them into --out, and the out-of-fold fusion goes beside it (.oof.txt).")
@click.option("--force", is_flag=True,
              help="Replace --out (and its .oof.txt) if it is a run file that mediaeval did not write or that "
                   "was edited since; never another kind of file.")
def fuse(run_files, dataset_root, out, weights, apply_to, force):
    """Late fusion: the weighted mean of run files of one subtask (for fear, of the confidences,
    then the label by a threshold chosen with the weights).

    With --weights auto the weights (per column: valence, arousal) come from a grid over the
    simplex (steps of 0.1), chosen by the official figure (mean per-film MSE; MAP for fear).
    The fused run's out-of-fold figures printed are nested: each fold's films are fused with
    weights chosen on the other films.  Writes the .json sidecar that package turns into the
    run's README entry.
    """
    from pathlib import Path

    from ..fusion import fuse_files, oof_path
    from ..scoring import format_scores
    from ..submission import description_path

    out = Path(out)
    inputs = {Path(p).resolve() for p in (*run_files, *apply_to)}
    written = [out, description_path(out)] + ([oof_path(out), description_path(oof_path(out))] if apply_to else [])
    if any(p.resolve() in inputs for p in written):
        raise click.UsageError(f"--out {out} is one of the input run files, or would replace one or its description")
    if weights != "auto" and apply_to:
        raise click.UsageError("--apply-to goes with --weights auto")
    if apply_to and len(apply_to) != len(run_files):
        raise click.UsageError(f"--apply-to: expected {len(run_files)} test run files (one per RUN_FILE), "
                               f"got {len(apply_to)}")
    if weights != "auto":
        try:
            weights = [float(w) for w in weights.split(",")]
        except ValueError:
            raise click.BadParameter(f"expected auto or numbers separated by commas, got {weights!r}",
                                     param_hint="--weights") from None
    dataset = load_dataset(dataset_root)
    fused = fuse_files(run_files, dataset, out, weights, apply_to, force)
    if fused.oof is not None:
        click.echo(f"out-of-fold fusion of the development films: {fused.oof}")
    if fused.scores is not None:
        click.echo(f"nested out-of-fold figures of the fusion: {format_scores(fused.scores)}")
    click.echo(f"fused run: {out} (description in {description_path(out).name})")
    for column, row in zip(fused.task.label_columns, fused.fusion.weights.T):
        click.echo(f"weights of {column}: " + ", ".join(f"{w:.2f}" for w in row))


COMMANDS = [leaderboard, fuse]
