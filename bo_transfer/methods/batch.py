"""The GP toolkit for a batch of seeds: one step of S runs of a method at once.

A method with a batched step (:class:`~bo_transfer.methods.base.BatchedMethod`)
writes it once, for S runs that differ only in seed, with these helpers; its
``propose`` is the same step for a batch of one. So a run computes the same
steps alone or in a seed block, and the sweep may batch seeds freely. The
maths library may still round a batch of S differently from a batch of one
(it did on an AMD EPYC with MKL's default mode), so the promise is the one of
:mod:`bo_transfer.reproducibility`: the same initial design, the first
proposal within tolerance, the same distribution after:

- :func:`fit_batch` fits a model whose training data has batch shape ``S``
  (S independent GPs). BoTorch fits such a model with one L-BFGS-B state per
  batch element (``fmin_l_bfgs_b_batched``, SciPy's algorithm), evaluated
  together, and a batch of one with SciPy's own L-BFGS-B: each element takes the
  steps it would take alone.
- :func:`maximize_batch` maximises S acquisitions (one per seed, a model of
  batch shape ``S``) with all ``S x NUM_RESTARTS`` restarts in one batched
  L-BFGS-B; each seed's raw samples and restart choice are those
  ``optimize_acqf`` draws for that seed.

Where a batch of one would do something the others in its batch would not
(BoTorch's fit retries from resampled hyperparameters after an optimisation
warning, a retry with more jitter after a numerical failure), a batch of
several raises :class:`BatchFallback` instead, and the caller
(:mod:`bo_transfer.sweep.block`) runs each seed's own step, a batch of one.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from botorch.acquisition import AcquisitionFunction
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
from gpytorch.kernels import Kernel
from gpytorch.means import Mean
from gpytorch.mlls import ExactMarginalLogLikelihood
from torch import Tensor

from bo_transfer.methods.gp import (
    NUM_RESTARTS,
    NUMERICAL_FAILURES,
    RAW_SAMPLES,
    fit_with_retries,
    make_acquisition,
    parameters_of,
)

if TYPE_CHECKING:
    from bo_transfer.methods.base import Method

#: L-BFGS-B iteration cap of the acquisition optimisation, ``gen_candidates_scipy``'s.
MAXITER = 2000

#: Candidates of a tabular target scored per acquisition call.
CANDIDATE_BATCH = 2048


class BatchFallback(RuntimeError):
    """A batched step of several seeds met what only one seed's step handles
    (a fit retry); the seeds then take their own steps."""


def fit_batch(
    methods: Sequence[Method],
    model: torch.nn.Module,
    slot: str | None = "target",
    optimizer_options: dict | None = None,
) -> torch.nn.Module:
    """Fit ``model`` (batch shape ``S = len(methods)``; element ``s`` is run
    ``s``'s model) by maximum marginal likelihood; returns it in eval mode.

    Each element starts from its run's hyperparameters of ``slot`` (the
    previous iteration's, carried over: fewer L-BFGS steps than BoTorch's default
    start); ``slot=None`` starts from the defaults and carries nothing. A batch
    of one does what a single fit does: BoTorch's retries after an optimisation
    warning, then one retry with Cholesky jitter ``RETRY_JITTER`` after a
    numerical failure, then, if the slot has hyperparameters, keeps them (both
    counted in the run's ``fit_faults``). A batch of several raises
    :class:`BatchFallback` where a single fit would retry.
    """
    t0 = time.perf_counter()
    previous = [m._previous.get(slot) if slot else None for m in methods]
    _load(model, previous)
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    if len(methods) > 1:
        kwargs = {"optimizer_kwargs": {"options": optimizer_options}} if optimizer_options else {}
        try:
            fit_gpytorch_mll(mll, max_attempts=1, **kwargs)
        except NUMERICAL_FAILURES as exc:
            raise BatchFallback(f"batched fit: {type(exc).__name__}: {exc}") from exc
    else:
        fit_with_retries(
            mll,
            methods[0].fit_faults,
            (lambda: _load(model, previous)) if previous[0] else None,
            optimizer_options,
        )
    if slot:
        fitted = parameters_of(model)
        for s, method in enumerate(methods):
            method._previous[slot] = {name: value[s].clone() for name, value in fitted.items()}
    _charge(methods, "fit_s", time.perf_counter() - t0)
    return model


def gp_batch(
    methods: Sequence[Method],
    X: Tensor,
    y: Tensor,
    mean_module: Mean | None = None,
    covar_module: Kernel | None = None,
    slot: str | None = "target",
) -> SingleTaskGP:
    """S `SingleTaskGP`s on ``(X, -y)`` as one model of batch shape ``S``, fitted
    by :func:`fit_batch`.

    Args:
        methods: the S runs' method instances.
        X: `S x n x d` inputs.
        y: `S x n` values (minimised; negated here).
        mean_module: a prior mean for inputs `... x S x n x d` (default: a
            learned constant per run).
        covar_module: a kernel of batch shape ``S`` (default: BoTorch's RBF
            with priors).
        slot: where each run's hyperparameters are carried over.
    """
    model = SingleTaskGP(X, -y.unsqueeze(-1), mean_module=mean_module, covar_module=covar_module)
    return fit_batch(methods, model, slot)


def maximize_batch(
    methods: Sequence[Method],
    acqf: AcquisitionFunction,
    seeds: Sequence[int],
    bounds: Tensor | None = None,
) -> Tensor:
    """Maximise the S acquisitions of a batch-``S`` ``acqf`` (`R x S x 1 x d`
    inputs give `R x S` values), each over the unit cube or its run's box.

    What ``optimize_acqf(q=1, num_restarts=NUM_RESTARTS, raw_samples=RAW_SAMPLES,
    options={"seed": seed})`` does for each seed (the same raw Sobol samples
    and restart choice), with all ``S x NUM_RESTARTS`` restarts in one batched
    L-BFGS-B. A box is searched in coordinates ``u`` of the unit cube, ``x = lo
    + u (hi - lo)``, so every seed's L-BFGS-B works on the same bounds (for the
    unit cube, ``x = u`` exactly).

    Args:
        methods: the S runs' method instances (timings).
        acqf: the batched acquisition function.
        seeds: each run's seed for this iteration.
        bounds: `2 x d` (all runs) or `S x 2 x d` (one box per run) inside the
            unit cube; default the unit cube.

    Returns:
        `S x d` proposals.

    On a tabular target (the runs' ``candidates`` are set) each run's
    acquisition is maximised over its remaining candidates by enumeration
    instead (those inside its box, if any are), as
    :func:`~bo_transfer.methods.discrete.maximize_discrete` does for one run.
    """
    t0 = time.perf_counter()
    if methods[0].candidates is not None:
        x = _maximize_candidates(acqf, [m.candidates for m in methods], bounds)
        _charge(methods, "acq_s", time.perf_counter() - t0)
        return x
    S = len(seeds)
    d = methods[0].dim
    dtype = torch.float64
    unit = torch.stack([torch.zeros(d, dtype=dtype), torch.ones(d, dtype=dtype)])
    device = _device_of(acqf)
    if bounds is None:
        lo, width = None, None
    else:
        box = bounds.to(device=device, dtype=dtype).expand(S, 2, d)
        lo, width = box[:, 0].unsqueeze(-2), (box[:, 1] - box[:, 0]).unsqueeze(-2)  # S x 1 x d

    def to_x(u: Tensor) -> Tensor:  # `... x S x 1 x d`
        return u if lo is None else lo + u * width

    raw = torch.stack(
        [draw_sobol_samples(unit, n=RAW_SAMPLES, q=1, seed=seed) for seed in seeds], dim=1
    ).to(device)  # RAW x S x 1 x d
    with torch.no_grad():
        raw_values = acqf(to_x(raw))  # RAW x S
    pick = initialize_q_batch_nonneg if is_nonnegative(acqf) else initialize_q_batch
    starts = []
    for s, seed in enumerate(seeds):
        # optimize_acqf draws its restarts from the global generator, seeded by the step.
        torch.manual_seed(seed)
        starts.append(pick(raw[:, s].cpu(), raw_values[:, s].cpu(), n=NUM_RESTARTS)[0])
    grid = torch.stack(starts, dim=1).reshape(NUM_RESTARTS * S, d)  # row r * S + s, on the CPU

    def negative_acqf(u: np.ndarray, batch_indices: list[int]) -> tuple[np.ndarray, np.ndarray]:
        # Finished restarts drop out of the batch; they keep their last point in
        # ``grid`` so the batched model still sees a full R x S grid.
        active = torch.from_numpy(u).to(grid).requires_grad_(True)
        index = torch.as_tensor(batch_indices)
        points = grid.detach().index_put((index,), active).to(device)
        values = acqf(to_x(points.view(NUM_RESTARTS, S, 1, d))).reshape(-1)[index.to(device)]
        (grad,) = torch.autograd.grad(-values.sum(), active)
        if not torch.isfinite(values).all() or not torch.isfinite(grad).all():
            raise CandidateGenerationError("non-finite acquisition value or gradient")
        grid.data[index] = active.detach()
        return -values.detach().cpu().numpy(), grad.numpy()

    us, _, _ = fmin_l_bfgs_b_batched(
        func=negative_acqf,
        x0=grid.numpy().copy(),
        bounds=translate_bounds_for_lbfgsb(0.0, 1.0, num_features=d, q=1),
        maxiter=MAXITER,
        pass_batch_indices=True,
    )
    candidates = to_x(
        torch.from_numpy(us)
        .to(device=device, dtype=dtype)
        .clamp(0.0, 1.0)
        .view(NUM_RESTARTS, S, 1, d)
    )
    with torch.no_grad():
        best = acqf(candidates).argmax(0)  # S
    x = candidates[best, torch.arange(S, device=device), 0].detach().clamp(0.0, 1.0).cpu()
    _charge(methods, "acq_s", time.perf_counter() - t0)
    return x


def gp_step_batch(
    methods: Sequence[Method],
    X: Tensor,
    y: Tensor,
    seeds: Sequence[int],
    mean_module: Mean | None = None,
    bounds: Tensor | None = None,
    acquisition: str | None = None,
) -> Tensor:
    """One GP-BO step of S runs: :func:`gp_batch`, then an analytic acquisition
    (:data:`~bo_transfer.methods.gp.ACQUISITIONS`; default: the methods' own
    ``acquisition`` and ``beta`` options, see
    :meth:`~bo_transfer.methods.base.Method.set_acquisition`) per run with its
    own incumbent, maximised by :func:`maximize_batch`; `S x d` proposals."""
    model = gp_batch(methods, X, y, mean_module)
    best_f = (-y).max(-1, keepdim=True).values
    acqf = make_acquisition(
        acquisition or methods[0].acquisition_kind, model, best_f, methods[0].ucb_beta
    )
    return maximize_batch(methods, acqf, seeds, bounds)


def _maximize_candidates(
    acqf: AcquisitionFunction, pools: Sequence[Tensor], bounds: Tensor | None
) -> Tensor:
    """Per run, the remaining candidate with the largest acquisition value, the
    S candidate sets scored together (padded to the longest; padding never
    wins). With ``bounds`` (`2 x d` or `S x 2 x d`), only a run's candidates
    inside its box compete, or all of them when none is inside.

    Raises:
        CandidateGenerationError: a run's best value is not finite.
    """
    S, M = len(pools), max(len(c) for c in pools)
    if M == 0:
        raise ValueError("no candidate left to propose")
    d = pools[0].shape[-1]
    device = _device_of(acqf)
    grid = torch.zeros(M, S, d, dtype=torch.float64)
    valid = torch.zeros(M, S, dtype=torch.bool)
    for s, candidates in enumerate(pools):
        grid[: len(candidates), s] = candidates
        mask = torch.ones(len(candidates), dtype=torch.bool)
        if bounds is not None:
            lo, hi = bounds.expand(S, 2, d)[s].cpu()
            inside = ((candidates >= lo) & (candidates <= hi)).all(-1)
            mask = inside if inside.any() else mask
        valid[: len(candidates), s] = mask
    with torch.no_grad():
        values = torch.cat(
            [
                acqf(grid[i : i + CANDIDATE_BATCH].unsqueeze(-2).to(device)).cpu()
                for i in range(0, M, CANDIDATE_BATCH)
            ]
        ).masked_fill(~valid, -torch.inf)  # M x S
    best = values.argmax(0)
    chosen = values[best, torch.arange(S)]
    if not torch.isfinite(chosen).all():
        raise CandidateGenerationError(f"non-finite acquisition value {chosen.tolist()}")
    return grid[best, torch.arange(S)]


def per_seed(functions: Sequence[Callable[[Tensor], Tensor]], X: Tensor) -> Tensor:
    """Run ``s``'s function on run ``s``'s inputs: ``functions[s]`` maps
    `... x q x d` to `... x q (x k)`; ``X`` is `... x S x q x d` (``S`` third
    from last, as a batch-``S`` model sees it); the results, stacked at the
    ``S`` position, are `... x S x q (x k)`."""
    return torch.stack([f(X[..., s, :, :]) for s, f in enumerate(functions)], dim=X.ndim - 3)


def _load(model: torch.nn.Module, previous: Sequence[dict[str, Tensor] | None]) -> None:
    """Copy each run's previous hyperparameters into its element of the batch
    (those whose name and per-element shape match)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            for s, values in enumerate(previous):
                v = values.get(name) if values else None
                if v is not None and p.ndim > 0 and v.shape == p.shape[1:]:
                    p[s].copy_(v)


def _charge(methods: Sequence[Method], what: str, seconds: float) -> None:
    for method in methods:
        method.timings[what] += seconds / len(methods)


def _device_of(acqf: AcquisitionFunction) -> torch.device:
    for tensor in itertools.chain(acqf.parameters(), acqf.buffers()):
        return tensor.device
    return torch.device("cpu")
