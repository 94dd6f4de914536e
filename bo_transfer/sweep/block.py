"""Seed blocks: S runs of one batched method, run in lock-step as one batched model.

The runs of a block differ only in seed (see :mod:`bo_transfer.sweep.plan`).
Everything per run (initial design, evaluation, NaN imputation, duplicate
repair, seeds, the Sobol fallback) is :class:`RunLoop`'s, as in
:func:`run_one`; each iteration the method's batched step
(:meth:`~bo_transfer.methods.base.BatchedMethod.propose_batch`) proposes for
all runs still going. A run's ``propose`` is the same step for a batch of one,
so each run of a block takes the steps it takes alone (to the rounding of the
maths library: see :mod:`bo_transfer.reproducibility`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import gpytorch
import torch

from bo_transfer.methods.batch import BatchFallback
from bo_transfer.methods.gp import NUMERICAL_FAILURES
from bo_transfer.seeding import derive_seed
from bo_transfer.sweep.outcome import (
    DONE,
    FAILED,
    MAX_LINE,
    count_warnings,
    error_line,
    fails_the_run,
    recording_warnings,
)
from bo_transfer.sweep.runner import EXACT_SOLVE_MAX, RunLoop, RunResult, RunSpec


def run_block(specs: Sequence[RunSpec], device: torch.device | None = None) -> list[RunResult]:
    """Run the seeds of one block in lock-step; one result per spec, in order;
    never raises.

    A run fails alone when its own step fails (pair, initial design,
    evaluation, a target with no finite value); an exception of the batched
    step that is neither numerical nor a :class:`BatchFallback` fails every run
    still going. After a numerical failure or a fallback of the batched step,
    each run takes its own step that iteration (counted in
    ``metadata["batch_fallbacks"]``; it may in turn fall back to a Sobol point
    as in :func:`run_one`). The batched step's tensors live on ``device``
    (default the CPU); proposals come back to the CPU. Each run's
    ``elapsed_s`` and timings hold its share (1/S) of the batched work plus its
    own; ``metadata["warnings"]`` counts the block's warnings.
    """
    device = torch.device("cpu") if device is None else device
    t_block = time.perf_counter()
    results = [RunResult(spec, status=FAILED) for spec in specs]
    loops: dict[int, RunLoop] = {}
    with recording_warnings() as caught, gpytorch.settings.max_cholesky_size(EXACT_SOLVE_MAX):
        for i, spec in enumerate(specs):
            with _fails(results[i]):
                loop = RunLoop(spec, results[i])
                results[i].metadata.update(seed_block=len(specs), batch_fallbacks=0)
                if device.type != "cpu":
                    results[i].metadata["device"] = str(device)
                loop.start()
                loops[i] = loop
        for iteration in range(specs[0].n_init, specs[0].budget):
            _lockstep_iteration(loops, results, iteration, device)
        for i, loop in loops.items():
            with _fails(results[i]):
                loop.finish()
                results[i].status = DONE
    counts = count_warnings(caught)
    share = (time.perf_counter() - t_block) / len(specs)
    for result in results:
        result.metadata["warnings"] = counts
        result.timings["total_s"] = share
    return results


def _lockstep_iteration(
    loops: dict[int, RunLoop], results: list[RunResult], iteration: int, device: torch.device
) -> None:
    started = time.perf_counter()
    y: dict[int, torch.Tensor] = {}
    for i, loop in list(loops.items()):
        with _fails(results[i], loops, i):
            y[i] = loop.imputed_y()
    if not loops:
        return
    seeds = {i: loops[i].iteration_seed(iteration) for i in loops}
    # A run whose table has no row left pads its budget (RunLoop.propose), as
    # alone: it takes no part in the batched step, which would find no candidate.
    active = [i for i in loops if loops[i].pool is None or not loops[i].pool.exhausted]
    proposals: dict[int, torch.Tensor] = {}
    try:
        if active:
            proposals = _batched_step(loops, y, active, seeds, device)
    except (*NUMERICAL_FAILURES, BatchFallback) as exc:
        line = error_line(exc, f"iteration {iteration}")[:MAX_LINE]
        for i in active:
            results[i].metadata["batch_fallbacks"] += 1
            results[i].metadata.setdefault("batch_fallback_errors", []).append(line)
    except BaseException as exc:  # a bug in the batched step: no run of it is trustworthy
        if not fails_the_run(exc):
            raise
        for i in active:
            results[i].fail(exc)
            del loops[i]
    share = (time.perf_counter() - started) / max(len(active), 1)
    for i in list(loops):
        with _fails(results[i], loops, i):
            own = time.perf_counter()
            proposal = proposals.get(i)
            if proposal is None:
                proposal = loops[i].propose(iteration, seeds[i])
            loops[i].accept(proposal, seeds[i], own - (share if i in active else 0.0))


def _batched_step(
    loops: dict[int, RunLoop],
    y: dict[int, torch.Tensor],
    active: list[int],
    seeds: dict[int, int],
    device: torch.device,
) -> dict[int, torch.Tensor]:
    """The batched step's proposal (`1 x dim`) for each run of ``active``;
    a step that returns other than one point per run is an error naming it."""
    method = loops[active[0]].method
    with torch.random.fork_rng(devices=[]):
        # Global draws: a lone run's fit retries (as in RunLoop.propose, from
        # its own seed); several runs never retry (BatchFallback instead).
        lone = len(active) == 1
        torch.manual_seed(
            seeds[active[0]] if lone else derive_seed("block", *(seeds[i] for i in active))
        )
        x = (
            type(method)
            .propose_batch(
                [loops[i].method for i in active],
                torch.stack([loops[i].X for i in active]).to(device),
                torch.stack([y[i] for i in active]).to(device),
                [seeds[i] for i in active],
            )
            .cpu()
        )
    expected = (len(active), loops[active[0]].pair.dim)
    if tuple(x.shape) != expected:
        raise ValueError(
            f"method {loops[active[0]].spec.method!r}: propose_batch returned a "
            f"{' x '.join(map(str, x.shape))} tensor for {expected[0]} runs in {expected[1]} "
            f"dimensions; it must return {expected[0]} x {expected[1]}, one point per run"
        )
    return {i: x[k : k + 1] for k, i in enumerate(active)}


class _fails:
    """Context: an exception fails ``result`` (and drops its loop) and is swallowed."""

    def __init__(
        self, result: RunResult, loops: dict[int, RunLoop] | None = None, index: int = -1
    ) -> None:
        self.result, self.loops, self.index = result, loops, index

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is None or not fails_the_run(exc):
            return False
        self.result.fail(exc)
        if self.loops is not None:
            self.loops.pop(self.index, None)
        return True
