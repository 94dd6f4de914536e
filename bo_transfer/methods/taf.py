"""TAF: the transfer acquisition function of Wistuba et al. (ranking weights, TAF-R)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from botorch.acquisition import AcquisitionFunction, ExpectedImprovement
from botorch.models import SingleTaskGP
from botorch.utils.transforms import t_batch_mode_transform
from torch import Tensor

from bo_transfer.methods.base import BatchedMethod, register_method, standardize
from bo_transfer.methods.batch import gp_batch, maximize_batch, per_seed
from bo_transfer.methods.sources import SourcePosteriors


def discordant_fraction(a: Tensor, b: Tensor) -> float:
    """Fraction of the ``n (n - 1) / 2`` pairs ``j < k`` that `n` tensors ``a``
    and ``b`` order differently, ``(a_j < a_k) xor (b_j < b_k)`` (0: same
    ranking, 1: reversed), as the reference implementation counts them."""
    n = len(a)
    if n < 2:
        return 0.0
    upper = torch.ones(n, n, dtype=torch.bool).triu(1)
    discordant = (a.unsqueeze(-1) < a) ^ (b.unsqueeze(-1) < b)
    return int(discordant[upper].sum()) / (n * (n - 1) / 2)


#: The Epanechnikov kernel's value at distance 0: the target EI's weight.
TARGET_WEIGHT = 0.75


class TransferAcquisition(AcquisitionFunction):
    """``(w_t EI_t(x) + sum_i w_i max(mu_i(x) - mu_i^*, 0)) / (w_t + sum_i w_i)``,
    where ``mu_i^*`` is source model ``i``'s best prediction at the target's
    observed points: the improvement the source predicts over what the target
    has already found (Wistuba et al. 2018, eq. 9). One per run of a batch of
    S runs (inputs `b x S x 1 x d`, values `b x S`).

    Args:
        target_ei: EI of the target GPs (batch shape ``S``).
        sources: each run's frozen source posteriors (`K` sources each).
        weights: `S x K` source weights.
        incumbents: `S x K` best source predictions at each run's target points.
        target_weight: the target EI's weight.
    """

    def __init__(
        self,
        target_ei: ExpectedImprovement,
        sources: list[SourcePosteriors],
        weights: Tensor,
        incumbents: Tensor,
        target_weight: float,
    ) -> None:
        super().__init__(model=target_ei.model)
        self.target_ei = target_ei
        self.sources = sources
        self.register_buffer("weights", weights)
        self.register_buffer("incumbents", incumbents)
        self.target_weight = target_weight

    @t_batch_mode_transform(expected_q=1)
    def forward(self, X: Tensor) -> Tensor:
        total = self.target_weight * self.target_ei(X)
        if self.weights.shape[-1] and (self.weights > 0).any():
            # A run whose sources all weigh 0 adds exact zeros.
            mu = per_seed([s.means for s in self.sources], X).squeeze(-2)  # b x S x K
            total = total + ((mu - self.incumbents).clamp_min(0.0) * self.weights).sum(-1)
        return total / (self.target_weight + self.weights.sum(-1))


@register_method(
    "taf",
    summary="Transfer acquisition function: weighted target EI plus source-predicted improvements",
    citation="Wistuba, Schilling, Schmidt-Thieme. Scalable Gaussian Process-based Transfer "
    "Surrogates for Hyperparameter Optimization. Machine Learning 107, 2018 (TAF-R)",
    bib_key="wistuba2018scalable",
)
class TAF(BatchedMethod):
    """Per-source GPs are fitted once per run on standardized values; the target
    GP every iteration. Source ``i``'s weight is the Epanechnikov kernel
    ``0.75 (1 - (tau_i / bandwidth)^2)`` (0 from ``tau_i = bandwidth`` on) of
    ``tau_i``, the fraction of target point pairs its posterior mean orders
    differently from the observed target values (TAF-R, the TST-R weights); the
    target's EI has the kernel's value at distance 0, ``0.75``; with fewer than
    two target points every source has ``0.75``. The acquisition is
    ``(0.75 EI(x) + sum_i w_i max(mu_i(x) - mu_i^*, 0)) / (0.75 + sum_i w_i)``.
    Records ``weights`` (the kernel values, sources only) per iteration.

    The default bandwidth, 0.1, is the reference implementation's (Feurer et
    al.'s transfer-hpo-framework, which sweeps 0.01 to 1): a source that orders
    one target pair in ten or more the wrong way gets weight 0. One departure: EI's
    incumbent is the best observed target value (standardized), as in
    ``cold-gp``; the reference implementation, built on SMAC, takes the target
    GP's lowest predicted mean at the observed points, which differs only by
    the fitted noise."""

    def __init__(self, bandwidth: float = 0.1) -> None:
        super().__init__()
        if not 0 < bandwidth <= 1:
            raise ValueError(f"bandwidth must be in (0, 1], got {bandwidth}")
        self.bandwidth = float(bandwidth)
        self._sources: list[SingleTaskGP] = []
        self._posteriors: SourcePosteriors | None = None

    def config(self) -> dict:
        return {"bandwidth": self.bandwidth}

    def start(self, sources, dim: int, seed: int) -> None:
        super().start(sources, dim, seed)
        self._sources = self.fit_sources()
        self._posteriors = SourcePosteriors(self._sources)

    def source_weights(self, X: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """`K` source weights and `K` incumbents (each source's best prediction)
        for target data ``X`` (`n x d`) and standardized values ``t`` (`n`,
        larger is better)."""
        with torch.no_grad():
            means = self._posteriors.means(X).mT  # K x n
        taus = torch.tensor([discordant_fraction(mu, t) for mu in means], dtype=X.dtype)
        weights = TARGET_WEIGHT * (1 - (taus / self.bandwidth) ** 2).clamp_min(0.0)
        return weights, (means.amax(-1) if len(means) else weights)

    @classmethod
    def acquisition_batch(cls, methods: Sequence[TAF], X: Tensor, y: Tensor) -> TransferAcquisition:
        """The transfer acquisitions of S runs (target data ``X``, `S x n x d`,
        ``y``, `S x n`), with the target GPs fitted and the sources weighed."""
        y_std = torch.stack([standardize(y_s) for y_s in y])
        target = gp_batch(methods, X, y_std)
        weighed = [m.source_weights(X_s.cpu(), -t.cpu()) for m, X_s, t in zip(methods, X, y_std)]
        return TransferAcquisition(
            ExpectedImprovement(target, best_f=(-y_std).max(-1, keepdim=True).values),
            [m._posteriors.on(X.device) for m in methods],
            torch.stack([w for w, _ in weighed]).to(X),
            torch.stack([i for _, i in weighed]).to(X),
            target_weight=TARGET_WEIGHT,
        )

    def acquisition(self, X: Tensor, y: Tensor) -> TransferAcquisition:
        """This run's transfer acquisition for ``X`` (`n x d`), ``y`` (`n`): a batch of one."""
        return self.acquisition_batch([self], X.unsqueeze(0), y.unsqueeze(0))

    @classmethod
    def propose_batch(
        cls, methods: Sequence[TAF], X: Tensor, y: Tensor, seeds: Sequence[int]
    ) -> Tensor:
        acqf = cls.acquisition_batch(methods, X, y)
        for method, w in zip(methods, acqf.weights.cpu()):
            method.record("weights", w.tolist())
        return maximize_batch(methods, acqf, seeds)
