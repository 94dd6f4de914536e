"""Executors: where runs happen. Run specs go in, plain results come out.

Every executor is a thin adapter over :func:`run_task`: a task is one run, or
one block of seeds run in lock-step (``seed_block``, see
:mod:`bo_transfer.sweep.batched`), which travels as one task. Only
:class:`RunSpec` and :class:`RunResult` (plain data) cross process boundaries,
never models (a default BoTorch ``MultiTaskGP`` does not even pickle). Only the
driver writes the store, so Dask workers need no shared file system.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import traceback
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import torch

from bo_transfer.errors import UserError
from bo_transfer.sweep.batched import run_task, seed_blocks
from bo_transfer.sweep.runner import RunResult, RunSpec

_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def set_single_thread() -> None:
    """One torch/BLAS thread per process: parallelism comes from processes.

    Two torch threads in one process were seen to run several times slower on
    small GP problems than one, and one thread makes results independent of the
    worker count.
    """
    for var in _THREAD_VARS:
        os.environ[var] = "1"
    torch.set_num_threads(1)


def default_workers() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def failed_result(spec: RunSpec, what: str, exc: BaseException) -> RunResult:
    """A result for a run whose worker (not the run itself) failed."""
    return RunResult(
        spec,
        status="failed",
        error=f"{what}: {type(exc).__name__}: {exc}".splitlines()[0],
        traceback="".join(traceback.format_exception(exc)),
    )


def run_chunk(specs: Sequence[RunSpec]) -> list[RunResult]:
    """Run several specs in one process (one Slurm array task), seed blocks
    in lock-step."""
    set_single_thread()
    return [result for task in seed_blocks(specs) for result in run_task(task)]


class LocalExecutor:
    """Runs in this process (``workers=1``) or in a spawn-based process pool.

    ``fork`` after torch has started its threads can deadlock, so workers are
    spawned; the pool initializer pins each worker to one thread. At most
    ``workers`` tasks (runs or seed blocks) are in flight, so a worker that
    dies (killed, out of memory) takes only the tasks in flight with it; those
    are resubmitted once, one at a time so a task that kills its worker cannot
    take others along, and the runs of a task lost twice are recorded as failed.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or default_workers()

    def describe(self) -> str:
        return f"local, {self.workers} worker{'s' if self.workers > 1 else ''}"

    def run(self, specs: Sequence[RunSpec]) -> Iterator[RunResult]:
        tasks = seed_blocks(specs)
        if self.workers <= 1 or len(tasks) <= 1:
            set_single_thread()
            for task in tasks:
                yield from run_task(task)
            return
        for var in _THREAD_VARS:  # inherited by the spawned workers before torch loads
            os.environ.setdefault(var, "1")
        lost: list[tuple[list[RunSpec], BaseException]] = []
        yield from self._windowed(deque(tasks), min(self.workers, len(tasks)), lost)
        lost_twice: list[tuple[list[RunSpec], BaseException]] = []
        for task, _ in lost:
            yield from self._windowed(deque([task]), 1, lost_twice)
        for task, exc in lost_twice:
            for spec in task:
                yield failed_result(spec, "worker lost twice", exc)

    @staticmethod
    def _windowed(pending: deque, window: int, lost: list) -> Iterator[RunResult]:
        """Run the tasks ``pending`` with at most ``window`` in flight, starting
        a new pool whenever a worker death breaks the current one; append the
        tasks lost with a worker to ``lost``."""
        ctx = mp.get_context("spawn")
        while pending:
            with ProcessPoolExecutor(window, mp_context=ctx, initializer=set_single_thread) as pool:
                in_flight: dict = {}
                broken = False
                while in_flight or (pending and not broken):
                    while pending and not broken and len(in_flight) < window:
                        task = pending.popleft()
                        in_flight[pool.submit(run_task, task)] = task
                    done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    for future in done:
                        task = in_flight.pop(future)
                        try:
                            yield from future.result()
                        except BrokenProcessPool as exc:  # a worker died, not the run
                            broken = True
                            lost.append((task, exc))
                        except Exception as exc:  # e.g. a result that does not unpickle
                            for spec in task:
                                yield failed_result(spec, "worker error", exc)


class DaskExecutor:
    """Dask distributed: ``address="local"`` starts a ``LocalCluster`` of
    ``workers`` single-threaded processes; ``tcp://HOST:PORT`` connects to a
    running scheduler (so dask-jobqueue or any Dask deployment works).

    A worker plugin pins torch to one thread in every worker; tasks of a lost
    worker are rescheduled by Dask, and a task that errs is retried once.
    """

    def __init__(self, address: str = "local", workers: int | None = None) -> None:
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise UserError(
                "--dask needs dask distributed: pip install 'bo_transfer[dask]'"
            ) from None
        self.address = address
        self.workers = workers or default_workers()

    def describe(self) -> str:
        where = f"LocalCluster of {self.workers}" if self.address == "local" else self.address
        return f"dask ({where})"

    def run(self, specs: Sequence[RunSpec]) -> Iterator[RunResult]:
        import dask
        from distributed import Client, LocalCluster
        from distributed import as_completed as dask_completed

        from bo_transfer.sweep._dask_plugin import PinThreads

        with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
            if self.address == "local":
                cluster = LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
                client = Client(cluster)
            else:
                cluster = None
                try:
                    client = Client(self.address, timeout="20s")
                except OSError as exc:
                    raise UserError(
                        f"cannot reach Dask scheduler {self.address!r}: {exc}"
                    ) from None
            try:
                client.register_plugin(PinThreads())
                futures = {
                    client.submit(
                        run_task, task, key=f"run-{task[0].key}", pure=False, retries=1
                    ): task
                    for task in seed_blocks(specs)
                }
                for future in dask_completed(futures):
                    try:
                        yield from future.result()
                    except Exception as exc:
                        for spec in futures[future]:
                            yield failed_result(spec, "dask task failed", exc)
            finally:
                client.close()
                if cluster is not None:
                    cluster.close()


class SlurmExecutor:
    """Slurm through submitit: runs are grouped into chunks of about
    ``chunk_size`` runs, one per array task (clusters discourage floods of tiny
    jobs); a seed block is never split. ``cluster="local"`` uses
    submitit's local executor (subprocesses), which is how it is tested.
    Results travel back through ``folder`` (a file system the cluster shares).
    """

    def __init__(
        self,
        folder: str | Path,
        partition: str | None = None,
        time_min: int = 60,
        array_parallelism: int = 64,
        chunk_size: int = 10,
        cluster: str | None = None,
    ) -> None:
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise UserError("--slurm needs submitit: pip install 'bo_transfer[slurm]'") from None
        if chunk_size < 1 or array_parallelism < 1 or time_min < 1:
            raise UserError("--slurm-chunk, --slurm-parallelism and --slurm-time must be >= 1")
        self.folder = Path(folder)
        self.partition = partition
        self.time_min = time_min
        self.array_parallelism = array_parallelism
        self.chunk_size = chunk_size
        self.cluster = cluster

    def describe(self) -> str:
        return f"slurm via submitit ({self.cluster or 'slurm'}, {self.chunk_size} runs per task)"

    def run(self, specs: Sequence[RunSpec]) -> Iterator[RunResult]:
        import submitit
        from submitit.helpers import as_completed as jobs_completed

        executor = submitit.AutoExecutor(folder=self.folder, cluster=self.cluster)
        params = {"timeout_min": self.time_min, "cpus_per_task": 1}
        if executor.cluster == "slurm":
            params["slurm_array_parallelism"] = self.array_parallelism
            if self.partition:
                params["slurm_partition"] = self.partition
        executor.update_parameters(**params)
        chunks: list[list[RunSpec]] = []
        for task in seed_blocks(specs):
            if not chunks or len(chunks[-1]) >= self.chunk_size:
                chunks.append([])
            chunks[-1].extend(task)
        if not chunks:
            return
        jobs = executor.map_array(run_chunk, chunks)
        by_job = {job.job_id: chunk for job, chunk in zip(jobs, chunks)}
        for job in jobs_completed(jobs, poll_frequency=1):
            try:
                yield from job.result()
            except Exception as exc:
                for spec in by_job[job.job_id]:
                    yield failed_result(spec, f"slurm job {job.job_id} failed", exc)
