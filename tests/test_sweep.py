import math
import sqlite3

import numpy as np
import pandas as pd
import pytest
import torch

from bo_transfer import columns as C
from bo_transfer.analysis import load_results
from bo_transfer.sweep import LocalExecutor, RunSpec, Sweep, run_one, run_sweep
from bo_transfer.sweep.store import ResultStore


def test_regret_is_never_negative_and_best_y_never_increases(tiny_results):
    df = load_results(tiny_results)
    assert (df[C.REGRET] >= 0).all()
    assert (df[C.NORMALIZED_REGRET] >= 0).all()
    for _, g in df.groupby(C.RUN_KEY):
        assert (np.diff(g.sort_values(C.ITERATION)[C.BEST_Y]) <= 0).all()
        assert g[C.ITERATION].tolist() == list(range(1, 7))


def test_export_has_the_contract_columns_first(tiny_results):
    df = load_results(tiny_results)
    assert list(df.columns[: len(C.EXPORT_COLUMNS)]) == C.EXPORT_COLUMNS
    assert len(df) == 2 * 4 * 3 * 6
    assert set(df[C.FAMILY]) == {"forrester"}


def test_runs_carry_the_pair_diagnostics(tiny_results):
    df = load_results(tiny_results)
    anti = df[df[C.PAIR].str.startswith("forrester:a=-1.0")]
    assert np.allclose(anti["pearson"], -1.0)
    assert (df["n_sources"] == 1).all()


def test_methods_share_the_initial_design_for_a_seed(tiny_results):
    df = load_results(tiny_results)
    first = df[(df[C.ITERATION] <= 3) & (df[C.METHOD].isin(["cold-gp", "prior-mean", "random"]))]
    per_method = first.groupby([C.PAIR, C.SEED, C.METHOD])["x"].apply(tuple).unstack()
    assert (per_method["cold-gp"] == per_method["prior-mean"]).all()
    assert (per_method["cold-gp"] == per_method["random"]).all()


def test_same_spec_twice_gives_identical_numbers(tmp_path, tiny_sweep, tiny_results):
    run_sweep(tiny_sweep, tmp_path / "second", executor=LocalExecutor(1))
    a, b = load_results(tiny_results), load_results(tmp_path / "second")
    cols = [c for c in a.columns if c != C.ELAPSED_S]
    pd.testing.assert_frame_equal(a[cols], b[cols])


def test_two_workers_give_the_same_numbers_as_one(tmp_path):
    sweep = Sweep.from_dict(
        {
            "seeds": 2,
            "budget": 5,
            "n_init": 3,
            "pairs": ["forrester"],
            "methods": ["cold-gp", "prior-mean"],
        }
    )
    run_sweep(sweep, tmp_path / "one", executor=LocalExecutor(1))
    run_sweep(sweep, tmp_path / "two", executor=LocalExecutor(2))
    a, b = load_results(tmp_path / "one"), load_results(tmp_path / "two")
    cols = [c for c in a.columns if c != C.ELAPSED_S]
    pd.testing.assert_frame_equal(a[cols], b[cols])


def test_rerun_skips_finished_runs(tiny_results, tiny_sweep):
    before = (
        sqlite3.connect(tiny_results / "results.sqlite")
        .execute("SELECT key, finished_at FROM runs ORDER BY key")
        .fetchall()
    )
    summary = run_sweep(tiny_sweep, tiny_results, executor=LocalExecutor(1))
    assert summary.skipped == summary.total == 24 and summary.done == 0
    after = (
        sqlite3.connect(tiny_results / "results.sqlite")
        .execute("SELECT key, finished_at FROM runs ORDER BY key")
        .fetchall()
    )
    assert before == after


def test_a_different_spec_in_the_same_directory_is_refused(tiny_results):
    from bo_transfer.errors import UserError

    other = Sweep.from_dict(
        {"seeds": 1, "budget": 4, "n_init": 2, "pairs": ["forrester"], "methods": ["random"]}
    )
    with pytest.raises(UserError, match="different spec"):
        run_sweep(other, tiny_results, executor=LocalExecutor(1))


def test_a_failing_method_is_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch):
    from bo_transfer.methods.baselines import ColdGP

    def boom(self, X, y, seed):
        raise RuntimeError("injected failure")

    monkeypatch.setattr(ColdGP, "propose", boom)
    sweep = Sweep.from_dict(
        {
            "seeds": 1,
            "budget": 5,
            "n_init": 3,
            "pairs": ["forrester"],
            "methods": ["cold-gp", "random"],
        }
    )
    summary = run_sweep(sweep, tmp_path, executor=LocalExecutor(1))
    assert (summary.done, summary.failed) == (1, 1)
    runs = ResultStore(tmp_path).runs_frame().set_index("method")
    assert runs.loc["cold-gp", "status"] == "failed"
    assert "injected failure" in runs.loc["cold-gp", "error"]
    assert "Traceback" in runs.loc["cold-gp", "traceback"]
    # the initial design it evaluated is kept
    n_evals = (
        sqlite3.connect(tmp_path / "results.sqlite")
        .execute(
            "SELECT COUNT(*) FROM evals e JOIN runs r ON r.key = e.run_key "
            "WHERE r.status = 'failed'"
        )
        .fetchone()[0]
    )
    assert n_evals == 3


def test_nonfinite_objective_values_are_recorded_and_imputed(monkeypatch):
    from bo_transfer.problems import get_pair

    pair = get_pair("forrester")
    original = type(pair.target).evaluate

    def sometimes_nan(self, X):
        y = original(self, X)
        return y.masked_fill(X[..., 0] > 0.9, float("nan"))

    monkeypatch.setattr(type(pair.target), "evaluate", sometimes_nan)
    result = run_one(RunSpec(pair.name, "random", seed=0, budget=12, n_init=3, n_source=8))
    assert result.status == "done"
    assert any(math.isnan(v) for v in result.y)
    assert result.metadata["nonfinite_values"] >= 1


def test_large_fits_use_exact_deterministic_solves(monkeypatch):
    """A 1,000-point GP fit inside a run is exact (Cholesky), so it is deterministic;
    gpytorch's default would switch to randomized CG above 800 points."""
    import gpytorch
    import torch

    from bo_transfer.methods import batch
    from bo_transfer.methods.baselines import ColdGP
    from bo_transfer.sweep.runner import EXACT_SOLVE_MAX

    seen = []
    original = batch.fit_batch

    def spy(*args, **kwargs):
        seen.append(gpytorch.settings.max_cholesky_size.value())
        return original(*args, **kwargs)

    monkeypatch.setattr(batch, "fit_batch", spy)
    run_one(RunSpec("forrester", "cold-gp", seed=0, budget=4, n_init=3, n_source=4))
    assert seen == [EXACT_SOLVE_MAX]

    gen = torch.Generator().manual_seed(0)
    X = torch.rand(1000, 2, generator=gen, dtype=torch.float64)
    y = torch.sin(6 * X).sum(-1)
    fits = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        with gpytorch.settings.max_cholesky_size(EXACT_SOLVE_MAX):
            model = ColdGP().fit_gp(X, y)
        fits.append(model.covar_module.lengthscale.detach().clone())
    assert torch.equal(fits[0], fits[1])


def _failing_fits(monkeypatch, failing_calls):
    """Make the fit calls whose 1-based numbers are in ``failing_calls`` (or all,
    for None) raise the error BoTorch raises when every attempt failed."""
    from botorch.exceptions.errors import ModelFittingError

    import bo_transfer.methods.gp as gp

    calls = {"n": 0}
    original = gp.fit_gpytorch_mll

    def flaky(mll, *args, **kwargs):
        calls["n"] += 1
        if failing_calls is None or calls["n"] in failing_calls:
            raise ModelFittingError("injected: all attempts to fit the model have failed")
        return original(mll, *args, **kwargs)

    monkeypatch.setattr(gp, "fit_gpytorch_mll", flaky)


def _cold_gp_run():
    return run_one(RunSpec("forrester", "cold-gp", seed=0, budget=8, n_init=3, n_source=4))


def test_a_failed_fit_is_retried_with_more_jitter(monkeypatch):
    _failing_fits(monkeypatch, {2})
    result = _cold_gp_run()
    assert result.status == "done"
    assert result.metadata["fit_jitter_retries"] == 1
    assert result.metadata["sobol_fallbacks"] == 0


def test_a_fit_failing_twice_keeps_the_previous_hyperparameters(monkeypatch):
    _failing_fits(monkeypatch, {2, 3})  # both tries of the second iteration
    result = _cold_gp_run()
    assert result.status == "done"
    assert result.metadata["fit_kept_previous"] == 1
    assert result.metadata["sobol_fallbacks"] == 0


def test_fits_that_always_fail_fall_back_to_sobol_points(monkeypatch):
    _failing_fits(monkeypatch, None)
    result = _cold_gp_run()
    assert result.status == "done" and len(result.y) == 8
    assert result.metadata["sobol_fallbacks"] == 5
    assert "injected" in result.metadata["fallback_errors"][0]
    X = torch.tensor(result.X)
    assert len(torch.unique(X, dim=0)) == 8 and X.min() >= 0 and X.max() <= 1


def test_the_sweep_summary_reports_survived_faults(monkeypatch, tmp_path):
    _failing_fits(monkeypatch, None)
    sweep = Sweep.from_dict(
        {"seeds": 1, "budget": 5, "n_init": 3, "pairs": ["forrester"], "methods": ["cold-gp"]}
    )
    summary = run_sweep(sweep, tmp_path, executor=LocalExecutor(1))
    text = "\n".join(summary.lines())
    assert "2 iterations fell back to a Sobol point" in text
    assert "2 GP fits failed and were retried" in text


def test_a_bug_in_a_method_fails_the_run_instead_of_falling_back(monkeypatch):
    from bo_transfer.methods.baselines import ColdGP

    def buggy(self, X, y, seed):
        raise KeyError("oops")

    monkeypatch.setattr(ColdGP, "propose", buggy)
    result = run_one(RunSpec("forrester", "cold-gp", seed=0, budget=5, n_init=3, n_source=4))
    assert result.status == "failed" and "KeyError" in result.error
