"""Accuracy on a development set of realistic difficulty: every recipe of ``runs/`` beside two
references measured in the same run.

The set (``tools/realistic.py``) is built from the real LIRIS-ACCEDE per-second curves in
``../shared/data/liris-accede-continuous/``: official annotation files (10 s means every 5 s;
fear where valence is low and arousal high) and one per-second feature table per film, whose
few cues relate to the curves weakly (within-film r 0.10-0.25 for arousal, <= 0.15 for valence
at 1 Hz), late (0-3 s), non-linearly, film by film (offsets and scales), in slow noise, among
39 distractor columns (48 in all).  The tables enter through ``mediaeval import-features`` as the set
``realistic``; each run of ``runs/`` is trained on it (its ``features`` replaced) by
``mediaeval train``'s own code, with the same folds and out-of-fold protocol.

References, on the same folds and scored by the same code:

* ``constant``: the training folds' mean label (valence/arousal), or their fear share as the
  confidence of every segment (fear);
* ``plain``: 10 s segment means of the step features, z-scored within each film, a ridge
  regression (logistic for fear, classes balanced) whose strength is chosen by inner
  cross-validation over the training films only, and a Gaussian smoothing of each film's
  predicted curve (sigma 10 s, fixed), computed with scikit-learn.

Figures are out of fold: every film is predicted by models that never saw it, and nothing is
chosen on it.  Official figures are per-film means (as the 2017 evaluation script computed them; see
``mediaeval.scoring``); the leaderboard prints them
with the spread over folds, and the ratios against the references.  Seeded and deterministic.

Usage: ``python tools/bench_accuracy.py [--runs runs] [--only valence_arousal_run1,...] [--jobs 2]``
(``make bench-accuracy``).  Exit status 0 with a note when the curves are absent.
"""
from __future__ import annotations

import argparse
import os
import dataclasses
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")   # TensorFlow's C++ notices bury the leaderboard
sys.path.insert(0, str(Path(__file__).resolve().parent))
import realistic  # noqa: E402

FEATURE_SET = "realistic"
SMOOTH_SEGMENTS = 2.0          # Gaussian sigma of the plain reference: 10 s, in 5 s segments


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


MAIN = {"valence_arousal": ("valence_mse", "valence_pcc", "arousal_mse", "arousal_pcc"),
        "fear": ("map", "f1")}


def _cell(scores: dict, key: str) -> str:
    value = scores["official"].get(key)
    mean, std = scores.get("fold_mean", {}).get(key), scores.get("fold_std", {}).get(key)
    text = "—" if value is None else f"{value:.3f}"
    if mean is not None and std is not None:
        text += f" ±{std:.3f}"
    return text


def _ratio(value, reference) -> str:
    if value is None or reference in (None, 0):
        return "—"
    return f"{value / reference:.2f}"


def leaderboard(subtask: str, rows: list[tuple[str, dict, float | None]]) -> str:
    """One line per recipe: official figures (± std over folds), ratios to the references."""
    keys = MAIN[subtask]
    constant = next(s for n, s, _ in rows if n == "constant")["official"]
    plain = next(s for n, s, _ in rows if n == "plain")["official"]
    first = keys[0]
    head = f"{'recipe':28s}" + "".join(f"{k:>17s}" for k in keys)
    if subtask == "valence_arousal":
        head += f"{'MSE/const':>11s}{'PCC/plain':>11s}" + f"{'minutes':>9s}"
    else:
        head += f"{'MAP/const':>11s}{'MAP/plain':>11s}" + f"{'minutes':>9s}"
    lines = [f"{subtask}: out-of-fold, per-film means (± std over folds)", head]
    for name, scores, seconds in rows:
        official = scores["official"]
        if subtask == "valence_arousal":
            mse = np.mean([official[k] for k in ("valence_mse", "arousal_mse")])
            base = np.mean([constant[k] for k in ("valence_mse", "arousal_mse")])
            pccs = [official.get(k) for k in ("valence_pcc", "arousal_pcc")]
            plain_pccs = [plain.get(k) for k in ("valence_pcc", "arousal_pcc")]
            pcc_ratio = ("—" if None in pccs or None in plain_pccs else
                         "/".join(_ratio(a, b) for a, b in zip(pccs, plain_pccs)))
            ratios = f"{_ratio(mse, base):>11s}{pcc_ratio:>11s}"
        else:
            mine = official.get(first)
            ratios = f"{_ratio(mine, constant.get(first)):>11s}{_ratio(mine, plain.get(first)):>11s}"
        minutes = "" if seconds is None else f"{seconds / 60:.1f}"
        lines.append(f"{name:28s}" + "".join(f"{_cell(scores, k):>17s}" for k in keys) + ratios + f"{minutes:>9s}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--curves", type=Path, default=realistic.CURVES, help="real per-second curves")
    parser.add_argument("--work", type=Path, default=Path("build/bench-accuracy"), help="working folder")
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="run definitions")
    parser.add_argument("--only", default="", help="comma-separated run names (e.g. valence_arousal_run1)")
    parser.add_argument("--jobs", type=int, default=2, help="models trained at once")
    parser.add_argument("--seed", type=int, default=0, help="seed of the realistic set")
    args = parser.parse_args(argv)
    if not args.curves.is_dir():
        print(f"bench-accuracy: skipped, the real curves are not at {args.curves}")
        return 0
    from mediaeval.dataset import Dataset
    from mediaeval.features.imported import import_features
    from mediaeval.folds import make_folds
    from mediaeval.fusion import fuse_trained
    from mediaeval.scoring import score_folds
    from mediaeval.runs import find_runs
    from mediaeval.training import load_films, train_run

    films = realistic.build(realistic.read_curves(args.curves), seed=args.seed)
    print("realistic set:", realistic.describe(films), flush=True)
    root, src = args.work / "data", args.work / "tables"
    realistic.write(films, root, src)
    dataset = Dataset.discover(root)
    features = args.work / "features"
    import_features(src, dataset, features, FEATURE_SET, progress=False)
    runs = find_runs(args.runs)
    only = {n for n in args.only.split(",") if n}
    results: dict[str, list] = {"valence_arousal": [], "fear": []}
    for subtask in results:
        data = load_films(dataset, features, [FEATURE_SET], dataset.dev_films, subtask, with_labels=True)
        folds = make_folds([f.name for f in data], 5, 0)
        truth = {f.name: f.labels for f in data}
        for name, reference in (("constant", constant_reference), ("plain", plain_reference)):
            started = time.perf_counter()
            oof = reference(data, folds, subtask)
            results[subtask].append((name, score_folds(truth, oof, folds, subtask).to_json(),
                                     time.perf_counter() - started))
    for config in sorted(runs, key=lambda c: c.fused):     # fused runs after the runs they fuse
        if only and config.name not in only:
            continue
        started = time.perf_counter()
        print(f"{'fusing' if config.fused else 'training'} {config.name} ...", flush=True)
        if config.fused:
            _, scores, _ = fuse_trained(config, dataset, args.work / "models", "bench")
        else:
            config = dataclasses.replace(config, features=[FEATURE_SET], path=None)
            scores = train_run(config, dataset, features, args.work / "models" / config.name, "bench",
                               overwrite=True, progress=False, jobs=args.jobs).scores
        results[config.subtask].append((config.name, scores.to_json(), time.perf_counter() - started))
    for subtask, rows in results.items():
        print()
        print(leaderboard(subtask, rows))
    (args.work / "leaderboard.json").write_text(json.dumps(
        {s: [{"recipe": n, "scores": sc, "seconds": t} for n, sc, t in rows] for s, rows in results.items()},
        indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
