"""Running fit jobs (:class:`~mediaeval.families.FitJob`: one model of a fold, or the final
model, of one seed) here, in local worker processes or on a Dask cluster, each into its own
folder of the model folder being written."""
from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
from pathlib import Path

from .errors import MediaevalError
from .families import FitJob, FitOutcome, family_of
from .model_folder import ModelFolder

ModelKey = tuple[int, int | None, int]   # (repeat, fold, seed) of a model: fold 1 to n, or None for the final model


def fit(job: FitJob) -> FitOutcome:
    """Train one model (one fold or the final model, one seed) by its family; predict its
    held-out films."""
    return family_of(job.settings).fit(job)


def fit_afresh(item) -> FitOutcome:
    """:func:`fit` ``(job, token)`` into a temporary folder beside its own
    (``<model>.partial/fold<k>/.seed<s>.<token>.tmp``), renamed onto it once complete, and only
    while ``<model>.partial`` is still being written by the command that made the job (``token``
    in its manifest).  So a job whose worker died and that runs again starts clean, and one that
    outlived its command (Dask does not stop running tasks) leaves nothing behind."""
    job, token, *films = item
    if films:   # the films travel beside the job: Dask resolves scattered data in lists, not in a dataclass
        job = dataclasses.replace(job, train=list(films[0]), held_out=list(films[1]))
    if job.out_dir is None:
        return fit(job)
    out_dir = Path(job.out_dir)
    depth = 3 if job.fold is not None and job.repeat > 1 else 2   # repeat<r>/fold<k>/seed<s>, fold<k>/seed<s>
    partial = out_dir.parents[depth - 1]
    tmp = out_dir.with_name(f".{out_dir.name}.{token}.tmp")
    try:
        if tmp.exists():
            shutil.rmtree(tmp)
        result = fit(dataclasses.replace(job, out_dir=tmp))
        if (ModelFolder(partial).manifest() or {}).get("token") != token:
            raise MediaevalError(f"{partial} is no longer written by the command that started this job; "
                                 f"its model is dropped")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
        return result
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for folder in out_dir.parents[:depth]:   # remade by a job whose command is gone: empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def run_jobs(jobs: list[FitJob], executor, bar, token: str) -> dict[ModelKey, FitOutcome]:
    """Run fit jobs with ``executor`` (here, local processes or a cluster: each seeded alike,
    so the results agree) as :func:`fit_afresh` with ``token``; jobs that run elsewhere
    draw no progress bar, and a cluster gets every film's data once.  The outcomes by the
    jobs' keys (repeat, fold, seed)."""
    from .workers import as_executor, one_thread_each

    executor = as_executor(executor)
    if not executor.in_process:
        films = list({id(f): f for job in jobs for f in (*job.train, *job.held_out)}.values())
        shared = dict(zip(map(id, films), executor.share(films)))
        items = [(dataclasses.replace(job, train=[], held_out=[], progress=False), token,
                  [shared[id(f)] for f in job.train], [shared[id(f)] for f in job.held_out]) for job in jobs]
    else:
        items = [(job, token) for job in jobs]
    outcomes: dict[ModelKey, FitOutcome] = {}
    for index, outcome in executor.run(fit_afresh, items, names=[job.label for job in jobs],
                                       initializer=one_thread_each):
        outcomes[jobs[index].key] = outcome
        bar.update()
    return outcomes
