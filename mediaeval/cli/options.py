"""Options and helpers shared by the commands (Click only: importing this stays instant)."""
from __future__ import annotations

import click

from ..task import SUBTASKS

SUBTASK_CHOICE = click.Choice(list(SUBTASKS))


def split_commas(ctx, param, values):
    """A repeatable option whose values may also be comma-separated: ``-f A,B -f C`` -> (A, B, C).

    Values given that hold no name (``--films ','``) are a usage error (exit status 2), not an
    empty selection.
    """
    if values is None:
        return ()
    if isinstance(values, str):
        values = (values,)
    parts = tuple(part.strip() for value in values for part in value.split(",") if part.strip())
    if values and not parts:
        raise click.BadParameter(f"expected one or more comma-separated names, got {', '.join(map(repr, values))}")
    return parts


def check_team(ctx, param, value):
    """A ``--team`` value usable in run file names (letters, digits and '-'), else a usage error."""
    from ..run_files import TEAM_NAME

    if value is not None and not TEAM_NAME.fullmatch(value):
        raise click.BadParameter(f"{value!r}: expected letters, digits and '-' only (it goes into file names "
                                 f"me17ei_<TEAM>_...)")
    return value


def dataset_option(required: bool = True):
    return click.option("--dataset", "dataset_root", required=required,
                        type=click.Path(exists=True, file_okay=False),
                        help="Root folder of the task's data, as unzipped (any depth).")


def load_dataset(root):
    from ..dataset import Dataset

    dataset = Dataset.discover(root)
    if not dataset.films:
        raise click.ClickException(f"{root}: no film or annotation file found under this folder")
    return dataset


def cluster_option():
    return click.option("--cluster", default=None, envvar="MEDIAEVAL_CLUSTER", metavar="ADDRESS",
                        help="Run the jobs (one per film, one per model) on the Dask cluster whose scheduler is at "
                             "ADDRESS (tcp://host:8786; or set MEDIAEVAL_CLUSTER) instead of --jobs local "
                             "processes.  Its workers must see the dataset and output folders at the same "
                             "paths (a shared file system) and run the same mediaeval; both are checked first.  "
                             "Needs pip install 'mediaeval[cluster]'.")


def executor(jobs: int, cluster):
    """The executor of a command's jobs (:func:`mediaeval.cluster.executor_for`); its notes go
    to stderr."""
    from ..cluster import executor_for

    return executor_for(jobs, cluster, echo=lambda text: click.echo(text, err=True))
