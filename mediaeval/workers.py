"""Worker processes that die with their parent, and SIGTERM handled like Ctrl-C.

A batch scheduler, ``timeout`` or the OOM killer ends a command with SIGTERM or SIGKILL sent to
the command's process alone.  Spawned workers would outlive it (and go on writing) unless:

* each worker asks Linux to SIGKILL it when its parent dies (``prctl(PR_SET_PDEATHSIG)``), and
  also runs a watchdog thread that ends it when its parent process is gone (``os.getppid()``
  changes; the portable fallback, within :data:`WATCHDOG_SECONDS`);
* a worker receiving SIGTERM or SIGINT unwinds its job as Ctrl-C would (so atomic writes remove
  their temporary files) and then exits instead of taking the next job;
* the command's SIGTERM raises ``KeyboardInterrupt`` (:func:`terminate_like_ctrl_c`), after
  passing SIGTERM on to the workers of every pool made here, so the command ends as after
  Ctrl-C: temporary files removed, Click prints "Aborted!", exit status 1.

Linux delivers the parent-death signal when the *thread* that started the worker ends, so a pool
is used from the thread that created it (the CLI's main thread).

Extraction and training hand their jobs to an :class:`Executor`, chosen once per command:
:class:`LocalExecutor` (``--jobs N``: here, or in N such worker processes) or
:class:`mediaeval.cluster.DaskExecutor` (``--cluster ADDRESS``: the workers of a Dask cluster).

Every job process (a local worker, a cluster worker's job process) starts with
:func:`one_thread_each`: one thread for every numerical library.  Besides sharing the cores,
this makes the numbers: a BLAS call splits its sums by thread count, so features computed with
two OpenBLAS threads differ in the last float32 digits from those of one (README, "On a
cluster").  Extraction in this
process holds the BLAS and OpenMP pools to one thread too, for the extraction only
(:func:`one_thread_here`), so a film's features are the same whichever process computed them.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import weakref
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

WATCHDOG_SECONDS = 0.5
PR_SET_PDEATHSIG = 1
EXIT_TERMINATED = 128 + signal.SIGTERM

# The environment of a job process: the OpenMP runtimes, OpenBLAS and MKL read it as they load,
# TensorFlow as it starts its two thread pools (intra-op and inter-op).
ONE_THREAD_ENVIRONMENT = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                          "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}

_POOLS: weakref.WeakSet = weakref.WeakSet()
_in_job = False
_stop_requested = False


def _die_with_parent_linux() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux only; else nothing)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _watch_parent(parent: int) -> None:
    """Daemon thread: end this process as soon as its parent is no longer ``parent``, or once a
    stop signal has been received and no job is running (whatever the timing of the signal)."""
    def watch():
        pause = threading.Event()
        while os.getppid() == parent and not (_stop_requested and not _in_job):
            pause.wait(WATCHDOG_SECONDS)
        os._exit(EXIT_TERMINATED)

    threading.Thread(target=watch, daemon=True, name="mediaeval-parent-watchdog").start()


def _on_stop_signal(signum, frame) -> None:
    """In a worker: interrupt the running job (it unwinds, cleaning up), or exit when idle."""
    global _stop_requested
    _stop_requested = True
    if not _in_job:
        os._exit(EXIT_TERMINATED)
    raise KeyboardInterrupt


def start_worker(parent: int, initializer=None, initargs=()) -> None:
    """Initializer of every worker: die with ``parent``, stop cleanly on SIGTERM / SIGINT, then
    run ``initializer(*initargs)``."""
    _die_with_parent_linux()
    if os.getppid() != parent:   # the parent died before the line above
        os._exit(EXIT_TERMINATED)
    _watch_parent(parent)
    signal.signal(signal.SIGTERM, _on_stop_signal)
    signal.signal(signal.SIGINT, _on_stop_signal)
    if initializer is not None:
        initializer(*initargs)


def one_thread_each() -> None:
    """Initializer of every job process (extraction and training; local ``--jobs`` workers and
    a cluster worker's job process): one thread for each numerical library of the process.

    Worker processes share the cores, and the numbers must not depend on where a job ran: the
    libraries loaded later read :data:`ONE_THREAD_ENVIRONMENT` (TensorFlow included: it is not
    imported here, so a job that does not need it does not pay for it), those already loaded
    (NumPy's OpenBLAS) are limited by threadpoolctl.  A TensorFlow already imported, and not yet
    started, is set to one intra-op and one inter-op thread.
    """
    os.environ.update(ONE_THREAD_ENVIRONMENT)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        with contextlib.suppress(RuntimeError, AttributeError):   # already started: its pools are made
            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(1)


@contextlib.contextmanager
def one_thread_here():
    """While the block runs, hold the BLAS and OpenMP pools of this process to one thread, as
    in a job process; restore them afterwards (a notebook's process gets its threads back).

    Only the libraries loaded when the block starts are held (NumPy's OpenBLAS, which the
    features' matrix products use).  TensorFlow's pools are left as they are: they can be set
    only before TensorFlow starts, and for the whole process (see :func:`extract_film
    <mediaeval.features.extract.extract_film>` for what that means for the pretrained networks).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def run_job(fn, *args, **kwargs):
    """Run one job in a worker; after a stop signal has unwound it, exit rather than go on."""
    global _in_job
    try:
        _in_job = True
        return fn(*args, **kwargs)
    finally:
        _in_job = False
        if _stop_requested:
            os._exit(EXIT_TERMINATED)


class WorkerPool(ProcessPoolExecutor):
    """A ``spawn`` process pool whose workers die with this process (see the module docstring).

    Spawn, not fork: a parent that has already started TensorFlow (a notebook) cannot fork
    safely.  Leaving a ``with`` block by an exception (Ctrl-C, SIGTERM) stops the workers:
    running jobs are interrupted and unwind, queued ones are cancelled.
    """

    def __init__(self, max_workers: int, initializer=None, initargs=()):
        import multiprocessing

        super().__init__(max_workers=max_workers, mp_context=multiprocessing.get_context("spawn"),
                         initializer=start_worker, initargs=(os.getpid(), initializer, tuple(initargs)))
        _POOLS.add(self)

    def submit(self, fn, /, *args, **kwargs):
        return super().submit(run_job, fn, *args, **kwargs)

    def worker_pids(self) -> list[int]:
        processes = getattr(self, "_processes", None) or {}
        return [pid for pid, process in list(processes.items()) if process.is_alive()]

    def signal_workers(self) -> None:
        """Send SIGTERM to every live worker (each unwinds its job, then exits)."""
        for pid in self.worker_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def stop(self) -> None:
        """Interrupt the running jobs, cancel the queued ones, and wait for the workers to exit."""
        self.signal_workers()
        self.shutdown(wait=True, cancel_futures=True)

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.stop()
            return False
        return super().__exit__(exc_type, exc, tb)


def _on_sigterm(signum, frame) -> None:
    for pool in list(_POOLS):
        pool.signal_workers()
    raise KeyboardInterrupt


def terminate_like_ctrl_c() -> None:
    """Make SIGTERM in this (main) process pass SIGTERM to the workers of its pools and raise
    ``KeyboardInterrupt``, as Ctrl-C does."""
    signal.signal(signal.SIGTERM, _on_sigterm)


class Executor:
    """Where jobs run.  ``run(fn, items)`` yields ``(index, fn(item))`` as each job finishes;
    a job that raises raises there (the others are stopped or cancelled).

    A job is a module-level function and picklable arguments; it reads and writes files by the
    paths it is given (:meth:`job_path`), which :meth:`check_shared` checks the workers see.
    """

    in_process = False   # jobs run in this process (they may draw their own progress bars)

    def run(self, fn, items, names=None, initializer=None):
        """Run ``fn(item)`` for every item; ``names`` label the jobs (messages, a cluster's
        dashboard); ``initializer()`` runs once in every worker process before its first job."""
        raise NotImplementedError

    def share(self, objects: list) -> list:
        """``objects`` as jobs should carry them: large inputs that many jobs use are sent to a
        cluster once; here they are the objects themselves."""
        return objects

    def job_path(self, path) -> Path:
        """``path`` as jobs should be given it (absolute when they run elsewhere)."""
        return Path(path)

    def check_shared(self, read: dict | None = None, write: dict | None = None) -> None:
        """Raise unless every worker sees the paths of ``read`` (``{what: path}``, files and
        folders its jobs read) and can write into the folders of ``write``, as this process
        does.  Nothing to check for local workers."""

    def stop(self) -> None:
        """Stop the running jobs and cancel the queued ones."""

    def close(self) -> None:
        """Release what this executor holds."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.stop()
        self.close()
        return False


class LocalExecutor(Executor):
    """Jobs here (``jobs`` = 1, or a single job), or in ``jobs`` :class:`WorkerPool` processes.

    Its pool lives on between calls of :meth:`run` with the same initializer (TensorFlow is
    imported once per worker for every run of a pipeline); one with another initializer
    replaces it, so that one pool at a time holds memory.
    """

    def __init__(self, jobs: int):
        self.jobs = max(1, int(jobs))
        self.in_process = self.jobs == 1
        self._pool: WorkerPool | None = None
        self._initializer = None

    def pool(self, initializer=None) -> WorkerPool:
        if self._pool is not None and self._initializer is not initializer:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._pool is None:
            self._pool, self._initializer = WorkerPool(self.jobs, initializer=initializer), initializer
        return self._pool

    def run(self, fn, items, names=None, initializer=None):
        from concurrent.futures import as_completed

        items = list(items)
        if self.in_process or len(items) <= 1:
            for index, item in enumerate(items):
                yield index, fn(item)
            return
        pool = self.pool(initializer)
        futures = {pool.submit(fn, item): index for index, item in enumerate(items)}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        except BaseException:   # Ctrl-C, SIGTERM, a failed job, a consumer that stops early
            self.stop()
            raise

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.stop()
            self._pool = None

    def close(self) -> None:
        """Nothing: the pool is kept for later commands of this process (it ends with it)."""

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


_LOCAL: dict[int, LocalExecutor] = {}


def as_executor(jobs) -> Executor:
    """``jobs`` itself if it is an :class:`Executor`, else the local executor of ``jobs``
    processes (one per number for the life of this process)."""
    if isinstance(jobs, Executor):
        return jobs
    jobs = max(1, int(jobs))
    if jobs not in _LOCAL:
        import atexit

        _LOCAL[jobs] = LocalExecutor(jobs)
        atexit.register(_LOCAL[jobs].shutdown)
    return _LOCAL[jobs]
