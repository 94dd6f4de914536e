"""The local executor: tasks in this process or in a pool of spawned workers."""

from __future__ import annotations

import multiprocessing as mp
import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from bo_transfer.sweep.executors.lifetime import die_with, ignore_sigint, sigint_held
from bo_transfer.sweep.executors.threads import THREAD_VARS, default_workers, set_single_thread
from bo_transfer.sweep.plan import Task, run_task
from bo_transfer.sweep.runner import RunResult


class LocalExecutor:
    """Runs tasks in this process (``workers=1``) or in a spawn-based process pool.

    ``fork`` after torch has started its threads can deadlock, so workers are
    spawned; the pool initializer pins each worker to one thread. At most
    ``workers`` tasks are in flight, so a worker that dies (killed, out of
    memory) takes only the tasks in flight with it; those are resubmitted
    once, one at a time so a task that kills its worker cannot take others
    along, and the runs of a task lost twice are recorded as failed.

    Workers never outlive the driver (:mod:`.lifetime`): they die with it even
    when it is killed with SIGKILL, the driver kills them when it is
    interrupted or its results are abandoned, and they ignore Ctrl-C, which
    the driver alone answers.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or default_workers()

    def describe(self) -> str:
        return f"local, {self.workers} worker{'s' if self.workers > 1 else ''}"

    def run(self, tasks: Sequence[Task]) -> Iterator[RunResult]:
        # One worker runs in this process; a single task under more workers
        # still gets one, so a run killed there (out of memory) is a lost
        # worker, retried and then stored failed, not the sweep's death.
        if self.workers <= 1 or not tasks:
            set_single_thread()
            for task in tasks:
                yield from run_task(task)
            return
        for var in THREAD_VARS:  # inherited by the spawned workers before torch loads
            os.environ.setdefault(var, "1")
        lost: list[tuple[Task, BaseException]] = []
        yield from self._windowed(deque(tasks), min(self.workers, len(tasks)), lost)
        lost_twice: list[tuple[Task, BaseException]] = []
        for task, _ in lost:
            yield from self._windowed(deque([task]), 1, lost_twice)
        for task, exc in lost_twice:
            for spec in task.runs:
                yield RunResult.lost(spec, "worker lost twice", exc)

    @staticmethod
    def _windowed(pending: deque, window: int, lost: list) -> Iterator[RunResult]:
        """Run the tasks ``pending`` with at most ``window`` in flight, starting
        a new pool whenever a worker death breaks the current one; append the
        tasks lost with a worker to ``lost``. However this generator ends
        early (an exception, or closed by its consumer), the workers are killed."""
        ctx = mp.get_context("spawn")
        while pending:
            pool = ProcessPoolExecutor(
                window, mp_context=ctx, initializer=_init_worker, initargs=(os.getpid(),)
            )
            try:
                in_flight: dict = {}
                broken = False
                while in_flight or (pending and not broken):
                    # Workers are spawned by submit: Ctrl-C is held for them
                    # until their initializer ignores it.
                    with sigint_held():
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
                            for spec in task.runs:
                                yield RunResult.lost(spec, "worker error", exc)
            except BaseException:
                _kill_workers(pool)
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            pool.shutdown()


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """SIGKILL every worker of ``pool`` (Python 3.14's ``kill_workers``)."""
    for process in list((pool._processes or {}).values()):
        if process.is_alive():
            process.kill()


def _init_worker(parent: int) -> None:
    """Pool initializer: one thread, Ctrl-C ignored, death with the driver ``parent``."""
    set_single_thread()
    ignore_sigint()
    die_with(parent)
