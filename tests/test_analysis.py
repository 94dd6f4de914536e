import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bo_transfer import columns as C
from bo_transfer.analysis import (
    add_regret,
    holm,
    run_metrics,
    summarize,
    to_csv,
    to_latex,
    to_markdown,
    verdicts,
)
from bo_transfer.analysis.regret import REGRET_FLOOR


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
    # p-values: Holm over the 4 one-sided tests, computed here with scipy directly
    wide = per_run.pivot(index=C.SEED, columns=C.METHOD, values="auc")
    raw = []
    for m in ["bad", "warm"]:  # table order
        d = wide[m] - wide["cold-gp"]
        raw += [
            stats.wilcoxon(d, alternative="less").pvalue,
            stats.wilcoxon(d, alternative="greater").pvalue,
        ]
    adj = holm(np.array(raw))
    assert table.loc["bad", "p_value"] == pytest.approx(adj[1])
    assert table.loc["warm", "p_value"] == pytest.approx(adj[2])
    assert table.loc["warm", "verdict"] == "positive"
    assert table.loc["bad", "verdict"] == "negative"
    assert table.loc["cold-gp", "verdict"] == "baseline"
    assert list(summarize(df).columns[: len(C.REPORT_COLUMNS)]) == C.REPORT_COLUMNS


def test_no_difference_gives_neutral():
    df = synthetic({"cold-gp": 0.0, "same": 0.0}, seed=3)
    df.loc[df[C.METHOD] == "same", C.Y] *= np.where(
        df.loc[df[C.METHOD] == "same", C.SEED] % 2 == 0, 1.2, 0.8
    )
    df = add_regret(df)
    assert summarize(df).set_index(C.METHOD).loc["same", "verdict"] == "neutral"


@pytest.mark.slow
def test_aa_calibration_negative_rate_is_at_most_nominal():
    """A/A test: a method identical in distribution to the baseline is flagged
    negative in no more than ~alpha of repeated experiments."""
    rng = np.random.default_rng(1)
    flags = 0
    n_rep = 400
    for _ in range(n_rep):
        rows = []
        for method in ("cold-gp", "other"):
            for s in range(10):
                r = 10 ** rng.normal(-1, 0.5)
                rows.append(
                    {
                        C.PAIR: "p",
                        C.METHOD: method,
                        C.SEED: s,
                        C.ITERATION: 1,
                        C.Y: r,
                        C.RUN_KEY: f"{method}{s}",
                        C.OPTIMAL_VALUE: 0.0,
                        "value_range": 1.0,
                    }
                )
        table = verdicts(add_regret(pd.DataFrame(rows))).set_index(C.METHOD)
        flags += table.loc["other", "verdict"] == "negative"
    assert flags / n_rep <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / n_rep)


def test_metric_final_judges_final_regret():
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
    assert tex.count(r"\\") == 1 + len(table)
    assert r"\toprule" in tex and r"\bottomrule" in tex and r"\textbf{" in tex
    assert tex.count("{") == tex.count("}")
    assert to_csv(table).splitlines()[0].startswith(",".join(C.REPORT_COLUMNS))
