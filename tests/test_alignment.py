"""The alignment trace: what it measures, that it changes no run, and its export."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from bo_transfer.analysis import load_results
from bo_transfer.methods import sources as source_module
from bo_transfer.methods.alignment import alignment_at, alignment_scores
from bo_transfer.problems.pair import get_pair
from bo_transfer.sweep import LocalExecutor, Sweep, run_sweep
from bo_transfer.sweep.runner import RunSpec, run_one


def test_scores_are_kendalls_tau_and_the_cosine_of_standardized_vectors():
    rng = np.random.default_rng(0)
    y = rng.normal(size=12)
    predicted = np.stack([2 * y + 1, -y, rng.normal(size=12)], axis=1)
    s = alignment_scores(predicted, y)
    assert s["n"] == 12
    assert s["tau"][:2] == pytest.approx([1.0, -1.0])
    assert s["cosine"][:2] == pytest.approx([1.0, -1.0])
    assert s["tau"][2] == pytest.approx(stats.kendalltau(predicted[:, 2], y).statistic)
    assert s["cosine"][2] == pytest.approx(np.corrcoef(predicted[:, 2], y)[0, 1])


def test_scores_are_undefined_below_three_finite_points_or_for_a_constant():
    y = np.array([1.0, np.nan, 2.0, np.nan])
    assert alignment_scores(np.ones((4, 1)) * np.arange(4)[:, None], y) == {
        "tau": [None],
        "cosine": [None],
        "n": 2,
    }
    assert alignment_scores(np.ones((3, 1)), np.arange(3.0))["tau"] == [None]


def test_an_anticorrelated_source_scores_negative_and_an_aligned_one_positive():
    X = torch.rand(20, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for rho, sign in ((0.9, 1), (-0.9, -1)):
        pair = get_pair(f"gp:rho={rho},dim=2")
        s = alignment_at(pair.source_data(0, 32), X, pair.target(X))
        assert sign * s["tau"][0] > 0.4 and sign * s["cosine"][0] > 0.5


@pytest.mark.parametrize("method", ["prior-mean", "rgpe", "cold-gp"])
def test_the_trace_changes_no_proposal(method, monkeypatch):
    """A run's trajectory is bit-identical with and without the trace, also
    when the trace's source fits were cached by an earlier run of the process
    (the method then loads them instead of fitting)."""
    spec = RunSpec(pair="gp:rho=0.5,dim=2", method=method, seed=3, budget=8, n_init=4, n_source=16)
    monkeypatch.setattr(source_module, "_SOURCE_FITS", type(source_module._SOURCE_FITS)())
    without = run_one(spec, trace_alignment=False)
    source_module._SOURCE_FITS.clear()
    run_one(RunSpec(**{**spec.__dict__, "method": "random"}))  # fills the cache
    traced = run_one(spec)
    assert traced.status == without.status == "done"
    assert traced.X == without.X and traced.y == without.y
    assert "alignment" not in without.metadata
    trace = traced.metadata["alignment"]
    assert trace["n"] == list(range(1, 9))
    assert len(trace["tau"]) == len(trace["cosine"]) == 8
    assert trace["tau"][:2] == [[None], [None]] and trace["tau"][-1][0] is not None


def test_the_trace_after_n_points_scores_the_first_n_points():
    spec = RunSpec(
        pair="gp:rho=0.5,dim=2", method="random", seed=0, budget=9, n_init=3, n_source=16
    )
    result = run_one(spec)
    pair = get_pair(spec.pair, spec.seed)
    X, y = torch.tensor(result.X), torch.tensor(result.y)
    for n in (3, 6, 9):
        expected = alignment_at(pair.source_data(spec.seed, 16), X[:n], y[:n])
        assert result.metadata["alignment"]["tau"][n - 1] == pytest.approx(expected["tau"])
        assert result.metadata["alignment"]["cosine"][n - 1] == pytest.approx(expected["cosine"])


def test_the_export_has_alignment_columns_per_source_and_over_sources(tmp_path):
    sweep = Sweep.from_dict(
        {
            "name": "aligned",
            "seeds": 1,
            "budget": 5,
            "n_init": 3,
            "n_source": 12,
            "pairs": ["gp:rho=0.9;-0.9,dim=2"],
            "methods": ["random"],
        }
    )
    assert run_sweep(sweep, tmp_path, executor=LocalExecutor(1)).failed == 0
    df = load_results(tmp_path)
    assert list(df["alignment_n"]) == [1, 2, 3, 4, 5]
    late = df.iloc[-1]
    for score in ("tau", "cosine"):
        per_source = [late[f"alignment_{score}_s0"], late[f"alignment_{score}_s1"]]
        assert per_source[0] > 0 > per_source[1]
        assert late[f"alignment_{score}_mean"] == pytest.approx(np.mean(per_source))
        assert late[f"alignment_{score}_worst"] == min(per_source)
    assert df["alignment_tau_mean"].iloc[:2].isna().all()


def test_a_source_model_that_cannot_be_fitted_leaves_the_run_without_a_trace(monkeypatch):
    from bo_transfer.methods import alignment

    def broken(sources):
        raise ValueError("Input data contains NaN values.")

    monkeypatch.setattr(alignment, "source_posteriors", broken)
    spec = RunSpec(pair="forrester", method="random", seed=0, budget=5, n_init=3, n_source=8)
    result = run_one(spec)
    assert result.status == "done" and len(result.y) == 5
    assert "alignment" not in result.metadata
    assert "NaN" in result.metadata["alignment_error"]
