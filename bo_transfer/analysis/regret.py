"""Regret: from stored evaluations to the tidy per-iteration table (contract columns)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import asdict, fields
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from bo_transfer import columns as C
from bo_transfer.analysis.diagnostics import (
    SUMMARY_COLUMNS,
    alignment_columns,
    source_summaries,
)
from bo_transfer.analysis.protocols import PROTOCOL, export_protocols, store_protocols
from bo_transfer.errors import UserError
from bo_transfer.problems.base import ROUNDING, BelowOptimumWarning
from bo_transfer.sweep.outcome import DONE, FAILED
from bo_transfer.sweep.runner import RunSpec
from bo_transfer.sweep.store import ResultStore

#: Floor applied to normalized regret before taking log10. Regret is exactly 0
#: when a method hits an optimum that sits on a corner of the cube; the floor
#: keeps the log finite. 1e-8 of the target's range is far below any difference
#: a BO run at these budgets resolves, and it is the same everywhere.
REGRET_FLOOR = 1e-8


def add_regret(raw: pd.DataFrame) -> pd.DataFrame:
    """Add ``best_y``, ``regret``, ``normalized_regret`` and log10 normalized regret.

    ``raw`` has one row per evaluation with ``run_key``, ``iteration``, ``y``,
    ``optimal_value`` (the certified optimum of the run's pair instance) and
    ``value_range``; optionally ``pair_instance`` (the concrete pair the run
    used; default ``pair``, else the run alone) and ``best_seen`` (the lowest
    value any run of that pair instance evaluated; default: over ``raw``, while
    :func:`load_results` and :func:`iter_results` take it over the whole
    store).

    ``regret = best_y - optimal_value`` where ``optimal_value`` becomes the
    lower of the certified optimum and the best value seen on the pair
    instance, so regret is never negative and every method on a pair instance
    is measured from the same value; ``certified_optimal_value`` keeps the
    certified one. A pair instance evaluated below its certified optimum by
    more than rounding triggers one :class:`BelowOptimumWarning` (the run's
    ``metadata["below_optimum"]`` records where).

    A failed evaluation (non-finite ``y``, stored as NaN) is charged, not
    skipped: it counts as the worse of the worst finite value the run observed
    and the top of the target's range (``optimal_value + value_range``,
    normalized regret 1). So it never becomes the best point, it spends its
    evaluation, and the evaluations before a run's first finite value have that
    charge as their best value instead of no value at all (which would drop
    them from the AUC's mean and flatter the run). ``y`` itself stays NaN.
    """
    df = raw.sort_values([C.RUN_KEY, C.ITERATION]).reset_index(drop=True)
    y = df[C.Y].astype(float)
    finite = y.where(np.isfinite(y))
    if BEST_SEEN in df:
        seen = df.pop(BEST_SEEN)
    else:
        instance = df[next((c for c in (C.PAIR_INSTANCE, C.PAIR) if c in df), C.RUN_KEY)]
        seen = finite.groupby(instance).transform("min")
        warn_below_optimum(instance, seen, df[C.OPTIMAL_VALUE], df["value_range"])
    df[C.CERTIFIED_OPTIMAL_VALUE] = df[C.OPTIMAL_VALUE]
    df[C.OPTIMAL_VALUE] = np.fmin(df[C.OPTIMAL_VALUE], seen)
    top = df[C.OPTIMAL_VALUE] + df["value_range"]
    charge = np.fmax(finite.groupby(df[C.RUN_KEY]).transform("max"), top)
    df[C.BEST_Y] = finite.fillna(charge).groupby(df[C.RUN_KEY]).cummin()
    df[C.REGRET] = df[C.BEST_Y] - df[C.OPTIMAL_VALUE]
    df[C.NORMALIZED_REGRET] = df[C.REGRET] / df["value_range"]
    df[C.LOG_REGRET] = np.log10(df[C.NORMALIZED_REGRET].clip(lower=REGRET_FLOOR))
    return df


#: Column of the lowest value seen on a run's pair instance (input of add_regret).
BEST_SEEN = "best_seen"


def warn_below_optimum(
    instance: pd.Series, seen: pd.Series, certified: pd.Series, value_range: pd.Series
) -> None:
    """One :class:`BelowOptimumWarning` naming the pair instances whose best
    value seen lies below the certified optimum by more than rounding."""
    gap = (certified - seen) / value_range
    below = gap > ROUNDING
    if not below.any():
        return
    worst = gap[below].groupby(instance[below]).max().sort_values(ascending=False)
    warnings.warn(
        f"{len(worst)} pair instance(s) evaluated below the certified optimum (largest gap "
        f"{worst.iloc[0]:.3g} of the value range, on {worst.index[0]}); regret is measured "
        "from the best value seen",
        BelowOptimumWarning,
        stacklevel=3,
    )


def _run_columns(details: pd.DataFrame) -> pd.DataFrame:
    """Per run (index ``run_key``): its pair instance, the best value seen on
    that instance over every run of ``details`` (warned about once), and the
    source summaries of :mod:`~bo_transfer.analysis.diagnostics`."""
    instance = details[C.PAIR_INSTANCE]
    seen = details["min_y"].groupby(instance).transform("min")
    warn_below_optimum(instance, seen, details[C.OPTIMAL_VALUE], details["value_range"])
    out = pd.concat(
        [
            pd.DataFrame({C.PAIR_INSTANCE: instance, BEST_SEEN: seen}),
            source_summaries(details["source_diagnostics"]),
        ],
        axis=1,
    )
    out.index = details[C.RUN_KEY]
    return out


#: What a row of the report compares besides the pair: everything a run spec
#: holds except the pair, the seed and the label (the row's name).
_CELL_FIELDS = tuple(f.name for f in fields(RunSpec) if f.name not in ("pair", "seed", "label"))


def cell_labels(cells: pd.DataFrame) -> pd.Series:
    """Each run's row label (index ``run_key``): its method label, unless runs
    under that label differ in more than the seed (appended specs at another
    budget, ``n_init``, ``n_source``, source design or noise, options, or one
    label for two methods). Then every run of the label is shown as
    ``label[field=value,...]`` with the fields that differ (an option a run
    left at its default reads ``option=default``), so a row never mixes runs
    that differ in anything but the seed.

    Args:
        cells: :meth:`~bo_transfer.sweep.store.ResultStore.run_cells`.
    """
    labels = pd.Series(cells[C.METHOD].to_numpy(), index=cells[C.RUN_KEY], dtype=object)
    if cells.empty:
        return labels
    settings = pd.DataFrame(
        [_cell_settings(entry) for entry in cells["spec_entry"]], index=labels.index
    ).fillna("default")
    for label, group in settings.groupby(labels, sort=False):
        varying = [f for f in group.columns if group[f].nunique() > 1]
        if varying:
            for key, row in group[varying].iterrows():
                labels[key] = f"{label}[{','.join(f'{f}={row[f]}' for f in varying)}]"
    return labels


def _cell_settings(spec_entry: str) -> dict[str, str]:
    """A stored run spec's cell fields as text, each option as a field of its
    own (fields added to ``RunSpec`` since the run was stored take their
    defaults; fields a run spec no longer has, such as an older release's
    ``seed_batch``, are ignored: they said how a run was executed)."""
    spec = asdict(RunSpec.from_stored(spec_entry))
    options = {k: str(v) for k, v in sorted(spec["options"].items())}
    out = {"method": spec["method"], **options}
    out.update({f: str(spec[f]) for f in _CELL_FIELDS if f not in ("method", "options")})
    return out


def _alignment(details: pd.DataFrame) -> pd.DataFrame:
    """The alignment traces of ``details`` as per-iteration columns."""
    return alignment_columns(details.set_index(C.RUN_KEY)["alignment"])


def _tidy(
    raw: pd.DataFrame,
    runs: pd.DataFrame,
    labels: pd.Series,
    details: pd.DataFrame,
    alignment: pd.DataFrame,
) -> pd.DataFrame:
    raw = raw.assign(**{C.METHOD: raw[C.RUN_KEY].map(labels)})
    raw = raw.join(runs, on=C.RUN_KEY).join(alignment, on=[C.RUN_KEY, C.ITERATION])
    df = add_regret(raw)
    df[PROTOCOL] = store_protocols(df, details)
    first = C.EXPORT_COLUMNS + [C.LOG_REGRET, C.ELAPSED_S, "x"]
    rest = [c for c in df.columns if c not in first]
    return df[first + rest].sort_values([C.PAIR, C.METHOD, C.SEED, C.ITERATION], ignore_index=True)


def iter_results(directory: str | Path, runs_per_chunk: int = 2000) -> Iterator[pd.DataFrame]:
    """The tidy table of :func:`load_results` in chunks of whole runs, so an
    export of a large store never holds it all in memory. Each row also has
    ``status`` (``done``) and ``error`` (empty), the columns through which
    :func:`failed_rows` carries failed runs in an export."""
    with ResultStore(directory) as store:
        details = store.run_details()
        runs, alignment = _run_columns(details), _alignment(details)
        labels = cell_labels(store.run_cells())
        keys = store.run_keys()
        for start in range(0, len(keys), runs_per_chunk):
            chunk = store.evals_frame(keys=keys[start : start + runs_per_chunk])
            tidy = _tidy(chunk, runs, labels, details, alignment)
            yield tidy.assign(**{STATUS: DONE, ERROR: ""})


#: Export columns that carry each run's status and, for a failed run, its error.
STATUS, ERROR = "status", "error"


def failed_rows(directory: str | Path, like: pd.DataFrame) -> pd.DataFrame:
    """The sweep's failed runs as rows of an export with the columns of
    ``like`` (a chunk of :func:`iter_results`): one row per run at iteration
    0, with its pair, method, seed, run key, budget, ``status`` ``failed``
    and ``error``, the rest empty. A report from the export counts them as the
    report from the folder does (:func:`load_failed`)."""
    with ResultStore(directory) as store:
        runs = store.runs_frame()
        labels = cell_labels(store.run_cells())
    runs = runs[runs["status"] == FAILED]
    rows = pd.DataFrame(
        {
            C.PAIR: runs[C.PAIR],
            C.FAMILY: runs[C.FAMILY],
            C.METHOD: runs["key"].map(labels),
            C.SEED: runs[C.SEED],
            C.ITERATION: 0,
            C.RUN_KEY: runs["key"],
            "method_name": runs["method_name"],
            "budget": runs["budget"],
            "n_init": runs["n_init"],
            STATUS: FAILED,
            ERROR: runs["error"],
        }
    )
    return rows.reindex(columns=like.columns).astype(
        {c: object for c in like.columns if like[c].dtype == object}
    )


#: Columns a report needs beyond the contract ones, so an export file it reads
#: must carry them (every ``bo-transfer export`` does).
REPORT_COLUMNS = [C.RUN_KEY, C.OPTIMAL_VALUE, "value_range", "method_name", C.LOG_REGRET]


def read_export(path: str | Path) -> pd.DataFrame:
    """The tidy table from a file ``bo-transfer export`` wrote (``.parquet`` or
    ``.csv``), as :func:`load_results` returns it for the sweep directory:
    its finished runs, each checked complete (``budget`` evaluations; an
    export cut short would pass a stopped run for a finished one)."""
    df = _read_export_file(*_file_identity(path))
    if STATUS in df:
        df = df[df[STATUS] != FAILED]
    if "budget" in df:
        _check_complete(df, path)
    df = df.assign(**{PROTOCOL: export_protocols(df, Path(path))})
    return df.sort_values([C.PAIR, C.METHOD, C.SEED, C.ITERATION], ignore_index=True)


def _file_identity(path: str | Path) -> tuple[str, int, int]:
    """Path, size and modification time: a changed file is read again."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise UserError(f"cannot read {str(path)!r}: {exc.strerror}") from None
    return str(path), stat.st_size, stat.st_mtime_ns


def _check_complete(df: pd.DataFrame, path: str | Path) -> None:
    """Every run of the export has its ``budget`` evaluations, 1..budget."""
    runs = df.groupby(C.RUN_KEY, sort=False).agg(
        n=(C.ITERATION, "size"),
        last=(C.ITERATION, "max"),
        budget=("budget", "first"),
        pair=(C.PAIR, "first"),
        method=(C.METHOD, "first"),
        seed=(C.SEED, "first"),
    )
    short = runs[(runs["n"] != runs["budget"]) | (runs["last"] != runs["budget"])]
    if len(short):
        r = short.iloc[0]
        raise UserError(
            f"{str(path)!r} is incomplete: {len(short)} run(s) lack evaluations (first: "
            f"{r['pair']} {r['method']} seed={r['seed']}, {r['n']} of its budget of "
            f"{r['budget']}); it was cut short: export the sweep again"
        )


@lru_cache(maxsize=2)
def _read_export_file(path: str, size: int, mtime_ns: int) -> pd.DataFrame:
    """Every row of an export (finished and failed runs), read once per
    report (both :func:`read_export` and :func:`load_failed` need it)."""
    path = Path(path)
    try:
        if path.suffix == ".parquet":
            try:
                df = pd.read_parquet(path)
            except ImportError:
                raise UserError(
                    "reading a parquet export needs pyarrow: pip install pyarrow"
                ) from None
        elif path.suffix == ".csv":
            df = pd.read_csv(path)
        else:
            raise UserError(f"{str(path)!r}: an export is a .parquet or .csv file")
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {str(path)!r}: {str(exc).splitlines()[0]}") from None
    missing = [c for c in C.EXPORT_COLUMNS + REPORT_COLUMNS if c not in df]
    if missing:
        raise UserError(
            f"{str(path)!r} is not a bo-transfer export: no column {', '.join(missing)}"
        )
    return df


def load_results(directory: str | Path) -> pd.DataFrame:
    """The tidy table of a sweep directory: one row per (finished run, iteration),
    contract columns first (``pair, family, method, seed, iteration, y, best_y,
    regret, normalized_regret``), then ``elapsed_s``, ``x`` (JSON) and run-level
    columns: ``pair_instance`` (the concrete pair of an ``instance=seed`` run),
    ``certified_optimal_value``, the first source's diagnostics (``pearson``,
    ``spearman``, ``optimum_distance``) and their mean over sources and worst
    source (``pearson_mean``, ``pearson_worst``, ...; see
    :mod:`~bo_transfer.analysis.diagnostics`), and each iteration's
    alignment of the sources with the target values so far (``alignment_n``,
    ``alignment_tau_mean``, ..., see
    :func:`~bo_transfer.analysis.diagnostics.alignment_columns`; NaN for runs
    stored without a trace). ``method`` is the row label of :func:`cell_labels`.

    ``directory`` may also be a file ``bo-transfer export`` wrote (see
    :func:`read_export`), so published results re-analyse without the store."""
    if Path(directory).is_file():
        return read_export(directory)
    with ResultStore(directory) as store:
        labels = cell_labels(store.run_cells())
        details = store.run_details()
        return _tidy(
            store.evals_frame(), _run_columns(details), labels, details, _alignment(details)
        )


def load_failed(directory: str | Path) -> pd.DataFrame:
    """The runs of a sweep directory stored as failed: one row each with
    ``pair, method, seed, error`` (a report counts them per cell). From an
    export file: its rows of status ``failed`` (exports written before they
    carried failed runs have none)."""
    if Path(directory).is_file():
        df = _read_export_file(*_file_identity(directory))
        if STATUS not in df:
            return pd.DataFrame(columns=[C.PAIR, C.METHOD, C.SEED, "error"])
        failed = df[df[STATUS] == FAILED]
        return failed[[C.PAIR, C.METHOD, C.SEED, ERROR]].reset_index(drop=True)
    with ResultStore(directory) as store:
        runs = store.runs_frame()
        labels = cell_labels(store.run_cells())
    failed = runs[runs["status"] == "failed"].assign(**{C.METHOD: lambda f: f["key"].map(labels)})
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
    C.PAIR_INSTANCE,
    "method_name",
    "budget",
    "n_sources",
    "pearson",
    "spearman",
    "optimum_distance",
    *SUMMARY_COLUMNS,
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
