"""RGPE: a ranking-weighted ensemble of per-source GPs and the target GP.

Feurer, Letham and Bakshy (ICML 2018 AutoML workshop; arXiv:1802.02219v1).
Every model is scored by a ranking loss on the target observations: the number
of ordered pairs ``(j, k)`` that one sample of the model orders differently
from the observed values. A source model is sampled jointly at all target
points. The target model is scored by leave-one-out: for each held-out point
``j`` the model ``f^{-j}``, conditioned on every target point but ``j`` (same
hyperparameters), is sampled jointly at all target points, and the loss counts
the pairs ``(j, k)`` that ``f^{-j}(x_j)`` and ``f^{-j}(x_k)`` order differently
from ``y_j`` and ``y_k``. A model's weight is the fraction of samples in which
its loss is the lowest.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.analytic import _log_ei_helper
from botorch.models import SingleTaskGP
from botorch.utils.transforms import t_batch_mode_transform
from linear_operator.utils.cholesky import psd_safe_cholesky
from torch import Tensor

from bo_transfer.methods.base import BatchedMethod, register_method, standardize
from bo_transfer.methods.batch import gp_batch, maximize_batch
from bo_transfer.methods.gp import load_parameters, parameters_of
from bo_transfer.methods.sources import SourcePosteriors

#: Weight dilution prevention (arXiv:1802.02219v1): a source whose median loss
#: exceeds this quantile of the target model's loss samples gets weight 0.
DILUTION_QUANTILE = 0.95


def ranking_loss(f: Tensor, t: Tensor) -> Tensor:
    """Number of misranked ordered pairs of each joint sample of a source model.

    Args:
        f: `S x n` sampled predictions at the target points.
        t: `n` observed target values (same orientation).

    Returns:
        `S` losses: ordered pairs ``(j, k)`` with ``f_j < f_k`` xor ``t_j < t_k``.
    """
    return ((f.unsqueeze(-1) < f.unsqueeze(-2)) ^ (t.unsqueeze(-1) < t.unsqueeze(-2))).sum((-1, -2))


def posterior_samples(model: SingleTaskGP, X: Tensor, n: int, gen: torch.Generator) -> Tensor:
    """`n x len(X)` joint samples of ``model``'s latent posterior at ``X``."""
    with torch.no_grad():
        post = model.posterior(X)
        mean, cov = post.mean.squeeze(-1), post.distribution.covariance_matrix
    z = torch.randn(n, len(X), generator=gen, dtype=X.dtype)
    return mean + z @ psd_safe_cholesky(cov).mT


def loo_posteriors(model: SingleTaskGP) -> tuple[Tensor, Tensor]:
    """The leave-one-out models' latent posteriors at all `n` training points,
    in the model's (transformed) output space, with the model's hyperparameters.

    Row ``j`` is the model conditioned on every training point but ``j``.

    Returns:
        `n x n` means (row ``j``: ``f^{-j}`` at ``X``) and `n x n x n`
        covariances.
    """
    with torch.no_grad():
        X, t = model.train_inputs[0], model.train_targets
        n = len(X)
        K = model.covar_module(X).to_dense()
        m = model.mean_module(X)
        # keep[j]: the n - 1 indices model j is conditioned on.
        keep = torch.arange(n).expand(n, n)[~torch.eye(n, dtype=torch.bool)].view(n, n - 1)
        noise = model.likelihood.noise.squeeze() * torch.eye(n - 1, dtype=X.dtype)
        L = psd_safe_cholesky(K[keep.unsqueeze(-1), keep.unsqueeze(-2)] + noise)
        V = torch.linalg.solve_triangular(L, K[keep], upper=False)  # n x (n-1) x n
        r = torch.linalg.solve_triangular(L, (t - m)[keep].unsqueeze(-1), upper=False)
        mean = m + (V.mT @ r).squeeze(-1)
        cov = K - V.mT @ V
    return mean, cov


def loo_ranking_loss(model: SingleTaskGP, n: int, gen: torch.Generator) -> Tensor:
    """`n` samples of the target model's leave-one-out ranking loss.

    Sample ``s`` draws each ``f^{-j}`` jointly at all training points (one
    standard normal vector per ``j``) and counts the pairs ``(j, k)`` with
    ``f^{-j}(x_j) < f^{-j}(x_k)`` xor ``t_j < t_k``.
    """
    t = model.train_targets
    N = len(t)
    if N < 2:
        return torch.zeros(n, dtype=t.dtype)
    mean, cov = loo_posteriors(model)
    z = torch.randn(n, N, N, generator=gen, dtype=t.dtype)
    f = mean + (psd_safe_cholesky(cov) @ z.unsqueeze(-1)).squeeze(-1)  # S x j x k
    held_out = f.diagonal(dim1=-2, dim2=-1).unsqueeze(-1)  # f^{-j}(x_j): S x j x 1
    return ((held_out < f) ^ (t.unsqueeze(-1) < t)).sum((-1, -2))


def rank_weights(losses: Tensor) -> Tensor:
    """Ensemble weights from loss samples, target model last.

    A source whose median loss exceeds the target's ``DILUTION_QUANTILE``
    quantile is dropped. In each sample the model with the lowest loss gets
    the sample; a tie that includes the target goes to the target, the rule of
    arXiv:1802.02219v1 as its first author's reference code
    (transfer-hpo-framework) records it; a tie among sources only, on which
    that version is silent, is shared equally, as the reference code later
    shares every tie (order-free: the sources' order means nothing). BoTorch's
    RGPE tutorial takes ``torch.argmin``, which hands any tie to the first
    source.

    Args:
        losses: `(K + 1) x S` loss samples, sources first, target last.

    Returns:
        `K + 1` weights summing to 1.
    """
    losses = losses.to(torch.float64).clone()
    # Quantiles interpolate linearly (the median of an even count is the mean
    # of the middle two), as numpy's percentile does.
    median = torch.quantile(losses[:-1], 0.5, dim=-1)
    losses[:-1][median > torch.quantile(losses[-1], DILUTION_QUANTILE)] = torch.inf
    best = losses == losses.min(0).values
    share = best / best.sum(0)
    target_wins = best[-1]
    share[:, target_wins] = 0.0
    share[-1, target_wins] = 1.0
    return share.mean(-1)


class EnsembleLogEI(AcquisitionFunction):
    """LogEI of a weighted GP ensemble: mean ``sum_i w_i mu_i``, variance
    ``sum_i w_i^2 var_i`` (Feurer et al. 2018, eq. 3), all models predicting in
    the same standardized units; one ensemble per run of a batch of S runs
    (inputs `b x S x 1 x d`, values `b x S`).

    Args:
        sources: each run's frozen source posteriors (`K` sources each).
        target: the target GPs (batch shape ``S``).
        weights: `S x (K + 1)` weights, target last.
        best_f: `S` incumbents, in the models' units.
    """

    def __init__(
        self,
        sources: list[SourcePosteriors],
        target: SingleTaskGP,
        weights: Tensor,
        best_f: Tensor,
    ) -> None:
        super().__init__(model=target)
        self.sources = sources
        self.register_buffer("weights", weights)
        self.register_buffer("best_f", torch.as_tensor(best_f))

    @t_batch_mode_transform(expected_q=1)
    def forward(self, X: Tensor) -> Tensor:
        w_s, w_t = self.weights[:, :-1], self.weights[:, -1]
        post = self.model.posterior(X)
        mean = w_t * post.mean.view(X.shape[:-2])
        var = w_t**2 * post.variance.view(X.shape[:-2])
        if w_s.shape[-1] and (w_s > 0).any():
            # A run whose sources all weigh 0 adds exact zeros, so each run's
            # value is what it is alone.
            both = [s.means_and_variances(X[..., k, :, :]) for k, s in enumerate(self.sources)]
            mu = torch.stack([m for m, _ in both], dim=X.ndim - 3).squeeze(-2)  # b x S x K
            sd2 = torch.stack([v for _, v in both], dim=X.ndim - 3).squeeze(-2)
            mean = mean + (mu * w_s).sum(-1)
            var = var + (sd2 * w_s**2).sum(-1)
        sigma = var.clamp_min(1e-12).sqrt()
        return _log_ei_helper((mean - self.best_f) / sigma) + sigma.log()


@register_method(
    "rgpe",
    summary="Ranking-weighted GP ensemble of per-source GPs and the target GP, with LogEI",
    citation="Feurer, Letham, Bakshy. Scalable Meta-Learning for Bayesian Optimization using "
    "Ranking-Weighted Gaussian Process Ensembles. ICML 2018 AutoML Workshop "
    "(arXiv:1802.02219v1)",
    bib_key="feurer2018scalable",
)
class RGPE(BatchedMethod):
    """Per-source GPs are fitted once per run, the target GP every iteration (all
    on standardized values). Each model's weight is the fraction of
    ``n_samples`` posterior draws in which it has the lowest ranking loss on the
    target observations (:func:`rank_weights`: ties with the target go to the
    target, ties among sources are shared). A source's draws are joint samples
    of its posterior at the target points (:func:`ranking_loss`); the target
    model's are leave-one-out (:func:`loo_ranking_loss`): for held-out point
    ``j``, one joint sample of ``f^{-j}`` at every target point, compared at
    ``x_j`` with its own values at the others, so the target model cannot win
    by fitting its own data. The leave-one-out models keep the target GP's
    hyperparameters, as in the paper. Weight dilution prevention: a source
    whose median loss exceeds the 95th percentile of the target model's losses
    gets weight 0. The ensemble's mean and variance are ``sum_i w_i mu_i`` and
    ``sum_i w_i^2 var_i``; the acquisition is their LogEI (the paper uses EI).
    Records ``weights`` (sources first, target last) per iteration.

    Random draws, in this order, from one generator seeded by the iteration
    seed: `n_samples x n` standard normals per source, then `n_samples x n x n`
    for the leave-one-out models."""

    def __init__(self, n_samples: int = 256) -> None:
        super().__init__()
        if n_samples < 1:
            raise ValueError(f"n_samples must be at least 1, got {n_samples}")
        self.n_samples = int(n_samples)
        self._sources: list[SingleTaskGP] = []
        self._posteriors: SourcePosteriors | None = None

    def config(self) -> dict:
        return {"n_samples": self.n_samples}

    def start(self, sources, dim: int, seed: int) -> None:
        super().start(sources, dim, seed)
        self._sources = self.fit_sources()
        self._posteriors = SourcePosteriors(self._sources)

    def weights(self, target: SingleTaskGP, X: Tensor, t: Tensor, gen: torch.Generator) -> Tensor:
        """`K + 1` ensemble weights for target data ``X`` (`n x d`), ``t`` (`n`,
        larger is better), target model last."""
        S = self.n_samples
        losses = torch.stack(
            [ranking_loss(posterior_samples(m, X, S, gen), t) for m in self._sources]
            + [loo_ranking_loss(target, S, gen)]
        )  # (K + 1) x S
        return rank_weights(losses).to(X.dtype)

    @classmethod
    def propose_batch(
        cls, methods: Sequence[RGPE], X: Tensor, y: Tensor, seeds: Sequence[int]
    ) -> Tensor:
        y_std = torch.stack([standardize(y_s) for y_s in y])
        target = gp_batch(methods, X, y_std)
        fitted = parameters_of(target)
        weights = []
        for s, method in enumerate(methods):
            # Run s's target GP alone: its data and its element of the batch.
            X_s, t_s = X[s].cpu(), -y_std[s].cpu()
            alone = SingleTaskGP(X_s, t_s.unsqueeze(-1))
            load_parameters(alone, {name: value[s].cpu() for name, value in fitted.items()})
            alone.eval()
            w = method.weights(alone, X_s, t_s, torch.Generator().manual_seed(seeds[s]))
            method.record("weights", w.tolist())
            weights.append(w)
        acqf = EnsembleLogEI(
            [m._posteriors.on(X.device) for m in methods],
            target,
            torch.stack(weights).to(X),
            best_f=(-y_std).max(-1).values,
        )
        return maximize_batch(methods, acqf, seeds)
