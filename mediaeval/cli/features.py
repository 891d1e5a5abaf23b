"""The ``extract`` command."""
from __future__ import annotations

import click

from .options import dataset_option, load_dataset, split_commas


@click.command()
@dataset_option(required=False)
@click.option("--out", "features_dir", type=click.Path(file_okay=False),
              help="Feature folder; files go to OUT/<extractor set>/<Film>.npz.")
@click.option("--extractor", "extractors", multiple=True, default=("visual-stats", "audio-stats"),
              callback=split_commas, help="Extractors, concatenated in this order.")
@click.option("--films", "film_names", multiple=True, default=("all",), callback=split_commas,
              help="Films: dev, test, all, or film names.")
@click.option("--jobs", default=1, type=click.IntRange(1), help="Films extracted in parallel processes.")
@click.option("--overwrite", is_flag=True, help="Redo films whose feature file is complete.")
@click.option("--video-backend", type=click.Choice(["pyav", "decord"]), default="pyav",
              help="Video decoder; decord's memory grows with the file's size, so pyav is the default.")
@click.option("--list", "list_only", is_flag=True, help="List the extractors and exit (needs no other option).")
def extract(dataset_root, features_dir, extractors, film_names, jobs, overwrite, video_backend, list_only):
    """Extract features of films on the 16/30 s step grid, one file per film.

    Films whose complete feature file exists are skipped (rerun after an interruption to go
    on); a film that fails is reported and the others go on.  Exit status 1 if any film failed.
    """
    from ..features import available, get_extractor
    from ..features.extract import extract_dataset

    if list_only:
        for name in available():
            extractor = get_extractor(name)
            dim = "from data" if extractor.dim is None else str(extractor.dim)
            click.echo(f"{name:18s} {extractor.modality:10s} dim {dim:>9s}  version {extractor.version}")
        return
    if not dataset_root or not features_dir:
        raise click.UsageError("--dataset and --out are required (except with --list)")
    for name in extractors:
        if name not in available():
            raise click.BadParameter(f"unknown extractor {name!r}; available: {', '.join(available())}",
                                     param_hint="--extractor")
    dataset = load_dataset(dataset_root)
    films = dataset.select(film_names)
    report = extract_dataset(films, features_dir, extractors, dataset.root, overwrite, jobs,
                             video_backend=video_backend)
    click.echo(f"{len(report.written)} films extracted, {len(report.skipped)} already complete, "
               f"{len(report.failed)} failed; features in {features_dir}")
    for name, message in report.failed.items():
        click.echo(f"failed: {name}: {message}", err=True)
    if report.failed:
        raise SystemExit(1)


COMMANDS = [extract]
