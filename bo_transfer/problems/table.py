"""Your own tables of past evaluations as transfer pairs.

A lab's past experiments, one CSV or parquet file: a row per evaluation, a
column per input, an objective column and a task column (which campaign, data
set or product the row belongs to). :func:`register_table_pairs` turns the file
into a pair family named by you: pair ``NAME:task=T`` has task ``T`` as its
target (a :class:`~bo_transfer.problems.tabular.TabularProblem`, so runs choose
among its evaluated configurations) and every other task as a data-only
source, subsampled to the sweep's ``n_source`` points per run seed.

Inputs are mapped to the unit cube by their bounds (given, or the column's
minimum and maximum over the whole file, so every task shares one map),
through ``log10`` for a log-scaled input. Rows whose objective is empty or
not finite (failed runs) are dropped; any other bad value (text in a number
column, a missing task, a column named twice) is a one-line error naming its
line and column. The file's content (a hash of its bytes and of the
description) is part of every run's identity, so a changed table never mixes
into results of the old one.

For the command line, describe the table in a TOML file and name it in a
spec's ``tables`` list, or in the ``BO_TRANSFER_TABLES`` environment variable
(paths separated by ``os.pathsep``); the families are then registered in every
process of a sweep::

    name = "mylab"               # pairs are mylab:task=...
    data = "experiments.csv"     # CSV or parquet, relative to this file
    task = "dataset"
    objective = "val_error"
    maximize = false             # true for accuracy-like objectives
    [inputs]
    lr = {low = 1e-5, high = 0.1, log = true}
    depth = {low = 2, high = 12}
    dropout = {}                 # bounds from the data
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from bo_transfer.errors import UserError
from bo_transfer.problems.families import FAMILIES, Param, canonical_pair_name, register_family
from bo_transfer.problems.observed import ObservedSource
from bo_transfer.problems.tabular import TabularProblem
from bo_transfer.registry import closest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: Environment variable listing table description files (``os.pathsep``-separated).
TABLES_ENV = "BO_TRANSFER_TABLES"

DESCRIPTION_KEYS = (
    "name",
    "data",
    "task",
    "objective",
    "maximize",
    "inputs",
    "summary",
    "citation",
)

#: Characters a task value cannot contain: they separate a pair name's parts.
_RESERVED = set(",;=:")

#: Family name -> what was registered under it (registering it again is a no-op).
_REGISTERED: dict[str, tuple] = {}


@dataclass(frozen=True)
class Input:
    """One input column: its bounds (None: from the data) and scale."""

    name: str
    low: float | None = None
    high: float | None = None
    log: bool = False


def _inputs(inputs: Mapping[str, Any] | Sequence[str], where: str) -> list[Input]:
    if not isinstance(inputs, Mapping):
        return [Input(str(name)) for name in inputs]
    out = []
    for name, spec in inputs.items():
        if spec is None:
            spec = {}
        elif isinstance(spec, (tuple, list)):
            if len(spec) != 2:
                raise UserError(f"{where}: input {name!r} needs (low, high), got {spec!r}")
            spec = {"low": spec[0], "high": spec[1]}
        if not isinstance(spec, Mapping) or set(spec) - {"low", "high", "log"}:
            raise UserError(
                f"{where}: input {name!r} takes low, high and log (e.g. "
                f"{{low = 1e-5, high = 0.1, log = true}}), got {spec!r}"
            )
        bounds = [spec.get(k) for k in ("low", "high")]
        if any(isinstance(b, (bool, str)) for b in bounds):
            raise UserError(f"{where}: input {name!r}: bounds must be numbers, got {spec!r}")
        try:
            low, high = (None if b is None else float(b) for b in bounds)
        except (TypeError, ValueError):
            raise UserError(
                f"{where}: input {name!r}: bounds must be numbers, got {spec!r}"
            ) from None
        log = _flag(spec.get("log", False), f"input {name!r}: log", where)
        out.append(Input(str(name), low, high, log))
    if not out:
        raise UserError(f"{where}: needs at least one input column")
    return out


def _flag(value: Any, what: str, where: str) -> bool:
    """A true/false setting; a string such as ``"false"`` is refused (``bool()``
    of it is True, which would silently flip the setting)."""
    if not isinstance(value, bool):
        raise UserError(f"{where}: {what} must be true or false, got {value!r}")
    return value


def read_frame(path: str | Path) -> pd.DataFrame:
    """A CSV (``.csv``) or parquet (``.parquet``, ``.pq``) file as a DataFrame."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise UserError(f"{path}: a table must be a .csv or .parquet file")
    try:
        frame = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
        # pandas renames a repeated CSV header (x1, x1.1): read the header as written.
        header = (
            pd.read_csv(path, header=None, nrows=1, dtype=str).iloc[0].tolist()
            if suffix == ".csv" and len(frame.columns)
            else list(frame.columns)
        )
    except FileNotFoundError:
        raise UserError(f"table file {str(path)!r} not found") from None
    except (OSError, ValueError, ImportError) as exc:
        raise UserError(f"cannot read {str(path)!r}: {exc}".splitlines()[0]) from None
    repeated = sorted({str(c) for c in header if header.count(c) > 1})
    if repeated:
        raise UserError(f"{path}: column {repeated[0]!r} appears more than once; rename one")
    return frame


def _unit(values: np.ndarray, spec: Input, rows: np.ndarray, where: str) -> np.ndarray:
    """One input column mapped to [0, 1]; ``rows`` are the file's line numbers."""
    low, high = spec.low, spec.high
    if spec.log:
        bad = values <= 0
        if bad.any():
            raise UserError(
                f"{where}:{rows[bad][0]}: {spec.name}={values[bad][0]} is not positive, "
                "but the input is log-scaled"
            )
        if (low is not None and low <= 0) or (high is not None and high <= 0):
            raise UserError(f"{where}: log-scaled input {spec.name!r} needs positive bounds")
        values = np.log10(values)
        low = None if low is None else np.log10(low)
        high = None if high is None else np.log10(high)
    low = float(values.min()) if low is None else low
    high = float(values.max()) if high is None else high
    with np.errstate(over="ignore"):
        span = high - low
    if not np.isfinite(span):
        raise UserError(
            f"{where}: input {spec.name!r} spans [{low:g}, {high:g}], wider than a float can "
            "hold; rescale it or give it a log scale"
        )
    if not low < high:
        raise UserError(
            f"{where}: input {spec.name!r} needs low < high; it is constant ({values[0]:g}) "
            "unless you give its bounds"
        )
    outside = (values < low) | (values > high)
    if outside.any():
        raise UserError(
            f"{where}:{rows[outside][0]}: {spec.name} is outside its bounds "
            f"[{spec.low}, {spec.high}]"
        )
    return (values - low) / (high - low)


def register_table_pairs(
    name: str,
    data: str | Path,
    task: str,
    objective: str,
    inputs: Mapping[str, Any] | Sequence[str],
    maximize: bool = False,
    summary: str = "",
    citation: str = "",
) -> list[str]:
    """Register the tasks of a table of past evaluations as a pair family.

    Args:
        name: the family's name; pairs are ``name:task=T``.
        data: the CSV or parquet file.
        task: the column naming each row's task.
        objective: the column to minimise (or maximise, see ``maximize``).
        inputs: the input columns in order, as names (bounds from the data) or
            a mapping ``column -> {"low": ..., "high": ..., "log": bool}`` (any
            key may be left out; ``(low, high)`` also works).
        maximize: the objective is to be maximised (accuracy); it is negated.
        summary, citation: shown by ``bo-transfer list pairs`` and reports.

    Returns:
        The canonical pair name of every task, in the file's order of tasks.
        Registering the same table again under the same name returns them
        again; another table under a taken name is an error.
    """
    path = Path(data).expanduser().resolve()
    where = str(path)
    specs = _inputs(inputs, where)
    maximize = _flag(maximize, "maximize", where)
    names = [s.name for s in specs]
    for role, col in (("task", task), ("objective", objective)):
        if col in names:
            raise UserError(f"{where}: the {role} column {col!r} cannot also be an input")
    if task == objective:
        raise UserError(f"{where}: task and objective are the same column {task!r}")
    twice = [n for i, n in enumerate(names) if n in names[:i]]
    if twice:
        raise UserError(f"{where}: input {twice[0]!r} is listed twice")
    try:
        stat = path.stat()
    except OSError:
        raise UserError(f"table file {str(data)!r} not found") from None
    key = (str(path), stat.st_size, stat.st_mtime_ns, task, objective, tuple(specs), maximize)
    if name in _REGISTERED:
        if _REGISTERED[name] != key:
            raise UserError(f"table family {name!r} is already registered for another table")
        return _pair_names(name)
    if not name or set(name) & (_RESERVED | {" "}) or name in FAMILIES:
        raise UserError(f"table family name {name!r} must be new and have none of ',;=: '")
    frame = read_frame(path)
    columns = [task, objective, *(s.name for s in specs)]
    for col in columns:
        if col not in frame.columns:
            near = closest(col, [str(c) for c in frame.columns])
            hint = (
                f"did you mean {near[0]!r}?"
                if near
                else f"columns: {', '.join(map(str, frame.columns))}"
            )
            raise UserError(f"{where}: no column {col!r}; {hint}")
    if frame.empty:
        raise UserError(f"{where}: has a header but no rows")
    rows = np.arange(len(frame)) + 2  # the line number in a CSV with a header
    y = _numbers(frame[objective], rows, where)
    keep = np.isfinite(y)  # failed runs leave no value (or inf, nan): they are dropped
    with np.errstate(over="ignore"):
        span = np.ptp(y[keep]) if keep.any() else 0.0
    if not np.isfinite(span):
        raise UserError(
            f"{where}: {objective} spans [{y[keep].min():g}, {y[keep].max():g}], wider than "
            "a float can hold; rescale it"
        )
    no_task = frame[task].isna().to_numpy() & keep
    if no_task.any():
        raise UserError(f"{where}:{rows[no_task][0]}: no {task} (the task column) on this row")
    X_cols = []
    for s in specs:
        col = _numbers(frame[s.name], rows, where)[keep]
        bad = ~np.isfinite(col)
        if bad.any():
            raise UserError(f"{where}:{rows[keep][bad][0]}: {s.name} is not a finite number")
        X_cols.append(_unit(col, s, rows[keep], where))
    X = np.stack(X_cols, axis=-1)
    y = -y[keep] if maximize else y[keep]
    labels = frame[task][keep].astype(str).str.strip().to_numpy()
    tasks = list(dict.fromkeys(labels))
    for t in tasks:
        if not t or set(t) & _RESERVED:
            raise UserError(f"{where}: task {t!r} must be non-empty and have none of ',;=:'")
        if (labels == t).sum() < 2:
            raise UserError(f"{where}: task {t!r} has fewer than 2 evaluations with a value")
    if len(tasks) < 2:
        raise UserError(f"{where}: needs at least 2 tasks in column {task!r}, found {tasks}")
    digest = _content_hash(path, key[3:])
    tables = {
        t: (torch.from_numpy(X[labels == t]), torch.from_numpy(y[labels == t])) for t in tasks
    }

    def check(params: dict) -> None:
        values = tables[params["task"]][1]
        if values.min() == values.max():
            raise UserError(f"task {params['task']!r}: every value is {float(values[0])}")

    @register_family(
        name,
        params=[
            Param("task", str, tasks[0], choices=tuple(tasks), help="the target task"),
            Param("max_sources", int, 0, low=0, help="keep only the largest k sources (0: all)"),
        ],
        summary=summary
        or f"tasks of {path.name} (tabular): one task as target, the others as sources",
        citation=citation or f"{path.name} (your own past evaluations)",
        examples=(f"{name}:task={tasks[0]}",),
        version="",
        check=check,
        data_hash=lambda params: digest,
    )
    def build(task: str, max_sources: int):
        others = [t for t in tasks if t != task]
        if max_sources:
            # The tasks with the most evaluations tell the most; ties in file order.
            others = sorted(others, key=lambda t: -len(tables[t][1]))[:max_sources]
        target = TabularProblem(*tables[task], f"{name}-{task}")
        return target, [ObservedSource(*tables[t], f"{name}-{t}", subsample=True) for t in others]

    _REGISTERED[name] = key
    return _pair_names(name)


def _numbers(column: pd.Series, rows: np.ndarray, where: str) -> np.ndarray:
    """A column as float64; an empty cell is NaN (a failed evaluation), while a
    cell that is not a number (``0.5%``, ``abc``, ``1,2``) is an error naming
    its line and column: dropping it would silently lose an evaluation."""
    values = pd.to_numeric(column, errors="coerce")
    bad = (values.isna() & column.notna()).to_numpy()
    if bad.any():
        cell = column.to_numpy()[bad][0]
        raise UserError(
            f"{where}:{rows[bad][0]}: {column.name}={cell!r} is not a number "
            "(leave the cell empty for a failed evaluation)"
        )
    return values.to_numpy(dtype=np.float64)


def _content_hash(path: Path, description: tuple) -> str:
    """The first 16 hex digits of SHA-256 over the file's bytes and how it is
    read (task, objective, inputs, maximize): what a run's numbers depend on."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    digest.update(json.dumps(repr(description)).encode())
    return digest.hexdigest()[:16]


def _pair_names(name: str) -> list[str]:
    family = FAMILIES.get(name)
    return [canonical_pair_name(f"{name}:task={t}") for t in family.params[0].choices]


def load_table_description(path: str | Path) -> list[str]:
    """Register the table a TOML description file names (see the module
    docstring); ``data`` is relative to the description's folder. Returns the
    pair names, as :func:`register_table_pairs`."""
    path = Path(path).expanduser()
    try:
        spec = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"table description {str(path)!r} not found") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"cannot read table description {str(path)!r}: {exc}") from None
    for k in spec:
        if k not in DESCRIPTION_KEYS:
            near = closest(k, list(DESCRIPTION_KEYS))
            hint = f"did you mean {near[0]!r}?" if near else f"valid: {', '.join(DESCRIPTION_KEYS)}"
            raise UserError(f"{path}: unknown key {k!r}; {hint}")
    missing = [k for k in ("name", "data", "task", "objective", "inputs") if k not in spec]
    if missing:
        raise UserError(f"{path}: missing {', '.join(repr(k) for k in missing)}")
    return register_table_pairs(
        spec["name"],
        path.parent / spec["data"],
        spec["task"],
        spec["objective"],
        spec["inputs"],
        maximize=spec.get("maximize", False),
        summary=spec.get("summary", ""),
        citation=spec.get("citation", ""),
    )


def declare_tables(paths: Sequence[str | Path]) -> list[str]:
    """Register the tables of these description files in this process and name
    them in ``BO_TRANSFER_TABLES``, so worker processes (which inherit the
    environment) register them too. Returns every pair name."""
    names = [n for p in paths for n in load_table_description(p)]
    listed = [p for p in os.environ.get(TABLES_ENV, "").split(os.pathsep) if p]
    for p in paths:
        resolved = str(Path(p).expanduser().resolve())
        if resolved not in listed:
            listed.append(resolved)
    os.environ[TABLES_ENV] = os.pathsep.join(listed)
    return names


def register_env_tables() -> None:
    """Register the tables whose descriptions ``BO_TRANSFER_TABLES`` lists."""
    for p in filter(None, os.environ.get(TABLES_ENV, "").split(os.pathsep)):
        load_table_description(p)
