"""A disk cache of certified optima, shared by every process of a machine.

Certifying an optimum (dense Sobol search plus local polishing) costs about a
second per GP-sample problem and is repeated by every worker process of every
sweep; the answer depends only on the problem, so it is cached on disk.

Entries are keyed by the problem's cache key (canonical pair name, the
problem's role in the pair, and the family's code version: bumping a family's
``version`` invalidates its entries). Each entry is one small JSON file, written
to a temporary file in the same directory and renamed into place, so several
processes writing the same entry at once never leave a torn file behind.

The directory is ``$BO_TRANSFER_CACHE`` if set, else
``$XDG_CACHE_HOME/bo_transfer`` (``~/.cache/bo_transfer`` by default).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path

#: Bump when the certification procedure itself changes (every entry is stale then).
#: 2: effort scales with the dimension; entries list every tied minimiser.
CERTIFY_VERSION = "2"


def cache_dir() -> Path:
    """Where cached optima live; ``BO_TRANSFER_CACHE`` overrides the default."""
    override = os.environ.get("BO_TRANSFER_CACHE")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bo_transfer"


def _entry_path(key: str) -> Path:
    digest = hashlib.sha256(f"{CERTIFY_VERSION}\x1f{key}".encode()).hexdigest()[:32]
    return cache_dir() / "optima" / f"{digest}.json"


def load_optimum(key: str) -> dict | None:
    """The cached entry for ``key`` (``{"value", "x", "how", "others", "search"}``), or None.

    A missing, unreadable, foreign or malformed entry (a value that is not a
    finite number, a point that is not a list of finite numbers in the unit
    cube, ...) counts as a miss: the cache is an accelerator, never a source of
    truth that could fail a run. Whether the entry fits its problem (its
    dimension, the value at its point) is checked by the problem
    (:attr:`bo_transfer.problems.base.Problem.optimum`).
    """
    try:
        entry = json.loads(_entry_path(key).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != key or not _well_formed(entry):
        return None
    return entry


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_point(p: object) -> bool:
    return isinstance(p, list) and bool(p) and all(_is_number(v) and 0 <= v <= 1 for v in p)


def _well_formed(entry: dict) -> bool:
    others, search = entry.get("others", []), entry.get("search", [])
    return (
        _is_number(entry.get("value"))
        and _is_point(entry.get("x"))
        and isinstance(entry.get("how"), str)
        and isinstance(others, list)
        and all(_is_point(p) and len(p) == len(entry["x"]) for p in others)
        and isinstance(search, list)
        and all(isinstance(n, int) and not isinstance(n, bool) for n in search)
    )


def store_optimum(
    key: str,
    value: float,
    x: tuple[float, ...],
    how: str,
    others: tuple[tuple[float, ...], ...] = (),
    search: tuple[int, ...] = (),
) -> None:
    """Write an entry atomically; a read-only or full disk is silently skipped.
    ``others`` are further minimisers tied with ``x``; ``search`` the size of
    the certifying search."""
    path = _entry_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as fh:
                entry = {"key": key, "value": value, "x": list(x), "how": how}
                entry.update(others=[list(p) for p in others], search=list(search))
                json.dump(entry, fh)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        return
