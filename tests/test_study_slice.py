"""The committed correlation study (results/correlation) is reproducible: a
slice of it re-run here gives the committed numbers where this machine
computes as the study's did, and the committed effects in distribution
everywhere (see ``bo_transfer.reproducibility``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bo_transfer import columns as C
from bo_transfer.analysis import load_results, run_metrics, summarize
from bo_transfer.analysis.regret import read_export
from bo_transfer.reproducibility import same_code_path
from bo_transfer.sweep import LocalExecutor, ResultStore, Sweep, run_sweep

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "results" / "correlation"
EXPORT = STUDY / "results.parquet"
TABLE = STUDY / "table.csv"
RHOS = [-1.0, 1.0]
METHODS = ["cold-gp", "prior-mean", "shgp"]
SEEDS = list(range(10))


def _recorded_math_library() -> list[dict]:
    """Where the committed runs were computed (``run.json``; studies run
    before the record existed have none)."""
    return json.loads((STUDY / "run.json").read_text()).get("math_library", [])


def _directed(table: pd.DataFrame, pairs: list[str]) -> pd.DataFrame:
    """The committed cells of the slice whose effect interval excludes 0."""
    return table[
        table[C.PAIR].isin(pairs)
        & table[C.METHOD].isin(METHODS)
        & ((table["effect_lo"] > 0) | (table["effect_hi"] < 0))
    ]


@pytest.mark.slow
def test_a_slice_of_the_correlation_study_reproduces_its_runs_or_their_distribution(tmp_path):
    if not EXPORT.exists():
        pytest.skip("results/correlation has not been committed yet")
    pytest.importorskip("pyarrow")
    study = Sweep.from_toml(ROOT / "benchmarks" / "correlation.toml")
    pairs = [p for p in study.pairs if any(f"rho={r}," in p for r in RHOS) and "dim=2," in p]
    assert len(pairs) == len(RHOS)
    sweep = Sweep.from_dict(
        {
            "name": "slice",
            "seeds": SEEDS,
            "budget": study.budget,
            "n_init": study.n_init,
            "n_source": study.n_source,
            "pairs": pairs,
            "methods": METHODS,
        }
    )
    summary = run_sweep(sweep, tmp_path, executor=LocalExecutor(2))
    assert summary.failed == 0, summary.lines()
    mine_df = load_results(tmp_path)
    committed = read_export(EXPORT)
    committed = committed[
        committed[C.PAIR].isin(pairs)
        & committed[C.METHOD].isin(METHODS)
        & committed[C.SEED].isin(SEEDS)
    ]
    key = [C.PAIR, C.METHOD, C.SEED, C.ITERATION]
    mine_it = mine_df.set_index(key).sort_index()
    theirs_it = committed.set_index(key).sort_index()
    assert mine_it.index.equals(theirs_it.index)

    # Exact on any machine: the initial designs (the landscapes' values at them
    # are exact from this release on; the committed study predates it, when
    # GP-sample features went through the BLAS: equal to rounding).
    init = mine_it.index.get_level_values(C.ITERATION) < study.n_init
    assert (mine_it.loc[init, "x"] == theirs_it.loc[init, "x"]).all()
    np.testing.assert_allclose(mine_it.loc[init, "y"], theirs_it.loc[init, "y"], rtol=1e-12)

    with ResultStore(tmp_path) as store:
        here = json.loads(store.runs_frame()["metadata"].iloc[0])["math_library"]
    recorded = _recorded_math_library()
    if recorded and all(same_code_path(here, lib) for lib in recorded):
        # The same CPU, maths library, code path and threads: the same bits.
        mine = run_metrics(mine_df).set_index([C.PAIR, C.METHOD, C.SEED])
        theirs = run_metrics(committed).set_index([C.PAIR, C.METHOD, C.SEED])
        np.testing.assert_array_equal(
            mine.loc[theirs.index, "final_regret"], theirs["final_regret"]
        )
        return

    # Elsewhere, in distribution: every committed effect whose interval
    # excludes 0 keeps its direction here, and the two intervals overlap.
    directed = _directed(pd.read_csv(TABLE), pairs)
    assert len(directed) >= 3, directed  # prior-mean at rho=-1, shgp at both
    effects = summarize(mine_df, baseline="cold-gp").set_index([C.PAIR, C.METHOD])
    for _, row in directed.iterrows():
        mine_cell = effects.loc[(row[C.PAIR], row[C.METHOD])]
        what = (row[C.PAIR], row[C.METHOD], row["effect"], mine_cell["effect"])
        assert np.sign(mine_cell["effect"]) == np.sign(row["effect"]), what
        assert mine_cell["effect_lo"] <= row["effect_hi"], what
        assert row["effect_lo"] <= mine_cell["effect_hi"], what
