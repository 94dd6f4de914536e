"""Guarded transfer: a warm start that watches whether its sources deserve trust."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from bo_transfer.methods.base import DEFAULT_BETA, BatchedMethod, register_method, spearman
from bo_transfer.methods.batch import gp_step_batch
from bo_transfer.methods.prior_mean import SourceMean
from bo_transfer.methods.sources import SourcePosteriors
from bo_transfer.problems.base import DTYPE


@register_method(
    "guarded",
    summary="prior-mean that abstains (cold-gp) or flips a source once target data "
    "show its rank correlation is not positive",
    citation="This package (bo_transfer); builds on prior-mean (Golovin et al. KDD 2017) "
    "and the rank-based source checks of Feurer et al. 2018 (RGPE)",
    bib_key="golovin2017google,feurer2018scalable",
)
class Guarded(BatchedMethod):
    """``prior-mean`` with an online check of every source on the target data.

    Rule, applied before each proposal. Let ``n`` be the number of target
    observations and ``rho_k`` the Spearman rank correlation between source
    ``k``'s posterior mean at the observed points and the observed target values
    (both oriented so that larger is better). Under "source unrelated to the
    target", ``rho_k`` has standard deviation about ``1 / sqrt(n - 1)``, so the
    threshold is ``c(n) = z / sqrt(n - 1)`` (default ``z = 1.2816``, a one-sided
    10% test). While ``n < min_points`` every source is trusted as in
    ``prior-mean``; afterwards source ``k`` is

    - kept (``rho_k >= c(n)``): the evidence says it ranks the target well;
    - flipped (``rho_k <= -c(n)``): the evidence says it is anti-correlated, so
      its mean enters with weight ``-1``;
    - dropped otherwise: no evidence that it helps, so it cannot hurt.

    The prior mean averages the kept and flipped sources; with none left the
    step is exactly ``cold-gp`` (abstain). The check is redone every iteration,
    so a source can come back. Each iteration records ``spearman`` (one value
    per source) and ``decision`` (``warm``, ``flip`` or ``cold``).
    """

    def __init__(
        self,
        z: float = 1.2816,
        min_points: int = 4,
        acquisition: str = "logei",
        beta: float = DEFAULT_BETA,
    ) -> None:
        super().__init__()
        self._acquisition = self.set_acquisition(acquisition, beta)
        if not z > 0:
            raise ValueError(f"z must be positive, got {z}")
        if min_points < 3:
            raise ValueError(f"min_points must be at least 3, got {min_points}")
        self.z, self.min_points = float(z), int(min_points)
        self._posteriors = SourcePosteriors([])

    def config(self) -> dict:
        return {"z": self.z, "min_points": self.min_points, **self._acquisition}

    def start(self, sources, dim: int, seed: int) -> None:
        super().start(sources, dim, seed)
        self._posteriors = SourcePosteriors(self.fit_sources())

    def source_signs(self, X: Tensor, y: Tensor) -> tuple[Tensor, list[float]]:
        """Per source ``+1`` (keep), ``-1`` (flip) or ``0`` (drop), and the rank
        correlations they come from, for target data ``X`` (`n x d`), ``y`` (`n`)."""
        with torch.no_grad():
            means = self._posteriors.means(X.cpu())  # n x K, larger is better
        rhos = [spearman(means[:, k], -y.cpu()) for k in range(means.shape[-1])]
        if len(y) < self.min_points:
            return torch.ones(len(rhos), dtype=DTYPE), rhos
        c = self.z / math.sqrt(len(y) - 1)
        signs = [1.0 if r >= c else -1.0 if r <= -c else 0.0 for r in rhos]
        return torch.tensor(signs, dtype=DTYPE), rhos

    @classmethod
    def propose_batch(
        cls, methods: Sequence[Guarded], X: Tensor, y: Tensor, seeds: Sequence[int]
    ) -> Tensor:
        """Each run's decision from its own data; the runs that abstain take one
        batched cold-gp step, the others one batched prior-mean step with their
        own signed weights."""
        signs = []
        for method, X_s, y_s in zip(methods, X, y):
            sign, rhos = method.source_signs(X_s, y_s)
            method.record("spearman", rhos)
            used = sign != 0
            method.record(
                "decision", "cold" if not used.any() else "flip" if (sign < 0).any() else "warm"
            )
            signs.append(sign / used.sum() if used.any() else None)
        x = torch.empty(len(methods), X.shape[-1], dtype=X.dtype)
        cold = [s for s, sign in enumerate(signs) if sign is None]
        warm = [s for s, sign in enumerate(signs) if sign is not None]
        if cold:
            x[cold] = gp_step_batch(
                [methods[s] for s in cold], X[cold], y[cold], [seeds[s] for s in cold]
            )
        if warm:
            weights = torch.stack([signs[s] for s in warm]).to(X)
            mean = SourceMean([methods[s]._posteriors.on(X.device) for s in warm], weights)
            x[warm] = gp_step_batch(
                [methods[s] for s in warm], X[warm], y[warm], [seeds[s] for s in warm], mean
            )
        return x
