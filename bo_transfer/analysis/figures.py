"""Figures: DataFrame in, matplotlib Figure out; no global style changes."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from bo_transfer import columns as C  # noqa: E402
from bo_transfer.analysis.regret import REGRET_FLOOR  # noqa: E402


def method_colors(methods: list[str]) -> dict[str, tuple]:
    """One color per method, stable for a given set of methods (sorted order)."""
    palette = matplotlib.colormaps["tab10"].colors
    return {m: palette[i % len(palette)] for i, m in enumerate(sorted(methods))}


def plot_regret(df: pd.DataFrame, max_cols: int = 3) -> Figure:
    """Normalized regret vs evaluation, one panel per pair: median over seeds with
    the interquartile band, log scale (floored at ``REGRET_FLOOR``)."""
    pairs = sorted(df[C.PAIR].unique())
    colors = method_colors(list(df[C.METHOD].unique()))
    ncols = min(max_cols, len(pairs))
    nrows = math.ceil(len(pairs) / ncols)
    fig = Figure(figsize=(4.2 * ncols, 3.2 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, pair in zip(axes, pairs):
        sub = df[df[C.PAIR] == pair]
        for method, g in sub.groupby(C.METHOD):
            r = g[C.NORMALIZED_REGRET].clip(lower=REGRET_FLOOR)
            q = r.groupby(g[C.ITERATION]).quantile([0.25, 0.5, 0.75]).unstack()
            ax.plot(q.index, q[0.5], color=colors[method], label=method)
            ax.fill_between(q.index, q[0.25], q[0.75], color=colors[method], alpha=0.2, linewidth=0)
        ax.set_yscale("log")
        ax.set_title(pair, fontsize=8)
        ax.set_xlabel("evaluations")
        ax.set_ylabel("normalized regret")
        ax.grid(True, which="major", alpha=0.3)
    for ax in axes[len(pairs) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 6), fontsize=8)
    return fig
