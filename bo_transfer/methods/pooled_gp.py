"""Pooled GP: one GP on the source and target observations together."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from bo_transfer.methods.base import DEFAULT_BETA, BatchedMethod, register_method, source_arrays
from bo_transfer.methods.batch import gp_batch, maximize_batch
from bo_transfer.methods.gp import make_acquisition


@register_method(
    "pooled-gp",
    summary="One GP on source and target data pooled together (the naive transfer)",
    citation="Bardenet, Brendel, Kegl, Sebag. Collaborative Hyperparameter Tuning. ICML 2013 "
    "(the pooled baseline it improves on)",
    bib_key="bardenet2013collaborative",
)
class PooledGP(BatchedMethod):
    """Source and target observations are treated as draws of one function: their
    raw values are concatenated and a single `SingleTaskGP` is fitted to them.
    No scaling or offset separates the tasks, which is what makes the approach
    naive: it works when the source is the target, and a source on another scale
    or with another sign distorts the surrogate. LogEI's incumbent is the best
    *target* value, so the acquisition asks for improvement on the target."""

    def __init__(self, acquisition: str = "logei", beta: float = DEFAULT_BETA) -> None:
        super().__init__()
        self._acquisition = self.set_acquisition(acquisition, beta)

    def config(self) -> dict:
        return dict(self._acquisition)

    @classmethod
    def propose_batch(
        cls, methods: Sequence[PooledGP], X: Tensor, y: Tensor, seeds: Sequence[int]
    ) -> Tensor:
        pooled = [source_arrays(m.sources) for m in methods]
        X_all = torch.cat(
            [X, torch.stack([torch.cat([Xs for Xs, _ in p]) for p in pooled]).to(X)], 1
        )
        y_all = torch.cat(
            [y, torch.stack([torch.cat([ys for _, ys in p]) for p in pooled]).to(y)], 1
        )
        model = gp_batch(methods, X_all, y_all)
        best_f = (-y).max(-1, keepdim=True).values
        acqf = make_acquisition(methods[0].acquisition_kind, model, best_f, methods[0].ucb_beta)
        return maximize_batch(methods, acqf, seeds)
