"""Figures: DataFrame in, matplotlib Figure out; no global style changes.

Every figure takes an optional ``colors`` mapping (method -> color) so that a
report colors each method the same in all of its figures; by default
:func:`method_colors` of the methods in the data.
"""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from bo_transfer import columns as C
from bo_transfer.analysis.break_even import MIN_POINTS, grid_of
from bo_transfer.analysis.ranking import CriticalDifference
from bo_transfer.analysis.regret import REGRET_FLOOR
from bo_transfer.analysis.stats import rank_curves

Colors = dict[str, tuple]


def method_colors(methods: list[str]) -> Colors:
    """One color per method, stable for a given set of methods (sorted order):
    tab10's ten, then their lighter tab20 shades, so that up to 20 methods (a
    study of every registered one has 14) never share a color."""
    tab20 = matplotlib.colormaps["tab20"].colors
    palette = tab20[0::2] + tab20[1::2]
    return {m: palette[i % len(palette)] for i, m in enumerate(sorted(methods))}


def _colors(df: pd.DataFrame, colors: Colors | None) -> Colors:
    return colors if colors is not None else method_colors(list(df[C.METHOD].unique()))


def plot_regret(df: pd.DataFrame, max_cols: int = 3, colors: Colors | None = None) -> Figure:
    """Normalized regret vs evaluation, one panel per pair: median over seeds with
    the interquartile band, log scale (floored at ``REGRET_FLOOR``)."""
    pairs = sorted(df[C.PAIR].unique())
    colors = _colors(df, colors)
    ncols = min(max_cols, len(pairs))
    nrows = math.ceil(len(pairs) / ncols)
    fig = Figure(figsize=(4.2 * ncols, 3.2 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    r = df[C.NORMALIZED_REGRET].clip(lower=REGRET_FLOOR)
    q = r.groupby([df[C.PAIR], df[C.METHOD], df[C.ITERATION]]).quantile([0.25, 0.5, 0.75])
    q = q.unstack()
    for ax, pair in zip(axes, pairs):
        for method, band in q.loc[pair].groupby(level=0):
            it = band.index.get_level_values(C.ITERATION)
            ax.plot(it, band[0.5], color=colors[method], label=method)
            ax.fill_between(it, band[0.25], band[0.75], color=colors[method], alpha=0.2, lw=0)
        ax.set_yscale("log")
        # Minor ticks of a log axis over many decades dominate drawing time
        # (half of a 20-panel figure's); decade ticks and grid are enough.
        ax.yaxis.set_minor_locator(NullLocator())
        ax.set_title(pair, fontsize=8)
        ax.set_xlabel("evaluations")
        ax.set_ylabel("normalized regret")
        ax.grid(True, which="major", alpha=0.3)
    for ax in axes[len(pairs) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 6), fontsize=8)
    return fig


def plot_transfer_gain(
    table: pd.DataFrame,
    diagnostics: pd.DataFrame,
    correlation: str = "pearson",
    colors: Colors | None = None,
    break_even: pd.DataFrame | None = None,
) -> Figure:
    """Transfer gain vs the measured source-target correlation: the picture of
    when transfer hurts.

    Args:
        table: the report table of :func:`~bo_transfer.analysis.summarize`
            (``pair, method, effect, verdict``).
        diagnostics: one row per pair (:func:`~bo_transfer.analysis.diagnostics.pair_diagnostics`):
            ``pair``, ``correlation`` (the mean over the pair's sources) and,
            optionally, ``<correlation>_worst`` (its least correlated source)
            and ``n_sources``.
        correlation: ``pearson`` or ``spearman``.
        colors: method -> color.
        break_even: break-even correlations
            (:func:`~bo_transfer.analysis.break_even.break_even`), drawn on the
            zero line of its grid's first panel as a diamond with its
            bootstrap interval, one per grid and method that crosses.

    One line per method (the baseline is the zero line): gain is minus the
    effect (the Hodges-Lehmann estimate of the paired difference of log10
    regret against the baseline), so above 0 the warm start helped and below 0
    it hurt (negative transfer). Filled markers are significant verdicts
    (positive or negative, Holm-corrected), hollow ones the rest.
    Pairs with the same correlation (e.g. several instances) share one point:
    the median gain, filled when most of their verdicts are significant. A pair
    with ``instance=seed`` sits at the median over its instances. When some
    pair has several sources, a second panel places each pair at its worst
    source instead of the mean over sources (``gp:rho=0.9;-0.9`` is at 0.0 in
    the first panel, at -0.9 in the second; a one-source pair at the same place
    in both). Pairs of several grids (pairs that differ in more than their
    correlation, e.g. ``dim``; :func:`~bo_transfer.analysis.break_even.grid_of`)
    get a row of panels each, titled by the grid; pairs on no grid of
    ``MIN_POINTS`` or more share one more row.
    """
    worst = f"{correlation}_worst"
    multi = "n_sources" in diagnostics and (diagnostics["n_sources"] > 1).any()
    kinds = [(correlation, "mean over sources" if multi else "")]
    if multi and worst in diagnostics:
        kinds.append((worst, "worst source"))
    rows = table[table["verdict"] != "baseline"].merge(
        diagnostics[[C.PAIR, *(col for col, _ in kinds)]], on=C.PAIR
    )
    # Pairs of different grids (e.g. dim=2 and dim=4 over the same correlations)
    # would sit at nearly the same x and zigzag in one line: a row each.
    # Only a real grid (MIN_POINTS pairs or more) gets its own row.
    grid = rows[C.PAIR].map(lambda p: grid_of(p) or "")
    size = rows.groupby(grid)[C.PAIR].transform("nunique")
    rows["grid"] = grid.where(size >= MIN_POINTS, "")
    grids = sorted(rows["grid"].unique()) or [""]
    colors = colors if colors is not None else method_colors(list(table[C.METHOD].unique()))
    fig = Figure(figsize=(5.5 * len(kinds), 3.6 * len(grids) + 0.8), layout="constrained")
    axes = fig.subplots(len(grids), len(kinds), squeeze=False)
    for grid, panel_row in zip(grids, axes):
        for ax, (x, what) in zip(panel_row, kinds):
            ax.axhline(0.0, color="0.3", lw=1, ls="--")
            for method, g in rows[rows["grid"] == grid].groupby(C.METHOD, sort=True):
                g = g.groupby(x, as_index=False).agg(
                    gain=("effect", lambda e: -e.median()),
                    sig=("verdict", lambda v: v.isin(("positive", "negative")).mean() >= 0.5),
                )
                color = colors[method]
                ax.plot(g[x], g["gain"], color=color, label=method, marker="none")
                sig = g["sig"].to_numpy(bool)
                ax.scatter(g[x][sig], g["gain"][sig], color=color, zorder=3)
                ax.scatter(
                    g[x][~sig], g["gain"][~sig], facecolor="white", edgecolor=color, zorder=3
                )
            extra = f", {what}" if what else ""
            ax.set_xlabel(f"source-target correlation ({correlation}{extra})")
            ax.set_ylabel("transfer gain (log10 regret, vs baseline)")
            if len(grids) > 1:
                ax.set_title(grid or "other pairs", fontsize=9)
            ax.grid(True, alpha=0.3)
    if break_even is not None and len(break_even):
        crossed = break_even[np.isfinite(break_even["break_even"].astype(float))]
        first_panel = {grid: row[0] for grid, row in zip(grids, axes)}
        for _, r in crossed.iterrows():
            ax = first_panel.get(r["grid"], axes[0][0])
            value = float(r["break_even"])
            errors = [[value - r["break_even_lo"]], [r["break_even_hi"] - value]]
            ax.errorbar(
                [value],
                [0.0],
                xerr=np.clip(errors, 0.0, None),
                fmt="D",
                color=colors.get(r[C.METHOD], "0.2"),
                markersize=5,
                capsize=3,
                zorder=4,
            )
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(
            handles,
            labels,
            loc="outside lower center",
            ncols=min(len(labels), 4 * len(kinds)),
            fontsize=8,
        )
    return fig


def plot_mean_rank(df: pd.DataFrame, colors: Colors | None = None) -> Figure:
    """Mean rank over iterations (1 = best), averaged over pairs and seeds."""
    curves = rank_curves(df)
    colors = _colors(df, colors)
    fig = Figure(figsize=(5.5, 3.5), layout="constrained")
    ax = fig.subplots()
    for method, g in curves.groupby(C.METHOD, sort=True):
        ax.plot(g[C.ITERATION], g["mean_rank"], color=colors[method], label=method)
    n = curves[C.METHOD].nunique()
    ax.set_ylim(n + 0.2, 0.8)  # rank 1 on top
    ax.set_xlabel("evaluations")
    ax.set_ylabel("mean rank (1 = best)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def plot_critical_difference(cd: CriticalDifference, colors: Colors | None = None) -> Figure:
    """Demsar's critical-difference diagram: methods on a mean-rank axis, bars
    joining methods whose ranks differ by less than the Nemenyi CD."""
    ranks = cd.mean_ranks
    k = len(ranks)
    colors = colors if colors is not None else method_colors(list(ranks.index))
    half = math.ceil(k / 2)
    fig = Figure(figsize=(6.5, 1.6 + 0.28 * half + 0.15 * len(cd.cliques)), layout="constrained")
    ax = fig.subplots()
    ax.set_xlim(0.7, k + 0.3)  # rank 1 (best) on the left, as in Demsar (2006)
    ax.set_ylim(-(half + 1.0 + 0.3 * len(cd.cliques)), 1.6)
    ax.axis("off")
    ax.hlines(0, 1, k, color="k", lw=1)
    for t in range(1, k + 1):
        ax.vlines(t, 0, 0.15, color="k", lw=1)
        ax.text(t, 0.3, str(t), ha="center", va="bottom", fontsize=8)
    ax.hlines(1.2, 1, 1 + cd.cd, color="k", lw=2)
    ax.text(1 + cd.cd / 2, 1.3, f"CD = {cd.cd:.2f}", ha="center", va="bottom", fontsize=8)
    for i, (method, rank) in enumerate(ranks.items()):
        left = i < half
        level = -(i + 1 if left else k - i)
        x_text = 0.75 if left else k + 0.25
        color = colors.get(method, "k")
        ax.plot([rank, rank, x_text], [0, level, level], color=color, lw=1)
        ax.text(
            x_text + (-0.05 if left else 0.05),
            level,
            f"{method} ({rank:.2f})",
            ha="right" if left else "left",
            va="center",
            fontsize=8,
            color=color,
        )
    for j, clique in enumerate(cd.cliques):
        lo, hi = ranks[clique[0]], ranks[clique[-1]]
        y = -0.35 - 0.3 * j
        ax.hlines(y, lo - 0.03, hi + 0.03, color="k", lw=3)
    ax.set_title(
        f"Friedman p = {cd.friedman_p:.2g} over {cd.n_blocks} pairs "
        f"(metric: {cd.metric}); Nemenyi alpha = {cd.alpha}",
        fontsize=8,
    )
    return fig


__all__ = [
    "method_colors",
    "plot_critical_difference",
    "plot_mean_rank",
    "plot_regret",
    "plot_transfer_gain",
]
