"""The break-even correlation: where a method's transfer gain crosses zero.

When a study's pairs form a grid over the source-target correlation (pairs of
one family that differ only in the family's correlation knob, e.g. ``gp``'s
``rho``; :attr:`~bo_transfer.problems.families.Param.knob`), each method's
transfer gain against the baseline (minus the Hodges-Lehmann estimate of the
paired differences of the table's metric, as in the ``effect`` column) is a
curve over the correlation (each pair placed at its Pearson correlation, the
mean over sources and median over instances). The break-even correlation is
where that curve, interpolated linearly between grid points, crosses zero
from below for the last time: above it transfer helped, at and below it the
method hurt. A curve that is nowhere negative never turns negative on the
grid; one negative at the grid's top hurts everywhere it was measured.

Its interval is a percentile bootstrap over seeds: the seeds are resampled
with replacement, jointly across the grid's pairs (seed s is one replicate of
every pair), and the crossing is recomputed; a resample without a crossing
counts at the grid's lower end (never negative) or upper end (negative at
the top), so such intervals read "at most" / "at least" the grid's edge.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bo_transfer import columns as C
from bo_transfer.analysis.signed_rank import TIE_TOL, ties_to_zero
from bo_transfer.problems.families import FAMILIES, split_pair_name
from bo_transfer.seeding import derive_seed

#: Bootstrap resamples of the break-even interval: ``N_BOOT``, fewer (down to
#: ``MIN_BOOT``) when a grid has many seeds, so that one interval evaluates at
#: most ``WALSH_BUDGET`` Walsh averages (the estimate costs ``n (n + 1) / 2``
#: per pair and resample): 1,000 up to about 40 seeds on a 9-point grid.
N_BOOT = 1000
MIN_BOOT = 200
WALSH_BUDGET = 2 * 10**7
#: A grid needs at least this many distinct correlations.
MIN_POINTS = 3

COLUMNS = ["grid", "method", "n_points", "break_even", "break_even_lo", "break_even_hi", "note"]


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
    """The last upward zero crossing of the piecewise-linear ``gain(x)`` (``x``
    sorted ascending); ``(nan, why)`` when there is none."""
    if (gain >= 0).all():
        return math.nan, "never negative on the grid"
    if gain[-1] < 0:
        return math.nan, "negative up to the grid's top"
    i = int(np.flatnonzero(gain < 0)[-1])  # the last negative point; gain[i + 1] >= 0
    x0, x1, g0, g1 = x[i], x[i + 1], gain[i], gain[i + 1]
    return float(x0 + (0.0 - g0) * (x1 - x0) / (g1 - g0)), ""


def hodges_lehmann_estimates(d: np.ndarray) -> np.ndarray:
    """The Hodges-Lehmann estimate (median of the Walsh averages) of each row
    of ``d`` (`B x n`), all rows at once: `B` values (the point estimate of
    :func:`~bo_transfer.analysis.signed_rank.hodges_lehmann`, without its
    interval)."""
    i, j = np.triu_indices(d.shape[-1])
    return np.median((d[:, i] + d[:, j]) / 2, axis=-1)


def _gains(diffs: dict[str, np.ndarray], pairs: list[str], rows: np.ndarray) -> np.ndarray:
    """`B x P` gains: minus the Hodges-Lehmann estimate of each pair's
    differences, for each of the `B` row selections ``rows`` (`B x n`)."""
    return np.stack([-hodges_lehmann_estimates(diffs[p][rows]) for p in pairs], axis=-1)


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
        n_boot: bootstrap resamples (fewer for many seeds: see :data:`N_BOOT`).
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
            diffs = {p: ties_to_zero(table[p].to_numpy(), TIE_TOL) for p in pairs}
            n = len(table)
            value, note = crossing(x, _gains(diffs, pairs, np.arange(n)[None])[0])
            rng = np.random.default_rng(derive_seed("break-even", grid, method))
            resamples = int(
                np.clip(WALSH_BUDGET // (len(pairs) * n * (n + 1) // 2), MIN_BOOT, n_boot)
            )
            boot = []
            for gains in _gains(diffs, pairs, rng.integers(0, n, (resamples, n))):
                b, why = crossing(x, gains)
                boot.append(b if np.isfinite(b) else x[0] if why.startswith("never") else x[-1])
            lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
            rows.append(
                {
                    "grid": grid,
                    "method": method,
                    "n_points": len(pairs),
                    "break_even": value,
                    "break_even_lo": float(lo),
                    "break_even_hi": float(hi),
                    "note": note,
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def describe(row: pd.Series) -> str:
    """The break-even correlation as a reader sees it: ``0.31 [0.12, 0.48]``,
    or why there is none."""
    lo, hi = row["break_even_lo"], row["break_even_hi"]
    interval = f"[{lo:.2f}, {hi:.2f}]"
    if np.isfinite(row["break_even"]):
        return f"{row['break_even']:.2f} {interval}"
    return f"none: {row['note']} {interval}"
