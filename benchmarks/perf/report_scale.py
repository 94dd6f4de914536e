"""``report`` and ``export`` on a large synthetic store.

    python benchmarks/perf/report_scale.py [--runs 10000] [--iterations 50]

Writes a results store of ``--runs`` finished runs x ``--iterations``
evaluations (20 pairs x 5 methods x seeds, regret curves with a per-method
drift) straight through SQLite, then times ``bo-transfer report`` and
``bo-transfer export`` on it in subprocesses and reports their peak memory
(max RSS). Targets: report under 30 s and 2 GB.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from bo_transfer.sweep.runner import RunSpec
from bo_transfer.sweep.store import ResultStore


def build_store(directory: Path, runs: int, iterations: int) -> None:
    with ResultStore(directory, create=True) as store:
        store.set_meta("spec", json.dumps({"name": "synthetic"}))
    pairs = [f"gp:rho={r:.1f},dim=2,lengthscale=0.2,instance=0" for r in np.linspace(-0.9, 0.9, 20)]
    methods = ["random", "cold-gp", "init-transfer", "prior-mean", "pooled-gp"]
    seeds = max(1, runs // (len(pairs) * len(methods)))
    rng = np.random.default_rng(0)
    conn = sqlite3.connect(directory / "results.sqlite")
    run_rows, eval_rows = [], []
    for p, pair in enumerate(pairs):
        for m, method in enumerate(methods):
            for seed in range(seeds):
                key = f"{p:02d}{m:02d}{seed:012d}"
                spec = RunSpec(pair, method, seed, iterations, 5, 32, label=method)
                run_rows.append(
                    (
                        key,
                        pair,
                        "gp",
                        method,
                        method,
                        "{}",
                        json.dumps(asdict(spec), sort_keys=True),
                        seed,
                        iterations,
                        5,
                        32,
                        "done",
                        "",
                        "",
                        0.0,
                        4.0,
                        1,
                        float(np.linspace(-0.9, 0.9, 20)[p]),
                        0.0,
                        0.5,
                        1.0,
                        0.5,
                        0.5,
                        "{}",
                        "2026-01-01T00:00:00+00:00",
                    )
                )
                y = 4.0 * np.exp(-0.05 * (1 + 0.1 * m) * np.arange(iterations))
                y = y * rng.lognormal(0, 0.3, iterations)
                eval_rows += [(key, i + 1, "[0.5, 0.5]", float(v), 0.1) for i, v in enumerate(y)]
    with conn:
        conn.executemany(f"INSERT INTO runs VALUES ({','.join('?' * 25)})", run_rows)
        conn.executemany("INSERT INTO evals VALUES (?,?,?,?,?)", eval_rows)
    conn.close()


_MEASURE = (
    "import resource, subprocess, sys, time\n"
    "t0 = time.perf_counter()\n"
    "rc = subprocess.run(sys.argv[1:], capture_output=True).returncode\n"
    "print(rc, time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall time and peak RSS (MiB) of ``cmd``, measured in a fresh parent so the
    peak is this command's alone."""
    out = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True)
    rc, wall, kib = out.stdout.split()
    if rc != "0":
        raise SystemExit(f"{cmd} failed")
    return float(wall), int(kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--iterations", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "big"
        t0 = time.perf_counter()
        build_store(d, args.runs, args.iterations)
        print(
            f"store: {args.runs} runs x {args.iterations} iterations, built in "
            f"{time.perf_counter() - t0:.1f} s"
        )
        cli = [sys.executable, "-m", "bo_transfer"]
        wall, mem = timed(cli + ["report", str(d), "--out", str(Path(tmp) / "rep")])
        print(f"report: {wall:.1f} s, peak RSS {mem:.0f} MiB (targets: < 30 s, < 2048 MiB)")
        wall, mem = timed(cli + ["export", str(d), "--out", str(Path(tmp) / "all.csv")])
        print(f"export csv: {wall:.1f} s, peak RSS {mem:.0f} MiB")


if __name__ == "__main__":
    main()
