"""Regret: from stored evaluations to the tidy per-iteration table (contract columns)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from bo_transfer import columns as C
from bo_transfer.sweep.store import ResultStore

#: Floor applied to normalized regret before taking log10. Regret is exactly 0
#: when a method hits an optimum that sits on a corner of the cube; the floor
#: keeps the log finite. 1e-8 of the target's range is far below any difference
#: a BO run at these budgets resolves, and it is the same everywhere.
REGRET_FLOOR = 1e-8


def add_regret(raw: pd.DataFrame) -> pd.DataFrame:
    """Add ``best_y``, ``regret``, ``normalized_regret`` and log10 normalized regret.

    ``raw`` has one row per evaluation with ``run_key``, ``iteration``, ``y``,
    ``optimal_value`` and ``value_range``. A failed evaluation (non-finite
    ``y``, stored as NaN) is charged, not skipped: it counts as the worse of
    the worst finite value the run observed and the top of the target's range
    (``optimal_value + value_range``, normalized regret 1). So it never becomes
    the best point, it spends its evaluation, and the evaluations before a
    run's first finite value have that charge as their best value instead of no
    value at all (which would drop them from the AUC's mean and flatter the
    run). ``y`` itself stays NaN. ``regret = best_y - optimal_value`` is clipped
    at 0: the optimum is certified by search, and a run may match it to
    rounding.
    """
    df = raw.sort_values([C.RUN_KEY, C.ITERATION]).reset_index(drop=True)
    y = df[C.Y].astype(float)
    finite = y.where(np.isfinite(y))
    top = df[C.OPTIMAL_VALUE] + df["value_range"]
    charge = np.fmax(finite.groupby(df[C.RUN_KEY]).transform("max"), top)
    df[C.BEST_Y] = finite.fillna(charge).groupby(df[C.RUN_KEY]).cummin()
    df[C.REGRET] = (df[C.BEST_Y] - df[C.OPTIMAL_VALUE]).clip(lower=0.0)
    df[C.NORMALIZED_REGRET] = df[C.REGRET] / df["value_range"]
    df[C.LOG_REGRET] = np.log10(df[C.NORMALIZED_REGRET].clip(lower=REGRET_FLOOR))
    return df


def _tidy(raw: pd.DataFrame) -> pd.DataFrame:
    df = add_regret(raw)
    first = C.EXPORT_COLUMNS + [C.LOG_REGRET, C.ELAPSED_S, "x"]
    rest = [c for c in df.columns if c not in first]
    return df[first + rest].sort_values([C.PAIR, C.METHOD, C.SEED, C.ITERATION], ignore_index=True)


def iter_results(directory: str | Path, runs_per_chunk: int = 2000) -> Iterator[pd.DataFrame]:
    """The tidy table of :func:`load_results` in chunks of whole runs, so an
    export of a large store never holds it all in memory."""
    with ResultStore(directory) as store:
        keys = store.run_keys()
        for start in range(0, len(keys), runs_per_chunk):
            yield _tidy(store.evals_frame(keys=keys[start : start + runs_per_chunk]))


def load_results(directory: str | Path) -> pd.DataFrame:
    """The tidy table of a sweep directory: one row per (finished run, iteration),
    contract columns first (``pair, family, method, seed, iteration, y, best_y,
    regret, normalized_regret``), then ``elapsed_s``, ``x`` (JSON) and run-level
    columns."""
    with ResultStore(directory) as store:
        return _tidy(store.evals_frame())


def load_failed(directory: str | Path) -> pd.DataFrame:
    """The runs of a sweep directory stored as failed: one row each with
    ``pair, method, seed, error`` (a report counts them per cell)."""
    with ResultStore(directory) as store:
        runs = store.runs_frame()
    failed = runs[runs["status"] == "failed"]
    return failed[[C.PAIR, C.METHOD, C.SEED, "error"]].reset_index(drop=True)


def run_metrics(df: pd.DataFrame, budget: int | None = None) -> pd.DataFrame:
    """One row per run (``pair, method, seed``) at its last iteration, or at
    ``budget`` evaluations when given.

    Columns: ``final_regret``, ``final_normalized_regret``,
    ``final_log10_regret`` (log10 of the floored normalized regret),
    ``final_random_normalized_regret`` (when ``df`` has that column), and
    ``auc``: the mean over iterations of log10 normalized regret, i.e. the area
    under the log-regret curve per evaluation (anytime performance). The run's
    diagnostics (``family``, ``pearson``, ...) are carried when present.
    """
    if budget is not None:
        df = truncate(df, budget)
    keys = [C.PAIR, C.METHOD, C.SEED]
    # The row of each run's last iteration: ``groupby.last`` would skip NaN and
    # silently take an earlier iteration's value.
    last = df.loc[df.groupby(keys, sort=False)[C.ITERATION].idxmax()].set_index(keys)
    out = pd.DataFrame(
        {
            "final_regret": last[C.REGRET],
            "final_normalized_regret": last[C.NORMALIZED_REGRET],
            "final_log10_regret": last[C.LOG_REGRET],
        }
    )
    if C.RANDOM_NORMALIZED_REGRET in last:
        out["final_random_normalized_regret"] = last[C.RANDOM_NORMALIZED_REGRET]
    out["auc"] = df.groupby(keys, sort=False)[C.LOG_REGRET].mean()
    for col in RUN_LEVEL_COLUMNS:
        if col in last:
            out[col] = last[col]
    return out.sort_index().reset_index()


#: Run-level columns of the tidy table that ``run_metrics`` carries along.
RUN_LEVEL_COLUMNS = (
    C.FAMILY,
    "method_name",
    "budget",
    "n_sources",
    "pearson",
    "spearman",
    "optimum_distance",
)


def truncate(df: pd.DataFrame, budget: int) -> pd.DataFrame:
    """The tidy table as if every run had stopped after ``budget`` evaluations
    (initial design included): rows with ``iteration <= budget``."""
    return df[df[C.ITERATION] <= budget]


def add_random_normalized(df: pd.DataFrame, reference: str = "random") -> pd.DataFrame:
    """Add ``random_normalized_regret``: regret divided by the median regret of
    the ``reference`` method (default ``random``) on the same pair at the same
    iteration, so 0 is the optimum and 1 is what random search reaches with the
    same budget (in the spirit of Bayesmark's normalized score; Turner et al.,
    "Bayesian Optimization is Superior to Random Search for Machine Learning
    Hyperparameter Tuning", NeurIPS 2020 competition, arXiv:2104.10201).

    This is an extra measure: the contract column ``normalized_regret`` (regret
    over the target's range) is unchanged. The value is NaN where the sweep has
    no ``reference`` runs for the pair, or where their median regret is 0
    (random search found the optimum: nothing to normalize by).
    """
    out = df.copy()
    ref = df[df[C.METHOD] == reference]
    if ref.empty:
        out[C.RANDOM_NORMALIZED_REGRET] = np.nan
        return out
    median = ref.groupby([C.PAIR, C.ITERATION])[C.REGRET].median().rename("_ref")
    denom = out.join(median, on=[C.PAIR, C.ITERATION])["_ref"]
    out[C.RANDOM_NORMALIZED_REGRET] = out[C.REGRET] / denom.where(denom > 0)
    return out
