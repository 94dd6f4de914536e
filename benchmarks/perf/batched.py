"""Batched seeds vs sequential runs: per method, and for a whole study-shaped sweep.

    python benchmarks/perf/batched.py [--seeds 8] [--budget 30] [--method-budget 20]
        [--dims 2 4] [--methods ...] [--sweep-methods ...] [--workers 2]
        [--skip-methods] [--skip-sweep]

Per method (one thread, this process, CPU time: on a machine shared with
other work, wall time measures the neighbours): ``--seeds`` runs of the method on
``gp:rho=0.5;-0.5,dim=D,instance=seed`` (two sources, one adversarial), once
as sequential ``run_one`` calls and once as one seed block (``run_block``);
prints the wall-time ratio batched / sequential and how many runs are equal
within the suite's tolerance (initial design exact, first BO proposal within
``FIRST_PROPOSAL_ATOL`` of the run alone), with the largest first-proposal
difference. Run it with ``OPENBLAS_NUM_THREADS=1`` in the environment (as
``run_all.py`` does): SciPy's OpenBLAS, loaded before ``set_single_thread``
runs, otherwise spins threads inside every L-BFGS-B step of a batched fit.

Whole sweep (``--workers`` local worker processes, as a user runs it): a
study-shaped spec (``--sweep-methods``, one GP method of each kind of
transfer; the 2-D and 4-D pairs at two correlations, ``--seeds`` seeds,
budget ``--budget``)
run with ``batch_seeds = 1`` and with ``batch_seeds = --seeds``; prints both
wall times, their ratio (target <= 0.35) and whether the two exports agree
as the suite promises across layouts (initial designs exact, first proposals
within tolerance) and whether they are bit-identical (they are with the
pinned MKL mode on the CPUs tried, but that is not promised).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bo_transfer.analysis import load_results
from bo_transfer.methods import METHODS
from bo_transfer.methods.base import has_batched_step
from bo_transfer.reproducibility import FIRST_PROPOSAL_ATOL, layouts_disagree
from bo_transfer.sweep import LocalExecutor, RunSpec, Sweep, run_one, run_sweep
from bo_transfer.sweep.block import run_block
from bo_transfer.sweep.executors import set_single_thread

#: Every method with a batched step (the per-method table).
BATCHED_METHODS = [n for n in METHODS.names() if has_batched_step(METHODS.get(n))]
#: The study-shaped sweep's GP methods: one of each kind of transfer.
SWEEP_METHODS = ["cold-gp", "prior-mean", "rgpe", "mhgp", "pibo"]


def per_method(methods: list[str], dims: list[int], seeds: int, budget: int, n_init: int) -> None:
    print(f"Per method: {seeds} seeds, budget {budget}, n_init {n_init}, one thread, CPU seconds")
    print(
        "| method | dim | sequential s | batched s | batched / sequential "
        "| equal within tolerance | first proposal, max diff | identical runs |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for dim in dims:
        pair = f"gp:rho=0.5;-0.5,dim={dim},instance=seed"
        for method in methods:
            specs = [RunSpec(pair, method, s, budget, n_init, 32) for s in range(seeds)]
            run_one(RunSpec(pair, method, 10_000, n_init + 1, n_init, 32))  # warm-up
            t0 = time.process_time()
            sequential = [run_one(s) for s in specs]
            t1 = time.process_time()
            batched = run_block(specs)
            t2 = time.process_time()
            done = [(a, b) for a, b in zip(sequential, batched) if a.status == b.status == "done"]
            same = sum(a.X == b.X for a, b in done)
            first = [
                max(abs(u - v) for u, v in zip(a.X[n_init], b.X[n_init]))
                for a, b in done
                if a.X[:n_init] == b.X[:n_init]
            ]
            close = sum(diff <= FIRST_PROPOSAL_ATOL for diff in first)
            print(
                f"| {method} | {dim} | {t1 - t0:.1f} | {t2 - t1:.1f} "
                f"| {(t2 - t1) / (t1 - t0):.2f} | {close}/{seeds} | {max(first, default=0):.1e} "
                f"| {same}/{seeds} |",
                flush=True,
            )


def whole_sweep(methods: list[str], dims: list[int], seeds: int, budget: int, workers: int) -> None:
    spec = {
        "name": "study-shaped",
        "seeds": seeds,
        "budget": budget,
        "n_init": 5,
        "n_source": 32,
        "pairs": [
            {"family": "gp", "rho": [-0.5, 0.5], "dim": dims, "instance": "seed"},
        ],
        "methods": methods,
    }
    walls, frames = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, batch in (("sequential", 1), ("batched", seeds)):
            sweep = Sweep.from_dict({**spec, "batch_seeds": batch})
            out = Path(tmp) / name
            t0 = time.perf_counter()
            summary = run_sweep(sweep, out, executor=LocalExecutor(workers))
            walls[name] = time.perf_counter() - t0
            assert summary.failed == 0, summary.lines()
            frames[name] = load_results(out).drop(columns="elapsed_s")
    n = len(Sweep.from_dict(spec).runs())
    print(
        f"Whole sweep: {n} runs ({len(methods)} methods, dims {dims}, {seeds} seeds, "
        f"budget {budget}), {workers} workers"
    )
    print("| sweep | wall s |")
    print("|---|---|")
    for name, wall in walls.items():
        print(f"| {name} | {wall:.1f} |")
    ratio = walls["batched"] / walls["sequential"]
    print(f"batched / sequential: {ratio:.2f} (target <= 0.35)")
    problem = layouts_disagree(frames["sequential"], frames["batched"], n_init=5)
    print(f"exports agree as promised (see bo_transfer.reproducibility): {problem is None}")
    if problem:
        print(f"  {problem}")
    print(f"bit-identical exports: {frames['sequential'].equals(frames['batched'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--budget", type=int, default=30, help="of the whole sweep")
    parser.add_argument("--method-budget", type=int, default=20, help="of the per-method runs")
    parser.add_argument("--n-init", type=int, default=5)
    parser.add_argument("--dims", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--methods", nargs="*", default=BATCHED_METHODS)
    parser.add_argument("--sweep-methods", nargs="*", default=SWEEP_METHODS)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-methods", action="store_true")
    parser.add_argument("--skip-sweep", action="store_true")
    args = parser.parse_args()
    set_single_thread()
    if not args.skip_methods:
        per_method(args.methods, args.dims, args.seeds, args.method_budget, args.n_init)
        print()
    if not args.skip_sweep:
        whole_sweep(args.sweep_methods, args.dims, args.seeds, args.budget, args.workers)


if __name__ == "__main__":
    main()
