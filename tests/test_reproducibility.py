"""What the suite reproduces where (``bo_transfer.reproducibility``): problems,
source data and initial designs exact under another maths-library code path;
the first BO proposal within tolerance; the code-path mode pinned; every run
recording where it was computed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from bo_transfer.reproducibility import FIRST_PROPOSAL_ATOL, PINNED, math_library
from bo_transfer.sweep import RunSpec, run_one
from bo_transfer.sweep.runner import RunLoop, RunResult

ROOT = Path(__file__).resolve().parents[1]

#: Other code paths of MKL than the one this process runs (the suite pins
#: ``MKL_CBWR=AUTO``): its SSE4.2-era compatible kernels, and the default mode
#: that picks kernels by shape and alignment.
OTHER_PATHS = {
    "COMPATIBLE": {"MKL_CBWR": "COMPATIBLE"},
    "unpinned SSE4_2": {"BO_TRANSFER_NO_PIN": "1", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
}

PAIRS = [
    "gp:rho=0.9;-0.5,dim=2",
    "negate:pair=gp:rho=0.5,dim=3",
    "branin",
    "hartmann:dim=3",
    "shift:base=hartmann3",
    "forrester",
]

#: Prints, per pair and seed, everything that must be exact on any machine:
#: values at fixed points and on the reference set, the certified optimum,
#: source data, and the initial designs of a Sobol-started and a
#: source-started method (with their values).
EXACT = """
import json, sys, torch
import bo_transfer
from bo_transfer.problems import get_pair
from bo_transfer.sweep import RunSpec
from bo_transfer.sweep.runner import RunLoop, RunResult
out = {}
for name in json.loads(sys.argv[1]):
    for seed in (3,):
        pair = get_pair(name, seed)
        gen = torch.Generator().manual_seed(1)
        X = torch.rand(16, pair.dim, generator=gen, dtype=torch.float64)
        rec = {
            "values": pair.target(X).tolist(),
            "reference": pair.target.reference_values.sum().item(),
            "range": pair.target.value_range,
            "optimum": pair.target.optimal_value,
            "sources": [
                [d.X.tolist(), d.Y.tolist()] for d in pair.source_data(seed, 12, "sobol", 0.1)
            ],
        }
        for method in ("cold-gp", "init-transfer"):
            spec = RunSpec(name, method, seed, 5, 5, 12)
            result = RunResult(spec, status="running")
            RunLoop(spec, result).start()
            rec[method] = [result.X, result.y]
        out[f"{name}#{seed}"] = rec
print(json.dumps(out))
"""

FIRST = """
import json, sys
import bo_transfer
from bo_transfer.sweep import RunSpec, run_one
out = {}
for method in ("cold-gp", "prior-mean", "rgpe"):
    r = run_one(RunSpec("gp:rho=0.9;-0.5,dim=2", method, 1, 6, 5, 12))
    out[method] = [r.status, r.X]
print(json.dumps(out))
"""


def _child(code: str, env: dict[str, str], *args: str, cache: Path | None = None) -> dict:
    """``code`` in a fresh process with ``env``; its certified optima go to
    ``cache`` (a fresh folder: certified anew there, not read from this
    session's cache)."""
    base = {k: v for k, v in os.environ.items() if k not in ("MKL_CBWR", "BO_TRANSFER_NO_PIN")}
    if cache is not None:
        base["BO_TRANSFER_CACHE"] = str(cache)
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**base, **env, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def exact_here(tmp_path_factory) -> dict:
    return _child(EXACT, {}, json.dumps(PAIRS), cache=tmp_path_factory.mktemp("here"))


@pytest.mark.parametrize("path", OTHER_PATHS)
def test_problems_source_data_and_initial_designs_are_exact_on_another_code_path(
    exact_here, path, tmp_path
):
    """What pairs runs across methods and machines is the same to the last bit
    under another MKL code path (it was not for GP-sample landscapes, whose
    features went through the BLAS)."""
    # One path certifies its optima afresh; the other reads this session's cache.
    fresh = tmp_path if path == "COMPATIBLE" else None
    there = _child(EXACT, OTHER_PATHS[path], json.dumps(PAIRS), cache=fresh)
    assert there.keys() == exact_here.keys()
    for key, rec in exact_here.items():
        for field in ("values", "reference", "range", "sources", "cold-gp", "init-transfer"):
            assert there[key][field] == rec[field], (key, field)
        # The optimum is the exact function's value at the point a polish found
        # (scipy's L-BFGS-B may round differently on another CPU): within rounding.
        assert abs(there[key]["optimum"] - rec["optimum"]) <= 1e-12 * rec["range"], key


def test_the_first_proposal_agrees_on_another_code_path():
    here = _child(FIRST, {})
    there = _child(FIRST, OTHER_PATHS["COMPATIBLE"])
    for method, (status, X) in here.items():
        status_there, X_there = there[method]
        assert status == status_there == "done"
        assert X[:5] == X_there[:5], method  # the initial design: exact
        gap = np.max(np.abs(np.asarray(X[5]) - np.asarray(X_there[5])))
        assert gap <= FIRST_PROPOSAL_ATOL, (method, gap)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, PINNED["MKL_CBWR"]),
        ({"MKL_CBWR": "COMPATIBLE"}, "COMPATIBLE"),  # the user's choice is kept
        ({"BO_TRANSFER_NO_PIN": "1"}, "unset"),
    ],
)
def test_importing_the_suite_pins_the_code_path_unless_told_otherwise(env, expected):
    code = "import os, bo_transfer; print(os.environ.get('MKL_CBWR', 'unset'))"
    base = {k: v for k, v in os.environ.items() if k not in ("MKL_CBWR", "BO_TRANSFER_NO_PIN")}
    proc = subprocess.run(
        [sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True
    )
    assert proc.stdout.strip() == expected


def test_every_run_records_the_cpu_maths_library_and_threads(tiny_results):
    from bo_transfer.sweep import ResultStore

    with ResultStore(tiny_results) as store:
        meta = [json.loads(m) for m in store.runs_frame()["metadata"]]
    for m in meta:
        lib = m["math_library"]
        assert lib["cpu"] and lib["blas"] != "unknown"
        assert lib["MKL_CBWR"] == os.environ.get("MKL_CBWR")
        assert lib["torch_threads"] == 1  # one thread per worker


def test_the_math_library_record_names_this_process():
    lib = math_library()
    assert lib["torch_threads"] == torch.get_num_threads()
    assert lib["aten_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    if "Math Kernel Library" in torch.__config__.show():
        assert lib["blas"].startswith("MKL ")


def test_a_run_records_its_math_library_in_the_result():
    spec = RunSpec("forrester", "random", 0, 4, 3, 4)
    result = RunResult(spec, status="running")
    RunLoop(spec, result)
    assert result.metadata["math_library"]["MKL_CBWR"] == os.environ.get("MKL_CBWR", "unset")
    assert run_one(spec).metadata["math_library"]["cpu"]


def test_fixed_order_sums_agree_with_an_exactly_rounded_sum():
    """The fixed-order helpers against math.fsum (the correctly rounded sum) and
    torch's own products: the same values to rounding, whatever the shape."""
    import math

    from bo_transfer.problems.exact import fixed_dot, fixed_matmul, fixed_sum

    gen = torch.Generator().manual_seed(0)
    for n in (1, 2, 7, 1024, 1025):
        t = torch.randn(3, n, generator=gen, dtype=torch.float64)
        exact = torch.tensor([math.fsum(row.tolist()) for row in t], dtype=torch.float64)
        scale = t.abs().sum(-1)
        assert ((fixed_sum(t, -1) - exact).abs() <= 1e-14 * scale).all(), n
        assert torch.equal(fixed_sum(t.T, 0), fixed_sum(t, -1))
    X = torch.rand(50, 4, generator=gen, dtype=torch.float64)
    W = torch.randn(4, 64, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(fixed_matmul(X, W), X @ W, rtol=1e-13, atol=1e-13)
    w = torch.randn(64, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(fixed_dot(X @ W, w), (X @ W) @ w, rtol=1e-12, atol=1e-12)


def test_a_gp_sample_landscape_is_its_random_fourier_features_through_the_blas():
    """The exact landscape equals the textbook computation sqrt(2/M) cos(XW + b) w
    (Rahimi and Recht 2007) done with torch's matrix products, to rounding."""
    from bo_transfer.problems import get_pair

    pair = get_pair("gp:rho=0.7;-0.4,dim=3", 2)
    X = torch.rand(200, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    for problem in (pair.target, *pair.sources):
        scale = problem.value_range
        assert (problem(X) - problem.search(X)).abs().max() <= 1e-12 * scale
