"""Accuracy on development sets of realistic difficulty, and which claims about it replicate:
recipes of ``runs/`` beside two references, over several draws of data and of folds.

A *generator* (``--generator``; today ``realistic``, ``tools/realistic.py``) builds a set from the
real LIRIS-ACCEDE per-second curves in ``../shared/data/liris-accede-continuous/``: official
annotation files (10 s means every 5 s; fear where valence is low and arousal high) and one
per-second feature table per film, whose few cues relate to the curves weakly (within-film r
0.10-0.25 for arousal, <= 0.15 for valence at 1 Hz), late (0-3 s), non-linearly, film by film
(offsets and scales), in slow noise, among 39 distractor columns (48 in all).  The tables enter
through ``mediaeval import-features`` as the set ``realistic``; each recipe is trained on it (its
``features`` replaced) by ``mediaeval train``'s own code, with the same folds and out-of-fold
protocol.

A *draw* is one generator seed (the noise, cues and columns of the set; the films and labels
stay) and one fold seed (the run's ``seed``: its folds and models).  By default 3 x 3 = 9 draws,
and the recipes the bench trains are the per-segment ridge / logistic runs of ``runs/`` (the
others with ``--only``, ``make bench-accuracy ONLY=...``; a fused run brings the runs it fuses).

References, on the same folds and scored by the same code:

* ``constant``: the training folds' mean label (valence/arousal), or their fear share as the
  confidence of every segment (fear);
* ``plain``: 10 s segment means of the step features, z-scored within each film, a ridge
  regression (logistic for fear, classes balanced) whose strength is chosen by inner
  cross-validation over the training films only, and a Gaussian smoothing of each film's
  predicted curve (sigma 10 s, fixed), computed with scikit-learn.

Per recipe and figure it prints the mean ± sd over draws, and against the plain reference and
the constant (on the constant's figures: MSE, MAP), paired on the same films: in how many draws
the recipe is better, and the difference pooled over draws with its 95 % interval (a percentile
bootstrap over films, the same film resamples in every draw: :func:`mediaeval.evidence.pooled_difference`).
A claim *holds* when the recipe is better in at least 7 of 9 draws (that share of any other
number) and the pooled interval excludes 0; the claims that hold are listed last.  A provenance
line (commit, seeds, library versions, CPU) comes first.  Seeded and deterministic.

Usage: ``python tools/bench_accuracy.py [--runs runs] [--only valence_arousal_run1,...] [--jobs 2]
[--generator realistic] [--generator-seeds 0,1,2] [--fold-seeds 0,1,2]`` (``make bench-accuracy``);
``--from-draws build/bench-accuracy/draws.json`` prints the tables of an earlier run again.
Exit status 0 with a note when the curves are absent.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")   # TensorFlow's C++ notices bury the tables
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_claims  # noqa: E402
import realistic  # noqa: E402

FEATURE_SET = "realistic"
SMOOTH_SEGMENTS = 2.0          # Gaussian sigma of the plain reference: 10 s, in 5 s segments
GENERATORS = {"realistic": realistic.build}   # name -> build(curves, seed=...) -> films (tools/realistic.py)


def _zscore(a: np.ndarray) -> np.ndarray:
    std = a.std(axis=0)
    return (a - a.mean(axis=0)) / np.where(std > 1e-12, std, 1.0)


def _segment_inputs(film) -> np.ndarray:
    from mediaeval.windows import steps_to_n_segments

    return _zscore(steps_to_n_segments(film.x.astype(np.float64), film.n_segments))


def _inner_splits(groups: np.ndarray, n: int = 5):
    from sklearn.model_selection import GroupKFold

    return list(GroupKFold(n_splits=min(n, len(np.unique(groups)))).split(np.zeros(len(groups)), groups=groups))


def plain_reference(films, folds, subtask: str) -> dict:
    """Out-of-fold run rows of the plain recipe: {film: rows}."""
    from scipy.ndimage import gaussian_filter1d
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.model_selection import GridSearchCV

    from mediaeval.task import fear_rows

    inputs = {f.name: _segment_inputs(f) for f in films}
    oof = {}
    for held in folds:
        train = [f for f in films if f.name not in held]
        x = np.concatenate([inputs[f.name] for f in train])
        groups = np.concatenate([np.full(f.n_segments, i) for i, f in enumerate(train)])
        splits = _inner_splits(groups)
        if subtask == "valence_arousal":
            y = np.concatenate([f.labels for f in train])
            models = [RidgeCV(alphas=np.logspace(-1, 5, 13), cv=splits).fit(x, y[:, j]) for j in range(2)]
            for name in held:
                raw = np.column_stack([m.predict(inputs[name]) for m in models])
                oof[name] = np.clip(gaussian_filter1d(raw, SMOOTH_SEGMENTS, axis=0, mode="nearest"), -1, 1)
        else:
            y = np.concatenate([f.labels for f in train]).astype(int)
            search = GridSearchCV(LogisticRegression(class_weight="balanced", max_iter=2000),
                                  {"C": np.logspace(-4, 1, 6)}, cv=splits, scoring="average_precision")
            with warnings.catch_warnings():   # inner folds without a fear segment score AP 0: expected
                warnings.filterwarnings("ignore", message="No positive class found")
                model = search.fit(x, y)
            for name in held:
                confidence = model.predict_proba(inputs[name])[:, 1]
                oof[name] = fear_rows(np.clip(gaussian_filter1d(confidence, SMOOTH_SEGMENTS, mode="nearest"), 0, 1))
    return oof


def constant_reference(films, folds, subtask: str) -> dict:
    from mediaeval.task import fear_rows

    oof = {}
    for held in folds:
        train = np.concatenate([f.labels for f in films if f.name not in held])
        for f in (f for f in films if f.name in held):
            if subtask == "valence_arousal":
                oof[f.name] = np.tile(train.mean(axis=0), (f.n_segments, 1))
            else:
                oof[f.name] = fear_rows(np.full(f.n_segments, float(train.mean())))
    return oof


def selected_runs(runs, only: str) -> tuple[list, list[str]]:
    """The runs to train, fused runs last: ``only`` (comma-separated names) or, by default, the
    per-segment ridge / logistic runs; a fused run brings the runs it fuses.  Returns the runs and
    the names added for fused runs."""
    names = {n for n in only.split(",") if n}
    known = {c.name for c in runs}
    if names - known:
        raise SystemExit(f"bench-accuracy: --only names unknown runs: {', '.join(sorted(names - known))}")
    chosen = [c for c in runs if (c.name in names if names else
                                  not c.fused and c.model.type == "ridge")]
    added = sorted({f"{c.subtask}_run{n}" for c in chosen for n in c.fuse} - {c.name for c in chosen})
    chosen += [c for c in runs if c.name in added]
    return sorted(chosen, key=lambda c: (c.fused, c.name)), added


def _draw_set(args, curves, generator_seed: int):
    """The set of one generator seed, written and imported under ``--work``: (dataset, features)."""
    from mediaeval.dataset import Dataset
    from mediaeval.features.imported import import_features

    films = GENERATORS[args.generator](curves, seed=generator_seed)
    print(f"{args.generator} set, seed {generator_seed}:", realistic.describe(films), flush=True)
    work = args.work / f"generator{generator_seed}"
    realistic.write(films, work / "data", work / "tables")
    dataset = Dataset.discover(work / "data")
    import_features(work / "tables", dataset, work / "features", FEATURE_SET, progress=False)
    return dataset, work / "features"


def _one_draw(args, runs, dataset, features, generator_seed: int, fold_seed: int) -> dict:
    """``{subtask: {recipe: (Scores, seconds)}}`` of one draw: the references, then the runs."""
    from mediaeval.folds import make_folds
    from mediaeval.fusion import fuse_trained
    from mediaeval.scoring import score_folds
    from mediaeval.film_data import load_films
    from mediaeval.task import SUBTASKS
    from mediaeval.training import train_run

    results: dict[str, dict] = {"valence_arousal": {}, "fear": {}}
    for subtask in results:
        data = load_films(dataset, features, [FEATURE_SET], dataset.dev_films, SUBTASKS[subtask], with_labels=True)
        folds = make_folds([f.name for f in data], 5, fold_seed)
        truth = {f.name: f.labels for f in data}
        for name, reference in (("constant", constant_reference), ("plain", plain_reference)):
            started = time.perf_counter()
            scores = score_folds(truth, reference(data, folds, subtask), folds, SUBTASKS[subtask])
            results[subtask][name] = (scores, time.perf_counter() - started)
    models = args.work / f"generator{generator_seed}" / f"folds{fold_seed}"
    for config in runs:
        started = time.perf_counter()
        print(f"  generator seed {generator_seed}, fold seed {fold_seed}: {'fusing' if config.fused else 'training'} "
              f"{config.name} ...", flush=True)
        config = dataclasses.replace(config, seed=fold_seed, path=None,
                                     features=config.features if config.fused else [FEATURE_SET])
        if config.fused:
            _, scores, _ = fuse_trained(config, dataset, models, "bench")
        else:
            scores = train_run(config, dataset, features, models / config.name, "bench", overwrite=True,
                               progress=False, jobs=args.jobs).scores
        results[config.subtask][config.name] = (scores, time.perf_counter() - started)
    return results


def _arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--curves", type=Path, default=realistic.CURVES, help="real per-second curves")
    parser.add_argument("--work", type=Path, default=Path("build/bench-accuracy"), help="working folder")
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="run definitions")
    parser.add_argument("--only", default="", help="comma-separated run names (default: the per-segment ridge / "
                                                   "logistic runs)")
    parser.add_argument("--jobs", type=int, default=2, help="models trained at once")
    parser.add_argument("--generator", default="realistic", choices=sorted(GENERATORS), help="what builds the sets")
    parser.add_argument("--generator-seeds", default="0,1,2", help="seeds of the sets (comma-separated)")
    parser.add_argument("--fold-seeds", default="0,1,2", help="seeds of the folds and models (comma-separated)")
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples of the films")
    parser.add_argument("--from-draws", type=Path, default=None,
                        help="print the tables again from the draws.json of an earlier run (nothing is trained)")
    args = parser.parse_args(argv)
    args.generator_seeds = [int(s) for s in args.generator_seeds.split(",") if s]
    args.fold_seeds = [int(s) for s in args.fold_seeds.split(",") if s]
    return args


def _report(draws: list, resamples: int) -> dict:
    """Print the tables and the claims of ``draws`` (each ``((generator seed, fold seed), {subtask:
    {recipe: (Scores, seconds)}})``); returns the summary."""
    summary = {}
    for subtask in ("valence_arousal", "fear"):
        summary[subtask] = bench_claims.summarise(subtask, [d[subtask] for _, d in draws], resamples)
        print()
        print(bench_claims.format_summary(subtask, summary[subtask], len(draws)))
    print()
    print(bench_claims.format_claims(summary, len(draws)))
    return summary


def _from_draws(path: Path, resamples: int) -> int:
    """The tables of an earlier run, from its ``draws.json``."""
    from mediaeval.scoring import Scores

    data = json.loads(path.read_text(encoding="utf-8"))
    print(data["provenance"] + f" (printed again from {path})")
    draws = [((d["generator_seed"], d["fold_seed"]),
              {sub: {n: (Scores.from_json(v["scores"]), v["seconds"]) for n, v in d[sub].items()}
               for sub in ("valence_arousal", "fear")}) for d in data["draws"]]
    _report(draws, resamples)
    return 0


def main(argv=None) -> int:
    args = _arguments(argv)
    if args.from_draws is not None:
        return _from_draws(args.from_draws, args.resamples)
    if not args.curves.is_dir():
        print(f"bench-accuracy: skipped, the real curves are not at {args.curves}")
        return 0
    from mediaeval.runs import find_runs

    started = time.perf_counter()
    runs, added = selected_runs(find_runs(args.runs), args.only)
    provenance = bench_claims.provenance(args)
    print(provenance, flush=True)
    if added:
        print(f"also trained, as fused runs need them: {', '.join(added)}")
    curves = realistic.read_curves(args.curves)
    draws = []
    for generator_seed in args.generator_seeds:
        dataset, features = _draw_set(args, curves, generator_seed)
        for fold_seed in args.fold_seeds:
            draws.append(((generator_seed, fold_seed),
                          _one_draw(args, runs, dataset, features, generator_seed, fold_seed)))
    summary = _report(draws, args.resamples)
    print(f"\nbench-accuracy: {len(draws)} draws in {(time.perf_counter() - started) / 60:.1f} min")
    (args.work / "draws.json").write_text(json.dumps(
        {"provenance": provenance, "summary": summary,
         "draws": [{"generator_seed": g, "fold_seed": s,
                    **{sub: {n: {"scores": sc.to_json(), "seconds": t} for n, (sc, t) in rows.items()}
                       for sub, rows in d.items()}} for (g, s), d in draws]}, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
