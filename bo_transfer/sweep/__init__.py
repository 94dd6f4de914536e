"""Sweeps: spec parsing, the BO loop (``run_one``), executors and the results store."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bo_transfer.errors import UserError
from bo_transfer.problems.pair import split_pair_name
from bo_transfer.sweep.executors import default_workers, execute
from bo_transfer.sweep.runner import RunResult, RunSpec, run_one
from bo_transfer.sweep.spec import MethodEntry, Sweep
from bo_transfer.sweep.store import ResultStore


@dataclass
class SweepSummary:
    total: int
    done: int = 0
    failed: int = 0
    skipped: int = 0
    wall_s: float = 0.0
    errors: Counter = field(default_factory=Counter)

    def lines(self) -> list[str]:
        out = [
            f"{self.done} done, {self.failed} failed, {self.skipped} skipped "
            f"of {self.total} runs in {self.wall_s:.1f} s"
        ]
        out += [f"  {n} x {err}" for err, n in self.errors.most_common()]
        return out


def run_sweep(
    sweep: Sweep,
    out: str | Path,
    workers: int | None = None,
    retry_failed: bool = False,
    append: bool = False,
    progress: Callable[[str], None] | None = None,
) -> SweepSummary:
    """Run every run of ``sweep`` not already done in ``out``; store each as it ends.

    Finished runs are never redone; failed ones are redone with ``retry_failed``.
    A directory holding results of a different spec is refused unless ``append``.
    """
    t0 = time.perf_counter()
    specs = sweep.runs()
    with ResultStore(out, create=True) as store:
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
            if status.get(s.key) is None or (status[s.key] == "failed" and retry_failed)
        ]
        summary = SweepSummary(total=len(specs), skipped=len(specs) - len(todo))
        for i, result in enumerate(execute(todo, workers or default_workers()), start=1):
            store.put(result, family=split_pair_name(result.spec.pair)[0])
            if result.status == "done":
                summary.done += 1
            else:
                summary.failed += 1
                summary.errors[result.error] += 1
            if progress:
                s = result.spec
                progress(
                    f"[{i}/{len(todo)}] {result.status} {s.pair} {s.method_label} seed={s.seed} "
                    f"({result.timings.get('total_s', 0.0):.1f} s)"
                )
    summary.wall_s = time.perf_counter() - t0
    return summary


def print_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


__all__ = [
    "MethodEntry",
    "ResultStore",
    "RunResult",
    "RunSpec",
    "Sweep",
    "SweepSummary",
    "run_one",
    "run_sweep",
]
