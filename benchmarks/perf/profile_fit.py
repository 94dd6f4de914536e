"""Where a method's per-iteration time goes: L-BFGS iterations x cost per step.

    python benchmarks/perf/profile_fit.py [--configs 1x32 5x32] [--methods mtgp mtgp-botorch]
        [--profile] [--pair PAIR]

For each method and configuration (SOURCESxPOINTS of a ``gp`` pair at rho 0.9,
dim 2), runs ``--iterations`` BO iterations after a 5-point initial design
(one torch thread) and prints, per method: the mean time of a proposal, the
share spent fitting, the L-BFGS-B iterations and marginal-likelihood
evaluations per fit, and the time per evaluation (forward + backward). With
``--profile``, pyinstrument's flat profile (functions by own time) of the
whole loop follows each table. With ``--pair``, that pair (its own sources,
``POINTS`` points each; ``SOURCES`` is ignored) replaces the ``gp`` pair, e.g.
``--pair branin:n_sources=2,instance=0 --configs 2x24`` for the literature
study's two-source Branin pair.
"""

from __future__ import annotations

import argparse
import statistics
import time

from fit_counter import FITS

from bo_transfer.methods import make_method
from bo_transfer.problems import get_pair
from bo_transfer.sweep.executors import set_single_thread
from bo_transfer.sweep.runner import EXACT_SOLVE_MAX


def loop(method_name: str, k: int, n: int, iterations: int, pair_name: str | None = None) -> dict:
    import gpytorch
    import torch

    pair = get_pair(pair_name or f"gp:rho={';'.join(['0.9'] * k)},dim=2")
    method = make_method(method_name)
    method.start(pair.source_data(0, n), pair.dim, seed=0)
    method.timings = dict.fromkeys(method.timings, 0.0)  # source fits are setup, not loop
    X = method.initial_design(5)
    y = pair.target(X)
    FITS.clear()
    t0 = time.perf_counter()
    with gpytorch.settings.max_cholesky_size(EXACT_SOLVE_MAX):
        for i in range(iterations):
            x = method.propose(X, y, seed=i)
            X, y = torch.cat([X, x]), torch.cat([y, pair.target(x)])
    total = time.perf_counter() - t0
    fits = FITS[-iterations:]  # the target fits (source fits happen in start)
    return {
        "per_iter": total / iterations,
        "fit_share": method.timings["fit_s"] / total,
        "nit": statistics.mean(f[0] for f in fits),
        "nfev": statistics.mean(f[1] for f in fits),
        "ms_per_eval": 1e3 * method.timings["fit_s"] / sum(f[1] for f in fits),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="*", default=["1x32", "5x32"])
    parser.add_argument("--methods", nargs="*", default=["cold-gp", "mtgp", "mtgp-botorch"])
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="pyinstrument flat profile")
    parser.add_argument("--pair", default=None, help="a pair instead of the gp pairs")
    args = parser.parse_args()
    set_single_thread()
    loop("cold-gp", 1, 8, 1)  # warm-up: one-off costs of the first fit in a process
    for config in args.configs:
        k, n = (int(v) for v in config.split("x"))
        where = (
            f"{args.pair}, {n} points per source" if args.pair else f"{k} source(s) x {n} points"
        )
        print(f"{where}, {args.iterations} iterations from 5 target points")
        print(
            "| method | s per iteration | fit share | L-BFGS iterations | evaluations "
            "| ms per evaluation |"
        )
        print("|---|---|---|---|---|---|")
        profiles = []
        for name in args.methods:
            if args.profile:
                from pyinstrument import Profiler

                profiler = Profiler(interval=0.005)
                profiler.start()
            r = loop(name, k, n, args.iterations, args.pair)
            if args.profile:
                profiler.stop()
                text = profiler.output_text(flat=True, show_all=False)
                rows = [line for line in text.splitlines() if line[:1].isdigit()]
                profiles.append((name, "\n".join(rows[:12])))
            print(
                f"| {name} | {r['per_iter']:.2f} | {r['fit_share']:.0%} | {r['nit']:.0f} "
                f"| {r['nfev']:.0f} | {r['ms_per_eval']:.1f} |",
                flush=True,
            )
        for name, text in profiles:
            print(f"\npyinstrument, {name} ({config}), functions by own time:\n```\n{text}\n```")
        print()


if __name__ == "__main__":
    main()
