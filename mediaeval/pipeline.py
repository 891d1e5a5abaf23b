"""From the data to the submission zip, for every run of ``runs/``: extract what is missing,
train what is not trained, predict the test films, validate, package, and tabulate the
development cross-validation figures of every run so that the team can choose."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import MediaevalError

TABLE_KEYS = {"valence_arousal": ("valence_mse", "valence_pcc", "arousal_mse", "arousal_pcc"),
              "fear": ("map", "accuracy", "precision", "recall", "f1")}


@dataclass
class RunOutcome:
    name: str
    subtask: str
    run: int
    description: str
    scores: dict
    test_run: Path


def build_submission(runs_dir, dataset, features_dir, models_dir, out_dir, team: str, force: bool = True,
                     progress: bool = True, jobs: int = 1, echo=print) -> tuple[Path, list[RunOutcome]]:
    """Do everything for every run under ``runs_dir``; return the zip and each run's outcome."""
    from .features.extract import extract_dataset
    from .features.store import covering_sets
    from .runs import find_runs
    from .submission import package_runs, run_filename, validate_run
    from .training import predict_run, train_run

    runs = find_runs(runs_dir)
    if not runs:
        raise MediaevalError(f"{runs_dir}: no run definition (*.toml) found")
    if not dataset.test_films:
        raise MediaevalError(f"{dataset.root}: no test film (MEDIAEVAL17_NN.mp4) found to predict")
    out_dir, models_dir = Path(out_dir), Path(models_dir)
    films = [f for f in dataset.films.values() if f.video is not None]
    for features in covering_sets(r.features for r in runs):  # a run reads its part of a larger set
        echo(f"features {'+'.join(features)}")
        report = extract_dataset(films, features_dir, list(features), dataset.root, progress=progress, jobs=jobs)
        if report.failed:
            raise MediaevalError("feature extraction failed for: " + "; ".join(
                f"{name}: {message.splitlines()[0]}" for name, message in report.failed.items()))
    outcomes = []
    for config in runs:
        model_dir = models_dir / config.name
        echo(f"run {config.name}: {config.description}")
        result = train_run(config, dataset, features_dir, model_dir, team, progress=progress, jobs=jobs)
        if result.skipped:
            echo(f"  already trained in {model_dir}")
        test_run = out_dir / run_filename(team, config.subtask, config.run)
        predict_run(model_dir, dataset, features_dir, dataset.test_films, test_run)
        problems = [p for p in validate_run(test_run, dataset) if p.is_error]
        if problems:
            raise MediaevalError("\n".join(str(p) for p in problems))
        outcomes.append(RunOutcome(config.name, config.subtask, config.run, config.description, result.scores,
                                   test_run))
    zip_path = package_runs([o.test_run for o in outcomes], team, out_dir / f"me17ei_{team}.zip", dataset,
                            force=force)
    return zip_path, outcomes


def figures_table(outcomes: list[RunOutcome]) -> str:
    """Development cross-validation figures of every run: official (all films) and mean ± std over folds."""
    lines = []
    for subtask, keys in TABLE_KEYS.items():
        rows = [o for o in outcomes if o.subtask == subtask]
        if not rows:
            continue
        lines.append(f"{subtask}: out-of-fold figures on the development films (mean ± std over folds)")
        lines.append("  run  " + "".join(f"{k:>22s}" for k in keys) + "  description")
        for o in sorted(rows, key=lambda r: r.run):
            cells = []
            for key in keys:
                value, mean, std = (o.scores["official"].get(key), o.scores.get("fold_mean", {}).get(key),
                                    o.scores.get("fold_std", {}).get(key))
                text = "n/a" if value is None else f"{value:.3f}"
                if mean is not None and std is not None:
                    text += f" ({mean:.3f}±{std:.3f})"
                cells.append(f"{text:>22s}")
            lines.append(f"  {o.run:<4d} " + "".join(cells) + f"  {o.description}")
        lines.append("")
    return "\n".join(lines)
