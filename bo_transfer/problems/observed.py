"""A source known only through observed data: what past campaigns leave behind."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from bo_transfer.errors import UserError
from bo_transfer.problems.base import DTYPE, Optimum


class ObservedSource:
    """A fixed table of source observations on the unit cube.

    It cannot be evaluated elsewhere, so a pair's diagnostics for it are
    measured on its own points, and its "optimum" is its best observed point.

    Args:
        X: `n x dim` inputs in the unit cube.
        y: `n` objective values (minimised).
        name: shown in plots and messages.
        subsample: a run sees at most ``n_source`` of the points, a random
            subset drawn afresh for each run seed (large meta-data sets, e.g.
            HPO-B's thousands of evaluations per data set); otherwise every
            run sees the whole table.
    """

    def __init__(
        self, X: Tensor, y: Tensor, name: str = "observed", subsample: bool = False
    ) -> None:
        X = torch.as_tensor(X, dtype=DTYPE)
        y = torch.as_tensor(y, dtype=DTYPE).reshape(-1)
        if X.ndim != 2 or len(X) != len(y) or len(y) < 2:
            raise UserError(f"{name}: need an n x d input table and n >= 2 values")
        if not torch.isfinite(X).all() or not torch.isfinite(y).all():
            raise UserError(f"{name}: inputs and values must be finite")
        if X.min() < 0 or X.max() > 1:
            raise UserError(f"{name}: inputs must lie in the bounds given")
        self.X, self.y, self.name, self.dim = X, y, name, X.shape[-1]
        self.subsample = subsample

    def observations(self, n: int, seed: int) -> tuple[Tensor, Tensor]:
        """The `m x dim` inputs and `m` values a run sees: the whole table, or
        with ``subsample`` and more than ``n`` points, ``n`` of them drawn
        without replacement by ``seed`` (kept in table order)."""
        if not self.subsample or len(self.y) <= n:
            return self.X, self.y
        gen = torch.Generator().manual_seed(seed)
        keep = torch.randperm(len(self.y), generator=gen)[:n].sort().values
        return self.X[keep], self.y[keep]

    def negated(self) -> ObservedSource:
        """The same table with its values negated (the adversarial twin)."""
        return ObservedSource(self.X, -self.y, f"-{self.name}", self.subsample)

    @property
    def optimum(self) -> Optimum:
        i = int(torch.argmin(self.y))
        return Optimum(float(self.y[i]), tuple(self.X[i].tolist()), "best observed")

    @classmethod
    def from_csv(
        cls,
        path: str | Path,
        inputs: Sequence[str],
        objective: str,
        bounds: Sequence[tuple[float, float]],
        maximize: bool = False,
    ) -> ObservedSource:
        """Read past experiments from a CSV with a header row.

        Args:
            path: the CSV file.
            inputs: the input column names, in the target's input order.
            objective: the objective column name.
            bounds: ``(low, high)`` per input, the same native bounds as the
                target's, used to map inputs to the unit cube.
            maximize: the column is to be maximised (it is negated).
        """
        path = Path(path)
        if len(bounds) != len(inputs):
            raise UserError(f"{path}: {len(inputs)} inputs but {len(bounds)} bounds")
        for c, (lo, hi) in zip(inputs, bounds):
            if not lo < hi:
                raise UserError(f"{path}: bounds of {c!r} need lower < upper, got ({lo}, {hi})")
        try:
            with path.open(newline="") as fh:
                rows = list(csv.DictReader(fh))
        except OSError as exc:
            raise UserError(f"cannot read {str(path)!r}: {exc.strerror}") from None
        header = list(rows[0]) if rows else []
        for col in [*inputs, objective]:
            if col not in header:
                raise UserError(f"{path}: no column {col!r}; columns: {', '.join(header)}")
        X, y = [], []
        for line, row in enumerate(rows, start=2):
            try:
                x = [float(row[c]) for c in inputs]
                v = float(row[objective])
            except ValueError:
                raise UserError(f"{path}:{line}: non-numeric value in {row}") from None
            if not all(math.isfinite(a) for a in [*x, v]):
                raise UserError(f"{path}:{line}: non-finite value in {row}")
            for c, a, (lo, hi) in zip(inputs, x, bounds):
                if not lo <= a <= hi:
                    raise UserError(f"{path}:{line}: {c}={a} is outside [{lo}, {hi}]")
            X.append([(a - lo) / (hi - lo) for a, (lo, hi) in zip(x, bounds)])
            y.append(-v if maximize else v)
        return cls(torch.tensor(X, dtype=DTYPE), torch.tensor(y, dtype=DTYPE), path.stem)
