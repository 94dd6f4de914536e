"""Per-(pair, method) summaries, the transfer verdict against a baseline, and
robust aggregates (IQM with bootstrap confidence intervals, mean ranks).

All functions are pure: DataFrame in, DataFrame out. Inputs are the tidy table
of :func:`bo_transfer.analysis.load_results` (one row per run and iteration).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bo_transfer import columns as C
from bo_transfer.analysis.regret import add_random_normalized, run_metrics, truncate
from bo_transfer.analysis.signed_rank import (
    TIE_TOL,
    hodges_lehmann,
    min_two_sided_p,
    signed_rank_direction,
    signed_rank_p,
    ties_to_zero,
)
from bo_transfer.seeding import derive_seed

#: ``--metric`` name -> the per-run column a table judges: the verdict's test,
#: its effect and interval, the IQM, the ranks and the bold marks all use it.
#: Both are log10 regret, so effects compare across pairs of different scales.
METRICS = {"auc": "auc", "final": "final_log10_regret"}
#: ``--metric`` name -> the words captions use for it.
METRIC_WORDS = {
    "auc": "area under the log10-regret curve (AUC)",
    "final": "final log10 regret",
}
ALPHA = 0.05
#: Equivalence margin in log10 regret units: a method is ``equivalent`` to the
#: baseline when the 95% interval of its effect lies within +-MARGIN (0.1 is a
#: factor of 1.26 in regret).
MARGIN = 0.1
#: Bootstrap resamples for IQM confidence intervals. rliable's default is
#: 50,000 (``get_interval_estimates(reps=50000)``); 2,000 keeps a report fast,
#: and the Monte Carlo error of a 95% percentile endpoint at 2,000 resamples
#: (about 1% of the interval's width) is well below the seed-to-seed spread the
#: interval describes.
N_BOOT = 2000

#: Extra report columns, after the contract ones, in this order.
EXTRA_COLUMNS = [
    "metric",
    "metric_mean",
    "metric_iqm",
    "metric_iqm_lo",
    "metric_iqm_hi",
    "effect",
    "effect_lo",
    "effect_hi",
    "win_rate",
    "p_raw",
    "final_log10_regret_mean",
    "final_random_normalized_regret_median",
    "auc_se",
    "p_equivalence",
    "family_size",
]

#: ``--family`` choices: which comparisons one correction covers.
#:
#: - ``setting``: the comparisons with the baseline within one setting (one
#:   pair at the table's budget): a verdict on a cell does not depend on how
#:   many other settings the study ran;
#: - ``method``: one method's comparisons over every setting of the table;
#: - ``table``: every cell of the table, judged by the rules of reports made
#:   before per-setting families (direction from the Hodges-Lehmann estimate,
#:   zero differences kept in its interval, equivalence when that 95% interval
#:   lies within the margin, uncorrected), so such reports reproduce exactly.
FAMILIES = {"setting": [C.PAIR], "method": [C.METHOD], "table": []}
#: ``--correction`` choices: Holm's step-down (family-wise error, the default)
#: or Benjamini-Hochberg's step-up (false discovery rate, for screening).
CORRECTIONS = ("holm", "bh")


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1)
    along the last axis; NaN entries are not tested (they stay NaN and do not
    count in the family's size)."""
    return _adjust(p_values, step_down=True)


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (step-up, monotone, capped at 1)
    along the last axis, NaN entries untested as in :func:`holm`.

    Benjamini and Hochberg, "Controlling the False Discovery Rate", JRSS B 1995.
    """
    return _adjust(p_values, step_down=False)


def adjust(p_values: np.ndarray, correction: str = "holm") -> np.ndarray:
    """``p_values`` adjusted by ``correction`` (one of :data:`CORRECTIONS`)."""
    if correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {', '.join(CORRECTIONS)}, got {correction!r}")
    return holm(p_values) if correction == "holm" else benjamini_hochberg(p_values)


def _adjust(p_values: np.ndarray, step_down: bool) -> np.ndarray:
    p = np.asarray(p_values, dtype=float)
    untested = np.isnan(p)
    m = (~untested).sum(axis=-1, keepdims=True)
    # Untested entries sort last (as +inf) and are restored to NaN at the end.
    order = np.argsort(np.where(untested, np.inf, p), axis=-1, kind="stable")
    ps = np.take_along_axis(np.where(untested, np.inf, p), order, axis=-1)
    i = np.arange(p.shape[-1])
    if step_down:
        adjusted = np.maximum.accumulate(ps * np.maximum(m - i, 1), axis=-1)
    else:
        scaled = ps * m / (i + 1)
        adjusted = np.flip(np.minimum.accumulate(np.flip(scaled, -1), axis=-1), -1)
    out = np.empty_like(p)
    np.put_along_axis(out, order, np.minimum(1.0, adjusted), axis=-1)
    return np.where(untested, np.nan, out)


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


def _check_margin(margin: float) -> float:
    if not (isinstance(margin, (int, float)) and math.isfinite(margin) and margin > 0):
        raise ValueError(f"margin must be a positive number of log10 units, got {margin!r}")
    return float(margin)


#: Columns of :func:`verdicts`, in this order.
VERDICT_COLUMNS = [
    C.PAIR,
    C.METHOD,
    "n_paired",
    "p_raw",
    "p_value",
    "p_equivalence",
    "family_size",
    "effect",
    "effect_lo",
    "effect_hi",
    "win_rate",
    "verdict",
]

#: The per-run metrics a failed run is charged: normalized regret 1 at every
#: evaluation, so log10 regret 0 (the rule failed evaluations already follow,
#: :func:`~bo_transfer.analysis.regret.add_regret`).
CHARGED_METRICS = {"auc": 0.0, "final_log10_regret": 0.0}


def charge_failures(per_run: pd.DataFrame, failed: pd.DataFrame | None = None) -> pd.DataFrame:
    """``per_run`` plus one row per run that failed or is missing, charged
    normalized regret 1 (:data:`CHARGED_METRICS`), with ``charged`` True.

    A run is missing when its pair has the seed (some method ran or failed on
    it) and its method has runs on the pair, but this one is not among the
    finished runs: stored as failed (``failed``), or absent from an export,
    which holds finished runs only. Dropping such a run instead would drop the
    seed from the cell (and a failed baseline run from every cell of its
    pair), which flatters a method that fails on hard seeds.

    Args:
        per_run: :func:`~bo_transfer.analysis.regret.run_metrics` rows.
        failed: rows ``pair, method, seed`` of runs stored as failed.
    """
    keys = [C.PAIR, C.METHOD, C.SEED]
    known = per_run[keys]
    if failed is not None and len(failed):
        known = pd.concat([known, failed[keys]], ignore_index=True)
    cells = known[[C.PAIR, C.METHOD]].drop_duplicates()
    seeds = known[[C.PAIR, C.SEED]].drop_duplicates()
    everything = cells.merge(seeds, on=C.PAIR)
    finished = pd.MultiIndex.from_frame(per_run[keys])
    missing = everything[~pd.MultiIndex.from_frame(everything[keys]).isin(finished)]
    charged = missing.assign(**CHARGED_METRICS, charged=True)
    return pd.concat([per_run.assign(charged=False), charged], ignore_index=True)


#: What :func:`_cell_statistics` returns per cell (``p_tost``: the larger
#: of the two one-sided equivalence p; ``sign``: the verdict's direction).
CELL_STATISTICS = ["p_raw", "p_tost", "sign", "effect", "effect_lo", "effect_hi", "win_rate"]


def _cell_statistics(
    d: np.ndarray, alpha: float, margin: float, tol: float, legacy: bool
) -> dict[str, float]:
    if len(d) == 0:
        return dict.fromkeys(CELL_STATISTICS, np.nan)
    zeros = "keep" if legacy else "drop"
    effect, lo, hi = hodges_lehmann(d, level=1 - alpha, tol=tol, zeros=zeros)
    tied = ties_to_zero(d, tol)
    # Two one-sided tests of |shift| >= margin (Schuirmann 1987), each a
    # signed-rank test of the differences moved by the margin.
    p_tost = max(
        signed_rank_p(d + margin, tol=tol, alternative="greater"),
        signed_rank_p(d - margin, tol=tol, alternative="less"),
    )
    return {
        "p_raw": signed_rank_p(d, tol=tol),
        "p_tost": p_tost,
        "sign": float(np.sign(effect)) if legacy else signed_rank_direction(d, tol),
        "effect": effect,
        "effect_lo": lo,
        "effect_hi": hi,
        # Ties count one half, so identical methods score 0.5.
        "win_rate": float(np.mean((tied < 0) + 0.5 * (tied == 0))),
    }


def family_verdicts(
    p_raw: np.ndarray,
    sign: np.ndarray,
    p_tost: np.ndarray,
    n_paired: np.ndarray,
    alpha: float = ALPHA,
    correction: str = "holm",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The verdicts of one family of comparisons (the last axis; leading axes
    are independent families, e.g. simulated replicates).

    A cell is ``untestable`` when its ``n_paired`` seeds cannot give a
    two-sided p below ``alpha`` even all in one direction (``2^(1-n) >=
    alpha``: 5 seeds or fewer at 0.05); it stays outside the family and out of
    its size. The other cells' two-sided p (``p_raw``) and two-one-sided-test
    p (``p_tost``) are each corrected over the family by ``correction``. A
    cell is ``positive`` / ``negative`` when its corrected p is below
    ``alpha``, in the direction of the test (``sign`` < 0: the method's
    metric is lower, better); otherwise ``equivalent`` when its corrected
    equivalence p is below ``alpha``; otherwise ``inconclusive``.

    Returns:
        ``(p_value, p_equivalence, verdict)``: corrected p-values (NaN when
        untestable) and the verdict strings.
    """
    n_paired = np.asarray(n_paired)
    testable = np.vectorize(min_two_sided_p, otypes=[float])(n_paired) < alpha
    testable &= ~np.isnan(np.asarray(p_raw, dtype=float))
    p_value = adjust(np.where(testable, p_raw, np.nan), correction)
    p_equivalence = adjust(np.where(testable, p_tost, np.nan), correction)
    significant = p_value < alpha
    verdict = np.select(
        [
            ~testable,
            significant & (np.asarray(sign) < 0),
            significant & (np.asarray(sign) > 0),
            p_equivalence < alpha,
        ],
        ["untestable", "positive", "negative", "equivalent"],
        "inconclusive",
    )
    return p_value, p_equivalence, verdict


def paired_differences(
    per_run: pd.DataFrame, baseline: str = "cold-gp", metric: str = "auc"
) -> pd.DataFrame:
    """``method - baseline`` of ``metric`` on every (pair, seed) where both have a
    finite value: columns ``pair, method, seed, diff``."""
    col = _check_metric(metric)
    base = per_run.loc[per_run[C.METHOD] == baseline, [C.PAIR, C.SEED, col]]
    others = per_run.loc[per_run[C.METHOD] != baseline, [C.PAIR, C.METHOD, C.SEED, col]]
    paired = others.merge(base, on=[C.PAIR, C.SEED], suffixes=("", "_base"))
    paired["diff"] = paired[col] - paired[f"{col}_base"]
    paired = paired[np.isfinite(paired["diff"])]
    return paired[[C.PAIR, C.METHOD, C.SEED, "diff"]].reset_index(drop=True)


def _check_family(family: str, correction: str) -> None:
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {family!r}")
    if correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {', '.join(CORRECTIONS)}, got {correction!r}")


def verdicts_from_runs(
    per_run: pd.DataFrame,
    baseline: str = "cold-gp",
    metric: str = "auc",
    alpha: float = ALPHA,
    margin: float = MARGIN,
    tol: float = TIE_TOL,
    family: str = "setting",
    correction: str = "holm",
) -> pd.DataFrame:
    """The transfer verdicts from per-run metrics, failed runs already charged
    (:func:`charge_failures`; see :func:`verdicts`)."""
    margin = _check_margin(margin)
    _check_family(family, correction)
    legacy = family == "table"
    keys = [C.PAIR, C.METHOD]
    cells = per_run.loc[per_run[C.METHOD] != baseline, keys].drop_duplicates().sort_values(keys)
    paired = paired_differences(per_run, baseline, metric)
    diffs = {key: g["diff"].to_numpy() for key, g in paired.groupby(keys, sort=True)}

    rows = []
    for pair, method in cells.itertuples(index=False):
        d = diffs.get((pair, method), np.empty(0))
        stats_ = _cell_statistics(d, alpha, margin, tol, legacy)
        rows.append({C.PAIR: pair, C.METHOD: method, "n_paired": len(d)} | stats_)
    out = pd.DataFrame(rows, columns=[*keys, "n_paired", *CELL_STATISTICS])
    out["p_value"] = np.nan
    out["p_equivalence"] = np.nan
    out["verdict"] = "untestable"
    groups = out.groupby(FAMILIES[family], sort=True) if FAMILIES[family] else [(None, out)]
    for _, g in groups:
        p_value, p_eq, verdict = family_verdicts(
            g["p_raw"].to_numpy(),
            g["sign"].to_numpy(),
            g["p_tost"].to_numpy(),
            g["n_paired"].to_numpy(),
            alpha,
            correction,
        )
        out.loc[g.index, "p_value"] = p_value
        out.loc[g.index, "p_equivalence"] = p_eq
        out.loc[g.index, "verdict"] = verdict
        out.loc[g.index, "family_size"] = int(np.isfinite(p_value).sum())
    if legacy:
        # The rules of reports before per-setting families: direction from the
        # estimate's sign, equivalence from its uncorrected 95% interval.
        significant = out["p_value"] < alpha
        within = (out["effect_lo"] >= -margin) & (out["effect_hi"] <= margin)
        testable = out["verdict"] != "untestable"
        out["verdict"] = np.where(
            testable,
            np.select(
                [significant & (out["effect"] < 0), significant & (out["effect"] > 0), within],
                ["positive", "negative", "equivalent"],
                "inconclusive",
            ),
            "untestable",
        )
    out["family_size"] = out["family_size"].fillna(0).astype(int)
    return out[VERDICT_COLUMNS].reset_index(drop=True)


#: How captions name each family.
FAMILY_WORDS = {
    "setting": "within each setting (the comparisons with the baseline on one pair)",
    "method": "within each method (its comparisons with the baseline over every pair)",
    "table": "over the whole table (the rules of earlier reports: direction from the "
    "effect's sign, equivalence from its 95% interval)",
}
#: How captions name each correction.
CORRECTION_WORDS = {"holm": "Holm-corrected", "bh": "Benjamini-Hochberg-corrected"}


def family_summary(
    table: pd.DataFrame, family: str = "setting", correction: str = "holm", alpha: float = ALPHA
) -> dict[str, object]:
    """What a reader must know about a table's multiplicity correction.

    Args:
        table: :func:`summarize`'s table (or :func:`verdicts`).
        family: its family (:data:`FAMILIES`).
        correction: its correction (:data:`CORRECTIONS`).
        alpha: its level.

    Returns:
        ``family``, ``correction``, ``alpha``, ``n_families`` (families with
        a tested cell), ``largest_family`` (tested cells), ``n_untestable``
        and ``expected_false``: the expected number of false verdicts in the
        whole table when no method differs from the baseline, about
        ``n_families * alpha`` (each family's chance of any false verdict is
        at most ``alpha``, and under that null a family rarely has two).
    """
    _check_family(family, correction)
    tested = table[table["p_value"].notna()]
    keys = FAMILIES[family]
    sizes = tested.groupby(keys).size() if keys else pd.Series([len(tested)] if len(tested) else [])
    return {
        "family": family,
        "correction": correction,
        "alpha": alpha,
        "n_families": int(len(sizes)),
        "largest_family": int(sizes.max()) if len(sizes) else 0,
        "n_untestable": int((table["verdict"] == "untestable").sum()),
        "expected_false": len(sizes) * alpha,
    }


def verdicts(
    df: pd.DataFrame,
    baseline: str = "cold-gp",
    metric: str = "auc",
    alpha: float = ALPHA,
    budget: int | None = None,
    margin: float = MARGIN,
    tol: float = TIE_TOL,
    family: str = "setting",
    correction: str = "holm",
    failed: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Transfer verdict per (pair, method) against ``baseline``.

    For each method other than the baseline, on each pair, the paired
    differences ``d = method - baseline`` of ``metric`` over the pair's seeds
    (``auc``: area under the log10-regret curve; ``final``: final log10
    regret). A run that failed or is missing is charged normalized regret 1
    (:func:`charge_failures`), so every seed stays paired. Differences of at
    most ``tol`` are ties (0), and ties are dropped by the test and by the
    interval alike (Wilcoxon's rule; see
    :func:`~bo_transfer.analysis.signed_rank.hodges_lehmann`).

    One two-sided Wilcoxon signed-rank test per cell, by its exact sign-flip
    permutation distribution
    (:func:`~bo_transfer.analysis.signed_rank.signed_rank_p`), and two
    one-sided signed-rank tests of the differences shifted by ``+-margin``
    (equivalence, TOST), both corrected by ``correction`` within each
    ``family`` (:data:`FAMILIES`; default: the comparisons of one setting).
    Verdicts (:func:`family_verdicts`): ``untestable``, ``positive`` /
    ``negative`` (the direction of the test), ``equivalent``,
    ``inconclusive``. ``family="table"`` applies the rules of earlier reports
    (see :data:`FAMILIES`).

    ``effect`` is the Hodges-Lehmann estimate of the paired difference (the
    median of the Walsh averages; negative = better than the baseline), with
    the rank-based ``1 - alpha`` interval ``[effect_lo, effect_hi]``: the
    shifts the same test does not reject, per cell (not corrected).

    Returns:
        One row per (pair, method) other than the baseline, columns
        :data:`VERDICT_COLUMNS`: ``n_paired`` (seeds paired with the
        baseline), ``p_raw`` (the unadjusted two-sided p), ``p_value`` and
        ``p_equivalence`` (corrected), ``family_size`` (the tested cells of
        its family), ``effect``, ``effect_lo``, ``effect_hi``, ``win_rate``
        (the fraction of paired seeds where the method beat the baseline by
        more than ``tol``, ties counted one half) and ``verdict``.
    """
    per_run = charge_failures(run_metrics(df, budget=budget), failed)
    return verdicts_from_runs(
        per_run, baseline, metric, alpha, margin, tol, family=family, correction=correction
    )


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
    margin: float = MARGIN,
    failed: pd.DataFrame | None = None,
    family: str = "setting",
    correction: str = "holm",
) -> pd.DataFrame:
    """The report table: one row per (pair, method), contract columns first.

    Descriptive, on raw regret of the finished runs: final regret mean,
    standard error and median; ``auc_mean`` (the contract's area under the
    log10-regret curve); the median random-normalized final regret (1 = the
    median of ``random`` at the same budget). On the judged ``metric``
    (``metric`` names it): ``metric_mean``, ``metric_iqm`` with a 95%
    bootstrap interval, ``mean_rank`` (the rank among all methods on the same
    pair and seed, averaged over seeds), and the verdict columns of
    :func:`verdicts` (failed runs charged). The baseline's verdict is
    ``baseline``.

    ``n_seeds`` counts the finished runs of a cell, ``n_failed`` the runs
    charged as failed (stored as failed in ``failed``, or missing), and
    ``n_paired`` the seeds compared with the baseline: every seed of the
    pair, charged runs included. A cell whose runs all failed still has a
    row, with ``n_seeds`` 0.

    Args:
        df: the tidy table.
        baseline: method label the verdicts compare against.
        metric: ``auc`` or ``final``: what the ranks, IQM and tests judge.
        alpha: error rate of the corrected tests in each family (and
            ``1 - alpha`` the coverage of the effect's interval).
        budget: judge every run after this many evaluations (all by default).
        n_boot: bootstrap resamples of the IQM intervals.
        margin: the equivalence margin, log10 regret units.
        failed: the failed runs, one row each with ``pair, method, seed``
            (:func:`~bo_transfer.analysis.regret.load_failed`).
        family: which comparisons one correction covers (:data:`FAMILIES`).
        correction: ``holm`` or ``bh`` (:data:`CORRECTIONS`).
    """
    col = _check_metric(metric)
    _check_family(family, correction)
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
            "metric_mean": g[col].mean(),
            "final_log10_regret_mean": g["final_log10_regret"].mean(),
            "final_random_normalized_regret_median": g["final_random_normalized_regret"].median(),
            "auc_se": g["auc"].sem(ddof=1).fillna(0.0),
        }
    )
    ci = _group_ci(per_run, col, keys, n_boot)
    table["metric_iqm"], table["metric_iqm_lo"], table["metric_iqm_hi"] = (
        ci["iqm"],
        ci["lo"],
        ci["hi"],
    )
    charged = charge_failures(per_run, failed)
    n_failed = charged.groupby(keys, sort=True)["charged"].sum()
    table = table.reindex(table.index.union(n_failed.index))
    table["n_seeds"] = table["n_seeds"].fillna(0).astype(int)
    table["n_failed"] = n_failed.reindex(table.index).fillna(0).astype(int)
    table = table.reset_index()

    ver = verdicts_from_runs(
        charged, baseline, metric, alpha, margin, family=family, correction=correction
    )
    table = table.merge(ver, on=keys, how="left")
    is_base = table[C.METHOD] == baseline
    table.loc[is_base, "verdict"] = "baseline"
    table.loc[is_base, "n_paired"] = table.loc[is_base, "n_seeds"] + table.loc[is_base, "n_failed"]
    # A pair without any baseline run has nothing to pair with.
    table["verdict"] = table["verdict"].fillna("untestable")
    table["n_paired"] = table["n_paired"].fillna(0).astype(int)
    table["family_size"] = table["family_size"].fillna(0).astype(int)
    table["metric"] = metric
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


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with ``0 / 0 = 0`` (both at the optimum) and ``x / 0 = inf``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(num == 0, 0.0, num / den)


def random_normalized_iqm(
    per_run: pd.DataFrame,
    method: str,
    reference: str = "random",
    n_boot: int = N_BOOT,
    level: float = 0.95,
) -> tuple[float, float, float, list[str]]:
    """IQM of ``method``'s final regret over the median final regret of
    ``reference`` on the same pair, pooled over pairs, with a stratified
    percentile bootstrap interval that resamples both.

    Each resample draws, within every pair, the method's runs and the
    reference's runs with replacement and divides by the resampled reference's
    median: the interval carries the noise of the denominator as well as the
    numerator's (for the reference itself, one draw serves both). A resample
    whose reference median is 0 gives 0 for a run at the optimum and ``inf``
    otherwise, which can make the upper end infinite: honest about a
    denominator that may vanish. Pairs where the reference's own median final
    regret is 0 (it found the optimum on most seeds) cannot be normalized and
    are dropped; they are returned so that a report can say so.

    Args:
        per_run: :func:`~bo_transfer.analysis.regret.run_metrics` rows
            (``pair, method, seed, final_regret``); all runs share a budget.
        method: the method to aggregate.
        reference: the method that defines 1.
        n_boot: bootstrap resamples.
        level: coverage of the interval.

    Returns:
        ``(iqm, lo, hi, dropped_pairs)``; NaN values when no pair is left.
    """
    rng = np.random.default_rng(derive_seed("iqm-random-normalized", method, reference))
    point, boot, dropped = [], [], []
    ref_runs = per_run[per_run[C.METHOD] == reference]
    for pair, g in per_run[per_run[C.METHOD] == method].groupby(C.PAIR, sort=True):
        r = g["final_regret"].to_numpy(dtype=float)
        q = ref_runs.loc[ref_runs[C.PAIR] == pair, "final_regret"].to_numpy(dtype=float)
        r, q = r[np.isfinite(r)], q[np.isfinite(q)]
        if len(r) == 0 or len(q) == 0:
            continue
        if np.median(q) == 0:
            dropped.append(pair)
            continue
        point.append(r / np.median(q))
        idx = rng.integers(0, len(r), size=(n_boot, len(r)))
        ref_idx = idx if method == reference else rng.integers(0, len(q), size=(n_boot, len(q)))
        boot.append(_ratio(r[idx], np.median(q[ref_idx], axis=1, keepdims=True)))
    if not point:
        return np.nan, np.nan, np.nan, dropped
    stats_ = iqm(np.concatenate(boot, axis=1), axis=1)
    # "nearest" keeps an infinite resample from turning an endpoint into NaN.
    lo, hi = np.quantile(stats_, [(1 - level) / 2, (1 + level) / 2], method="nearest")
    return float(iqm(np.concatenate(point))), float(lo), float(hi), dropped


def method_aggregates(
    df: pd.DataFrame,
    metric: str = "auc",
    n_boot: int = N_BOOT,
    budget: int | None = None,
    reference: str = "random",
) -> pd.DataFrame:
    """One row per method across all pairs: IQM of the final random-normalized
    regret (scale-free across pairs; :func:`random_normalized_iqm`, whose
    interval also resamples ``reference``'s runs) or, when the sweep has no
    ``reference`` runs, of the final normalized regret with a stratified
    bootstrap interval (pairs are the strata, as rliable does across tasks);
    and the mean rank by ``metric``.

    Returns:
        Columns ``method, n_pairs, n_runs, measure, iqm, iqm_lo, iqm_hi,
        n_pairs_dropped, mean_rank``, best IQM first; ``n_pairs_dropped``
        counts the pairs left out of the IQM because the reference's median
        final regret there is 0.
    """
    col = _check_metric(metric)
    per_run = run_metrics(_with_measures(df, budget))
    per_run["rank"] = per_run.groupby([C.PAIR, C.SEED])[col].rank(method="average")
    normalize = bool((per_run[C.METHOD] == reference).any())
    measure = "final_random_normalized_regret" if normalize else "final_normalized_regret"
    rows = []
    for method, g in per_run.groupby(C.METHOD, sort=True):
        if normalize:
            point, lo, hi, dropped = random_normalized_iqm(per_run, method, reference, n_boot)
        else:
            strata = [s[measure].to_numpy() for _, s in g.groupby(C.PAIR)]
            seed = derive_seed("iqm-method", measure, method)
            (point, lo, hi), dropped = bootstrap_iqm_ci(strata, seed, n_boot), []
        rows.append(
            {
                C.METHOD: method,
                "n_pairs": g[C.PAIR].nunique(),
                "n_runs": len(g),
                "measure": measure,
                "iqm": point,
                "iqm_lo": lo,
                "iqm_hi": hi,
                "n_pairs_dropped": len(dropped),
                "mean_rank": g["rank"].mean(),
            }
        )
    return pd.DataFrame(rows).sort_values(["iqm", C.METHOD], ignore_index=True)


def zero_reference_pairs(df: pd.DataFrame, reference: str = "random") -> list[str]:
    """The pairs where ``reference``'s median final regret is 0, which no
    random-normalized measure can use (see :func:`random_normalized_iqm`)."""
    per_run = run_metrics(df)
    ref = per_run[per_run[C.METHOD] == reference]
    median = ref.groupby(C.PAIR, sort=True)["final_regret"].median()
    return list(median.index[median == 0])
