"""The results store: one SQLite file per sweep directory, one transaction per run."""

from __future__ import annotations

import fcntl
import functools
import json
import math
import platform
import sqlite3
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from bo_transfer.errors import UserError
from bo_transfer.sweep.outcome import DONE
from bo_transfer.sweep.runner import RunResult

STORE_NAME = "results.sqlite"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY,
    pair TEXT NOT NULL,
    family TEXT NOT NULL,
    method TEXT NOT NULL,          -- display label
    method_name TEXT NOT NULL,     -- registered name
    options TEXT NOT NULL,         -- JSON
    spec_entry TEXT NOT NULL,      -- JSON: the full run spec
    seed INTEGER NOT NULL,
    budget INTEGER NOT NULL,
    n_init INTEGER NOT NULL,
    n_source INTEGER NOT NULL,
    status TEXT NOT NULL,          -- done | failed
    error TEXT NOT NULL,
    traceback TEXT NOT NULL,
    optimal_value REAL,
    value_range REAL,
    n_sources INTEGER,             -- alignment diagnostics of the pair (first source;
                                   -- every source's: metadata.source_diagnostics)
    pearson REAL,
    spearman REAL,
    optimum_distance REAL,
    total_s REAL,
    fit_s REAL,
    acq_s REAL,
    metadata TEXT NOT NULL,        -- JSON: method config, warnings, provenance
    finished_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS evals (
    run_key TEXT NOT NULL REFERENCES runs(key) ON DELETE CASCADE,
    iteration INTEGER NOT NULL,    -- 1-based: evaluation number
    x TEXT NOT NULL,               -- JSON list
    y REAL,                        -- NULL where the objective was not finite
    elapsed_s REAL NOT NULL,
    PRIMARY KEY (run_key, iteration)
);
"""


@functools.cache
def provenance() -> dict[str, str]:
    """Versions, host and (when the package runs from a git checkout) its commit."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "host": platform.node()}
    for pkg in ("bo_transfer", "botorch", "gpytorch", "torch"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "unknown"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
        if commit.returncode == 0:
            out["git_commit"] = commit.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return out


@contextmanager
def sweep_lock(directory: str | Path) -> Iterator[None]:
    """Exclusive lock on a sweep directory: a second ``run`` into it is refused
    with a clear message instead of racing the first."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(
                f"another bo-transfer run is writing to {str(directory)!r}; "
                "wait for it to finish or use another --out"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class ResultStore:
    """``DIR/results.sqlite``. Only the sweep driver writes; workers return results."""

    def __init__(self, directory: str | Path, create: bool = False) -> None:
        self.directory = Path(directory)
        self.path = self.directory / STORE_NAME
        if not self.path.exists():
            if not create:
                raise UserError(f"no results in {str(self.directory)!r}: {STORE_NAME} not found")
            self.directory.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path)
        try:
            self._check_schema(create)
        except BaseException:
            self.conn.close()
            raise
        self.conn.execute("PRAGMA foreign_keys=ON")
        if create:
            self.conn.execute("PRAGMA journal_mode=WAL")
            with self.conn:
                self.conn.executescript(_SCHEMA)
                self.conn.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )

    def _check_schema(self, create: bool) -> None:
        """Refuse, before writing anything, a store this version cannot read."""
        has_meta = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        if not has_meta:
            if create and not self.conn.execute("SELECT 1 FROM sqlite_master").fetchone():
                return  # a new, empty file
            raise UserError(f"{self.path} is not a bo_transfer results store")
        found = int(self.get_meta("schema_version") or 0)
        if found > SCHEMA_VERSION:
            raise UserError(
                f"{self.path} has schema version {found}, newer than this bo_transfer "
                f"({SCHEMA_VERSION}); upgrade bo_transfer to read it"
            )
        if found < SCHEMA_VERSION:
            raise UserError(
                f"{self.path} has schema version {found}, older than this bo_transfer "
                f"({SCHEMA_VERSION}) and no migration exists; rerun the sweep into a new --out"
            )

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def statuses(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT key, status FROM runs"))

    def put(self, result: RunResult, family: str) -> None:
        """Store one run, with all its evaluations, atomically (replacing a failed try)."""
        s = result.spec
        meta = dict(result.metadata, provenance=provenance())
        with self.conn:
            self.conn.execute("DELETE FROM runs WHERE key = ?", (s.key,))
            self.conn.execute(
                "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    s.key,
                    s.pair,
                    family,
                    s.method_label,
                    s.method,
                    json.dumps(s.options, sort_keys=True),
                    json.dumps(asdict(s), sort_keys=True),
                    s.seed,
                    s.budget,
                    s.n_init,
                    s.n_source,
                    result.status,
                    result.error,
                    result.traceback,
                    _finite_or_none(result.optimal_value),
                    _finite_or_none(result.value_range),
                    result.diagnostics.get("n_sources"),
                    _finite_or_none(result.diagnostics.get("pearson")),
                    _finite_or_none(result.diagnostics.get("spearman")),
                    _finite_or_none(result.diagnostics.get("optimum_distance")),
                    result.timings.get("total_s"),
                    result.timings.get("fit_s"),
                    result.timings.get("acq_s"),
                    json.dumps(meta, sort_keys=True),
                    datetime.now(timezone.utc).isoformat(timespec="seconds"),
                ),
            )
            self.conn.executemany(
                "INSERT INTO evals VALUES (?,?,?,?,?)",
                [
                    (s.key, i + 1, json.dumps(x), _finite_or_none(v), t)
                    for i, (x, v, t) in enumerate(zip(result.X, result.y, result.elapsed_s))
                ],
            )

    def runs_frame(self) -> pd.DataFrame:
        return pd.read_sql_query("SELECT * FROM runs ORDER BY pair, method, seed", self.conn)

    def run_keys(self, status: Iterable[str] = (DONE,)) -> list[str]:
        """Keys of the runs with the given statuses, in pair, method, seed order."""
        status = tuple(status)
        marks = ",".join("?" * len(status))
        query = f"SELECT key FROM runs WHERE status IN ({marks}) ORDER BY pair, method, seed"
        return [k for (k,) in self.conn.execute(query, status)]

    def evals_frame(
        self, status: Iterable[str] = (DONE,), keys: list[str] | None = None
    ) -> pd.DataFrame:
        """One row per evaluation of the runs with the given statuses (and, if
        given, keys), joined with the run-level columns analysis needs."""
        status = tuple(status)
        marks = ",".join("?" * len(status))
        only = f"AND r.key IN ({','.join('?' * len(keys))})" if keys is not None else ""
        query = f"""
            SELECT r.pair, r.family, r.method, r.seed, e.iteration, e.y, e.x, e.elapsed_s,
                   r.key AS run_key, r.method_name, r.budget, r.n_init,
                   r.optimal_value, r.value_range, r.n_sources, r.pearson, r.spearman,
                   r.optimum_distance
            FROM evals e JOIN runs r ON r.key = e.run_key
            WHERE r.status IN ({marks}) {only}
            ORDER BY r.pair, r.method, r.seed, e.iteration
        """
        return pd.read_sql_query(query, self.conn, params=status + tuple(keys or ()))

    def run_details(self) -> pd.DataFrame:
        """One row per finished run: ``run_key``, ``pair``, ``pair_instance``
        (the concrete pair it ran: ``pair`` itself unless the name has
        ``instance=seed``), ``optimal_value`` (certified) and ``value_range``
        of that instance, ``min_y`` (the run's lowest finite value) and
        ``source_diagnostics`` (every source's diagnostics, a list of dicts).
        Runs stored before these were recorded give ``pair``, and the first
        source's columns as the list when they had one source (None otherwise).

        The metadata is parsed here, not with SQLite's JSON functions: it may
        hold NaN (a method's trace), which they reject.
        """
        query = """
            SELECT r.key, r.pair, r.optimal_value, r.value_range, r.metadata, r.n_sources,
                   r.pearson, r.spearman, r.optimum_distance,
                   (SELECT MIN(e.y) FROM evals e WHERE e.run_key = r.key)
            FROM runs r WHERE r.status = 'done'
        """
        rows = []
        for key, pair, opt, value_range, metadata, n_sources, *first, min_y in self.conn.execute(
            query
        ):
            meta = json.loads(metadata)
            sources = meta.get("source_diagnostics")
            if sources is None and n_sources == 1:
                sources = [dict(zip(("pearson", "spearman", "optimum_distance"), first))]
            rows.append(
                {
                    "run_key": key,
                    "pair": pair,
                    "pair_instance": meta.get("pair_instance", pair),
                    "optimal_value": opt,
                    "value_range": value_range,
                    "min_y": min_y,
                    "source_diagnostics": sources,
                }
            )
        columns = ["run_key", "pair", "pair_instance", "optimal_value", "value_range", "min_y"]
        return pd.DataFrame(rows, columns=[*columns, "source_diagnostics"])


def _finite_or_none(v: Any) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None
