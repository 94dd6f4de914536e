"""Seed blocks: S seeds of one (pair, method) run in lock-step as one batched model.

A sweep's ``batch_seeds = S`` gives the runs of methods that declare
``supports_seed_batching`` a ``seed_batch`` of S and a ``seed_block``: the runs
that differ only in seed form blocks of S consecutive seeds in the spec's seed
order (the last block of a list may be shorter). A block is one task for an
executor; :func:`run_block` runs it and returns one ordinary :class:`RunResult`
per run. Each iteration fits the S target GPs as one batched ``SingleTaskGP``
and optimises the S acquisitions together
(:func:`bo_transfer.methods.seed_batch.propose_batch`); everything per run
(initial design, evaluation, NaN imputation, duplicate repair, seeds) is
:class:`RunLoop`'s, as in :func:`run_one`.
"""

from __future__ import annotations

import time
import traceback
import warnings
from collections.abc import Sequence
from dataclasses import replace

import gpytorch
import torch

from bo_transfer.methods.base import METHODS, NUMERICAL_FAILURES
from bo_transfer.methods.seed_batch import propose_batch
from bo_transfer.seeding import derive_seed
from bo_transfer.sweep.runner import EXACT_SOLVE_MAX, RunLoop, RunResult, RunSpec, run_one


def supports_seed_batching(method: str) -> bool:
    return bool(getattr(METHODS.get(method), "supports_seed_batching", False))


def assign_blocks(specs: Sequence[RunSpec], batch_seeds: int) -> list[RunSpec]:
    """``specs`` with ``seed_batch`` and ``seed_block`` set for the runs of
    methods that support seed batching (others unchanged): runs that differ
    only in seed are cut into blocks of ``batch_seeds`` in the order given."""
    if batch_seeds <= 1:
        return list(specs)
    groups: dict[tuple[str, str], list[int]] = {}
    for i, spec in enumerate(specs):
        if supports_seed_batching(spec.method):
            # The label too: two entries of one method and options are two groups.
            groups.setdefault((replace(spec, seed=0).key, spec.label), []).append(i)
    out = list(specs)
    for members in groups.values():
        for start in range(0, len(members), batch_seeds):
            block = members[start : start + batch_seeds]
            seeds = tuple(specs[i].seed for i in block)
            for i in block:
                out[i] = replace(specs[i], seed_batch=batch_seeds, seed_block=seeds)
    return out


def seed_blocks(specs: Sequence[RunSpec]) -> list[list[RunSpec]]:
    """``specs`` grouped into executor tasks: one list per seed block, in the
    order of each block's first run; a run without a block is a task alone."""
    tasks: dict[object, list[RunSpec]] = {}
    for i, spec in enumerate(specs):
        if spec.seed_batch > 1 and spec.seed_block:
            ident: object = (replace(spec, seed=spec.seed_block[0]).key, spec.label)
        else:
            ident = i
        tasks.setdefault(ident, []).append(spec)
    return list(tasks.values())


def run_task(specs: Sequence[RunSpec]) -> list[RunResult]:
    """Run one task of :func:`seed_blocks`; never raises."""
    if len(specs) == 1 and specs[0].seed_batch <= 1:
        return [run_one(specs[0])]
    return run_block(specs)


def run_block(specs: Sequence[RunSpec]) -> list[RunResult]:
    """Run the seeds of one block in lock-step; one result per spec, in order;
    never raises.

    A run fails alone when its own step fails (pair, initial design,
    evaluation, a target with no finite value); an exception of the batched
    step that is not numerical fails every run still going. A numerical
    failure of the batched step makes each run take its own sequential step
    that iteration (counted in ``metadata["batch_fallbacks"]``, which may in
    turn fall back to a Sobol point as in :func:`run_one`). Each run's
    ``elapsed_s`` and timings hold its share (1/S) of the batched work plus its
    own; ``metadata["warnings"]`` counts the block's warnings.
    """
    t_block = time.perf_counter()
    results = [RunResult(spec, status="failed") for spec in specs]
    loops: dict[int, RunLoop] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with gpytorch.settings.max_cholesky_size(EXACT_SOLVE_MAX):
            for i, spec in enumerate(specs):
                with _fails(results[i]):
                    loop = RunLoop(spec, results[i])
                    results[i].metadata["batch_fallbacks"] = 0
                    loop.start()
                    loops[i] = loop
            for iteration in range(specs[0].n_init, specs[0].budget):
                _lockstep_iteration(loops, results, iteration)
            for i, loop in loops.items():
                with _fails(results[i]):
                    loop.finish()
                    results[i].status = "done"
    counts: dict[str, int] = {}
    for w in caught:
        counts[w.category.__name__] = counts.get(w.category.__name__, 0) + 1
    share = (time.perf_counter() - t_block) / len(specs)
    for result in results:
        result.metadata["warnings"] = counts
        result.timings["total_s"] = share
    return results


def _lockstep_iteration(
    loops: dict[int, RunLoop], results: list[RunResult], iteration: int
) -> None:
    started = time.perf_counter()
    y: dict[int, torch.Tensor] = {}
    for i, loop in list(loops.items()):
        with _fails(results[i], loops, i):
            y[i] = loop.imputed_y()
    if not loops:
        return
    active = list(loops)
    seeds = {i: loops[i].iteration_seed(iteration) for i in active}
    proposals: dict[int, torch.Tensor] = {}
    try:
        with torch.random.fork_rng(devices=[]):
            # Only a fit's retry draws from the global generator here.
            torch.manual_seed(derive_seed("block", *seeds.values()))
            x = propose_batch(
                [loops[i].method for i in active],
                torch.stack([loops[i].X for i in active]),
                torch.stack([y[i] for i in active]),
                [seeds[i] for i in active],
            )
        proposals = {i: x[k : k + 1] for k, i in enumerate(active)}
    except NUMERICAL_FAILURES as exc:
        line = f"iteration {iteration}: {type(exc).__name__}: {exc}".splitlines()[0][:300]
        for i in active:
            results[i].metadata["batch_fallbacks"] += 1
            results[i].metadata.setdefault("batch_fallback_errors", []).append(line)
    except Exception as exc:  # a bug in the batched step: no run of it is trustworthy
        for i in active:
            _record_failure(results[i], exc)
            del loops[i]
        return
    share = (time.perf_counter() - started) / len(active)
    for i in active:
        with _fails(results[i], loops, i):
            own = time.perf_counter()
            proposal = proposals.get(i)
            if proposal is None:
                proposal = loops[i].propose(iteration, seeds[i])
            loops[i].accept(proposal, seeds[i], own - share)


class _fails:
    """Context: an exception fails ``result`` (and drops its loop) and is swallowed."""

    def __init__(
        self, result: RunResult, loops: dict[int, RunLoop] | None = None, index: int = -1
    ) -> None:
        self.result, self.loops, self.index = result, loops, index

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False
        _record_failure(self.result, exc)
        if self.loops is not None:
            self.loops.pop(self.index, None)
        return True


def _record_failure(result: RunResult, exc: Exception) -> None:
    result.status = "failed"
    result.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
    result.traceback = "".join(traceback.format_exception(exc))
