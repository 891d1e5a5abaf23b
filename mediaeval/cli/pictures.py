"""Commands that draw: ``plot``, ``render``."""
from __future__ import annotations

from pathlib import Path

import click

from .options import dataset_option, load_dataset


@click.command()
@click.argument("run_files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@dataset_option()
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder for the PNG files.")
def plot(run_files, dataset_root, out_dir):
    """Plot run files: one PNG per film (predicted against true curves, per-film MSE and PCC or AP),
    a summary of the per-film figures per run, and with several runs of a subtask
    comparison-<subtask>.png drawn as leaderboard --plot draws: one panel per figure (MSE and PCC
    never share an axis), each run's official value with its 95 % interval over films (bootstrap,
    2,000 resamples, seed 0), and the constant baseline as a dashed line: on the run's folds when
    the run file lies in its model folder (made by mediaeval train); for other run files, the
    development films' mean label when they hold test films, and none on development films.

    Films without ground truth (test films) get their predictions alone.
    """
    from ..run_plots import plot_runs

    written = plot_runs(run_files, load_dataset(dataset_root), out_dir)
    click.echo(f"wrote {len(written)} plots to {out_dir}")


@click.command()
@click.argument("film", type=click.Path(exists=True, dir_okay=False))
@click.option("--run", "run_file", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Valence/arousal run file holding the film.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output mp4 (H.264).")
@click.option("--style", type=click.Choice(["rgb", "vignette"]), default="rgb",
              help="rgb: red with arousal, blue with valence, two bars; vignette: bright area with valence, "
                   "greyscale flicker when aroused.")
@click.option("--film-name", default=None, help="The film's name in the run file  [default: FILM's file name]")
@click.option("--threshold", default=0.3, type=float, help="Arousal above which the vignette style flickers.")
@click.option("--overwrite", is_flag=True,
              help="Replace OUT when it exists and is not a previous render (never the film itself).")
def render(film, run_file, out, style, film_name, threshold, overwrite):
    """Render a film's predicted valence and arousal onto its picture (the emotion amplifier).

    Values are interpolated between segment middles; the audio is kept; the film is streamed.
    OUT is refused when it is FILM itself; an existing OUT that is not a previous render
    (tagged in its metadata) is replaced only with --overwrite.
    """
    from ..render import render as render_film
    from ..run_files import RunFile
    from ..task import VALENCE_AROUSAL

    run = RunFile.read(run_file)
    name = film_name or Path(film).stem
    if run.subtask is not VALENCE_AROUSAL:   # the picture is coloured by valence and arousal
        raise click.ClickException(f"{run_file}: expected a valence_arousal run, got a {run.subtask} run")
    if name not in run.films:
        raise click.ClickException(f"{run_file}: holds no film named {name} (use --film-name)")
    path = render_film(film, run.films[name], out, style, threshold, overwrite=overwrite)
    click.echo(f"wrote {path}")


COMMANDS = [plot, render]
