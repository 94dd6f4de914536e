"""Per-(pair, method) summaries, the transfer verdict against a baseline, and
robust aggregates (IQM with bootstrap confidence intervals, mean ranks).

All functions are pure: DataFrame in, DataFrame out. Inputs are the tidy table
of :func:`bo_transfer.analysis.load_results` (one row per run and iteration).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from bo_transfer import columns as C
from bo_transfer.analysis.regret import add_random_normalized, run_metrics, truncate
from bo_transfer.seeding import derive_seed

#: ``--metric`` name -> the per-run column the verdict tests.
METRICS = {"auc": "auc", "final": "final_regret"}
#: ``--metric`` name -> the per-run column the effect size is measured on: always
#: a log10 regret, so effects compare across pairs of different scales.
EFFECT_METRICS = {"auc": "auc", "final": "final_log10_regret"}
ALPHA = 0.05
#: Bootstrap resamples for IQM confidence intervals (rliable uses 2,000 and more;
#: the percentile interval's Monte Carlo error at 2,000 is well below the
#: seed-to-seed spread it describes).
N_BOOT = 2000

#: Extra report columns, after the contract ones, in this order.
EXTRA_COLUMNS = [
    "effect",
    "p_improve",
    "p_better",
    "p_worse",
    "final_regret_iqm",
    "final_regret_iqm_lo",
    "final_regret_iqm_hi",
    "final_log10_regret_mean",
    "final_random_normalized_regret_median",
    "auc_se",
    "auc_iqm",
    "auc_iqm_lo",
    "auc_iqm_hi",
]


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1)."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    return adjusted


def paired_one_sided(diff: np.ndarray) -> tuple[float, float]:
    """Wilcoxon signed-rank p-values of ``diff = method - baseline`` for
    H1: median < 0 (method better) and H1: median > 0 (method worse).

    Zero differences are dropped (``zero_method="wilcox"``); all-zero or empty
    differences give no evidence either way (p = 1).
    """
    diff = np.asarray(diff, dtype=float)
    diff = diff[np.isfinite(diff)]
    if len(diff) == 0 or np.all(diff == 0):
        return 1.0, 1.0
    less = stats.wilcoxon(diff, alternative="less", zero_method="wilcox").pvalue
    greater = stats.wilcoxon(diff, alternative="greater", zero_method="wilcox").pvalue
    return float(less), float(greater)


def iqm(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Interquartile mean: the mean of the middle 50% (25% trimmed from each end),
    robust to outlier seeds yet less noisy than the median (Agarwal et al.,
    "Deep Reinforcement Learning at the Edge of the Statistical Precipice",
    NeurIPS 2021). Trims like ``scipy.stats.trim_mean(values, 0.25)``: ``int(n / 4)``
    values from each end."""
    x = np.sort(np.asarray(values, dtype=float), axis=axis)
    n = x.shape[axis]
    cut = int(0.25 * n)
    return np.take(x, np.arange(cut, n - cut), axis=axis).mean(axis=axis)


def bootstrap_iqm_ci(
    strata: list[np.ndarray], seed: int, n_boot: int = N_BOOT, level: float = 0.95
) -> tuple[float, float, float]:
    """IQM of the pooled values and its stratified percentile bootstrap interval.

    Each resample draws, within every stratum (e.g. every pair), as many values
    with replacement as the stratum holds, then takes the IQM of the pooled
    draw, as rliable's ``StratifiedBootstrap`` does. One stratum is the plain
    bootstrap.

    Args:
        strata: 1-d arrays of finite values, one per stratum.
        seed: seed of the resampling generator (results are reproducible).
        n_boot: number of resamples.
        level: coverage of the interval.

    Returns:
        ``(iqm, lo, hi)``; NaN when there are no values.
    """
    strata = [np.asarray(s, dtype=float)[np.isfinite(s)] for s in strata]
    strata = [s for s in strata if len(s)]
    if not strata:
        return np.nan, np.nan, np.nan
    point = float(iqm(np.concatenate(strata)))
    rng = np.random.default_rng(seed)
    draws = np.concatenate([s[rng.integers(0, len(s), size=(n_boot, len(s)))] for s in strata], 1)
    lo, hi = np.quantile(iqm(draws, axis=1), [(1 - level) / 2, (1 + level) / 2])
    return point, float(lo), float(hi)


def _with_measures(df: pd.DataFrame, budget: int | None) -> pd.DataFrame:
    if budget is not None:
        df = truncate(df, budget)
    if C.RANDOM_NORMALIZED_REGRET not in df:
        df = add_random_normalized(df)
    return df


def _check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {sorted(METRICS)}, got {metric!r}")
    return METRICS[metric]


def verdicts_from_runs(
    per_run: pd.DataFrame, baseline: str = "cold-gp", metric: str = "auc", alpha: float = ALPHA
) -> pd.DataFrame:
    """The transfer verdicts from per-run metrics (see :func:`verdicts`)."""
    col = _check_metric(metric)
    effect_col = EFFECT_METRICS[metric]
    cols = list(dict.fromkeys([col, effect_col]))
    base = per_run.loc[per_run[C.METHOD] == baseline, [C.PAIR, C.SEED, *cols]]
    others = per_run.loc[per_run[C.METHOD] != baseline, [C.PAIR, C.METHOD, C.SEED, *cols]]
    paired = others.merge(base, on=[C.PAIR, C.SEED], suffixes=("", "_base"))
    paired["_d"] = paired[col] - paired[f"{col}_base"]
    paired["_e"] = paired[effect_col] - paired[f"{effect_col}_base"]

    rows = []
    for (pair, method), g in paired.groupby([C.PAIR, C.METHOD], sort=True):
        d, e = g["_d"].to_numpy(), g["_e"].to_numpy()
        less, greater = paired_one_sided(d)
        rows.append(
            {
                C.PAIR: pair,
                C.METHOD: method,
                "n_paired": len(d),
                "_less": less,
                "_greater": greater,
                "effect": float(np.median(e)),
                # Ties count one half, so an A/A comparison centres on 0.5.
                "p_improve": float(np.mean((d < 0) + 0.5 * (d == 0))),
            }
        )
    out = pd.DataFrame(
        rows, columns=[C.PAIR, C.METHOD, "n_paired", "_less", "_greater", "effect", "p_improve"]
    )
    adjusted = holm(out[["_less", "_greater"]].to_numpy().ravel()).reshape(-1, 2)
    out["p_better"], out["p_worse"] = adjusted[:, 0], adjusted[:, 1]
    out["p_value"] = np.where(out["_less"] <= out["_greater"], out["p_better"], out["p_worse"])
    out["verdict"] = np.select(
        [out["p_worse"] < alpha, out["p_better"] < alpha], ["negative", "positive"], "neutral"
    )
    return out.drop(columns=["_less", "_greater"])


def verdicts(
    df: pd.DataFrame,
    baseline: str = "cold-gp",
    metric: str = "auc",
    alpha: float = ALPHA,
    budget: int | None = None,
) -> pd.DataFrame:
    """Transfer verdict per (pair, method) against ``baseline``.

    For each method other than the baseline, on each pair, two paired one-sided
    Wilcoxon signed-rank tests over the seeds both share, on ``metric``
    (``auc``: area under the log10-regret curve; ``final``: final regret).
    Holm's correction runs over all tests of the table (two per comparison).
    ``negative`` when "worse than the baseline" is rejected at ``alpha``,
    ``positive`` when "better" is, else ``neutral``.

    Returns:
        One row per (pair, method) other than the baseline with ``n_paired``,
        ``p_better`` and ``p_worse`` (Holm-adjusted), ``p_value`` (the adjusted
        p of the direction the data lean to), ``effect`` (median paired
        difference of log10 regret, method - baseline: negative = better),
        ``p_improve`` (the fraction of seeds where the method beat the baseline,
        ties counted one half) and ``verdict``.
    """
    return verdicts_from_runs(run_metrics(df, budget=budget), baseline, metric, alpha)


def _group_ci(per_run: pd.DataFrame, col: str, keys: list[str], n_boot: int) -> pd.DataFrame:
    rows = {}
    for key, g in per_run.groupby(keys, sort=True):
        rows[key] = bootstrap_iqm_ci([g[col].to_numpy()], derive_seed("iqm", col, *key), n_boot)
    index = pd.MultiIndex.from_tuples(list(rows), names=keys)
    return pd.DataFrame(list(rows.values()), index=index, columns=["iqm", "lo", "hi"])


def summarize(
    df: pd.DataFrame,
    baseline: str = "cold-gp",
    metric: str = "auc",
    alpha: float = ALPHA,
    budget: int | None = None,
    n_boot: int = N_BOOT,
) -> pd.DataFrame:
    """The report table: one row per (pair, method), contract columns first.

    Aggregates over seeds: final regret mean, standard error, median and IQM
    with a 95% bootstrap interval; the same for the area under the log10-regret
    curve (``auc``); the median random-normalized final regret (1 = the median
    of ``random`` at the same budget); ``mean_rank``, the rank of the method
    among all methods on the same pair and seed by ``metric``, averaged over
    seeds. Verdict columns come from :func:`verdicts`; the baseline's verdict
    is ``baseline``, and every method is ``neutral`` when the table has no
    baseline runs.

    Args:
        df: the tidy table.
        baseline: method label the verdicts compare against.
        metric: ``auc`` or ``final``: what the ranks and tests judge.
        alpha: family-wise error rate of the Holm-corrected tests.
        budget: judge every run after this many evaluations (all by default).
        n_boot: bootstrap resamples of the IQM intervals.
    """
    col = _check_metric(metric)
    per_run = run_metrics(_with_measures(df, budget))
    per_run["rank"] = per_run.groupby([C.PAIR, C.SEED])[col].rank(method="average")

    keys = [C.PAIR, C.METHOD]
    g = per_run.groupby(keys, sort=True)
    table = pd.DataFrame(
        {
            "n_seeds": g.size(),
            "final_regret_mean": g["final_regret"].mean(),
            "final_regret_se": g["final_regret"].sem(ddof=1).fillna(0.0),
            "final_regret_median": g["final_regret"].median(),
            "auc_mean": g["auc"].mean(),
            "mean_rank": g["rank"].mean(),
            "final_log10_regret_mean": g["final_log10_regret"].mean(),
            "final_random_normalized_regret_median": g["final_random_normalized_regret"].median(),
            "auc_se": g["auc"].sem(ddof=1).fillna(0.0),
        }
    )
    for name in ("final_regret", "auc"):
        ci = _group_ci(per_run, name, keys, n_boot)
        table[f"{name}_iqm"], table[f"{name}_iqm_lo"], table[f"{name}_iqm_hi"] = (
            ci["iqm"],
            ci["lo"],
            ci["hi"],
        )
    table = table.reset_index()

    ver = verdicts_from_runs(per_run, baseline, metric, alpha)
    table = table.merge(ver.drop(columns="n_paired"), on=keys, how="left")
    is_base = table[C.METHOD] == baseline
    table.loc[is_base, "verdict"] = "baseline"
    table["verdict"] = table["verdict"].fillna("neutral")
    return table[C.REPORT_COLUMNS + EXTRA_COLUMNS]


def rank_curves(df: pd.DataFrame) -> pd.DataFrame:
    """Mean rank of each method per iteration, as HPO-B reports it (Pineda-Arango
    et al., "HPO-B: A Large-Scale Reproducible Benchmark for Black-Box HPO based
    on OpenML", NeurIPS 2021 Datasets and Benchmarks).

    Methods are ranked by regret of the best point so far within each
    (pair, seed, iteration), ties averaged (1 = best), then the ranks are
    averaged over pairs and seeds.

    Returns:
        Columns ``method, iteration, mean_rank``.
    """
    ranks = df.groupby([C.PAIR, C.SEED, C.ITERATION])[C.REGRET].rank(method="average")
    out = ranks.groupby([df[C.METHOD], df[C.ITERATION]]).mean().rename("mean_rank")
    return out.reset_index()


def method_aggregates(
    df: pd.DataFrame, metric: str = "auc", n_boot: int = N_BOOT, budget: int | None = None
) -> pd.DataFrame:
    """One row per method across all pairs: IQM of the final random-normalized
    regret (scale-free across pairs; the final normalized regret when the sweep
    has no ``random`` runs) with a stratified bootstrap interval (pairs are the
    strata, as rliable does across tasks), and the mean rank by ``metric``.

    Returns:
        Columns ``method, n_pairs, n_runs, measure, iqm, iqm_lo, iqm_hi,
        mean_rank``, best IQM first.
    """
    col = _check_metric(metric)
    per_run = run_metrics(_with_measures(df, budget))
    per_run["rank"] = per_run.groupby([C.PAIR, C.SEED])[col].rank(method="average")
    measure = "final_random_normalized_regret"
    if per_run[measure].notna().sum() == 0:
        measure = "final_normalized_regret"
    rows = []
    for method, g in per_run.groupby(C.METHOD, sort=True):
        strata = [s[measure].to_numpy() for _, s in g.groupby(C.PAIR)]
        point, lo, hi = bootstrap_iqm_ci(strata, derive_seed("iqm-method", measure, method), n_boot)
        rows.append(
            {
                C.METHOD: method,
                "n_pairs": g[C.PAIR].nunique(),
                "n_runs": len(g),
                "measure": measure,
                "iqm": point,
                "iqm_lo": lo,
                "iqm_hi": hi,
                "mean_rank": g["rank"].mean(),
            }
        )
    return pd.DataFrame(rows).sort_values(["iqm", C.METHOD], ignore_index=True)
