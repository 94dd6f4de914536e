"""RGPE's ensemble weights on fixed data: this code and the paper's definition
computed independently (``tests/rgpe_reference.py``), side by side.

    python benchmarks/rgpe_weights.py [--samples 256]

Each data set is a pair's source data (seed 0, 32 points per source) and
``n`` Sobol points of its target; the source and target GPs are fitted once
and both computations weigh the same fitted models. They draw the same
standard normals (same generator, same order), so they agree sample for
sample. (The code before issue 12, which compared the held-out prediction of
``f^{-j}`` with that of ``f^{-k}``, gave the unrelated source of
``gp:rho=0.0`` weight 0.355 where the definition gives 0.)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from rgpe_reference import paper_weights  # noqa: E402

from bo_transfer.methods import make_method  # noqa: E402
from bo_transfer.methods.base import standardize  # noqa: E402
from bo_transfer.problems import get_pair  # noqa: E402
from bo_transfer.problems.base import sobol  # noqa: E402

DATA_SETS = [("gp:rho=0.0", 10), ("gp:rho=0.9", 10), ("gp:rho=0.9;-0.9;0.0", 12)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=256)
    n_samples = parser.parse_args().samples
    print("| data set | n | model | ours | paper |")
    print("|---|---|---|---|---|")
    for name, n in DATA_SETS:
        pair = get_pair(name)
        ours = make_method("rgpe", {"n_samples": n_samples})
        ours.start(pair.source_data(0), pair.dim, seed=0)
        X = sobol(n, pair.dim, 100)
        y_std = standardize(pair.target(X))
        target = ours.fit_gp(X, y_std)
        t = -y_std
        w_ours = ours.weights(target, X, t, torch.Generator().manual_seed(0))
        w_paper = paper_weights(ours._sources, target, X, t, n_samples, seed=0)
        labels = [f"source {k}" for k in range(len(pair.sources))] + ["target"]
        for k, label in enumerate(labels):
            print(f"| {name} | {n} | {label} | {w_ours[k]:.3f} | {w_paper[k]:.3f} |")


if __name__ == "__main__":
    main()
