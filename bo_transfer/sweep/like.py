"""``run --like STUDY``: a study's protocol, for other methods.

A study's runs, read with their protocol fingerprints, become the sweeps
that run exactly its pairs, seeds, budgets and source settings for the
methods asked for, and nothing else: one new method costs its own runs only,
and each of them pairs with the study's runs of its pair and seed.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from bo_transfer.errors import UserError
from bo_transfer.sweep.spec import Sweep

#: The fingerprint fields a sweep takes over from the study.
SETTINGS = ("budget", "n_init", "n_source", "source_design", "source_noise")


def like_sweeps(
    name: str, protocols: list[dict[str, Any]], methods: list[str], study: str
) -> list[Sweep]:
    """The sweeps that rerun ``protocols``' cells for ``methods``.

    Args:
        name: the sweeps' name (they share it; a sweep per distinct setting).
        protocols: one fingerprint per run of the study (duplicates fine).
        methods: registered method names.
        study: how the study is named in a message.

    Runs are grouped by their settings (:data:`SETTINGS`), then by the seeds
    a pair ran, so that pairs x seeds of each sweep are exactly the study's
    cells, even when not every pair ran every seed.

    Raises:
        UserError: a run's settings are unknown (an export whose run keys
            did not reveal them), or no method was given.
    """
    if not methods:
        raise UserError("--methods: give at least one method name, e.g. --methods cold-gp")
    seeds: dict[tuple, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    for p in protocols:
        unknown = [f for f in SETTINGS if p.get(f) is None]
        if unknown:
            raise UserError(
                f"{study}: the {unknown[0]} of {p['pair']} seed {p['seed']} is unknown (an "
                "export written before protocol fingerprints, whose run keys do not reveal "
                "it); rerun from the study's results.sqlite or its spec instead"
            )
        seeds[tuple(p[f] for f in SETTINGS)][p["pair"]].add(int(p["seed"]))
    sweeps = []
    for setting, by_pair in sorted(seeds.items()):
        groups: dict[tuple[int, ...], list[str]] = defaultdict(list)
        for pair, pair_seeds in sorted(by_pair.items()):
            groups[tuple(sorted(pair_seeds))].append(pair)
        for group_seeds, pairs in sorted(groups.items()):
            fields = dict(zip(SETTINGS, setting))
            sweeps.append(
                Sweep.from_dict(
                    {
                        "name": name,
                        "seeds": list(group_seeds),
                        "pairs": pairs,
                        "methods": list(methods),
                        **fields,
                    }
                )
            )
    return sweeps
