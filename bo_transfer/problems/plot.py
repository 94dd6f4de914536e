"""Pictures of a pair: source(s) against target, their optima and diagnostics."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from bo_transfer.problems.base import DTYPE, reference_points  # noqa: E402
from bo_transfer.problems.pair import TransferPair  # noqa: E402


def _title(pair: TransferPair) -> str:
    d = pair.diagnostics[0]
    extra = f" (first of {len(pair.sources)} sources)" if len(pair.sources) > 1 else ""
    return (
        f"{pair.name}\nPearson {d['pearson']:.2f}, Spearman {d['spearman']:.2f}, "
        f"optimum distance {d['optimum_distance']:.2f}{extra}"
    )


def plot_pair(pair: TransferPair) -> Figure:
    """1-D: curves; 2-D: one contour panel per function; higher: a scatter of
    source vs target values on the Sobol reference set."""
    problems = [("target", pair.target)] + [(f"source {k}", s) for k, s in enumerate(pair.sources)]
    if pair.dim == 1:
        fig = Figure(figsize=(6, 4), layout="constrained")
        ax = fig.subplots()
        x = torch.linspace(0, 1, 501, dtype=DTYPE).unsqueeze(-1)
        for label, p in problems:
            with torch.no_grad():
                line = ax.plot(x[:, 0], p(x), label=label)[0]
            ax.plot(p.optimum.x[0], p.optimum.value, "*", ms=12, color=line.get_color())
        ax.set_xlabel("x")
        ax.legend()
    elif pair.dim == 2:
        fig = Figure(figsize=(4 * len(problems), 3.8), layout="constrained")
        axes = fig.subplots(1, len(problems), squeeze=False)[0]
        g = torch.linspace(0, 1, 101, dtype=DTYPE)
        xx, yy = torch.meshgrid(g, g, indexing="xy")
        grid = torch.stack([xx.ravel(), yy.ravel()], -1)
        for ax, (label, p) in zip(axes, problems):
            with torch.no_grad():
                z = p(grid).reshape(xx.shape)
            cs = ax.contourf(xx, yy, z, levels=30, cmap="viridis")
            fig.colorbar(cs, ax=ax)
            ax.plot(*p.optimum.x, "r*", ms=14, label="minimum")
            ax.set_title(label)
            ax.set_xlabel("x0")
            ax.set_ylabel("x1")
    else:
        fig = Figure(figsize=(5, 4.5), layout="constrained")
        ax = fig.subplots()
        X = reference_points(pair.dim)
        with torch.no_grad():
            t = pair.target(X)
            for label, p in problems[1:]:
                ax.scatter(p(X), t, s=4, alpha=0.5, label=label)
        ax.set_xlabel("source value")
        ax.set_ylabel("target value")
        ax.legend()
    fig.suptitle(_title(pair), fontsize=9)
    return fig
