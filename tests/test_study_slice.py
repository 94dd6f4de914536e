"""The committed correlation study (results/correlation) is reproducible: a
small slice re-run here gives the committed runs' numbers and the committed
effects' directions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bo_transfer import columns as C
from bo_transfer.analysis import load_results, run_metrics, summarize
from bo_transfer.analysis.regret import read_export
from bo_transfer.sweep import LocalExecutor, Sweep, run_sweep

ROOT = Path(__file__).resolve().parents[1]
EXPORT = ROOT / "results" / "correlation" / "results.parquet"
TABLE = ROOT / "results" / "correlation" / "table.csv"
RHOS = [-1.0, 1.0]
METHODS = ["cold-gp", "prior-mean", "shgp"]
SEEDS = [0, 1, 2, 3]


@pytest.mark.slow
def test_a_slice_of_the_correlation_study_reproduces_its_runs_and_verdicts(tmp_path):
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
    mine = run_metrics(load_results(tmp_path)).set_index([C.PAIR, C.METHOD, C.SEED])
    committed = read_export(EXPORT)
    committed = committed[
        committed[C.PAIR].isin(pairs)
        & committed[C.METHOD].isin(METHODS)
        & committed[C.SEED].isin(SEEDS)
    ]
    theirs = run_metrics(committed).set_index([C.PAIR, C.METHOD, C.SEED])
    # The same runs: same spec entries, pairs and seeds give the same numbers.
    np.testing.assert_allclose(
        mine.loc[theirs.index, "final_regret"], theirs["final_regret"], rtol=0, atol=1e-9
    )
    # The slice's effects point where the committed study's do. At 10 seeds
    # and 216 cells no table-wide verdict can be significant (the caption says
    # so), so a committed direction is a cell whose effect interval excludes 0.
    table = pd.read_csv(TABLE)
    directed = table[
        table[C.PAIR].isin(pairs)
        & table[C.METHOD].isin(METHODS)
        & ((table["effect_lo"] > 0) | (table["effect_hi"] < 0))
    ]
    assert len(directed) >= 3, directed  # prior-mean at rho=-1, shgp at both
    effects = summarize(load_results(tmp_path), baseline="cold-gp").set_index([C.PAIR, C.METHOD])
    for _, row in directed.iterrows():
        sign = np.sign(effects.loc[(row[C.PAIR], row[C.METHOD]), "effect"])
        assert sign == np.sign(row["effect"]), row[[C.PAIR, C.METHOD, "effect"]]
