"""bo_transfer: a benchmark suite for warm-started Bayesian optimization.

The Python API mirrors the command line::

    from bo_transfer import Sweep, run_sweep, load_results, summarize
    sweep = Sweep.from_toml("benchmarks/quickstart.toml")
    run_sweep(sweep, "runs/quickstart")
    table = summarize(load_results("runs/quickstart"))
"""

from __future__ import annotations

import importlib

from bo_transfer.reproducibility import pin_math_library

# Before anything imports torch: MKL reads its code-path mode when it loads.
pin_math_library()

__version__ = "0.1.0"

# Imported on first use, so ``bo-transfer --help`` does not pay for torch.
_LAZY = {
    "Sweep": "bo_transfer.sweep",
    "run_sweep": "bo_transfer.sweep",
    "run_one": "bo_transfer.sweep",
    "LocalExecutor": "bo_transfer.sweep",
    "DaskExecutor": "bo_transfer.sweep",
    "SlurmExecutor": "bo_transfer.sweep",
    "load_results": "bo_transfer.analysis",
    "summarize": "bo_transfer.analysis",
    "plot_regret": "bo_transfer.analysis",
    "get_pair": "bo_transfer.problems",
    "register_family": "bo_transfer.problems",
    "Method": "bo_transfer.methods",
    "register_method": "bo_transfer.methods",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bo_transfer' has no attribute {name!r}")
