"""GP-sample pairs: source and target drawn jointly from a two-task GP.

The joint prior is the intrinsic coregionalization model (ICM; Bonilla, Chai and
Williams 2008) with an RBF kernel and task correlation ``rho``: the source is a
draw ``g1``, the target is ``rho * g1 + sqrt(1 - rho^2) * g2`` with ``g2`` an
independent draw. Draws are made exact and cheap with random Fourier features
(Rahimi and Recht 2007): ``f(x) = sqrt(2/M) cos(x W + b) w`` with ``W`` from
the kernel's spectral density, so a function is a fixed weight vector and the
same parameters always give the same functions.

Independent draws correlate by chance (with lengthscale 0.2 in 2-D, nominal
rho = 0 was seen anywhere from -0.4 to 0.5 on 1,024 points), so ``g2`` is
orthogonalized against ``g1`` on the shared Sobol reference set, in weight space,
and rescaled to the same empirical variance: the *realized* Pearson correlation
on the reference set then equals ``rho`` (to rounding).

Parameters: ``rho`` in [-1, 1]; ``dim``; ``lengthscale`` of the RBF kernel on
the unit cube; ``instance`` picks the random draw (the same instance at another
rho keeps the same source and the same independent component, so a sweep over
rho changes nothing but the correlation).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from bo_transfer.problems.base import DTYPE, FunctionProblem, reference_points
from bo_transfer.problems.pair import Param, register_family
from bo_transfer.seeding import derive_seed

N_FEATURES = 1024


class _FourierFeatures:
    def __init__(self, dim: int, lengthscale: float, seed: int) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.W = torch.randn(dim, N_FEATURES, generator=gen, dtype=DTYPE) / lengthscale
        self.b = 2 * math.pi * torch.rand(N_FEATURES, generator=gen, dtype=DTYPE)
        self.gen = gen

    def __call__(self, X: Tensor) -> Tensor:
        return math.sqrt(2.0 / N_FEATURES) * torch.cos(X @ self.W + self.b)


def _linear(phi: _FourierFeatures, w: Tensor):
    return lambda X: phi(X) @ w


@register_family(
    "gp",
    params=[
        Param("rho", float, 0.5, -1.0, 1.0, "task correlation of source and target"),
        Param("dim", int, 2, 1, 20, "input dimension"),
        Param("lengthscale", float, 0.2, 0.01, 10.0, "RBF lengthscale on the unit cube"),
        Param("instance", int, 0, 0, None, "which random draw"),
    ],
    summary="Source and target drawn jointly from an ICM two-task GP (random Fourier features)",
    citation="Bonilla, Chai, Williams. Multi-task Gaussian Process Prediction. NeurIPS 2007; "
    "Rahimi, Recht. Random Features for Large-Scale Kernel Machines. NeurIPS 2007",
    bib_key="bonilla2007multitask,rahimi2007random",
    examples=("gp:rho=0.9,dim=2", "gp:rho=0.0,dim=2", "gp:rho=-0.9,dim=2"),
)
def build_gp_pair(rho: float, dim: int, lengthscale: float, instance: int):
    phi = _FourierFeatures(dim, lengthscale, derive_seed("gp-pair", dim, lengthscale, instance))
    w_source = torch.randn(N_FEATURES, generator=phi.gen, dtype=DTYPE)
    w_indep = torch.randn(N_FEATURES, generator=phi.gen, dtype=DTYPE)

    features = phi(reference_points(dim))
    features = features - features.mean(0)
    s, u = features @ w_source, features @ w_indep
    w_indep = w_indep - (s @ u) / (s @ s) * w_source
    w_indep = w_indep * torch.linalg.vector_norm(s) / torch.linalg.vector_norm(features @ w_indep)
    w_target = rho * w_source + math.sqrt(max(0.0, 1.0 - rho**2)) * w_indep

    tag = f"rho={rho},dim={dim},lengthscale={lengthscale},instance={instance}"
    target = FunctionProblem(_linear(phi, w_target), dim, f"gp-target({tag})")
    source = FunctionProblem(_linear(phi, w_source), dim, f"gp-source({tag})")
    return target, [source]
