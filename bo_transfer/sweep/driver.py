"""The sweep driver: plans the runs still to do, hands the tasks to an executor
and stores every result as it arrives (the only writer of the store)."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bo_transfer.errors import UserError
from bo_transfer.problems.families import split_pair_name
from bo_transfer.sweep.executors import Executor, LocalExecutor
from bo_transfer.sweep.outcome import DONE, FAILED, FAULTS, fault_count
from bo_transfer.sweep.plan import check_device, plan
from bo_transfer.sweep.progress import Progress
from bo_transfer.sweep.runner import RunResult
from bo_transfer.sweep.spec import Sweep
from bo_transfer.sweep.store import ResultStore, sweep_lock


@dataclass
class SweepSummary:
    total: int
    done: int = 0
    failed: int = 0
    skipped: int = 0
    wall_s: float = 0.0
    errors: Counter = field(default_factory=Counter)  # first line of each error -> count
    first_failure: dict = field(default_factory=dict)  # error -> (pair, method, seed)
    # Survived faults (outcome.FAULTS), summed over runs.
    faults: Counter = field(default_factory=Counter)

    def add(self, result: RunResult) -> None:
        """Count one stored result and the faults it survived."""
        for key in FAULTS:
            self.faults[key] += fault_count(result.metadata, key)
        if result.status == DONE:
            self.done += 1
        else:
            self.failed += 1
            self.errors[result.error] += 1
            s = result.spec
            self.first_failure.setdefault(result.error, (s.pair, s.method_label, s.seed))

    def lines(self) -> list[str]:
        out = [
            f"{self.done} done, {self.failed} failed, {self.skipped} skipped "
            f"of {self.total} runs in {self.wall_s:.1f} s"
        ]
        for err, n in self.errors.most_common():
            pair, method, seed = self.first_failure[err]
            out.append(f"  {n} failed with: {err} (first: {pair} {method} seed={seed})")
        for key, text in FAULTS.items():
            if self.faults[key]:
                out.append(f"  {self.faults[key]} {text}")
        return out


def run_sweep(
    sweep: Sweep,
    out: str | Path,
    executor: Executor | None = None,
    retry_failed: bool = False,
    append: bool = False,
    progress: bool = False,
    batch_seeds: int | None = None,
    device: str | None = None,
) -> SweepSummary:
    """Run every run of ``sweep`` not already done in ``out``; store each as it ends.

    Finished runs are never redone; failed ones are redone with
    ``retry_failed``. A directory holding results of a different spec is
    refused unless ``append``; a directory another sweep is writing to is
    refused (a lock). ``executor`` defaults to a local process pool with one
    worker per core. ``batch_seeds`` and ``device`` (default: the spec's) say
    how the runs are executed (:func:`~bo_transfer.sweep.plan.plan`), never
    what they compute.
    """
    t0 = time.perf_counter()
    executor = executor or LocalExecutor()
    batch_seeds = sweep.batch_seeds if batch_seeds is None else batch_seeds
    device = sweep.device if device is None else device
    check_device(device)
    specs = sweep.runs()
    with sweep_lock(out), ResultStore(out, create=True) as store:
        stored_spec = store.get_meta("spec")
        if stored_spec is not None and stored_spec != sweep.to_json() and not append:
            raise UserError(
                f"{str(out)!r} holds results of a different spec; "
                "use another --out or pass --append"
            )
        store.set_meta("spec", sweep.to_json())
        status = store.statuses()
        todo = [
            s
            for s in specs
            if status.get(s.key) is None or (status[s.key] == FAILED and retry_failed)
        ]
        summary = SweepSummary(total=len(specs), skipped=len(specs) - len(todo))
        bar = Progress(len(todo)) if progress and todo else None
        for result in executor.run(plan(todo, batch_seeds, device)):
            store.put(result, family=split_pair_name(result.spec.pair)[0])
            summary.add(result)
            if bar:
                bar.update(result.status)
    summary.wall_s = time.perf_counter() - t0
    return summary
