"""Initial-design transfer: start the target from the sources' best points."""

from __future__ import annotations

import torch
from torch import Tensor

from bo_transfer.methods.base import DEFAULT_BETA, register_method, source_arrays
from bo_transfer.methods.baselines import ColdGP
from bo_transfer.problems.base import sobol


@register_method(
    "init-transfer",
    summary="Initial design = the best source points, then cold-gp",
    citation="Feurer, Springenberg, Hutter. Initializing Bayesian Hyperparameter "
    "Optimization via Meta-Learning. AAAI 2015",
    bib_key="feurer2015initializing",
)
class InitTransfer(ColdGP):
    """The initial design takes the best observed points of the sources, in turn
    from each source (best of source 1, best of source 2, ..., second best of
    source 1, ...), skipping duplicates; if the sources run out, the run's Sobol
    design fills the rest. After that it proceeds as ``cold-gp``. On a tabular
    target each chosen point is replaced by its nearest configuration of the
    table not chosen yet, and the run's default design (the data set's, then
    random configurations) fills the rest.

    Feurer et al. rank the previous data sets by the distance of their
    meta-features to the target's and take the best configuration of each of
    the nearest; a pair carries no meta-features, so every source counts, in
    the pair's order, and a source contributes further points once each has
    given its best."""

    def __init__(self, acquisition: str = "logei", beta: float = DEFAULT_BETA) -> None:
        super().__init__(acquisition, beta)

    def initial_design(self, n: int) -> Tensor:
        ranked = [X[torch.argsort(y)] for X, y in source_arrays(self.sources)]
        chosen: list[Tensor] = []
        for rank in range(max((len(r) for r in ranked), default=0)):
            for points in ranked:
                if len(chosen) < n and rank < len(points):
                    x = points[rank]
                    if not any(torch.allclose(x, c) for c in chosen):
                        chosen.append(x)
        if self.candidates is not None:
            return self.candidate_design(n, torch.stack(chosen) if chosen else None)
        fill = sobol(n, self.dim, self.seed)[: n - len(chosen)]
        return torch.cat([torch.stack(chosen), fill]) if chosen else fill
