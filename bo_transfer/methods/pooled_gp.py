"""Pooled GP: one GP on the source and target observations together."""

from __future__ import annotations

import torch
from botorch.acquisition import LogExpectedImprovement
from torch import Tensor

from bo_transfer.methods.base import Method, register_method, source_arrays


@register_method(
    "pooled-gp",
    summary="One GP on source and target data pooled together (the naive transfer)",
    citation="Bardenet, Brendel, Kegl, Sebag. Collaborative Hyperparameter Tuning. ICML 2013 "
    "(the pooled baseline it improves on)",
    bib_key="bardenet2013collaborative",
)
class PooledGP(Method):
    """Source and target observations are treated as draws of one function: their
    raw values are concatenated and a single `SingleTaskGP` is fitted to them.
    No scaling or offset separates the tasks, which is what makes the approach
    naive: it works when the source is the target, and a source on another scale
    or with another sign distorts the surrogate. LogEI's incumbent is the best
    *target* value, so the acquisition asks for improvement on the target."""

    def __init__(self) -> None:
        super().__init__()

    def propose(self, X: Tensor, y: Tensor, seed: int) -> Tensor:
        pairs = source_arrays(self.sources)
        X_all = torch.cat([X, *(Xs for Xs, _ in pairs)])
        y_all = torch.cat([y, *(ys for _, ys in pairs)])
        model = self.fit_gp(X_all, y_all)
        return self.maximize(LogExpectedImprovement(model, best_f=(-y).max()), seed)
