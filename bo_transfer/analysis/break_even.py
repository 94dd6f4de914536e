"""The break-even correlation: where a method's transfer gain crosses zero.

When a study's pairs form a grid over the source-target correlation (pairs of
one family that differ only in the family's correlation knob, e.g. ``gp``'s
``rho``; :attr:`~bo_transfer.problems.families.Param.knob`), each method's
transfer gain against the baseline (minus the paired differences of the
table's metric, method minus baseline) is a curve over the correlation (each
pair placed at its Pearson correlation, the mean over sources and median over
instances).

The curve measured at 10-20 seeds is noisy and changes sign several times,
so the last zero crossing of the raw curve moves by a whole grid step when
one seed is left out. Instead, the gain is fitted by isotonic regression: the
least-squares non-decreasing fit of every paired seed's gain on the
correlation (more related sources should not hurt more; Barlow et al.,
"Statistical Inference under Order Restrictions", 1972), which is the pool
adjacent violators fit of the per-pair mean gains. The mean, not the
Hodges-Lehmann estimate of the table's effect, is what that least-squares fit
takes, and it moves smoothly when a seed is left out (the median of the
Walsh averages jumps between them). The break-even correlation is where the
fit, interpolated linearly between grid points, reaches zero. Where the fit
is negative or non-negative over the whole grid the crossing lies beyond an
edge: it is censored (``> top`` or ``< bottom``), never the edge's value; a
fit that is constant (no trend to place a crossing on) is ``not identified``.

Its interval is a percentile bootstrap over seeds: the seeds are resampled
with replacement, jointly across the grid's pairs (seed s is one replicate of
every pair), and the fit and its crossing recomputed. At 10-20 seeds the
plain percentile interval is too narrow (the bootstrap's spread of a mean is
``sqrt((n - 1) / n)`` of the true one, and it ignores the t distribution's
tails), so the interval takes the expanded percentiles of Hesterberg ("What
Teachers Should Know About the Bootstrap", The American Statistician 2015,
Section 5.2): the ``Phi(-sqrt(n / (n - 1)) t_{n-1, 1-a/2})`` quantiles for
``1 - a`` coverage (0.0086 and 0.9914 at 10 seeds for 95%). Resamples whose fit
never breaks even (negative on the whole grid) sit above the grid, those
never negative below it, so an interval end in that mass is censored and
printed as such (``0.62 [0.53, >1.00)``), with the share of resamples that
never broke even. A value is reported only when the crossing is confident:
its interval lies inside the grid (neither end censored) and is at most
:data:`MAX_WIDTH` wide; otherwise the row says where the interval lies. On
the committed correlation study every value so reported moves by at most
0.07 when any one seed is left out.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import isotonic_regression

from bo_transfer import columns as C
from bo_transfer.analysis.signed_rank import TIE_TOL, ties_to_zero
from bo_transfer.problems.families import FAMILIES, split_pair_name
from bo_transfer.seeding import derive_seed

#: Bootstrap resamples of the break-even interval.
N_BOOT = 1000
#: The widest 95% interval (correlation units) whose crossing is reported as
#: a value: located to within +-0.25, an eighth of the correlation's range.
MAX_WIDTH = 0.5
#: A grid needs at least this many distinct correlations.
MIN_POINTS = 3

#: Why a fit has no crossing inside the grid (the ``note`` column).
BELOW = "never negative on the grid"
ABOVE = "negative up to the grid's top"
FLAT = "not identified (flat fit)"
#: Why a crossing is not reported although the fit has one.
UNSURE = "not identified"

COLUMNS = [
    "grid",
    "method",
    "n_points",
    "break_even",
    "break_even_lo",
    "break_even_hi",
    "lo_censored",
    "hi_censored",
    "share_never",
    "note",
]


def grid_of(pair: str) -> str | None:
    """The grid a pair belongs to: its name without its correlation knobs
    (``gp:dim=2,lengthscale=0.2,instance=seed``); None for a family without a
    knob or a pair name the registry does not know."""
    try:
        family, values = split_pair_name(pair)
        params = FAMILIES.get(family).params
    except Exception:  # a name from an export of a family not registered here
        return None
    knobs = {p.name for p in params if p.knob}
    if not knobs:
        return None
    rest = ",".join(f"{k}={v}" for k, v in values.items() if k not in knobs)
    return f"{family}:{rest}" if rest else family


def crossing(x: np.ndarray, gain: np.ndarray) -> tuple[float, str]:
    """Where the isotonic (non-decreasing) fit of ``gain(x)`` (``x`` sorted
    ascending) reaches zero, interpolated linearly between grid points;
    ``(nan, why)`` when it does not inside the grid: ``why`` is
    :data:`BELOW` (never negative: the crossing is at or below the grid's
    bottom), :data:`ABOVE` (negative up to the grid's top) or
    :data:`FLAT` (the fit is constant)."""
    fit = isotonic_regression(gain, increasing=True).x
    if fit[0] == fit[-1]:
        return math.nan, FLAT
    if fit[0] >= 0:
        return math.nan, BELOW
    if fit[-1] <= 0:
        return math.nan, ABOVE
    i = int(np.flatnonzero(fit < 0)[-1])  # the last negative point; fit[i + 1] >= 0
    x0, x1, g0, g1 = x[i], x[i + 1], fit[i], fit[i + 1]
    return float(x0 + (0.0 - g0) * (x1 - x0) / (g1 - g0)), ""


def expanded_tail(n: int, level: float) -> float:
    """The lower quantile of Hesterberg's expanded percentile interval of
    ``level`` coverage from ``n`` observations (see the module docstring);
    the plain ``(1 - level) / 2`` for ``n < 2``."""
    if n < 2:
        return (1 - level) / 2
    t = stats.t.ppf((1 + level) / 2, n - 1)
    return float(stats.norm.cdf(-math.sqrt(n / (n - 1)) * t))


def _gains(diffs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`B x P` mean gains (minus the mean paired difference) of each pair
    (``diffs``: `n x P`), for each of the `B` seed selections ``rows``
    (`B x n`)."""
    return -diffs[rows].mean(axis=1)


def break_even(
    paired: pd.DataFrame,
    diagnostics: pd.DataFrame,
    correlation: str = "pearson",
    n_boot: int = N_BOOT,
    level: float = 0.95,
) -> pd.DataFrame:
    """One row per (grid, method): the break-even correlation and its interval.

    Args:
        paired: paired differences ``pair, method, seed, diff`` (method minus
            baseline; :func:`~bo_transfer.analysis.stats.paired_differences`).
        diagnostics: one row per pair with its ``correlation`` column
            (:func:`~bo_transfer.analysis.diagnostics.pair_diagnostics`).
        correlation: the diagnostic the grid is placed on.
        n_boot: bootstrap resamples.
        level: the interval's coverage.

    Returns:
        Columns :data:`COLUMNS`; empty when no grid has :data:`MIN_POINTS`
        correlations.
    """
    if correlation not in diagnostics or paired.empty:
        return pd.DataFrame(columns=COLUMNS)
    where = diagnostics.set_index(C.PAIR)[correlation]
    grids: dict[str, list[str]] = {}
    for pair in sorted(set(paired[C.PAIR])):
        grid = grid_of(pair)
        if grid is not None and pair in where and np.isfinite(where[pair]):
            grids.setdefault(grid, []).append(pair)
    rows = []
    for grid, pairs in sorted(grids.items()):
        pairs = sorted(pairs, key=lambda p: where[p])
        x = where[pairs].to_numpy(float)
        if len(np.unique(x)) < MIN_POINTS:
            continue
        for method, g in paired[paired[C.PAIR].isin(pairs)].groupby(C.METHOD, sort=True):
            table = g.pivot_table(index=C.SEED, columns=C.PAIR, values="diff")
            if set(table.columns) != set(pairs):
                continue
            table = table[pairs].dropna()
            diffs = ties_to_zero(table.to_numpy(float), TIE_TOL)
            n = len(table)
            value, note = crossing(x, _gains(diffs, np.arange(n)[None])[0])
            rng = np.random.default_rng(derive_seed("break-even", grid, method))
            boot = []
            for gains in _gains(diffs, rng.integers(0, n, (n_boot, n))):
                b, why = crossing(x, gains)
                # Censored resamples sit beyond the edge they point past; a
                # flat fit has no crossing to place anywhere.
                boot.append(-math.inf if why == BELOW else math.inf if why == ABOVE else b)
            boot = np.asarray(boot)
            share_never = float(np.mean(boot == math.inf))
            placed = boot[~np.isnan(boot)]
            tail = expanded_tail(n, level)
            lo, hi = (
                np.quantile(placed, [tail, 1 - tail], method="lower")
                if len(placed)
                else (math.nan, math.nan)
            )
            lo_censored, hi_censored = bool(lo == -math.inf), bool(hi == math.inf)
            confident = not (lo_censored or hi_censored) and hi - lo <= MAX_WIDTH
            if np.isfinite(value) and not confident:
                value, note = math.nan, UNSURE
            rows.append(
                {
                    "grid": grid,
                    "method": method,
                    "n_points": len(pairs),
                    "break_even": value,
                    "break_even_lo": float(np.clip(lo, x[0], x[-1])),
                    "break_even_hi": float(np.clip(hi, x[0], x[-1])),
                    "lo_censored": lo_censored,
                    "hi_censored": hi_censored,
                    "share_never": share_never,
                    "note": note,
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def describe(row: pd.Series) -> str:
    """The break-even correlation as a reader sees it: ``0.31 [0.12, 0.48]``,
    censored ends as ``(<-1.00`` and ``>1.00)``, or why there is no value,
    and the share of resamples that never broke even when there are any."""
    lo, hi = row["break_even_lo"], row["break_even_hi"]
    if np.isnan(lo):
        interval = ""
    elif row["lo_censored"] and hi == lo:  # every quantile below the grid
        interval = f" (<{lo:.2f})"
    elif row["hi_censored"] and lo == hi:
        interval = f" (>{hi:.2f})"
    else:
        left = f"(<{lo:.2f}" if row["lo_censored"] else f"[{lo:.2f}"
        right = f">{hi:.2f})" if row["hi_censored"] else f"{hi:.2f}]"
        interval = f" {left}, {right}"
    share = row["share_never"]
    never = (
        f"; never broke even in {share:.0%} of resamples"
        if share >= 0.005
        else "; never broke even in <1% of resamples"
        if share > 0
        else ""
    )
    head = f"{row['break_even']:.2f}" if np.isfinite(row["break_even"]) else row["note"]
    return f"{head}{interval}{never}"
