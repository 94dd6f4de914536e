"""Sweep throughput: runs per minute of one spec with 1 and 2 local workers and a
Dask LocalCluster, measured in one process, one after the other.

    python benchmarks/perf/throughput.py [SPEC] [--seeds N] [--budget B] [--repeats R]

Prints runs/minute per executor and the ratios the targets are stated in:
2 workers vs 1 (target >= 1.8x on 2 cores) and the Dask LocalCluster's overhead
vs the local pool at the same worker count (goal <= 10%). Wall times include
starting the worker processes, as a user's sweep does.

Also the machine's own ceiling for that speed-up: the spec's seeds split in two
halves, each run by an independent one-worker sweep in its own process, both
at once, against the one-worker sweep of all runs. A shared VM's two vCPUs may
not deliver two cores' worth of work; the pool's efficiency is its speed-up
over that ceiling.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import platform
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bo_transfer.sweep import DaskExecutor, LocalExecutor, Sweep, run_sweep


def timed(sweep: Sweep, executor) -> float:
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        summary = run_sweep(sweep, Path(out), executor=executor)
        wall = time.perf_counter() - t0
    assert summary.failed == 0, summary.lines()
    return wall


def _half(sweep: Sweep) -> None:
    from bo_transfer.sweep.executors import set_single_thread

    set_single_thread()
    timed(sweep, LocalExecutor(1))


def independent_halves(sweep: Sweep) -> float:
    """Wall time of two independent one-worker sweeps (half the seeds each), at once."""
    seeds = sweep.seeds
    halves = [
        replace(sweep, seeds=seeds[: len(seeds) // 2]),
        replace(sweep, seeds=seeds[len(seeds) // 2 :]),
    ]
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_half, args=(h,)) for h in halves]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert all(p.exitcode == 0 for p in procs)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "spec", nargs="?", default=str(Path(__file__).resolve().parents[1] / "quickstart.toml")
    )
    parser.add_argument("--budget", type=int, help="override the spec's budget")
    parser.add_argument("--seeds", type=int, help="override the spec's seed count")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    sweep = Sweep.from_toml(args.spec)
    if args.seeds:
        sweep = replace(sweep, seeds=tuple(range(args.seeds)))
    if args.budget:
        sweep = replace(sweep, budget=args.budget)
    n = len(sweep.runs())
    executors = {
        "local, 1 worker": lambda: LocalExecutor(1),
        "local, 2 workers": lambda: LocalExecutor(2),
        "dask LocalCluster, 2 workers": lambda: DaskExecutor("local", workers=2),
    }
    walls: dict[str, list[float]] = {k: [] for k in executors}
    walls["two independent 1-worker sweeps, half the seeds each, at once"] = []
    for _ in range(args.repeats):  # alternate, so drifting load hits every executor alike
        for name, make in executors.items():
            walls[name].append(timed(sweep, make()))
        walls["two independent 1-worker sweeps, half the seeds each, at once"].append(
            independent_halves(sweep)
        )
    best = {k: min(v) for k, v in walls.items()}
    print(f"{args.spec}: {n} runs, {platform.processor() or platform.machine()}")
    print("| executor | wall s | runs / min |")
    print("|---|---|---|")
    for name, wall in best.items():
        print(f"| {name} | {wall:.1f} | {60 * n / wall:.1f} |")
    speedup = best["local, 1 worker"] / best["local, 2 workers"]
    ceiling = (
        best["local, 1 worker"]
        / best["two independent 1-worker sweeps, half the seeds each, at once"]
    )
    overhead = best["dask LocalCluster, 2 workers"] / best["local, 2 workers"] - 1
    print(f"speed-up, 2 workers vs 1: {speedup:.2f}x (target >= 1.8x)")
    print(
        f"machine ceiling, two independent processes vs 1: {ceiling:.2f}x "
        f"(the pool reaches {speedup / ceiling:.0%} of it)"
    )
    print(f"Dask LocalCluster overhead vs local pool: {100 * overhead:+.1f}% (goal <= 10%)")


if __name__ == "__main__":
    main()
