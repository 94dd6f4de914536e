"""The Wilcoxon signed-rank test of paired differences as an exact sign-flip
permutation test, the Hodges-Lehmann estimate with its rank-based confidence
interval, and the smallest shift the test detects.

Nothing here calls a SciPy test (only the special function ``erfc``): SciPy
changed how ``wilcoxon`` treats ties and zeros in 1.15 and switches to a normal
approximation from 14 seeds with ties, so a table's p-values would depend on
the installed version. The permutation
distribution is computed exactly by dynamic programming up to
:data:`EXACT_MAX` non-zero differences (cheap: ``O(n^3)`` operations); above
that, a normal approximation with the exact permutation variance and a
continuity correction is used, whose error at that size is far below any
decision it informs.

References: Wilcoxon, "Individual Comparisons by Ranking Methods", Biometrics
Bulletin 1945; Hodges and Lehmann, "Estimates of Location Based on Rank Tests",
Ann. Math. Statist. 1963; Hollander, Wolfe and Chicken, "Nonparametric
Statistical Methods", 3rd ed., Sections 3.1-3.3 (the interval from the Walsh
averages).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
from scipy.special import erfc

#: Paired differences at most this large (absolute, in log10 regret units) are
#: ties: exactly as if both runs had scored the same. Round-off of an AUC over a
#: few hundred evaluations is ~1e-13; a real difference of 1e-6 log10 units is a
#: relative change of regret of 2.3e-6, which no BO comparison resolves.
TIE_TOL = 1e-6

#: Up to this many non-zero differences the permutation distribution is exact;
#: above it, the normal approximation (see :func:`signed_rank_p`).
EXACT_MAX = 200


def ties_to_zero(diff: np.ndarray, tol: float = TIE_TOL) -> np.ndarray:
    """``diff`` as floats with every value of absolute size ``<= tol`` set to 0."""
    d = np.asarray(diff, dtype=float)
    return np.where(np.abs(d) <= tol, 0.0, d)


def doubled_midranks(values: np.ndarray) -> np.ndarray:
    """Twice the ranks of ``values`` (1 = smallest), tied values sharing the
    average of their ranks; doubled so that every rank is an integer."""
    v = np.asarray(values, dtype=float)
    order = np.argsort(v, kind="stable")
    sorted_v = v[order]
    # Start and end (1-based) position of each run of equal values.
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_v)) + 1]
    ends = np.r_[starts[1:], len(v)]
    doubled = np.repeat(starts + 1 + ends, ends - starts)
    out = np.empty(len(v), dtype=np.int64)
    out[order] = doubled
    return out


def null_distribution(scores: np.ndarray) -> np.ndarray:
    """Exact distribution of ``T = sum of the scores whose sign is +`` when each
    sign is + or - with probability 1/2 independently (the sign-flip
    permutation distribution of the signed-rank statistic).

    Args:
        scores: `n` non-negative integer scores (e.g. doubled midranks).

    Returns:
        A `sum(scores) + 1` array: ``P(T = t)`` for ``t = 0 .. sum(scores)``.
    """
    dist = np.ones(1)
    for s in np.asarray(scores, dtype=np.int64):
        grown = np.zeros(len(dist) + s)
        grown[: len(dist)] += dist
        grown[s:] += dist
        dist = 0.5 * grown
    return dist


def _two_sided_from_null(scores: np.ndarray, exact_max: int) -> np.ndarray:
    """``p[t] = P(|T - mu| >= |t - mu|)`` for every ``t = 0 .. sum(scores)``."""
    scores = np.asarray(scores, dtype=np.int64)
    total = int(scores.sum())
    t = np.arange(total + 1)
    dev = np.abs(2 * t - total)  # 2 |t - mu|, an integer
    if len(scores) <= exact_max:
        dist = null_distribution(scores)
        # P(dev >= each dev): sort deviations, take the upper tail sums.
        order = np.argsort(dev, kind="stable")
        tail = np.cumsum(dist[order][::-1])[::-1]
        # Equal deviations share the tail of the first of them.
        first = np.searchsorted(dev[order], dev[order], side="left")
        p = np.empty(total + 1)
        p[order] = tail[first]
        return np.minimum(p, 1.0)
    sigma = math.sqrt(float((scores.astype(float) ** 2).sum()) / 4.0)
    step = math.gcd(*(int(s) for s in scores)) if len(scores) else 1
    a = np.maximum(dev / 2.0 - step / 2.0, 0.0)
    p = erfc(a / (sigma * math.sqrt(2.0)))
    return np.where(dev == 0, 1.0, np.minimum(p, 1.0))


def _signed_ranks(diff: np.ndarray, tol: float) -> tuple[np.ndarray, int]:
    """The doubled midranks of the non-zero differences (zeros dropped, the
    rule every function here shares) and ``T``, the sum of those of the
    positive differences."""
    d = ties_to_zero(diff, tol)
    d = d[d != 0]
    ranks = doubled_midranks(np.abs(d))
    return ranks, int(ranks[d > 0].sum())


def _one_sided_from_null(scores: np.ndarray, exact_max: int) -> np.ndarray:
    """``p[t] = P(T >= t)`` for every ``t = 0 .. sum(scores)``."""
    scores = np.asarray(scores, dtype=np.int64)
    total = int(scores.sum())
    if len(scores) <= exact_max:
        return np.minimum(np.cumsum(null_distribution(scores)[::-1])[::-1], 1.0)
    t = np.arange(total + 1)
    sigma = math.sqrt(float((scores.astype(float) ** 2).sum()) / 4.0)
    step = math.gcd(*(int(s) for s in scores))
    z = (t - total / 2.0 - step / 2.0) / sigma
    return np.minimum(0.5 * erfc(z / math.sqrt(2.0)), 1.0)


def signed_rank_p(
    diff: np.ndarray,
    tol: float = TIE_TOL,
    exact_max: int = EXACT_MAX,
    alternative: str = "two-sided",
) -> float:
    """p-value of the Wilcoxon signed-rank test of ``diff`` (H0: the
    differences are symmetric about 0), by its sign-flip permutation
    distribution.

    Differences within ``tol`` of 0 are ties and dropped (Wilcoxon's own
    convention; :func:`hodges_lehmann` drops them too, so test and interval
    agree); tied absolute values get their average rank. The statistic ``T``
    is the sum of the (mid)ranks of the positive differences. Two-sided: the
    probability, over all ``2^n`` sign assignments, of a statistic at least as
    far from its mean as the observed one; ``greater`` (H1: shifted above 0):
    ``P(T >= t)``; ``less``: ``P(T <= t)``. Exact up to ``exact_max`` non-zero
    differences; above, a normal approximation with the permutation variance
    ``sum(r_i^2) / 4`` and a continuity correction of half the statistic's
    lattice step. No non-zero difference gives p = 1.

    Args:
        diff: `n` paired differences (NaN not allowed).
        tol: the tie tolerance.
        exact_max: the largest number of non-zero differences computed exactly.
        alternative: ``two-sided``, ``greater`` or ``less``.
    """
    ranks, t = _signed_ranks(diff, tol)
    if len(ranks) == 0:
        return 1.0
    if alternative == "two-sided":
        return float(_two_sided_from_null(ranks, exact_max)[t])
    if alternative == "greater":
        return float(_one_sided_from_null(ranks, exact_max)[t])
    if alternative == "less":
        # T <= t  <=>  the statistic of the negated differences >= total - t.
        return float(_one_sided_from_null(ranks, exact_max)[int(ranks.sum()) - t])
    raise ValueError(f"alternative must be two-sided, greater or less, got {alternative!r}")


def signed_rank_direction(diff: np.ndarray, tol: float = TIE_TOL) -> int:
    """The side the signed-rank test leans to: ``+1`` when ``T`` (the rank sum
    of the positive differences) is above its null mean, ``-1`` below, ``0``
    at it. A significant two-sided test's direction is this sign, never the
    Hodges-Lehmann estimate's (which can be 0 when most differences are ties
    while every non-tie has one sign)."""
    ranks, t = _signed_ranks(diff, tol)
    return int(np.sign(2 * t - int(ranks.sum())))


def min_two_sided_p(n: int) -> float:
    """The smallest two-sided signed-rank p that ``n`` paired differences can
    give (all of one sign): ``2^(1-n)``, 1 for ``n = 0``."""
    return 1.0 if n < 1 else min(1.0, 2.0 ** (1 - n))


#: Up to this many non-zero differences over all strata the stratified test
#: is exact (a few milliseconds at 20 settings of 50 seeds); above, normal.
STRATIFIED_EXACT_MAX = 1000


def stratified_signed_rank(
    diffs: list[np.ndarray], tol: float = TIE_TOL, exact_max: int = STRATIFIED_EXACT_MAX
) -> tuple[float, int, int, int]:
    """A two-sided test of "no shift in any stratum" (e.g. in any setting)
    from the sum over strata of the per-stratum signed-rank statistics.

    Each stratum ranks its own differences (zeros dropped, as in
    :func:`signed_rank_p`), so strata of different scales count alike; the
    statistic ``S = sum_s T_s``. Under H0 the strata's sign flips are
    independent, so the null distribution of ``S`` is the convolution of the
    strata's, which is the sign-flip distribution of all the strata's scores
    together (:func:`null_distribution` convolves one score at a time): exact
    up to ``exact_max`` non-zero differences, normal above. This is the
    stratified signed-rank test of Wilcoxon's statistic with equal weights per
    observation (van Elteren's weighting would favour small strata); see
    Hollander, Wolfe and Chicken, Section 3.

    Args:
        diffs: one array of paired differences per stratum.
        tol: the tie tolerance.
        exact_max: the most non-zero differences computed exactly.

    Returns:
        ``(p, direction, statistic, total)``: the two-sided p, the direction
        (``+1``: differences lean positive), ``S`` and the sum of all scores
        (doubled midranks; ``S``'s null mean is half of it).
    """
    pieces = [_signed_ranks(d, tol) for d in diffs]
    scores = np.concatenate([r for r, _ in pieces]) if pieces else np.empty(0, dtype=np.int64)
    t = int(sum(t for _, t in pieces))
    total = int(scores.sum())
    if len(scores) == 0:
        return 1.0, 0, 0, 0
    p = float(_two_sided_from_null(scores, exact_max)[t])
    return p, int(np.sign(2 * t - total)), t, total


def _walsh_averages(d: np.ndarray) -> np.ndarray:
    i, j = np.triu_indices(len(d))
    return np.sort((d[i] + d[j]) / 2.0)


def _lower_count(n: int, level: float, exact_max: int) -> int:
    """The largest ``k`` with ``P(T <= k) <= (1 - level) / 2`` for the signed-rank
    statistic of ``n`` untied differences (-1 when even ``T = 0`` is too likely)."""
    half_alpha = (1.0 - level) / 2.0
    if n <= exact_max:
        cdf = np.cumsum(null_distribution(np.arange(1, n + 1)))
        # A small slack keeps a tail that equals half_alpha exactly (in exact
        # arithmetic) from being lost to the rounding of the cumulative sum.
        return int(np.searchsorted(cdf, half_alpha * (1 + 1e-9), side="right")) - 1
    m = n * (n + 1) / 2.0
    sigma = math.sqrt(n * (n + 1) * (2 * n + 1) / 24.0)
    return int(math.floor(m / 2.0 - 0.5 + NormalDist().inv_cdf(half_alpha) * sigma))


def hodges_lehmann(
    diff: np.ndarray,
    level: float = 0.95,
    tol: float = TIE_TOL,
    exact_max: int = EXACT_MAX,
    zeros: str = "drop",
) -> tuple[float, float, float]:
    """The Hodges-Lehmann estimate of the centre of the paired differences and
    its rank-based confidence interval.

    The estimate is the median of the ``n (n + 1) / 2`` Walsh averages
    ``(d_i + d_j) / 2, i <= j``: the shift ``theta`` at which the signed-rank
    statistic of ``d - theta`` is centred. The interval ``[W_(k+1), W_(M-k)]``
    of the sorted Walsh averages, with ``k`` the lower critical count of the
    untied signed-rank distribution, is the set of shifts the two-sided test at
    ``1 - level`` does not reject (Hollander, Wolfe and Chicken, Section 3.3);
    its coverage is at least ``level`` for continuous differences.

    Zeros (differences within ``tol`` of 0): by default (``zeros="drop"``)
    they are left out, exactly as :func:`signed_rank_p` leaves them out, so the
    interval is the inversion of the very test whose p the table reports and
    excludes 0 exactly when that test rejects (up to ties among the absolute
    values). All zeros give ``(0, 0, 0)``: every non-zero shift of them is
    rejected once six or more are paired. ``zeros="keep"`` counts them as
    differences of 0 (the rule of reports before the per-setting family,
    kept to reproduce them): then five zeros and 1..6 give the interval
    [0, 3.5] while the test, which drops them, rejects at 0.031. With too
    few differences for any interval of that coverage (``n <= 5`` at 95%),
    the interval is ``(-inf, inf)``.

    Args:
        diff: `n` paired differences.
        level: the interval's coverage.
        tol: the tie tolerance.
        exact_max: above this ``n`` the critical count uses the normal
            approximation.
        zeros: ``drop`` or ``keep``.

    Returns:
        ``(estimate, lo, hi)``; all NaN when ``diff`` is empty.
    """
    d = ties_to_zero(diff, tol)
    if len(d) == 0:
        return math.nan, math.nan, math.nan
    if zeros == "drop":
        d = d[d != 0]
        if len(d) == 0:
            return 0.0, 0.0, 0.0
    elif zeros != "keep":
        raise ValueError(f"zeros must be drop or keep, got {zeros!r}")
    w = _walsh_averages(d)
    estimate = float(np.median(w))
    k = _lower_count(len(d), level, exact_max)
    if k < 0:
        return estimate, -math.inf, math.inf
    return estimate, float(w[k]), float(w[len(w) - 1 - k])


def detectable_shift(
    n: int,
    alpha: float,
    power: float = 0.8,
    exact_max: int = EXACT_MAX,
    n_sim: int = 4000,
    seed: int = 0,
) -> float:
    """The smallest shift, in standard deviations of the paired differences,
    that the two-sided signed-rank test at level ``alpha`` detects with
    probability ``power`` from ``n`` normally distributed differences.

    Power is estimated by simulation with common random numbers (the same
    ``n_sim`` normal samples for every shift, so it grows with the shift) and
    the shift found by bisection to 0.005. ``inf`` when no outcome of ``n``
    differences reaches ``alpha`` (the smallest two-sided p is ``2^(1-n)``).

    Args:
        n: number of paired differences.
        alpha: the level each test must reach (e.g. Holm's first step,
            ``alpha / m`` for ``m`` tests).
        power: the required probability of rejecting.
        exact_max: as for :func:`signed_rank_p`.
        n_sim: simulated experiments per shift.
        seed: seed of the simulation (the result is reproducible).
    """
    if n < 1:
        return math.inf
    reject = _two_sided_from_null(np.arange(1, n + 1), exact_max) < alpha
    if not reject.any():
        return math.inf
    z = np.random.default_rng(seed).standard_normal((n_sim, n))

    def rejection_rate(shift: float) -> float:
        d = z + shift
        ranks = np.argsort(np.argsort(np.abs(d), axis=1), axis=1) + 1
        t = np.where(d > 0, ranks, 0).sum(axis=1)
        return float(reject[t].mean())

    lo, hi = 0.0, 1.0
    while rejection_rate(hi) < power:
        lo, hi = hi, 2 * hi
    while hi - lo > 0.005:
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if rejection_rate(mid) >= power else (mid, hi)
    return hi


__all__ = [
    "EXACT_MAX",
    "TIE_TOL",
    "detectable_shift",
    "doubled_midranks",
    "hodges_lehmann",
    "min_two_sided_p",
    "null_distribution",
    "signed_rank_direction",
    "signed_rank_p",
    "stratified_signed_rank",
    "ties_to_zero",
]
