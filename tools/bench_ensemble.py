"""Which models should predict test films: the final model (trained on every development film,
its post-processing the median of its fold models' choices, never checked on a film) or the
mean of the fold models (each post-processed as chosen on its own held-out films)?

On a realistic set (``tools/families.py``, one family and generator seed), the 20 films are
split into ``--groups`` groups; for each, a run (by default valence_arousal run 4, the LSTM, with
``--model`` settings replacing some of its ``[model]`` ones) is trained by ``mediaeval train``'s
code on the other films, and the group's films, which no model of it saw, are predicted both
ways.  Printed: per figure, each way's mean over the films and the paired difference (folds
minus final) with its 95 % interval (percentile bootstrap over films, :mod:`mediaeval.evidence`),
and the provenance line.

Usage: ``PYTHONPATH=. python tools/bench_ensemble.py [--family offsets] [--generator-seed 0]
[--groups 4] [--run runs/valence_arousal/run4.toml] [--model lstm_units=64 --model epochs=15]``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_claims  # noqa: E402
import families  # noqa: E402
import realistic  # noqa: E402

FEATURE_SET = "realistic"


def _setting(text: str) -> tuple[str, object]:
    key, value = text.split("=", 1)
    return key, json.loads(value)


def _arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", default="offsets", choices=list(families.FAMILIES))
    parser.add_argument("--generator-seed", type=int, default=0)
    parser.add_argument("--groups", type=int, default=4, help="groups of test films (default: 4)")
    parser.add_argument("--run", type=Path, default=Path("runs/valence_arousal/run4.toml"))
    parser.add_argument("--model", type=_setting, action="append", default=[],
                        help="KEY=JSON, a [model] setting replacing the run's (repeatable)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("build/bench-ensemble"))
    parser.add_argument("--resamples", type=int, default=2000)
    return parser.parse_args(argv)


def _write(films, root: Path):
    """The set of ``films`` written and imported under ``root``: (dataset, features)."""
    from mediaeval.dataset import Dataset
    from mediaeval.features.imported import import_features

    realistic.write(films, root / "data", root / "tables")
    dataset = Dataset.discover(root / "data")
    import_features(root / "tables", dataset, root / "features", FEATURE_SET, progress=False)
    return dataset, root / "features"


def _predicted(model_dir: Path, config, films) -> dict:
    """``{"final": rows, "folds": rows}`` per film: by the final model(s), by the fold models' mean."""
    from mediaeval.families import family_of
    from mediaeval.prediction import ensemble_dirs, ensemble_rows

    out = {}
    for way in ("final", "folds"):
        chosen = dataclasses.replace(config, ensemble=way)
        per_model = [family_of(config.model).load(d, config.task).predictions(films)
                     for d in ensemble_dirs(model_dir, chosen)]
        out[way] = {f.name: ensemble_rows([m[i] for m in per_model], config.task) for i, f in enumerate(films)}
    return out


def main(argv=None) -> int:
    from mediaeval import evidence
    from mediaeval.film_data import load_films
    from mediaeval.runs import RunDefinition
    from mediaeval.training import train_run

    args = _arguments(argv)
    config = RunDefinition.load(args.run)
    model = {"type": config.model.type, **config.model.as_dict(), **dict(args.model)} if hasattr(
        config.model, "as_dict") else dict(args.model)
    from mediaeval.runs import _settings

    config = dataclasses.replace(config, model=_settings(args.run, model, config.subtask), features=[FEATURE_SET],
                                 path=None)
    print(bench_claims.provenance(argparse.Namespace(family=[args.family], generator_seeds=[args.generator_seed],
                                                     fold_seeds=[config.seed], resamples=args.resamples,
                                                     jobs=args.jobs)) + f"; run {args.run}, model {dict(args.model)}")
    films = families.FAMILIES[args.family](realistic.read_curves(realistic.CURVES), seed=args.generator_seed)
    full, full_features = _write(films, args.work / "all")
    names = sorted(f.name for f in films)
    groups = [names[g::args.groups] for g in range(args.groups)]
    truth, rows = {}, {"final": {}, "folds": {}}
    started = time.perf_counter()
    for g, test in enumerate(groups):
        dataset, features = _write([f for f in films if f.name not in test], args.work / f"group{g}")
        result = train_run(config, dataset, features, args.work / f"group{g}" / "model", "bench", overwrite=True,
                           progress=False, jobs=args.jobs)
        held = load_films(full, full_features, [FEATURE_SET], [full.films[n] for n in test], config.task, True)
        for way, predicted in _predicted(result.model_dir, config, held).items():
            rows[way].update(predicted)
        truth.update({f.name: f.labels for f in held})
        print(f"group {g + 1}/{len(groups)} done ({(time.perf_counter() - started) / 60:.1f} min)", flush=True)
    scores = {way: config.task.score(truth, rows[way]) for way in rows}
    films_sorted = sorted(truth)
    samples = evidence.film_resamples(len(films_sorted), args.resamples, evidence.SEED)
    print(f"{len(films_sorted)} test films, each predicted by models that never saw it; folds minus final, paired:")
    for key in config.task.table_keys:
        source = config.task.film_figure(key)
        values = {w: np.array([scores[w].per_film[f].get(source, np.nan) for f in films_sorted]) for w in scores}
        difference, low, high = evidence.pooled_difference([(values["folds"], values["final"])], samples)
        print(f"  {key:20s} final {evidence.film_mean(values['final']):.4f}  "
              f"folds {evidence.film_mean(values['folds']):.4f}"
              f"  difference {difference:+.4f} [{low:+.4f}, {high:+.4f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
