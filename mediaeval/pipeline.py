"""From the data to the submission zip, for every run of ``runs/``: extract what is missing,
train what is not trained, predict the test films, validate, package, and tabulate the
development cross-validation figures of every run so that the team can choose.

What it writes into the output folder (test run files, their descriptions, the zip) goes through
the output guard (:mod:`mediaeval.outputs`): a file mediaeval wrote and nobody changed since is
replaced, another run file or zip only with ``force``, anything else never.  The output folder may
not overlap the model, feature or run definition folders.
"""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path

from .errors import MediaevalError
from .outputs import OutputGuard, sha256_of
from .run_files import run_filename, validate_run
from .scoring import Scores, format_scores
from .submission import DESCRIPTION, PACKAGE, RUN_FILE, description_path, package_runs
from .task import Subtask

LEGACY_RECORD = ".mediaeval-pipeline.json"   # {file name: sha256} of what an earlier pipeline wrote


@dataclass
class RunOutcome:
    name: str
    subtask: Subtask
    run: int
    description: str
    scores: Scores            # out-of-fold figures of the development films
    test_run: Path
    lockbox: Scores | None = None   # the lockbox films' figures (None: no lockbox)


def legacy_outputs(folder) -> list[Path]:
    """The files of ``folder`` that a pipeline of an earlier mediaeval recorded as written (in
    :data:`LEGACY_RECORD`, by sha256) and that are unchanged since: they count as the
    pipeline's own, so that the first rerun after an upgrade needs no ``--force``."""
    folder = Path(folder)
    try:
        hashes = json.loads((folder / LEGACY_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(hashes, dict):
        return []
    return [folder / name for name, digest in hashes.items()
            if isinstance(name, str) and (folder / name).is_file() and sha256_of(folder / name) == digest]


def check_folders(folders: dict) -> None:
    """Refuse folders (``{option: path}``) of which one holds another: each must be a folder of
    its own (the output folder inside the model folders, say, would mix run files into them)."""
    resolved = {option: Path(path).resolve() for option, path in folders.items() if path is not None}
    for (a, path_a), (b, path_b) in itertools.combinations(resolved.items(), 2):
        if path_a == path_b or path_a in path_b.parents or path_b in path_a.parents:
            raise MediaevalError(f"{a} {folders[a]} and {b} {folders[b]} overlap; give each a folder of its own")


def sets_to_extract(runs, features_dir) -> list[tuple[str, ...]]:
    """The extractor sets the pipeline extracts (each brought up to date: only films whose file,
    inputs or extractors changed are redone): the fewest that hold every run's features
    (:func:`~mediaeval.features.store.covering_sets`; a run reads its part of a larger set),
    then each run's own set where a folder of it already exists, since that is what the run
    reads first (:func:`~mediaeval.features.store.load_set`).  Sets made by import-features
    and fused runs are not extracted.

    >>> import tempfile
    >>> from mediaeval.runs import RunDefinition
    >>> folder = Path(tempfile.mkdtemp())
    >>> runs = [RunDefinition("fear", 1, "", ["organisers-visual"]),
    ...         RunDefinition("fear", 2, "", ["organisers-visual", "organisers-audio", "mine"])]
    >>> sets_to_extract(runs, folder)
    [('organisers-visual', 'organisers-audio')]
    >>> (folder / "organisers-visual").mkdir()
    >>> sets_to_extract(runs, folder)
    [('organisers-visual', 'organisers-audio'), ('organisers-visual',)]
    """
    from .features import available
    from .features.store import covering_sets, set_name

    extractable = [tuple(n for n in r.features if n in available()) for r in runs if not r.fused]
    chosen = covering_sets(s for s in extractable if s)
    own = {s for s in extractable if s and s not in chosen and (Path(features_dir) / set_name(s)).is_dir()}
    return chosen + sorted(own)


def build_submission(runs_dir, dataset, features_dir, models_dir, out_dir, team: str, force: bool = False,
                     progress: bool = True, jobs: int = 1, echo=print,
                     light: bool = False, use_lockbox: bool = True) -> tuple[Path, list[RunOutcome]]:
    """Do everything for every run under ``runs_dir``; return the zip and each run's outcome.

    Before anything starts: the folders must not overlap (:func:`check_folders`), every model
    folder is checked (see :func:`mediaeval.model_folder.check_model_folder`), and every test run
    file, description and zip to write goes through the output guard
    (:mod:`mediaeval.outputs`): one that mediaeval did not write, or that was edited since, is
    refused unless ``force``; anything else of another kind always.  Test runs are described by
    the definition stored with their model.
    ``light``: train every run with its ``[light]`` settings (:meth:`RunDefinition.lightened`).
    ``jobs``: local processes, or an :class:`~mediaeval.workers.Executor` (a Dask cluster, see
    :mod:`mediaeval.cluster`) that extracts and trains.
    ``use_lockbox``: honour ``<runs_dir>/lockbox.toml`` if there is one (:mod:`mediaeval.lockbox`):
    its films are set aside from every run's training and every fusion's choice, and scored once
    by the submitted models (``RunOutcome.lockbox``).
    """
    from .lockbox import find_lockbox
    from .runs import find_runs
    from .model_folder import check_model_folder

    lockbox = find_lockbox(runs_dir) if use_lockbox else None
    if lockbox is not None:
        lockbox.check(dataset)
        echo(f"lockbox: {len(lockbox.films)} development films set aside from every choice ({lockbox.path}): "
             f"{', '.join(lockbox.films)}")
    runs = [r.lightened() if light else r for r in find_runs(runs_dir)]
    if not runs:
        raise MediaevalError(f"{runs_dir}: no run definition (*.toml) found")
    if not dataset.test_films:
        raise MediaevalError(f"{dataset.root}: no test film (MEDIAEVAL17_NN.mp4) found to predict")
    out_dir, models_dir = Path(out_dir), Path(models_dir)
    check_folders({"--out": out_dir, "--models": models_dir, "--features": features_dir, "--runs": runs_dir})
    for config in runs:
        check_model_folder(models_dir / config.name, {"dataset": dataset.root, "features": features_dir,
                                                      "run definitions": runs_dir})
    guard = OutputGuard(force, dataset_root=dataset.root, ours=legacy_outputs(out_dir))
    zip_path = out_dir / f"me17ei_{team}.zip"
    test_runs = [out_dir / run_filename(team, c.task, c.run) for c in runs]
    _check_outputs(guard, test_runs, zip_path)
    _extract(runs, dataset, features_dir, progress, jobs, echo)
    outcomes = []
    by_number = {(c.task, c.run): t for c, t in zip(runs, test_runs)}
    for config, test_run in sorted(zip(runs, test_runs), key=lambda pair: pair[0].fused):  # fused runs last
        echo(f"run {config.name}: {config.description}")
        if config.fused:
            scores, config, boxed = _fuse(config, dataset, models_dir, team, by_number, test_run, guard, echo,
                                          lockbox)
        else:
            scores, config, boxed = _train(config, dataset, features_dir, models_dir / config.name, team, test_run,
                                           guard, progress, jobs, echo, lockbox)
        echo(f"  out-of-fold: {format_scores(scores)}")
        problems = [p for p in validate_run(test_run, dataset) if p.is_error]
        if problems:
            raise MediaevalError("\n".join(str(p) for p in problems))
        outcomes.append(RunOutcome(config.name, config.task, config.run, config.description, scores, test_run,
                                   boxed))
    zip_path = package_runs([o.test_run for o in outcomes], team, zip_path, dataset, guard=guard)
    return zip_path, outcomes


def _check_outputs(guard: OutputGuard, test_runs: list[Path], zip_path: Path) -> None:
    """Refuse, before any work, a test run file, description or zip the guard will not write
    (those ``force`` would allow named together)."""
    refused = [guard.refusal(path, kind) for run in test_runs
               for path, kind in ((run, RUN_FILE), (description_path(run), DESCRIPTION))]
    refused = [r for r in [*refused, guard.refusal(zip_path, PACKAGE)] if r is not None]
    for refusal in refused:
        if not refusal.forceable:
            raise refusal
    if refused:
        raise MediaevalError("not overwritten (not written by mediaeval, or edited since): "
                             + ", ".join(str(r.path) for r in refused) + "; move them away or use --force")


def _extract(runs, dataset, features_dir, progress: bool, jobs, echo) -> None:
    """Bring every feature set the runs need up to date (:func:`sets_to_extract`)."""
    from .features.extract import ExtractionOptions, extract_dataset

    films = [f for f in dataset.films.values() if f.video is not None]
    for features in sets_to_extract(runs, features_dir):
        echo(f"features {'+'.join(features)}")
        options = ExtractionOptions(features, progress=progress, dataset_root=dataset.root)
        report = extract_dataset(films, features_dir, options, jobs=jobs)
        if report.failed:
            raise MediaevalError("feature extraction failed for: " + "; ".join(
                f"{name}: {message.splitlines()[0]}" for name, message in report.failed.items()))


def _fuse(config, dataset, models_dir: Path, team: str, by_number: dict, test_run: Path, guard: OutputGuard, echo,
          lockbox=None):
    """A fused run: its weights chosen on its runs' out-of-fold files, applied to their test
    runs (and to their lockbox films); its out-of-fold scores, definition and lockbox scores."""
    from .fusion import apply_to_test, fuse_trained
    from .model_folder import LOCKBOX_SCORES

    folder, scores, fusion = fuse_trained(config, dataset, models_dir, team, lockbox)
    apply_to_test(config, fusion, [by_number[(config.task, n)] for n in config.fuse], test_run, config.describe(),
                  guard)
    echo("  weights: " + "; ".join(", ".join(f"{w:.2f}" for w in column) for column in fusion.weights.T))
    return scores, config, None if lockbox is None else Scores.read(folder / LOCKBOX_SCORES)


def _train(config, dataset, features_dir, model_dir: Path, team: str, test_run: Path, guard: OutputGuard,
           progress: bool, jobs, echo, lockbox=None):
    """A trained run: trained (unless already; with ``lockbox``'s films set aside), then the test
    films predicted; its out-of-fold scores, the definition stored with its model and its
    lockbox's scores."""
    from .prediction import predict_run
    from .training import train_run

    result = train_run(config, dataset, features_dir, model_dir, team, progress=progress, jobs=jobs,
                       echo=lambda text: echo(f"  {text}"), lockbox=lockbox)
    if result.skipped:
        echo(f"  already trained in {model_dir}")
    predict_run(model_dir, dataset, features_dir, dataset.test_films, test_run, guard=guard)
    return result.scores, result.config, result.lockbox
