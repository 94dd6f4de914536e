"""The break-even correlation: where a method's transfer gain crosses zero."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bo_transfer import columns as C
from bo_transfer.analysis.break_even import break_even, crossing, grid_of


def test_crossing_interpolates_the_last_upward_zero():
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    assert crossing(x, np.array([-2.0, -1.0, -0.5, 0.5, 1.0]))[0] == pytest.approx(0.25)
    # Negative again after a first crossing: the last upward one counts.
    assert crossing(x, np.array([-1.0, 1.0, -1.0, -0.2, 0.6]))[0] == pytest.approx(0.625)
    value, why = crossing(x, np.array([0.0, 0.1, 0.2, 0.3, 0.4]))
    assert math.isnan(value) and why == "never negative on the grid"
    value, why = crossing(x, np.array([1.0, 0.5, 0.1, -0.1, -0.3]))
    assert math.isnan(value) and why == "negative up to the grid's top"


def test_grids_are_the_pairs_that_differ_only_in_their_correlation_knob():
    a = grid_of("gp:rho=0.5,dim=2,lengthscale=0.2,instance=seed")
    assert a == grid_of("gp:rho=-0.5,dim=2,lengthscale=0.2,instance=seed")
    assert a != grid_of("gp:rho=0.5,dim=4,lengthscale=0.2,instance=seed")
    assert grid_of("branin:n_sources=2,sign=1,instance=0") is None  # no knob


def _paired(gain, rhos, seeds=16, noise=0.05, seed=0):
    """Paired differences (method - baseline) whose centre is ``-gain(rho)``."""
    rng = np.random.default_rng(seed)
    rows = []
    for rho in rhos:
        pair = f"gp:rho={rho},dim=2,lengthscale=0.2,instance=seed"
        for s in range(seeds):
            d = -gain(rho) + noise * rng.standard_normal()
            rows.append({C.PAIR: pair, C.METHOD: "warm", C.SEED: s, "diff": d})
    diagnostics = pd.DataFrame(
        {
            C.PAIR: [f"gp:rho={r},dim=2,lengthscale=0.2,instance=seed" for r in rhos],
            "pearson": list(rhos),
        }
    )
    return pd.DataFrame(rows), diagnostics


def test_break_even_recovers_a_known_crossing_with_an_interval_around_it():
    rhos = [-1.0, -0.5, 0.0, 0.5, 1.0]
    paired, diagnostics = _paired(lambda r: r - 0.25, rhos)
    (row,) = break_even(paired, diagnostics, n_boot=300).itertuples()
    assert row.break_even == pytest.approx(0.25, abs=0.05)
    assert row.break_even_lo <= 0.25 <= row.break_even_hi
    assert row.break_even_hi - row.break_even_lo < 0.2
    assert row.n_points == 5 and row.grid == "gp:dim=2,lengthscale=0.2,instance=seed"


def test_a_method_that_never_hurts_says_so():
    paired, diagnostics = _paired(lambda r: 0.5 + r, [0.0, 0.5, 1.0])
    (row,) = break_even(paired, diagnostics, n_boot=100).itertuples()
    assert math.isnan(row.break_even) and row.note == "never negative on the grid"
    assert row.break_even_lo == row.break_even_hi == 0.0  # every resample: the grid's edge


def test_fewer_than_three_correlations_are_no_grid():
    paired, diagnostics = _paired(lambda r: r, [-0.5, 0.5])
    assert break_even(paired, diagnostics, n_boot=10).empty


def test_the_vectorized_estimate_is_the_hodges_lehmann_estimate():
    from bo_transfer.analysis.break_even import hodges_lehmann_estimates
    from bo_transfer.analysis.signed_rank import hodges_lehmann

    d = np.random.default_rng(3).normal(size=(5, 11))
    expected = [hodges_lehmann(row)[0] for row in d]
    np.testing.assert_allclose(hodges_lehmann_estimates(d), expected, rtol=0, atol=1e-15)
