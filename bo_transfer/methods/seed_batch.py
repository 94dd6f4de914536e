"""One GP-BO step for S seeds of a method at once, as one batched model.

A ``SingleTaskGP`` whose training data has a batch shape ``S`` holds S
independent GPs; BoTorch (>= 0.17) fits it with one L-BFGS-B state per batch
element, evaluated together, and the acquisition restarts below are likewise
independent problems solved by one batched L-BFGS-B. So each seed's step is
the same computation as :meth:`Method.gp_step` (same warm start, same raw
samples, same restart heuristic), while the Python and GPyTorch overhead of
each model evaluation is paid once for all S seeds.

A method opts in with ``supports_seed_batching = True``; it must propose
exactly ``self.gp_step(X, y, seed, acquisition=self.acquisition)`` (no prior
mean, no bounds) with ``acquisition`` a key of :data:`ACQUISITIONS`. On a
tabular target the step scores each seed's remaining candidates instead.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
from botorch.exceptions.errors import CandidateGenerationError
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.optim.batched_lbfgs_b import fmin_l_bfgs_b_batched, translate_bounds_for_lbfgsb
from botorch.optim.initializers import (
    initialize_q_batch,
    initialize_q_batch_nonneg,
    is_nonnegative,
)
from botorch.utils.sampling import draw_sobol_samples
from gpytorch.mlls import ExactMarginalLogLikelihood
from torch import Tensor

from bo_transfer.methods.base import (
    ACQUISITIONS,
    NUM_RESTARTS,
    RAW_SAMPLES,
    Method,
    _parameters,
    unit_cube,
)
from bo_transfer.methods.discrete import BATCH

#: The warm-start slot ``gp_step`` uses, so a seed can switch between batched
#: and sequential steps and keep its hyperparameters.
SLOT = "target"

#: L-BFGS-B iteration cap, the one ``gen_candidates_scipy`` uses.
MAXITER = 2000


def propose_batch(methods: Sequence[Method], X: Tensor, y: Tensor, seeds: Sequence[int]) -> Tensor:
    """Next point of each of S runs, a `S x d` tensor.

    Args:
        methods: S instances of one method (one per run), all with
            ``supports_seed_batching``; their warm-start hyperparameters,
            timings are read and updated as ``gp_step`` would.
        X: `S x n x d` target inputs of each run.
        y: `S x n` target values (minimised; non-finite values already imputed).
        seeds: each run's seed for this iteration.

    Raises:
        One of :data:`NUMERICAL_FAILURES` when the batched fit or optimisation
        fails numerically; the caller then runs each seed's own step.
    """
    S, _, d = X.shape
    t0 = time.perf_counter()
    model = SingleTaskGP(X, -y.unsqueeze(-1))
    _load_batched(model, [m._previous.get(SLOT) for m in methods])
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    fitted = _parameters(model)
    for s, method in enumerate(methods):
        method._previous[SLOT] = {name: value[s].clone() for name, value in fitted.items()}
    t1 = time.perf_counter()

    acquisition = ACQUISITIONS[getattr(methods[0], "acquisition", "logei")]
    acqf = acquisition(model, best_f=(-y).max(-1, keepdim=True).values)
    if methods[0].candidates is not None:
        x = _maximize_discrete_batched(acqf, [m.candidates for m in methods], d)
    else:
        x = _maximize_batched(acqf, S, d, seeds)
    t2 = time.perf_counter()
    for method in methods:
        method.timings["fit_s"] += (t1 - t0) / S
        method.timings["acq_s"] += (t2 - t1) / S
    return x


def _load_batched(model: SingleTaskGP, previous: list[dict[str, Tensor] | None]) -> None:
    """Copy each seed's previous hyperparameters into its slice of the batch."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            for s, values in enumerate(previous):
                v = values.get(name) if values else None
                if v is not None and v.shape == p.shape[1:]:
                    p[s].copy_(v)


def _maximize_discrete_batched(acqf, pools: Sequence[Tensor], d: int) -> Tensor:
    """Per seed, the remaining candidate (tabular target) with the largest
    acquisition value: what :func:`~bo_transfer.methods.discrete.maximize_discrete`
    does for each seed, with the S candidate sets scored together (padded to
    the longest; padding never wins). A seed with no candidate left gets a
    placeholder, which the runner replaces (the table is exhausted)."""
    S, M = len(pools), max(len(c) for c in pools)
    if M == 0:
        return torch.zeros(S, d, dtype=torch.float64)
    grid = torch.zeros(M, S, d, dtype=torch.float64)
    valid = torch.zeros(M, S, dtype=torch.bool)
    for s, cands in enumerate(pools):
        grid[: len(cands), s], valid[: len(cands), s] = cands, True
    with torch.no_grad():
        values = torch.cat(
            [acqf(grid[i : i + BATCH].unsqueeze(-2)) for i in range(0, M, BATCH)]
        ).masked_fill(~valid, -torch.inf)  # M x S
    best = values.argmax(0)
    chosen = values[best, torch.arange(S)]
    if not torch.isfinite(chosen[valid.any(0)]).all():
        raise CandidateGenerationError(f"non-finite acquisition value {chosen.tolist()}")
    return grid[best, torch.arange(S)]


def _maximize_batched(acqf, S: int, d: int, seeds: Sequence[int]) -> Tensor:
    """Maximise a `R x S`-batched acquisition per seed over the unit cube: what
    ``optimize_acqf(q=1, num_restarts=NUM_RESTARTS, raw_samples=RAW_SAMPLES,
    options={"seed": seed})`` does for each seed, with all S x R restarts in
    one batched L-BFGS-B."""
    bounds = unit_cube(d)
    # The raw samples optimize_acqf draws for each seed, scored by the batched model.
    raw = torch.stack(
        [draw_sobol_samples(bounds, n=RAW_SAMPLES, q=1, seed=seed) for seed in seeds], dim=1
    )  # RAW x S x 1 x d
    with torch.no_grad():
        raw_values = acqf(raw)  # RAW x S
    pick = initialize_q_batch_nonneg if is_nonnegative(acqf) else initialize_q_batch
    starts = []
    for s, seed in enumerate(seeds):
        # optimize_acqf draws restarts from the global generator seeded by the step.
        torch.manual_seed(seed)
        starts.append(pick(raw[:, s], raw_values[:, s], n=NUM_RESTARTS)[0])
    grid = torch.stack(starts, dim=1).reshape(NUM_RESTARTS * S, d)  # row r * S + s

    def negative_acqf(x: np.ndarray, batch_indices: list[int]) -> tuple[np.ndarray, np.ndarray]:
        # Finished restarts drop out of the batch; they keep their last point in
        # ``grid`` so the batched model still sees a full R x S grid.
        active = torch.from_numpy(x).to(grid).requires_grad_(True)
        index = torch.as_tensor(batch_indices)
        points = grid.detach().index_put((index,), active)
        values = acqf(points.view(NUM_RESTARTS, S, 1, d)).reshape(-1)[index]
        (grad,) = torch.autograd.grad(-values.sum(), active)
        if not torch.isfinite(values).all() or not torch.isfinite(grad).all():
            raise CandidateGenerationError("non-finite acquisition value or gradient")
        grid.data[index] = active.detach()
        return -values.detach().numpy(), grad.numpy()

    xs, _, _ = fmin_l_bfgs_b_batched(
        func=negative_acqf,
        x0=grid.numpy().copy(),
        bounds=translate_bounds_for_lbfgsb(0.0, 1.0, num_features=d, q=1),
        maxiter=MAXITER,
        pass_batch_indices=True,
    )
    candidates = torch.from_numpy(xs).to(grid).clamp(0.0, 1.0).view(NUM_RESTARTS, S, 1, d)
    with torch.no_grad():
        best = acqf(candidates).argmax(0)  # S
    return candidates[best, torch.arange(S), 0].detach()
