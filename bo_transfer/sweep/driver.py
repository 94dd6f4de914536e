"""The sweep driver: plans the runs still to do, hands the tasks to an executor
and stores every result as it arrives (the only writer of the store)."""

from __future__ import annotations

import sys
import time
from collections import Counter
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from bo_transfer.errors import UserError
from bo_transfer.outputs import check_folder
from bo_transfer.problems.families import split_pair_name
from bo_transfer.sweep.executors import Executor, LocalExecutor
from bo_transfer.sweep.outcome import DONE, FAILED, FAULTS, LOST, fault_count
from bo_transfer.sweep.plan import check_device, plan
from bo_transfer.sweep.progress import Progress
from bo_transfer.sweep.runner import RunResult, RunSpec
from bo_transfer.sweep.signals import signals_held
from bo_transfer.sweep.spec import Sweep
from bo_transfer.sweep.store import STORE_NAME, ResultStore, StoreWriteError, sweep_lock


@dataclass
class SweepSummary:
    total: int
    done: int = 0
    failed: int = 0
    skipped: int = 0
    #: Runs the executor lost (outcome.LOST): not stored, the same command runs them.
    lost: int = 0
    wall_s: float = 0.0
    errors: Counter = field(default_factory=Counter)  # first line of each error -> count
    first_failure: dict = field(default_factory=dict)  # error -> (pair, method, seed)
    losses: Counter = field(default_factory=Counter)  # why runs were lost -> count
    # Survived faults (outcome.FAULTS), summed over runs.
    faults: Counter = field(default_factory=Counter)

    def add(self, result: RunResult) -> None:
        """Count one result (stored, or lost) and the faults it survived."""
        for key in FAULTS:
            self.faults[key] += fault_count(result.metadata, key)
        s = result.spec
        if result.status == DONE:
            self.done += 1
        elif result.status == LOST:
            self.lost += 1
            self.losses[result.error] += 1
            self.first_failure.setdefault(result.error, (s.pair, s.method_label, s.seed))
        else:
            self.failed += 1
            self.errors[result.error] += 1
            self.first_failure.setdefault(result.error, (s.pair, s.method_label, s.seed))

    def brief(self) -> str:
        """The counts in one line: ``"3 done, 1 failed, 2 skipped of 8 runs in 1.0 s"``
        (``", N lost"`` after the failed ones when the executor lost runs)."""
        lost = f", {self.lost} lost" if self.lost else ""
        return (
            f"{self.done} done, {self.failed} failed{lost}, {self.skipped} skipped "
            f"of {self.total} runs in {self.wall_s:.1f} s"
        )

    def lines(self) -> list[str]:
        out = [self.brief()]
        for err, n in self.errors.most_common():
            pair, method, seed = self.first_failure[err]
            out.append(f"  {n} failed with: {err} (first: {pair} {method} seed={seed})")
        for why, n in self.losses.most_common():
            pair, method, seed = self.first_failure[why]
            out.append(f"  {n} lost: {why} (first: {pair} {method} seed={seed})")
        if self.lost:
            out.append(
                f"  the {self.lost} lost runs are not stored: "
                "run the same command again to finish them"
            )
        for key, text in FAULTS.items():
            if self.faults[key]:
                out.append(f"  {self.faults[key]} {text}")
        return out


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C (or a signal the caller turns into a ``KeyboardInterrupt``
    subclass, see ``cause``) stopped a sweep. Every finished run is stored
    and the store is closed; ``summary`` counts what this sweep got done."""

    def __init__(self, summary: SweepSummary, cause: KeyboardInterrupt) -> None:
        super().__init__(summary.brief())
        self.summary, self.cause = summary, cause


def _check_spec(store: ResultStore, sweep: Sweep, append: bool) -> None:
    """A store accepts every spec it already holds; another one needs ``append``."""
    known = store.specs()
    if known and sweep.to_json() not in known and not append:
        raise UserError(
            f"{str(store.directory)!r} holds results of a different spec; "
            "use another --out or pass --append"
        )


def _check_data(store: ResultStore, specs: list[RunSpec]) -> None:
    """A store holds each pair's runs on one version of its data: a table or
    HPO-B folder changed since is refused, or a report would pool both."""
    stored = store.pair_data()
    for s in specs:
        other = stored.get(s.pair, {s.data}) - {s.data}
        if s.data and other:
            old = sorted(other)[0] or "unrecorded"
            raise UserError(
                f"{str(store.directory)!r} holds runs of {s.pair} on other data (hash {old}; "
                f"now {s.data}): its table or HPO-B files changed; run into a new --out, "
                "or restore the data those runs used"
            )


def _started(executor: Executor) -> AbstractContextManager:
    """The executor as a context that brings it up (e.g. connects to Dask) and
    tears it down; executors without one need no bringing up."""
    return executor if hasattr(executor, "__enter__") else nullcontext(executor)


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
    ``retry_failed``; runs the executor lost (a cancelled Slurm task) are not
    stored, so the same call runs them again. A directory holding results of
    a spec it was not given before is refused unless ``append`` (a directory
    remembers every spec run into it); a directory another sweep is writing to is refused (a lock).
    Nothing is written before the executor is up (a Dask scheduler that cannot
    be reached leaves no trace). ``executor`` defaults to a local process pool
    with one worker per core. ``batch_seeds`` and ``device`` (default: the
    spec's) say how the runs are executed (:func:`~bo_transfer.sweep.plan.plan`),
    never what they compute. ``progress`` prints a header line and a progress
    bar to stderr.

    Raises:
        SweepInterrupted: on ``KeyboardInterrupt``, after storing every
            finished run and closing the store.
        StoreWriteError: a result could not be stored (e.g. a full disk); the
            message ends with the summary so far, and what was stored stays.
    """
    t0 = time.perf_counter()
    out = Path(out)
    executor = executor or LocalExecutor()
    batch_seeds = sweep.batch_seeds if batch_seeds is None else batch_seeds
    device = sweep.device if device is None else device
    check_device(device)
    specs = sweep.runs()
    check_folder(out)
    if (out / STORE_NAME).exists():  # refuse a bad store or spec before starting anything
        with ResultStore(out) as store:
            _check_spec(store, sweep, append)
            _check_data(store, specs)
    summary = SweepSummary(total=len(specs))
    try:
        with _started(executor), sweep_lock(out), ResultStore(out, create=True) as store:
            _check_spec(store, sweep, append)
            _check_data(store, specs)
            store.add_spec(sweep.to_json())
            status = store.statuses()
            todo = [
                s
                for s in specs
                if status.get(s.key) is None or (status[s.key] == FAILED and retry_failed)
            ]
            summary.skipped = len(specs) - len(todo)
            if progress:
                print(
                    f"{sweep.name}: {len(specs)} runs on {executor.describe()} -> {out}",
                    file=sys.stderr,
                )
            tasks = plan(todo, batch_seeds, device, store.seconds_per_evaluation())
            _store_results(executor, tasks, store, summary, progress, t0)
    except KeyboardInterrupt as exc:  # Ctrl-C (or SIGTERM, see cli) at any moment
        summary.wall_s = time.perf_counter() - t0
        raise SweepInterrupted(summary, exc) from None
    summary.wall_s = time.perf_counter() - t0
    return summary


def _store_results(
    executor: Executor,
    tasks: list,
    store: ResultStore,
    summary: SweepSummary,
    progress: bool,
    t0: float,
) -> None:
    """Store each result as the executor yields it, counting it in ``summary``
    (the sweep started at ``t0``, a ``time.perf_counter`` reading). A run the
    executor lost is counted, never stored: the same command runs it again."""
    bar = Progress(summary.total - summary.skipped) if progress and tasks else None
    if bar is not None and hasattr(executor, "observer"):
        executor.observer = bar  # e.g. Slurm's job ids and pending reasons
    results = executor.run(tasks)
    try:
        for result in results:
            with signals_held():  # stored and counted, or neither
                if result.status != LOST:
                    store.put(result, family=split_pair_name(result.spec.pair)[0])
                summary.add(result)
            if bar:
                bar.update(result.status)
    except StoreWriteError as exc:
        summary.wall_s = time.perf_counter() - t0
        raise StoreWriteError(
            f"{exc}; stopped after {summary.brief()}; what was stored stays: "
            "make room and run the same command again to resume"
        ) from None
    finally:
        # An executor stops its workers when its results are abandoned.
        getattr(results, "close", lambda: None)()
