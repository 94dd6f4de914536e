"""Per-(pair, method) summaries and the transfer verdict against a baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from bo_transfer import columns as C
from bo_transfer.analysis.regret import run_metrics

METRICS = {"auc": "auc", "final": "final_regret"}
ALPHA = 0.05


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1)."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, (m - rank) * p[i])
        adjusted[i] = min(1.0, running)
    return adjusted


def paired_one_sided(diff: np.ndarray) -> tuple[float, float]:
    """Wilcoxon signed-rank p-values of ``diff = method - baseline`` for
    H1: median < 0 (method better) and H1: median > 0 (method worse).

    All-zero differences give no evidence either way (p = 1).
    """
    diff = np.asarray(diff, dtype=float)
    if len(diff) == 0 or np.all(diff == 0):
        return 1.0, 1.0
    less = stats.wilcoxon(diff, alternative="less", zero_method="wilcox").pvalue
    greater = stats.wilcoxon(diff, alternative="greater", zero_method="wilcox").pvalue
    return float(less), float(greater)


def summarize(
    df: pd.DataFrame, baseline: str = "cold-gp", metric: str = "auc", alpha: float = ALPHA
) -> pd.DataFrame:
    """The report table: one row per (pair, method), contract columns first.

    Verdict: for every (pair, method) other than the baseline, two paired
    one-sided Wilcoxon signed-rank tests over the seeds both share, on
    ``metric`` (``auc``: area under the log10-regret curve; ``final``: final
    regret). Holm's correction runs over all tests of the table (two per
    comparison). ``negative`` when "worse than the baseline" is rejected at
    ``alpha``, ``positive`` when "better" is; otherwise ``neutral``. ``p_value``
    is the adjusted p of the direction the data lean to. ``effect`` is the median
    paired difference (method - baseline; negative = better), ``p_improve`` the
    fraction of seeds where the method beat the baseline.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {sorted(METRICS)}, got {metric!r}")
    col = METRICS[metric]
    per_run = run_metrics(df)
    per_run["rank"] = per_run.groupby([C.PAIR, C.SEED])[col].rank(method="average")

    g = per_run.groupby([C.PAIR, C.METHOD], sort=True)
    table = pd.DataFrame(
        {
            "n_seeds": g.size(),
            "final_regret_mean": g["final_regret"].mean(),
            "final_regret_se": g["final_regret"].sem(ddof=1).fillna(0.0),
            "final_regret_median": g["final_regret"].median(),
            "auc_mean": g["auc"].mean(),
            "mean_rank": g["rank"].mean(),
        }
    ).reset_index()

    wide = per_run.pivot_table(index=[C.PAIR, C.SEED], columns=C.METHOD, values=col)
    tests = []
    for i, row in table.iterrows():
        if row[C.METHOD] == baseline or baseline not in wide.columns:
            continue
        both = wide.loc[row[C.PAIR], [row[C.METHOD], baseline]].dropna()
        diff = (both[row[C.METHOD]] - both[baseline]).to_numpy()
        less, greater = paired_one_sided(diff)
        tests.append(
            (i, less, greater, float(np.median(diff)) if len(diff) else np.nan, (diff < 0).mean())
        )

    table["p_value"] = np.nan
    table["verdict"] = np.where(table[C.METHOD] == baseline, "baseline", "neutral")
    table["effect"] = np.nan
    table["p_improve"] = np.nan
    if baseline not in wide.columns:
        table["verdict"] = "neutral"
    if tests:
        adjusted = holm(np.array([p for t in tests for p in t[1:3]])).reshape(-1, 2)
        for (i, less, greater, effect, p_improve), (adj_less, adj_greater) in zip(tests, adjusted):
            table.loc[i, "effect"] = effect
            table.loc[i, "p_improve"] = p_improve
            table.loc[i, "p_value"] = adj_less if less <= greater else adj_greater
            if adj_greater < alpha:
                table.loc[i, "verdict"] = "negative"
            elif adj_less < alpha:
                table.loc[i, "verdict"] = "positive"
    return table[C.REPORT_COLUMNS + ["effect", "p_improve"]]
