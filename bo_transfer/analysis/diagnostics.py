"""Alignment diagnostics of a sweep's pairs: over a run's sources, over a pair's instances.

A run stores every source's diagnostics (Pearson and Spearman correlation with
the target, distance between the optima); the contract columns ``pearson``,
``spearman`` and ``optimum_distance`` hold the first source's. For a
multi-source pair one number cannot stand for all sources (``gp:rho=0.9;-0.9``
is neither a 0.9 nor a -0.9 pair), so the analysis carries two summaries per
run: the **mean** over sources and the **worst** source (the least correlated,
the farthest optimum). A pair named with ``instance=seed`` is a distribution of
instances; its diagnostics are summarised over the instances its runs used.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from bo_transfer import columns as C
from bo_transfer.methods.alignment import SCORES
from bo_transfer.problems.pair import DIAGNOSTICS

#: How the worst source is picked for each diagnostic.
WORST = {"pearson": np.min, "spearman": np.min, "optimum_distance": np.max}

#: Run-level columns :func:`source_summaries` adds to the tidy table.
SUMMARY_COLUMNS = tuple(f"{d}_{s}" for d in DIAGNOSTICS for s in ("mean", "worst"))


def source_summaries(source_diagnostics: pd.Series) -> pd.DataFrame:
    """Mean over sources and worst source of each diagnostic, per run.

    Args:
        source_diagnostics: per run, the list of every source's diagnostics
            (dicts, as ``ResultStore.run_details`` gives); None where unknown.

    Returns:
        One row per entry of ``source_diagnostics`` (same index) with the
        columns of :data:`SUMMARY_COLUMNS` (NaN where unknown).
    """
    rows = []
    for sources in source_diagnostics:
        sources = sources if isinstance(sources, list) else []
        row = {}
        for d in DIAGNOSTICS:
            values = np.array([s[d] for s in sources if s.get(d) is not None], dtype=float)
            row[f"{d}_mean"] = values.mean() if len(values) else np.nan
            row[f"{d}_worst"] = WORST[d](values) if len(values) else np.nan
        rows.append(row)
    return pd.DataFrame(rows, index=source_diagnostics.index, columns=list(SUMMARY_COLUMNS))


def pair_diagnostics(df: pd.DataFrame) -> pd.DataFrame:
    """One row per pair: what its sources look like, over the instances its runs used.

    Columns: ``pair``, ``family``, ``n_sources``, ``n_instances`` (1 unless the
    pair has ``instance=seed``), and per diagnostic ``d`` (``pearson``,
    ``spearman``, ``optimum_distance``): ``d`` the mean over sources,
    ``d_worst`` the worst source (both the median over instances), and
    ``d_min``, ``d_max`` the range over instances of the mean over sources.
    Tables without per-source summaries (e.g. hand-made frames) use the
    contract columns as both mean and worst.
    """
    instance = df[C.PAIR_INSTANCE] if C.PAIR_INSTANCE in df else df[C.PAIR]
    cols = {}
    for d in DIAGNOSTICS:
        if f"{d}_mean" in df:
            cols[d], cols[f"{d}_worst"] = df[f"{d}_mean"], df[f"{d}_worst"]
        elif d in df:
            cols[d], cols[f"{d}_worst"] = df[d], df[d]
    frame = pd.DataFrame(
        {
            C.PAIR: df[C.PAIR],
            "_instance": instance,
            C.FAMILY: df[C.FAMILY],
            **({"n_sources": df["n_sources"]} if "n_sources" in df else {}),
            **cols,
        }
    )
    per_instance = frame.groupby([C.PAIR, "_instance"], sort=True).first().reset_index()
    grouped = per_instance.groupby(C.PAIR, sort=True)
    out = grouped[[C.FAMILY, *(["n_sources"] if "n_sources" in frame else [])]].first()
    out["n_instances"] = grouped["_instance"].nunique()
    for d in DIAGNOSTICS:
        if d not in cols:
            continue
        out[d] = grouped[d].median()
        out[f"{d}_worst"] = grouped[f"{d}_worst"].median()
        out[f"{d}_min"] = grouped[d].min()
        out[f"{d}_max"] = grouped[d].max()
    return out.reset_index()


#: Per-iteration alignment columns of the export (see :func:`alignment_columns`),
#: besides one ``alignment_<score>_s<k>`` per source.
ALIGNMENT_COLUMNS = (
    "alignment_n",
    *(f"alignment_{s}_{a}" for s in SCORES for a in ("mean", "worst")),
)


def alignment_columns(traces: pd.Series) -> pd.DataFrame:
    """The runs' alignment traces as per-iteration columns.

    Args:
        traces: per run (index ``run_key``), its ``metadata["alignment"]``
            (:class:`~bo_transfer.methods.alignment.AlignmentTrace`), or None
            for a run stored without one.

    Returns:
        One row per (``run_key``, ``iteration``) of a traced run (iteration 1
        after the first evaluation) with ``alignment_n`` (finite target values
        so far), per source ``k`` the columns ``alignment_tau_s<k>`` and
        ``alignment_cosine_s<k>``, and over the sources each score's mean and
        worst (lowest) source, ``alignment_<score>_mean`` and
        ``alignment_<score>_worst``; NaN where a score is undefined. Runs
        without a trace have no rows (a join leaves their columns NaN).
    """
    frames = []
    for key, trace in traces.items():
        if not isinstance(trace, dict) or not trace.get("n"):
            continue
        cols: dict[str, object] = {
            C.RUN_KEY: key,
            C.ITERATION: np.arange(1, len(trace["n"]) + 1),
            "alignment_n": trace["n"],
        }
        for s in SCORES:
            values = np.array(trace[s], dtype=float)  # None -> NaN
            for k in range(values.shape[1]):
                cols[f"alignment_{s}_s{k}"] = values[:, k]
            with warnings.catch_warnings():  # an all-NaN row (too few points) stays NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                cols[f"alignment_{s}_mean"] = np.nanmean(values, axis=1)
                cols[f"alignment_{s}_worst"] = np.nanmin(values, axis=1)
        frames.append(pd.DataFrame(cols))
    if not frames:
        return pd.DataFrame(columns=[C.RUN_KEY, C.ITERATION, *ALIGNMENT_COLUMNS]).set_index(
            [C.RUN_KEY, C.ITERATION]
        )
    out = pd.concat(frames, ignore_index=True)
    per_source = sorted(
        (c for c in out if c.startswith("alignment_") and c.rsplit("_s", 1)[-1].isdigit()),
        key=lambda c: (int(c.rsplit("_s", 1)[1]), c),
    )
    return out[[C.RUN_KEY, C.ITERATION, *ALIGNMENT_COLUMNS, *per_source]].set_index(
        [C.RUN_KEY, C.ITERATION]
    )
