"""Choosing among a finite set of candidates: the pool-based side of methods.

On a tabular target (:class:`bo_transfer.problems.tabular.TabularProblem`)
a method may propose only configurations of the table not yet evaluated; the
runner hands them to the method as ``Method.candidates`` (`m x dim`). These
helpers are what :class:`~bo_transfer.methods.base.Method` uses for them:
acquisition maximisation by enumeration (BoTorch's
``optimize_acqf_discrete``), random draws without replacement, and moving
points of a method's own design (the best source points, a box's Sobol points)
to their nearest distinct candidates.
"""

from __future__ import annotations

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.exceptions.errors import CandidateGenerationError
from botorch.optim import optimize_acqf_discrete
from torch import Tensor

#: Candidates evaluated by the acquisition function at once.
BATCH = 2048


def inside(candidates: Tensor, bounds: Tensor) -> Tensor:
    """The `m` mask of the `m x dim` candidates inside the `2 x dim` box ``bounds``."""
    return ((candidates >= bounds[0]) & (candidates <= bounds[1])).all(-1)


def maximize_discrete(
    acqf: AcquisitionFunction, candidates: Tensor, bounds: Tensor | None = None
) -> Tensor:
    """The candidate (`1 x dim`) with the largest acquisition value.

    With ``bounds``, only candidates inside the box compete; when none is
    inside, all do (a box is a preference, the table is the search space).

    Raises:
        CandidateGenerationError: the best acquisition value is not finite (a
            numerical failure: the runner then draws a random candidate).
    """
    if len(candidates) == 0:
        raise ValueError("no candidate left to propose")
    if bounds is not None:
        mask = inside(candidates, bounds)
        if mask.any():
            candidates = candidates[mask]
    x, value = optimize_acqf_discrete(acqf, q=1, choices=candidates, max_batch_size=BATCH)
    if not torch.isfinite(value).all():
        raise CandidateGenerationError(f"non-finite acquisition value {value.tolist()}")
    return x.detach()


def draw(candidates: Tensor, n: int, seed: int) -> Tensor:
    """``n`` distinct candidates drawn uniformly at random (`n x dim`)."""
    if n > len(candidates):
        raise ValueError(f"asked for {n} candidates, only {len(candidates)} left")
    gen = torch.Generator().manual_seed(seed)
    return candidates[torch.randperm(len(candidates), generator=gen)[:n]]


def design(
    candidates: Tensor,
    n: int,
    seed: int,
    first: Tensor | None = None,
    given: Tensor | None = None,
) -> Tensor:
    """``n`` distinct candidates for an initial design (`n x dim`), in order:
    each row of ``first`` moved to its nearest candidate not yet chosen, then
    the rows of ``given`` that are candidates (the data set's own design), then
    candidates drawn at random by ``seed``.

    Args:
        candidates: `m x dim` candidates, ``m >= n``.
        n: the design's size.
        seed: seeds the random fill.
        first: `k x dim` points a method wants (need not be candidates).
        given: `j x dim` rows of the table (HPO-B's fixed initial designs).
    """
    if n > len(candidates):
        raise ValueError(
            f"an initial design of {n} needs {n} candidates, the table has {len(candidates)}"
        )
    taken = torch.zeros(len(candidates), dtype=torch.bool)
    chosen: list[int] = []
    for points, exact in ((first, False), (given, True)):
        for x in points if points is not None else ():
            if len(chosen) == n:
                break
            dist = torch.linalg.vector_norm(candidates - x, dim=-1)
            if exact and not bool((dist == 0).any()):
                continue
            i = int(torch.argmin(dist.masked_fill(taken, torch.inf)))
            if exact and dist[i] > 0:
                continue  # that row was already chosen
            taken[i] = True
            chosen.append(i)
    rest = torch.nonzero(~taken).squeeze(-1)
    gen = torch.Generator().manual_seed(seed)
    fill = rest[torch.randperm(len(rest), generator=gen)[: n - len(chosen)]]
    return candidates[torch.cat([torch.tensor(chosen, dtype=torch.long), fill])]
