"""A verdict per method across settings: "is method X better than the
baseline on this benchmark?", one row per method, where the report table
answers per setting.

Each method is compared with the baseline by a stratified signed-rank test
over the settings (pairs), corrected over the methods, and by the
probability of improvement with a stratified bootstrap interval as rliable
reports it (Agarwal et al., "Deep Reinforcement Learning at the Edge of the
Statistical Precipice", NeurIPS 2021; ``rliable/metrics.py``,
``probability_of_improvement``, and ``rliable/library.py``,
``StratifiedIndependentBootstrap``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bo_transfer import columns as C
from bo_transfer.analysis.signed_rank import TIE_TOL, min_two_sided_p, stratified_signed_rank
from bo_transfer.analysis.stats import ALPHA, METRICS, N_BOOT, adjust
from bo_transfer.seeding import derive_seed

#: Columns of :func:`method_verdicts`, in this order.
METHOD_VERDICT_COLUMNS = [
    C.METHOD,
    "n_settings",
    "n_paired",
    "n_failed",
    "statistic",
    "null_mean",
    "p_raw",
    "p_value",
    "verdict",
    "poi",
    "poi_lo",
    "poi_hi",
]


def probability_of_improvement(
    x: list[np.ndarray], y: list[np.ndarray], tol: float = TIE_TOL
) -> float:
    """rliable's probability of improvement of ``x`` over ``y``, for scores
    where lower is better: per stratum (task, here setting), the probability
    that a random run of ``x`` scores below a random run of ``y``, ties
    (within ``tol``) counting one half, i.e. the Mann-Whitney ``U / (n_x
    n_y)``; then the mean over strata. Unpaired, as rliable defines it.

    Args:
        x: one array of scores per stratum.
        y: the same strata's scores of the method compared against.
        tol: the tie tolerance.
    """
    return float(np.mean([_pairwise_wins(a[None], b[None], tol)[0] for a, b in zip(x, y)]))


def _pairwise_wins(a: np.ndarray, b: np.ndarray, tol: float) -> np.ndarray:
    """For each row: ``P(a < b) + P(a ~ b) / 2`` over every (a, b) pair."""
    diff = a[:, :, None] - b[:, None, :]
    return ((diff < -tol) + 0.5 * (np.abs(diff) <= tol)).mean(axis=(1, 2))


def poi_interval(
    x: list[np.ndarray],
    y: list[np.ndarray],
    seed: int,
    n_boot: int = N_BOOT,
    level: float = 0.95,
    tol: float = TIE_TOL,
) -> tuple[float, float]:
    """Percentile interval of :func:`probability_of_improvement` from a
    stratified independent bootstrap: each resample draws, within every
    stratum, ``x``'s runs and ``y``'s runs with replacement, independently
    (rliable's ``StratifiedIndependentBootstrap``)."""
    rng = np.random.default_rng(seed)
    per_stratum = [
        _pairwise_wins(
            a[rng.integers(0, len(a), (n_boot, len(a)))],
            b[rng.integers(0, len(b), (n_boot, len(b)))],
            tol,
        )
        for a, b in zip(x, y)
    ]
    boot = np.mean(per_stratum, axis=0)
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def method_verdicts(
    per_run: pd.DataFrame,
    baseline: str = "cold-gp",
    metric: str = "auc",
    alpha: float = ALPHA,
    correction: str = "holm",
    n_boot: int = N_BOOT,
    tol: float = TIE_TOL,
) -> pd.DataFrame:
    """One verdict per method against ``baseline`` across all settings.

    The test: the stratified signed-rank test over settings
    (:func:`~bo_transfer.analysis.signed_rank.stratified_signed_rank`) of
    the paired differences ``method - baseline`` of ``metric``, exact by
    convolution of the per-setting null distributions; its p-values are
    corrected over the methods by ``correction``. ``positive`` / ``negative``
    when the corrected p is below ``alpha``, in the test's direction;
    ``untestable`` when all paired seeds together cannot reach ``alpha``;
    ``inconclusive`` otherwise. The probability of improvement ``poi`` is
    :func:`probability_of_improvement` over the settings where both ran
    (above 0.5: the method tends to beat the baseline on a random setting and
    seed), with its 95% :func:`poi_interval`.

    Args:
        per_run: per-run metrics with failed runs charged
            (:func:`~bo_transfer.analysis.stats.charge_failures`; column
            ``charged``).
        baseline: the method compared against.
        metric: ``auc`` or ``final``.
        alpha: the level over the methods.
        correction: ``holm`` or ``bh``.
        n_boot: bootstrap resamples of the interval.
        tol: the tie tolerance.

    Returns:
        Columns :data:`METHOD_VERDICT_COLUMNS`, one row per method other than
        the baseline: ``n_settings`` (pairs where both ran), ``n_paired`` (the
        paired seeds over them), ``n_failed`` (the method's charged runs),
        ``statistic`` and ``null_mean`` (``S`` and its mean under no shift, in
        doubled ranks: above the mean, the method's metric is higher, worse).
    """
    col = METRICS[metric]
    base = per_run[per_run[C.METHOD] == baseline].set_index([C.PAIR, C.SEED])[col]
    rows = []
    for method, runs in per_run[per_run[C.METHOD] != baseline].groupby(C.METHOD, sort=True):
        diffs, xs, ys = [], [], []
        for pair, g in runs.groupby(C.PAIR, sort=True):
            if pair not in base.index.get_level_values(0):
                continue
            b = base.loc[pair]
            mine = g.set_index(C.SEED)[col]
            shared = mine.index.intersection(b.index)
            diffs.append((mine[shared] - b[shared]).to_numpy(float))
            xs.append(mine.to_numpy(float))
            ys.append(b.to_numpy(float))
        n_paired = int(sum(len(d) for d in diffs))
        p, direction, statistic, total = stratified_signed_rank(diffs, tol)
        seed = derive_seed("poi", method, baseline, metric)
        poi = probability_of_improvement(xs, ys, tol) if xs else np.nan
        lo, hi = poi_interval(xs, ys, seed, n_boot, tol=tol) if xs else (np.nan, np.nan)
        rows.append(
            {
                C.METHOD: method,
                "n_settings": len(diffs),
                "n_paired": n_paired,
                "n_failed": int(runs["charged"].sum()) if "charged" in runs else 0,
                "statistic": statistic,
                "null_mean": total / 2,
                "p_raw": p,
                "testable": min_two_sided_p(n_paired) < alpha,
                "direction": direction,
                "poi": poi,
                "poi_lo": lo,
                "poi_hi": hi,
            }
        )
    out = pd.DataFrame(rows, columns=[*METHOD_VERDICT_COLUMNS, "testable", "direction"])
    testable = out["testable"].astype(bool).to_numpy()
    out["p_value"] = adjust(np.where(testable, out["p_raw"].to_numpy(float), np.nan), correction)
    significant = out["p_value"] < alpha
    out["verdict"] = np.select(
        [
            ~testable,
            significant & (out["direction"] < 0),
            significant & (out["direction"] > 0),
        ],
        ["untestable", "positive", "negative"],
        "inconclusive",
    )
    return out[METHOD_VERDICT_COLUMNS].reset_index(drop=True)
