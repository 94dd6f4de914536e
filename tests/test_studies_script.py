"""scripts/studies.py --quick, the check that the study pipeline works, runs
every study end to end (into runs/quick/, which git ignores)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_studies_run_export_and_report_every_study():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "studies.py"), "--quick", "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    for study in ("correlation", "literature", "multisource"):
        report = ROOT / "runs" / "quick" / study / "report"
        for name in ("results.parquet", "table.md", "table_at.csv", "index.html"):
            assert (report / name).is_file(), (study, name)
        record = json.loads((report / "run.json").read_text())
        assert record["spec"] == f"runs/quick/{study}.toml"
        assert record["command"] == f"python scripts/studies.py {study} --quick"
        assert len(record["commit"].split()[0]) == 40  # a git sha
        assert record["sessions"][-1]["wall_s"] >= 0
        # where the runs were computed: what a bit-for-bit re-run must match
        (lib,) = record["math_library"]
        assert lib["cpu"] and lib["blas"] and lib["MKL_CBWR"] and lib["torch_threads"] == 1
