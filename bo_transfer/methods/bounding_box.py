"""Bounding-box transfer: search only where the sources' best points are."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from bo_transfer.methods.base import (
    DEFAULT_BETA,
    BatchedMethod,
    register_method,
    source_arrays,
    unit_cube,
)
from bo_transfer.methods.batch import gp_step_batch
from bo_transfer.problems.base import sobol


@register_method(
    "bounding-box",
    summary="Search space shrunk to the bounding box of the sources' best points, then cold-gp",
    citation="Perrone, Shen, Seeger, Archambeau, Jenatton. Learning Search Spaces for "
    "Bayesian Optimization: Another View of Hyperparameter Transfer Learning. NeurIPS 2019",
    bib_key="perrone2019learning",
)
class BoundingBox(BatchedMethod):
    """The search space is the smallest box containing the ``n_best`` best
    observed points of every source (Perrone et al. use each previous task's
    best point, ``n_best = 1``). A side narrower than ``min_width`` (one source,
    or sources agreeing) is widened to ``min_width`` around its centre and
    shifted back inside the cube. The initial design is the run's Sobol design
    mapped into the box, and every proposal is GP-LogEI maximised inside it
    (searched in the box's own coordinates, see
    :func:`~bo_transfer.methods.batch.maximize_batch`). On a tabular target the
    design's points move to their nearest distinct configurations of the
    table, and proposals are the best remaining configurations inside the box
    (any remaining one once the box holds none)."""

    def __init__(
        self,
        n_best: int = 1,
        min_width: float = 0.2,
        acquisition: str = "logei",
        beta: float = DEFAULT_BETA,
    ) -> None:
        super().__init__()
        self._acquisition = self.set_acquisition(acquisition, beta)
        if n_best < 1:
            raise ValueError(f"n_best must be at least 1, got {n_best}")
        if not 0 < min_width <= 1:
            raise ValueError(f"min_width must be in (0, 1], got {min_width}")
        self.n_best, self.min_width = int(n_best), float(min_width)
        self.box = torch.empty(0)

    def config(self) -> dict:
        return {"n_best": self.n_best, "min_width": self.min_width, **self._acquisition}

    def start(self, sources, dim: int, seed: int) -> None:
        super().start(sources, dim, seed)
        best = [X[torch.argsort(y)[: self.n_best]] for X, y in source_arrays(sources)]
        if not best:
            self.box = unit_cube(dim)
            return
        points = torch.cat(best)
        lo, hi = points.min(0).values, points.max(0).values
        pad = (self.min_width - (hi - lo)).clamp_min(0.0) / 2
        lo, hi = lo - pad, hi + pad
        shift = (-lo).clamp_min(0.0) - (hi - 1).clamp_min(0.0)  # move back inside the cube
        self.box = torch.stack([lo + shift, hi + shift]).clamp(0.0, 1.0)

    def initial_design(self, n: int) -> Tensor:
        lo, hi = self.box
        points = lo + (hi - lo) * sobol(n, self.dim, self.seed)
        return points if self.candidates is None else self.candidate_design(n, points)

    @classmethod
    def propose_batch(
        cls, methods: Sequence[BoundingBox], X: Tensor, y: Tensor, seeds: Sequence[int]
    ) -> Tensor:
        boxes = torch.stack([m.box for m in methods])  # S x 2 x d
        return gp_step_batch(methods, X, y, seeds, bounds=boxes)
