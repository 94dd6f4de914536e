"""Executors: where runs happen. Only run specs go in and plain results come out."""

from __future__ import annotations

import multiprocessing as mp
import os
import traceback
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed

import torch

from bo_transfer.sweep.runner import RunResult, RunSpec, run_one

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
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )


def execute(specs: Sequence[RunSpec], workers: int = 1) -> Iterator[RunResult]:
    """Run ``specs``; yield each result as it finishes (order may vary).

    ``workers > 1`` uses a spawn-based process pool: ``fork`` after torch has
    started its threads can deadlock.
    """
    if workers <= 1 or len(specs) <= 1:
        set_single_thread()
        for spec in specs:
            yield run_one(spec)
        return
    for var in _THREAD_VARS:  # inherited by the spawned workers before torch loads
        os.environ.setdefault(var, "1")
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=set_single_thread) as pool:
        futures = {pool.submit(run_one, spec): spec for spec in specs}
        for future in as_completed(futures):
            try:
                yield future.result()
            except Exception as exc:  # the worker itself failed (killed, unpicklable result)
                spec = futures[future]
                yield RunResult(
                    spec,
                    status="failed",
                    error=f"worker failed: {type(exc).__name__}: {exc}".splitlines()[0],
                    traceback=traceback.format_exc(),
                )
