"""Protocol fingerprints in the tidy table: the ``protocol`` column, derived
where a run recorded none, and the check that runs from several inputs pair.

The fingerprint's fields are :mod:`bo_transfer.sweep.protocol`'s; the column
holds each run's fingerprint as JSON text (``{"hash": ..., "pair": ...}``),
the same on every row of the run.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from bo_transfer import columns as C
from bo_transfer.problems.pair import DEFAULT_N_SOURCE
from bo_transfer.sweep.protocol import (
    derived_protocol,
    first_difference,
    tensor_hash,
    with_hash,
)
from bo_transfer.sweep.runner import RunSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: Column of the tidy table and the export: each run's fingerprint as JSON text.
PROTOCOL = "protocol"

#: Source sizes tried when an export's run key is checked against the default
#: source design (Sobol, no noise) and no spec names its settings: each try is
#: one hash, so the whole range costs milliseconds per distinct setting.
N_SOURCE_RANGE = range(1, 4097)


def regret_definition() -> str:
    """The regret definition and log floor a report scores runs by (the
    fingerprint's ``regret`` field)."""
    from bo_transfer.analysis.regret import REGRET_FLOOR

    return f"best_y - optimal_value, over value_range; log10 floored at {REGRET_FLOOR:g}"


def protocol_text(fields: dict[str, Any]) -> str:
    """The column's JSON text for a run's fields (``regret`` added, hash first)."""
    return json.dumps(with_hash({**fields, "regret": regret_definition()}))


def parse(text: str | None) -> dict[str, Any] | None:
    """A column value back as a dict (None for a missing one)."""
    return json.loads(text) if isinstance(text, str) and text else None


def uses_protocol_design(method_name: str) -> bool:
    """Whether the registered method keeps the protocol's initial design (its
    class does not override :meth:`~bo_transfer.methods.base.Method.initial_design`);
    False for a name not registered here."""
    from bo_transfer.methods.base import METHODS, Method

    if method_name not in METHODS:
        return False
    return METHODS.get(method_name).initial_design is Method.initial_design


def design_hash(x_texts: Iterable[str]) -> str:
    """The hash of an initial design stored as JSON lists (the ``x`` column):
    a float's JSON text reads back to the same bits, so it equals the hash the
    run computed from its tensor."""
    return tensor_hash([torch.tensor([json.loads(x) for x in x_texts], dtype=torch.float64)])


def derived(first_rows: pd.DataFrame, source: tuple[int, str, float] | None) -> str:
    """The column value of a run recorded without a fingerprint.

    Args:
        first_rows: the run's rows of its first ``n_init`` evaluations, with
            the run-level columns.
        source: its source settings where known.
    """
    row = first_rows.iloc[0].to_dict()
    design = None
    if uses_protocol_design(str(row.get("method_name", ""))) and "x" in first_rows:
        design = design_hash(first_rows["x"])
    return protocol_text(derived_protocol(row, design, source))


def source_settings(spec_entry: str) -> tuple[int, str, float]:
    """A stored run spec's source settings (fields of an older release's
    specs that ``RunSpec`` no longer has, such as ``seed_batch``, ignored)."""
    spec = RunSpec.from_stored(spec_entry)
    return spec.n_source, spec.source_design, float(spec.source_noise)


def _spec_candidates(path: Path) -> tuple[list[tuple[int, str, float]], dict[str, dict]]:
    """Source settings and options per label that the study next to the export
    ``path`` says it ran: ``run.json``'s spec (a path from the directory the
    study was run in, so tried from here and from the folders above the
    export). Empty where none is found."""
    try:
        spec_name = json.loads((path.parent / "run.json").read_text())["spec"]
    except (OSError, ValueError, KeyError, TypeError):
        return [], {}
    for base in [Path.cwd(), *path.resolve().parents]:
        try:
            data = tomllib.loads((base / spec_name).read_text())
        except (OSError, ValueError):
            continue
        setting = (
            int(data.get("n_source", DEFAULT_N_SOURCE)),
            str(data.get("source_design", "sobol")),
            float(data.get("source_noise", 0.0)),
        )
        options = {
            m.get("label", m.get("name")): {
                k: v for k, v in m.items() if k not in ("name", "label")
            }
            for m in data.get("methods", [])
            if isinstance(m, dict)
        }
        return [setting], options
    return [], {}


def export_protocols(df: pd.DataFrame, path: Path) -> pd.Series:
    """The ``protocol`` column for an export file's rows (``df`` read from
    ``path``): kept where the export has it, derived per run where not.

    A derived run's source settings are the ones under which its run key
    (a hash of pair, method, options, seed, budget, n_init and the source
    settings) recomputes: first those of the spec ``run.json`` names, then
    the default design with each source size of :data:`N_SOURCE_RANGE`. A run
    whose key none reproduces (options the export does not show, noise not in
    a spec) gets unknown source settings, and a merge refuses to pair it.
    """
    have = df[PROTOCOL] if PROTOCOL in df else pd.Series(None, index=df.index, dtype=object)
    missing = have.isna()
    if not missing.any():
        return have
    candidates, options = _spec_candidates(path)
    candidates += [(n, "sobol", 0.0) for n in N_SOURCE_RANGE]
    values: dict[str, str] = {}
    rows = df[missing]
    rows = rows[rows[C.ITERATION] <= rows["n_init"]]
    last_hit: tuple[int, str, float] | None = None
    for key, first in rows.groupby(C.RUN_KEY, sort=False):
        r = first.iloc[0]

        def key_of(setting: tuple[int, str, float], r: Any = r) -> str:
            return RunSpec(
                r[C.PAIR],
                r["method_name"],
                int(r[C.SEED]),
                int(r["budget"]),
                int(r["n_init"]),
                setting[0],
                options.get(r[C.METHOD], {}),
                r[C.METHOD],
                setting[1],
                setting[2],
            ).key

        tries = [last_hit] if last_hit is not None else []
        hit = next((s for s in [*tries, *candidates] if key_of(s) == key), None)
        last_hit = hit or last_hit
        values[key] = derived(first, hit)
    out = have.copy()
    out[missing] = df.loc[missing, C.RUN_KEY].map(values)
    return out


def store_protocols(df: pd.DataFrame, details: pd.DataFrame) -> pd.Series:
    """The ``protocol`` column for a store's tidy rows ``df``: each run's
    stored fingerprint, or one derived from its stored spec and first points.

    Args:
        df: tidy rows of whole runs (``x``, run-level columns included).
        details: :meth:`~bo_transfer.sweep.store.ResultStore.run_details`.
    """
    by_key = details.set_index(C.RUN_KEY)
    values: dict[str, str] = {}
    for key in df[C.RUN_KEY].unique():
        stored = by_key.at[key, PROTOCOL]
        if isinstance(stored, dict):
            values[key] = protocol_text(stored)
    todo = df[~df[C.RUN_KEY].isin(values) & (df[C.ITERATION] <= df["n_init"])]
    for key, first in todo.groupby(C.RUN_KEY, sort=False):
        values[key] = derived(first, source_settings(by_key.at[key, "spec_entry"]))
    return df[C.RUN_KEY].map(values)


def check_pairable(frames: list[tuple[str, pd.DataFrame]]) -> None:
    """Refuse, in one line naming the first differing field, inputs whose runs
    of a shared (pair, seed) have different fingerprints.

    The first input holding a (pair, seed) sets its reference (the
    fingerprint of its first run there); every run of a later input on that
    pair and seed must match it (:func:`~bo_transfer.sweep.protocol.first_difference`).
    Within one input nothing is compared: a single input reports as before.
    """
    from bo_transfer.errors import UserError

    reference: dict[tuple[str, int], tuple[str, dict]] = {}
    for name, df in frames:
        runs = df.drop_duplicates(C.RUN_KEY)[[C.PAIR, C.SEED, C.METHOD, PROTOCOL]]
        for pair, seed, method, text in runs.itertuples(index=False):
            mine = parse(text) or {}
            cell = (pair, int(seed))
            if cell not in reference:
                reference[cell] = (name, mine)
                continue
            other, theirs = reference[cell]
            if other == name:
                continue
            diff = first_difference(theirs, mine)
            if diff is not None:
                field, a, b = diff
                raise UserError(
                    f"cannot pair {name!r} with {other!r}: {field} differs "
                    f"({b!r} vs {a!r}) on {pair} seed {seed} ({method}); "
                    "runs pair only under the same protocol"
                )
