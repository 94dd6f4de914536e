import numpy as np
import pandas as pd
import pytest

from bo_transfer import columns as C
from bo_transfer.analysis import (
    add_regret,
    holm,
    run_metrics,
    summarize,
    to_csv,
    to_latex,
    to_markdown,
)
from bo_transfer.analysis.regret import REGRET_FLOOR
from bo_transfer.analysis.signed_rank import hodges_lehmann


def synthetic(
    shifts: dict[str, float], n_seeds: int = 12, n_iter: int = 5, seed: int = 0
) -> pd.DataFrame:
    """Tidy results where method m's regret is the baseline's times 10**shift,
    with seed-level noise shared by all methods (a paired design)."""
    rng = np.random.default_rng(seed)
    rows = []
    base = rng.uniform(0.05, 0.5, size=n_seeds)
    for method, shift in shifts.items():
        noise = rng.normal(0, 0.05, size=n_seeds)
        for s in range(n_seeds):
            for it in range(1, n_iter + 1):
                regret = base[s] * 10 ** (shift + noise[s]) / it
                rows.append(
                    {
                        C.PAIR: "p",
                        C.FAMILY: "f",
                        C.METHOD: method,
                        C.SEED: s,
                        C.ITERATION: it,
                        C.Y: regret,
                        C.RUN_KEY: f"{method}-{s}",
                        C.OPTIMAL_VALUE: 0.0,
                        "value_range": 1.0,
                    }
                )
    return add_regret(pd.DataFrame(rows))


def test_holm_matches_the_textbook_procedure():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone 0.06
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02])
    assert holm(np.array([0.9, 0.8])).max() <= 1.0


def test_regret_and_best_y():
    raw = pd.DataFrame(
        {
            C.RUN_KEY: ["r"] * 4,
            C.ITERATION: [1, 2, 3, 4],
            C.Y: [3.0, np.nan, 1.0, 2.0],
            C.OPTIMAL_VALUE: 1.0,
            "value_range": 4.0,
        }
    )
    df = add_regret(raw)
    assert df[C.BEST_Y].tolist() == [3.0, 3.0, 1.0, 1.0]
    assert df[C.REGRET].tolist() == [2.0, 2.0, 0.0, 0.0]
    assert df[C.NORMALIZED_REGRET].tolist() == [0.5, 0.5, 0.0, 0.0]
    assert df[C.LOG_REGRET].iloc[-1] == np.log10(REGRET_FLOOR)


def test_failed_evaluations_are_charged_not_skipped():
    """A run whose first two evaluations failed: they count as the worse of the
    run's worst finite value and the top of the target's range, so the AUC is
    the mean over all four evaluations (the charge, not nothing)."""
    raw = pd.DataFrame(
        {
            C.RUN_KEY: ["r"] * 4 + ["s"] * 3,
            C.ITERATION: [1, 2, 3, 4, 1, 2, 3],
            C.Y: [np.nan, np.nan, 0.1, 0.1, np.nan, 3.0, 0.5],
            C.OPTIMAL_VALUE: 0.0,
            "value_range": 1.0,
        }
    )
    df = add_regret(raw)
    r, s = df[df[C.RUN_KEY] == "r"], df[df[C.RUN_KEY] == "s"]
    # r: worst finite 0.1 < top of the range 0 + 1: charged 1 (log10 regret 0)
    assert r[C.BEST_Y].tolist() == [1.0, 1.0, 0.1, 0.1]
    assert r[C.LOG_REGRET].mean() == pytest.approx((0 + 0 - 1 - 1) / 4)
    # s: its own worst value 3 is worse than the top of the range: charged 3
    assert s[C.BEST_Y].tolist() == [3.0, 3.0, 0.5]
    assert r[C.Y].isna().sum() == 2  # the record keeps the failure
    per_run = run_metrics(df.assign(**{C.PAIR: "p", C.METHOD: "m", C.SEED: df[C.RUN_KEY]}))
    assert per_run.set_index(C.SEED).loc["r", "auc"] == pytest.approx(-0.5)


def test_summary_numbers_match_independent_computation():
    df = synthetic({"cold-gp": 0.0, "warm": -0.3, "bad": 0.4})
    table = summarize(df, baseline="cold-gp").set_index(C.METHOD)
    per_run = run_metrics(df)
    warm = per_run[per_run[C.METHOD] == "warm"]
    assert table.loc["warm", "final_regret_mean"] == pytest.approx(warm["final_regret"].mean())
    assert table.loc["warm", "final_regret_se"] == pytest.approx(
        warm["final_regret"].std(ddof=1) / np.sqrt(len(warm))
    )
    assert table.loc["warm", "final_regret_median"] == pytest.approx(warm["final_regret"].median())
    # ranks by AUC: warm always best, bad always worst
    assert table.loc["warm", "mean_rank"] == 1.0 and table.loc["bad", "mean_rank"] == 3.0
    # all 12 differences have one sign: two-sided exact p = 2 * 2^-12, Holm over 2 cells
    wide = per_run.pivot(index=C.SEED, columns=C.METHOD, values="auc")
    assert ((wide["bad"] > wide["cold-gp"]) & (wide["warm"] < wide["cold-gp"])).all()
    assert table.loc["bad", "p_raw"] == table.loc["warm", "p_raw"] == 2 * 2.0**-12
    assert table.loc["bad", "p_value"] == table.loc["warm", "p_value"] == 2 * 2 * 2.0**-12
    assert table.loc["warm", "verdict"] == "positive"
    assert table.loc["bad", "verdict"] == "negative"
    assert table.loc["cold-gp", "verdict"] == "baseline"
    assert list(summarize(df).columns[: len(C.REPORT_COLUMNS)]) == C.REPORT_COLUMNS


def test_no_difference_is_equivalent_only_within_the_margin():
    """Symmetric noise of +-log10(1.2) or log10(0.8) around the baseline: no
    verdict of difference; equivalent exactly when the two one-sided tests
    reject, i.e. when the effect's 90% interval (1 - 2 alpha) fits inside the
    margin (one cell: its family has nothing to correct for)."""
    df = synthetic({"cold-gp": 0.0, "same": 0.0}, seed=3)
    df.loc[df[C.METHOD] == "same", C.Y] *= np.where(
        df.loc[df[C.METHOD] == "same", C.SEED] % 2 == 0, 1.2, 0.8
    )
    df = add_regret(df)
    same = summarize(df).set_index(C.METHOD).loc["same"]
    assert same["p_value"] > 0.05 and same["effect_lo"] < 0 < same["effect_hi"]
    per_run = run_metrics(df).pivot(index=C.SEED, columns=C.METHOD, values="auc")
    _, lo, hi = hodges_lehmann((per_run["same"] - per_run["cold-gp"]).to_numpy(), level=0.9)
    width = max(-lo, hi)
    assert 0.05 < width < 0.2  # the margin below and above it decides
    for margin, verdict in ((width - 0.01, "inconclusive"), (width + 0.01, "equivalent")):
        row = summarize(df, margin=margin).set_index(C.METHOD).loc["same"]
        assert row["verdict"] == verdict, margin


def test_metric_final_judges_final_log10_regret():
    df = synthetic({"cold-gp": 0.0, "warm": -0.3})
    table = summarize(df, metric="final").set_index(C.METHOD)
    assert table.loc["warm", "verdict"] == "positive"
    with pytest.raises(ValueError, match="metric"):
        summarize(df, metric="median")


def test_tables_render_every_row():
    table = summarize(synthetic({"cold-gp": 0.0, "warm": -0.3}))
    md = to_markdown(table)
    assert md.count("\n") == 2 + len(table)
    assert "positive" in md and "baseline" in md
    tex = to_latex(table, caption="Budget 5")
    # a longtable: one row per table row after the header (repeated on every page)
    assert tex.split(r"\endfoot")[1].count(r"\\") == len(table)
    assert tex.count("Pair & Method") == 2
    assert r"\toprule" in tex and r"\bottomrule" in tex
    # one bold mark per pair: the lowest mean of the judged metric
    assert tex.count(r"\textbf{") == table[C.PAIR].nunique()
    assert tex.count("{") == tex.count("}")
    assert to_csv(table).splitlines()[0].startswith(",".join(C.REPORT_COLUMNS))
