"""Run every performance harness and write ``benchmarks/perf/RESULTS.md``.

    python benchmarks/perf/run_all.py [--out benchmarks/perf/RESULTS.md] [--cuda]

Each harness runs in its own process. Where ``taskset`` exists, single-thread
timings are pinned to core 0 and the throughput sweep to cores 0-1 (the 2-core
setting the targets are stated for), so a bigger machine measures the same
thing; the per-method cost table runs its single-threaded runs in parallel on
the remaining cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent


def pinned(cores: str) -> list[str]:
    return ["taskset", "-c", cores] if shutil.which("taskset") else []


def single_thread_env() -> dict[str, str]:
    """This environment with one BLAS thread per library, set before a harness
    imports anything: SciPy's OpenBLAS, once loaded, keeps the threads it
    started with, and they spin through every L-BFGS-B step of a batched fit
    (2 ms a call on a busy machine, measured: batched mtgp fits ran 1.7x the
    sequential ones' time instead of 0.25x)."""
    return {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }


def machine() -> str:
    import botorch
    import gpytorch
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores visible; Python {platform.python_version()}, "
        f"torch {torch.__version__}, BoTorch {botorch.__version__}, GPyTorch {gpytorch.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"))
    parser.add_argument("--cuda", action="store_true", help="also time batched seeds on the GPU")
    parser.add_argument("--cost-workers", type=int, default=max(1, (os.cpu_count() or 2) - 2))
    parser.add_argument("--throughput-seeds", type=int, default=10)
    parser.add_argument(
        "--cost-configs",
        nargs="*",
        default=["1x32", "5x32", "1x256", "5x256"],
        help="SOURCESxPOINTS",
    )
    parser.add_argument("--step-timeout", type=int, default=1800, help="seconds per harness")
    parser.add_argument("--skip", nargs="*", default=[], help="skip steps whose title has this")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="every harness at its smallest size (seconds): checks that they run, measures nothing",
    )
    args = parser.parse_args()
    py = [sys.executable]
    small = args.smoke
    steps = [
        (
            "cold-gp vs the hand-written BoTorch loop (one thread)",
            pinned("0")
            + py
            + [str(HERE / "reference.py")]
            + (
                ["--reps", "1", "--budget", "7", "--dims", "2"]
                if small
                else ["--reps", "3", "--budget", "25"]
            ),
        ),
        (
            "Batched seeds vs sequential runs: per method (one thread) and a study-shaped sweep",
            pinned("0,1")
            + py
            + [str(HERE / "batched.py")]
            + (
                [
                    "--seeds",
                    "2",
                    "--budget",
                    "7",
                    "--dims",
                    "2",
                    "--methods",
                    "cold-gp",
                    "rgpe",
                    "--workers",
                    "1",
                ]
                if small
                else ["--method-budget", "30"]
            ),
        ),
        (
            "Sweep throughput (quickstart, 2 cores)",
            pinned("0,1")
            + py
            + [str(HERE / "throughput.py"), "--seeds", "2" if small else str(args.throughput_seeds)]
            + (["--budget", "4"] if small else []),
        ),
        (
            "Per-iteration cost of each method relative to cold-gp",
            py
            + [str(HERE / "method_cost.py"), "--workers", str(args.cost_workers)]
            + (
                [
                    "--seeds",
                    "1",
                    "--budget",
                    "7",
                    "--configs",
                    "1x8",
                    "--methods",
                    "cold-gp",
                    "prior-mean",
                ]
                if small
                else ["--seeds", "1", "--budget", "10", "--configs", *args.cost_configs]
            ),
        ),
        (
            "Where mtgp's time goes: L-BFGS iterations x cost per evaluation (one thread)",
            pinned("0")
            + py
            + [str(HERE / "profile_fit.py")]
            + (
                ["--configs", "1x8", "--methods", "cold-gp", "mtgp", "--iterations", "1"]
                if small
                else ["--configs", "1x32", "5x32", "--profile"]
            ),
        ),
        (
            "Report and export at scale (10,000 runs x 50 iterations)",
            pinned("0")
            + py
            + [str(HERE / "report_scale.py")]
            + (["--runs", "100", "--iterations", "5"] if small else []),
        ),
        (
            "Vectorized seeds: batched vs sequential GP fits, CPU (one thread)",
            pinned("0")
            + py
            + [str(HERE / "batched_seeds.py"), "--device", "cpu"]
            + (["--sizes", "2", "--n", "8", "--reps", "1"] if small else []),
        ),
        (
            "Warm-started hyperparameters on the same data (one thread)",
            pinned("0") + py + [str(HERE / "warm_start.py")] + (["--smoke"] if small else []),
        ),
        (
            "RGPE weights on fixed data: ours vs the paper's definition",
            py + [str(HERE.parent / "rgpe_weights.py")] + (["--samples", "16"] if small else []),
        ),
    ]
    if args.cuda:
        steps.append(
            (
                "Vectorized seeds: batched vs sequential GP fits, CUDA",
                py
                + [str(HERE / "batched_seeds.py"), "--device", "cuda"]
                + ["--sizes", "8", "16", "64"],
            )
        )
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join(["python", "benchmarks/perf/run_all.py", *sys.argv[1:]])
    lines = [
        "# Performance results",
        "",
        f"Produced by `{command}` on {when}.",
        "",
        f"Machine: {machine()}.",
        "",
    ]
    steps = [(t, c) for t, c in steps if not any(s.lower() in t.lower() for s in args.skip)]
    failed = []
    for title, cmd in steps:
        print(f"== {title}", flush=True)
        try:
            proc = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                timeout=args.step_timeout,
                env=single_thread_env(),
            )
            body = proc.stdout.strip() or f"(failed: {proc.stderr.strip().splitlines()[-1:]})"
            if proc.returncode != 0:
                failed.append(title)
                body += f"\n(exit code {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]})"
        except subprocess.TimeoutExpired as exc:
            partial = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
            body = partial.strip() + f"\n(stopped after {args.step_timeout} s)"
            failed.append(title)
        print(body, flush=True)
        shown = " ".join(Path(c).name if "/" in c else c for c in cmd)
        lines += [f"## {title}", "", f"`{shown}`", "", body, ""]
        Path(args.out).write_text("\n".join(lines))  # keep what is done if a later step dies
    print(f"wrote {args.out}")
    if failed:
        print(f"failed: {'; '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
