"""Hartmann-3 and Hartmann-6 with perturbed mixture weights, shifts and negation.

``f(x) = -sum_i alpha_i exp(-sum_j A_ij (x_j - P_ij)^2)`` on ``[0, 1]^d``
(Dixon and Szego, *The Global Optimization Problem: an Introduction*, 1978).
The target uses the classic weights alpha = (1, 1.2, 3, 3.2). Each source draws
alpha uniformly from alpha1 in [1, 1.02], alpha2 in [1.18, 1.2], alpha3 in
[2.8, 3.0], alpha4 in [3.2, 3.4], the perturbation used for transfer benchmarks
by Tighineanu et al. (AISTATS 2022) after Wistuba et al. (*Two-Stage Transfer
Surrogate Model for Automatic Hyperparameter Optimization*, ECML 2016); it may be
shifted by ``shift`` along the first coordinate (the source's landscape moves
right: ``source(x) = f(x - shift e1)``) and negated by ``sign = -1``. Noisy
source observations are the sweep option ``source_noise``, which applies to
every family. ``instance`` picks the draw of source weights; ``instance=seed``
draws instance s for seed s. Target optima are the literature's minimisers
(value recomputed there), the same as BoTorch's ``Hartmann`` optimizers:
-3.86278 (3-D) and -3.32237 (6-D).
"""

from __future__ import annotations

import torch
from torch import Tensor

from bo_transfer.problems.base import DTYPE, FunctionProblem, Optimum
from bo_transfer.problems.exact import fixed_sum
from bo_transfer.problems.families import Param, register_family
from bo_transfer.seeding import derive_seed

ALPHA = (1.0, 1.2, 3.0, 3.2)
ALPHA_RANGES = ((1.0, 1.02), (1.18, 1.2), (2.8, 3.0), (3.2, 3.4))
A = {
    3: [[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]],
    6: [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ],
}
P = {
    3: [[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]],
    6: [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ],
}
X_STAR = {
    3: (0.114614, 0.555649, 0.852547),
    6: (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573),
}


def hartmann(X: Tensor, alpha: tuple[float, ...] = ALPHA) -> Tensor:
    """Hartmann-d (d = 3 or 6) with weights ``alpha`` at `n x d` points."""
    d = X.shape[-1]
    a = torch.tensor(A[d], dtype=DTYPE)
    p = torch.tensor(P[d], dtype=DTYPE) * 1e-4
    # Fixed-order sums: the same bits whatever the CPU's SIMD width.
    inner = fixed_sum(a * (X.unsqueeze(-2) - p) ** 2, -1)  # n x 4
    return -fixed_sum(torch.tensor(alpha, dtype=DTYPE) * torch.exp(-inner), -1)


def hartmann_problem(dim: int) -> FunctionProblem:
    x_star = X_STAR[dim]
    value = float(hartmann(torch.tensor([x_star], dtype=DTYPE))[0])
    return FunctionProblem(
        hartmann, dim, f"hartmann{dim}", Optimum(value, x_star, "literature minimiser")
    )


@register_family(
    "hartmann",
    params=[
        Param("dim", int, 3, choices=(3, 6), help="3 or 6"),
        Param("n_sources", int, 1, 1, 16, "number of sources"),
        Param("shift", float, 0.0, -0.5, 0.5, "source displacement along x1"),
        Param("sign", int, 1, choices=(1, -1), help="-1 negates the sources"),
        Param(
            "instance",
            int,
            0,
            0,
            None,
            "which draw of source weights (seed: the run's seed)",
            by_seed=True,
        ),
    ],
    summary="Hartmann-3/6 target; sources with perturbed weights, optionally shifted or negated",
    citation="Dixon, Szego 1978; perturbation as in Tighineanu et al. AISTATS 2022",
    bib_key="dixon1978global,tighineanu2022transfer",
    examples=("hartmann:dim=3", "hartmann:dim=3,shift=0.2", "hartmann:dim=6,sign=-1"),
)
def build_hartmann_pair(dim: int, n_sources: int, shift: float, sign: int, instance: int):
    gen = torch.Generator().manual_seed(derive_seed("hartmann-pair", dim, instance))
    offset = torch.zeros(dim, dtype=DTYPE)
    offset[0] = shift
    sources = []
    for k in range(n_sources):
        u = torch.rand(len(ALPHA_RANGES), generator=gen, dtype=DTYPE).tolist()
        alpha = tuple(lo + v * (hi - lo) for v, (lo, hi) in zip(u, ALPHA_RANGES))

        def source(X: Tensor, alpha: tuple[float, ...] = alpha) -> Tensor:
            return sign * hartmann(X - offset, alpha)

        tag = ",".join(f"{a:.4g}" for a in alpha)
        sources.append(
            FunctionProblem(
                source, dim, f"hartmann{dim}-source{k}({tag},shift={shift},sign={sign})"
            )
        )
    return hartmann_problem(dim), sources
