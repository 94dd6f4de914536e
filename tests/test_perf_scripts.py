"""The performance harnesses run end to end (at their smallest sizes), so a
change of the package's interfaces or schema breaks a test here, not a script
nobody runs until the next measurement."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # 2-3 minutes: nine harnesses, each in a fresh process
def test_every_perf_harness_runs_at_its_smallest_size(tmp_path):
    out = tmp_path / "RESULTS.md"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/perf/run_all.py"), "--smoke", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = out.read_text()
    for title in (
        "cold-gp vs the hand-written BoTorch loop",
        "Batched seeds vs sequential runs",
        "Sweep throughput",
        "Per-iteration cost of each method",
        "Where mtgp's time goes",
        "Report and export at scale",
        "Vectorized seeds: batched vs sequential GP fits",
        "Warm-started hyperparameters",
        "RGPE weights on fixed data",
    ):
        assert f"## {title}" in text
    # batching changes no initial design, and the first proposals within tolerance
    assert "exports agree as promised (see bo_transfer.reproducibility): True" in text
    assert "(failed" not in text and "exit code" not in text
