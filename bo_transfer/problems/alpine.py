"""The shifted Alpine-1D family of the RGPE paper.

``f(x) = x sin(x + pi + s) + x / 10`` on ``[-10, 10]``, one shift ``s`` per
task: the target has ``s = 0`` and source ``k`` (k = 1, 2, ...) has
``s = k pi / 12``, the setup of Feurer, Letham and Bakshy, *Scalable
Meta-Learning for Bayesian Optimization using Ranking-Weighted Gaussian Process
Ensembles*, AutoML workshop 2018. Small shifts keep the landscape's large-scale
shape (the envelope grows with |x|) while moving its many local minima, so
correlation stays high but the optima can sit in different basins.
``sign = -1`` negates the sources.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from bo_transfer.problems.base import FunctionProblem
from bo_transfer.problems.families import Param, register_family


def alpine(X: Tensor, shift: float = 0.0) -> Tensor:
    """Alpine-1D with phase ``shift`` at `n x 1` unit-cube points."""
    x = -10.0 + 20.0 * X[..., 0]
    return x * torch.sin(x + math.pi + shift) + x / 10


@register_family(
    "alpine",
    params=[
        Param("n_sources", int, 1, 1, 24, "number of sources; source k has shift k*pi/12"),
        Param("sign", int, 1, choices=(1, -1), help="-1 negates the sources"),
    ],
    summary="Alpine-1D with phase shift k*pi/12 per source (RGPE's benchmark)",
    citation="Feurer, Letham, Bakshy. Scalable Meta-Learning for Bayesian Optimization using "
    "Ranking-Weighted Gaussian Process Ensembles. AutoML 2018",
    bib_key="feurer2018scalable",
    examples=("alpine:n_sources=1", "alpine:n_sources=5", "alpine:n_sources=1,sign=-1"),
)
def build_alpine_pair(n_sources: int, sign: int):
    sources = []
    for k in range(1, n_sources + 1):

        def source(X: Tensor, s: float = k * math.pi / 12) -> Tensor:
            return sign * alpine(X, s)

        sources.append(FunctionProblem(source, 1, f"alpine-source(s={k}pi/12,sign={sign})"))
    return FunctionProblem(alpine, 1, "alpine"), sources
