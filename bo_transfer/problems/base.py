"""The unit-cube minimisation problem every pair family builds on."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from scipy.optimize import minimize
from torch import Tensor
from torch.quasirandom import SobolEngine

from bo_transfer.problems.cache import load_optimum, store_optimum

DTYPE = torch.float64

#: Size and scramble seed of the Sobol set on which diagnostics and the target's
#: value range (for normalized regret) are measured. Fixed so that every process
#: measures on the same points.
REFERENCE_SIZE = 1024
REFERENCE_SEED = 20240611

#: Dense search used to certify an optimum that is not known in closed form.
CERTIFY_SOBOL = 2**14
CERTIFY_POLISH = 10


def sobol(n: int, dim: int, seed: int) -> Tensor:
    """``n x dim`` scrambled Sobol points in the unit cube, float64."""
    return SobolEngine(dim, scramble=True, seed=seed).draw(n, dtype=DTYPE)


def reference_points(dim: int) -> Tensor:
    """The shared ``REFERENCE_SIZE x dim`` Sobol reference set."""
    return sobol(REFERENCE_SIZE, dim, REFERENCE_SEED)


@dataclass(frozen=True)
class Optimum:
    """Where a problem's minimum is and how we know it."""

    value: float
    x: tuple[float, ...]
    how: str  # "exact" or "certified: dense Sobol + L-BFGS-B polish"


class Problem(ABC):
    """One objective on the unit cube ``[0, 1]^dim``, minimised.

    Subclasses implement :meth:`evaluate` on a `n x dim` float64 tensor and may
    declare a closed-form optimum through :meth:`known_optimum`; otherwise the
    optimum is certified once (dense Sobol search plus local polishing) and
    cached on the instance.
    """

    def __init__(self, dim: int, name: str) -> None:
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self.dim = dim
        self.name = name
        #: Set by the pair registry (canonical pair name, role, family version):
        #: a certified optimum is then cached on disk under this key.
        self.cache_key: str | None = None

    @abstractmethod
    def evaluate(self, X: Tensor) -> Tensor:
        """Values at `n x dim` points ``X`` in the unit cube, as a `n` tensor."""

    def known_optimum(self) -> Optimum | None:
        return None

    def __call__(self, X: Tensor) -> Tensor:
        X = torch.as_tensor(X, dtype=DTYPE)
        if X.ndim != 2 or X.shape[-1] != self.dim:
            raise ValueError(f"{self.name}: expected a n x {self.dim} tensor, got {tuple(X.shape)}")
        return self.evaluate(X)

    @cached_property
    def optimum(self) -> Optimum:
        known = self.known_optimum()
        if known is not None:
            return known
        if self.cache_key is None:
            return certify_minimum(self)
        entry = load_optimum(self.cache_key)
        if entry is not None:
            return Optimum(float(entry["value"]), tuple(entry["x"]), entry["how"])
        opt = certify_minimum(self)
        store_optimum(self.cache_key, opt.value, opt.x, opt.how)
        return opt

    @property
    def optimal_value(self) -> float:
        return self.optimum.value

    @cached_property
    def reference_values(self) -> Tensor:
        """Values on the shared Sobol reference set (`REFERENCE_SIZE`)."""
        with torch.no_grad():
            return self(reference_points(self.dim))

    @property
    def value_range(self) -> float:
        """max - min on the reference set: the scale of normalized regret."""
        v = self.reference_values
        return float(v.max() - v.min())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, dim={self.dim})"


class FunctionProblem(Problem):
    """A problem from a torch callable mapping `n x dim` to `n`."""

    def __init__(self, fn, dim: int, name: str, optimum: Optimum | None = None) -> None:
        super().__init__(dim, name)
        self._fn = fn
        self._known = optimum

    def evaluate(self, X: Tensor) -> Tensor:
        return self._fn(X)

    def known_optimum(self) -> Optimum | None:
        return self._known


class NegatedProblem(Problem):
    """``-problem``: the adversarial twin of a problem (its minimum is the
    original's maximum, so its optimum is certified afresh)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.dim, f"-{problem.name}")
        self.problem = problem

    def evaluate(self, X: Tensor) -> Tensor:
        return -self.problem.evaluate(X)


class ShiftedProblem(Problem):
    """``problem(x - offset)``: the same landscape displaced by ``offset`` (a
    ``dim`` tensor), evaluated outside the unit cube where the base allows it."""

    def __init__(self, problem: Problem, offset: Tensor, name: str) -> None:
        super().__init__(problem.dim, name)
        self.problem = problem
        self.offset = torch.as_tensor(offset, dtype=DTYPE)

    def evaluate(self, X: Tensor) -> Tensor:
        return self.problem.evaluate(X - self.offset)


def certify_minimum(
    problem: Problem, n_sobol: int = CERTIFY_SOBOL, n_polish: int = CERTIFY_POLISH
) -> Optimum:
    """Minimum of ``problem`` by dense Sobol search then L-BFGS-B from the best points.

    The returned value is the best point found; it is an upper bound on the true
    minimum that in practice is tight for the smooth, low-dimensional problems of
    this suite (tests check no fresh dense sample beats it).
    """
    d = problem.dim
    with torch.no_grad():
        X = sobol(n_sobol, d, seed=REFERENCE_SEED + 1)
        y = problem(X)
    order = torch.argsort(y)[:n_polish]
    best_x, best_v = X[order[0]].numpy(), float(y[order[0]])

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        xt = torch.tensor(x, dtype=DTYPE).unsqueeze(0).requires_grad_(True)
        v = problem(xt).sum()
        (g,) = torch.autograd.grad(v, xt)
        return float(v.detach()), g.squeeze(0).numpy().astype(np.float64)

    for i in order.tolist():
        res = minimize(fun, X[i].numpy(), jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * d)
        if math.isfinite(res.fun) and res.fun < best_v:
            best_v, best_x = float(res.fun), np.clip(res.x, 0.0, 1.0)
    # Re-evaluate at the clipped point so the value is one the problem really attains.
    with torch.no_grad():
        best_v = float(problem(torch.tensor(best_x, dtype=DTYPE).unsqueeze(0))[0])
    return Optimum(
        best_v, tuple(float(v) for v in best_x), "certified: dense Sobol + L-BFGS-B polish"
    )
