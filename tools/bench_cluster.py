#!/usr/bin/env python3
"""Wall time of `mediaeval extract` on a Dask cluster of 2 workers against `--jobs 2`, in one run.

The films are the demo's sample (8 development and 2 test films of 40-80 s, seed 1), made once
into build/bench/cluster-sample (or --dataset).  A local cluster (a scheduler and 2 worker
processes of 1 thread: ``distributed.LocalCluster``) is started first; then, each into a fresh
feature folder, as separate commands: `--jobs 2`, `--cluster` on workers that have run nothing
(cold: each starts its job process), `--cluster` again (warm), `--jobs 2` again.  The feature
files of every run are checked to hold the same values.

    python tools/bench_cluster.py [--dataset PATH] [--extractor visual-stats,audio-stats]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "bench"
CLI = [sys.executable, "-c", "from mediaeval.cli import main; main()"]


def extract(dataset: Path, out: Path, extractors: str, *how: str) -> float:
    """Seconds of one `mediaeval extract` into the fresh folder ``out``."""
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    start = time.perf_counter()
    done = subprocess.run([*CLI, "extract", "--dataset", str(dataset), "--out", str(out), "--extractor", extractors,
                           *how], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"extract {' '.join(how)} failed:\n{done.stderr}")
    return seconds


def same_values(folders: list[Path]) -> bool:
    import numpy as np

    from mediaeval.features.store import load_features

    names = sorted(p.name for p in folders[0].rglob("*.npz"))
    return all(sorted(p.name for p in f.rglob("*.npz")) == names for f in folders) and all(
        np.array_equal(load_features(next(folders[0].rglob(n))).values, load_features(next(f.rglob(n))).values)
        for f in folders[1:] for n in names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, default=None, help="Films to extract (default: the demo's sample).")
    parser.add_argument("--extractor", default="visual-stats,audio-stats")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from distributed import Client, LocalCluster

    from mediaeval.dataset import Dataset
    from mediaeval.sample import make_sample

    dataset = args.dataset
    if dataset is None:
        dataset = OUT / "cluster-sample"
        if not (OUT / "cluster-sample.done").exists():
            shutil.rmtree(dataset, ignore_errors=True)
            make_sample(dataset, films=8, test_films=2, durations=(40.0, 80.0), seed=1, jobs=2, progress=False)
            (OUT / "cluster-sample.done").touch()
    films = [f for f in Dataset.discover(dataset).films.values() if f.video is not None]
    minutes = sum(f.duration for f in films) / 60
    runs = []
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.wait_for_workers(2)
        for label, how in (("--jobs 2", ["--jobs", "2"]),
                           ("--cluster, cold workers", ["--cluster", cluster.scheduler_address]),
                           ("--cluster, warm workers", ["--cluster", cluster.scheduler_address]),
                           ("--jobs 2, again", ["--jobs", "2"])):
            out = OUT / f"cluster-features-{len(runs)}"
            runs.append((label, extract(dataset, out, args.extractor, *how), out))
    print(f"{len(films)} films, {minutes:.1f} min, extractors {args.extractor}; 2 CPU cores, 2 workers of 1 thread")
    print(f"{'how':26s} {'wall s':>7s} {'x --jobs 2':>10s}")
    for label, seconds, _ in runs:
        print(f"{label:26s} {seconds:7.1f} {seconds / runs[0][1]:10.2f}")
    print("same feature values in every run:", same_values([out for _, _, out in runs]))


if __name__ == "__main__":
    main()
