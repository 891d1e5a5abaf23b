"""Commands about the task's data: ``sample``."""
from __future__ import annotations

from pathlib import Path

import click


def _parse_durations(ctx, param, value: str):
    try:
        parts = [float(p) for p in value.split(":")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or not 10 <= parts[0] <= parts[1]:
        raise click.BadParameter(f"expected SECONDS or MIN:MAX with 10 <= MIN <= MAX, got {value!r}")
    return tuple(parts)


@click.command()
@click.argument("dest", type=click.Path(file_okay=False))
@click.option("--films", default=8, type=click.IntRange(1), help="Development films (with annotations).")
@click.option("--test-films", default=3, type=click.IntRange(0), help="Test films (no annotations).")
@click.option("--duration", default="60:180", callback=_parse_durations,
              help="Film duration in seconds: S, or MIN:MAX to draw each film's uniformly.")
@click.option("--seed", default=0, type=click.IntRange(0), help="Seed of curves, labels, pictures and sound.")
@click.option("--jobs", default=2, type=click.IntRange(1), help="Films encoded in parallel.")
@click.option("--test-labels", is_flag=True, help="Also write the test films' ground truth.")
@click.option("--organisers/--no-organisers", default=True, show_default=True,
              help="Also write the organisers' features (per-second visual, per-segment openSMILE audio).")
@click.option("--overwrite", is_flag=True,
              help="Write into DEST even if it is not empty, when it is a sample made by mediaeval sample (never "
                   "into another folder).")
def sample(dest, films, test_films, duration, seed, jobs, test_labels, organisers, overwrite):
    """Write a small synthetic dataset in the official layout to DEST.

    Real H.264/AAC mp4 films at the real set's frame rates (23.976 to 30 fps), whose picture
    and sound follow smooth random valence/arousal curves, with official-format annotation
    files for the development films (Sample_NN) and none for the test films (MEDIAEVAL17_NN),
    and, as the task's zips had them, the organisers' features of every film computed from its
    pictures and sound (the real files' folders, formats and dimensions; README, "The sample
    dataset", gives their cost).
    """
    from ..sample import check_destination, make_sample

    dest = Path(dest)
    check_destination(dest, overwrite)
    plans = make_sample(dest, films, test_films, duration, seed, jobs, test_labels, organisers=organisers)
    minutes = sum(p.duration for p in plans) / 60
    click.echo(f"wrote {films} development and {test_films} test films ({minutes:.1f} min) to {dest}")


COMMANDS = [sample]


@click.command()
@click.option("--dataset", "dataset_root", required=True, type=click.Path(exists=True, file_okay=False),
              help="Root folder of the task's data, as unzipped (any depth).")
def inspect(dataset_root):
    """List what was found under the dataset root: every film with its video, duration, frame
    rate, annotation files and segment counts; say what is missing or inconsistent.

    Reads every annotation file, so a malformed one is reported here (exit status 1).  A video
    that cannot be read is listed as UNREADABLE with its error and the listing goes on; exit
    status 1 at the end if any is.
    """
    from .options import load_dataset

    dataset = load_dataset(dataset_root)
    problems, unreadable, hours = [], [], {"dev": 0.0, "test": 0.0}
    click.echo(f"{'film':24s} {'set':4s} {'video':5s} {'duration':>9s} {'fps':>7s} {'va':>4s} {'fear':>4s} "
               f"{'segments':>8s}")
    for film in dataset.summaries():
        problems += film.problems
        if film.unreadable:
            unreadable.append(film.name)
        else:
            hours[film.split] += film.duration / 3600
        duration = "UNREADABLE" if film.unreadable else f"{film.duration:9.2f}"
        fps = f"{film.fps:7.3f}" if film.fps is not None else "      -"
        segments = f"{film.segments:8d}" if film.segments is not None else f"{'-':>8s}"
        counts = ["-" if n is None else str(n) for n in film.label_counts.values()]
        click.echo(f"{film.name:24s} {film.split:4s} {'yes' if film.has_video else 'NO':5s} {duration:>9s} {fps} "
                   f"{counts[0]:>4s} {counts[1]:>4s} {segments}")
    click.echo(f"\n{len(dataset.dev_films)} development films ({hours['dev']:.2f} h), {len(dataset.test_films)} test "
               f"films ({hours['test']:.2f} h)"
               + (f", {len(unreadable)} unreadable videos not counted in the hours" if unreadable else ""))
    for problem in problems:
        click.echo(f"note: {problem}")
    if unreadable:
        raise click.ClickException(f"{len(unreadable)} unreadable videos: {', '.join(unreadable)}")


COMMANDS.append(inspect)
