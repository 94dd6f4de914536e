"""One torch/BLAS thread per worker process: parallelism comes from processes."""

from __future__ import annotations

import os

import torch

#: Thread-count variables of the BLAS libraries torch may use; set before torch
#: loads in a spawned worker, they take effect there too.
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def set_single_thread() -> None:
    """One torch/BLAS thread in this process.

    Two torch threads in one process were seen to run several times slower on
    small GP problems than one, and one thread makes results independent of the
    worker count.
    """
    for var in THREAD_VARS:
        os.environ[var] = "1"
    torch.set_num_threads(1)


def default_workers() -> int:
    """The CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1
