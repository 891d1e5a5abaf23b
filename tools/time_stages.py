#!/usr/bin/env python3
"""Wall and CPU seconds of each stage of a command (``make demo``, say), from its output.

    python tools/time_stages.py [--json FILE] -- make demo

Runs the command (``PYTHONUNBUFFERED=1``, its output passed through as it comes) and starts a
new stage at each output line that matches a marker: a ``mediaeval`` command that make echoes
(``.../mediaeval plot ...``), and the pipeline's ``features <set>`` and ``run <name>:`` lines.
Each stage's CPU seconds are those of the whole process tree under this script (every live
descendant's user + system time, its reaped children's included, plus the children this
script reaped), read from ``/proc`` (Linux) at each marker; so a worker pool's processes count
too.  On a shared machine the CPU seconds vary less than the wall seconds.  At the end, on
stderr, a table: each stage's wall and CPU seconds, from its marker line to the next.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

MARKERS = (r"^\s*\S*mediaeval (\S+)", r"^(features \S+)", r"^(run \S+):")
TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: str) -> tuple[int, float] | None:
    """(parent pid, user + system + reaped children's seconds) of ``pid``, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()   # after "pid (comm) "
    return int(fields[1]), sum(int(v) for v in fields[11:15]) / TICK


def tree_cpu_seconds() -> float:
    """CPU seconds of every process under this one, and of those it reaped."""
    stats = {int(p): s for p in os.listdir("/proc") if p.isdigit() and (s := _stat(p)) is not None}
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    total, todo = 0.0, list(children.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        total += stats[pid][1]
        todo += children.get(pid, [])
    times = os.times()
    return total + times.children_user + times.children_system


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="also write the stages as JSON to this file")
    parser.add_argument("command", nargs="+", help="the command to time (after --)")
    args = parser.parse_args(argv)
    patterns = [re.compile(m) for m in MARKERS]
    start = time.perf_counter()
    stages = [{"stage": "start", "wall": 0.0, "cpu": 0.0}]
    process = subprocess.Popen(args.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"}, bufsize=1)
    for line in process.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        match = next((m for p in patterns if (m := p.match(line))), None)
        if match:
            stages.append({"stage": match.group(1), "wall": time.perf_counter() - start, "cpu": tree_cpu_seconds()})
    code = process.wait()
    stages.append({"stage": "end", "wall": time.perf_counter() - start, "cpu": tree_cpu_seconds()})
    rows = [{"stage": a["stage"], "wall_s": round(b["wall"] - a["wall"], 1), "cpu_s": round(b["cpu"] - a["cpu"], 1)}
            for a, b in zip(stages, stages[1:])]
    rows.append({"stage": "total", "wall_s": round(stages[-1]["wall"], 1), "cpu_s": round(stages[-1]["cpu"], 1)})
    width = max(len(r["stage"]) for r in rows)
    print(f"\n{'stage':<{width}}  {'wall s':>7}  {'CPU s':>7}", file=sys.stderr)
    for row in rows:
        print(f"{row['stage']:<{width}}  {row['wall_s']:>7.1f}  {row['cpu_s']:>7.1f}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps({"command": args.command, "exit_code": code, "stages": rows}, indent=1) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
