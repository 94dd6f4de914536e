"""Sweeps: spec parsing, the BO loop (``run_one``), planning, executors, the
driver and the results store.

How a run flows: :class:`Sweep` (``spec.py``) expands into :class:`RunSpec`
(``runner.py``); the driver (``driver.py``) keeps those not yet stored and the
planner (``plan.py``) cuts them into tasks (one run, or a seed block run by
``block.py``); an executor (``executors/``) runs the tasks and yields one
:class:`RunResult` per run; the driver stores each (``store.py``).
"""

from __future__ import annotations

from bo_transfer.sweep.driver import SweepSummary, run_sweep
from bo_transfer.sweep.executors import DaskExecutor, LocalExecutor, SlurmExecutor
from bo_transfer.sweep.plan import Task, plan
from bo_transfer.sweep.runner import RunResult, RunSpec, run_one
from bo_transfer.sweep.spec import MethodEntry, Sweep
from bo_transfer.sweep.store import ResultStore

__all__ = [
    "DaskExecutor",
    "LocalExecutor",
    "MethodEntry",
    "ResultStore",
    "RunResult",
    "RunSpec",
    "SlurmExecutor",
    "Sweep",
    "SweepSummary",
    "Task",
    "plan",
    "run_one",
    "run_sweep",
]
