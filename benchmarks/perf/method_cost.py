"""Per-iteration cost of every registered method relative to ``cold-gp``.

    python benchmarks/perf/method_cost.py [--workers N] [--budget 12] [--seeds 2]

On ``gp`` pairs with 1 and 5 sources (all at rho = 0.9, dim 2) and 32 and 256
points per source. Each (method, configuration, seed) is one ``run_one`` in a
single-threaded worker process; with several workers the runs of all methods
share the machine alike. Prints the mean proposal time per iteration relative
to cold-gp's in the same configuration, and the one-off setup time (source
models fitted in ``start``) in seconds.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
from concurrent.futures import ProcessPoolExecutor

from bo_transfer.methods import METHODS
from bo_transfer.sweep import RunSpec, run_one
from bo_transfer.sweep.executors import set_single_thread

CONFIGS = [(1, 32), (1, 256), (5, 32), (5, 256)]

#: Methods measured only up to this many source points in all: BoTorch's
#: default multi-task GP runs thousands of L-BFGS iterations per fit (87 s per
#: iteration at 5 x 32 here), so larger configurations would take hours.
SLOW_METHODS = {"mtgp-botorch": 160}


def pair_name(n_sources: int) -> str:
    return f"gp:rho={';'.join(['0.9'] * n_sources)},dim=2"


def measure(spec: RunSpec) -> tuple[str, float, float, str]:
    result = run_one(spec)
    n = spec.n_init
    per_iter = statistics.mean(result.elapsed_s[n:]) if result.status == "done" else float("nan")
    setup = sum(result.elapsed_s[:n]) if result.elapsed_s else float("nan")
    return spec.method, per_iter, setup, result.error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--budget", type=int, default=12)
    parser.add_argument("--n-init", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--methods", nargs="*", help="default: every registered method")
    parser.add_argument(
        "--configs", nargs="*", default=[f"{k}x{n}" for k, n in CONFIGS], help="SOURCESxPOINTS"
    )
    args = parser.parse_args()
    methods = args.methods or METHODS.names()
    configs = [tuple(int(v) for v in c.split("x")) for c in args.configs]
    if args.workers > 1:
        ctx = mp.get_context("spawn")
        pool = ProcessPoolExecutor(args.workers, mp_context=ctx, initializer=set_single_thread)
        run = pool.map
    else:
        set_single_thread()
        run = map
    # One table per configuration, printed as soon as it is measured, so a run
    # stopped early keeps the configurations it finished.
    for k, n in configs:
        skipped = [m for m in methods if k * n > SLOW_METHODS.get(m, k * n)]
        specs = [
            RunSpec(pair_name(k), m, seed, args.budget, args.n_init, n)
            for m in methods
            if m not in skipped
            for seed in range(args.seeds)
        ]
        by_method: dict[str, list] = {}
        for method, per_iter, setup, error in run(measure, specs):
            by_method.setdefault(method, []).append((per_iter, setup, error))
        base = statistics.mean(t for t, _, _ in by_method["cold-gp"])
        print(f"{k} source(s) x {n} points (cold-gp: {base:.2f} s per iteration)")
        print("| method | per iteration vs cold-gp | setup s |")
        print("|---|---|---|")
        for method in methods:
            if method in skipped:
                print(f"| {method} | not measured (> {SLOW_METHODS[method]} source points) | |")
                continue
            rows = by_method[method]
            errors = [e for _, _, e in rows if e]
            if errors:
                print(f"| {method} | failed: {errors[0][:60]} | |")
                continue
            ratio = statistics.mean(t for t, _, _ in rows) / base
            print(f"| {method} | {ratio:.2f}x | {statistics.mean(s for _, s, _ in rows):.1f} |")
        print(flush=True)
    if args.workers > 1:
        pool.shutdown()


if __name__ == "__main__":
    main()
