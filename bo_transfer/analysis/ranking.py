"""Method ranking across pairs: Friedman test and Nemenyi critical difference
(Demsar, "Statistical Comparisons of Classifiers over Multiple Data Sets",
JMLR 7, 2006)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from bo_transfer import columns as C
from bo_transfer.analysis.regret import run_metrics
from bo_transfer.analysis.stats import ALPHA, _check_metric


@dataclass(frozen=True)
class CriticalDifference:
    """The result of :func:`critical_difference`.

    Attributes:
        mean_ranks: mean rank per method over the blocks (1 = best), best first.
        n_blocks: number of pairs every method ran on (the blocks ranked).
        friedman_statistic: Friedman's chi-square statistic.
        friedman_p: its p-value (chi-square approximation).
        cd: Nemenyi critical difference of mean ranks at ``alpha``.
        alpha: the level.
        cliques: groups of methods (best first) whose mean ranks lie within
            ``cd`` of each other: not significantly different. Maximal groups
            only; a method in no group of two or more is alone.
        metric: the per-run measure the blocks were ranked by.
        omitted_because: why a diagram of this analysis would say nothing
            (:func:`uninformative_because`), or "" when it can say something.
    """

    mean_ranks: pd.Series
    n_blocks: int
    friedman_statistic: float
    friedman_p: float
    cd: float
    alpha: float
    cliques: tuple[tuple[str, ...], ...]
    metric: str

    @property
    def omitted_because(self) -> str:
        return uninformative_because(self)


def uninformative_because(cd: CriticalDifference) -> str:
    """Why a critical-difference diagram of ``cd`` would say nothing, or "".

    Demsar (2006, Section 3.2.2) runs the Nemenyi post-hoc test only after the
    Friedman test rejects that all methods rank alike; and the mean ranks of
    ``k`` methods differ by at most ``k - 1``, so a critical difference that
    large can never separate two methods (e.g. any number of methods on 2
    pairs).
    """
    k = len(cd.mean_ranks)
    if cd.cd >= k - 1:
        return (
            f"with {cd.n_blocks} pairs the critical difference ({cd.cd:.2f}) is at least the "
            f"largest possible gap in mean rank between {k} methods ({k - 1}), so no two "
            f"methods could differ"
        )
    if not cd.friedman_p < cd.alpha:
        return (
            f"the Friedman test does not reject that all methods rank alike "
            f"(p = {cd.friedman_p:.2g} over {cd.n_blocks} pairs, alpha {cd.alpha:g})"
        )
    return ""


def nemenyi_cd(k: int, n_blocks: int, alpha: float = ALPHA) -> float:
    """Nemenyi critical difference ``q_alpha sqrt(k (k + 1) / (6 N))`` where
    ``q_alpha`` is the studentized range quantile over ``sqrt(2)`` (Demsar 2006,
    Section 3.2.2)."""
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / np.sqrt(2)
    return float(q * np.sqrt(k * (k + 1) / (6.0 * n_blocks)))


def _cliques(ranks: pd.Series, cd: float) -> tuple[tuple[str, ...], ...]:
    names, values = list(ranks.index), ranks.to_numpy()
    groups = []
    for i in range(len(values)):
        j = int(np.searchsorted(values, values[i] + cd, side="left"))
        # values[i..j-1] lie strictly within cd of values[i]
        if j - i >= 2 and not any(g[0] <= i and j <= g[1] for g in groups):
            groups.append((i, j))
    return tuple(tuple(names[a:b]) for a, b in groups)


def critical_difference(
    df: pd.DataFrame, metric: str = "auc", alpha: float = ALPHA
) -> CriticalDifference:
    """Rank the methods across pairs: each pair is one block, each method's
    value on it the mean over seeds of ``metric`` (lower is better); ranks
    within a block (ties averaged) are averaged over blocks. Friedman tests
    that all methods rank alike; Nemenyi's critical difference says which mean
    ranks differ.

    Only pairs on which every method ran are blocks.

    Raises:
        ValueError: fewer than 3 methods or 2 complete pairs (the Friedman
            test needs them).
    """
    col = _check_metric(metric)
    per_run = run_metrics(df)
    block = per_run.pivot_table(index=C.PAIR, columns=C.METHOD, values=col, aggfunc="mean")
    block = block.dropna()
    k, n = block.shape[1], block.shape[0]
    if k < 3 or n < 2:
        raise ValueError(
            f"a critical-difference analysis needs >= 3 methods on >= 2 common pairs; "
            f"got {k} methods on {n} pairs"
        )
    ranks = block.rank(axis=1, method="average").mean().sort_values(kind="stable")
    statistic, p = stats.friedmanchisquare(*(block[m].to_numpy() for m in block.columns))
    cd = nemenyi_cd(k, n, alpha)
    return CriticalDifference(
        mean_ranks=ranks,
        n_blocks=n,
        friedman_statistic=float(statistic),
        friedman_p=float(p),
        cd=cd,
        alpha=alpha,
        cliques=_cliques(ranks, cd),
        metric=metric,
    )


__all__ = ["CriticalDifference", "critical_difference", "nemenyi_cd", "uninformative_because"]
