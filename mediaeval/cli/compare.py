"""Commands that compare and combine trained runs: ``leaderboard``, ``fuse``."""
from __future__ import annotations

import click

from .options import dataset_option, load_dataset


@click.command()
@click.argument("model_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@dataset_option()
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: a list of runs, each with figures.<key> = {value, ci}, vs_best.<key> and "
                   "vs_constant.<key> = {difference, ci, verdict} (undefined values are null).")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV, one flat row per run (columns for the bounds).")
@click.option("--markdown", "as_markdown", is_flag=True,
              help="Print the table for the working notes in Markdown, with intervals.")
@click.option("--latex", "as_latex", is_flag=True,
              help="Print the table for the working notes in LaTeX (booktabs), with intervals.")
@click.option("--criterion", default=None, metavar="NAME",
              help="Rank by this criterion (valence_arousal: mse, pcc or ccc; fear: map).  Default: the runs' "
                   "own when they agree, else the subtask's (mse; map).")
@click.option("--resamples", default=2000, show_default=True, type=click.IntRange(100),
              help="Bootstrap resamples of the films.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the film resamples.")
@click.option("--plot", "plot_file", type=click.Path(dir_okay=False), default=None,
              help="Also draw it to this PNG: one panel per figure, 95 % intervals, baseline line.  A new file, "
                   "or a plot mediaeval drew; never another file.")
def leaderboard(model_dirs, dataset_root, as_json, as_csv, as_markdown, as_latex, criterion, resamples, seed,
                plot_file):
    """Rank trained runs (model folders of mediaeval train) by their out-of-fold figures.

    Per model folder, each official figure of its out-of-fold predictions (the mean over the
    development films) with its 95 % interval (percentile bootstrap over films, 2,000 resamples,
    seed 0), and, paired on the same films and film resamples, its difference to the best run
    and to the constant baseline (the training folds' mean label, on the same folds; MSE
    figures and MAP) with a verdict: better, worse or indistinguishable (the interval holds 0).
    Runs are ranked by the criterion (valence/arousal: the mean of the two MSEs; fear: MAP;
    see --criterion), those tied with the best first.  Runs holding different films are
    compared on the films common to all, with a note.  Nothing is retrained.
    A run cross-validated several times (folds_repeats) is weighed by each film's figure
    averaged over repeats, its sd over repeats shown beside the interval, and its comparisons
    resample the repeats as well as the films.  A run trained with a lockbox (mediaeval lockbox)
    shows its figures on the lockbox films apart, with the constant's: a sanity check of the
    out-of-fold figures on films no choice saw, not a ranking.
    """
    from ..leaderboard import plot_leaderboard, ranked, read_entry, to_flat_records, to_records
    from ..leaderboard_tables import format_latex, format_markdown, format_table
    from ..outputs import PLOT, OutputGuard

    if sum((as_json, as_csv, as_markdown, as_latex)) > 1:
        raise click.UsageError("choose one of --json, --csv, --markdown and --latex")
    dataset = load_dataset(dataset_root)
    guard = OutputGuard(dataset_root=dataset.root)
    if plot_file:
        guard.check(plot_file, PLOT)
    entries = [read_entry(model_dir, dataset) for model_dir in model_dirs]
    for entry in entries:
        try:
            entry.subtask.criterion_of(criterion)
        except ValueError as error:
            raise click.BadParameter(f"{entry.name}: {error}", param_hint="--criterion") from None
    board = ranked(entries, criterion, resamples, seed)
    if as_json:
        import json

        click.echo(json.dumps(to_records(board), indent=2))
    elif as_csv:
        import csv
        import io

        records = to_flat_records(board)
        buffer = io.StringIO()
        fields = list(dict.fromkeys(k for r in records for k in r))
        writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        click.echo(buffer.getvalue(), nl=False)
    elif as_markdown:
        click.echo(format_markdown(board), nl=False)
    elif as_latex:
        click.echo(format_latex(board), nl=False)
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
@click.option("--criterion", default=None, metavar="NAME",
              help="With --weights auto: what the weights optimise (valence_arousal: mse, pcc or ccc; fear: map). "
                   "Default: the subtask's (mse; map).")
def fuse(run_files, dataset_root, out, weights, apply_to, force, criterion):
    """Late fusion: the weighted mean of run files of one subtask (for fear, of the confidences,
    then the label by a threshold chosen with the weights).

    With --weights auto the weights (per column: valence, arousal) come from a grid over the
    simplex (steps of 0.1), chosen by the criterion (by default the official mean per-film MSE of
    each column; MAP for fear).
    The fused run's out-of-fold figures printed are nested: each fold's films are fused with
    weights chosen on the other films.  Writes the .json sidecar that package turns into the
    run's README entry.
    """
    from pathlib import Path

    from ..fusion import fuse_files, oof_path
    from ..run_files import run_subtask
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
    try:
        run_subtask(run_files[0]).criterion_of(criterion)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--criterion") from None
    dataset = load_dataset(dataset_root)
    fused = fuse_files(run_files, dataset, out, weights, apply_to, force, criterion)
    if fused.oof is not None:
        click.echo(f"out-of-fold fusion of the development films: {fused.oof}")
    if fused.scores is not None:
        click.echo(f"nested out-of-fold figures of the fusion: {format_scores(fused.scores)}")
    click.echo(f"fused run: {out} (description in {description_path(out).name})")
    for column, row in zip(fused.task.label_columns, fused.fusion.weights.T):
        click.echo(f"weights of {column}: " + ", ".join(f"{w:.2f}" for w in row))


COMMANDS = [leaderboard, fuse]
