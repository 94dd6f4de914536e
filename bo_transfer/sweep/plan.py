"""The planner: the runs still to do, cut into the tasks executors run.

A task is one run, or a seed block: runs of one method with a batched step
(:func:`~bo_transfer.methods.base.has_batched_step`) that differ only in
seed, run in lock-step as one batched model (:mod:`bo_transfer.sweep.block`).
Blocks are cut here and nowhere else; executors run tasks as they are and
the driver stores each result. A block computes each run's own numbers (the
same as the run alone), so how runs are grouped never changes a result and
is not part of a run's key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import torch

from bo_transfer.errors import UserError
from bo_transfer.methods.base import METHODS, has_batched_step
from bo_transfer.sweep.block import run_block
from bo_transfer.sweep.runner import RunResult, RunSpec, run_one

#: Devices a task may run on (``--device``).
DEVICES = ("cpu", "cuda")

#: Seconds per evaluation assumed for a method no finished run in the store
#: tells about: about 4x cold-gp's cost at 32 source points on the dev machine
#: (0.14-0.23 s per iteration, benchmarks/perf/RESULTS.md), and more than most
#: methods there need. Far slower methods (mtgp-botorch: ~36 s per iteration
#: with 5 sources) are sized from their own finished runs once there are some.
DEFAULT_EVAL_S = 1.0


@dataclass(frozen=True)
class Task:
    """Runs executed together: one run, or a seed block on ``device``.

    ``estimate_s`` is a rough guess of its seconds on one core
    (:func:`estimate_seconds`), by which the Slurm executor sizes its array
    tasks; it never changes what the task computes.
    """

    runs: tuple[RunSpec, ...]
    device: str = "cpu"
    estimate_s: float = field(default=0.0, compare=False)

    def __post_init__(self) -> None:
        if not self.runs:
            raise ValueError("a task needs at least one run")

    def __len__(self) -> int:
        return len(self.runs)

    def run(self) -> list[RunResult]:
        """The runs' results, in order; never raises."""
        if len(self.runs) == 1 and self.device == "cpu":
            return [run_one(self.runs[0])]
        return run_block(self.runs, torch.device(self.device))


def run_task(task: Task) -> list[RunResult]:
    """What every executor calls in its worker: ``task.run()``."""
    return task.run()


def check_device(device: str, where: str = "--device") -> None:
    """A one-line error for a device this machine cannot run on; ``where``
    names what set it (the flag, or a spec's ``device``)."""
    if device not in DEVICES:
        raise UserError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError(f"{where} cuda: no CUDA device is available to torch on this machine")


def batchable(run: RunSpec) -> bool:
    return has_batched_step(METHODS.get(run.method))


def estimate_seconds(runs: Sequence[RunSpec], rates: Mapping[str, float]) -> float:
    """A rough guess of the seconds ``runs`` take one after another on one core:
    each run's budget times its method's seconds per evaluation, from
    ``rates`` (method name -> seconds, e.g. the median of the runs already
    stored: :meth:`~bo_transfer.sweep.store.ResultStore.seconds_per_evaluation`)
    or :data:`DEFAULT_EVAL_S`. Linear in the budget, although a GP's fit grows
    faster with its data, and a seed block is counted as its runs one by one
    (it takes 0.1-1x that), so it errs on the long side for most methods."""
    return sum(run.budget * rates.get(run.method, DEFAULT_EVAL_S) for run in runs)


def plan(
    runs: Sequence[RunSpec],
    batch_seeds: int = 1,
    device: str = "cpu",
    rates: Mapping[str, float] | None = None,
) -> list[Task]:
    """Cut ``runs`` into tasks, in the order of each task's first run.

    With ``batch_seeds = S > 1``, the runs of a batched method that differ
    only in seed (same pair, method, options, label, budget, sources) form
    blocks of at most S, in the order given; every other run is a task of its
    own. Batched methods' tasks run on ``device``, the others on the CPU.
    Each task carries its :func:`estimate_seconds` from ``rates``.
    """
    if batch_seeds < 1:
        raise UserError(f"batch_seeds must be >= 1, got {batch_seeds}")
    groups: dict[object, list[RunSpec]] = {}
    for i, run in enumerate(runs):
        ident: object = i
        if batch_seeds > 1 and batchable(run):
            ident = (replace(run, seed=0).key, run.label)  # all but the seed
        groups.setdefault(ident, []).append(run)
    tasks = []
    for members in groups.values():
        on = device if batchable(members[0]) else "cpu"
        size = batch_seeds if len(members) > 1 else 1
        for start in range(0, len(members), size):
            block = tuple(members[start : start + size])
            tasks.append(Task(block, on, estimate_seconds(block, rates or {})))
    # Groups come in order of their first run; blocks keep that order.
    return tasks
