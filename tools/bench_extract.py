#!/usr/bin/env python3
"""Extraction benchmark: decode-only time vs extraction time, real-time factor, peak memory.

Films (H.264 640x360 at 24 fps with 44.1 kHz stereo AAC, moving textured content) are generated
once into build/bench/.  Each measurement runs in a fresh process, so its peak resident memory
(ru_maxrss) is its own.  Ratios are against the decode-only time measured in the same run, since
this machine is shared and noisy.

    python tools/bench_extract.py [--minutes 10,60] [--repeat 1]
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

OUT = Path("build/bench")
WIDTH, HEIGHT, FPS = 640, 360, Fraction(24)


def make_film(path: Path, minutes: float) -> Path:
    """A film whose picture is a texture panning at varying speed, with a tone and noise."""
    import av

    if path.exists():
        return path
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (HEIGHT * 2 // 8, WIDTH * 2 // 8, 3), dtype=np.uint8)
    texture = texture.repeat(8, axis=0).repeat(8, axis=1)
    tmp = path.with_suffix(".tmp.mp4")
    n_frames = int(minutes * 60 * FPS)
    with av.open(str(tmp), "w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.options = {"preset": "ultrafast", "crf": "23"}
        audio = container.add_stream("aac", rate=44100)
        audio.layout = "stereo"
        audio.options = {"aac_coder": "fast"}
        x = y = 0.0
        for second in range(int(math.ceil(n_frames / FPS))):
            for k in range(int(FPS)):
                index = second * int(FPS) + k
                if index >= n_frames:
                    break
                speed = 2 + 6 * (1 + math.sin(index / 300))
                x, y = (x + speed) % WIDTH, (y + speed / 2) % HEIGHT
                crop = texture[int(y):int(y) + HEIGHT, int(x):int(x) + WIDTH]
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(crop), format="rgb24")
                frame.pts = index
                container.mux(video.encode(frame))
            t = np.arange(44100) / 44100 + second
            tone = 0.2 * np.sin(2 * np.pi * (220 + 20 * math.sin(second / 10)) * t) + 0.05 * rng.standard_normal(44100)
            chunk = av.AudioFrame.from_ndarray(np.tile(tone.astype(np.float32), (2, 1)), format="fltp", layout="stereo")
            chunk.sample_rate, chunk.pts = 44100, second * 44100
            container.mux(audio.encode(chunk))
        container.mux(video.encode(None))
        container.mux(audio.encode(None))
    tmp.rename(path)
    return path


CHILD = r"""
import json, resource, sys, time
from mediaeval.media import iter_steps
from mediaeval.features.extract import ExtractionOptions, extract_film
mode, path = sys.argv[1], sys.argv[2]
start = time.perf_counter()
if mode == "decode":
    steps = sum(len(block) for block in iter_steps(path))
else:
    steps = len(extract_film(path, ExtractionOptions(sys.argv[3].split(","))).values)
print(json.dumps({"seconds": time.perf_counter() - start, "steps": steps,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(mode: str, path: Path, extractors: str = "") -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(path), extractors],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", default="10,60", help="Film lengths in minutes, comma-separated.")
    parser.add_argument("--extractors", default="visual-stats,audio-stats")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for minutes in [float(m) for m in args.minutes.split(",")]:
        path = OUT / f"film_{minutes:g}min_{WIDTH}x{HEIGHT}.mp4"
        started = time.perf_counter()
        make_film(path, minutes)
        print(f"film {path} ready ({time.perf_counter() - started:.0f} s)", flush=True)
        decode = measure("decode", path)
        extract = measure("extract", path, args.extractors)
        rows.append((minutes, decode, extract))
        print(f"{minutes:g} min: decode-only {decode['seconds']:.1f} s, extraction {extract['seconds']:.1f} s",
              flush=True)
    print(f"\nextractors: {args.extractors}; films {WIDTH}x{HEIGHT} H.264 at {float(FPS):g} fps")
    print(f"{'film':>8} {'decode s':>9} {'extract s':>10} {'extract/decode':>15} {'real-time x':>12} "
          f"{'peak MB decode':>15} {'peak MB extract':>16}")
    for minutes, decode, extract in rows:
        print(f"{minutes:>6g} m {decode['seconds']:>9.1f} {extract['seconds']:>10.1f} "
              f"{extract['seconds'] / decode['seconds']:>15.2f} {minutes * 60 / extract['seconds']:>12.1f} "
              f"{decode['peak_mb']:>15.0f} {extract['peak_mb']:>16.0f}")
    if len(rows) > 1:
        print(f"peak memory, longest / shortest film: {rows[-1][2]['peak_mb'] / rows[0][2]['peak_mb']:.2f}")


if __name__ == "__main__":
    main()
