"""What pinning MKL's code path costs, and what it buys.

    python benchmarks/perf/math_mode.py [--rounds 3] [--budget 20]

For each MKL mode (the library's default, i.e. ``BO_TRANSFER_NO_PIN=1``;
the suite's pinned ``MKL_CBWR=AUTO``; ``MKL_CBWR=COMPATIBLE``), a fresh
process runs 8 seeds of cold-gp and of prior-mean on a 2-D GP-sample pair,
once as one seed block and once as 8 lone runs, and reports the seconds and
whether each block run equals its lone run bit for bit. Modes alternate
within each round, so a busy machine slows them alike; the summary is each
mode's median time relative to the default's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

MODES = {
    "default (unpinned)": {"BO_TRANSFER_NO_PIN": "1"},
    "MKL_CBWR=AUTO (pinned)": {"MKL_CBWR": "AUTO"},
    "MKL_CBWR=COMPATIBLE": {"MKL_CBWR": "COMPATIBLE"},
}

CHILD = """
import json, sys, time
import torch
from bo_transfer.sweep import RunSpec, run_one
from bo_transfer.sweep.block import run_block
torch.set_num_threads(1)
budget = int(sys.argv[1])
out = {}
for method in ("cold-gp", "prior-mean"):
    specs = [RunSpec("gp:rho=0.9,dim=2", method, s, budget, 5, 20) for s in range(8)]
    t0 = time.perf_counter(); block = run_block(specs); t_block = time.perf_counter() - t0
    t0 = time.perf_counter(); alone = [run_one(s) for s in specs]
    t_alone = time.perf_counter() - t0
    same = sum(a.X == b.X and a.y == b.y for a, b in zip(block, alone))
    out[method] = {"block_s": t_block, "alone_s": t_alone, "identical": same}
print(json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--budget", type=int, default=20)
    args = ap.parse_args()
    base = {k: v for k, v in os.environ.items() if k not in ("MKL_CBWR", "BO_TRANSFER_NO_PIN")}
    times: dict[str, list[float]] = {m: [] for m in MODES}
    identical: dict[str, list[int]] = {m: [] for m in MODES}
    for _ in range(args.rounds):
        for mode, env in MODES.items():
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(args.budget)],
                env={**base, **env, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
                capture_output=True,
                text=True,
                check=True,
            )
            res = json.loads(out.stdout.strip().splitlines()[-1])
            times[mode].append(sum(r["block_s"] + r["alone_s"] for r in res.values()))
            identical[mode].append(sum(r["identical"] for r in res.values()))
    ref = statistics.median(times["default (unpinned)"])
    print(f"{args.rounds} rounds, 2 methods x 8 seeds, block + alone, budget {args.budget}")
    print("| mode | time / default | block runs equal to lone runs (of 16) |")
    print("|---|---|---|")
    for mode in MODES:
        ratio = statistics.median(times[mode]) / ref
        print(f"| {mode} | {ratio:.2f} | {min(identical[mode])}-{max(identical[mode])} |")


if __name__ == "__main__":
    main()
