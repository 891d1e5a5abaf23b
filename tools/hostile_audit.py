"""A hostile-input audit of the ``mediaeval`` command, tried as a new user would (issue 20).

Builds a workspace once (a 6-film sample, its features, a per-segment model of each subtask,
test run files and a zip, a user's own files), then runs every case as its own ``mediaeval``
process and checks, for each:

* the exit status is the expected one (1: the input is wrong, 2: a usage error, 0: accepted);
* no traceback is printed (a user's mistake, or the environment's, gets one line);
* no file that the case did not name as its output changed, appeared or vanished: the dataset,
  the features, the models, the user's files and the case's own inputs (size, modification
  time and inode of every file under the workspace; the full content of small files);
* where the case says so, the output holds an expected phrase (the cause, named).

Too slow for the test suite (a few hundred processes that start Python and often TensorFlow):
run it by hand, ``python tools/hostile_audit.py`` (``--only WORD`` for the cases whose name
holds WORD, ``--keep DIR`` to keep the workspace, ``--jobs N`` cases at once).  It prints one line
per failed case and a summary; exit status 1 if any case failed.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

VA = "valence_arousal"
RIDGE = """subtask = "{subtask}"
run = {run}
description = "ridge on the statistics"
features = ["visual-stats", "audio-stats"]
seed = 1
folds = 2
[model]
type = "ridge"
inner_folds = 2
"""
NOTES = "my notes: run 1 looked best on the sample\n"
OUT_VA = "{scratch}/me17ei_T_valence_arousal_run1.txt"   # a new run file of the case's own
OUT_FUSED = "{scratch}/me17ei_T_valence_arousal_run5.txt"


@dataclass
class Case:
    """One try: ``args`` after ``mediaeval`` (``{name}`` formatted from the workspace's paths and
    ``{scratch}``, a fresh folder of the case's own), made after ``setup(scratch, ws)``."""

    name: str
    args: list
    exit: int | tuple = 1
    setup: Callable | None = None
    writes: tuple = ()          # paths (formatted like args) the case may write
    says: str | None = None     # a phrase the output must hold
    env: dict = field(default_factory=dict)
    limit_file_size: int | None = None   # RLIMIT_FSIZE in bytes: a disk that fills up


class Workspace:
    """The files every case starts from, built once."""

    def __init__(self, root: Path):
        self.root = root
        self.paths = {"data": root / "data", "features": root / "features", "models": root / "models",
                      "runs": root / "runs", "sub": root / "sub", "user": root / "user", "root": root}
        self.paths["va"] = self.paths["models"] / "va"
        self.paths["fear"] = self.paths["models"] / "fear"

    def __getitem__(self, key):
        return self.paths[key]

    def build(self) -> None:
        p = self.paths
        run(["sample", p["data"], "--films", 6, "--test-films", 2, "--duration", "20:40", "--seed", 1, "--jobs", 2])
        run(["extract", "--dataset", p["data"], "--out", p["features"], "--jobs", 2])
        for subtask, number in ((VA, 1), ("fear", 1)):
            folder = p["runs"] / subtask
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"run{number}.toml").write_text(RIDGE.format(subtask=subtask, run=number))
        run(["train", p["runs"] / VA / "run1.toml", "--dataset", p["data"], "--features", p["features"],
             "--out", p["va"], "--team", "T"])
        run(["train", p["runs"] / "fear" / "run1.toml", "--dataset", p["data"], "--features", p["features"],
             "--out", p["fear"], "--team", "T"])
        for subtask, model in ((VA, p["va"]), ("fear", p["fear"])):
            run(["predict", model, "--dataset", p["data"], "--features", p["features"],
                 "--out", p["sub"] / f"me17ei_T_{subtask}_run1.txt"])
        run(["package", p["sub"] / f"me17ei_T_{VA}_run1.txt", p["sub"] / "me17ei_T_fear_run1.txt", "--team", "T",
             "--dataset", p["data"], "--out", p["sub"] / "me17ei_T.zip"])
        user = p["user"]
        user.mkdir()
        (user / "notes.txt").write_text(NOTES)
        (user / "report.pdf").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n")
        (user / "random.bin").write_bytes(os.urandom(4096))
        (user / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(64))
        (user / "clip.mp4").write_bytes(next(p["data"].rglob("MEDIAEVAL17_00.mp4")).read_bytes())

    def format(self, value, scratch: Path):
        if isinstance(value, str):
            return value.format(scratch=scratch, **{k: v for k, v in self.paths.items()})
        return str(value)


def run(args, check=True, env=None, limit=None, timeout=900) -> subprocess.CompletedProcess:
    """``mediaeval ARGS`` in a process of its own."""
    def limit_size():
        if limit is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    command = [sys.executable, "-c", "from mediaeval.cli import main; main()", *map(str, args)]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})},
                          timeout=timeout, preexec_fn=limit_size)
    if check and done.returncode != 0:
        raise SystemExit(f"workspace: mediaeval {' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}")
    return done


def snapshot(root: Path, skip: Path | None = None) -> dict:
    """Every file under ``root`` (links not followed): size, modification time, inode, and the
    sha256 of files under 1 MiB."""
    state = {}
    for folder, dirs, files in os.walk(root):
        if skip is not None and Path(folder) == skip.parent:
            dirs[:] = [d for d in dirs if Path(folder) / d != skip]
        for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            path = Path(folder) / name
            info = path.lstat()
            digest = None
            if path.is_file() and not path.is_symlink() and info.st_size < (1 << 20):
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            state[path] = (info.st_size, info.st_mtime_ns, info.st_ino, digest)
    return state


def run_case(case: Case, ws: Workspace, cases_dir: Path) -> str | None:
    """Run one case; None if it behaved, else what went wrong."""
    scratch = cases_dir / case.name.replace("/", "_")
    scratch.mkdir(parents=True)
    if case.setup:
        case.setup(scratch, ws)
    allowed = {Path(ws.format(w, scratch)).absolute() for w in case.writes}
    before = {**snapshot(ws.root, skip=cases_dir), **snapshot(scratch)}
    args = [ws.format(a, scratch) for a in case.args]
    try:
        done = run(args, check=False, env=case.env, limit=case.limit_file_size)
    except subprocess.TimeoutExpired:
        return "timed out"
    output = done.stdout + done.stderr
    after = {**snapshot(ws.root, skip=cases_dir), **snapshot(scratch)}
    problems = []
    expected = case.exit if isinstance(case.exit, tuple) else (case.exit,)
    if done.returncode not in expected:
        problems.append(f"exit {done.returncode}, expected {'/'.join(map(str, expected))}")
    if "Traceback (most recent call last)" in output:
        problems.append("traceback")
    changed = sorted(str(p) for p in set(before) | set(after)
                     if before.get(p) != after.get(p) and not _allowed(p, allowed)
                     and not p.name.startswith(".") and "tensorboard" not in p.parts)
    if changed:
        problems.append("changed: " + ", ".join(changed[:5]))
    if case.says and case.says not in output:
        problems.append(f"does not say {case.says!r}")
    if problems:
        last = [line for line in output.strip().splitlines() if line.strip()][-3:]
        return "; ".join(problems) + " | " + " / ".join(last)[-600:]
    return None


def _allowed(path: Path, allowed: set) -> bool:
    return any(path == a or a in path.parents or (a.parent == path.parent and path.name.startswith(a.name))
               for a in allowed)


# --------------------------------------------------------------------------- setups


def write(name: str, content, mode="w"):
    """A setup writing ``content`` (text or bytes) to ``scratch/name``."""
    def setup(scratch, ws):
        path = scratch / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return setup


def chain(*setups):
    def setup(scratch, ws):
        for one in setups:
            one(scratch, ws)
    return setup


def copy_of(key: str, name: str | None = None, edit: Callable | None = None):
    """A setup copying a workspace folder into the scratch (``edit(copy)`` then)."""
    def setup(scratch, ws):
        target = scratch / (name or key)
        shutil.copytree(ws[key], target, symlinks=True)
        if edit:
            edit(target)
    return setup


def test_run(subtask=VA):
    return "{sub}/me17ei_T_" + subtask + "_run1.txt"


def run_text(ws, subtask=VA) -> str:
    return Path(ws.format(test_run(subtask), Path("."))).read_text()


def edited_run(name: str, change: Callable[[str], str], subtask=VA):
    """A setup writing ``scratch/name``: the workspace's test run of ``subtask`` through ``change``."""
    def setup(scratch, ws):
        (scratch / name).write_bytes(change(run_text(ws, subtask)).encode("utf-8") if isinstance(
            change(run_text(ws, subtask)), str) else change(run_text(ws, subtask)))
    return setup


def sparse(name: str, size: int, head: bytes = b""):
    def setup(scratch, ws):
        path = scratch / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(head)
            handle.truncate(size)
    return setup


def fifo(name: str):
    def setup(scratch, ws):
        os.mkfifo(scratch / name)
    return setup


def link(name: str, target: str):
    def setup(scratch, ws):
        (scratch / name).symlink_to(ws.format(target, scratch))
    return setup


# --------------------------------------------------------------------------- cases


def output_cases() -> list[Case]:
    """Every writing command against every kind of existing file at its output."""
    victims = {"notes": "{user}/notes.txt", "pdf": "{user}/report.pdf", "random": "{user}/random.bin",
               "png": "{user}/picture.png", "mp4": "{user}/clip.mp4", "annotation": None, "model-run":
               "{va}/me17ei_T_valence_arousal_run1.txt", "model-scores": "{va}/scores.json",
               "model-manifest": "{va}/model.json", "folder": "{user}", "devnull": "/dev/null", "fifo": "{scratch}/f"}
    cases = []

    def annotation(ws):
        return next(Path(ws["data"]).rglob("Sample_01-MEDIAEVAL2017-valence_arousal.txt"))

    commands = {
        "predict": ["predict", "{va}", "--dataset", "{data}", "--features", "{features}", "--out"],
        "baseline": ["baseline", "--dataset", "{data}", "--subtask", VA, "--out"],
        "fuse": ["fuse", "{va}/me17ei_T_valence_arousal_run1.txt", "{va}/me17ei_T_valence_arousal_run1.txt",
                 "--dataset", "{data}", "--weights", "1,1", "--out"],
        "leaderboard": ["leaderboard", "{va}", "--dataset", "{data}", "--plot"],
        "render": ["render", "{data}/MEDIAEVAL17-TestSet-Data/data/MEDIAEVAL17_00.mp4", "--run", test_run(), "--out"],
        "package": ["package", test_run(), test_run("fear"), "--team", "T", "--dataset", "{data}", "--out"],
    }
    force = {"predict": "--force", "baseline": "--force", "fuse": "--force", "render": "--overwrite",
             "package": "--force"}
    for command, args in commands.items():
        for victim, path in victims.items():
            for forced in ((), (force[command],)) if command in force else ((),):
                name = f"out/{command}/{victim}{'/forced' if forced else ''}"
                setup = fifo("f") if victim == "fifo" else None
                if victim == "annotation":
                    cases.append(Case(name, args + ["{annotation}", *forced], (1, 2), setup=_annotation_arg))
                    continue
                if command == "render" and victim == "mp4" and forced:   # a user's mp4, replaced when forced
                    cases.append(Case(name, args + ["{scratch}/clip.mp4", *forced], 0, writes=("{scratch}/clip.mp4",),
                                      setup=lambda scratch, ws: shutil.copy(ws["user"] / "clip.mp4", scratch)))
                    continue
                cases.append(Case(name, args + [path, *forced], (1, 2), setup=setup))
    cases.append(Case("out/predict/dev-full", commands["predict"] + ["/dev/full"], (1, 2)))
    cases.append(Case("out/leaderboard/dev-full", commands["leaderboard"] + ["/dev/full"], 1))
    cases.append(Case("out/predict/under-a-file",
                      commands["predict"] + ["{user}/notes.txt/me17ei_T_valence_arousal_run1.txt"], 1,
                      says="notes.txt"))
    cases.append(Case("out/package/under-a-file", commands["package"] + ["{user}/notes.txt/z.zip"], 1,
                      says="is a file"))
    cases.append(Case("out/predict/name-too-long", commands["predict"] + ["{scratch}/" + "x" * 250 + ".txt"], 1))
    cases.append(Case("out/predict/new", commands["predict"] + ["{scratch}/me17ei_T_valence_arousal_run2.txt"], 0,
                      writes=("{scratch}/me17ei_T_valence_arousal_run2.txt",)))
    cases.append(Case("out/predict/own-again", commands["predict"] + [test_run()], 0,
                      writes=(test_run(), test_run() + ".json")))
    cases.append(Case("out/predict/link", commands["predict"] + ["{scratch}/l.txt"], 1,
                      setup=link("l.txt", test_run())))
    cases.append(Case("out/predict/full-disk", commands["predict"] + ["{scratch}/me17ei_T_valence_arousal_run2.txt"], 1,
                      limit_file_size=100, says="me17ei_T_valence_arousal_run2.txt"))
    cases.append(Case("out/package/full-disk", commands["package"] + ["{scratch}/z.zip"], 1, limit_file_size=200,
                      says="z.zip"))
    cases.append(Case("out/plot/over-notes", ["plot", test_run(), "--dataset", "{data}", "--out", "{scratch}"], 1,
                      setup=write("me17ei_T_valence_arousal_run1/MEDIAEVAL17_00.png", NOTES)))
    cases.append(Case("out/plot/into-dataset", ["plot", test_run(), "--dataset", "{data}", "--out", "{data}"], (0, 1),
                      writes=("{data}/me17ei_T_valence_arousal_run1",)))
    cases.append(Case("out/fuse/oof-over-notes", ["fuse", "{va}/me17ei_T_valence_arousal_run1.txt",
                                                  "{va}/me17ei_T_valence_arousal_run1.txt", "--dataset", "{data}",
                                                  "--out", OUT_FUSED,
                                                  "--apply-to", test_run(), "--apply-to", test_run(), "--force"], 1,
                      setup=write("me17ei_T_valence_arousal_run5.oof.txt", NOTES)))
    return cases


def _annotation_arg(scratch, ws):
    ws.paths["annotation"] = next(Path(ws["data"]).rglob("Sample_01-MEDIAEVAL2017-valence_arousal.txt"))


def pipeline_cases() -> list[Case]:
    base = ["pipeline", "--dataset", "{data}", "--team", "T", "--runs", "{runs}", "--features", "{features}",
            "--models", "{models}"]
    cases = [Case(f"pipeline/out-is-{key}", base + ["--out", "{" + key + "}"], 1, says="overlap")
             for key in ("models", "features", "runs")]
    cases += [Case("pipeline/out-inside-models", base + ["--out", "{models}/sub"], 1, says="overlap"),
              Case("pipeline/team-with-space", ["pipeline", "--dataset", "{data}", "--team", "my team", "--runs",
                                                 "{runs}", "--out", "{scratch}/sub"], (1, 2)),
              Case("pipeline/no-runs", ["pipeline", "--dataset", "{data}", "--team", "T", "--runs", "{scratch}",
                                        "--out", "{scratch}/sub"], 1),
              Case("pipeline/cluster-malformed", base + ["--out", "{scratch}/sub", "--cluster", "not an address"],
                   (1, 2)),
              Case("pipeline/cluster-unreachable", base + ["--out", "{scratch}/sub", "--cluster",
                                                           "tcp://127.0.0.1:9"], 1),
              Case("pipeline/jobs-0", base + ["--out", "{scratch}/sub", "--jobs", 0], 2),
              Case("pipeline/over-user-zip", base + ["--out", "{scratch}"], 1, setup=write("me17ei_T.zip", NOTES)),
              Case("pipeline/over-user-run", base + ["--out", "{scratch}"], 1,
                   setup=write("me17ei_T_valence_arousal_run1.txt", "MEDIAEVAL17_00\n0 0\n"), says="--force")]
    return cases


def run_file_cases() -> list[Case]:
    """validate, score and package on damaged run files."""
    edits = {
        "empty": lambda t: "",
        "bom": lambda t: "\ufeff" + t,
        "crlf": lambda t: t.replace("\n", "\r\n"),
        "blank-line": lambda t: t.replace("\n", "\n\n", 3),
        "spaces-around-name": lambda t: t.replace("MEDIAEVAL17_00", " MEDIAEVAL17_00 "),
        "unsorted": lambda t: _swap_films(t),
        "duplicate-film": lambda t: t + t,
        "missing-film": lambda t: t.split("MEDIAEVAL17_01")[0],
        "third-value": lambda t: "\n".join(line + " 0.0" if " " in line else line for line in t.splitlines()) + "\n",
        "one-value": lambda t: "\n".join(line.split()[0] for line in t.splitlines()) + "\n",
        "nan": lambda t: t.replace("\n", "\nnan nan\n", 2),
        "inf": lambda t: t.replace(" ", " inf ", 1),
        "out-of-range": lambda t: t.replace("\n", "\n1.5 -3\n", 2),
        "words": lambda t: t.replace("\n", "\nhello world\n", 2),
        "value-before-film": lambda t: "0 0\n" + t,
        "unknown-film": lambda t: t.replace("MEDIAEVAL17_01", "Somebody_Else"),
        "dev-film": lambda t: t.replace("MEDIAEVAL17_01", "Sample_01"),
        "long-line": lambda t: t.replace("\n", "\n" + "1" * 10000 + "\n", 2),
        "binary": lambda t: t[:50] + "\x00\x01\x02" + t[50:],
        "cut-short": lambda t: t[: len(t) // 3],
        "extra-rows": lambda t: t.replace("MEDIAEVAL17_01", "0 0\n0 0\nMEDIAEVAL17_01"),
        "number-name": lambda t: t.replace("MEDIAEVAL17_01", "1917"),
        "tabs": lambda t: t.replace(" ", "\t"),
        "cr-only": lambda t: t.replace("\n", "\r"),
        "name-with-space": lambda t: t.replace("MEDIAEVAL17_01", "MEDIAEVAL17 01"),
    }
    cases = []
    for edit, change in edits.items():
        for subtask in (VA, "fear"):
            name = f"me17ei_T_{subtask}_run2.txt"
            setup = edited_run(name, change, subtask)
            cases.append(Case(f"runfile/validate/{subtask}/{edit}", ["validate", "{scratch}/" + name, "--dataset",
                                                                        "{data}"], (0, 1), setup=setup))
            cases.append(Case(f"runfile/package/{subtask}/{edit}", ["package", "{scratch}/" + name, "--team", "T",
                                                                       "--dataset", "{data}", "--out",
                                                                       "{scratch}/z.zip"], (0, 1), setup=setup,
                              writes=("{scratch}/z.zip",)))
            cases.append(Case(f"runfile/score/{subtask}/{edit}", ["score", "{scratch}/" + name, "--dataset",
                                                                     "{data}", "--truncate"], (0, 1), setup=setup))
    cases.append(Case("runfile/validate/fifo", ["validate", "{scratch}/me17ei_T_fear_run1.txt", "--dataset", "{data}"],
                      (1, 2), setup=lambda s, w: None))
    cases.append(Case("runfile/validate/sparse-1g", ["validate", "{scratch}/me17ei_T_fear_run1.txt", "--dataset",
                                                     "{data}"], 1, setup=sparse("me17ei_T_fear_run1.txt", 1 << 30,
                                                                                b"MEDIAEVAL17_00\n")))
    cases.append(Case("runfile/score/folder", ["score", "{scratch}", "--dataset", "{data}"], 2))
    cases.append(Case("runfile/score/folds-of-another", ["score", test_run(), "--dataset", "{data}", "--folds",
                                                         "{va}/folds.json"], 1))
    cases.append(Case("runfile/score/folds-corrupt", ["score", "{va}/me17ei_T_valence_arousal_run1.txt", "--dataset",
                                                      "{data}", "--folds", "{scratch}/folds.json"], 1,
                      setup=write("folds.json", "{not json")))
    cases.append(Case("runfile/description-corrupt", ["package", "{scratch}/me17ei_T_fear_run1.txt", "--team", "T",
                                                      "--dataset", "{data}", "--out", "{scratch}/z.zip"], 1,
                      setup=chain(edited_run("me17ei_T_fear_run1.txt", lambda t: t, "fear"),
                                  write("me17ei_T_fear_run1.txt.json", "[1, 2"))))
    cases.append(Case("runfile/package/other-team", ["package", test_run(), "--team", "U", "--dataset", "{data}",
                                                     "--out", "{scratch}/z.zip"], 1))
    cases.append(Case("runfile/package/team-with-space", ["package", test_run(), "--team", "my team", "--dataset",
                                                          "{data}", "--out", "{scratch}/z.zip"], (1, 2)))
    cases.append(Case("runfile/package/dev-run", ["package", "{va}/me17ei_T_valence_arousal_run1.txt", "--team", "T",
                                                  "--dataset", "{data}", "--out", "{scratch}/z.zip"], 1))
    return cases


def _swap_films(text: str) -> str:
    first, second = text.split("MEDIAEVAL17_01")
    return "MEDIAEVAL17_01" + second + first


def definition_cases() -> list[Case]:
    """train on broken run definitions."""
    base = RIDGE.format(subtask=VA, run=1)
    texts = {
        "not-toml": "subtask = \n",
        "empty": "",
        "unknown-subtask": base.replace(VA, "joy"),
        "run-6": base.replace("run = 1", "run = 6"),
        "run-0": base.replace("run = 1", "run = 0"),
        "run-string": base.replace("run = 1", 'run = "one"'),
        "seed-negative": base.replace("seed = 1", "seed = -1"),
        "seed-huge": base.replace("seed = 1", "seed = 99999999999999999999"),
        "seed-float": base.replace("seed = 1", "seed = 1.5"),
        "folds-1": base.replace("folds = 2", "folds = 1"),
        "no-features": base.replace('features = ["visual-stats", "audio-stats"]\n', ""),
        "features-empty": base.replace('["visual-stats", "audio-stats"]', "[]"),
        "features-duplicate": base.replace('["visual-stats", "audio-stats"]', '["visual-stats", "visual-stats"]'),
        "features-unknown": base.replace('["visual-stats", "audio-stats"]', '["nope"]'),
        "features-string": base.replace('["visual-stats", "audio-stats"]', '"visual-stats"'),
        "unknown-key": base + "colour = 3\n",
        "unknown-model-key": base + "wings = 2\n",
        "model-type-unknown": base.replace('type = "ridge"', 'type = "forest"'),
        "inner-folds-1": base.replace("inner_folds = 2", "inner_folds = 1"),
        "fused-run": 'subtask = "valence_arousal"\nrun = 5\ndescription = "fusion"\nfuse = [1, 2]\n',
        "fuse-and-features": base + "fuse = [2]\n",
        "lstm-units-0": base.replace('type = "ridge"\ninner_folds = 2', "lstm_units = 0"),
        "light-bad": base + "[light]\nlstm_units = -1\n",
        "nan-setting": base.replace("inner_folds = 2", "inner_folds = nan"),
        "no-description": base.replace('description = "ridge on the statistics"\n', ""),
        "binary": "\x00\x01\x02",
        "ensemble-bad": base.replace("folds = 2", 'folds = 2\nensemble = "all"'),
    }
    cases = []
    for name, text in texts.items():
        cases.append(Case(f"definition/train/{name}", ["train", "{scratch}/run1.toml", "--dataset", "{data}",
                                                       "--features", "{features}", "--out", "{scratch}/m"],
                          (1, 2), setup=write("run1.toml", text)))
    # more folds than films: one film per fold (make_folds, documented), so it trains
    cases.append(Case("definition/train/folds-99", ["train", "{scratch}/run1.toml", "--dataset", "{data}",
                                                    "--features", "{features}", "--out", "{scratch}/m"], 0,
                      setup=write("run1.toml", base.replace("folds = 2", "folds = 99")), writes=("{scratch}/m",)))
    cases.append(Case("definition/train/latin1", ["train", "{scratch}/run1.toml", "--dataset", "{data}", "--features",
                                                  "{features}", "--out", "{scratch}/m"], 1,
                      setup=write("run1.toml", base.replace("ridge on", "r\xe9gression").encode("latin-1"))))
    cases.append(Case("definition/train/folder", ["train", "{scratch}", "--dataset", "{data}", "--features",
                                                  "{features}", "--out", "{scratch}/m"], 2))
    cases.append(Case("definition/pipeline/duplicate-run", ["pipeline", "--dataset", "{data}", "--team", "T", "--runs",
                                                            "{scratch}/runs", "--out", "{scratch}/sub"], 1,
                      setup=chain(write("runs/a/run1.toml", base), write("runs/b/run1.toml", base))))
    cases.append(Case("definition/pipeline/six-runs", ["pipeline", "--dataset", "{data}", "--team", "T", "--runs",
                                                       "{scratch}/runs", "--out", "{scratch}/sub"], 1,
                      setup=chain(*(write(f"runs/run{n}.toml", base.replace("run = 1", f"run = {n}"))
                                    for n in range(1, 7)))))
    return cases


def model_cases() -> list[Case]:
    """train, predict, leaderboard and score on damaged or foreign model folders."""
    def corrupt(name, content):
        return copy_of("va", "m", lambda folder: (folder / name).write_bytes(content))

    damaged = {"scores-json": ("scores.json", b"{not json"), "scores-list": ("scores.json", b"[1, 2]"),
               "manifest-json": ("model.json", b"{not json"), "manifest-empty": ("model.json", b""),
               "pickle": ("final/seed1/segment_model.pkl", b"not a pickle"),
               "pickle-empty": ("final/seed1/segment_model.pkl", b""),
               "folds": ("folds.json", b"{\"seed\": 1, \"folds\": 3}"),
               "settings": ("final/seed1/settings.json", b"{"),
               "run-toml": ("run.toml", b"[[[")}
    cases = []
    for name, (file, content) in damaged.items():
        setup = corrupt(file, content)
        cases.append(Case(f"model/predict/{name}", ["predict", "{scratch}/m", "--dataset", "{data}", "--features",
                                                    "{features}", "--out", OUT_VA],
                          (0, 1), setup=setup, writes=(OUT_VA,)))
        cases.append(Case(f"model/leaderboard/{name}", ["leaderboard", "{scratch}/m", "--dataset", "{data}"], (0, 1),
                          setup=setup))
        cases.append(Case(f"model/train/{name}", ["train", "{runs}/valence_arousal/run1.toml", "--dataset", "{data}",
                                                  "--features", "{features}", "--out", "{scratch}/m", "--team", "T"],
                          (0, 1), setup=setup, writes=("{scratch}/m",)))
    missing = copy_of("va", "m", lambda folder: (folder / "final" / "seed1" / "segment_model.pkl").unlink())
    cases.append(Case("model/predict/missing-file", ["predict", "{scratch}/m", "--dataset", "{data}", "--features",
                                                     "{features}", "--out", OUT_VA],
                      1, setup=missing, says="segment_model.pkl"))
    cases.append(Case("model/predict/not-a-model", ["predict", "{user}", "--dataset", "{data}", "--features",
                                                    "{features}", "--out", OUT_VA],
                      1))
    cases.append(Case("model/predict/wrong-subtask-name", ["predict", "{va}", "--dataset", "{data}", "--features",
                                                           "{features}", "--out", "{scratch}/me17ei_T_fear_run1.txt"],
                      1))
    cases.append(Case("model/predict/films-unknown", ["predict", "{va}", "--dataset", "{data}", "--features",
                                                      "{features}", "--films", "Nobody", "--out",
                                                      OUT_VA], (1, 2)))
    cases.append(Case("model/predict/films-comma", ["predict", "{va}", "--dataset", "{data}", "--features",
                                                    "{features}", "--films", ",", "--out",
                                                    OUT_VA], 2))
    cases.append(Case("model/predict/no-features", ["predict", "{va}", "--dataset", "{data}", "--features",
                                                    "{scratch}", "--out", OUT_VA],
                      1))
    cases.append(Case("model/train/out-is-user-folder", ["train", "{runs}/valence_arousal/run1.toml", "--dataset",
                                                         "{data}", "--features", "{features}", "--out", "{user}"], 1))
    cases.append(Case("model/train/out-is-dataset", ["train", "{runs}/valence_arousal/run1.toml", "--dataset", "{data}",
                                                     "--features", "{features}", "--out", "{data}"], 1))
    cases.append(Case("model/train/out-is-features", ["train", "{runs}/valence_arousal/run1.toml", "--dataset",
                                                      "{data}", "--features", "{features}", "--out", "{features}"], 1))
    cases.append(Case("model/train/out-is-a-file", ["train", "{runs}/valence_arousal/run1.toml", "--dataset", "{data}",
                                                    "--features", "{features}", "--out", "{user}/notes.txt"], (1, 2)))
    cases.append(Case("model/train/team-space", ["train", "{runs}/valence_arousal/run1.toml", "--dataset", "{data}",
                                                 "--features", "{features}", "--out", "{scratch}/m", "--team",
                                                 "my team"], (1, 2)))
    cases.append(Case("model/train/no-features", ["train", "{runs}/valence_arousal/run1.toml", "--dataset", "{data}",
                                                  "--features", "{scratch}", "--out", "{scratch}/m"], 1))
    cases.append(Case("model/train/cluster-malformed", ["train", "{runs}/valence_arousal/run1.toml", "--dataset",
                                                        "{data}", "--features", "{features}", "--out", "{scratch}/m",
                                                        "--cluster", "::::"], (1, 2)))
    cases.append(Case("model/train/same-again", ["train", "{runs}/valence_arousal/run1.toml", "--dataset", "{data}",
                                                 "--features", "{features}", "--out", "{va}", "--team", "T"], 0,
                      says="already trained"))
    cases.append(Case("model/leaderboard/not-a-model", ["leaderboard", "{user}", "--dataset", "{data}"], 1))
    cases.append(Case("model/leaderboard/json-and-csv", ["leaderboard", "{va}", "--dataset", "{data}", "--json",
                                                         "--csv"], 2))
    return cases


def import_cases() -> list[Case]:
    """import-features on damaged tables."""
    def tables(make):
        def setup(scratch, ws):
            from mediaeval.dataset import Dataset

            folder = scratch / "tables"
            folder.mkdir()
            for film in Dataset.discover(ws["data"]).films.values():
                make(folder, film.name, film.duration)
        return setup

    def csv(text_of):
        return tables(lambda folder, name, duration: (folder / f"{name}.csv").write_bytes(
            text_of(name, duration).encode("utf-8") if isinstance(text_of(name, duration), str)
            else text_of(name, duration)))

    def good(name, duration):
        return "time,a,b\n" + "".join(f"{t + 0.5},{t % 3},{t % 5}\n" for t in range(int(duration)))

    variants = {
        "semicolons": lambda n, d: good(n, d).replace(",", ";"),
        "tabs": lambda n, d: good(n, d).replace(",", "\t"),
        "bom": lambda n, d: "\ufeff" + good(n, d),
        "no-header": lambda n, d: good(n, d).split("\n", 1)[1],
        "no-time": lambda n, d: good(n, d).replace("time,", "when,"),
        "decreasing": lambda n, d: "time,a\n2,1\n1,2\n",
        "nan": lambda n, d: good(n, d).replace(",1,", ",nan,", 1),
        "text-value": lambda n, d: good(n, d).replace(",1,", ",one,", 1),
        "short-row": lambda n, d: good(n, d).replace(",1,2\n", ",1\n", 1),
        "no-overlap": lambda n, d: "time,a\n" + "".join(f"{100 + t},{t}\n" for t in range(20)),
        "first-5s": lambda n, d: "time,a\n" + "".join(f"{t},{t}\n" for t in range(5)),
        "columns-differ": lambda n, d: good(n, d).replace("time,a,b", "time,a,c") if n.endswith("1") else good(n, d),
        "empty": lambda n, d: "",
        "latin1": lambda n, d: ("time,caf\xe9\n0,1\n").encode("latin-1"),
        "binary": lambda n, d: os.urandom(300),
        "huge-line": lambda n, d: "time,a\n0," + "1" * 100000 + "\n",
        "crlf": lambda n, d: good(n, d).replace("\n", "\r\n"),
        "duplicate-times": lambda n, d: "time,a\n0,1\n0,2\n",
        "one-row": lambda n, d: "time,a\n0.5,1\n",
        "negative-times": lambda n, d: good(n, d).replace("0.5,", "-0.5,", 1),
    }
    base = ["import-features", "{scratch}/tables", "--dataset", "{data}", "--out", "{scratch}/f", "--name", "mine"]
    cases = [Case(f"import/{name}", base, (0, 1), setup=csv(text), writes=("{scratch}/f",))
             for name, text in variants.items()]
    cases.append(Case("import/good", base, 0, setup=csv(good), writes=("{scratch}/f",)))

    def npz(make):
        return tables(lambda folder, name, duration: (folder / f"{name}.npz").write_bytes(make(duration)))

    def npz_bytes(**arrays):
        import io

        import numpy as np

        buffer = io.BytesIO()
        np.savez(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
        return buffer.getvalue()

    import numpy as np
    npz_variants = {
        "text-named-npz": lambda d: b"times,values\n1,2\n",
        "complex": lambda d: npz_bytes(times=np.arange(int(d)) + 0.5, values=np.ones((int(d), 2)) * (1 + 2j)),
        "no-values": lambda d: npz_bytes(times=np.arange(int(d)) + 0.5),
        "shape-mismatch": lambda d: npz_bytes(times=np.arange(int(d)) + 0.5, values=np.ones((3, 2))),
        "object-array": lambda d: _object_npz(d),
        "strings": lambda d: npz_bytes(times=np.arange(int(d)) + 0.5, values=np.array([["a"]] * int(d))),
        "3d": lambda d: npz_bytes(times=np.arange(int(d)) + 0.5, values=np.ones((int(d), 2, 2))),
    }
    cases += [Case(f"import/npz/{name}", base, 1, setup=npz(make)) for name, make in npz_variants.items()]
    cases.append(Case("import/bad-name", base[:-1] + ["a/b"], (1, 2), setup=csv(good)))
    cases.append(Case("import/name-plus", base[:-1] + ["a+b"], (1, 2), setup=csv(good)))
    cases.append(Case("import/src-missing", ["import-features", "{scratch}/none", "--dataset", "{data}", "--out",
                                             "{scratch}/f", "--name", "mine"], 2))
    cases.append(Case("import/extra-file", base, 1,
                      setup=chain(csv(good), write("tables/Nobody.csv", "time,a\n0,1\n"))))
    cases.append(Case("import/sparse-1g", base, 1, setup=chain(csv(good), sparse("tables/Sample_01.csv", 1 << 30,
                                                                                 b"time,a\n")),
                      writes=("{scratch}/f/mine/MEDIAEVAL17",)))
    cases.append(Case("import/out-over-notes", ["import-features", "{scratch}/tables", "--dataset", "{data}", "--out",
                                                "{scratch}/f", "--name", "mine"], 1,
                      setup=chain(csv(good), write("f/mine/Sample_01.npz", NOTES)),
                      writes=("{scratch}/f/mine/MEDIAEVAL17",)))
    return cases


def _object_npz(duration):
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, times=np.arange(int(duration)) + 0.5, values=np.array([object()] * int(duration), dtype=object))
    return buffer.getvalue()


def extraction_cases() -> list[Case]:
    """extract on damaged films, options and outputs."""
    def films(edit):
        def setup(scratch, ws):
            data = scratch / "data"
            shutil.copytree(ws["data"], data)
            edit(data)
        return setup

    def truncate_film(data):
        film = next(data.rglob("Sample_01.mp4"))
        film.write_bytes(film.read_bytes()[: film.stat().st_size // 3])

    def empty_film(data):
        next(data.rglob("Sample_01.mp4")).write_bytes(b"")

    def text_film(data):
        next(data.rglob("Sample_01.mp4")).write_text(NOTES)

    def replaced_film(data):
        a, b = next(data.rglob("Sample_01.mp4")), next(data.rglob("Sample_02.mp4"))
        a.write_bytes(b.read_bytes())

    def bad_annotation(data):
        next(data.rglob("Sample_01-MEDIAEVAL2017-valence_arousal.txt")).write_text("hello\n1 2\n")

    def latin_annotation(data):
        next(data.rglob("Sample_01-MEDIAEVAL2017-valence_arousal.txt")).write_bytes("Id\tTime\tVal\xe9\n".encode(
            "latin-1"))

    def loop(data):
        (data / "loop").symlink_to(data)

    def spaced_name(data):
        film = next(data.rglob("Sample_01.mp4"))
        film.rename(film.with_name("My Film.mp4"))

    def numeric_name(data):
        film = next(data.rglob("Sample_01.mp4"))
        film.rename(film.with_name("1917.mp4"))

    def long_name(data):
        film = next(data.rglob("Sample_01.mp4"))
        film.rename(film.with_name("F" * 240 + ".mp4"))

    edits = {"truncated-film": truncate_film, "empty-film": empty_film, "text-film": text_film,
             "bad-annotation": bad_annotation, "latin1-annotation": latin_annotation, "symlink-loop": loop,
             "film-name-space": spaced_name, "film-name-number": numeric_name, "film-name-long": long_name}
    cases = []
    for name, edit in edits.items():
        cases.append(Case(f"extract/{name}", ["extract", "--dataset", "{scratch}/data", "--out", "{scratch}/f"],
                          (0, 1), setup=films(edit), writes=("{scratch}/f",)))
        cases.append(Case(f"inspect/{name}", ["inspect", "--dataset", "{scratch}/data"], (0, 1), setup=films(edit)))
    cases.append(Case("extract/replaced-film-then-predict", ["predict", "{va}", "--dataset", "{scratch}/data",
                                                             "--features", "{features}", "--out",
                                                             OUT_VA,
                                                             "--films", "dev"], 1, setup=films(replaced_film)))
    base = ["extract", "--dataset", "{data}", "--out", "{scratch}/f"]
    options = {
        "unknown-extractor": ["--extractor", "nope"],
        "duplicate-extractor": ["--extractor", "visual-stats,visual-stats"],
        "bad-setting": ["--setting", "musicnn.context_seconds=abc"],
        "setting-unknown-key": ["--setting", "musicnn.colour=3"],
        "setting-no-equals": ["--setting", "musicnn"],
        "weights-missing": ["--extractor", "c3d", "--weights", "c3d={scratch}/none.h5"],
        "weights-not-h5": ["--extractor", "c3d", "--weights", "c3d={user}/notes.txt"],
        "c3d-no-weights": ["--extractor", "c3d"],
        "films-unknown": ["--films", "Nobody"],
        "films-comma": ["--films", ","],
        "jobs-0": ["--jobs", "0"],
        "cluster-malformed": ["--cluster", "not an address"],
        "cluster-unreachable": ["--cluster", "tcp://127.0.0.1:9"],
        "backend-unknown": ["--video-backend", "vlc"],
    }
    cases += [Case(f"extract/option/{name}", base + extra, (1, 2)) for name, extra in options.items()]
    cases.append(Case("extract/out-is-a-file", ["extract", "--dataset", "{data}", "--out", "{user}/notes.txt"], (1, 2)))
    cases.append(Case("extract/out-under-a-file", ["extract", "--dataset", "{data}", "--out", "{user}/notes.txt/f"],
                      1))
    cases.append(Case("extract/over-user-npz", ["extract", "--dataset", "{data}", "--out", "{scratch}/f"], 1,
                      setup=write("f/visual-stats+audio-stats/Sample_01.npz", NOTES), writes=("{scratch}/f",)))
    cases.append(Case("extract/full-disk", ["extract", "--dataset", "{data}", "--out", "{scratch}/f", "--films",
                                            "Sample_01"], 1, limit_file_size=1000, writes=("{scratch}/f",)))
    cases.append(Case("extract/dataset-missing", ["extract", "--dataset", "{scratch}/none", "--out", "{scratch}/f"], 2))
    cases.append(Case("extract/dataset-empty", ["extract", "--dataset", "{scratch}", "--out", "{scratch}/f"], 1))
    return cases


def misc_cases() -> list[Case]:
    cases = [
        Case("sample/into-user", ["sample", "{user}", "--overwrite"], 1),
        Case("sample/into-dataset", ["sample", "{data}", "--overwrite", "--films", 1, "--test-films", 0, "--duration",
                                     11, "--no-organisers"], 0, writes=("{data}",)),
        Case("sample/duration-bad", ["sample", "{scratch}/s", "--duration", "5"], 2),
        Case("sample/duration-text", ["sample", "{scratch}/s", "--duration", "abc"], 2),
        Case("sample/films-0", ["sample", "{scratch}/s", "--films", 0], 2),
        Case("sample/dest-is-file", ["sample", "{user}/notes.txt"], (1, 2)),
        Case("render/fear-run", ["render", "{user}/clip.mp4", "--run", test_run("fear"), "--out", "{scratch}/o.mp4"],
             1),
        Case("render/unknown-film", ["render", "{user}/clip.mp4", "--run", test_run(), "--out", "{scratch}/o.mp4"], 1),
        Case("render/not-a-film", ["render", "{user}/notes.txt", "--run", test_run(), "--film-name", "MEDIAEVAL17_00",
                                   "--out", "{scratch}/o.mp4"], 1),
        Case("render/onto-itself", ["render", "{user}/clip.mp4", "--run", test_run(), "--film-name", "MEDIAEVAL17_00",
                                    "--out", "{user}/clip.mp4", "--overwrite"], 1),
        Case("render/style-bad", ["render", "{user}/clip.mp4", "--run", test_run(), "--style", "sepia", "--out",
                                  "{scratch}/o.mp4"], 2),
        Case("baseline/subtask-bad", ["baseline", "--dataset", "{data}", "--subtask", "joy", "--out",
                                      "{scratch}/me17ei_T_joy_run1.txt"], 2),
        Case("baseline/name-bad", ["baseline", "--dataset", "{data}", "--subtask", VA, "--out", "{scratch}/run.txt"],
             2),
        Case("baseline/train-films-none", ["baseline", "--dataset", "{data}", "--subtask", VA, "--train-films",
                                           "test", "--out", OUT_VA], 1),
        Case("score/test-without-truth", ["score", test_run(), "--dataset", "{data}"], 1),
        Case("score/in-sample", ["score", OUT_VA, "--dataset", "{data}"], 0,
             setup=_in_sample, says="in-sample"),
        Case("leaderboard/other-data", ["leaderboard", "{va}", "--dataset", "{scratch}/data"], (0, 1),
             setup=_other_labels, says="labels"),
        Case("inspect/dataset-is-file", ["inspect", "--dataset", "{user}/notes.txt"], 2),
        Case("validate/subtask-bad", ["validate", test_run(), "--dataset", "{data}", "--subtask", "joy"], 2),
        Case("plot/no-run", ["plot", "--dataset", "{data}", "--out", "{scratch}/p"], 2),
        Case("fuse/one-run", ["fuse", test_run(), "--dataset", "{data}", "--out", OUT_FUSED],
             1),
        Case("fuse/mixed-subtasks", ["fuse", test_run(), test_run("fear"), "--dataset", "{data}", "--out",
                                     OUT_FUSED], 1),
        Case("fuse/weights-bad", ["fuse", test_run(), test_run(), "--dataset", "{data}", "--weights", "1,x", "--out",
                                  OUT_FUSED], 2),
        Case("fuse/weights-negative", ["fuse", test_run(), test_run(), "--dataset", "{data}", "--weights", "-1,2",
                                       "--out", OUT_FUSED], (1, 2)),
        Case("fuse/weights-count", ["fuse", test_run(), test_run(), "--dataset", "{data}", "--weights", "1,2,3",
                                    "--out", OUT_FUSED], (1, 2)),
        Case("fuse/apply-count", ["fuse", test_run(), test_run(), "--dataset", "{data}", "--apply-to", test_run(),
                                  "--out", OUT_FUSED], 2),
        Case("unknown-command", ["frobnicate"], 2),
        Case("unknown-option", ["score", "--frob"], 2),
    ]
    return cases


def _in_sample(scratch, ws):
    run(["predict", ws["va"], "--dataset", ws["data"], "--features", ws["features"], "--films", "dev", "--out",
         scratch / "me17ei_T_valence_arousal_run1.txt"])


def _other_labels(scratch, ws):
    data = scratch / "data"
    shutil.copytree(ws["data"], data)
    annotation = next(data.rglob("Sample_01-MEDIAEVAL2017-valence_arousal.txt"))
    lines = annotation.read_text().splitlines()
    annotation.write_text("\n".join(lines[:1] + [line.rsplit("\t", 2)[0] + "\t0.9\t0.9" for line in lines[1:]]) + "\n")


def all_cases() -> list[Case]:
    return (output_cases() + pipeline_cases() + run_file_cases() + definition_cases() + model_cases()
            + import_cases() + extraction_cases() + misc_cases())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=None, help="Run the cases whose name holds this word.")
    parser.add_argument("--keep", default=None, help="Build (or reuse) the workspace in this folder and keep it.")
    parser.add_argument("--jobs", type=int, default=2, help="Cases run at once (default 2).")
    parser.add_argument("--list", action="store_true", help="List the cases and exit.")
    args = parser.parse_args()
    cases = [c for c in all_cases() if args.only is None or args.only in c.name]
    if args.list:
        print("\n".join(c.name for c in cases))
        print(f"{len(cases)} cases")
        return 0
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="hostile-audit-"))
    ws = Workspace(root.absolute())
    if not (root / "sub" / "me17ei_T.zip").exists():
        print(f"building the workspace in {root} ...", flush=True)
        ws.build()
    cases_dir = ws.root / f"cases-{int(time.time())}"
    started = time.time()
    failed = {}
    alone = [c for c in cases if any(not w.startswith("{scratch}") for w in c.writes)]  # they write shared files
    for group, jobs in (([c for c in cases if c not in alone], args.jobs), (alone, 1)):
        with ThreadPoolExecutor(jobs) as pool:
            for case, problem in zip(group, pool.map(lambda c: run_case(c, ws, cases_dir), group)):
                if problem:
                    failed[case.name] = problem
                    print(f"FAIL {case.name}: {problem}", flush=True)
    print(f"\n{len(cases)} cases, {len(cases) - len(failed)} behaved, {len(failed)} failed "
          f"({(time.time() - started) / 60:.1f} min); workspace {root}")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
