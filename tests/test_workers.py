"""Worker processes (mediaeval/workers.py): they die with their parent, killed or terminated
(SIGTERM handled like Ctrl-C), and run every numerical library on one thread.  Real worker
processes of real commands, killed for real."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO
from films import write_film


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


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killed_extract_leaves_no_worker(tmp_path):
    process, out, children = _start_extract(tmp_path)
    process.kill()                                    # SIGKILL: no handler runs in the parent
    process.wait()
    assert _wait_for(lambda: not any(_alive(pid) for pid in children), 10.0), \
        [pid for pid in children if _alive(pid)]
    before = _files(out)
    time.sleep(1.0)
    assert _files(out) == before                      # nobody goes on writing


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_is_handled_like_ctrl_c(tmp_path):
    process, out, children = _start_extract(tmp_path)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 1 and "Aborted!" in stderr, stderr
    assert _wait_for(lambda: not any(_alive(pid) for pid in children), 10.0)
    assert not (list(out.rglob(".*.tmp")) if out.exists() else [])
    assert "Traceback" not in stderr, stderr


def test_training_pool_workers_die_with_their_parent():
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


@pytest.mark.slow
def test_job_processes_run_every_numerical_library_on_one_thread():
    """Extraction and training jobs run in processes started by one_thread_each: the libraries
    loaded before it and after it both on one thread (their sums split alike everywhere)."""
    from mediaeval.workers import WorkerPool, one_thread_each

    with WorkerPool(1, initializer=one_thread_each) as pool:
        threads, tensorflow = pool.submit(_threads_of_a_job).result()
    assert {name.split()[0] for name in threads} >= {"openblas", "openmp"}, threads
    assert set(threads.values()) == {1}, threads
    assert tensorflow == {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killed_parent_takes_its_pool_workers_along(tmp_path):
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


