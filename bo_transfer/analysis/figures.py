"""Figures: DataFrame in, matplotlib Figure out; no global style changes.

Every figure takes an optional ``styles`` mapping (method -> :class:`MethodStyle`)
so that a report draws each method the same in all of its figures; by default
:func:`method_styles` of the methods in the data. A method's colour and marker
depend on its name alone, never on which other methods a report holds, so a
method looks the same in every report and every study.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullLocator

from bo_transfer import columns as C
from bo_transfer.analysis.break_even import MIN_POINTS, grid_of
from bo_transfer.analysis.ranking import CriticalDifference
from bo_transfer.analysis.regret import REGRET_FLOOR
from bo_transfer.analysis.stats import rank_curves


@dataclass(frozen=True)
class MethodStyle:
    """How one method is drawn.

    Attributes:
        color: a hex colour.
        marker: a matplotlib marker.
        emphasis: ``"highlight"`` (drawn bold, on top), ``"faded"`` (another
            method is highlighted) or ``""``.
    """

    color: str
    marker: str
    emphasis: str = ""

    @property
    def linewidth(self) -> float:
        return {"highlight": 2.4, "faded": 0.9}.get(self.emphasis, 1.4)

    @property
    def alpha(self) -> float:
        return 0.35 if self.emphasis == "faded" else 1.0

    @property
    def zorder(self) -> float:
        return 3.0 if self.emphasis == "highlight" else 2.0


Styles = dict[str, MethodStyle]

#: Colour-blind-safe colours: Okabe and Ito's palette (without its yellow,
#: too pale on white) and Paul Tol's "muted" scheme
#: (https://personal.sron.nl/~pault/, "Colour schemes"), told apart further by
#: marker where two methods share a hue family.
OKABE_ITO = ["#000000", "#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7"]
TOL_MUTED = ["#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#882255", "#AA4499"]
PALETTE = OKABE_ITO + TOL_MUTED
MARKERS = ["o", "s", "^", "v", "D", "P", "X", "*", "h", "p", "<", ">", "d", "8"]

#: The built-in methods' fixed styles: the baseline black, random grey, every
#: other a colour of its own (``bo-transfer list methods``).
BUILTIN_STYLES = {
    "cold-gp": MethodStyle("#000000", "o"),
    "random": MethodStyle("#888888", "8"),
    "prior-mean": MethodStyle("#0072B2", "s"),
    "init-transfer": MethodStyle("#E69F00", "^"),
    "pooled-gp": MethodStyle("#D55E00", "v"),
    "mtgp": MethodStyle("#009E73", "D"),
    "mtgp-botorch": MethodStyle("#117733", "d"),
    "rgpe": MethodStyle("#CC79A7", "P"),
    "taf": MethodStyle("#56B4E9", "X"),
    "pibo": MethodStyle("#882255", "*"),
    "bounding-box": MethodStyle("#999933", "h"),
    "guarded": MethodStyle("#332288", "p"),
    "mhgp": MethodStyle("#44AA99", "<"),
    "shgp": MethodStyle("#AA4499", ">"),
}


def method_style(method: str) -> MethodStyle:
    """A method's colour and marker, from its name alone.

    A built-in method (or a row label built on one, ``rgpe[n_source=5]``) has
    its fixed style; any other name a colour and marker picked by a stable
    hash of the name (SHA-256, not Python's per-process ``hash``), so that it
    too is drawn alike in every report, whatever else the report holds.
    """
    base = method.split("[", 1)[0]
    if method in BUILTIN_STYLES:
        return BUILTIN_STYLES[method]
    digest = int.from_bytes(hashlib.sha256(method.encode()).digest()[:8], "big")
    marker = MARKERS[(digest // len(PALETTE)) % len(MARKERS)]
    if base in BUILTIN_STYLES:  # a variant keeps its method's colour, with its own marker
        return MethodStyle(BUILTIN_STYLES[base].color, marker)
    return MethodStyle(PALETTE[digest % len(PALETTE)], marker)


def method_styles(methods, highlight=()) -> Styles:
    """:func:`method_style` of each method; with ``highlight``, those methods
    are drawn bold and every other faded."""
    highlight = set(highlight)
    out = {}
    for m in methods:
        style = method_style(m)
        if highlight:
            style = replace(style, emphasis="highlight" if m in highlight else "faded")
        out[m] = style
    return out


def method_colors(methods) -> dict[str, str]:
    """Each method's colour (:func:`method_style`)."""
    return {m: method_style(m).color for m in methods}


def _styles(methods, styles: Styles | None) -> Styles:
    styles = dict(styles or {})
    for m in methods:
        styles.setdefault(m, method_style(m))
    return styles


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def natural_key(pair: str) -> tuple:
    """Sort key of a pair name that orders its numbers as numbers
    (``rho=-1.0, -0.75, ..., 1.0``; not ``-0.25, -0.5, ...`` as strings)."""
    parts = re.split(r"(-?\d+(?:\.\d+)?(?:e-?\d+)?)", pair)
    return tuple((0, _number(p)) if isinstance(_number(p), float) else (1, p) for p in parts)


def knob_value(pair: str) -> float | None:
    """The correlation knob of a pair on a grid (``rho=-0.5`` -> -0.5; the
    mean of a multi-source ``rho=0.8;-0.8``), None when it has none."""
    grid = grid_of(pair)
    if grid is None:
        return None
    family, _, params = pair.partition(":")
    rest = set(grid.partition(":")[2].split(",")) if ":" in grid else set()
    for part in params.split(","):
        if part in rest or "=" not in part:
            continue
        try:
            return float(np.mean([float(v) for v in part.split("=", 1)[1].split(";")]))
        except ValueError:
            return None
    return None


def setting_layout(pairs) -> list[tuple[str, list[tuple[str, str]]]]:
    """The pairs as rows of a grid: ``[(row title, [(pair, column label), ...]), ...]``.

    Pairs on a correlation grid (:func:`~bo_transfer.analysis.break_even.grid_of`,
    ``MIN_POINTS`` or more pairs) get a row each, titled by the grid, in
    numeric order of their correlation knob, labelled by it; every other pair
    shares one last row, in natural order, labelled by its name.
    """
    pairs = list(dict.fromkeys(pairs))
    grids: dict[str, list[str]] = {}
    for p in pairs:
        g = grid_of(p)
        if g is not None and knob_value(p) is not None:
            grids.setdefault(g, []).append(p)
    rows, used = [], set()
    for g in sorted(grids, key=natural_key):
        members = grids[g]
        if len(members) < MIN_POINTS:
            continue
        members = sorted(members, key=lambda p: (knob_value(p), natural_key(p)))
        labels = [_knob_label(p) for p in members]
        rows.append((g, list(zip(members, labels))))
        used.update(members)
    rest = sorted((p for p in pairs if p not in used), key=natural_key)
    if rest:
        rows.append(("other pairs" if rows else "", [(p, p) for p in rest]))
    return rows


def _knob_label(pair: str) -> str:
    grid = grid_of(pair) or ""
    rest = set(grid.partition(":")[2].split(","))
    knobs = [p for p in pair.partition(":")[2].split(",") if p not in rest]
    return ",".join(knobs)


def _panel_rows(layout, max_cols: int) -> list[tuple[str, list[tuple[str, str]]]]:
    """``layout`` with its last row of unrelated pairs wrapped at ``max_cols``."""
    out = []
    for title, cells in layout:
        if title in ("", "other pairs"):
            for start in range(0, len(cells), max_cols):
                out.append((title, cells[start : start + max_cols]))
        else:
            out.append((title, cells))
    return out


def plot_regret(
    df: pd.DataFrame,
    max_cols: int = 4,
    styles: Styles | None = None,
    baseline: str | None = None,
) -> Figure:
    """Normalized regret vs evaluation, one panel per pair: the median over
    seeds, log scale (floored at ``REGRET_FLOOR``), with the interquartile
    band of the baseline and of highlighted methods only (more bands hide
    each other).

    Pairs on a correlation grid sit on a grid of panels: a row per grid
    (e.g. per ``dim``), its correlations left to right in numeric order; any
    other pairs follow, ``max_cols`` a row, in natural order.
    """
    styles = _styles(df[C.METHOD].unique(), styles)
    rows = _panel_rows(setting_layout(df[C.PAIR].unique()), max_cols)
    ncols = max(len(cells) for _, cells in rows)
    fig = Figure(figsize=(2.9 * ncols + 0.6, 2.4 * len(rows) + 0.9), layout="constrained")
    axes = fig.subplots(len(rows), ncols, squeeze=False, sharex=True)
    r = df[C.NORMALIZED_REGRET].clip(lower=REGRET_FLOOR)
    q = r.groupby([df[C.PAIR], df[C.METHOD], df[C.ITERATION]]).quantile([0.25, 0.5, 0.75])
    q = q.unstack()
    for (title, cells), panel_row in zip(rows, axes):
        for j, ax in enumerate(panel_row):
            if j >= len(cells):
                ax.set_visible(False)
                continue
            pair, label = cells[j]
            for method, band in q.loc[pair].groupby(level=0):
                style, it = styles[method], band.index.get_level_values(C.ITERATION)
                ax.plot(
                    it,
                    band[0.5],
                    color=style.color,
                    lw=style.linewidth,
                    alpha=style.alpha,
                    zorder=style.zorder,
                    label=method,
                )
                if method == baseline or style.emphasis == "highlight":
                    ax.fill_between(it, band[0.25], band[0.75], color=style.color, alpha=0.18, lw=0)
            ax.set_yscale("log")
            # Minor ticks of a log axis over many decades dominate drawing time
            # (half of a 20-panel figure's); decade ticks and grid are enough.
            ax.yaxis.set_minor_locator(NullLocator())
            grid_title = title not in ("", "other pairs")
            ax.set_title(label, fontsize=8)
            if j == 0:
                ax.set_ylabel(
                    f"{title}\nnormalized regret" if grid_title else "normalized regret",
                    fontsize=8,
                )
            ax.tick_params(labelsize=7)
            ax.grid(True, which="major", alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("evaluations", fontsize=8)
    _legend_below(fig, styles, sorted(df[C.METHOD].unique()))
    return fig


def _handle(method: str, style: MethodStyle, line: bool = True) -> Line2D:
    return Line2D(
        [],
        [],
        color=style.color,
        marker=style.marker,
        lw=style.linewidth if line else 0,
        alpha=max(style.alpha, 0.6),
        label=method,
    )


def _legend_below(fig: Figure, styles: Styles, methods, line: bool = True) -> None:
    """One legend for the whole figure, below its panels (never on the data)."""
    handles = [_handle(m, styles[m], line) for m in methods]
    if handles:
        fig.legend(
            handles=handles,
            loc="outside lower center",
            ncols=min(len(handles), 7),
            fontsize=8,
            frameon=False,
        )


def _gain_points(rows: pd.DataFrame, x: str, by_pair: bool = False) -> pd.DataFrame:
    """One point per correlation (per pair with ``by_pair``): the median gain
    (minus the effect) and interval over the pairs there (several
    instances), filled when most of their verdicts are significant."""
    has_ci = {"effect_lo", "effect_hi"} <= set(rows.columns)
    agg = {
        "gain": ("effect", lambda e: -e.median()),
        "sig": ("verdict", lambda v: v.isin(("positive", "negative")).mean() >= 0.5),
    }
    if has_ci:
        agg["lo"] = ("effect_hi", lambda e: -e.median())
        agg["hi"] = ("effect_lo", lambda e: -e.median())
    keys = [C.PAIR, x] if by_pair else [x]
    out = rows.groupby(keys, as_index=False).agg(**agg).sort_values(x)
    if not has_ci:
        out["lo"] = out["hi"] = out["gain"]
    return out


#: Line styles telling a method panel's grids apart (dim=2 solid, dim=4 dashed, ...).
GRID_LINES = ["-", "--", ":", "-."]


def plot_transfer_gain(
    table: pd.DataFrame,
    diagnostics: pd.DataFrame,
    correlation: str = "pearson",
    styles: Styles | None = None,
    break_even: pd.DataFrame | None = None,
    max_cols: int = 4,
) -> Figure:
    """Transfer gain vs the measured source-target correlation, one small
    panel per method: the picture of when transfer hurts.

    Args:
        table: the report table of :func:`~bo_transfer.analysis.summarize`
            (``pair, method, effect, verdict``; ``effect_lo``, ``effect_hi``
            draw the interval).
        diagnostics: one row per pair (:func:`~bo_transfer.analysis.diagnostics.pair_diagnostics`):
            ``pair``, ``correlation`` (the mean over the pair's sources) and,
            optionally, ``<correlation>_worst`` (its least correlated source)
            and ``n_sources``.
        correlation: ``pearson`` or ``spearman``.
        styles: method -> style.
        break_even: break-even correlations
            (:func:`~bo_transfer.analysis.break_even.break_even`): a diamond
            on the zero line of the method's panel with its bootstrap interval.
        max_cols: panels per row.

    Gain is minus the effect (the Hodges-Lehmann estimate of the paired
    difference of log10 regret against the baseline): above 0 the warm start
    helped, below 0 it hurt (negative transfer). The shaded band (a grid) or
    whisker (any other pair) is the effect's 95% interval; filled markers are
    significant verdicts, hollow ones the rest. Pairs of one correlation grid
    (:func:`~bo_transfer.analysis.break_even.grid_of`, ``MIN_POINTS`` pairs or
    more) are joined by a line, one line style per grid (e.g. ``dim``); pairs
    on no grid are unrelated problems and get points only. Pairs at the same
    correlation (several instances) share one point, the median. When some
    pair has several sources, a second block of panels places each pair at its
    worst source instead of the mean over sources. Panels share their axes.
    """
    worst = f"{correlation}_worst"
    multi = "n_sources" in diagnostics and (diagnostics["n_sources"] > 1).any()
    kinds = [(correlation, "mean over sources" if multi else "")]
    if multi and worst in diagnostics:
        kinds.append((worst, "worst source"))
    rows = table[table["verdict"] != "baseline"].merge(
        diagnostics[[C.PAIR, *(col for col, _ in kinds)]], on=C.PAIR
    )
    grid = rows[C.PAIR].map(lambda p: grid_of(p) or "")
    size = rows.groupby(grid)[C.PAIR].transform("nunique")
    rows["grid"] = grid.where(size >= MIN_POINTS, "")
    grids = sorted((g for g in rows["grid"].unique() if g), key=natural_key)
    line_of = {g: GRID_LINES[i % len(GRID_LINES)] for i, g in enumerate(grids)}
    methods = sorted(rows[C.METHOD].unique())
    styles = _styles(methods, styles)
    ncols = max(1, min(max_cols, len(methods)))
    per_kind = max(1, math.ceil(len(methods) / ncols))
    fig = Figure(
        figsize=(3.1 * ncols + 0.5, 2.5 * per_kind * len(kinds) + 1.0), layout="constrained"
    )
    axes = fig.subplots(per_kind * len(kinds), ncols, squeeze=False, sharex=True, sharey=True)
    crossed = pd.DataFrame()
    if break_even is not None and len(break_even):
        crossed = break_even[np.isfinite(break_even["break_even"].astype(float))]
    for k, (x, what) in enumerate(kinds):
        block = axes[k * per_kind : (k + 1) * per_kind].ravel()
        for ax in block[len(methods) :]:
            ax.set_visible(False)
        for ax, method in zip(block, methods):
            style = styles[method]
            ax.axhline(0.0, color="0.3", lw=0.8, ls="--", zorder=1)
            mine = rows[rows[C.METHOD] == method]
            if k > 0:
                # The worst source is no grid's knob: pairs there are points of their own.
                mine = mine.assign(grid="")
            for g, part in mine.groupby("grid", sort=True):
                pts = _gain_points(part, x, by_pair=not g)
                sig = pts["sig"].to_numpy(bool)
                if g:
                    ax.plot(pts[x], pts["gain"], color=style.color, ls=line_of[g], lw=1.3)
                    ax.fill_between(pts[x], pts["lo"], pts["hi"], color=style.color, alpha=0.15)
                else:
                    ax.errorbar(
                        pts[x],
                        pts["gain"],
                        yerr=[pts["gain"] - pts["lo"], pts["hi"] - pts["gain"]],
                        fmt="none",
                        ecolor=style.color,
                        elinewidth=1,
                        capsize=2,
                    )
                ax.scatter(
                    pts[x][sig], pts["gain"][sig], color=style.color, marker=style.marker, zorder=3
                )
                ax.scatter(
                    pts[x][~sig],
                    pts["gain"][~sig],
                    facecolor="white",
                    edgecolor=style.color,
                    marker=style.marker,
                    zorder=3,
                )
            if k == 0 and len(crossed):
                for _, r in crossed[crossed[C.METHOD] == method].iterrows():
                    value = float(r["break_even"])
                    errors = [[value - r["break_even_lo"]], [r["break_even_hi"] - value]]
                    bar = ax.errorbar(
                        [value],
                        [0.0],
                        xerr=np.clip(errors, 0.0, None),
                        fmt="D",
                        color="0.15",
                        markerfacecolor=style.color,
                        markersize=5,
                        capsize=3,
                        zorder=4,
                    )
                    # Which grid's break-even: its whisker in the grid's line style.
                    bar.lines[2][0].set_linestyle(line_of.get(r["grid"], "-"))
            ax.set_title(method + (f" ({what})" if what else ""), fontsize=9, color=style.color)
            ax.tick_params(labelsize=7)
            ax.grid(True, alpha=0.3)
        extra = f", {what}" if what else ""
        for ax in axes[(k + 1) * per_kind - 1]:
            ax.set_xlabel(f"correlation ({correlation}{extra})", fontsize=8)
    for row in axes:
        row[0].set_ylabel("transfer gain\n(log10, vs baseline)", fontsize=8)
    handles = [Line2D([], [], color="0.3", ls=line_of[g], label=g) for g in grids]
    handles += [
        Line2D([], [], color="0.3", marker="o", lw=0, label="significant"),
        Line2D([], [], color="0.3", marker="o", lw=0, markerfacecolor="white", label="not"),
    ]
    if len(crossed):
        handles.append(Line2D([], [], color="0.15", marker="D", lw=0, label="break-even [95% CI]"))
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncols=min(len(handles), 4),
        fontsize=8,
        frameon=False,
    )
    return fig


#: Verdict marks of the heatmap and the pivot tables.
VERDICT_MARKS = {"positive": "+", "negative": "\u2212", "equivalent": "=", "inconclusive": ""}


def plot_effect_heatmap(
    table: pd.DataFrame, styles: Styles | None = None, limit: float | None = None
) -> Figure:
    """Methods x settings: colour = transfer gain (minus the effect; blue
    helped, red hurt), mark = verdict (``+`` positive, ``−`` negative, ``=``
    equivalent, none inconclusive). One panel per correlation grid (e.g. per
    ``dim``), its correlations left to right in numeric order; other pairs in
    a last panel. Methods top to bottom by their median gain, best first; the
    colour scale is symmetric, clipped at ``limit`` (default: the largest
    absolute gain, at most 2 log10 units)."""
    rows = table[table["verdict"] != "baseline"].assign(gain=lambda t: -t["effect"])
    order = rows.groupby(C.METHOD)["gain"].median().sort_values(ascending=False, kind="stable")
    methods = list(order.index)
    layout = setting_layout(table[C.PAIR].unique())
    largest = float(np.nanmax(np.abs(rows["gain"]))) if len(rows) else 1.0
    limit = limit or min(max(largest, 0.1), 2.0)
    norm = TwoSlopeNorm(0.0, -limit, limit)
    styles = _styles(methods, styles)
    widths = [max(len(cells), 2) for _, cells in layout]
    long = any(title in ("", "other pairs") for title, _ in layout)
    fig = Figure(
        figsize=(
            max(6.0, 0.55 * sum(widths) + 2.8),
            0.32 * len(methods) * len(layout) + 1.6 + (1.6 if long else 0),
        ),
        layout="constrained",
    )
    axes = fig.subplots(len(layout), 1, squeeze=False)[:, 0]
    image = None
    for ax, (title, cells) in zip(axes, layout):
        pairs = [p for p, _ in cells]
        cell = rows.set_index([C.METHOD, C.PAIR])
        gain = np.full((len(methods), len(pairs)), np.nan)
        marks = [["" for _ in pairs] for _ in methods]
        for i, m in enumerate(methods):
            for j, p in enumerate(pairs):
                if (m, p) in cell.index:
                    r = cell.loc[(m, p)]
                    gain[i, j] = r["gain"]
                    marks[i][j] = VERDICT_MARKS.get(r["verdict"], "")
        image = ax.imshow(np.clip(gain, -limit, limit), cmap="RdBu", norm=norm, aspect="auto")
        for i in range(len(methods)):
            for j in range(len(pairs)):
                if marks[i][j]:
                    shade = abs(gain[i, j]) > 0.6 * limit
                    ax.text(
                        j,
                        i,
                        marks[i][j],
                        ha="center",
                        va="center",
                        fontsize=10,
                        fontweight="bold",
                        color="white" if shade else "black",
                    )
        ax.set_yticks(range(len(methods)), methods, fontsize=8)
        for tick, m in zip(ax.get_yticklabels(), methods):
            tick.set_color(styles[m].color if styles[m].color != "#000000" else "black")
        ax.set_xticks(range(len(pairs)), [label for _, label in cells], fontsize=7)
        # About ten characters of 7-point text fit a 0.55-inch column.
        if title in ("", "other pairs") or max(len(label) for _, label in cells) > 10:
            ax.tick_params(axis="x", labelrotation=35)
            for tick in ax.get_xticklabels():
                tick.set_horizontalalignment("right")
        if title not in ("", "other pairs"):
            ax.set_title(title, fontsize=9)
        ax.tick_params(length=0)
    fig.colorbar(
        image,
        ax=list(axes),
        label="transfer gain (log10; + helped)",
        shrink=0.9,
        extend="both" if largest > limit else "neither",
    )
    return fig


def plot_mean_rank(df: pd.DataFrame, styles: Styles | None = None) -> Figure:
    """Mean rank over iterations (1 = best), averaged over pairs and seeds;
    the legend beside the axes, in the order of the final mean rank."""
    curves = rank_curves(df)
    styles = _styles(curves[C.METHOD].unique(), styles)
    fig = Figure(figsize=(7.5, 3.8), layout="constrained")
    ax = fig.subplots()
    for method, g in curves.groupby(C.METHOD, sort=True):
        s = styles[method]
        ax.plot(
            g[C.ITERATION],
            g["mean_rank"],
            color=s.color,
            lw=s.linewidth,
            alpha=s.alpha,
            zorder=s.zorder,
        )
    n = curves[C.METHOD].nunique()
    ax.set_ylim(n + 0.2, 0.8)  # rank 1 on top
    ax.set_xlabel("evaluations")
    ax.set_ylabel("mean rank (1 = best)")
    ax.grid(True, alpha=0.3)
    last = curves.loc[curves.groupby(C.METHOD)[C.ITERATION].idxmax()]
    order = list(last.sort_values("mean_rank", kind="stable")[C.METHOD])
    handles = [_handle(f"{m}", styles[m]) for m in order]
    fig.legend(
        handles=handles,
        loc="outside right upper",
        fontsize=8,
        frameon=False,
        title="final rank order",
        title_fontsize=8,
    )
    return fig


def plot_critical_difference(cd: CriticalDifference, styles: Styles | None = None) -> Figure:
    """Demsar's critical-difference diagram: methods on a mean-rank axis, bars
    joining methods whose ranks differ by less than the Nemenyi CD. The
    labels sit in margins as wide as the longest label, so none is clipped."""
    ranks = cd.mean_ranks
    k = len(ranks)
    styles = _styles(ranks.index, styles)
    half = math.ceil(k / 2)
    longest = max(len(f"{m} ({r:.2f})") for m, r in ranks.items())
    # A label's width in rank units: about 0.075 inch a character at 8 pt, on
    # an axis of 0.7 inch a rank.
    room = 0.11 * longest + 0.3
    fig = Figure(
        figsize=(0.7 * (k - 1 + 2 * room) + 0.4, 1.6 + 0.28 * half + 0.15 * len(cd.cliques)),
        layout="constrained",
    )
    ax = fig.subplots()
    ax.set_xlim(1 - room, k + room)  # rank 1 (best) on the left, as in Demsar (2006)
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
        x_text = 0.9 if left else k + 0.1
        color = styles[method].color
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
    "MethodStyle",
    "method_colors",
    "method_style",
    "method_styles",
    "plot_critical_difference",
    "plot_effect_heatmap",
    "plot_mean_rank",
    "plot_regret",
    "plot_transfer_gain",
    "setting_layout",
]
