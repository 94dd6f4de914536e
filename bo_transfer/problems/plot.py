"""Pictures of a pair: source(s) against target, their optima and diagnostics."""

from __future__ import annotations

import torch
from matplotlib.figure import Figure

from bo_transfer.problems.base import DTYPE, reference_points
from bo_transfer.problems.observed import ObservedSource
from bo_transfer.problems.pair import TransferPair

#: Sources shown in one picture; the title still lists every source's diagnostics.
MAX_PANELS = 4


def _title(pair: TransferPair, note: str) -> str:
    lines = [pair.name if len(pair.name) <= 90 else pair.name[:87] + "..."]
    if note:
        lines.append(note if len(note) <= 90 else note[:87] + "...")
    per_source = [
        f"source {k}: Pearson {d['pearson']:.2f}, Spearman {d['spearman']:.2f}, "
        f"optimum distance {d['optimum_distance']:.2f}"
        for k, d in enumerate(pair.diagnostics)
    ]
    lines += per_source[:MAX_PANELS]
    if len(per_source) > MAX_PANELS:
        lines.append(f"... and {len(per_source) - MAX_PANELS} more sources")
    return "\n".join(lines)


def plot_pair(pair: TransferPair, note: str = "") -> Figure:
    """1-D: curves; 2-D: one contour panel per function; higher: a scatter of
    source vs target values on the Sobol reference set. Observed (data-only)
    sources are drawn as their points. Optima are marked with stars (every
    known global minimiser). ``note`` is a line under the title (e.g. which
    instance of an ``instance=seed`` pair is drawn)."""
    problems = [("target", pair.target)] + [
        (f"source {k}", s) for k, s in enumerate(pair.sources[:MAX_PANELS])
    ]
    if pair.dim == 1:
        fig = Figure(figsize=(6.5, 4.5), layout="constrained")
        ax = fig.subplots()
        x = torch.linspace(0, 1, 501, dtype=DTYPE).unsqueeze(-1)
        for label, p in problems:
            if isinstance(p, ObservedSource):
                line = ax.plot(p.X[:, 0], p.y, "o", ms=4, label=f"{label} (observed)")[0]
            else:
                with torch.no_grad():
                    line = ax.plot(x[:, 0], p(x), label=label)[0]
            for x_star in p.optimum.points:
                ax.plot(x_star[0], p.optimum.value, "*", ms=12, color=line.get_color())
        ax.set_xlabel("x")
        ax.legend(fontsize=8)
    elif pair.dim == 2:
        fig = Figure(figsize=(4 * len(problems), 4.2), layout="constrained")
        axes = fig.subplots(1, len(problems), squeeze=False)[0]
        g = torch.linspace(0, 1, 101, dtype=DTYPE)
        xx, yy = torch.meshgrid(g, g, indexing="xy")
        grid = torch.stack([xx.ravel(), yy.ravel()], -1)
        for ax, (label, p) in zip(axes, problems):
            if isinstance(p, ObservedSource):
                sc = ax.scatter(p.X[:, 0], p.X[:, 1], c=p.y, cmap="viridis", s=20)
                fig.colorbar(sc, ax=ax)
                label = f"{label} (observed)"
            else:
                with torch.no_grad():
                    z = p(grid).reshape(xx.shape)
                cs = ax.contourf(xx, yy, z, levels=30, cmap="viridis")
                fig.colorbar(cs, ax=ax)
            stars = list(zip(*p.optimum.points))
            ax.plot(*stars, "r*", ms=14, ls="none", label="minimum")
            ax.set(title=label, xlabel="x0", ylabel="x1", xlim=(0, 1), ylim=(0, 1))
    else:
        fig = Figure(figsize=(5.5, 5), layout="constrained")
        ax = fig.subplots()
        X = reference_points(pair.dim)
        with torch.no_grad():
            t = pair.target(X)
            for label, p in problems[1:]:
                if isinstance(p, ObservedSource):
                    ax.scatter(p.y, pair.target(p.X), s=8, label=f"{label} (observed)")
                else:
                    ax.scatter(p(X), t, s=4, alpha=0.5, label=label)
        ax.axhline(pair.target.optimal_value, color="k", lw=0.8, ls="--", label="target minimum")
        ax.set_xlabel("source value")
        ax.set_ylabel("target value")
        ax.legend(fontsize=8)
    fig.suptitle(_title(pair, note), fontsize=8)
    return fig
