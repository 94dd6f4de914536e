"""Prior-mean transfer: the sources' posterior mean is the target GP's prior mean."""

from __future__ import annotations

import torch
from gpytorch.means import Mean
from torch import Tensor

from bo_transfer.methods.base import Method, register_method
from bo_transfer.methods.sources import SourcePosteriors
from bo_transfer.problems.base import DTYPE


class SourceMean(Mean):
    """A weighted sum of fixed source posterior means, in standardized units.

    Each source GP is fitted once; its posterior mean ``c + k(x, X_s) alpha`` is
    frozen (:class:`~bo_transfer.methods.sources.SourcePosteriors`), so the
    target GP's fit cannot move the source hyperparameters and evaluating the
    mean costs one kernel row per source, all sources in one expression.

    Args:
        fitted: the source GPs (see :meth:`Method.fit_sources`).
        weights: `K` weights, default ``1/K`` each (the average).
        learn: make the weights a parameter, fitted with the target GP's
            hyperparameters by marginal likelihood.
        posteriors: the frozen posteriors of ``fitted``, when already built
            (they are reused, not recomputed).
    """

    def __init__(
        self,
        fitted: list,
        weights: Tensor | None = None,
        learn: bool = False,
        posteriors: SourcePosteriors | None = None,
    ) -> None:
        super().__init__()
        if weights is None:
            weights = torch.full((len(fitted),), 1.0 / max(len(fitted), 1), dtype=DTYPE)
        if learn:
            self.register_parameter("weights", torch.nn.Parameter(weights.clone()))
        else:
            self.register_buffer("weights", weights.clone())
        self.posteriors = posteriors if posteriors is not None else SourcePosteriors(fitted)

    def source_means(self, x: Tensor) -> Tensor:
        """`... x n x K` posterior means of each source at ``x`` (`... x n x d`)."""
        return self.posteriors.means(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.source_means(x) @ self.weights


@register_method(
    "prior-mean",
    summary="Target GP whose prior mean is the average of the source GPs' posterior means "
    "(mean transfer as in Vizier's GP stacking)",
    citation="Golovin, Solnik, Moitra, Kochanski, Karro, Sculley. Google Vizier: A Service for "
    "Black-Box Optimization. KDD 2017 (source GP posterior mean as the target's prior mean)",
    bib_key="golovin2017google",
)
class PriorMean(Method):
    """A GP is fitted to each source once per run (values negated for BoTorch and
    standardized per source, the space :class:`SourceMean` works in). The
    target GP, on standardized target values, takes a weighted sum of *every*
    source's posterior mean as its prior mean and models the residual: the
    transfer of Google Vizier's GP stacking (Golovin et al. 2017), where a
    GP's prior mean is the posterior mean of the GP fitted before it.

    It departs from Vizier's stack (``mhgp`` is that stack) in two ways: the
    sources are averaged instead of stacked one on another, and each source
    and the target are standardized on their own, so the prior carries a
    source's shape, not its level or scale.

    ``weights="mean"`` (default): equal weights ``1/K``, i.e. the sum of the
    standardized source means scaled so the prior keeps unit scale whatever the
    number of sources. It trusts the sources' shape as it is (no learned scale
    or sign): the classic warm start, which an anti-correlated source misleads.
    ``weights="learned"``: the weights start at ``1/K`` and are fitted with the
    target GP's hyperparameters by marginal likelihood, so the target data can
    rescale, switch off or flip a source (our variant).
    """

    def __init__(self, weights: str = "mean") -> None:
        super().__init__()
        if weights not in ("mean", "learned"):
            raise ValueError(f"weights must be 'mean' or 'learned', got {weights!r}")
        self.weights = weights
        self._fitted: list = []
        self._mean: SourceMean | None = None
        self._posteriors: SourcePosteriors | None = None

    def config(self) -> dict:
        return {"weights": self.weights}

    def start(self, sources, dim: int, seed: int) -> None:
        super().start(sources, dim, seed)
        self._fitted = self.fit_sources()
        self._mean = SourceMean(self._fitted)
        self._posteriors = self._mean.posteriors

    def propose(self, X: Tensor, y: Tensor, seed: int) -> Tensor:
        mean = self._mean
        if self.weights == "learned":
            # Refitted from 1/K each iteration.
            mean = SourceMean(self._fitted, learn=True, posteriors=self._posteriors)
        x = self.log_ei_step(X, y, seed, mean_module=mean)
        if self.weights == "learned":
            self.record("weights", mean.weights.detach().tolist())
        return x
