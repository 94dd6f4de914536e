"""Executors: where tasks run. Tasks (plain run specs) go in, plain results
come out; an executor never regroups tasks and never writes the store.

Every executor calls :func:`~bo_transfer.sweep.plan.run_task` in its workers
and yields one :class:`~bo_transfer.sweep.runner.RunResult` per run; a run
whose worker was lost comes back as failed (``RunResult.lost``). Only
:class:`~bo_transfer.sweep.runner.RunSpec` and ``RunResult`` cross process
boundaries, never models (a default BoTorch ``MultiTaskGP`` does not even
pickle).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from bo_transfer.sweep.executors.dask import DaskExecutor
from bo_transfer.sweep.executors.local import LocalExecutor
from bo_transfer.sweep.executors.slurm import SlurmExecutor
from bo_transfer.sweep.executors.threads import default_workers, set_single_thread
from bo_transfer.sweep.plan import Task
from bo_transfer.sweep.runner import RunResult


class Executor(Protocol):
    """Where tasks run. An executor that must be brought up first (a Dask
    cluster to start or reach) is also a context manager: the driver enters
    it before writing anything and exits it when the sweep ends."""

    def describe(self) -> str:
        """One line naming where the tasks run."""

    def run(self, tasks: Sequence[Task]) -> Iterator[RunResult]:
        """Run ``tasks``; yield each run's result as it finishes."""


__all__ = [
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "SlurmExecutor",
    "default_workers",
    "set_single_thread",
]
