"""Issue 10 (hostile-input audit), films and extraction: items 4, 6, 8 and 11 (part).

Real mp4 files written by the tests, real worker processes killed for real.
"""
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import invoke
from films import source_grey, truncate, write_film
from mediaeval.features.extract import extract_to_file
from mediaeval.features.store import STALE_SECONDS, feature_path, file_fingerprint, load_features
from mediaeval.media import iter_video_steps, probe, shown_frames
from mediaeval.task import VALENCE_AROUSAL
from mediaeval.windows import FRAMES_PER_STEP, step_count

REPO = Path(__file__).resolve().parents[1]
SET = ["visual-stats", "audio-stats"]


def decoded_ends(path):
    """Where PyAV's own decoding of each stream stops: end of the last video frame and of the
    last audio frame (seconds), decoding errors ending the stream as they end ours."""
    ends = {}
    for kind in ("video", "audio"):
        with av.open(str(path)) as container:
            stream = getattr(container.streams, kind)[0]
            end = 0.0
            try:
                for frame in container.decode(stream):
                    length = (float(frame.duration * frame.time_base) if kind == "video"
                              else frame.samples / frame.sample_rate)
                    end = max(end, frame.time + length)
            except av.error.FFmpegError:
                pass
            ends[kind] = end
    return ends


# --------------------------------------------------------------------------- item 4

def test_item4_truncated_film_fails_by_name(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_film(data / "Good.mp4", 12.0)
    truncate(write_film(data / "Cut.mp4", 30.0, faststart=True), 0.5)   # a partial download
    ends = decoded_ends(data / "Cut.mp4")
    assert probe(data / "Cut.mp4").duration == 30.0 and 10 < ends["video"] < 20   # opens, stops mid-way
    out = tmp_path / "features"
    result = invoke("extract", "--dataset", data, "--out", out)
    assert result.exit_code == 1, result.output
    assert "1 films extracted, 0 already complete, 1 failed" in result.output
    assert (f"failed: Cut: {data / 'Cut.mp4'}: video decoding stopped at {ends['video']:.1f} s of 30.0 s"
            in result.output)
    assert "more than max(2 s, 2 % of the duration) is missing" in result.output
    assert sorted(p.name for p in (out / "+".join(SET)).iterdir()) == ["Good.npz"]


def test_item4_short_gap_is_a_stored_warning_with_the_true_position(tmp_path):
    path = truncate(write_film(tmp_path / "Film.mp4", 30.0, faststart=True), 0.96)
    ends = decoded_ends(path)
    assert 0.25 < 30.0 - ends["video"] <= 2.0 and 0.25 < 30.0 - ends["audio"] <= 2.0
    with pytest.warns(UserWarning, match="decoding stopped at"):
        out, wrote = extract_to_file(path, tmp_path / "features")
    warnings = load_features(out).meta["warnings"]
    video = [w for w in warnings if w.startswith("video")]
    audio = [w for w in warnings if w.startswith("audio")]
    assert video == [f"video decoding stopped at {ends['video']:.1f} s of 30.0 s "
                     f"({30.0 - ends['video']:.1f} s missing: truncated or damaged file?); the last frame is held"]
    assert len(audio) == 1 and audio[0].startswith(f"audio decoding stopped at {ends['audio']:.1f} s of 30.0 s")
    assert "near 0.0 s" not in " ".join(warnings)


def test_item4_replaced_film_is_extracted_again(tmp_path):
    path = write_film(tmp_path / "Film.mp4", 4.0)
    out, wrote = extract_to_file(path, tmp_path / "f")
    assert wrote and load_features(out).meta["video_file"] == file_fingerprint(path)
    assert file_fingerprint(path)["size"] == path.stat().st_size
    os.utime(path, (1e9, 1e9))                    # touched, or copied without its times: same film
    assert extract_to_file(path, tmp_path / "f") == (out, False)
    write_film(path, 6.0, grey=lambda k: 100)     # replaced by another film
    assert extract_to_file(path, tmp_path / "f") == (out, True)
    assert load_features(out).values.shape[0] == step_count(6.0) == 11
    assert extract_to_file(path, tmp_path / "f") == (out, False)


# --------------------------------------------------------------------------- item 6

def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its reaper counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(condition, seconds=60.0):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _start_extract(tmp_path, n_films=4, seconds=40.0):
    data = tmp_path / "data"
    data.mkdir()
    for k in range(n_films):
        write_film(data / f"Film{k}.mp4", seconds)
    out = tmp_path / "features"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    process = subprocess.Popen([sys.executable, "-c", "from mediaeval.cli import main; main()", "extract",
                                "--dataset", str(data), "--out", str(out), "--jobs", "2"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def workers():
        return [pid for pid in _children(process.pid)
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert _wait_for(lambda: len(workers()) == 2), "the two workers never started"
    return process, out, _children(process.pid)


def _files(folder: Path) -> list[tuple[str, int]]:
    return sorted((str(p), p.stat().st_size) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_item6_killed_extract_leaves_no_worker(tmp_path):
    process, out, children = _start_extract(tmp_path)
    process.kill()                                    # SIGKILL: no handler runs in the parent
    process.wait()
    assert _wait_for(lambda: not any(_alive(pid) for pid in children), 10.0), \
        [pid for pid in children if _alive(pid)]
    before = _files(out)
    time.sleep(1.0)
    assert _files(out) == before                      # nobody goes on writing


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_item6_sigterm_is_handled_like_ctrl_c(tmp_path):
    process, out, children = _start_extract(tmp_path)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 1 and "Aborted!" in stderr, stderr
    assert _wait_for(lambda: not any(_alive(pid) for pid in children), 10.0)
    assert not (list(out.rglob(".*.tmp")) if out.exists() else [])
    assert "Traceback" not in stderr, stderr


def test_item6_training_pool_workers_die_with_their_parent():
    from mediaeval.workers import WorkerPool, as_executor, one_thread_each

    executor = as_executor(3)
    try:
        assert isinstance(executor.pool(one_thread_each), WorkerPool)
    finally:
        executor.shutdown()


def _threads_of_a_job() -> tuple[dict, dict]:
    """In a job process: the thread count of every BLAS and OpenMP library that NumPy, SciPy
    and scikit-learn load, and TensorFlow's thread settings in the environment."""
    import scipy.linalg  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    from threadpoolctl import threadpool_info

    return ({f"{i['internal_api']} {Path(i['filepath']).name}": i["num_threads"] for i in threadpool_info()},
            {k: os.environ.get(k) for k in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")})


def test_job_processes_run_every_numerical_library_on_one_thread():
    """Extraction and training jobs run in processes started by one_thread_each: the libraries
    loaded before it and after it both on one thread (their sums split alike everywhere)."""
    from mediaeval.workers import WorkerPool, one_thread_each

    with WorkerPool(1, initializer=one_thread_each) as pool:
        threads, tensorflow = pool.submit(_threads_of_a_job).result()
    assert {name.split()[0] for name in threads} >= {"openblas", "openmp"}, threads
    assert set(threads.values()) == {1}, threads
    assert tensorflow == {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}


def test_extraction_here_runs_blas_on_one_thread_and_gives_the_threads_back(tmp_path, temporary_extractor):
    """In this process (--jobs 1, a notebook) an extraction holds the BLAS and OpenMP pools to
    one thread, as a job process is held, and restores them afterwards."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from mediaeval.features.extract import ExtractionOptions, extract_film
    from mediaeval.features.registry import Extractor

    seen = []

    def record(state, block):
        seen.append({i["internal_api"]: i["num_threads"] for i in threadpool_info()})
        return np.zeros((len(block), 1), np.float32)

    temporary_extractor("threads", lambda: Extractor("threads", "visual", "1", ["x"], process=record))
    path = write_film(tmp_path / "Film.mp4", 2.0)
    with threadpool_limits(3, user_api="blas"):
        extract_film(path, ExtractionOptions(("threads",)))
        after = {i["internal_api"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
    assert seen and "openblas" in seen[0] and all(set(s.values()) == {1} for s in seen), seen
    assert set(after.values()) == {3}, after


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_item6_killed_parent_takes_its_pool_workers_along(tmp_path):
    script = ("import time\nfrom mediaeval.workers import WorkerPool\n"
              "pool = WorkerPool(2)\nfutures = [pool.submit(time.sleep, 600) for _ in range(2)]\n"
              "time.sleep(600)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    process = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        assert _wait_for(lambda: sum(b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()
                                     for p in _children(process.pid)) == 2)
        children = _children(process.pid)
        process.kill()
        process.wait()
        assert _wait_for(lambda: not any(_alive(pid) for pid in children), 10.0)
    finally:
        process.kill()


# --------------------------------------------------------------------------- item 8

RUN = """subtask = "valence_arousal"
run = 1
description = "a film shorter than a step"
features = ["visual-stats", "audio-stats"]
seed = 1
folds = 2

[model]
lstm_units = 4
epochs = 1
chunk_steps = 16
batch_films = 2
"""


def test_item8_film_shorter_than_a_step_gets_0_rows(tiny_dataset, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(tiny_dataset, data)
    video = next(data.rglob("MEDIAEVAL17_00.mp4"))
    write_film(video.with_name("MEDIAEVAL17_09.mp4"), 0.4)
    features = tmp_path / "features"
    with pytest.warns(UserWarning, match="film MEDIAEVAL17_09 lasts 0.40 s, less than one step"):
        result = invoke("extract", "--dataset", data, "--out", features)
    assert result.exit_code == 0, result.output
    short = load_features(feature_path(features, SET, "MEDIAEVAL17_09"))
    assert short.values.shape == (0, 153) and short.times.shape == (0,)
    assert short.meta["warnings"] == ["film MEDIAEVAL17_09 lasts 0.40 s, less than one step (16/30 s): its features "
                                      "have 0 rows and it has no segment"]
    (tmp_path / "run1.toml").write_text(RUN)
    result = invoke("train", tmp_path / "run1.toml", "--dataset", data, "--features", features,
                    "--out", tmp_path / "model", "--team", "T")
    assert result.exit_code == 0, result.output
    for films, expected in (("test", ["MEDIAEVAL17_00", "MEDIAEVAL17_09"]), ("MEDIAEVAL17_09", ["MEDIAEVAL17_09"])):
        run = tmp_path / films / "me17ei_T_valence_arousal_run1.txt"
        result = invoke("predict", tmp_path / "model", "--dataset", data, "--features", features,
                        "--films", films, "--out", run)
        assert result.exit_code == 0, result.output
        lines = run.read_text().splitlines()
        names = [line for line in lines if line.startswith("MEDIAEVAL17")]
        assert names == expected
        assert lines[-1] == "MEDIAEVAL17_09"         # its name line, and its 0 segments
    assert lines == ["MEDIAEVAL17_09"]


# --------------------------------------------------------------------------- item 11

def test_item11_render_refuses_to_replace_its_source(tmp_path):
    from mediaeval.submission import write_run

    film = write_film(tmp_path / "Film.mp4", 10.0)
    original = film.read_bytes()
    run = write_run(tmp_path / "me17ei_T_valence_arousal_run1.txt", {"Film": np.zeros((1, 2))}, VALENCE_AROUSAL)
    for out in (film, tmp_path / "." / "Film.mp4"):
        for extra in ([], ["--overwrite"]):
            result = invoke("render", film, "--run", run, "--out", out, *extra)
            assert result.exit_code == 1 and "is the film being rendered" in result.output, result.output
    assert film.read_bytes() == original
    notes = tmp_path / "notes.mp4"
    notes.write_bytes(b"a user's file")
    for extra in ([], ["--overwrite"]):                # not an mp4: left alone, even with --overwrite
        result = invoke("render", film, "--run", run, "--out", notes, *extra)
        assert result.exit_code == 1 and "is not an mp4 film; it is left alone (even with --overwrite)" in result.output
    assert notes.read_bytes() == b"a user's file"
    mine = tmp_path / "mine.mp4"
    shutil.copy(film, mine)                            # a user's film: only with --overwrite
    result = invoke("render", film, "--run", run, "--out", mine)
    assert result.exit_code == 1 and "is not a render made by mediaeval (or was changed since); use --overwrite" \
        in result.output
    assert mine.read_bytes() == original
    rendered = tmp_path / "rendered.mp4"
    assert invoke("render", film, "--run", run, "--out", rendered).exit_code == 0
    assert invoke("render", film, "--run", run, "--out", rendered).exit_code == 0   # a previous render: redone
    assert invoke("render", film, "--run", run, "--out", mine, "--overwrite").exit_code == 0
    assert probe(mine).duration == pytest.approx(10.0, abs=0.05)


@pytest.mark.parametrize("backend", ["pyav", "decord"])
def test_item11_video_starting_late_keeps_its_end(tmp_path, backend):
    times = np.arange(150) / 25 + 5.0          # 6 s of video from 5 s on; sound from 0 to 6 s
    path = write_film(tmp_path / "Late.mp4", 6.0, frame_times=times, grey=lambda k: (3 * k) % 240)
    assert probe(path).duration == pytest.approx(11.0)
    n_steps = step_count(11.0)
    frames = np.concatenate(list(iter_video_steps(path, n_steps, backend=backend)))
    grey = frames.reshape(-1, 112, 112, 3).mean(axis=(1, 2, 3))
    expected = shown_frames(times, n_steps * FRAMES_PER_STEP)
    assert expected[0] == 0 and expected[-1] == 140   # 10.63 s shows frame 140 (5 + 140 / 25 s)
    assert np.array_equal(grey, source_grey(path, backend)[expected])


def test_item11_inspect_lists_unreadable_videos_and_goes_on(tiny_dataset, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(tiny_dataset, data)
    bad = next(data.rglob("Sample_01.mp4"))       # annotated, its video unreadable
    bad.write_text("not a film")
    (bad.parent / "Worse.mp4").write_bytes(b"")  # no annotation, an empty file
    result = invoke("inspect", "--dataset", data)
    assert result.exit_code == 1, result.output
    rows = {line.split()[0]: line.split() for line in result.output.splitlines()[1:5]}
    assert rows["Sample_01"][3:] == ["UNREADABLE", "-", "1", "1", "-"]   # its annotations still counted
    assert rows["Worse"][3:] == ["UNREADABLE", "-", "-", "-", "-"]
    assert float(rows["Sample_02"][3]) > 11 and float(rows["MEDIAEVAL17_00"][3]) > 11
    assert f"note: Sample_01: {bad}: expected a readable video file" in result.output
    assert "Error: 2 unreadable videos: Sample_01, Worse" in result.output


def test_item11_stale_temporaries_are_removed(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_film(data / "Film.mp4", 2.0)
    folder = tmp_path / "features" / "+".join(SET)
    folder.mkdir(parents=True)
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(finished.stdout)
    stale = folder / f".Film.npz.{dead}.tmp"
    recent = folder / f".Third.npz.{dead}.tmp"
    live = folder / f".Other.npz.{os.getpid()}.tmp"   # this process: alive
    user = folder / ".notes.tmp"
    for path in (stale, recent, live, user):
        path.write_bytes(b"partial")
    old = time.time() - STALE_SECONDS - 10
    for path in (stale, live, user):
        os.utime(path, (old, old))
    result = invoke("extract", "--dataset", data, "--out", tmp_path / "features")
    assert result.exit_code == 0, result.output
    assert f"removed {stale}, left by an interrupted run" in result.output
    assert not stale.exists() and recent.exists() and live.exists() and user.exists()
    assert (folder / "Film.npz").exists()


def test_item11_empty_film_list_is_a_usage_error(tiny_dataset, tmp_path):
    for value in (",", " , "):
        result = invoke("extract", "--dataset", tiny_dataset, "--out", tmp_path / "f", "--films", value)
        assert result.exit_code == 2 and "expected one or more comma-separated names" in result.output
    assert not (tmp_path / "f").exists()


def test_item11_rotated_film_gets_a_warning(tmp_path):
    path = write_film(tmp_path / "Turned.mp4", 2.0, rotation=-90)   # a phone held upright
    with pytest.warns(UserWarning, match="Turned.mp4: film Turned: its video stream is to be shown rotated by 270 "):
        out, _ = extract_to_file(path, tmp_path / "f")
    assert load_features(out).meta["warnings"] == [
        "film Turned: its video stream is to be shown rotated by 270 degrees counter-clockwise; features are "
        "computed on the frames as stored (unrotated)"]
    plain, _ = extract_to_file(write_film(tmp_path / "Plain.mp4", 2.0), tmp_path / "f")
    assert load_features(plain).meta["warnings"] == []
