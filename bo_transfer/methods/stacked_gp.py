"""Stacked residual GPs: each source models what the sources before it missed."""

from __future__ import annotations

import torch
from torch import Tensor

from bo_transfer.methods.base import Method, register_method, source_arrays, standardize
from bo_transfer.methods.prior_mean import SourceMean


@register_method(
    "stacked-gp",
    summary="Stack of residual GPs over the sources in sequence; the target GP models the rest",
    citation="Tighineanu, Skubch, Baireuther, Reiss, Berkenkamp, Vinogradska. Transfer "
    "Learning with Gaussian Processes for Bayesian Optimization. AISTATS 2022 (SHGP); "
    "Golovin et al. Google Vizier. KDD 2017",
    bib_key="tighineanu2022transfer,golovin2017google",
)
class StackedGP(Method):
    """The sequential hierarchical GP idea (SHGP; Golovin et al. 2017 call it
    stacking): source 1 gets a GP; source ``k`` gets a GP on the residual of its
    standardized values after the stack of sources ``1..k-1``; the target GP,
    on standardized target values, takes the sum of the stack's posterior means
    as its prior mean and models the remaining residual.

    Unlike ``prior-mean``'s average, a later source corrects an earlier one
    instead of being averaged with it; with one source the two coincide. Only
    the posterior means are stacked (each level's hyperparameters are fitted
    once per run, as in Vizier); the sources' posterior uncertainty is not
    propagated to the target."""

    def __init__(self) -> None:
        super().__init__()
        self._mean: SourceMean | None = None

    def start(self, sources, dim: int, seed: int) -> None:
        super().start(sources, dim, seed)
        levels: list = []
        for X_s, y_s in source_arrays(sources):
            # The model space is -y; a residual r = -y_std - stack(x) is fitted as y = -r.
            stack = SourceMean(levels, weights=torch.ones(len(levels), dtype=X_s.dtype))
            with torch.no_grad():
                below = stack(X_s) if levels else torch.zeros_like(y_s)
            levels.append(self.fit_gp(X_s, standardize(y_s) + below, slot=None))
        self._mean = SourceMean(levels, weights=torch.ones(len(levels), dtype=torch.float64))

    def propose(self, X: Tensor, y: Tensor, seed: int) -> Tensor:
        return self.log_ei_step(X, y, seed, mean_module=self._mean)
