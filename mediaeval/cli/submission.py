"""Commands about run files: ``baseline``, ``validate``, ``package``."""
from __future__ import annotations

import click

from .options import SUBTASK_CHOICE, check_team, dataset_option, load_dataset, split_commas


@click.command()
@dataset_option()
@click.option("--subtask", required=True, type=SUBTASK_CHOICE, help="Subtask of the run.")
@click.option("--films", "film_names", multiple=True, default=("test",), callback=split_commas,
              help="Films to predict: dev, test, all, or film names.")
@click.option("--train-films", multiple=True, default=("dev",), callback=split_commas,
              help="Films whose mean label is predicted.")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Run file to write, named me17ei_<TEAM>_<subtask>_run<N>.txt.")
@click.option("--force", is_flag=True,
              help="Replace OUT if it is a run file that mediaeval did not write or that was edited since (a run "
                   "file mediaeval wrote is replaced without it; another kind of file never).")
def baseline(dataset_root, subtask, film_names, train_films, out, force):
    """Write a constant-baseline run: every segment gets the training films' mean label."""
    from ..baseline import constant_predictions
    from ..outputs import OutputGuard
    from ..run_files import parse_run_name
    from ..submission import DESCRIPTION, RUN_FILE, description_path, write_run
    from ..task import get as get_subtask

    dataset = load_dataset(dataset_root)
    if parse_run_name(out) is None:
        raise click.BadParameter(f"{out}: expected a name me17ei_<TEAM>_{subtask}_run<1-5>.txt",
                                 param_hint="--out")
    guard = OutputGuard(force, dataset_root=dataset.root)
    guard.check(out, RUN_FILE)
    guard.check(description_path(out), DESCRIPTION)
    films = dataset.select(film_names)
    task = get_subtask(subtask)
    predictions = constant_predictions(dataset.select(train_films), films, task)
    write_run(out, predictions, task, {
        "description": "constant baseline: the mean label of the training films on every segment",
        "external_data": False, "features": [], "model": "constant",
        "settings": {"train_films": ",".join(train_films)}}, guard)
    click.echo(f"wrote {out} ({len(films)} films)")


@click.command()
@click.argument("run_files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@dataset_option()
@click.option("--subtask", type=SUBTASK_CHOICE, default=None,
              help="Read the runs as this subtask  [default: from each file name]")
@click.option("--quiet", "-q", is_flag=True, help="Print problems only, no summary.")
def validate(run_files, dataset_root, subtask, quiet):
    """Check run files against the dataset; print every problem as FILE:LINE: CODE message.

    Checks the file name, that every film of the run's set (development or test) is there
    exactly once, each film's number of segment lines, every value, and what made the
    organisers' scorer fail (blank lines, spaces around a film name).  Line 0 means the file as
    a whole.  At most 50 problems of each code are printed per file, then a count of the rest.
    Exit status 0 when every file is valid (warnings allowed), 1 if not.
    """
    from ..run_files import validate_run
    from ..task import get as get_subtask

    dataset = load_dataset(dataset_root)
    task = get_subtask(subtask) if subtask else None
    failed = 0
    for path in run_files:
        problems = validate_run(path, dataset, task)
        for line in problems.report():
            click.echo(line)
        failed += problems.errors > 0
        if not quiet:
            verdict = "valid" if not problems.errors else "INVALID"
            click.echo(f"{path}: {verdict} ({problems.errors} errors, {problems.warnings} warnings)", err=True)
    if failed:
        raise SystemExit(1)


@click.command()
@click.argument("run_files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--team", required=True, callback=check_team, help="Team name, as in the run file names.")
@dataset_option()
@click.option("--out", default=None, type=click.Path(dir_okay=False),
              help="Zip to write  [default: me17ei_<TEAM>.zip]")
@click.option("--force", is_flag=True,
              help="Replace an existing zip made by mediaeval package that was changed since (one left as package "
                   "wrote it is replaced without it; another file never).")
def package(run_files, team, dataset_root, out, force):
    """Validate test-set runs and pack them, with a README describing each, into one zip.

    Refuses invalid runs, runs of another team or of the development films, more than 5 runs
    per subtask and two runs with the same number.  The zip is written atomically; --out may
    not name an input nor a file under the dataset root, and replaces only a zip that
    mediaeval package wrote (one changed since needs --force).
    """
    from ..submission import package_runs

    out = out or f"me17ei_{team}.zip"
    path = package_runs(run_files, team, out, load_dataset(dataset_root), force)
    click.echo(f"wrote {path} ({len(run_files)} runs)")


COMMANDS = [baseline, validate, package]
