"""A run's protocol fingerprint: what makes two methods' runs of a seed comparable.

Two runs of one pair and seed may be paired (their difference is a method's
effect) when they saw the same landscape, the same source data, the same
protocol initial design, the same budget, and are scored by the same regret.
The fingerprint records exactly that, as named fields plus a short hash of
them, so a refusal to pair can name the first field that differs:

* ``pair``: the canonical pair name (every parameter spelled out);
  ``instance``: the concrete pair it ran (differs for ``instance=seed``);
  ``seed``; ``problems_version`` (:data:`PROBLEMS_VERSION`);
* ``optimal_value`` and ``value_range``: the target instance's certified
  optimum and range (12 significant digits), a check of the landscape itself;
* ``budget``, ``n_init``;
* ``n_source``, ``source_design``, ``source_noise`` and ``source_hash`` (a
  hash of every source's observations, inputs and values, bit for bit);
* ``init_hash``: the protocol's initial design for the seed (the base
  :meth:`~bo_transfer.methods.base.Method.initial_design`, which a method
  may replace by its own: init-transfer's runs still record the protocol's);
* ``data_hash``: a meta-data set's content hash, where the run record has one;
* ``regret``: the regret definition and log floor, added by the analysis
  (:func:`bo_transfer.analysis.regret.REGRET_DEFINITION`): it scores runs,
  it is not part of running them.

A field is None where it is unknown: runs stored, and exports written, before
fingerprints existed get theirs derived from what they recorded
(:func:`derived_protocol`), and some fields cannot be derived.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import torch
from botorch.utils.datasets import SupervisedDataset

#: Bump whenever a change alters a problem's values, a pair's source data or
#: the protocol's initial design for some (pair, seed): runs of two versions
#: no longer pair. Version 1 is what the committed studies ran (their slice
#: test, ``tests/test_study_slice.py``, re-runs them to 1e-9).
PROBLEMS_VERSION = "1"

#: The fields in the order a refusal checks them (the first that differs is named).
FIELDS = (
    "pair",
    "instance",
    "seed",
    "problems_version",
    "optimal_value",
    "value_range",
    "budget",
    "n_init",
    "n_source",
    "source_design",
    "source_noise",
    "source_hash",
    "init_hash",
    "data_hash",
    "regret",
)

#: Fields that, unknown on one side, are skipped rather than refused: each is
#: a function of the others under the determinism contract (DESIGN.md) and a
#: derived fingerprint cannot recompute it without redoing what it checks.
DERIVABLE = ("problems_version", "source_hash", "init_hash", "data_hash")

#: The key under which a run record (``RunResult.metadata``) keeps its fingerprint.
METADATA_KEY = "protocol"


def tensor_hash(tensors: Sequence[torch.Tensor]) -> str:
    """A short hash of the tensors' float64 values, bit for bit, and shapes."""
    digest = hashlib.sha256()
    for t in tensors:
        array = t.detach().to("cpu", torch.float64).contiguous().numpy()
        digest.update(repr(array.shape).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def number(value: float | None) -> str | None:
    """A float as fingerprints hold it: 12 significant digits (None stays None)."""
    return None if value is None or value != value else f"{float(value):.12g}"


def run_protocol(
    spec: Any,
    instance: str,
    optimal_value: float,
    value_range: float,
    sources: Sequence[SupervisedDataset],
    design: torch.Tensor,
    data_hash: str | None = None,
) -> dict[str, Any]:
    """The fingerprint of a run as it starts (without ``regret`` and ``hash``).

    Args:
        spec: the run's :class:`~bo_transfer.sweep.runner.RunSpec`.
        instance: the concrete pair's name.
        optimal_value: the target instance's certified optimum.
        value_range: the target instance's value range.
        sources: the source data the method is given.
        design: the protocol's `n_init x dim` initial design for the seed.
        data_hash: a meta-data set's content hash, if the pair has one.
    """
    return {
        "pair": spec.pair,
        "instance": instance,
        "seed": spec.seed,
        "problems_version": PROBLEMS_VERSION,
        "optimal_value": number(optimal_value),
        "value_range": number(value_range),
        "budget": spec.budget,
        "n_init": spec.n_init,
        "n_source": spec.n_source,
        "source_design": spec.source_design,
        "source_noise": float(spec.source_noise),
        "source_hash": tensor_hash([t for d in sources for t in (d.X, d.Y)]),
        "init_hash": tensor_hash([design]),
        "data_hash": data_hash,
    }


def with_hash(fields: dict[str, Any]) -> dict[str, Any]:
    """``{"hash": <16 hex>, **fields}`` in :data:`FIELDS` order; the hash
    covers every field (an unknown one as null)."""
    ordered = {f: fields.get(f) for f in FIELDS}
    digest = hashlib.sha256(json.dumps(ordered, sort_keys=True).encode()).hexdigest()[:16]
    return {"hash": digest, **ordered}


def first_difference(a: dict[str, Any], b: dict[str, Any]) -> tuple[str, Any, Any] | None:
    """The first field of :data:`FIELDS` in which fingerprints ``a`` and ``b``
    differ, with both values; None when they match.

    The rule for unknown (None) values: a field of :data:`DERIVABLE` unknown
    on either side is skipped (the fields before it already pin it down); any
    other field unknown on one side only is a difference, reported with the
    value "unknown", so an export that cannot show its source size is never
    silently paired with one that can.
    """
    for f in FIELDS:
        va, vb = a.get(f), b.get(f)
        if va == vb:
            continue
        if f in DERIVABLE and (va is None or vb is None):
            continue
        return f, "unknown" if va is None else va, "unknown" if vb is None else vb
    return None


def derived_protocol(
    row: dict[str, Any], design_hash: str | None, source: tuple[int, str, float] | None
) -> dict[str, Any]:
    """The fingerprint of a run recorded without one, from what it recorded.

    Args:
        row: the run's ``pair``, ``pair_instance``, ``seed``, ``budget``,
            ``n_init``, ``certified_optimal_value`` (or ``optimal_value``) and
            ``value_range``.
        design_hash: the hash of the first ``n_init`` points a run of this
            pair and seed with the protocol's initial design evaluated, if
            one did.
        source: ``(n_source, source_design, source_noise)`` where known (a
            stored run spec says; an export's run key verifies them).

    The problems' version and source data hash stay unknown (None): the runs
    predate them, and recomputing them now would only restate today's code.
    """
    optimum = row.get("certified_optimal_value", row.get("optimal_value"))
    n_source, design, noise = source if source is not None else (None, None, None)
    return {
        "pair": row["pair"],
        "instance": row.get("pair_instance") or row["pair"],
        "seed": int(row["seed"]),
        "problems_version": None,
        "optimal_value": number(optimum),
        "value_range": number(row.get("value_range")),
        "budget": int(row["budget"]),
        "n_init": int(row["n_init"]),
        "n_source": None if n_source is None else int(n_source),
        "source_design": design,
        "source_noise": None if noise is None else float(noise),
        "source_hash": None,
        "init_hash": design_hash,
        "data_hash": None,
    }
