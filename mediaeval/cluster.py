"""Jobs on a Dask cluster (``--cluster ADDRESS``): one task per film to extract, one per model to fit.

The command connects to a running Dask scheduler (``dask scheduler``, or dask-jobqueue on SLURM,
PBS, SGE, LSF) and hands it the same jobs the local pool runs (:class:`DaskExecutor`, an
:class:`~mediaeval.workers.Executor`); it keeps the progress bar and the summary.  Workers read
the dataset and write features and models by path, so:

* paths are made absolute (:meth:`DaskExecutor.job_path`) and, before any job is submitted, a
  probe on every worker checks that it sees the dataset's files as this machine does (same
  kind and size) and that the output folder is the very same folder (it reads a token this
  process wrote there) and writable (:meth:`DaskExecutor.check_shared`);
* every worker must import the same version of mediaeval (checked when connecting).

Faults: a worker that dies mid-task has its task rerun on another worker by the scheduler (up to
``distributed.scheduler.allowed-failures`` times, 3 by default); feature files are written
atomically and a fit job starts by removing what an earlier attempt of it left, so a rerun
leaves nothing partial behind.  A job that raises (bad input) is not retried: an extraction job
reports its film as failed and the others go on, as with local workers.  A worker runs each
job in a process of its own, as a local ``--jobs`` worker (:func:`_on_worker`: the same seeds,
the same numbers), one job at a time, so start workers with ``--nthreads 1`` and as many
processes as cores (``--nworkers N``).

Stopping the command (Ctrl-C, SIGTERM) cancels the queued tasks; a task already running on a
worker runs to its end (Dask does not interrupt running tasks).
"""
from __future__ import annotations

import atexit
import contextlib
import re
import secrets
import threading
from concurrent.futures import CancelledError
from pathlib import Path

from .errors import MediaevalError
from .workers import Executor, LocalExecutor, as_executor

CONNECT_SECONDS = 20       # to reach the scheduler
CLOSE_SECONDS = 5          # to close a client that lost its scheduler
WORKER_WAIT_SECONDS = 60   # for a first worker to join it
INSTALL_HINT = "pip install 'mediaeval[cluster]' (make install includes it)"
# Packages whose versions make the numbers; a worker with others may give other last digits.
NUMERIC_PACKAGES = ("numpy", "scipy", "scikit-learn", "tensorflow", "keras", "av", "opensmile")


def executor_for(jobs: int = 1, cluster: str | None = None, echo=None) -> Executor:
    """The executor of a command: the Dask cluster at ``cluster`` when given (``echo`` says
    what may make its numbers differ), else ``jobs`` local processes
    (:func:`mediaeval.workers.as_executor`)."""
    if cluster:
        return DaskExecutor(cluster, echo)
    return as_executor(jobs)


# --------------------------------------------------------------------------- on the workers

_JOB_LOCK = threading.Lock()      # one job at a time per worker, whatever its --nthreads
_CHILD = LocalExecutor(1)         # the worker's job process (its pool is kept between tasks)
atexit.register(_CHILD.stop)      # a worker that closes stops its job, as Ctrl-C does


def _on_worker(fn, item, initializer):
    """A task: ``fn(item)`` in the worker's job process, a :class:`~mediaeval.workers.WorkerPool`
    process started with ``initializer`` as a local ``--jobs`` worker is.

    Not in the Dask worker itself: its event loop draws from Python's global random generator
    while a job runs (jitter of periodic callbacks, ...), which would shift the seeds Keras
    draws after :func:`mediaeval.model.set_seed`, so results would depend on timing.  The job
    process dies with the worker (killed or not); one that died since the last task (a job
    crashed it) is replaced.
    """
    from concurrent.futures.process import BrokenProcessPool

    with _JOB_LOCK, _may_start_processes():
        try:
            future = _CHILD.pool(initializer).submit(fn, item)
        except BrokenProcessPool:    # its process died since the last task
            _CHILD.stop()
            future = _CHILD.pool(initializer).submit(fn, item)
        return future.result()


@contextlib.contextmanager
def _may_start_processes():
    """Let this process start its job process although Dask made it daemonic: multiprocessing
    forbids daemonic processes children lest they outlive them, and a
    :class:`~mediaeval.workers.WorkerPool` process dies with its parent."""
    import multiprocessing

    config = multiprocessing.current_process()._config
    daemon = config.get("daemon")
    config["daemon"] = False
    try:
        yield
    finally:
        if daemon is None:
            config.pop("daemon", None)
        else:
            config["daemon"] = daemon


def _reason(error: OSError) -> str:
    reason = error.strerror or str(error)
    return reason[:1].lower() + reason[1:]


def _see(path: str):
    """How this machine sees ``path``: ``["folder", None]``, ``["file", size]``, or why not."""
    import os

    try:
        stat = os.stat(path)
    except OSError as error:
        return _reason(error)
    return ["folder", None] if os.path.isdir(path) else ["file", stat.st_size]


def _view(seen) -> str:
    """A :func:`_see` result in words."""
    if isinstance(seen, str):
        return seen
    return "a folder" if seen[0] == "folder" else f"a file of {seen[1]} bytes"


def _look(read: list[str], write: list[tuple[str, str, str]]) -> dict:
    """On a worker: its host, mediaeval and numeric packages' versions, how it sees ``read``
    (``[kind, size]`` or why not) and whether each ``write`` folder holds the token this
    process wrote (same folder) and takes a new file."""
    import os
    import socket
    from importlib import metadata

    from . import __version__

    seen = {path: _see(path) for path in read}
    written = {}
    for folder, probe, token in write:
        try:
            with open(os.path.join(folder, probe), encoding="utf-8") as handle:
                same = handle.read() == token
        except OSError as error:
            written[folder] = f"not the same folder there ({_reason(error)})"
            continue
        if not same:
            written[folder] = "not the same folder there (it holds another probe)"
            continue
        mine = os.path.join(folder, f"{probe}.{socket.gethostname()}.{os.getpid()}")
        try:
            with open(mine, "w", encoding="utf-8") as handle:
                handle.write(token)
            os.remove(mine)
        except OSError as error:
            written[folder] = f"cannot write into it ({_reason(error)})"
            continue
        written[folder] = None
    versions = {}
    for package in NUMERIC_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {"host": socket.gethostname(), "version": __version__, "packages": versions,
            "read": seen, "write": written}


# --------------------------------------------------------------------------- in the command

def _distributed():
    try:
        import distributed
    except ImportError:
        raise MediaevalError(f"--cluster needs Dask's distributed package, which is not installed: "
                             f"{INSTALL_HINT}") from None
    return distributed


class DaskExecutor(Executor):
    """Jobs as tasks of the Dask scheduler at ``address`` (``tcp://host:8786``).

    Connecting waits up to :data:`WORKER_WAIT_SECONDS` for a worker, then checks that every
    worker imports the same mediaeval (:class:`MediaevalError` naming the worker otherwise).
    """

    def __init__(self, address: str, echo=None):
        import warnings

        distributed = _distributed()
        _check_address(address)
        self.address = address
        self.echo = echo
        self._futures: list = []
        self._noted = False
        try:
            with warnings.catch_warnings():   # the client's version notes: _probe says what matters
                warnings.simplefilter("ignore")
                self.client = distributed.Client(address, timeout=f"{CONNECT_SECONDS}s", set_as_default=False)
        except (OSError, ValueError, TypeError) as error:
            raise MediaevalError(f"cannot reach the Dask scheduler at {address}: {error}; start one "
                                 f"(dask scheduler) and workers (dask worker {address}), or correct --cluster "
                                 f"(or MEDIAEVAL_CLUSTER)") from None
        try:
            try:
                self.client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
            except (TimeoutError, OSError):
                raise MediaevalError(f"no worker joined the Dask scheduler at {address} within "
                                     f"{WORKER_WAIT_SECONDS} s; start some: dask worker {address} "
                                     f"--nthreads 1") from None
            self._probe()
        except BaseException:
            self.client.close()
            raise

    def __repr__(self) -> str:
        return f"DaskExecutor({self.address!r})"

    def workers(self) -> dict:
        """``{worker address: its scheduler info}``."""
        return self.client.scheduler_info(n_workers=-1)["workers"]

    def _probe(self, read: list[str] = (), write: list[tuple[str, str, str]] = ()) -> dict:
        """Run :func:`_look` on every worker; raise when one cannot import this mediaeval."""
        from . import __version__

        with self._connection():
            seen = self.client.run(_look, list(read), list(write), on_error="return")
        for worker, result in sorted(seen.items()):
            if isinstance(result, BaseException):
                raise MediaevalError(f"worker {worker} cannot run mediaeval ({type(result).__name__}: {result}); "
                                     f"install mediaeval {__version__} there, with its cluster extra")
            if result["version"] != __version__:
                raise MediaevalError(f"worker {worker} on {result['host']} runs mediaeval {result['version']}, "
                                     f"this machine {__version__}; install the same version on every worker")
        if self._noted or self.echo is None:
            return seen
        self._noted = True
        mine = _look([], [])["packages"]
        for worker, result in sorted(seen.items()):
            other = {k: v for k, v in result["packages"].items() if v != mine[k]}
            if other:
                self.echo(f"note: worker {worker} on {result['host']} has other versions of "
                          + ", ".join(f"{k} {v} (here {mine[k]})" for k, v in other.items())
                          + "; its numbers may differ in the last digits from a local run")
        threaded = sorted(w for w, info in self.workers().items() if info.get("nthreads", 1) > 1)
        if threaded:
            self.echo(f"note: {len(threaded)} worker(s) run several threads (e.g. {threaded[0]}); each runs "
                      f"one mediaeval job at a time, so start workers with --nthreads 1 --nworkers <cores>")
        return seen

    def job_path(self, path) -> Path:
        return Path(path).absolute()

    def check_shared(self, read: dict | None = None, write: dict | None = None) -> None:
        read = {what: str(self.job_path(p)) for what, p in (read or {}).items()}
        write = {what: self.job_path(p) for what, p in (write or {}).items()}
        expected = {path: (what, _see(path)) for what, path in read.items()}
        token = secrets.token_hex(16)
        probe = f".mediaeval-probe-{token[:12]}"
        probes = []
        try:
            for folder in write.values():
                folder.mkdir(parents=True, exist_ok=True)
                (folder / probe).write_text(token, encoding="utf-8")
                probes.append(folder / probe)
            seen = self._probe(list(expected), [(str(f), probe, token) for f in write.values()])
        finally:
            for path in probes:
                path.unlink(missing_ok=True)
        hint = ("--cluster workers read the dataset and write features and models by path: put them on a "
                "file system that every worker shares, at the same path")
        for worker, result in sorted(seen.items()):
            where = f"worker {worker} on {result['host']}"
            for path, (what, here) in expected.items():
                there = result["read"][path]
                if there != here:
                    raise MediaevalError(f"{path} ({what}): {where} does not see it as this machine does "
                                         f"({_view(there)} there, {_view(here)} here); {hint}")
            for what, folder in write.items():
                problem = result["write"][str(folder)]
                if problem is not None:
                    raise MediaevalError(f"{folder} ({what}): {where}: {problem}; {hint}")

    def share(self, objects: list) -> list:
        with self._connection():
            return self.client.scatter(list(objects), hash=False) if objects else []

    @contextlib.contextmanager
    def _connection(self):
        """Turn a connection to the scheduler lost in the block into :meth:`_lost`'s one line."""
        distributed = _distributed()
        try:
            yield
        except (distributed.comm.CommClosedError, CancelledError) as error:
            raise self._lost(None, error) from None

    def run(self, fn, items, names=None, initializer=None):
        distributed = _distributed()
        items = list(items)
        names = list(names) if names is not None else [str(i) for i in range(len(items))]
        batch = secrets.token_hex(4)
        kind = fn.__name__.strip("_")
        futures = [self.client.submit(_on_worker, fn, item, initializer, pure=False,
                                      key=f"{kind}-{re.sub(r'[^A-Za-z0-9_.]+', '_', name)}-{batch}-{i}")
                   for i, (item, name) in enumerate(zip(items, names))]
        self._futures = futures
        index = {future.key: i for i, future in enumerate(futures)}
        try:
            for future in distributed.as_completed(futures, loop=self.client.loop):
                i = index[future.key]
                if future.status == "error" and isinstance(future.exception(), distributed.KilledWorker):
                    raise MediaevalError(f"{names[i]}: the workers running this job died "
                                         f"{_allowed_failures() + 1} times ({future.exception()}); see their logs")
                try:
                    result = future.result()
                except CancelledError as error:   # distributed's FutureCancelledError is one
                    raise self._lost(names[i], error) from None
                yield i, result
        except distributed.comm.CommClosedError as error:   # the client's own link to the scheduler closed
            raise self._lost(None, error, lost=True) from None
        finally:
            self.stop()

    def _lost(self, name: str | None, error: BaseException, lost: bool = False) -> MediaevalError:
        """The one-line error of a job cancelled, most often because the scheduler was lost
        (``lost``: known to be; else when the client no longer runs, which it may notice only a
        moment after its link closed)."""
        during = f" while job {name} was running" if name is not None else ""
        lost = lost or getattr(error, "reason", None) == "scheduler-connection-lost"   # distributed's own word
        if lost or self.client.status != "running":
            return MediaevalError(f"lost the connection to the Dask scheduler at {self.address}{during} (it stopped, "
                                  f"or the network failed); the files of the jobs that finished are complete and "
                                  f"kept: rerun this command once the cluster is back (or without --cluster)")
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return MediaevalError(f"job {name} was cancelled on the Dask cluster at {self.address} ({reason}); "
                              f"rerun this command to go on")

    def stop(self) -> None:
        pending = [f for f in self._futures if not f.done()]
        self._futures = []
        if pending and self.client.status == "running":
            self.client.cancel(pending)

    def close(self) -> None:
        """Close the client; one that lost its scheduler is closed at once and without the
        traceback Dask logs for the reconnection it gives up."""
        if self.client.status == "running":
            self.client.close()
            return
        import logging

        log = logging.getLogger("distributed.client")
        level = log.level
        log.setLevel(logging.CRITICAL)
        try:
            with contextlib.suppress(Exception):
                self.client.close(timeout=CLOSE_SECONDS)
        finally:
            log.setLevel(level)


def _check_address(address: str) -> None:
    """Refuse an address Dask cannot parse (``tcp://host:port``, ``tls://...``; a host and port
    alone mean tcp) before a client is made: a client failing on it takes 40 s to go."""
    from distributed.comm import get_address_host_port, parse_address, registry

    try:
        scheme, _ = parse_address(address)
        registry.get_backend(scheme)
        if scheme in ("tcp", "tls", "ws", "wss"):
            get_address_host_port(address)
    except ValueError as error:
        raise MediaevalError(f"--cluster {address!r}: expected the address of a Dask scheduler, such as "
                             f"tcp://host:8786 ({error}); correct --cluster (or MEDIAEVAL_CLUSTER)") from None


def _allowed_failures() -> int:
    import dask

    return int(dask.config.get("distributed.scheduler.allowed-failures"))
