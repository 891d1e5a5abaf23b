"""The ``extract`` command."""
from __future__ import annotations

from pathlib import Path

import click

from .options import cluster_option, dataset_option, executor, load_dataset, split_commas


@click.command()
@dataset_option(required=False)
@click.option("--out", "features_dir", type=click.Path(file_okay=False),
              help="Feature folder; files go to OUT/<extractor set>/<Film>.npz.")
@click.option("--extractor", "extractors", multiple=True, default=("visual-stats", "audio-stats"),
              callback=split_commas, help="Extractors, concatenated in this order.")
@click.option("--films", "film_names", multiple=True, default=("all",), callback=split_commas,
              help="Films: dev, test, all, or film names.")
@click.option("--jobs", default=1, type=click.IntRange(1),
              help="Films extracted in parallel processes, one thread each (give your cores).")
@cluster_option()
@click.option("--overwrite", is_flag=True, help="Redo films whose feature file is complete.")
@click.option("--video-backend", type=click.Choice(["pyav", "decord"]), default="pyav",
              help="Video decoder; decord's memory grows with the file's size, so pyav is the default.")
@click.option("--weights", "weights", multiple=True, metavar="[EXTRACTOR=]PATH",
              help="Weights file of c3d or vgg19-audio (the prefix may be left out when only one of "
                   "the chosen extractors takes weights).  Repeatable.")
@click.option("--setting", "setting_items", multiple=True, metavar="EXTRACTOR.NAME=VALUE",
              help="An extractor setting, e.g. musicnn.context_seconds=5 (see --list).  Repeatable.")
@click.option("--list", "list_only", is_flag=True, help="List the extractors and their settings, and exit.")
def extract(dataset_root, features_dir, extractors, film_names, jobs, cluster, overwrite, video_backend, weights,
            setting_items, list_only):
    """Extract features of films on the 16/30 s step grid, one file per film.

    Films whose complete feature file exists are skipped (rerun after an interruption to go
    on); a film that fails is reported and the others go on.  Exit status 1 if any film failed.
    A film whose file changed (size or first/last MiB) since its features were made is redone.
    The pretrained extractors (i3d, i3d-224, musicnn, musicnn-vgg) need
    `make install-pretrained`; c3d and vgg19-audio need --weights.

    A truncated or damaged film whose video or audio stops more than max(2 s, 2 % of its
    duration) before its end fails by name; a smaller gap is a warning stored with its features.
    A film shorter than one step (16/30 s) gets 0 rows and a warning; a rotated film (display
    matrix or rotate tag) a warning (features use the frames as stored).

    Temporary files left by killed runs are removed.  SIGTERM stops as Ctrl-C does ("Aborted!",
    exit status 1); the workers of --jobs die with this process, even when it is killed.  With
    --cluster each film is a task of the Dask cluster (see README, "On a cluster").
    """
    from ..features import available, get_extractor
    from ..features.extract import ExtractionOptions, extract_dataset
    from ..features.registry import settings_of

    if list_only:
        for name in available():
            extractor = get_extractor(name)
            dim = "from data" if extractor.dim is None else str(extractor.dim)
            options = ", ".join(f"{k}={v}" for k, v in settings_of(name).items())
            click.echo(f"{name:18s} {extractor.modality:10s} dim {dim:>9s}  version {extractor.version}"
                       + (f"  settings: {options}" if options else ""))
        return
    if not dataset_root or not features_dir:
        raise click.UsageError("--dataset and --out are required (except with --list)")
    for name in extractors:
        if name not in available():
            raise click.BadParameter(f"unknown extractor {name!r}; available: {', '.join(available())}",
                                     param_hint="--extractor")
    settings = parse_settings(extractors, weights, setting_items)
    dataset = load_dataset(dataset_root)
    films = dataset.select(film_names)
    try:
        with executor(jobs, cluster) as runner:
            options = ExtractionOptions(extractors, settings=settings, video_backend=video_backend,
                                        overwrite=overwrite, progress=True, dataset_root=dataset.root)
            report = extract_dataset(films, features_dir, options, runner)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    for path in report.removed:
        click.echo(f"removed {path}, left by an interrupted run", err=True)
    click.echo(f"{len(report.written)} films extracted, {len(report.skipped)} already complete, "
               f"{len(report.failed)} failed; features in {features_dir}")
    for name, message in report.failed.items():
        click.echo(f"failed: {name}: {message}", err=True)
    if report.failed:
        raise SystemExit(1)


def parse_settings(extractors, weights, setting_items) -> dict:
    """``--weights`` and ``--setting`` values as ``{extractor: {setting: value}}``."""
    from ..features.registry import settings_of

    settings: dict = {}
    takes_weights = [name for name in extractors if "weights" in settings_of(name)]
    for item in weights:
        name, sep, path = item.partition("=")
        if not sep:
            if len(takes_weights) != 1:
                raise click.BadParameter(
                    f"{item!r}: say which extractor the weights are for (EXTRACTOR=PATH); chosen "
                    f"extractors taking weights: {', '.join(takes_weights) or 'none'}", param_hint="--weights")
            name, path = takes_weights[0], item
        if name not in takes_weights:
            raise click.BadParameter(f"{name!r} is not a chosen extractor that takes weights "
                                     f"({', '.join(takes_weights) or 'none chosen'})", param_hint="--weights")
        if not Path(path).is_file():
            raise click.BadParameter(f"{path}: no such file", param_hint="--weights")
        settings.setdefault(name, {})["weights"] = path
    for item in setting_items:
        key, sep, value = item.partition("=")
        name, dot, setting = key.rpartition(".")
        if not sep or not dot:
            raise click.BadParameter(f"{item!r}: expected EXTRACTOR.NAME=VALUE", param_hint="--setting")
        if name not in extractors:
            raise click.BadParameter(f"{name!r} is not among the chosen extractors", param_hint="--setting")
        settings.setdefault(name, {})[setting] = value
    return settings


@click.command("import-features")
@click.argument("src", type=click.Path(exists=True, file_okay=False))
@dataset_option()
@click.option("--out", "features_dir", required=True, type=click.Path(file_okay=False),
              help="Feature folder; files go to OUT/<NAME>/<Film>.npz, as extract writes them.")
@click.option("--name", required=True, help="Name of the feature set, as a run names it: features = [\"NAME\"].")
@click.option("--films", "film_names", multiple=True, default=("all",), callback=split_commas,
              help="Films: dev, test, all, or film names.")
@click.option("--overwrite", is_flag=True, help="Redo films whose source file is unchanged.")
def import_features(src, dataset_root, features_dir, name, film_names, overwrite):
    """Bring your own features: put per-film tables at any rate on the 16/30 s step grid.

    SRC holds one file per film: <Film>.csv (header time,<name>,<name>,... with time in
    seconds, strictly increasing, the instant each row describes) or <Film>.npz (arrays times,
    values and optionally columns).  Each step gets the mean of the rows whose time falls
    inside it, or when none does, the row nearest to the step's middle.  A rerun skips films
    whose source and video are unchanged (their hashes are stored).  Every chosen film needs a file, and
    every file a film of the dataset; a faulty file is named with its line (exit status 1).
    """
    from ..features import available
    from ..features.imported import check_set_name, import_features as run_import

    from ..errors import MediaevalError

    try:
        check_set_name(name)
    except MediaevalError as error:
        raise click.BadParameter(str(error), param_hint="--name") from None
    if name in available():
        raise click.BadParameter(f"{name!r} is the name of an extractor; choose another", param_hint="--name")
    dataset = load_dataset(dataset_root)
    report = run_import(src, dataset, features_dir, name, dataset.select(film_names), overwrite)
    click.echo(f"{len(report.written)} films imported, {len(report.skipped)} unchanged; features in "
               f"{Path(features_dir) / name} (a run names them as features = [\"{name}\"])")


COMMANDS = [extract, import_features]
