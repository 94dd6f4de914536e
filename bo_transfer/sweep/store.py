"""The results store: one SQLite file per sweep directory, one transaction per run.

The driver is the only writer. During a sweep it writes through a write-ahead
log; when the sweep ends or is interrupted the log is folded into the file and
the store leaves WAL mode, so at rest it is one self-contained file.
``report`` and ``export`` open the store read-only, so a folder they cannot
write (an archive, a colleague's results) reads as well as one they can. A
file that is not an intact store (empty, truncated, overwritten) is refused
with one line, never treated as new.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import json
import math
import os
import platform
import secrets
import sqlite3
import statistics
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from bo_transfer.errors import UserError
from bo_transfer.sweep.outcome import DONE
from bo_transfer.sweep.runner import RunResult, RunSpec

STORE_NAME = "results.sqlite"
SCHEMA_VERSION = 1
#: The generation of run keys the store's runs carry (see ResultStore._migrate_keys).
RUN_KEYS = "2"
#: Keys an older release stored in a spec that say how it ran, not what.
_EXECUTION_KEYS = ("batch_seeds", "device")

#: The first 16 bytes of every SQLite database file.
SQLITE_MAGIC = b"SQLite format 3\x00"

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
    with ExitStack() as stack:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            handle = stack.enter_context(open(directory / ".lock", "w"))
        except OSError as exc:
            raise UserError(f"cannot write to {str(directory)!r}: {_reason(exc)}") from None
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


def _reason(exc: BaseException) -> str:
    """An OS or SQLite error as a few words (``strerror`` and the file name)."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc)


def _is_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or the database's size limit) is full."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return "disk is full" in str(exc)  # SQLITE_FULL: "database or disk is full"


class StoreWriteError(UserError):
    """A result could not be written (full disk, read-only file system): what
    was stored before stays, and the same command resumes the sweep."""


def check_store_file(path: Path) -> None:
    """Refuse, with one line, a file that cannot be an intact results store:
    empty, not an SQLite database, or shorter than its header says (a copy cut
    short). The size is only checked when no write-ahead log holds newer pages."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            header = handle.read(100)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {_reason(exc)}") from None
    if size == 0:
        raise UserError(
            f"{path} is empty (0 bytes), not a results store; move it away to start a new sweep"
        )
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        raise UserError(f"{path} is not a bo_transfer results store (not an SQLite database)")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    # The header's page count is valid only when it was written with the change
    # counter it carries (SQLite file format, section 1.3.7).
    valid = header[24:28] == header[92:96]
    wal = path.with_name(path.name + "-wal")
    pending = wal.exists() and wal.stat().st_size > 0
    if valid and not pending and size < pages * page_size:
        raise UserError(
            f"{path} is truncated ({size:,} of {pages * page_size:,} bytes); "
            "restore it from a complete copy"
        )


def _create_store(path: Path) -> None:
    """A new, empty store at ``path``, written under a temporary name and renamed
    into place, so a store file always holds the schema (an empty file at
    ``path`` never means "new")."""
    # Created by SQLite (not mkstemp), so the file gets the usual permissions.
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.new")
    try:
        conn = sqlite3.connect(tmp)
        try:
            with conn:
                conn.executescript(_SCHEMA)
                conn.execute(
                    "INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                )
                conn.execute("INSERT INTO meta VALUES ('run_keys', ?)", (RUN_KEYS,))
        finally:
            conn.close()
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """A connection that never writes, even to the write-ahead log's index: in
    a folder it cannot write, the file is opened as immutable (its log must
    then be empty, which every sweep's end and interruption ensure)."""
    uri = path.resolve().as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True)
    try:
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        return conn
    except sqlite3.OperationalError:
        conn.close()
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise UserError(
            f"{path.parent} is read-only and {wal.name} holds results not yet in "
            f"{path.name} (the sweep was killed); copy the folder somewhere writable "
            "and read it there"
        )
    return sqlite3.connect(f"{uri}?immutable=1", uri=True)


class ResultStore:
    """``DIR/results.sqlite``. Only the sweep driver writes (``create=True``);
    otherwise the store is opened read-only and must exist."""

    def __init__(self, directory: str | Path, create: bool = False) -> None:
        self.directory = Path(directory)
        self.path = self.directory / STORE_NAME
        self.writable = create
        if create and not self.path.exists():
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                _create_store(self.path)
            except (OSError, sqlite3.Error) as exc:
                raise StoreWriteError(f"cannot create {self.path}: {_reason(exc)}") from None
        if not self.path.exists():
            raise UserError(f"no results in {str(self.directory)!r}: {STORE_NAME} not found")
        check_store_file(self.path)
        try:
            self.conn = sqlite3.connect(self.path) if create else _connect_readonly(self.path)
        except sqlite3.Error as exc:
            raise UserError(f"cannot open {self.path}: {exc}") from None
        try:
            with self.reading():
                self._check_schema()
            if create:  # before foreign keys are enforced: a key moves in two tables
                self._migrate_keys()
            with self.reading():
                self.conn.execute("PRAGMA foreign_keys=ON")
            if create:  # readers never wait for the writer, nor it for them
                with self._writing():
                    self.conn.execute("PRAGMA journal_mode=WAL")
        except BaseException:
            self.conn.close()
            raise

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Turn SQLite's complaint about a damaged file (a corrupt page, a
        missing table, as pandas passes it on) into one line."""
        try:
            yield
        except (sqlite3.DatabaseError, pd.errors.DatabaseError) as exc:
            # pandas' error quotes the whole query; SQLite's own says what is wrong.
            reason = str(exc.__cause__ or exc).splitlines()[0]
            raise UserError(
                f"{self.path} is damaged ({reason}); restore it from a copy or rerun into a "
                "new --out"
            ) from None

    def _check_schema(self) -> None:
        """Refuse, before writing anything, a store this version cannot read."""
        has_meta = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        if not has_meta:
            raise UserError(f"{self.path} is not a bo_transfer results store")
        raw = self.get_meta("schema_version") or "0"
        try:
            found = int(raw)
        except ValueError:
            raise UserError(
                f"{self.path} is damaged (schema version {raw!r} is not a number); "
                "restore it from a copy or rerun into a new --out"
            ) from None
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

    def _migrate_keys(self) -> None:
        """Give every run the key today's :class:`RunSpec` computes from its
        stored spec, once per store (meta ``run_keys``).

        An older release (ee3e307) keyed a run of a seed block with its block
        size (``seed_batch``) and stored how it was executed in the spec;
        keys are now what a run computes only (a block computes each run's own
        numbers). Without this, a rerun of the same spec would redo those runs
        as duplicates next to the old ones. A run whose new key another run
        already holds keeps its old key.
        """
        if self.get_meta("run_keys") == RUN_KEYS:
            return
        with self.reading():
            rows = self.conn.execute("SELECT key, spec_entry FROM runs").fetchall()
        taken = {key for key, _ in rows}
        with self._writing(), self.conn:
            for key, entry in rows:
                try:
                    spec = RunSpec.from_stored(entry)
                except (ValueError, TypeError) as exc:
                    raise UserError(
                        f"{self.path} is damaged (a run's spec is unreadable: {exc}); "
                        "restore it from a copy or rerun into a new --out"
                    ) from None
                if spec.key == key or spec.key in taken:
                    continue
                taken.add(spec.key)
                new_entry = json.dumps(asdict(spec), sort_keys=True)
                self.conn.execute(
                    "UPDATE runs SET key = ?, spec_entry = ? WHERE key = ?",
                    (spec.key, new_entry, key),
                )
                self.conn.execute("UPDATE evals SET run_key = ? WHERE run_key = ?", (spec.key, key))
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('run_keys', ?)", (RUN_KEYS,))

    def close(self) -> None:
        """Close; a writer first moves the write-ahead log into the file and
        leaves WAL mode, so that at rest ``results.sqlite`` alone holds every
        stored run (a copy of it is whole) and a reader creates no ``-wal`` or
        ``-shm`` files next to it (it reads a folder it cannot write)."""
        if self.writable:
            # On a full disk, or with a reader attached, the log keeps the
            # runs (SQLite replays it on the next open) and the mode stays.
            with suppress(sqlite3.Error):
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self.conn.execute("PRAGMA journal_mode=DELETE")
        self.conn.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_meta(self, key: str) -> str | None:
        with self.reading():
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._writing(), self.conn:
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def specs(self) -> list[str]:
        """Every spec (:meth:`~bo_transfer.sweep.spec.Sweep.to_json`) run into
        this store, oldest first. Stores written before more than one was
        remembered hold the last one under ``spec``; specs an older release
        stored with how they were executed (``batch_seeds``, ``device``) are
        read without it, as :meth:`~bo_transfer.sweep.spec.Sweep.to_json`
        writes them now."""
        stored = self.get_meta("specs")
        if stored is None:
            last = self.get_meta("spec")
            stored = "[]" if last is None else json.dumps([last])
        try:
            return [_identity(spec) for spec in json.loads(stored)]
        except (ValueError, TypeError, AttributeError) as exc:
            raise UserError(
                f"{self.path} is damaged (its spec record is not JSON: {exc}); "
                "restore it from a copy or rerun into a new --out"
            ) from None

    def add_spec(self, spec: str) -> None:
        known = self.specs()
        if spec not in known:
            self.set_meta("specs", json.dumps([*known, spec]))

    @contextmanager
    def _writing(self) -> Iterator[None]:
        try:
            yield
        except (OSError, sqlite3.OperationalError) as exc:
            what = "the disk is full" if _is_full(exc) else _reason(exc)
            raise StoreWriteError(f"cannot write {self.path}: {what}") from None

    def statuses(self) -> dict[str, str]:
        with self.reading():
            return dict(self.conn.execute("SELECT key, status FROM runs"))

    def put(self, result: RunResult, family: str) -> None:
        """Store one run, with all its evaluations, atomically (replacing a failed try)."""
        s = result.spec
        meta = dict(result.metadata, provenance=provenance())
        with self._writing(), self.conn:
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

    def pair_data(self) -> dict[str, set[str]]:
        """Per stored pair, the data hashes (``RunSpec.data``) its runs were
        computed on ("" for runs stored before data was recorded)."""
        query = "SELECT DISTINCT pair, COALESCE(json_extract(spec_entry, '$.data'), '') FROM runs"
        out: dict[str, set[str]] = {}
        with self.reading():
            for pair, data in self.conn.execute(query):
                out.setdefault(pair, set()).add(data)
        return out

    def seconds_per_evaluation(self) -> dict[str, float]:
        """Per registered method, the median over its finished runs of their
        seconds per evaluation (``total_s / budget``): what a run of it has
        taken on the machines that ran this sweep."""
        query = "SELECT method_name, total_s, budget FROM runs WHERE status = 'done'"
        rates: dict[str, list[float]] = {}
        with self.reading():
            for method, total_s, budget in self.conn.execute(query):
                if total_s is not None and budget:
                    rates.setdefault(method, []).append(total_s / budget)
        return {method: statistics.median(values) for method, values in rates.items()}

    def runs_frame(self) -> pd.DataFrame:
        with self.reading():
            return pd.read_sql_query("SELECT * FROM runs ORDER BY pair, method, seed", self.conn)

    def run_cells(self) -> pd.DataFrame:
        """One row per stored run (any status): ``run_key``, ``pair``,
        ``method`` (its label) and ``spec_entry`` (the run spec as JSON): what
        tells apart the runs that share a label (see
        :func:`bo_transfer.analysis.regret.cell_labels`)."""
        query = "SELECT key AS run_key, pair, method, spec_entry FROM runs"
        with self.reading():
            return pd.read_sql_query(query, self.conn)

    def run_keys(self, status: Iterable[str] = (DONE,)) -> list[str]:
        """Keys of the runs with the given statuses, in pair, method, seed order."""
        status = tuple(status)
        marks = ",".join("?" * len(status))
        query = f"SELECT key FROM runs WHERE status IN ({marks}) ORDER BY pair, method, seed"
        with self.reading():
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
        with self.reading():
            return pd.read_sql_query(query, self.conn, params=status + tuple(keys or ()))

    def run_details(self) -> pd.DataFrame:
        """One row per finished run: ``run_key``, ``pair``, ``pair_instance``
        (the concrete pair it ran: ``pair`` itself unless the name has
        ``instance=seed``), ``optimal_value`` (certified) and ``value_range``
        of that instance, ``min_y`` (the run's lowest finite value) and
        ``source_diagnostics`` (every source's diagnostics, a list of dicts),
        ``protocol`` (the run's fingerprint fields, :mod:`~bo_transfer.sweep.protocol`),
        ``spec_entry`` (the run spec as JSON) and ``alignment`` (the run's
        alignment trace, ``metadata["alignment"]``; None for a run stored
        without one). Runs stored before these were recorded give ``pair``, the
        first source's columns as the list when they had one source (None
        otherwise), and no fingerprint (None).

        The metadata is parsed here, not with SQLite's JSON functions: it may
        hold NaN (a method's trace), which they reject.
        """
        query = """
            SELECT r.key, r.pair, r.optimal_value, r.value_range, r.metadata, r.spec_entry,
                   r.n_sources,
                   r.pearson, r.spearman, r.optimum_distance,
                   (SELECT MIN(e.y) FROM evals e WHERE e.run_key = r.key)
            FROM runs r WHERE r.status = 'done'
        """
        rows = []
        with self.reading():
            found = self.conn.execute(query).fetchall()
        for key, pair, opt, value_range, metadata, spec_entry, n_sources, *first, min_y in found:
            try:
                meta = json.loads(metadata)
            except (TypeError, ValueError):
                raise UserError(
                    f"{self.path} is damaged (run {key}'s metadata is not JSON); "
                    "restore it from a copy or rerun into a new --out"
                ) from None
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
                    "protocol": meta.get("protocol"),
                    "spec_entry": spec_entry,
                    "alignment": meta.get("alignment"),
                }
            )
        columns = ["run_key", "pair", "pair_instance", "optimal_value", "value_range", "min_y"]
        return pd.DataFrame(
            rows,
            columns=[*columns, "source_diagnostics", "protocol", "spec_entry", "alignment"],
        )


def _identity(spec: str) -> str:
    """A stored spec's JSON without the keys that say how it was executed."""
    data = json.loads(spec)
    if not any(k in data for k in _EXECUTION_KEYS):
        return spec
    return json.dumps({k: v for k, v in data.items() if k not in _EXECUTION_KEYS}, sort_keys=True)


def _finite_or_none(v: Any) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None
