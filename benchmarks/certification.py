"""Certified optima against a search 4x larger, at the largest dimension of each family.

    python benchmarks/certification.py [PAIR ...]

For every problem of each pair (target and sources), prints its optimum (how
it is known, and the search that certified it), the best value of an
independent search with 4x the Sobol points and 4x the polished starts, and
their gap as a fraction of the problem's value range (the suite requires at
most 1e-4; ``tests/test_problems_certify.py`` asserts it). Cached optima are
used when present (``$BO_TRANSFER_CACHE``).
"""

from __future__ import annotations

import argparse
import math

import torch

from bo_transfer.problems import Problem, get_pair
from bo_transfer.problems.base import certify_effort, certify_minimum
from bo_transfer.problems.gp_sample import min_lengthscale

GP_LENGTHSCALE = math.ceil(min_lengthscale(20) * 1000) / 1000
LARGEST = (
    f"gp:rho=0.5,dim=20,lengthscale={GP_LENGTHSCALE}",
    "gp:rho=0.5,dim=6",
    "forrester",
    "alpine:n_sources=3",
    "branin:n_sources=2",
    "hartmann:dim=6,shift=0.2",
    "shift:base=hartmann6,delta=0.3",
    "hpo:model=sgd,source=wine,target=iris",
    f"negate:pair=gp:rho=0.5,dim=20,lengthscale={GP_LENGTHSCALE}",
)


def check(problem: Problem) -> str:
    opt = problem.optimum
    n_sobol, n_polish = opt.search or certify_effort(problem.dim)
    larger = certify_minimum(problem, 4 * n_sobol, 4 * n_polish)
    gap = (opt.value - larger.value) / problem.value_range
    return (
        f"{opt.value:.8g} ({opt.how}) | 4x: {4 * n_sobol} points, {4 * n_polish} starts: "
        f"{larger.value:.8g} | gap {gap:.1e} of the range {problem.value_range:.4g}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", nargs="*", default=LARGEST)
    args = parser.parse_args()
    torch.set_num_threads(1)
    seen: set[int] = set()
    for name in args.pairs:
        pair = get_pair(name)
        roles = [("target", pair.target), *((f"source{k}", s) for k, s in enumerate(pair.sources))]
        for role, problem in roles:
            if isinstance(problem, Problem) and id(problem) not in seen:
                seen.add(id(problem))
                print(f"{pair.name} {role} (dim {problem.dim}): {check(problem)}", flush=True)


if __name__ == "__main__":
    main()
