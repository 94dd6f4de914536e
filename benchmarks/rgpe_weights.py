"""RGPE's ensemble weights on fixed data: this code, the code before issue 12, and
the paper's definition computed independently.

    python benchmarks/rgpe_weights.py

Each data set is a pair's source data (seed 0, 32 points per source) and
``n`` Sobol points of its target; the source and target GPs are fitted once
and all three computations weigh the same fitted models with 256 samples.
"ours" and "paper" draw the same standard normals (same generator, same order),
so they agree sample for sample; "before" is ``bo_transfer/methods/rgpe.py``
at commit ``ee3e307`` (read with ``git show``), which compared the held-out
prediction of ``f^{-j}`` with that of ``f^{-k}``. The paper's definition is
``tests/rgpe_reference.py``.
"""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from rgpe_reference import paper_weights  # noqa: E402

from bo_transfer.methods import make_method  # noqa: E402
from bo_transfer.methods.base import standardize  # noqa: E402
from bo_transfer.problems import get_pair  # noqa: E402
from bo_transfer.problems.base import sobol  # noqa: E402

#: The last commit with the old ranking loss.
BEFORE = "ee3e307"
N_SAMPLES = 256
DATA_SETS = [("gp:rho=0.0", 10), ("gp:rho=0.9", 10), ("gp:rho=0.9;-0.9;0.0", 12)]


def _old_rgpe() -> type:
    """The RGPE class as it was at ``BEFORE``."""
    source = subprocess.run(
        ["git", "show", f"{BEFORE}:bo_transfer/methods/rgpe.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # Registering "rgpe" twice would raise: the old class is left unregistered.
    source = source.replace("@register_method(", "@(lambda *args, **kwargs: lambda cls: cls)(")
    module = types.ModuleType("rgpe_before")
    exec(compile(source, "rgpe_before.py", "exec"), module.__dict__)
    return module.RGPE


def main() -> None:
    old_cls = _old_rgpe()
    print(f"| data set | n | model | ours | before ({BEFORE}) | paper |")
    print("|---|---|---|---|---|---|")
    for name, n in DATA_SETS:
        pair = get_pair(name)
        ours = make_method("rgpe", {"n_samples": N_SAMPLES})
        ours.start(pair.source_data(0), pair.dim, seed=0)
        X = sobol(n, pair.dim, 100)
        y_std = standardize(pair.target(X))
        target = ours.fit_gp(X, y_std)
        t = -y_std
        w_ours = ours.weights(target, X, t, torch.Generator().manual_seed(0))
        old = old_cls(n_samples=N_SAMPLES)
        old._sources = ours._sources
        w_old = old.weights(target, X, t, torch.Generator().manual_seed(0))
        w_paper = paper_weights(ours._sources, target, X, t, N_SAMPLES, seed=0)
        labels = [f"source {k}" for k in range(len(pair.sources))] + ["target"]
        for k, label in enumerate(labels):
            print(
                f"| {name} | {n} | {label} | {w_ours[k]:.3f} | {w_old[k]:.3f} | {w_paper[k]:.3f} |"
            )


if __name__ == "__main__":
    main()
