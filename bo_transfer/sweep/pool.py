"""The runner's side of a tabular target: which configurations a run has left.

A run on a :class:`~bo_transfer.problems.tabular.TabularProblem` evaluates
only rows of its table, each at most once. :class:`CandidatePool` keeps the
rows not yet evaluated, hands them to the method (``Method.candidates``, with
the data set's initial design for the run's seed as ``Method.given_design``)
and admits every point the runner is about to evaluate:

- a remaining row is taken as is;
- a row already evaluated is replaced by a remaining row drawn at random
  (``repaired_proposals``, as the runner repairs a repeated point elsewhere);
- a point off the table (a method that ignores ``candidates``) moves to its
  nearest remaining row (``off_table_proposals``);
- once every row is evaluated, the rest of the budget records the table's best
  row again (``table_padding``): the optimum has been found by then, and
  HPO-B's own handler pads its curves with the optimum the same way.

Counters live in the run's metadata.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from bo_transfer.methods.base import Method
from bo_transfer.problems.base import Problem
from bo_transfer.problems.tabular import TabularProblem

#: Metadata counters a tabular run adds to the runner's own.
COUNTERS = ("off_table_proposals", "table_padding")


class CandidatePool:
    """The rows of ``target``'s table one run has not evaluated yet.

    Args:
        target: the tabular target.
        seed: the run's seed (selects the data set's initial design, if any).
    """

    def __init__(self, target: TabularProblem, seed: int) -> None:
        self.target = target
        self.free = torch.ones(len(target.X), dtype=torch.bool)
        self.design = target.initial_design(seed)

    @classmethod
    def for_target(cls, target: Problem, seed: int) -> CandidatePool | None:
        """A pool for a tabular target; None for a continuous one."""
        return cls(target, seed) if isinstance(target, TabularProblem) else None

    @property
    def exhausted(self) -> bool:
        return not bool(self.free.any())

    def remaining(self) -> Tensor:
        """The `m x dim` rows not evaluated yet, in table order."""
        return self.target.X[self.free]

    def share(self, method: Method) -> None:
        """Tell ``method`` what is left (and the data set's design for the run)."""
        method.candidates = self.remaining()
        method.given_design = self.design

    def best(self) -> Tensor:
        """The table's best row (`1 x dim`)."""
        return torch.tensor([self.target.optimum.x], dtype=self.target.X.dtype)

    def draw(self, seed: int) -> Tensor:
        """A remaining row (`1 x dim`) drawn uniformly at random by ``seed``."""
        free = torch.nonzero(self.free).squeeze(-1)
        gen = torch.Generator().manual_seed(seed)
        return self.target.X[free[torch.randint(len(free), (1,), generator=gen)]]

    def admit(self, x: Tensor, seed: int, metadata: dict) -> Tensor:
        """The row (`1 x dim`) to evaluate for the point ``x`` (`1 x dim`),
        marked as evaluated; counts any replacement in ``metadata``."""
        if self.exhausted:
            metadata["table_padding"] += 1
            return self.best()
        i = int(self.target.rows(x)[0])
        if not torch.equal(self.target.X[i], x[0]):
            metadata["off_table_proposals"] += 1
            i = self._nearest_free(x)
        elif not self.free[i]:
            metadata["repaired_proposals"] += 1
            x = self.draw(seed)
            i = int(self.target.rows(x)[0])
        self.free[i] = False
        return self.target.X[i : i + 1]

    def _nearest_free(self, x: Tensor) -> int:
        free = torch.nonzero(self.free).squeeze(-1)
        dist = torch.linalg.vector_norm(self.target.X[free] - x, dim=-1)
        return int(free[int(np.argmin(dist.numpy()))])
