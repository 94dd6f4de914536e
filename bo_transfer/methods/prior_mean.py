"""Prior-mean transfer: the sources' posterior mean is the target GP's prior mean."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from gpytorch.means import Mean
from torch import Tensor

from bo_transfer.methods.base import DEFAULT_BETA, BatchedMethod, register_method
from bo_transfer.methods.batch import gp_step_batch, per_seed
from bo_transfer.methods.sources import SourcePosteriors
from bo_transfer.problems.base import DTYPE


class SourceMean(Mean):
    """Weighted sums of fixed source posterior means, in standardized units, one
    per run of a batch of S runs (inputs `... x S x n x d`, outputs `... x S x n`).

    Each source GP is fitted once per run; its posterior mean ``c + k(x, X_s)
    alpha`` is frozen (:class:`~bo_transfer.methods.sources.SourcePosteriors`),
    so the target GP's fit cannot move the source hyperparameters and
    evaluating the mean costs one kernel row per source, all sources in one
    expression.

    Args:
        posteriors: each run's frozen source posteriors (`K` sources each).
        weights: `S x K` weights.
        learn: make the weights a parameter, fitted with the target GPs'
            hyperparameters by marginal likelihood.
    """

    def __init__(
        self, posteriors: list[SourcePosteriors], weights: Tensor, learn: bool = False
    ) -> None:
        super().__init__()
        if learn:
            self.register_parameter("weights", torch.nn.Parameter(weights.clone()))
        else:
            self.register_buffer("weights", weights.clone())
        self.posteriors = posteriors

    def forward(self, x: Tensor) -> Tensor:
        means = per_seed([p.means for p in self.posteriors], x)  # ... x S x n x K
        return (means * self.weights.unsqueeze(-2)).sum(-1)


@register_method(
    "prior-mean",
    summary="Target GP whose prior mean is the average of the source GPs' posterior means "
    "(mean transfer as in Vizier's GP stacking)",
    citation="Golovin, Solnik, Moitra, Kochanski, Karro, Sculley. Google Vizier: A Service for "
    "Black-Box Optimization. KDD 2017 (source GP posterior mean as the target's prior mean)",
    bib_key="golovin2017google",
)
class PriorMean(BatchedMethod):
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

    def __init__(
        self, weights: str = "mean", acquisition: str = "logei", beta: float = DEFAULT_BETA
    ) -> None:
        super().__init__()
        if weights not in ("mean", "learned"):
            raise ValueError(f"weights must be 'mean' or 'learned', got {weights!r}")
        self.weights = weights
        self._acquisition = self.set_acquisition(acquisition, beta)
        #: The fitted source GPs and their frozen posteriors.
        self._fitted: list = []
        self._posteriors = SourcePosteriors([])

    def config(self) -> dict:
        return {"weights": self.weights, **self._acquisition}

    def start(self, sources, dim: int, seed: int) -> None:
        super().start(sources, dim, seed)
        self._fitted = self.fit_sources()
        self._posteriors = SourcePosteriors(self._fitted)

    def prior_mean(self) -> SourceMean:
        """This run's prior mean before any fit (equal weights), as a batch of one:
        inputs `... x 1 x n x d`."""
        K = self._posteriors.n_sources
        return SourceMean([self._posteriors], torch.full((1, K), 1.0 / max(K, 1), dtype=DTYPE))

    @classmethod
    def propose_batch(
        cls, methods: Sequence[PriorMean], X: Tensor, y: Tensor, seeds: Sequence[int]
    ) -> Tensor:
        learn = methods[0].weights == "learned"
        weights = torch.cat([m.prior_mean().weights for m in methods]).to(X)
        mean = SourceMean([m._posteriors.on(X.device) for m in methods], weights, learn)
        x = gp_step_batch(methods, X, y, seeds, mean_module=mean)
        if learn:
            for method, w in zip(methods, mean.weights.detach().cpu()):
                method.record("weights", w.tolist())
        return x
