"""The unit-cube minimisation problem every pair family builds on."""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import torch
from scipy.optimize import minimize
from torch import Tensor
from torch.quasirandom import SobolEngine

from bo_transfer.errors import UserError
from bo_transfer.problems.cache import load_optimum, store_optimum

DTYPE = torch.float64

#: Size and scramble seed of the Sobol set on which diagnostics and the target's
#: value range (for normalized regret) are measured. Fixed so that every process
#: measures on the same points.
REFERENCE_SIZE = 1024
REFERENCE_SEED = 20240611

#: An evaluated value lies below a problem's optimum "by more than rounding"
#: when it is lower by more than this fraction of the problem's value range: a
#: polished optimum is accurate to about 1e-12 of the range, a different basin
#: is lower by far more.
ROUNDING = 1e-8

#: Points per chunk when evaluating a dense search set (bounds the memory of a
#: GP sample's ``n x 1024`` feature matrix to about 128 MB).
CHUNK = 2**14


def sobol(n: int, dim: int, seed: int) -> Tensor:
    """``n x dim`` scrambled Sobol points in the unit cube, float64."""
    return SobolEngine(dim, scramble=True, seed=seed).draw(n, dtype=DTYPE)


def reference_points(dim: int) -> Tensor:
    """The shared ``REFERENCE_SIZE x dim`` Sobol reference set."""
    return sobol(REFERENCE_SIZE, dim, REFERENCE_SEED)


class BelowOptimumWarning(UserWarning):
    """A problem evaluated below its certified optimum by more than rounding."""


@dataclass(frozen=True)
class Optimum:
    """Where a problem's minimum is and how we know it.

    ``x`` is a global minimiser and ``others`` the further global minimisers
    known (the classic Branin has three; a certified optimum lists every
    distinct polished point within rounding of the best), so a distance to
    "the optimum" can go to the nearest of them (:func:`optimum_distance`).
    """

    value: float
    x: tuple[float, ...]
    how: str  # "exact", "literature minimiser" or "certified: ..."
    others: tuple[tuple[float, ...], ...] = ()
    #: Sobol points and polished starts of the search that certified the value
    #: (empty for an optimum known in closed form or from the literature).
    search: tuple[int, ...] = ()

    @property
    def points(self) -> tuple[tuple[float, ...], ...]:
        """Every known global minimiser, ``x`` first."""
        return (self.x, *self.others)


def optimum_distance(a: Optimum, b: Optimum) -> float:
    """Euclidean distance between the nearest global minimisers of ``a`` and ``b``."""
    pa = torch.tensor(a.points, dtype=DTYPE)
    pb = torch.tensor(b.points, dtype=DTYPE)
    return float(torch.cdist(pa, pb).min())


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

    def search(self, X: Tensor) -> Tensor:
        """The values at ``X`` for certifying the optimum: :meth:`evaluate`, or
        the same function computed faster where a subclass can (through the
        BLAS, whose last bits vary by CPU). The optimum's value is always
        :meth:`evaluate`'s at the point found."""
        return self.evaluate(X)

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
            cached = Optimum(
                float(entry["value"]),
                tuple(float(v) for v in entry["x"]),
                entry["how"],
                tuple(tuple(float(v) for v in p) for p in entry.get("others", ())),
                tuple(entry.get("search", ())),
            )
            if self._fits(cached):
                return cached
        opt = certify_minimum(self)
        store_optimum(self.cache_key, opt.value, opt.x, opt.how, opt.others, opt.search)
        return opt

    def _fits(self, opt: Optimum) -> bool:
        """Whether a cached optimum belongs to this problem: its points have the
        problem's dimension, its value is the problem's value at them (to
        rounding), and it is no higher than the reference set's best (a
        value too high would make regret 0 before the optimum is reached). A
        cached entry that fails is certified again and overwritten."""
        if any(len(p) != self.dim for p in opt.points):
            return False
        # Twice rounding: the tied minimisers lie within rounding of the value.
        tol = 2 * ROUNDING * self.value_range
        with torch.no_grad():
            at = self(torch.tensor(opt.points, dtype=DTYPE))
        return bool(
            torch.isfinite(at).all()
            and (at - opt.value).abs().max() <= tol
            and opt.value <= float(self.reference_values.min()) + tol
        )

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
        """max - min on the reference set: the scale of normalized regret. A
        target that fails (NaN) on part of the cube is measured on the points
        where it has a value; a run's failed evaluations are charged the top
        of this range (bo_transfer.analysis.regret.add_regret)."""
        v = self.reference_values
        v = v[torch.isfinite(v)]
        if len(v) < 2:
            raise UserError(f"{self.name} has no finite value on the reference set")
        return float(v.max() - v.min())

    def below_optimum(self, value: float) -> bool:
        """Whether ``value`` is lower than :attr:`optimal_value` by more than
        rounding (:data:`ROUNDING` of the value range): the optimum was then
        not the minimum."""
        return value < self.optimal_value - ROUNDING * self.value_range

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, dim={self.dim})"


class FunctionProblem(Problem):
    """A problem from a torch callable mapping `n x dim` to `n`."""

    def __init__(
        self, fn, dim: int, name: str, optimum: Optimum | None = None, search=None
    ) -> None:
        super().__init__(dim, name)
        self._fn = fn
        self._known = optimum
        self._search = search

    def evaluate(self, X: Tensor) -> Tensor:
        return self._fn(X)

    def search(self, X: Tensor) -> Tensor:
        return super().search(X) if self._search is None else self._search(X)

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

    def search(self, X: Tensor) -> Tensor:
        return -self.problem.search(X)


class ShiftedProblem(Problem):
    """``problem(x - offset)``: the same landscape displaced by ``offset`` (a
    ``dim`` tensor), evaluated outside the unit cube where the base allows it."""

    def __init__(self, problem: Problem, offset: Tensor, name: str) -> None:
        super().__init__(problem.dim, name)
        self.problem = problem
        self.offset = torch.as_tensor(offset, dtype=DTYPE)

    def evaluate(self, X: Tensor) -> Tensor:
        return self.problem.evaluate(X - self.offset)

    def search(self, X: Tensor) -> Tensor:
        return self.problem.search(X - self.offset)


#: Certification grows its search by this factor (Sobol points and polished
#: starts) until the larger search improves the best value by at most
#: ``CONVERGED`` of the value range, or the search reaches ``MAX_SOBOL`` points.
GROWTH = 4
CONVERGED = 1e-4
MAX_SOBOL = 2**18


def certify_effort(dim: int) -> tuple[int, int]:
    """Sobol points and polished starts of the first certifying search in ``dim``
    dimensions: ``2^12`` and 16 up to 3-D, ``2^14`` and 64 up to 6-D, ``2^16``
    and 256 beyond (a small first search in many dimensions can agree with a
    4x larger one by chance, both missing the basin a 16x larger one finds)."""
    level = 0 if dim <= 3 else 1 if dim <= 6 else 2
    return 2**12 * GROWTH**level, 16 * GROWTH**level


def certify_minimum(
    problem: Problem, n_sobol: int | None = None, n_polish: int | None = None
) -> Optimum:
    """Minimum of ``problem`` by dense Sobol searches, each polished by L-BFGS-B.

    By default the search starts at :func:`certify_effort` of the dimension and
    grows ``GROWTH``-fold until a search agrees with the one 4x larger to
    ``CONVERGED`` (1e-4) of the value range; the certified value is the larger
    search's, so every certified optimum was checked against a search 4x
    larger than the last one it had to agree with. Past ``MAX_SOBOL`` points
    the best value found is returned with a :class:`CertificationWarning`
    (its ``how`` says so). ``n_sobol`` and ``n_polish`` instead run that one
    search (e.g. a 4x larger check of a certificate).

    Each search evaluates the first ``n`` points of one fixed scrambled Sobol
    sequence (a larger search contains the smaller; values are reused) and
    polishes the best ``p`` of them with bounded L-BFGS-B, all at once as one
    problem whose variables are the starts (the objective is their sum, so each
    start's gradient is its own).

    Returns:
        The best polished point (re-evaluated where it was clipped into the
        cube), an upper bound on the true minimum; ``others`` holds the further
        distinct polished points within rounding of it (symmetric minima), and
        ``search`` the Sobol points and polished starts of the certifying search.
    """
    search = _Search(problem)
    if n_sobol is not None or n_polish is not None:
        default_sobol, default_polish = certify_effort(problem.dim)
        return search.run(n_sobol or default_sobol, n_polish or default_polish, "one search")
    n, p = certify_effort(problem.dim)
    best = search.run(n, p, "")
    tol = CONVERGED * problem.value_range
    while True:
        if GROWTH * n > MAX_SOBOL:
            warnings.warn(
                f"{problem.name}: no certified optimum; a search of {n} Sobol points still "
                f"improved on one {GROWTH}x smaller by more than {CONVERGED:g} of the range",
                CertificationWarning,
                stacklevel=2,
            )
            return replace(best, how=best.how + ", not converged")
        larger = search.run(GROWTH * n, GROWTH * p, f"agrees with {n} points and {p} starts")
        if best.value - larger.value <= tol:
            return larger
        n, p, best = GROWTH * n, GROWTH * p, larger


class CertificationWarning(UserWarning):
    """A problem's optimum could not be certified within the largest search."""


class _Search:
    """Sobol searches of growing size on one problem, sharing their evaluations."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.X = torch.empty(0, problem.dim, dtype=DTYPE)
        self.y = torch.empty(0, dtype=DTYPE)
        self.polished: dict[int, Tensor] = {}  # Sobol index -> polished point

    def run(self, n_sobol: int, n_polish: int, note: str) -> Optimum:
        problem = self.problem
        if n_sobol > len(self.X):
            with torch.no_grad():
                X = sobol(n_sobol, problem.dim, seed=REFERENCE_SEED + 1)
                new = torch.cat([problem.search(c) for c in X[len(self.X) :].split(CHUNK)])
            self.X, self.y = X, torch.cat([self.y, new])
        starts = torch.argsort(self.y[:n_sobol])[:n_polish].tolist()
        todo = [i for i in starts if i not in self.polished]
        if todo:
            self.polished.update(zip(todo, _polish(problem, self.X[todo])))
        # A larger search contains the smaller ones: their polished points too
        # (a start among the best 64 of 2^14 points may not be among the best
        # 256 of 2^16), so the best value never gets worse as the search grows.
        X_pol = torch.stack(list(self.polished.values()))
        with torch.no_grad():
            y_pol = problem(X_pol)
        # The best Sobol point stands in where polishing failed to improve it.
        candidates = torch.cat([self.X[starts[:1]], X_pol])
        values = torch.cat([self.y[starts[:1]], y_pol])
        order = torch.argsort(values)
        best_v = float(values[order[0]])
        tie = best_v + ROUNDING * problem.value_range
        minimisers: list[Tensor] = []
        for i in order.tolist():
            if values[i] > tie:
                break
            if all(
                float(torch.linalg.vector_norm(candidates[i] - m)) > DISTINCT for m in minimisers
            ):
                minimisers.append(candidates[i])
        points = [tuple(float(v) for v in m) for m in minimisers]
        how = f"certified: {n_sobol} Sobol points, L-BFGS-B from the best {n_polish}"
        return Optimum(
            best_v,
            points[0],
            how + (f"; {note}" if note else ""),
            tuple(points[1:]),
            (n_sobol, n_polish),
        )


#: Two polished minimisers closer than this (unit-cube distance) are one point.
DISTINCT = 1e-3


def _polish(problem: Problem, starts: Tensor) -> Tensor:
    """Bounded L-BFGS-B from each of the `n x d` ``starts`` at once; `n x d` results.

    Stopping is on the gradient and the iteration cap only: scipy's relative
    decrease test would stop the joint problem when one start's progress is
    small next to the sum of all values."""
    n, d = starts.shape

    def fun(z: np.ndarray) -> tuple[float, np.ndarray]:
        x = torch.tensor(z.reshape(n, d), dtype=DTYPE).requires_grad_(True)
        v = problem.search(x).sum()
        (g,) = torch.autograd.grad(v, x)
        return float(v.detach()), g.reshape(-1).numpy().astype(np.float64)

    res = minimize(
        fun,
        starts.reshape(-1).numpy(),
        jac=True,
        method="L-BFGS-B",
        bounds=[(0.0, 1.0)] * (n * d),
        options={"maxiter": POLISH_MAXITER, "ftol": 0.0, "gtol": 1e-10},
    )
    X = torch.tensor(res.x, dtype=DTYPE).reshape(n, d).clamp(0.0, 1.0)
    # A start whose polish went non-finite keeps its starting point.
    with torch.no_grad():
        ok = torch.isfinite(problem(X))
    return torch.where(ok.unsqueeze(-1), X, starts)


#: Iteration cap of the joint polish (typically converges in a few hundred).
POLISH_MAXITER = 3000
