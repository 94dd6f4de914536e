"""Investigation: does running S seeds of cold-gp as one batched loop pay off?

    python benchmarks/perf/batched_loop.py [--sizes 8 16] [--dims 2 6] [--budget 20] [--reps 2]

Times the whole BO loop (fit + acquisition optimisation + bookkeeping), one
torch thread, for S seeds of cold-gp on ``gp:rho=0.9,dim=D``:
  - sequential: S calls of ``run_one`` (what a sweep does today);
  - batched: one ``run_block`` (a sweep's ``batch_seeds = S``): per iteration
    one batched SingleTaskGP fit and one batched LogEI optimisation.
The two alternate in one process, ``--reps`` times; the ratio is the median of
the per-repetition ratios batched / sequential (< 1: batching wins). Also
printed: where the time goes (fit and acquisition seconds per run and
iteration, summed from the runs' timings), the mean final regret over seeds of
both, and how many of their proposals agree (the batched step computes each
seed's step as the sequential one does, with the same seeds).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

from bo_transfer.problems import get_pair
from bo_transfer.sweep import RunSpec, run_one
from bo_transfer.sweep.batched import run_block
from bo_transfer.sweep.executors import set_single_thread


def final_regret(result) -> float:
    return min(result.y) - result.optimal_value


def per_iteration(results, key: str, iterations: int) -> float:
    return sum(r.timings.get(key, 0.0) for r in results) / (len(results) * iterations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--dims", type=int, nargs="+", default=[2, 6])
    parser.add_argument("--budget", type=int, default=20)
    parser.add_argument("--n-init", type=int, default=3)
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args()
    set_single_thread()
    iterations = args.budget - args.n_init
    print(
        f"cold-gp, budget {args.budget}, n_init {args.n_init}, {args.reps} repetitions, one thread"
    )
    print(
        "| dim | S | batched / sequential | fit s/it seq | fit s/it bat "
        "| acq s/it seq | acq s/it bat | final regret seq | final regret bat "
        "| same proposals |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for dim in args.dims:
        pair = get_pair(f"gp:rho=0.9,dim={dim}")
        _ = pair.target.optimal_value  # certified once, outside the timed region
        run_one(RunSpec(pair.name, "cold-gp", 0, args.n_init + 2, args.n_init, 32))  # warm-up
        for S in args.sizes:
            seeds = list(range(S))
            sequential = [
                RunSpec(pair.name, "cold-gp", s, args.budget, args.n_init, 32) for s in seeds
            ]
            batched = [replace(s, seed_batch=S, seed_block=tuple(seeds)) for s in sequential]
            ratios = []
            for _ in range(args.reps):
                t0 = time.perf_counter()
                seq = [run_one(s) for s in sequential]
                t1 = time.perf_counter()
                bat = run_block(batched)
                t2 = time.perf_counter()
                ratios.append((t2 - t1) / (t1 - t0))
            assert all(r.status == "done" for r in seq + bat), [r.error for r in seq + bat]
            same = sum(
                max(abs(a - b) for a, b in zip(xa, xb)) < 1e-6
                for rs, rb in zip(seq, bat)
                for xa, xb in zip(rs.X[args.n_init :], rb.X[args.n_init :])
            )
            print(
                f"| {dim} | {S} | {statistics.median(ratios):.2f} "
                f"| {per_iteration(seq, 'fit_s', iterations):.3f} "
                f"| {per_iteration(bat, 'fit_s', iterations):.3f} "
                f"| {per_iteration(seq, 'acq_s', iterations):.3f} "
                f"| {per_iteration(bat, 'acq_s', iterations):.3f} "
                f"| {statistics.mean(map(final_regret, seq)):.3g} "
                f"| {statistics.mean(map(final_regret, bat)):.3g} "
                f"| {same}/{S * iterations} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
