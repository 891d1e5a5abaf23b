"""--cluster: extraction and training jobs on a real Dask cluster (``dask scheduler`` and
``dask worker`` processes, as the README starts them), compared with local runs; a worker killed
mid-extraction; workers that do not share the files or run another mediaeval are refused."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import TRAINING_RUN, assert_json_close, assert_runs_close
from films import truncate, write_film
from mediaeval.cli import cli
from mediaeval.features.store import load_features

distributed = pytest.importorskip("distributed")

REPO = Path(__file__).resolve().parents[1]
SET = "visual-stats+audio-stats"
RUN = TRAINING_RUN.format(subtask="valence_arousal", seeds=1)


def invoke(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def _env(pythonpath=REPO):
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(pythonpath), os.environ.get("PYTHONPATH", "")]),
                TF_CPP_MIN_LOG_LEVEL="3")


class Cluster:
    """A ``dask scheduler`` process and ``dask worker`` processes (each ``--nworkers N
    --nthreads 1``, under a nanny that restarts a killed worker), ended with their process group."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.processes = []
        scheduler_file = folder / "scheduler.json"
        self._start([sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
                     "--no-dashboard", "--scheduler-file", str(scheduler_file)], "scheduler")
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            assert time.monotonic() < deadline, (folder / "scheduler.log").read_text()
            time.sleep(0.1)
        self.address = json.loads(scheduler_file.read_text())["address"]
        self.client = distributed.Client(self.address, set_as_default=False)

    def _start(self, command, name, env=None):
        log = open(self.folder / f"{name}.log", "w")
        self.processes.append(subprocess.Popen(command, env=env or _env(), stdout=log, stderr=subprocess.STDOUT,
                                               start_new_session=True, cwd=self.folder))
        return self.processes[-1]

    def add_workers(self, n: int, name: str, prefix=(), env=None):
        """Start ``n`` worker processes (``prefix``: a command to run them under); wait for them."""
        before = len(self.client.scheduler_info(n_workers=-1)["workers"])
        process = self._start([*prefix, sys.executable, "-m", "dask", "worker", self.address, "--nworkers", str(n),
                               "--nthreads", "1", "--no-dashboard", "--local-directory", str(self.folder)],
                              name, env)
        self.client.wait_for_workers(before + n, timeout=120)
        return process

    def end(self, process) -> None:
        with_group = [process] if process is not None else list(self.processes)
        for p in with_group:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in with_group:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    def close(self) -> None:
        self.client.close()
        self.end(None)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    running = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        running.add_workers(2, "workers")
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def local_features(tiny_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "features"
    result = invoke("extract", "--dataset", tiny_dataset, "--out", out)
    assert result.exit_code == 0, result.output
    return out


def assert_same_features(folder: Path, expected: Path) -> None:
    """The same feature files, value for value.  Exact, not within a tolerance: identical by
    construction on one machine, for an extraction here holds NumPy's BLAS to one thread as a
    cluster worker's job process is held (mediaeval.workers.one_thread_here / one_thread_each),
    and these extractors use no other threads.  With two BLAS threads here the log-mel bands
    differed by up to 6e-7 (relative) on OpenBLAS's Haswell kernels (an AMD Zen 3, or
    `make test-portable`)."""
    names = sorted(p.name for p in expected.iterdir())
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == names
    for name in names:
        ours, theirs = load_features(folder / name), load_features(expected / name)
        assert np.array_equal(ours.values, theirs.values) and np.array_equal(ours.times, theirs.times), name
        assert ours.columns == theirs.columns and ours.meta == theirs.meta, name


@pytest.mark.slow
def test_extract_and_train_on_a_cluster_give_what_a_local_run_gives(cluster, tiny_dataset, local_features, tmp_path):
    features = tmp_path / "features"
    result = invoke("extract", "--dataset", tiny_dataset, "--out", features, "--cluster", cluster.address)
    assert result.exit_code == 0, result.output
    assert "3 films extracted, 0 already complete, 0 failed" in result.output
    assert_same_features(features / SET, local_features / SET)
    again = invoke("extract", "--dataset", tiny_dataset, "--out", features, "--cluster", cluster.address)
    assert "0 films extracted, 3 already complete, 0 failed" in again.output

    config = tmp_path / "run3.toml"
    config.write_text(RUN)
    local = invoke("train", config, "--dataset", tiny_dataset, "--features", local_features,
                   "--out", tmp_path / "local", "--team", "T")
    assert local.exit_code == 0, local.output
    remote = invoke("train", config, "--dataset", tiny_dataset, "--features", features, "--out", tmp_path / "remote",
                    "--team", "T", env={"MEDIAEVAL_CLUSTER": cluster.address})   # the address from the environment
    assert remote.exit_code == 0, remote.output
    # Trained here with every core, there with one TensorFlow thread: the same figures and
    # predictions within float32 rounding (conftest.TRAINED_ATOL), the same choices exactly.
    printed, expected = remote.output.splitlines()[-2], local.output.splitlines()[-2]   # the figures printed
    number = r"-?\d+\.\d+"
    assert re.sub(number, "#", printed) == re.sub(number, "#", expected)
    assert np.allclose([float(x) for x in re.findall(number, printed)],
                       [float(x) for x in re.findall(number, expected)], rtol=0, atol=1e-3 + 1e-9)  # 3 decimals
    run = "me17ei_T_valence_arousal_run3.txt"
    assert_runs_close(tmp_path / "remote" / run, tmp_path / "local" / run)
    assert_json_close(json.loads((tmp_path / "remote" / "scores.json").read_text()),
                      json.loads((tmp_path / "local" / "scores.json").read_text()))
    for name in ("folds.json", "fold1/seed1/settings.json", "fold2/seed1/settings.json", "final/seed1/settings.json"):
        assert (tmp_path / "remote" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name

    def files(folder):
        return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                      if p.is_file() and "tensorboard" not in p.parts)

    assert files(tmp_path / "remote") == files(tmp_path / "local")
    # the standardisation: NumPy means and standard deviations of the same features (no BLAS, no
    # threads), the same in any process of this machine
    for model in ("fold1/seed1", "fold2/seed1", "final/seed1"):
        for stat in ("mean", "std"):
            assert np.array_equal(np.load(tmp_path / "remote" / model / "normalisation.npz")[stat],
                                  np.load(tmp_path / "local" / model / "normalisation.npz")[stat])


@pytest.mark.slow
def test_pipeline_on_a_cluster_builds_a_valid_zip(cluster, tiny_dataset, tmp_path):
    from mediaeval.dataset import Dataset
    from mediaeval.run_files import validate_run

    (tmp_path / "runs" / "valence_arousal").mkdir(parents=True)
    (tmp_path / "runs" / "valence_arousal" / "run3.toml").write_text(RUN)
    result = invoke("pipeline", "--dataset", tiny_dataset, "--team", "T", "--runs", tmp_path / "runs",
                    "--features", tmp_path / "features", "--models", tmp_path / "models",
                    "--out", tmp_path / "submission", "--cluster", cluster.address)
    assert result.exit_code == 0, result.output
    assert f"submission: {tmp_path / 'submission' / 'me17ei_T.zip'} (1 runs)" in result.output
    assert validate_run(tmp_path / "submission" / "me17ei_T_valence_arousal_run3.txt",
                        Dataset.discover(tiny_dataset)) == []


@pytest.mark.slow
def test_a_worker_killed_during_extraction_loses_nothing(cluster, tiny_dataset, local_features, tmp_path):
    features = tmp_path / "features"
    command = [sys.executable, "-c", "from mediaeval.cli import main; main()", "extract",
               "--dataset", str(tiny_dataset),
               "--out", str(features), "--cluster", cluster.address]
    process = subprocess.Popen(command, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        killed = None
        deadline = time.monotonic() + 120
        while killed is None and time.monotonic() < deadline and process.poll() is None:
            busy = [(worker, key) for worker, keys in cluster.client.processing().items()
                    for key in keys if str(key).startswith("extract_one-")]
            if busy:
                worker, key = busy[0]
                pid = cluster.client.run(os.getpid, workers=[worker])[worker]
                os.kill(pid, signal.SIGKILL)             # mid-task: the worker dies, its nanny starts another
                killed = (worker, key)
            time.sleep(0.02)
        stdout, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    assert killed is not None, "no extraction task was seen running"
    assert process.returncode == 0, stderr
    assert "3 films extracted, 0 already complete, 0 failed" in stdout
    assert killed[0] not in cluster.client.scheduler_info(n_workers=-1)["workers"]
    story = cluster.client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.story(killed[1]))
    processing = [event for event in story if event[2] == "processing"]
    assert len(processing) == 2, story                             # the task ran again, elsewhere
    assert_same_features(features / SET, local_features / SET)      # every file complete and right
    again = invoke("extract", "--dataset", tiny_dataset, "--out", features, "--cluster", cluster.address)
    assert "0 films extracted, 3 already complete, 0 failed" in again.output
    cluster.client.wait_for_workers(2, timeout=60)                   # as the other tests found it


@pytest.mark.slow
def test_a_broken_film_fails_once_by_name_and_the_others_go_on(cluster, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_film(data / "Good.mp4", 12.0)
    truncate(write_film(data / "Cut.mp4", 30.0, faststart=True), 0.5)
    out = tmp_path / "features"
    result = invoke("extract", "--dataset", data, "--out", out, "--cluster", cluster.address)
    assert result.exit_code == 1, result.output
    assert "1 films extracted, 0 already complete, 1 failed" in result.output
    assert f"failed: Cut: {data / 'Cut.mp4'}: video decoding stopped at" in result.output
    assert sorted(p.name for p in (out / SET).iterdir()) == ["Good.npz"]


def _private_mounts() -> bool:
    """Whether this user may start a process that sees a folder of its own over a shared one."""
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs none /mnt"],
                          capture_output=True).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _private_mounts(), reason="needs unshare -rm (user and mount namespaces)")
def test_workers_that_do_not_share_the_files_or_run_another_version_are_refused(tiny_dataset, tmp_path):
    hidden = tmp_path / "hidden"
    shutil.copytree(tiny_dataset, hidden / "data")
    running = Cluster(tmp_path)
    try:
        # a worker in a mount namespace of its own, with an empty folder over `hidden`: a machine
        # without the shared file system
        private = running.add_workers(1, "private", ["unshare", "-rm", "sh", "-c",
                                                     f'mount -t tmpfs none {hidden} && exec "$0" "$@"'])
        worker = next(iter(running.client.scheduler_info(n_workers=-1)["workers"]))
        result = invoke("extract", "--dataset", hidden / "data", "--out", tmp_path / "features",
                        "--cluster", running.address)
        assert result.exit_code == 1, result.output
        assert (f"Error: {hidden / 'data'} (the dataset): worker {worker} on " in result.output
                and "does not see it as this machine does (no such file or directory there, a folder here); "
                    "--cluster workers read the dataset and write features and models by path" in result.output)
        assert not list((tmp_path / "features").rglob("*.npz"))

        local = invoke("extract", "--dataset", hidden / "data", "--out", tmp_path / "features")
        assert local.exit_code == 0, local.output
        (tmp_path / "run3.toml").write_text(RUN)
        result = invoke("train", tmp_path / "run3.toml", "--dataset", hidden / "data", "--features",
                        tmp_path / "features", "--out", hidden / "model", "--team", "T", "--cluster", running.address)
        assert result.exit_code == 1, result.output
        assert (f"Error: {hidden / 'model.partial'} (the model folder being written): worker {worker} on "
                in result.output
                and "not the same folder there (no such file or directory); --cluster workers" in result.output)
        running.end(private)

        other = tmp_path / "other"
        shutil.copytree(REPO / "mediaeval", other / "mediaeval", ignore=shutil.ignore_patterns("__pycache__"))
        init = other / "mediaeval" / "__init__.py"
        init.write_text(init.read_text().replace('__version__ = "0.1.0"', '__version__ = "0.0.9"'))
        running.add_workers(1, "other", env=_env(other))
        worker = next(iter(running.client.scheduler_info(n_workers=-1)["workers"]))
        result = invoke("extract", "--dataset", hidden / "data", "--out", tmp_path / "features",
                        "--cluster", running.address)
        assert result.exit_code == 1, result.output
        assert (f"worker {worker} on " in result.output and " runs mediaeval 0.0.9, this machine 0.1.0; install the "
                "same version on every worker" in result.output)
    finally:
        running.close()


def test_cluster_without_distributed_says_how_to_install_it(tiny_dataset, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)         # as if not installed
    result = invoke("extract", "--dataset", tiny_dataset, "--out", tmp_path, "--cluster", "tcp://127.0.0.1:8786")
    assert result.exit_code == 1
    assert result.output == ("Error: --cluster needs Dask's distributed package, which is not installed: "
                             "pip install 'mediaeval[cluster]' (make install includes it)\n")


@pytest.mark.slow
def test_a_fit_job_that_outlived_its_command_leaves_nothing(tmp_path):
    """Dask does not stop a running task when its command ends: a fit job that finishes after the
    model folder it wrote into was given up (or replaced by a rerun) drops its model."""
    from mediaeval.errors import MediaevalError
    from mediaeval.model import ModelSettings
    from mediaeval.families import FitJob
    from mediaeval.film_data import FilmData
    from mediaeval.fit_jobs import fit_afresh
    from mediaeval.model_folder import write_manifest
    from mediaeval.task import VALENCE_AROUSAL

    rng = np.random.default_rng(0)
    films = [FilmData(f"F{k}", rng.standard_normal((40, 3)).astype(np.float32), 1,
                      rng.uniform(-1, 1, (1, 2))) for k in range(3)]
    settings = ModelSettings(lstm_units=4, epochs=1, chunk_steps=16, batch_films=2)
    partial = tmp_path / "va.partial"
    job = FitJob(fold=1, seed=1, train=films[:2], held_out=films[2:], task=VALENCE_AROUSAL, settings=settings,
                 out_dir=partial / "fold1" / "seed1", progress=False, n_folds=2)
    partial.mkdir()
    write_manifest(partial, state="partial", pid=1, token="mine")
    outputs = fit_afresh((job, "mine"))                    # the command's own job: its model is in place
    assert len(outputs.predictions) == 1 and outputs.predictions[0][0].shape == (1, 2)   # one segment
    assert sorted(p.name for p in (partial / "fold1").iterdir()) == ["seed1"]
    assert {"model.keras", "normalisation.npz", "settings.json"} <= {
        p.name for p in (partial / "fold1/seed1").iterdir()}

    write_manifest(partial, state="partial", pid=2, token="rerun")  # a rerun took the folder over
    before = sorted(str(p) for p in partial.rglob("*"))
    with pytest.raises(MediaevalError, match="no longer written by the command that started this job"):
        fit_afresh((job, "mine"))
    assert sorted(str(p) for p in partial.rglob("*")) == before

    shutil.rmtree(partial)                                          # the folder was installed or removed
    with pytest.raises(MediaevalError):
        fit_afresh((job, "mine"))
    assert not partial.exists()


# --------------------------------------------------------------------------- one line, never a traceback

def _cli(args) -> list[str]:
    """The ``mediaeval`` command with ``args`` in a child process, as a user runs it."""
    code = "import sys; from mediaeval.cli import main; sys.argv = ['mediaeval', *sys.argv[1:]]; main()"
    return [sys.executable, "-c", code, *map(str, args)]


@pytest.mark.parametrize("address", ["foo", "tcp://localhost:notaport", "xyz://host:8786"])
def test_a_malformed_address_is_one_line(tiny_dataset, tmp_path, address):
    done = subprocess.run(_cli(["extract", "--dataset", tiny_dataset, "--out", tmp_path, "--cluster", address]),
                          capture_output=True, text=True, env=_env(), timeout=300)
    assert done.returncode == 1
    # one line: no "Exception ignored in Client.__del__" (a 40 s timeout) after it
    assert done.stderr.startswith(f"Error: --cluster {address!r}: expected the address of a Dask scheduler, such as "
                                  f"tcp://host:8786 (") and len(done.stderr.splitlines()) == 1, done.stderr


@pytest.mark.slow
def test_a_scheduler_lost_mid_job_is_one_line(tiny_dataset, tmp_path):
    import contextlib

    data = tmp_path / "data"
    data.mkdir()
    video = next(tiny_dataset.rglob("Sample_01.mp4"))
    for k in range(8):                                # enough films that the scheduler dies mid-way
        shutil.copy(video, data / f"Copy_{k}.mp4")
    features = tmp_path / "features"
    (tmp_path / "cluster").mkdir()
    running = Cluster(tmp_path / "cluster")
    try:
        running.add_workers(1, "worker")
        command = subprocess.Popen(_cli(["extract", "--dataset", data, "--out", features, "--cluster",
                                         running.address]), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, env=_env())
        while not list(features.rglob("*.npz")) and command.poll() is None:
            time.sleep(0.05)
        os.killpg(running.processes[0].pid, signal.SIGKILL)       # the scheduler dies
        out, err = command.communicate(timeout=300)
    finally:
        with contextlib.suppress(Exception):
            running.client.close(timeout=5)
        running.end(None)
    assert command.returncode == 1, err
    last = err.splitlines()[-1]
    assert last.startswith(f"Error: lost the connection to the Dask scheduler at {running.address}"), err
    assert "Traceback" not in err and "distributed.client - ERROR" not in err, err
    for path in features.rglob("*.npz"):              # what finished is complete
        assert load_features(path).values.shape[1] == 153


def test_a_lost_link_is_named_so_before_the_client_notices():
    """The race behind a flaky run: the client's link to a killed scheduler closes (CommClosedError
    out of as_completed, or futures cancelled for ``scheduler-connection-lost``) while the client
    still says "running"; the error must still say the connection was lost.  Only a job cancelled
    for another reason, the client running, is "cancelled"."""
    from concurrent.futures import CancelledError
    from types import SimpleNamespace

    from distributed.client import FutureCancelledError
    from distributed.comm import CommClosedError

    from mediaeval.cluster import DaskExecutor

    executor = object.__new__(DaskExecutor)       # no scheduler: only the message is under test
    executor.address, executor.client = "tcp://127.0.0.1:1", SimpleNamespace(status="running")
    lost = "lost the connection to the Dask scheduler at tcp://127.0.0.1:1"
    assert str(executor._lost(None, CommClosedError("Stream is closed"), lost=True)).startswith(lost + " (it stopped")
    assert str(executor._lost("Copy_1", FutureCancelledError("k", "scheduler-connection-lost"))).startswith(
        lost + " while job Copy_1 was running")
    assert str(executor._lost("Copy_1", CancelledError("by hand"))) == (
        "job Copy_1 was cancelled on the Dask cluster at tcp://127.0.0.1:1 (by hand); rerun this command to go on")
    executor.client.status = "closed"
    assert str(executor._lost("Copy_1", CancelledError("by hand"))).startswith(lost + " while job Copy_1")
