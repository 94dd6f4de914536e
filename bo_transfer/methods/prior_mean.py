"""Prior-mean transfer: the sources' posterior mean is the target GP's prior mean."""

from __future__ import annotations

import torch
from gpytorch.means import Mean
from torch import Tensor

from bo_transfer.methods.base import Method, register_method, source_arrays


class SourceMean(Mean):
    """The average of fixed source posterior means, in standardized units.

    Each source GP is fitted once; its posterior mean ``c + k(x, X_s) alpha`` is
    frozen into buffers, so the target GP's fit cannot move the source
    hyperparameters and evaluating the mean costs one kernel row per source.
    """

    def __init__(self, fitted: list) -> None:
        super().__init__()
        self._kernels = []  # plain list: the source kernels must not become submodules
        for k, model in enumerate(fitted):
            # The model's internal space: negated, standardized source values.
            X_s = model.train_inputs[0]
            with torch.no_grad():
                noise = model.likelihood.noise.squeeze()
                K = model.covar_module(X_s).to_dense() + noise * torch.eye(
                    len(X_s), dtype=X_s.dtype
                )
                const = model.mean_module(X_s)
                alpha = torch.cholesky_solve(
                    (model.train_targets - const).unsqueeze(-1), torch.linalg.cholesky(K)
                )
            model.requires_grad_(False)
            self.register_buffer(f"X_{k}", X_s)
            self.register_buffer(f"alpha_{k}", alpha.squeeze(-1))
            self.register_buffer(f"const_{k}", const[0])
            self._kernels.append(model.covar_module)

    def forward(self, x: Tensor) -> Tensor:
        total = 0.0
        for k, kernel in enumerate(self._kernels):
            X_s = getattr(self, f"X_{k}")
            total = (
                total
                + getattr(self, f"const_{k}")
                + kernel(x, X_s).to_dense() @ getattr(self, f"alpha_{k}")
            )
        return total / len(self._kernels)


@register_method(
    "prior-mean",
    summary="Target GP with the sources' posterior mean as prior mean (residual model)",
    citation="Wang et al. Pre-trained Gaussian Processes for Bayesian Optimization. "
    "JMLR 2024; Perrone et al. Scalable Hyperparameter Transfer Learning. NeurIPS 2018",
    bib_key="wang2024pretrained,perrone2018scalable",
)
class PriorMean(Method):
    """A GP is fitted to each source once per run (values negated for BoTorch and
    standardized per source, the space :class:`SourceMean` works in). The
    target GP, on standardized target values, takes the *average* of the source
    posterior means as its fixed prior mean and models the residual: the classic
    warm start that trusts the sources' shape as it is (no learned scale or
    sign), so an anti-correlated source misleads it."""

    def __init__(self) -> None:
        super().__init__()
        self._mean: SourceMean | None = None

    def start(self, sources, dim: int, seed: int) -> None:
        super().start(sources, dim, seed)
        self._mean = SourceMean([self.fit_gp(X, y) for X, y in source_arrays(sources)])

    def propose(self, X: Tensor, y: Tensor, seed: int) -> Tensor:
        return self.log_ei_step(X, y, seed, mean_module=self._mean)
