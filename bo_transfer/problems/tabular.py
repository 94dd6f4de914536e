"""A target known only at a finite table of evaluated configurations.

Real meta-data sets (HPO-B, a lab's own past experiments) record the
objective at a fixed set of configurations and nowhere else. A run on such a
target is *pool-based*: every proposal is one of the table's configurations
not yet evaluated (the runner hands them to the method, see
:class:`bo_transfer.sweep.pool.CandidatePool`), so the value is the recorded
one, exact. The optimum is the table's best value and normalized regret divides
by the table's range (max - min of its values), as HPO-B does.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import Tensor

from bo_transfer.errors import UserError
from bo_transfer.problems.base import DTYPE, Optimum, Problem


class TabularProblem(Problem):
    """The objective at the `n x dim` configurations ``X`` of a table.

    Configurations that occur more than once (repeated measurements) are merged
    into one whose value is the mean of theirs; HPO-B's files hold none (its
    authors removed duplicates). Off the table, :meth:`evaluate` returns the
    value of the nearest configuration (Euclidean, in the unit cube): runs never
    ask there (they evaluate only table rows), but the pair's diagnostics
    (source vs target correlation, measured at the sources' own points) and
    plots do, and for them the nearest recorded value is the honest answer.

    Args:
        X: `n x dim` configurations in the unit cube.
        y: `n` values (minimised).
        name: shown in plots and messages.
        designs: fixed initial designs given by the data set (HPO-B's five per
            test task), each a sequence of row indices into ``X`` as given
            (before merging duplicates); run seed ``s`` uses design ``s``.
    """

    def __init__(
        self, X: Tensor, y: Tensor, name: str, designs: Sequence[Sequence[int]] = ()
    ) -> None:
        X = torch.as_tensor(X, dtype=DTYPE)
        y = torch.as_tensor(y, dtype=DTYPE).reshape(-1)
        if X.ndim != 2 or len(X) != len(y) or len(y) < 2:
            raise UserError(f"{name}: need an n x d table of configurations with n >= 2 values")
        if not torch.isfinite(X).all() or not torch.isfinite(y).all():
            raise UserError(f"{name}: configurations and values must be finite")
        if X.min() < 0 or X.max() > 1:
            raise UserError(f"{name}: configurations must lie in the unit cube")
        if y.min() == y.max():
            raise UserError(
                f"{name}: every value of the table is {float(y[0])}; nothing to optimise"
            )
        super().__init__(X.shape[-1], name)
        _, first, inverse = np.unique(X.numpy(), axis=0, return_index=True, return_inverse=True)
        order = np.argsort(first)  # merged rows keep the order of first occurrence
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        inverse = rank[inverse.reshape(-1)]  # given row -> merged row
        counts = np.bincount(inverse)
        self.X = X[torch.from_numpy(first[order])]
        self.y = torch.from_numpy(np.bincount(inverse, weights=y.numpy()) / counts)
        self.merged_duplicates = len(inverse) - len(order)
        self._designs = tuple(self._design_rows(d, inverse) for d in designs)

    def _design_rows(self, rows: Sequence[int], inverse: np.ndarray) -> Tensor:
        index = list(rows)
        if not index or min(index) < 0 or max(index) >= len(inverse):
            raise UserError(
                f"{self.name}: an initial design names rows outside 0..{len(inverse) - 1}: {index}"
            )
        # Two rows of one merged configuration count once.
        merged = dict.fromkeys(int(inverse[i]) for i in index)
        return torch.tensor(list(merged), dtype=torch.long)

    @property
    def n_designs(self) -> int:
        """How many fixed initial designs the data set gives."""
        return len(self._designs)

    def initial_design(self, seed: int) -> Tensor | None:
        """The data set's fixed initial design for run seed ``seed`` (`k x dim`,
        table rows), or None when it gives none for that seed."""
        if 0 <= seed < len(self._designs):
            return self.X[self._designs[seed]]
        return None

    @cached_property
    def _tree(self) -> cKDTree:
        return cKDTree(self.X.numpy())

    def rows(self, X: Tensor) -> np.ndarray:
        """Index of the nearest table row of each of the `m x dim` points ``X``."""
        _, index = self._tree.query(X.detach().numpy())
        return np.asarray(index, dtype=np.int64)

    def evaluate(self, X: Tensor) -> Tensor:
        return self.y[torch.from_numpy(self.rows(X))]

    def known_optimum(self) -> Optimum:
        i = int(torch.argmin(self.y))
        return Optimum(
            float(self.y[i]), tuple(self.X[i].tolist()), "exact: best value of the table"
        )

    @property
    def value_range(self) -> float:
        """max - min of the table's values: the scale of normalized regret
        (HPO-B normalises each task by its own range)."""
        return float(self.y.max() - self.y.min())
