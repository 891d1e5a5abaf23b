"""Commands about models: ``train``, ``predict``, ``lockbox``."""
from __future__ import annotations

import click

from .options import check_team, cluster_option, dataset_option, executor, load_dataset, split_commas


@click.command()
@click.argument("run_config", type=click.Path(exists=True, dir_okay=False))
@dataset_option()
@click.option("--features", "features_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="Feature folder written by mediaeval extract.")
@click.option("--out", "model_dir", required=True, type=click.Path(file_okay=False),
              help="Model folder to write: new, empty, or a model folder made by train (replaced only "
                   "once the new model is complete).")
@click.option("--team", default="team", show_default=True, callback=check_team,
              help="Team name in the out-of-fold run file's name (letters, digits, '-').")
@click.option("--overwrite", is_flag=True,
              help="Retrain even if OUT holds a model trained from this definition, team and data.")
@click.option("--jobs", default=1, type=click.IntRange(1),
              help="Models trained at once, in separate processes (results do not depend on it).")
@cluster_option()
@click.option("--lockbox", "lockbox_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A lockbox (lockbox.toml of mediaeval lockbox): its films are set aside from the "
                   "cross-validation and the final models, which then predict them once  [default: none]")
def train(run_config, dataset_root, features_dir, model_dir, team, overwrite, jobs, cluster, lockbox_file):
    """Cross-validate a run by film, then train its final model on all development films.

    Writes into OUT the out-of-fold predictions of every development film as a run file (so that
    mediaeval score gives honest development figures), the folds, the scores (per fold, mean ±
    std), and for every model its Keras file, normalisation, per-epoch log (CSV, TensorBoard).
    With folds_repeats = R > 1 in RUN_CONFIG the cross-validation is repeated on R fold splits
    (seeds seed to seed+R-1): each repeat's models and out-of-fold run file go into repeat<r>/,
    the scores are the mean over repeats with their sd, the final model is the same as with R = 1.
    With --lockbox, the lockbox films' predictions and figures go into lockbox/ and lockbox.json.
    A model trained from another definition, team or features, or on other data (a film added or
    removed, its features or labels changed), is retrained (the changes are printed). Refused
    before training starts: a fused run (fuse = [...]: made by mediaeval fuse or pipeline), an
    OUT that is not empty and not a model folder, that holds the dataset, the features or
    RUN_CONFIG, or that another train is writing, and features made from another version of a
    film's file (the film replaced since: extract or import them again).
    """
    from ..lockbox import Lockbox
    from ..runs import RunDefinition
    from ..scoring import format_scores
    from ..training import refuse_fused, train_run

    config = RunDefinition.load(run_config)
    refuse_fused(config)
    dataset = load_dataset(dataset_root)
    lockbox = None if lockbox_file is None else Lockbox.load(lockbox_file).check(dataset)
    with executor(jobs, cluster) as runner:
        result = train_run(config, dataset, features_dir, model_dir, team, overwrite, jobs=runner, echo=click.echo,
                           lockbox=lockbox)
    if result.skipped:
        click.echo(f"{model_dir} is already trained (use --overwrite to retrain)")
    click.echo(f"{config.name}: {format_scores(result.scores)}")
    click.echo(f"out-of-fold run file: {result.run_file}")
    if result.lockbox is not None:
        click.echo(f"lockbox ({len(result.lockbox.per_film)} films, scored once by the final model; a sanity "
                   f"check, not a ranking): {format_scores(result.lockbox)}")


@click.command()
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False))
@dataset_option()
@click.option("--features", "features_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="Feature folder written by mediaeval extract.")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Run file to write, named me17ei_<TEAM>_<subtask>_run<N>.txt.")
@click.option("--films", "film_names", multiple=True, default=("test",), callback=split_commas,
              help="Films: dev, test, all, or film names.")
@click.option("--force", is_flag=True,
              help="Replace OUT if it is a run file that mediaeval did not write or that was edited since (a run "
                   "file mediaeval wrote is replaced without it; another kind of file never).")
def predict(model_dir, dataset_root, features_dir, out, film_names, force):
    """Predict films with a trained model and write a run file.

    The run file's description (OUT.json) is the run definition stored in MODEL_DIR; it names
    the development films the models were trained on (in_sample_films), whose figures score
    then calls in-sample. Refused before TensorFlow starts: an incomplete model folder, features
    missing, made by other extractor versions or settings than the model was trained on, or
    made from another version of a film's file, an OUT that the output guard refuses (see
    --force; never a file under the dataset root or a model folder's own file).
    """
    from ..prediction import predict_run

    dataset = load_dataset(dataset_root)
    films = dataset.select(film_names)
    if not films:
        raise click.ClickException(f"no film selected by --films {','.join(film_names)}")
    path = predict_run(model_dir, dataset, features_dir, films, out, force=force)
    click.echo(f"wrote {path} ({len(films)} films)")


@click.command()
@dataset_option()
@click.option("--runs", "runs_dir", default="runs", show_default=True, type=click.Path(exists=True, file_okay=False),
              help="Folder of run definitions: the lockbox is written beside them, as RUNS/lockbox.toml.")
@click.option("--count", type=click.IntRange(1), default=None,
              help="Films to set aside  [default: --share of them]")
@click.option("--share", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.2, show_default=True,
              help="Share of the annotated development films to set aside (rounded, at least 1), unless --count.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0), help="Seed of the draw.")
def lockbox(dataset_root, runs_dir, count, share, seed):
    """Set aside a lockbox: development films that no choice of the submission sees.

    Draws --count films (or --share of them) from the development films, stratified for fear
    (films with a fear segment, films without, films without fear annotations: each gives its
    share, and at least one when it has 2 or more), and writes their names into
    RUNS/lockbox.toml.  From then on mediaeval pipeline (and train --lockbox) leaves them out of
    every fold, inner choice, fusion weight and final model, and the submitted models predict
    them once: the leaderboard shows their figures apart, a sanity check of the out-of-fold
    figures, not a ranking.  Choose it once, before training; an existing lockbox is never
    replaced (remove the file to choose another: every run is then trained again).
    """
    from pathlib import Path

    from ..lockbox import LOCKBOX_FILE, choose_lockbox, strata
    from ..outputs import OutputGuard

    dataset = load_dataset(dataset_root)
    chosen = choose_lockbox(dataset, count, None if count is not None else share, seed)
    path = chosen.save(Path(runs_dir) / LOCKBOX_FILE, OutputGuard(dataset_root=dataset.root))
    groups = strata(dataset)
    click.echo(f"wrote {path}: {len(chosen.films)} development films set aside: {', '.join(chosen.films)}")
    click.echo("; ".join(f"{name}: {sum(n in chosen.films for n in names)} of {len(names)}"
                         for name, names in groups.items() if names))


COMMANDS = [train, predict, lockbox]


@click.command()
@dataset_option()
@click.option("--team", required=True, callback=check_team, help="Team name (letters, digits, '-').")
@click.option("--runs", "runs_dir", default="runs", show_default=True, type=click.Path(exists=True, file_okay=False),
              help="Folder of run definitions (runs/<subtask>/run<N>.toml).")
@click.option("--features", "features_dir", default="build/features", show_default=True,
              type=click.Path(file_okay=False), help="Feature folder (missing features are extracted).")
@click.option("--models", "models_dir", default="build/models", type=click.Path(file_okay=False),
              help="Model folders, one per run (untrained runs are trained).")
@click.option("--out", "out_dir", default="submission", type=click.Path(file_okay=False),
              help="Where the test run files and the zip go.")
@click.option("--jobs", default=1, type=click.IntRange(1),
              help="Films extracted and models trained at once, in separate processes (results do not depend on it).")
@cluster_option()
@click.option("--force", is_flag=True,
              help="Overwrite test run files, descriptions and the zip in OUT that the pipeline did not "
                   "write or that were edited since (refused by default).")
@click.option("--light", is_flag=True,
              help="Train each run with its [light] settings (quicker; make demo uses them), on its [light] "
                   "features where it names some (only those are extracted; the run's description says so); "
                   "the model folders then hold the lighter runs, and a later run without --light retrains "
                   "them.")
@click.option("--lockbox/--no-lockbox", "use_lockbox", default=True, show_default=True,
              help="Honour RUNS/lockbox.toml (mediaeval lockbox) when there is one: its films are set aside from "
                   "every run and fusion and scored once at the end.  --no-lockbox ignores it (the runs trained "
                   "with it are then trained again on every film).")
def pipeline(dataset_root, team, runs_dir, features_dir, models_dir, out_dir, jobs, cluster, force, light,
             use_lockbox):
    """Everything for every run: extract, train, predict the test films, validate, package.

    A run whose model was trained from another definition, features, data or lockbox is
    retrained.  Prints the leaderboard of the runs (out-of-fold development figures beside the
    constant baseline on the same folds, and the lockbox's figures apart if RUNS/lockbox.toml
    sets one aside; see mediaeval leaderboard and mediaeval lockbox) so that the team can choose.
    """
    from pathlib import Path

    from ..leaderboard import leaderboard
    from ..leaderboard_tables import format_table
    from ..pipeline import build_submission

    dataset = load_dataset(dataset_root)
    with executor(jobs, cluster) as runner:
        zip_path, outcomes = build_submission(runs_dir, dataset, features_dir, models_dir, out_dir,
                                              team, force=force, jobs=runner, echo=click.echo, light=light,
                                              use_lockbox=use_lockbox)
    click.echo("\n" + format_table(leaderboard([Path(models_dir) / o.name for o in outcomes], dataset)))
    click.echo(f"submission: {zip_path} ({len(outcomes)} runs)")


COMMANDS.append(pipeline)
