"""Time and memory of `bo-transfer report` on a large synthetic store.

Fills DIR/results.sqlite (through ResultStore's schema) with ``--runs`` finished
runs of ``--iterations`` evaluations each (synthetic regret curves, 20 pairs x
10 methods by default), then runs the report command in a subprocess and prints
its wall time and peak memory (from ``/usr/bin/time``, or resource when absent).

    python benchmarks/report_perf.py /tmp/perf --runs 10000 --iterations 50
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bo_transfer.sweep.store import ResultStore


def fill(directory: Path, n_runs: int, n_iter: int, n_pairs: int, n_methods: int) -> None:
    rng = np.random.default_rng(0)
    n_seeds = max(1, n_runs // (n_pairs * n_methods))
    methods = ["random", "cold-gp"] + [f"warm-{i}" for i in range(n_methods - 2)]
    with ResultStore(directory, create=True) as store, store.conn:
        for p in range(n_pairs):
            rho = -0.9 + 1.8 * p / max(1, n_pairs - 1)
            pair = f"gp:rho={rho:.2f},dim=2,lengthscale=0.2,instance=0"
            for mi, method in enumerate(methods):
                for seed in range(n_seeds):
                    key = f"{p}-{mi}-{seed}"
                    store.conn.execute(
                        "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (key, pair, "gp", method, "cold-gp" if mi else "random", "{}", seed,
                         n_iter, 3, 32, "done", "", "", 0.0, 1.0, 1, rho, rho, 0.1,
                         1.0, 0.5, 0.5, "{}", "2026-01-01T00:00:00"),
                    )  # fmt: skip
                    y = 10 ** (rng.normal(0, 0.3) - 0.05 * (1 + mi % 3) * np.arange(n_iter))
                    store.conn.executemany(
                        "INSERT INTO evals VALUES (?,?,?,?,?)",
                        [(key, i + 1, json.dumps([0.5, 0.5]), float(v), 0.01)
                         for i, v in enumerate(y)],
                    )  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--iterations", type=int, default=50)
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--methods", type=int, default=10)
    args = ap.parse_args()
    if not (args.dir / "results.sqlite").exists():
        fill(args.dir, args.runs, args.iterations, args.pairs, args.methods)
    cmd = [sys.executable, "-m", "bo_transfer", "report", str(args.dir), "--at", "10,25"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"report: {wall:.1f} s wall, peak RSS {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
