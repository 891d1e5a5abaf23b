#!/usr/bin/env python3
"""A Dask cluster on SLURM for `mediaeval ... --cluster`: a scheduler here, workers as SLURM jobs.

Run it where the compute nodes can reach (a login node, or a small long SLURM job) with the
venv that has mediaeval and dask-jobqueue (`pip install dask-jobqueue`; not part of mediaeval).
The workers run this same Python (the venv must be at the same path on the nodes), after the
``--prologue`` lines (modules to load, say):

    python tools/slurm_cluster.py --jobs 4 --cores 16 --memory 64GB --walltime 08:00:00 \\
        --queue cpu --prologue 'export TMPDIR=/scratch/$USER'

Each SLURM job starts ``--cores`` worker processes of one thread (mediaeval runs one job per
worker process; see mediaeval/cluster.py), each given ``--memory`` / ``--cores``.  The
scheduler's address is printed and written to ``--address-file``; in another shell:

    export MEDIAEVAL_CLUSTER=$(cat dask-address.txt)
    make submission TEAM=myteam DATASET=/shared/data    # or mediaeval extract/train ... --cluster $MEDIAEVAL_CLUSTER

The dataset, the feature and model folders (and the venv, at the same path) must be on a file
system every node shares; mediaeval checks this before it submits anything.  Ctrl-C here
cancels the SLURM jobs.  ``--print-script`` shows the job script and submits nothing.  The
scheduler's dashboard is on port 8787 of this machine.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2, help="SLURM jobs of workers (default 2).")
    parser.add_argument("--cores", type=int, default=8, help="Cores per SLURM job = worker processes (default 8).")
    parser.add_argument("--memory", default="32GB", help="Memory per SLURM job (default 32GB).")
    parser.add_argument("--walltime", default="04:00:00", help="Time limit of each SLURM job (default 04:00:00).")
    parser.add_argument("--queue", default=None, help="Partition (#SBATCH -p).")
    parser.add_argument("--account", default=None, help="Account (#SBATCH -A).")
    parser.add_argument("--prologue", action="append", default=[],
                        help="A shell line run before the workers start (repeatable), e.g. activating the venv.")
    parser.add_argument("--directive", action="append", default=[],
                        help="An extra #SBATCH directive (repeatable), e.g. --directive='--constraint=avx512'.")
    parser.add_argument("--local-directory", default=os.environ.get("TMPDIR", "/tmp"),
                        help="Worker scratch space on each node (default $TMPDIR or /tmp).")
    parser.add_argument("--port", type=int, default=8786, help="Scheduler port (default 8786).")
    parser.add_argument("--address-file", type=Path, default=Path("dask-address.txt"),
                        help="Where the scheduler's address is written (default dask-address.txt).")
    parser.add_argument("--print-script", action="store_true", help="Print the SLURM job script and exit.")
    args = parser.parse_args()
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError:
        sys.exit("this script needs dask-jobqueue: pip install dask-jobqueue")

    # processes = cores: worker processes of one thread each, as mediaeval runs one job per process
    cluster = SLURMCluster(
        cores=args.cores, processes=args.cores, memory=args.memory, walltime=args.walltime,
        queue=args.queue, account=args.account, job_script_prologue=args.prologue,
        job_extra_directives=args.directive, local_directory=args.local_directory,
        scheduler_options={"port": args.port}, job_name="mediaeval-dask")
    if args.print_script:
        print(cluster.job_script())
        cluster.close()
        return
    cluster.scale(jobs=args.jobs)
    address = cluster.scheduler_address
    args.address_file.write_text(address + "\n")
    print(f"scheduler at {address} (written to {args.address_file}); {args.jobs} SLURM jobs of "
          f"{args.cores} workers requested", flush=True)
    print(f"use: export MEDIAEVAL_CLUSTER={address}   (Ctrl-C here cancels the jobs)", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)     # scancel of this script's own job: cancel the workers too
    try:
        from distributed import Client

        with Client(address) as client:
            seen = -1
            while True:
                workers = len(client.scheduler_info(n_workers=-1)["workers"])
                if workers != seen:
                    print(f"{time.strftime('%H:%M:%S')} {workers} workers connected", flush=True)
                    seen = workers
                time.sleep(10)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.close()
        args.address_file.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
