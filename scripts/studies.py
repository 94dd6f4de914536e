"""Regenerate the reference studies committed under ``results/`` from their specs.

    python scripts/studies.py [correlation literature multisource] [--workers N]
    python scripts/studies.py --quick          # minutes: checks the pipeline only

For each study ``S`` (default: all three): ``bo-transfer run
benchmarks/S.toml --out runs/S`` (resumable: run the same command again after
an interruption), then ``bo-transfer export runs/S --format parquet --out
results/S/results.parquet`` and ``bo-transfer report
results/S/results.parquet --out results/S --at 10,20``, so the committed
tables are the report of the committed export. ``results/S/run.json``
records what produced them: the spec, the commit, package versions, the
machine and the sweep's wall time (summed over the sessions that finished;
one cut short by a kill is not counted).

``--quick`` runs every study at 2 seeds and a budget of 8 on its first and
last pairs into ``runs/quick/`` and reports there; ``results/`` is untouched.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ("correlation", "literature", "multisource")


def bo_transfer(*args: str) -> None:
    command = [sys.executable, "-m", "bo_transfer", *args]
    print("+", " ".join(["bo-transfer", *args]), flush=True)
    code = subprocess.run(command, cwd=ROOT).returncode
    if code not in (0, 1):  # 1: some runs failed; the report says which
        raise SystemExit(f"bo-transfer {args[0]} exited with {code}")


def quick_spec(study: str, out: Path) -> Path:
    """The study's spec at 2 seeds, budget 8, on its first and last pairs."""
    spec = tomllib.loads((ROOT / "benchmarks" / f"{study}.toml").read_text())
    pairs = spec.pop("pairs")
    if isinstance(pairs, list) and pairs and isinstance(pairs[0], dict):
        pairs = [{k: v[:1] + v[-1:] if isinstance(v, list) else v for k, v in pairs[0].items()}]
    else:
        pairs = pairs[:1] + pairs[-1:]
    spec.update(name=f"quick-{study}", seeds=2, budget=8, n_init=3, batch_seeds=2)
    lines = [f"{k} = {json.dumps(v)}" for k, v in spec.items()]
    if isinstance(pairs[0], dict):
        lines += ["[[pairs]]"] + [f"{k} = {json.dumps(v)}" for k, v in pairs[0].items()]
    else:
        lines.insert(0, f"pairs = {json.dumps(pairs)}")
    path = out / f"{study}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def versions() -> dict[str, str]:
    from importlib.metadata import version

    out = {"python": platform.python_version()}
    for pkg in ("bo_transfer", "botorch", "gpytorch", "torch", "numpy", "scipy", "pandas"):
        out[pkg] = version(pkg)
    return out


def math_libraries(runs: Path) -> list[dict]:
    """The distinct CPU / maths-library records of the sweep's stored runs
    (``bo_transfer.reproducibility.math_library``, as each worker saw it)."""
    from bo_transfer.sweep import ResultStore

    seen: dict[str, dict] = {}
    with ResultStore(runs) as store:
        for meta in store.runs_frame()["metadata"]:
            lib = json.loads(meta).get("math_library")
            if lib is not None:
                seen.setdefault(json.dumps(lib, sort_keys=True), lib)
    return list(seen.values())


def commit() -> str:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "bo_transfer", "benchmarks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return head.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def regenerate(study: str, workers: list[str], quick: bool) -> None:
    runs = ROOT / "runs" / ("quick" if quick else "") / study
    spec = (
        quick_spec(study, ROOT / "runs" / "quick") if quick else ROOT / f"benchmarks/{study}.toml"
    )
    results = runs / "report" if quick else ROOT / "results" / study
    results.mkdir(parents=True, exist_ok=True)
    record = results / "run.json"
    previous = json.loads(record.read_text()) if record.exists() and not quick else {}
    at = commit()  # the code that computes the runs, before anything else can move HEAD
    t0 = time.perf_counter()
    bo_transfer("run", str(spec), "--out", str(runs), "--quiet", *workers)
    wall = time.perf_counter() - t0
    export = results / "results.parquet"
    bo_transfer("export", str(runs), "--format", "parquet", "--out", str(export))
    budgets = "4" if quick else "10,20"  # also judged at these, within the runs' budget
    bo_transfer("report", str(export), "--out", str(results), "--at", budgets)
    sessions = previous.get("sessions", []) + [
        {
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "wall_s": round(wall, 1),
            "commit": at,
        }
    ]
    record.write_text(
        json.dumps(
            {
                "spec": str(spec.relative_to(ROOT)),
                "command": f"python scripts/studies.py {study}" + (" --quick" if quick else ""),
                "commit": at,
                "versions": versions(),
                "machine": f"{platform.processor() or platform.machine()}, "
                f"{os.cpu_count()} CPUs visible",
                # what tells whether a re-run can reproduce the runs bit for bit
                "math_library": math_libraries(runs),
                "sessions": sessions,
                "wall_s_total": round(sum(s["wall_s"] for s in sessions), 1),
            },
            indent=2,
        )
        + "\n"
    )
    print(f"{study}: {record}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("studies", nargs="*", help=f"any of {', '.join(STUDIES)} (default: all)")
    parser.add_argument("--workers", type=int, help="worker processes (default: one per core)")
    parser.add_argument("--quick", action="store_true", help="2 seeds, budget 8: minutes")
    args = parser.parse_args()
    unknown = sorted(set(args.studies) - set(STUDIES))
    if unknown:
        parser.error(f"unknown study {unknown[0]!r}; choose from {', '.join(STUDIES)}")
    workers = ["--workers", str(args.workers)] if args.workers else []
    for study in args.studies or STUDIES:
        regenerate(study, workers, args.quick)


if __name__ == "__main__":
    main()
