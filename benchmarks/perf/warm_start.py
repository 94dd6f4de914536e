"""Does warm-starting GP hyperparameters save time on the same data?

    python benchmarks/perf/warm_start.py

``cold-gp`` starts each fit from the previous iteration's hyperparameters.
Comparing its loop with a hand-written one mixes two effects: the cheaper
start, and the different points a run then visits. This isolates the first.
On fixed Sobol designs (prefixes of 6..29 points, 3 designs, ``gp:rho=0.5`` at
dim 2 and 6) it fits every prefix twice, from BoTorch's default start and from
the previous prefix's fitted hyperparameters, and prints the time ratio, the
mean L-BFGS-B iterations and the difference of the final marginal log
likelihoods (per data point; negative: the warm start ended lower).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from fit_counter import FITS
from gpytorch.mlls import ExactMarginalLogLikelihood

from bo_transfer.methods.gp import load_parameters, parameters_of
from bo_transfer.problems import get_pair
from bo_transfer.problems.base import sobol
from bo_transfer.sweep.executors import set_single_thread


def fit(X, y, previous=None) -> tuple[SingleTaskGP, float, int, float]:
    model = SingleTaskGP(X, -y.unsqueeze(-1))
    if previous:
        load_parameters(model, previous)
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    t0 = time.perf_counter()
    fit_gpytorch_mll(mll)
    elapsed = time.perf_counter() - t0
    model.train()
    with torch.no_grad():
        value = float(mll(model(*model.train_inputs), model.train_targets))
    return model, elapsed, FITS[-1][0], value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="one small design (seconds)")
    smoke = parser.parse_args().smoke
    set_single_thread()
    print(
        "| dim | warm / default time | iterations, default | iterations, warm | "
        "mll warm - default, mean | worst |"
    )
    print("|---|---|---|---|---|---|")
    for dim in (2,) if smoke else (2, 6):
        pair = get_pair(f"gp:rho=0.5,dim={dim}")
        rows = []
        for design in range(1 if smoke else 3):
            X = sobol(30, dim, 100 + design)
            y = pair.target(X)
            previous = None
            for n in range(6, 9 if smoke else 30):
                torch.manual_seed(n)
                _, t_default, it_default, v_default = fit(X[:n], y[:n])
                torch.manual_seed(n)
                model, t_warm, it_warm, v_warm = fit(X[:n], y[:n], previous)
                previous = parameters_of(model)
                rows.append((t_default, t_warm, it_default, it_warm, v_warm - v_default))
        ratio = sum(r[1] for r in rows) / sum(r[0] for r in rows)
        print(
            f"| {dim} | {ratio:.2f} | {statistics.mean(r[2] for r in rows):.1f} "
            f"| {statistics.mean(r[3] for r in rows):.1f} "
            f"| {statistics.mean(r[4] for r in rows):+.4f} | {min(r[4] for r in rows):+.4f} |"
        )


if __name__ == "__main__":
    main()
