"""Sweeps: spec parsing, the BO loop (``run_one``), executors and the results store."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bo_transfer.errors import UserError
from bo_transfer.problems.pair import split_pair_name
from bo_transfer.sweep.batched import seed_blocks
from bo_transfer.sweep.executors import DaskExecutor, LocalExecutor, SlurmExecutor
from bo_transfer.sweep.progress import Progress
from bo_transfer.sweep.runner import RunResult, RunSpec, run_one
from bo_transfer.sweep.spec import MethodEntry, Sweep
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
    # Survived faults, summed over runs: Sobol fallbacks after numerical failures,
    # non-finite objective values, proposals repaired because they repeated a point.
    faults: Counter = field(default_factory=Counter)

    def lines(self) -> list[str]:
        out = [
            f"{self.done} done, {self.failed} failed, {self.skipped} skipped "
            f"of {self.total} runs in {self.wall_s:.1f} s"
        ]
        for err, n in self.errors.most_common():
            pair, method, seed = self.first_failure[err]
            out.append(f"  {n} failed with: {err} (first: {pair} {method} seed={seed})")
        labels = {
            "sobol_fallbacks": "iterations fell back to a Sobol point after a numerical failure",
            "nonfinite_values": "objective values were not finite (imputed as the worst seen)",
            "repaired_proposals": "proposals repeated an evaluated point and were redrawn",
            "fit_jitter_retries": "GP fits failed and were retried with more jitter",
            "fit_kept_previous": "GP fits failed twice and kept the previous hyperparameters",
            "batch_fallbacks": "iterations of seed blocks took each seed's own step after a "
            "numerical failure of the batched step",
            "below_optimum": "runs evaluated below their pair's certified optimum (regret is "
            "measured from the best value seen)",
        }
        for key, text in labels.items():
            if self.faults[key]:
                out.append(f"  {self.faults[key]} {text}")
        return out


def run_sweep(
    sweep: Sweep,
    out: str | Path,
    executor: LocalExecutor | DaskExecutor | SlurmExecutor | None = None,
    retry_failed: bool = False,
    append: bool = False,
    progress: bool = False,
) -> SweepSummary:
    """Run every run of ``sweep`` not already done in ``out``; store each as it ends.

    Finished runs are never redone (a seed block with a run to do is rerun
    whole, but only that run is stored); failed ones are redone with
    ``retry_failed``.
    A directory holding results of a different spec is refused unless
    ``append``; a directory another sweep is writing to is refused (a lock).
    ``executor`` defaults to a local process pool with one worker per core.
    """
    t0 = time.perf_counter()
    executor = executor or LocalExecutor()
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
        todo = {
            s.key
            for s in specs
            if status.get(s.key) is None or (status[s.key] == "failed" and retry_failed)
        }
        # A seed block is rerun whole (its numbers depend on running it as one),
        # but only its runs still to do are stored.
        tasks = [t for t in seed_blocks(specs) if any(s.key in todo for s in t)]
        summary = SweepSummary(total=len(specs), skipped=len(specs) - len(todo))
        bar = Progress(len(todo)) if progress and todo else None
        for result in executor.run([s for task in tasks for s in task]):
            if result.spec.key not in todo:
                continue
            store.put(result, family=split_pair_name(result.spec.pair)[0])
            for key in (
                "sobol_fallbacks",
                "nonfinite_values",
                "repaired_proposals",
                "fit_jitter_retries",
                "fit_kept_previous",
                "batch_fallbacks",
            ):
                summary.faults[key] += result.metadata.get(key, 0)
            summary.faults["below_optimum"] += "below_optimum" in result.metadata
            if result.status == "done":
                summary.done += 1
            else:
                summary.failed += 1
                summary.errors[result.error] += 1
                s = result.spec
                summary.first_failure.setdefault(result.error, (s.pair, s.method_label, s.seed))
            if bar:
                bar.update(result.status)
    summary.wall_s = time.perf_counter() - t0
    return summary


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
    "run_one",
    "run_sweep",
]
