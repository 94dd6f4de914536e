"""Every source's diagnostics reach the store, the export, the tables and the figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bo_transfer import columns as C
from bo_transfer.analysis import load_results, plot_transfer_gain
from bo_transfer.analysis.diagnostics import pair_diagnostics, source_summaries
from bo_transfer.problems import get_pair
from bo_transfer.sweep import RunSpec, run_one
from bo_transfer.sweep.store import ResultStore

TWO_SOURCES = "gp:rho=0.9;-0.9,dim=1,lengthscale=0.2,instance=0"


def test_a_run_stores_every_sources_diagnostics_and_the_export_summarises_them(tmp_path):
    pair = get_pair(TWO_SOURCES)
    result = run_one(RunSpec(TWO_SOURCES, "random", 0, budget=3, n_init=3, n_source=4))
    stored = result.metadata["source_diagnostics"]
    assert stored == pair.diagnostics and len(stored) == 2
    assert [round(d["pearson"], 2) for d in stored] == [0.9, -0.9]
    with ResultStore(tmp_path, create=True) as store:
        store.put(result, family="gp")
    df = load_results(tmp_path)
    # Independent of the code under test: the definitions over the two sources.
    for d, worst in (("pearson", min), ("spearman", min), ("optimum_distance", max)):
        values = [s[d] for s in pair.diagnostics]
        assert df[f"{d}_mean"].iloc[0] == pytest.approx(np.mean(values))
        assert df[f"{d}_worst"].iloc[0] == pytest.approx(worst(values))
        assert df[d].iloc[0] == pytest.approx(values[0])  # the contract column: first source
    assert df["pearson_mean"].iloc[0] == pytest.approx(0.0, abs=0.02)


def test_runs_stored_before_per_source_diagnostics_or_with_nan_in_metadata_load(tmp_path):
    """Older runs lack pair_instance and source_diagnostics: a one-source run's
    contract columns stand in. A NaN in a method's trace does not break loading."""
    result = run_one(RunSpec("forrester", "random", 0, budget=3, n_init=3, n_source=4))
    del result.metadata["pair_instance"], result.metadata["source_diagnostics"]
    result.metadata["trace"] = {"weight": [float("nan")]}
    with ResultStore(tmp_path, create=True) as store:
        store.put(result, family="forrester")
    df = load_results(tmp_path)
    assert (df[C.PAIR_INSTANCE] == df[C.PAIR]).all()
    assert (df["pearson_mean"] == df["pearson"]).all()
    assert (df["pearson_worst"] == df["pearson"]).all()


def test_source_summaries_of_unknown_diagnostics_are_missing():
    frame = source_summaries(
        pd.Series([[{"pearson": 0.5, "spearman": 0.4, "optimum_distance": 0.1}], None])
    )
    assert frame.loc[0, "pearson_mean"] == frame.loc[0, "pearson_worst"] == 0.5
    assert frame.loc[1].isna().all()


def _frame(pairs: dict[str, tuple[float, float, int]]) -> pd.DataFrame:
    """A tidy-table stand-in: one row per (pair, method), with the given mean
    and worst Pearson correlation and number of sources."""
    rows = []
    for pair, (mean, worst, n_sources) in pairs.items():
        for method in ("cold-gp", "prior-mean"):
            rows.append(
                {
                    C.PAIR: pair,
                    C.FAMILY: "gp",
                    C.METHOD: method,
                    "n_sources": n_sources,
                    "pearson": 0.9,  # the first source, what the old figure used
                    "pearson_mean": mean,
                    "pearson_worst": worst,
                }
            )
    return pd.DataFrame(rows)


def _joined(ax) -> list:
    """The lines an axes draws through its points (not the zero line, not
    error-bar caps)."""
    return [ln for ln in ax.get_lines()[1:] if ln.get_linestyle() not in ("None", "none", "")]


def _points_x(ax) -> list[float]:
    """The x of every marker the axes scatters."""
    scatters = [c for c in ax.collections if type(c).__name__ == "PathCollection"]
    return sorted(float(x) for c in scatters for x in np.asarray(c.get_offsets())[:, 0])


def test_transfer_gain_places_a_two_source_pair_at_its_mean_and_its_worst_source():
    diagnostics = pair_diagnostics(_frame({"two": (0.0, -0.9, 2), "one": (0.5, 0.5, 1)}))
    table = pd.DataFrame(
        {
            C.PAIR: ["two", "two", "one", "one"],
            C.METHOD: ["cold-gp", "prior-mean"] * 2,
            "effect": [0.0, 0.4, 0.0, -0.3],
            "verdict": ["baseline", "negative", "baseline", "positive"],
        }
    )
    fig = plot_transfer_gain(table, diagnostics)
    mean_ax, worst_ax = fig.axes[:2]
    assert mean_ax.get_title() == "prior-mean (mean over sources)"
    assert worst_ax.get_title() == "prior-mean (worst source)"
    assert _points_x(mean_ax) == [0.0, 0.5]  # not 0.9, the first source
    assert _points_x(worst_ax) == [-0.9, 0.5]
    assert "mean over sources" in mean_ax.get_xlabel()
    assert "worst source" in worst_ax.get_xlabel()


def test_one_source_pairs_get_one_panel_per_method():
    diagnostics = pair_diagnostics(_frame({"a": (0.3, 0.3, 1), "b": (0.8, 0.8, 1)}))
    table = pd.DataFrame(
        {
            C.PAIR: ["a", "a", "b", "b"],
            C.METHOD: ["cold-gp", "prior-mean"] * 2,
            "effect": [0.0, 0.1, 0.0, -0.2],
            "verdict": ["baseline", "neutral", "baseline", "positive"],
        }
    )
    fig = plot_transfer_gain(table, diagnostics)
    assert len(fig.axes) == 1 and fig.axes[0].get_title() == "prior-mean"
    assert "mean" not in fig.axes[0].get_xlabel()


def test_pairs_of_two_grids_get_a_line_each_with_its_interval_band():
    """dim=2 and dim=4 over the same correlations: one line per grid (its own
    line style) in the method's panel, never a line that zigzags between the
    two dimensions at each correlation; the effect's interval as a band."""
    names = {
        (rho, dim): f"gp:rho={rho},dim={dim},lengthscale=0.2"
        for rho in (-0.5, 0.0, 0.5)
        for dim in (2, 4)
    }
    diagnostics = pair_diagnostics(_frame({n: (rho, rho, 1) for (rho, _), n in names.items()}))
    gain = {(rho, dim): rho * (2.0 if dim == 2 else 0.4) for rho, dim in names}
    table = pd.DataFrame(
        [
            {
                C.PAIR: n,
                C.METHOD: m,
                "effect": 0.0 if m == "cold-gp" else -gain[k],
                "effect_lo": 0.0 if m == "cold-gp" else -gain[k] - 0.1,
                "effect_hi": 0.0 if m == "cold-gp" else -gain[k] + 0.1,
                "verdict": v,
            }
            for k, n in names.items()
            for m, v in (("cold-gp", "baseline"), ("prior-mean", "inconclusive"))
        ]
    )
    fig = plot_transfer_gain(table, diagnostics)
    (ax,) = fig.axes
    dim2, dim4 = _joined(ax)
    assert list(dim2.get_xdata()) == [-0.5, 0.0, 0.5]
    assert list(dim2.get_ydata()) == [-1.0, 0.0, 1.0]
    assert list(dim4.get_ydata()) == pytest.approx([-0.2, 0.0, 0.2])
    assert dim2.get_linestyle() != dim4.get_linestyle()
    bands = [c for c in ax.collections if type(c).__name__ == "FillBetweenPolyCollection"]
    assert len(bands) == 2
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "gp:dim=2,lengthscale=0.2" in legend and "gp:dim=4,lengthscale=0.2" in legend


def test_unrelated_pairs_get_points_not_lines():
    """A literature table (one pair per family): points with whiskers, no
    line joining unrelated problems."""
    names = ["gp:rho=0.5,dim=2,lengthscale=0.2", "hartmann:dim=3,shift=0.2", "other"]
    diagnostics = pair_diagnostics(_frame({n: (0.1 * i, 0.1 * i, 1) for i, n in enumerate(names)}))
    table = pd.DataFrame(
        [
            {C.PAIR: n, C.METHOD: m, "effect": 0.0, "verdict": v}
            for n in names
            for m, v in (("cold-gp", "baseline"), ("prior-mean", "inconclusive"))
        ]
    )
    fig = plot_transfer_gain(table, diagnostics)
    (ax,) = fig.axes
    assert _joined(ax) == [] and _points_x(ax) == pytest.approx([0.0, 0.1, 0.2])
