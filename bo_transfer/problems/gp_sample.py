"""GP-sample pairs: a target and one or more sources drawn jointly from a multi-task GP.

The joint prior is the intrinsic coregionalization model (ICM; Bonilla, Chai and
Williams 2008) with an RBF kernel: the first source is a draw ``g0``, the target
is ``rho_0 * g0 + sqrt(1 - rho_0^2) * u`` with ``u`` an independent draw, and
each further source ``k`` is ``rho_k * target + sqrt(1 - rho_k^2) * v_k`` with
``v_k`` independent draws. Draws are exact and cheap with random Fourier
features (Rahimi and Recht 2007): ``f(x) = sqrt(2/M) cos(x W + b) w`` with
``W`` from the kernel's spectral density, so a function is a fixed weight
vector and the same parameters always give the same functions, to the bit on
any machine: the products and sums go through :mod:`~bo_transfer.problems.exact`,
not the BLAS, whose kernels change with the CPU.

Independent draws correlate by chance (with lengthscale 0.2 in 2-D, nominal
rho = 0 was seen anywhere from -0.4 to 0.5 on 1,024 points), so the independent
components are orthogonalized by Gram-Schmidt in weight space, under the inner
product of the centred function values on the shared Sobol reference set:
``u`` against ``g0``, each ``v_k`` against ``g0``, ``u`` and the earlier
``v_j``; each is rescaled to the empirical variance of ``g0``. The *realized*
Pearson correlation on the reference set then equals ``rho_k`` for every source
(to rounding), for any list of rho values (``0.9;-0.9`` is always feasible),
and sources correlate with each other exactly as ``rho_j * rho_k`` (they are
conditionally independent given the target).

Parameters: ``rho``, one value in [-1, 1] per source (``;``-separated: the
number of sources is the number of values); ``dim``; ``lengthscale`` of the RBF
kernel on the unit cube (at least :func:`min_lengthscale` of ``dim``: rougher
samples have too many basins to certify their optimum); ``instance`` picks the
random draw (the same instance at another first rho keeps the same first source
and independent components, so a sweep over rho changes nothing but the
correlation), and ``instance=seed`` draws instance s for seed s, so the pair
stands for the distribution of landscapes at that correlation.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from bo_transfer.errors import UserError
from bo_transfer.problems.base import DTYPE, FunctionProblem, reference_points
from bo_transfer.problems.exact import fixed_dot, fixed_matmul, fixed_norm, fixed_sum
from bo_transfer.problems.families import Param, format_value, register_family
from bo_transfer.seeding import derive_seed

N_FEATURES = 1024


class _FourierFeatures:
    def __init__(self, dim: int, lengthscale: float, seed: int) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.W = torch.randn(dim, N_FEATURES, generator=gen, dtype=DTYPE) / lengthscale
        self.b = 2 * math.pi * torch.rand(N_FEATURES, generator=gen, dtype=DTYPE)
        self.gen = gen

    def __call__(self, X: Tensor) -> Tensor:
        return math.sqrt(2.0 / N_FEATURES) * torch.cos(fixed_matmul(X, self.W) + self.b)

    def fast(self, X: Tensor) -> Tensor:
        """The same features through the BLAS: faster, CPU-dependent last bits."""
        return math.sqrt(2.0 / N_FEATURES) * torch.cos(X @ self.W + self.b)


def _problem(phi: _FourierFeatures, w: Tensor, dim: int, name: str) -> FunctionProblem:
    """The function ``phi(x) . w``, exact on every machine; its optimum search
    runs through the BLAS (the optimum's value is the exact function's)."""
    return FunctionProblem(
        lambda X: fixed_dot(phi(X), w), dim, name, search=lambda X: phi.fast(X) @ w
    )


MAX_SOURCES = 16

#: How rugged a sample may be for its optimum to be certified: a GP sample on
#: the unit cube has of the order of ``(1 / lengthscale)^dim`` basins, and
#: :func:`~bo_transfer.problems.base.certify_minimum` (Sobol searches up to
#: 2^18 points, each polished) was checked to agree with a search 4x larger
#: up to ``dim * ln(1 / lengthscale) = 6 ln 5``: 6-D at the default lengthscale
#: 0.2, 10-D from 0.381, 20-D from 0.618, any lengthscale in 2-D. Beyond, a 4x
#: larger search kept finding lower basins (8-D and 10-D at 0.2: by 5% of the
#: value range), so the optimum regret is measured from would be a guess.
MAX_RUGGEDNESS = 6 * math.log(5)


def min_lengthscale(dim: int) -> float:
    """The smallest lengthscale whose ``dim``-D samples can be certified."""
    return math.exp(-MAX_RUGGEDNESS / dim)


def _check_gp(params: dict) -> None:
    if len(params["rho"]) > MAX_SOURCES:
        raise UserError(f"at most {MAX_SOURCES} sources, got {len(params['rho'])} rho values")
    dim, lengthscale = params["dim"], params["lengthscale"]
    # The relative slack keeps the calibration point (6-D at 0.2) inside.
    if dim * math.log(1 / lengthscale) > MAX_RUGGEDNESS * (1 + 1e-12):
        raise UserError(
            f"dim={dim} needs lengthscale >= {math.ceil(min_lengthscale(dim) * 1000) / 1000:g} "
            f"(got {lengthscale:g}): a rougher sample has too many basins for its optimum to "
            "be certified"
        )


@register_family(
    "gp",
    params=[
        Param(
            "rho",
            "floats",
            (0.5,),
            -1.0,
            1.0,
            "correlation with the target, one per source",
            knob=True,
        ),
        Param("dim", int, 2, 1, 20, "input dimension"),
        Param("lengthscale", float, 0.2, 0.01, 10.0, "RBF lengthscale on the unit cube"),
        Param(
            "instance", int, 0, 0, None, "which random draw (seed: the run's seed)", by_seed=True
        ),
    ],
    summary="Target and sources drawn jointly from an ICM multi-task GP; exact correlation per "
    "source (rho=0.9;-0.9: two sources)",
    citation="Bonilla, Chai, Williams. Multi-task Gaussian Process Prediction. NeurIPS 2007; "
    "Rahimi, Recht. Random Features for Large-Scale Kernel Machines. NeurIPS 2007",
    bib_key="bonilla2007multitask,rahimi2007random",
    examples=(
        "gp:rho=0.9,dim=2",
        "gp:rho=0.0,dim=2",
        "gp:rho=-0.9,dim=2",
        "gp:rho=0.9;-0.9,dim=3",
        "gp:rho=0.9,dim=2,instance=seed",
    ),
    check=_check_gp,
)
def build_gp_pair(rho: tuple[float, ...], dim: int, lengthscale: float, instance: int):
    phi = _FourierFeatures(dim, lengthscale, derive_seed("gp-pair", dim, lengthscale, instance))
    # Draw order keeps single-source pairs identical to the first release.
    w_first = torch.randn(N_FEATURES, generator=phi.gen, dtype=DTYPE)
    w_indep = [torch.randn(N_FEATURES, generator=phi.gen, dtype=DTYPE)]
    w_indep += [torch.randn(N_FEATURES, generator=phi.gen, dtype=DTYPE) for _ in rho[1:]]

    features = phi(reference_points(dim))
    features = features - fixed_sum(features, 0) / features.shape[0]
    scale = fixed_norm(fixed_dot(features, w_first))
    basis = [w_first]  # orthogonal under <a, b> = (F a) . (F b)
    for k, w in enumerate(w_indep):
        for b in basis:
            fb = fixed_dot(features, b)
            w = w - fixed_dot(fb, fixed_dot(features, w)) / fixed_dot(fb, fb) * b
        w_indep[k] = w * scale / fixed_norm(fixed_dot(features, w))
        basis.append(w_indep[k])

    def mix(r: float, w_along: Tensor, w_orth: Tensor) -> Tensor:
        return r * w_along + math.sqrt(max(0.0, 1.0 - r**2)) * w_orth

    w_target = mix(rho[0], w_first, w_indep[0])
    w_sources = [w_first] + [mix(r, w_target, v) for r, v in zip(rho[1:], w_indep[1:])]

    tag = f"rho={format_value(rho)},dim={dim},lengthscale={lengthscale},instance={instance}"
    target = _problem(phi, w_target, dim, f"gp-target({tag})")
    sources = [_problem(phi, w, dim, f"gp-source{k}({tag})") for k, w in enumerate(w_sources)]
    return target, sources
