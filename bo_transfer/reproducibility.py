"""What a run's numbers depend on besides its spec, what the suite pins, and
what it records of where they were computed.

What is exact and what is statistical (the README's "Reproducibility"
section says the same for users):

- **Exact everywhere** (any machine, maths library, layout or batch size):
  the problem (landscape and certified optimum), the source data and the
  initial design. They are computed from the run's seed in float64 by code
  paths that do not branch on the CPU, and they are what pairs the runs of
  different methods on one seed. ``tests/test_reproducibility.py`` checks them
  under another MKL code path.
- **Exact on one machine and maths library, in one execution layout**: the
  whole trajectory, bit for bit, when the thread count (one per worker, set
  by the executors), the maths library's code path and the seed-block size are
  the same. Re-running a stored sweep's runs reproduces them.
- **Within a tolerance across layouts and code paths**: a run alone and the
  same run inside a seed block, or on a CPU where MKL takes another code path,
  share their initial design exactly and their first BO proposal to
  :data:`FIRST_PROPOSAL_ATOL` (for ``mtgp``, whose ICM fit can stop at its
  iteration cap on a flat likelihood, only where the fit converges). From
  there trajectories are chaotic: a 1e-8
  difference in a GP fit can select another point, so later values agree **in
  distribution** only (the study's effects keep their direction and their
  intervals overlap; the slow slice test checks that whenever the recorded
  CPU or maths library differs from the one running it).

The suite pins MKL's conditional-numerical-reproducibility mode to ``AUTO``
(:data:`PINNED`) before torch loads MKL, unless the user set ``MKL_CBWR``
already. Without it MKL picks kernels by matrix shape and alignment at run
time, and on some CPUs (AMD EPYC, seen here) a run inside a seed block then
differs from the same run alone from its first BO step. With it, blocks and
lone runs agreed bit for bit on every CPU tried, at the cost measured by
``benchmarks/perf/math_mode.py`` (recorded in ``benchmarks/perf/RESULTS.md``).
It does not make two different CPUs agree: ``AUTO`` still takes each CPU's
fastest code path (``MKL_CBWR=COMPATIBLE`` would, for MKL's part, at a larger
cost; torch's own kernels still dispatch on the CPU's vector width).
"""

from __future__ import annotations

import functools
import json
import os
import platform
import re
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

#: Environment settings the suite applies (``os.environ.setdefault``) before
#: torch is imported, so MKL reads them when it initialises.
PINNED = {"MKL_CBWR": "AUTO"}

#: ``BO_TRANSFER_NO_PIN=1`` leaves the maths library's defaults alone (to
#: measure what pinning costs, or to reproduce runs stored without it).
NO_PIN_ENV = "BO_TRANSFER_NO_PIN"

#: A run alone and the same run in a seed block (or on another CPU code path)
#: propose their first BO point within this distance (max abs, unit cube).
FIRST_PROPOSAL_ATOL = 1e-4

#: Environment variables that change which kernels the maths libraries run.
MATH_ENV = (
    "MKL_CBWR",
    "MKL_ENABLE_INSTRUCTIONS",
    "MKL_NUM_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "ATEN_CPU_CAPABILITY",
)

_torch_loaded_before_pin = "torch" in sys.modules


def pin_math_library() -> None:
    """Apply :data:`PINNED` where the user has not set the variable.

    Called when ``bo_transfer`` is imported. Spawned workers inherit the
    environment, so they start MKL in the same mode. If torch was imported
    before ``bo_transfer`` (a user's script importing torch first), MKL may
    already have read its environment; :func:`math_library` records that.
    """
    if os.environ.get(NO_PIN_ENV, "") == "1":
        return
    for name, value in PINNED.items():
        os.environ.setdefault(name, value)


@functools.cache
def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what Python knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.cache
def _blas() -> tuple[str, str]:
    import torch

    config = torch.__config__.show()
    mkl = re.search(r"Math Kernel Library Version ([\d.]+)", config)
    blas = re.search(r"BLAS_INFO=(\w+)", config)
    lapack = re.search(r"LAPACK_INFO=(\w+)", config)
    vendor = f"MKL {mkl.group(1)}" if mkl else (blas.group(1) if blas else "unknown")
    return vendor, lapack.group(1) if lapack else "unknown"


def math_library() -> dict[str, str | int | bool]:
    """Where this process computes: CPU, BLAS/LAPACK vendor, code-path settings
    and thread counts. Stored with every run and in a study's ``run.json``."""
    import torch

    blas, lapack = _blas()
    out: dict[str, str | int | bool] = {
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "blas": blas,
        "lapack": lapack,
        "aten_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch_threads": torch.get_num_threads(),
        "torch_imported_first": _torch_loaded_before_pin,
    }
    for name in MATH_ENV:
        out[name] = os.environ.get(name, "unset")
    return out


def same_code_path(a: dict, b: dict) -> bool:
    """Whether two :func:`math_library` records promise bit-identical kernels:
    the same CPU model, BLAS, code-path settings and thread counts."""
    keys = ("cpu", "blas", "aten_cpu_capability", "torch_threads", *MATH_ENV)
    return all(str(a.get(k)) == str(b.get(k)) for k in keys)


def layouts_disagree(a: pd.DataFrame, b: pd.DataFrame, n_init: int) -> str | None:
    """Where two tidy frames (``load_results``) of the same runs, computed in
    different layouts or on different code paths, break what the suite
    promises: the same runs and iterations, the initial designs and their
    values exact, each run's first proposal within :data:`FIRST_PROPOSAL_ATOL`.
    ``None`` when they keep it, else one line saying what differs."""
    import numpy as np

    key = ["run_key", "iteration"]
    a = a.sort_values(key).reset_index(drop=True)
    b = b.sort_values(key).reset_index(drop=True)
    if not a[key].equals(b[key]):
        return "different runs or iterations"
    init = a["iteration"] < n_init
    if not a.loc[init, ["x", "y"]].equals(b.loc[init, ["x", "y"]]):
        return "initial designs or their values differ"
    first = a["iteration"] == n_init
    xa = np.array([json.loads(x) for x in a.loc[first, "x"]], dtype=float)
    xb = np.array([json.loads(x) for x in b.loc[first, "x"]], dtype=float)
    gap = float(np.max(np.abs(xa - xb))) if xa.size else 0.0
    if gap > FIRST_PROPOSAL_ATOL:
        return f"first proposals {gap:.2e} apart (tolerance {FIRST_PROPOSAL_ATOL:g})"
    return None
