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
    ``optimal_value`` and ``value_range``. Non-finite ``y`` (failed evaluations)
    do not improve ``best_y`` (it is NaN only before the first finite value).
    ``regret = best_y - optimal_value`` is clipped at 0: the optimum is
    certified by search, and a run may match it to rounding.
    """
    df = raw.sort_values([C.RUN_KEY, C.ITERATION]).reset_index(drop=True)
    y = df[C.Y].where(np.isfinite(df[C.Y].astype(float)))
    df[C.BEST_Y] = y.groupby(df[C.RUN_KEY]).cummin().groupby(df[C.RUN_KEY]).ffill()
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
        raw = store.evals_frame()
    df = add_regret(raw)
    first = C.EXPORT_COLUMNS + [C.LOG_REGRET, C.ELAPSED_S, "x"]
    rest = [c for c in df.columns if c not in first]
    return df[first + rest].sort_values([C.PAIR, C.METHOD, C.SEED, C.ITERATION], ignore_index=True)


def run_metrics(df: pd.DataFrame) -> pd.DataFrame:
    """One row per run: final regret, final normalized regret and ``auc`` (the mean
    over iterations of log10 normalized regret, i.e. the area under the
    log-regret curve per evaluation: anytime performance)."""
    g = df.sort_values(C.ITERATION).groupby([C.PAIR, C.METHOD, C.SEED], sort=True)
    return pd.DataFrame(
        {
            "final_regret": g[C.REGRET].last(),
            "final_normalized_regret": g[C.NORMALIZED_REGRET].last(),
            "auc": g[C.LOG_REGRET].mean(),
        }
    ).reset_index()
