"""RGPE: a ranking-weighted ensemble of per-source GPs and the target GP."""

from __future__ import annotations

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.analytic import _log_ei_helper
from botorch.models import SingleTaskGP
from botorch.utils.transforms import t_batch_mode_transform
from linear_operator.utils.cholesky import psd_safe_cholesky
from torch import Tensor

from bo_transfer.methods.base import Method, register_method, standardize
from bo_transfer.methods.sources import SourcePosteriors


def ranking_loss(f: Tensor, t: Tensor) -> Tensor:
    """Number of misranked ordered pairs of each sample.

    Args:
        f: `S x n` sampled predictions at the target points.
        t: `n` observed target values (same orientation).

    Returns:
        `S` losses: pairs ``(j, k)`` with ``f_j < f_k`` xor ``t_j < t_k``.
    """
    return ((f.unsqueeze(-1) < f.unsqueeze(-2)) ^ (t.unsqueeze(-1) < t.unsqueeze(-2))).sum((-1, -2))


def posterior_samples(model: SingleTaskGP, X: Tensor, n: int, gen: torch.Generator) -> Tensor:
    """`n x len(X)` joint samples of ``model``'s latent posterior at ``X``."""
    with torch.no_grad():
        post = model.posterior(X)
        mean, cov = post.mean.squeeze(-1), post.distribution.covariance_matrix
    z = torch.randn(n, len(X), generator=gen, dtype=X.dtype)
    return mean + z @ psd_safe_cholesky(cov).mT


def loo_samples(model: SingleTaskGP, n: int, gen: torch.Generator) -> Tensor:
    """`n x N` samples of the target GP's leave-one-out predictions at its own
    `N` training points, in the model's (transformed) output space.

    Closed form with fixed hyperparameters (Rasmussen & Williams 2006, eq. 5.12):
    ``mu_i = t_i - [K^-1 r]_i / [K^-1]_ii``, ``var_i = 1 / [K^-1]_ii``, where
    ``r`` is the residual of the targets from the prior mean.
    """
    with torch.no_grad():
        X, t = model.train_inputs[0], model.train_targets
        K = model.covar_module(X).to_dense() + model.likelihood.noise.squeeze() * torch.eye(
            len(X), dtype=X.dtype
        )
        K_inv = torch.cholesky_inverse(psd_safe_cholesky(K))
        diag = K_inv.diagonal()
        mu = t - (K_inv @ (t - model.mean_module(X))) / diag
    z = torch.randn(n, len(X), generator=gen, dtype=X.dtype)
    return mu + z / diag.sqrt()


class EnsembleLogEI(AcquisitionFunction):
    """LogEI of a weighted GP ensemble: mean ``sum_i w_i mu_i``, variance
    ``sum_i w_i^2 var_i`` (Feurer et al. 2018, eq. 3), all models predicting in
    the same standardized units.

    Args:
        sources: the frozen source posteriors (`K` sources).
        target: the target GP.
        weights: `K + 1` weights, target last.
        best_f: the incumbent, in the models' units.
    """

    def __init__(
        self, sources: SourcePosteriors, target: SingleTaskGP, weights: Tensor, best_f: Tensor
    ) -> None:
        super().__init__(model=target)
        self.sources = sources
        self.register_buffer("weights", weights)
        self.register_buffer("best_f", torch.as_tensor(best_f))

    @t_batch_mode_transform(expected_q=1)
    def forward(self, X: Tensor) -> Tensor:
        w_s, w_t = self.weights[:-1], self.weights[-1]
        mean = torch.zeros(X.shape[:-2], dtype=X.dtype)
        var = torch.zeros(X.shape[:-2], dtype=X.dtype)
        if (w_s > 0).any():
            mu, sd2 = self.sources.means_and_variances(X)  # b x 1 x K
            mean = mean + (mu.squeeze(-2) * w_s).sum(-1)
            var = var + (sd2.squeeze(-2) * w_s**2).sum(-1)
        if w_t > 0:
            post = self.model.posterior(X)
            mean = mean + w_t * post.mean.view(X.shape[:-2])
            var = var + w_t**2 * post.variance.view(X.shape[:-2])
        sigma = var.clamp_min(1e-12).sqrt()
        return _log_ei_helper((mean - self.best_f) / sigma) + sigma.log()


@register_method(
    "rgpe",
    summary="Ranking-weighted GP ensemble of per-source GPs and the target GP, with LogEI",
    citation="Feurer, Letham, Hutter, Bakshy. Practical Transfer Learning for Bayesian "
    "Optimization. arXiv:1802.02219, 2018 (RGPE)",
    bib_key="feurer2018practical",
)
class RGPE(Method):
    """Per-source GPs are fitted once per run, the target GP every iteration (all
    on standardized values). Each model's weight is the fraction of
    ``n_samples`` posterior draws in which it has the lowest ranking loss on the
    target observations (ties broken at random); the target model's draws are
    leave-one-out predictions, so it cannot win by fitting its own data.
    Weight dilution prevention: a source whose median loss exceeds the 95th
    percentile of the target model's losses gets weight 0. Records ``weights``
    (sources first, target last) per iteration."""

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
            + [ranking_loss(loo_samples(target, S, gen), target.train_targets)]
        ).to(X.dtype)  # (K + 1) x S
        diluting = losses[:-1].median(-1).values > torch.quantile(losses[-1], 0.95)
        losses[:-1][diluting] = torch.inf
        jitter = torch.rand(losses.shape, generator=gen, dtype=X.dtype) * 0.5  # random ties
        best = torch.argmin(losses + jitter, dim=0)
        return torch.bincount(best, minlength=len(losses)).to(X.dtype) / S

    def propose(self, X: Tensor, y: Tensor, seed: int) -> Tensor:
        y_std = standardize(y)
        target = self.fit_gp(X, y_std)
        gen = torch.Generator().manual_seed(seed)
        w = self.weights(target, X, -y_std, gen)
        self.record("weights", w.tolist())
        acqf = EnsembleLogEI(self._posteriors, target, w, best_f=(-y_std).max())
        return self.maximize(acqf, seed)
