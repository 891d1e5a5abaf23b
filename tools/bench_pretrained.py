#!/usr/bin/env python3
"""Pretrained extractors: clips (steps) per second and real-time factor, on the CPU.

For each extractor, in a fresh process: the network alone on 64 random clips (clips/s of the
model), and the extraction of a whole film (decode included).  The decode-only time of the
same film, measured in the same run, is the baseline of the ratios, since this machine is
shared and noisy.  The film is bench_extract.py's (640x360 H.264, 24 fps), cached in
build/bench/.  c3d and vgg19-audio have no shipped weights: the benchmark saves randomly
initialised ones once (build/bench/*-random.weights.h5), which time the same as real ones.

    python tools/bench_pretrained.py [--minutes 2] [--extractors i3d,i3d:bfloat16,musicnn,...]

``i3d:bfloat16`` is i3d with ``--setting i3d.precision=bfloat16``.

    python tools/bench_pretrained.py --precisions [--rounds 5]
    ONEDNN_MAX_CPU_ISA=AVX2 python tools/bench_pretrained.py --precisions

compares i3d's bfloat16 with its float32 in one process, batches interleaved (so that a shared
machine's load hits both alike): the speed-up (median over rounds of float32 time / bfloat16
time) and the deviation (largest |bfloat16 - float32| over the largest |float32|) on the test
suite's reference clips and on random ones.  Under ``ONEDNN_MAX_CPU_ISA=AVX2`` it measures what a
CPU without bfloat16 instructions gets (emulated bfloat16, see ``mediaeval.cpu``).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_extract import HEIGHT, OUT, WIDTH, make_film  # noqa: E402

EXTRACTORS = "i3d,i3d:bfloat16,i3d-224,musicnn,musicnn-vgg,c3d,vgg19-audio"
FILM_90_MIN_STEPS = 10_125

CHILD = r"""
import json, os, resource, sys, time
import numpy as np
mode, path, name, weights = sys.argv[1:5]
name, _, precision = name.partition(":")
settings = {name: {"weights": weights}} if weights else {name: {"precision": precision}} if precision else None
start = time.perf_counter()
if mode == "decode":
    from mediaeval.media import iter_steps
    steps = sum(len(block) for block in iter_steps(path))
elif mode == "network":
    from mediaeval.features.pretrained.runtime import batched_predict
    from mediaeval.features.pretrained import i3d, musicnn, thesis
    rng = np.random.default_rng(0)
    if name.startswith("i3d"):
        size = 224 if name == "i3d-224" else 112
        net, batch = i3d.i3d_network(size, precision=precision or "float32"), i3d.BATCH_SIZE
        x = rng.uniform(-1, 1, (64, 16, size, size, 3))
    elif name.startswith("musicnn"):
        model = "MSD_vgg" if name == "musicnn-vgg" else "MSD_musicnn"
        net, x, batch = musicnn.musicnn_network(model, 187), rng.uniform(0, 3, (64, 187, 96)), musicnn.BATCH_SIZE
    elif name == "c3d":
        net, x, batch = thesis._loaded("c3d", weights), rng.uniform(-100, 100, (64, 16, 112, 112, 3)), thesis.BATCH_SIZE
    else:
        net, x, batch = thesis._loaded("vgg19-audio", weights), rng.uniform(-20, 5, (64, 98, 64)), thesis.BATCH_SIZE
    batched_predict(net, x[:batch].astype(np.float32), batch)  # build and trace once
    startup = time.perf_counter() - start
    start = time.perf_counter()
    out = batched_predict(net, x.astype(np.float32), batch)
    steps = len(out[0] if isinstance(out, list) else out)
else:
    from mediaeval.features.extract import ExtractionOptions, extract_film
    steps = len(extract_film(path, ExtractionOptions((name,), settings)).values)
print(json.dumps({"seconds": time.perf_counter() - start, "steps": steps, "startup": locals().get("startup", 0.0),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(mode: str, path: Path, name: str = "", weights: str = "") -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(path), name, weights],
                         capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{mode} {name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def random_weights(name: str) -> str:
    """Randomly initialised weights for timing c3d or vgg19-audio (saved once)."""
    path = OUT / f"{name}-random.weights.h5"
    if not path.exists():
        import keras

        from mediaeval.features.pretrained.thesis import c3d_network, vgg19_audio_network

        keras.utils.set_random_seed(0)
        (c3d_network() if name == "c3d" else vgg19_audio_network()).save_weights(path)
    return str(path)


def compare_precisions(rounds: int, n_clips: int = 16) -> None:
    """Print i3d's bfloat16 speed-up and deviation against float32 on this CPU (see the docstring)."""
    import os
    import statistics
    import time

    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from reference_inputs import i3d_clips

    from mediaeval.cpu import bfloat16_support
    from mediaeval.features.pretrained.i3d import BATCH_SIZE, compute_dtype, i3d_network
    from mediaeval.features.pretrained.runtime import batched_predict

    support = bfloat16_support()
    nets = {p: i3d_network(112, precision=p) for p in ("float32", "bfloat16")}
    random_clips = np.random.default_rng(0).uniform(-1, 1, (n_clips, 16, 112, 112, 3)).astype(np.float32)
    reference_clips = i3d_clips(112)
    outputs = {p: {name: batched_predict(net, x, BATCH_SIZE) for name, x in
                   (("reference", reference_clips), ("random", random_clips))} for p, net in nets.items()}
    speedups, seconds = [], {p: [] for p in nets}
    for _ in range(rounds):
        for p, net in nets.items():
            start = time.perf_counter()
            batched_predict(net, random_clips, BATCH_SIZE)
            seconds[p].append(time.perf_counter() - start)
        speedups.append(seconds["float32"][-1] / seconds["bfloat16"][-1])
    print(f"CPU bfloat16: {support} (ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA', '')!r}), "
          f"computed as {compute_dtype('bfloat16')}")
    for p in nets:
        print(f"{p:>9}: {n_clips / min(seconds[p]):.1f} clips/s (best of {rounds})")
    print(f"bfloat16 speed-up: {statistics.median(speedups):.2f} x (median; rounds {min(speedups):.2f} to "
          f"{max(speedups):.2f})")
    for name in ("reference", "random"):
        full, low = outputs["float32"][name], outputs["bfloat16"][name]
        deviation = np.abs(low - full).max() / np.abs(full).max()
        print(f"deviation on {name} clips: {100 * deviation:.2f} % of the largest feature, correlation "
              f"{np.corrcoef(low.ravel(), full.ravel())[0, 1]:.5f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=2.0, help="Length of the film extracted.")
    parser.add_argument("--extractors", default=EXTRACTORS)
    parser.add_argument("--precisions", action="store_true", help="Compare i3d bfloat16 with float32 only.")
    parser.add_argument("--rounds", type=int, default=5, help="Rounds of --precisions.")
    args = parser.parse_args()
    if args.precisions:
        compare_precisions(args.rounds)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    film = make_film(OUT / f"film_{args.minutes:g}min_{WIDTH}x{HEIGHT}.mp4", args.minutes)
    decode = measure("decode", film)
    print(f"film {film}: {decode['steps']} steps, decode-only {decode['seconds']:.1f} s", flush=True)
    rows = []
    for name in args.extractors.split(","):
        weights = random_weights(name) if name in ("c3d", "vgg19-audio") else ""
        network = measure("network", film, name, weights)
        extract = measure("extract", film, name, weights)
        rows.append((name, network, extract))
        print(f"{name}: network {network['steps'] / network['seconds']:.1f} clips/s, "
              f"extraction {extract['seconds']:.1f} s", flush=True)
    seconds = args.minutes * 60
    print(f"\n{'extractor':>12} {'start-up s':>11} {'net clips/s':>12} {'film clips/s':>13} {'real-time x':>12} "
          f"{'extract/decode':>15} {'90-min film':>12} {'peak MB':>8}")
    for name, network, extract in rows:
        per_step = max(extract["seconds"] - network["startup"], 1e-9) / extract["steps"]
        print(f"{name:>12} {network['startup']:>11.1f} {network['steps'] / network['seconds']:>12.1f} "
              f"{1 / per_step:>13.1f} {seconds / extract['seconds']:>12.2f} "
              f"{extract['seconds'] / decode['seconds']:>15.1f} "
              f"{(network['startup'] + per_step * FILM_90_MIN_STEPS) / 60:>9.1f} min {extract['peak_mb']:>8.0f}")
    print("start-up: building the network and its first batch; film clips/s: after start-up, decoding\n"
          "included; real-time x: film seconds per extraction second, start-up included; 90-min film:\n"
          "start-up + 10,125 steps at the film rate")


if __name__ == "__main__":
    main()
