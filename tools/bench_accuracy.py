"""Accuracy on development sets of realistic difficulty, and which claims about it replicate:
recipes of ``runs/`` beside three references, over several draws of data and of folds, in every
family of sets.

A *family* (``--family``, repeatable; by default all of ``tools/families.py``: ``offsets``,
``levels``, ``leads``, ``shapes``) builds sets from the real LIRIS-ACCEDE per-second curves in
``../shared/data/liris-accede-continuous/`` (``tools/realistic.py``): official annotation files
(10 s means every 5 s; fear from a process of its own, correlated with low valence and high
arousal, the same in every set) and one feature table per film whose few cues relate to the
labels weakly (within-film r 0.10-0.25 at 1 Hz), film by film, in slow noise, among distractor
columns; each family plants one more thing a recipe may get wrong (per-film offsets, levels
carried by the features, features leading the labels, 10 Hz jittered rows with U-shaped and
gated cues).  The tables enter through ``mediaeval import-features`` as the set ``realistic``;
each recipe is trained on it (its ``features`` replaced) by ``mediaeval train``'s own code,
with the same folds and out-of-fold protocol.

A *draw* is one generator seed (the noise, cues and columns of the set; the films and labels
stay) and one fold seed (the run's ``seed``: its folds and models).  By default 3 x 2 = 6 draws
per family, 24 in all, and the recipes the bench trains are the per-segment ridge / logistic
runs of ``runs/`` (the others with ``--only``, ``make bench-accuracy ONLY=...``; a fused run
brings the runs it fuses).

References, on the same folds and scored by the same code:

* ``constant``: the training folds' mean label (valence/arousal), or their fear share as the
  confidence of every segment (fear);
* ``plain_film`` and ``plain_global``: 10 s segment means of the step features, z-scored within
  each film (``plain_film``) or by the training films' means and standard deviations
  (``plain_global``), a ridge regression (logistic for fear, classes balanced) whose strength is
  chosen by inner cross-validation over the training films only, and a Gaussian smoothing of
  each film's predicted curve (sigma 10 s, fixed), computed with scikit-learn.

Per family, recipe and figure it prints the mean ± sd over draws, and against each reference (on
the constant's figures only: MSE, MAP), paired on the same films: in how many draws the recipe
is better, and the difference pooled over draws with its 95 % interval (a percentile bootstrap
over films, the same film resamples in every draw: :func:`mediaeval.evidence.pooled_difference`).
A claim *holds* in a family when the recipe is better in at least 7 of 9 draws (that share of
any other number: 5 of 6) and the pooled interval excludes 0.  Last, per recipe, what holds
across families (:func:`bench_claims.format_across`): a recipe is *recommended* only if in every
family it beats the constant on some figure and is reliably worse than no reference on any.
A provenance line (commit, families, seeds, library versions, CPU) comes first.  Seeded and
deterministic.

Usage: ``python tools/bench_accuracy.py [--runs runs] [--only valence_arousal_run1,...] [--jobs 2]
[--family levels ...] [--generator-seeds 0,1,2] [--fold-seeds 0,1]`` (``make bench-accuracy``);
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
import families  # noqa: E402
import realistic  # noqa: E402

FEATURE_SET = "realistic"
SMOOTH_SEGMENTS = 2.0          # Gaussian sigma of the plain references: 10 s, in 5 s segments
SUBTASKS = ("valence_arousal", "fear")


def _zscore(a: np.ndarray, mean=None, std=None) -> np.ndarray:
    """``a`` standardised by ``mean`` and ``std`` (by default its own, per column)."""
    mean = a.mean(axis=0) if mean is None else mean
    std = a.std(axis=0) if std is None else std
    return (a - mean) / np.where(std > 1e-12, std, 1.0)


def _segment_means(film) -> np.ndarray:
    from mediaeval.windows import steps_to_n_segments

    return steps_to_n_segments(film.x.astype(np.float64), film.n_segments)


def _inner_splits(groups: np.ndarray, n: int = 5):
    from sklearn.model_selection import GroupKFold

    return list(GroupKFold(n_splits=min(n, len(np.unique(groups)))).split(np.zeros(len(groups)), groups=groups))


def _fit_plain(x: np.ndarray, y: np.ndarray, groups: np.ndarray, subtask: str):
    """The plain learner on the training segments: ``predict(x) -> (K, columns)`` of raw values
    (valence, arousal) or fear confidences (K, 1)."""
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.model_selection import GridSearchCV

    splits = _inner_splits(groups)
    if subtask == "valence_arousal":
        models = [RidgeCV(alphas=np.logspace(-1, 5, 13), cv=splits).fit(x, y[:, j]) for j in range(2)]
        return lambda inputs: np.column_stack([m.predict(inputs) for m in models])
    search = GridSearchCV(LogisticRegression(class_weight="balanced", max_iter=2000),
                          {"C": np.logspace(-4, 1, 6)}, cv=splits, scoring="average_precision")
    with warnings.catch_warnings():   # inner folds without a fear segment score AP 0: expected
        warnings.filterwarnings("ignore", message="No positive class found")
        model = search.fit(x, y.astype(int))
    return lambda inputs: model.predict_proba(inputs)[:, 1:]


def plain_reference(films, folds, subtask: str, per_film: bool = True) -> dict:
    """Out-of-fold run rows of a plain recipe, ``{film: rows}``: segment means z-scored within
    each film (``per_film``) or by the training films' statistics, the plain learner, smoothing."""
    from scipy.ndimage import gaussian_filter1d

    from mediaeval.task import fear_rows

    means = {f.name: _segment_means(f) for f in films}
    oof = {}
    for held in folds:
        train = [f for f in films if f.name not in held]
        x = np.concatenate([means[f.name] for f in train])
        centre, spread = (None, None) if per_film else (x.mean(axis=0), x.std(axis=0))
        inputs = {f.name: _zscore(means[f.name], centre, spread) for f in films}
        x = np.concatenate([inputs[f.name] for f in train])
        y = np.concatenate([f.labels for f in train])
        groups = np.concatenate([np.full(f.n_segments, i) for i, f in enumerate(train)])
        predict = _fit_plain(x, y, groups, subtask)
        for name in held:
            smooth = gaussian_filter1d(predict(inputs[name]), SMOOTH_SEGMENTS, axis=0, mode="nearest")
            oof[name] = (np.clip(smooth, -1, 1) if subtask == "valence_arousal"
                         else fear_rows(np.clip(smooth[:, 0], 0, 1)))
    return oof


REFERENCES = {"constant": None, "plain_film": True, "plain_global": False}   # name -> per_film


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


def _draw_set(args, family: str, curves, generator_seed: int):
    """The set of one family and generator seed, written and imported under ``--work``:
    (dataset, features, work folder)."""
    from mediaeval.dataset import Dataset
    from mediaeval.features.imported import import_features

    films = families.FAMILIES[family](curves, seed=generator_seed)
    print(f"{family} set, seed {generator_seed}:", realistic.describe(films), flush=True)
    work = args.work / family / f"generator{generator_seed}"
    realistic.write(films, work / "data", work / "tables")
    dataset = Dataset.discover(work / "data")
    import_features(work / "tables", dataset, work / "features", FEATURE_SET, progress=False)
    return dataset, work / "features", work


def _references(data, folds, subtask: str, truth: dict) -> dict:
    """``{reference: (Scores, seconds)}`` of the constant and the two plain recipes."""
    from mediaeval.scoring import score_folds
    from mediaeval.task import get as get_subtask

    out = {}
    for name, per_film in REFERENCES.items():
        started = time.perf_counter()
        oof = (constant_reference(data, folds, subtask) if per_film is None
               else plain_reference(data, folds, subtask, per_film))
        out[name] = (score_folds(truth, oof, folds, get_subtask(subtask)), time.perf_counter() - started)
    return out


def _one_draw(args, runs, dataset, features, work: Path, draw: tuple[int, int]) -> dict:
    """``{subtask: {recipe: (Scores, seconds)}}`` of one draw (generator seed, fold seed): the
    references, then the runs."""
    from mediaeval.folds import make_folds
    from mediaeval.fusion import fuse_trained
    from mediaeval.film_data import load_films
    from mediaeval.task import get as get_subtask
    from mediaeval.training import train_run

    fold_seed = draw[1]
    results: dict[str, dict] = {}
    for subtask in SUBTASKS:
        data = load_films(dataset, features, [FEATURE_SET], dataset.dev_films, get_subtask(subtask),
                          with_labels=True)
        folds = make_folds([f.name for f in data], 5, fold_seed)
        results[subtask] = _references(data, folds, subtask, {f.name: f.labels for f in data})
    models = work / f"folds{fold_seed}"
    for config in runs:
        started = time.perf_counter()
        print(f"  generator seed {draw[0]}, fold seed {fold_seed}: {'fusing' if config.fused else 'training'} "
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


def _seeds(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s]


def _arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--curves", type=Path, default=realistic.CURVES,
                        help=f"real per-second curves (default: {realistic.CURVES})")
    parser.add_argument("--work", type=Path, default=Path("build/bench-accuracy"),
                        help="working folder (default: build/bench-accuracy)")
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="run definitions (default: runs)")
    parser.add_argument("--only", default="", help="comma-separated run names (default: the per-segment ridge / "
                                                   "logistic runs)")
    parser.add_argument("--jobs", type=int, default=2, help="models trained at once (default: 2)")
    parser.add_argument("--family", action="append", choices=list(families.FAMILIES), default=None,
                        help=f"a family of sets, repeatable (default: all: {', '.join(families.FAMILIES)})")
    parser.add_argument("--generator-seeds", type=_seeds, default="0,1,2",
                        help="seeds of the sets of each family (comma-separated; default: 0,1,2)")
    parser.add_argument("--fold-seeds", type=_seeds, default="0,1",
                        help="seeds of the folds and models (comma-separated; default: 0,1)")
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples of the films (default: 2000)")
    parser.add_argument("--from-draws", type=Path, default=None,
                        help="print the tables again from the draws.json of an earlier run (nothing is trained)")
    args = parser.parse_args(argv)
    args.family = list(dict.fromkeys(args.family or families.FAMILIES))
    if not args.generator_seeds or not args.fold_seeds:
        parser.error("expected at least one generator seed and one fold seed")
    return args


def _report(by_family: dict, resamples: int) -> dict:
    """Print, per family, the tables and claims of its draws (each ``((generator seed, fold seed),
    {subtask: {recipe: (Scores, seconds)}})``), then what holds across families; returns the
    summaries ``{family: {subtask: summary}}``."""
    summaries = {}
    for family, draws in by_family.items():
        print(f"\n=== family {family} ({len(draws)} draws): {_first_line(families.FAMILIES[family].__doc__)}")
        summary = {sub: bench_claims.summarise(sub, [d[sub] for _, d in draws], resamples) for sub in SUBTASKS}
        for subtask in SUBTASKS:
            print()
            print(bench_claims.format_summary(subtask, summary[subtask], len(draws)))
        print()
        print(bench_claims.format_claims(summary, len(draws)))
        summaries[family] = summary
    print()
    print(bench_claims.format_across(summaries, {family: len(draws) for family, draws in by_family.items()}))
    if "valence_arousal_run1" in summaries[next(iter(summaries))]["valence_arousal"]:
        print()
        print(bench_claims.format_acceptance(summaries))
    return summaries


def _first_line(doc: str) -> str:
    return " ".join(doc.split("\n\n")[0].split()).split(". ")[0].removesuffix(".")


def _from_draws(path: Path, resamples: int) -> int:
    """The tables of an earlier run, from its ``draws.json``."""
    from mediaeval.scoring import Scores

    data = json.loads(path.read_text(encoding="utf-8"))
    if "families" not in data:
        raise SystemExit(f"bench-accuracy: {path} holds no families (written before they were added); run the "
                         f"bench again")
    print(data["provenance"] + f" (printed again from {path})")
    _report({family: [((d["generator_seed"], d["fold_seed"]),
                       {sub: {n: (Scores.from_json(v["scores"]), v["seconds"]) for n, v in d[sub].items()}
                        for sub in SUBTASKS}) for d in draws]
             for family, draws in data["families"].items()}, resamples)
    return 0


def _draws_json(provenance: str, summaries: dict, by_family: dict) -> str:
    return json.dumps({"provenance": provenance, "summaries": summaries, "families": {
        family: [{"generator_seed": g, "fold_seed": s,
                  **{sub: {n: {"scores": sc.to_json(), "seconds": t} for n, (sc, t) in rows.items()}
                     for sub, rows in d.items()}} for (g, s), d in draws]
        for family, draws in by_family.items()}}, indent=1, default=float)


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
    by_family, minutes, load = {}, {}, []
    for family in args.family:
        family_started, by_family[family] = time.perf_counter(), []
        for generator_seed in args.generator_seeds:
            dataset, features, work = _draw_set(args, family, curves, generator_seed)
            for fold_seed in args.fold_seeds:
                draw = (generator_seed, fold_seed)
                by_family[family].append((draw, _one_draw(args, runs, dataset, features, work, draw)))
                load.append(os.getloadavg()[0])
        minutes[family] = (time.perf_counter() - family_started) / 60
    summaries = _report(by_family, args.resamples)
    print(f"\nbench-accuracy: {len(load)} draws in {(time.perf_counter() - started) / 60:.1f} min ("
          + ", ".join(f"{family} {m:.1f}" for family, m in minutes.items())
          + f"); load average over the draws {np.mean(load):.1f} on {os.cpu_count()} logical CPUs")
    (args.work / "draws.json").write_text(_draws_json(provenance, summaries, by_family))
    return 0


if __name__ == "__main__":
    sys.exit(main())
