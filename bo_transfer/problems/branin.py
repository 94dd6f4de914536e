"""The parametric Branin family (Tighineanu et al. 2022).

``f(x1, x2) = a (x2 - b x1^2 + c x1 - r)^2 + s (1 - t) cos(x1) + s`` on
``[-5, 10] x [0, 15]``. The target is the classic Branin-Hoo function (a = 1,
b = 5.1 / (4 pi^2), c = 5 / pi, r = 6, s = 10, t = 1 / (8 pi)), whose minimum
s t = 0.397887 is attained at three points, (-pi, 12.275), (pi, 2.275) and
(3 pi, 2.475) (where the squared term vanishes and cos x1 = -1; BoTorch's
``Branin`` lists the same three optimizers); the target's :class:`Optimum`
lists all three, so distances to its optimum go to the nearest. Each
source draws its parameters uniformly from the ranges of Tighineanu, Skubch,
Baireuther, Berkemeier, Freitag and Kremer, *Transfer Learning with Gaussian
Processes for Bayesian Optimization*, AISTATS 2022: a in [0.5, 1.5], b in
[0.1, 0.15], c in [1, 2], r in [5, 7], s in [8, 12], t in [0.03, 0.05].
``sign = -1`` negates the sources (the adversarial control). ``instance``
picks the draw of source parameters; ``instance=seed`` draws instance s for
seed s (the pair is then the family's distribution of sources).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from bo_transfer.problems.base import DTYPE, FunctionProblem, Optimum
from bo_transfer.problems.families import Param, register_family
from bo_transfer.seeding import derive_seed

LOW = torch.tensor([-5.0, 0.0], dtype=DTYPE)
SPAN = torch.tensor([15.0, 15.0], dtype=DTYPE)
CLASSIC = (1.0, 5.1 / (4 * math.pi**2), 5 / math.pi, 6.0, 10.0, 1 / (8 * math.pi))
#: Source parameter ranges (a, b, c, r, s, t) of Tighineanu et al. 2022.
RANGES = ((0.5, 1.5), (0.1, 0.15), (1.0, 2.0), (5.0, 7.0), (8.0, 12.0), (0.03, 0.05))


def branin(X: Tensor, params: tuple[float, ...] = CLASSIC) -> Tensor:
    """Branin with parameters (a, b, c, r, s, t) at `n x 2` unit-cube points."""
    a, b, c, r, s, t = params
    z = LOW + SPAN * X
    x1, x2 = z[..., 0], z[..., 1]
    return a * (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * torch.cos(x1) + s


#: The classic Branin-Hoo's global minimisers in native coordinates: x1 = -pi,
#: pi, 3 pi (cos x1 = -1) and x2 = b x1^2 - c x1 + r (the squared term is 0).
MINIMISERS = tuple(
    (x1, CLASSIC[1] * x1**2 - CLASSIC[2] * x1 + CLASSIC[3])
    for x1 in (-math.pi, math.pi, 3 * math.pi)
)


def branin_problem() -> FunctionProblem:
    unit = (torch.tensor(MINIMISERS, dtype=DTYPE) - LOW) / SPAN
    points = tuple(tuple(p) for p in unit.tolist())
    value = float(branin(torch.tensor(points[:1], dtype=DTYPE))[0])
    return FunctionProblem(
        branin, 2, "branin", Optimum(value, points[0], "exact (closed form)", others=points[1:])
    )


@register_family(
    "branin",
    params=[
        Param("n_sources", int, 1, 1, 16, "number of sources"),
        Param("sign", int, 1, choices=(1, -1), help="-1 negates the sources"),
        Param(
            "instance",
            int,
            0,
            0,
            None,
            "which draw of source parameters (seed: the run's seed)",
            by_seed=True,
        ),
    ],
    summary="Branin-Hoo target; sources with parameters drawn from the literature's ranges",
    citation="Tighineanu et al. Transfer Learning with Gaussian Processes for Bayesian "
    "Optimization. AISTATS 2022",
    bib_key="tighineanu2022transfer",
    examples=("branin:n_sources=1", "branin:n_sources=1,sign=-1", "branin:n_sources=3"),
)
def build_branin_pair(n_sources: int, sign: int, instance: int):
    gen = torch.Generator().manual_seed(derive_seed("branin-pair", instance))
    sources = []
    for k in range(n_sources):
        u = torch.rand(len(RANGES), generator=gen, dtype=DTYPE).tolist()
        params = tuple(lo + v * (hi - lo) for v, (lo, hi) in zip(u, RANGES))

        def source(X: Tensor, params: tuple[float, ...] = params) -> Tensor:
            return sign * branin(X, params)

        tag = ",".join(f"{p:.4g}" for p in params)
        sources.append(FunctionProblem(source, 2, f"branin-source{k}({tag},sign={sign})"))
    return branin_problem(), sources
