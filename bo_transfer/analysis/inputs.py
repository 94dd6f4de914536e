"""Several inputs as one tidy table: your runs beside a published study's.

Each input is a sweep directory or an export file (what
:func:`~bo_transfer.analysis.regret.load_results` reads). Runs of different
inputs pair by (pair, seed) only when their protocol fingerprints agree
(:func:`~bo_transfer.analysis.protocols.check_pairable`). That pairing is
valid because a run's landscape, source data and protocol initial design are
exact functions of pair and seed (DESIGN.md, determinism): a method run today
on another machine starts from exactly what the published baselines started
from. The trajectories after the first proposal agree only in distribution
across machines, so a merged report compares methods; it is not a re-run of
the published one.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bo_transfer import columns as C
from bo_transfer.analysis.protocols import check_pairable
from bo_transfer.analysis.regret import add_regret, load_failed, load_results
from bo_transfer.errors import UserError


def resolve_input(path: str) -> str:
    """What an INPUT (or ``run --like STUDY``) names, as
    :func:`load_results` reads it: a sweep directory (it holds the store),
    else the ``results.parquet`` or ``results.csv`` export a folder holds
    (the committed studies ship only that), else the path itself (an export
    file, or a directory whose missing store the store then reports)."""
    from bo_transfer.sweep.store import STORE_NAME

    folder = Path(path)
    if folder.is_dir() and not (folder / STORE_NAME).exists():
        for name in ("results.parquet", "results.csv"):
            if (folder / name).exists():
                return str(folder / name)
    return path


def _same_input(a: str, b: str) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def keep_labels(labels: dict[str, set[str]], prefer: list[str]) -> dict[str, set[str]]:
    """Which labels to keep from each input: every label, except that a label
    found in several inputs is kept only from the one of them in ``prefer``.

    Args:
        labels: each input's method labels, in input order.
        prefer: inputs whose runs win a shared label (``report --prefer``).

    Raises:
        UserError: a label is in two inputs and ``prefer`` names none or
            several of them; or ``prefer`` names a path that is not an input.
    """
    for p in prefer:
        if not any(_same_input(p, i) for i in labels):
            raise UserError(f"--prefer {p!r} is not one of the inputs: {', '.join(labels)}")
    keep = {i: set(ls) for i, ls in labels.items()}
    for label in sorted(set().union(*labels.values())):
        holders = [i for i, ls in labels.items() if label in ls]
        if len(holders) < 2:
            continue
        chosen = [i for i in holders if any(_same_input(p, i) for p in prefer)]
        if len(chosen) != 1:
            options = " or ".join(f"--prefer {h}" for h in holders)
            raise UserError(
                f"method {label!r} is in {' and '.join(map(repr, holders))}; "
                f"keep one with {options}"
            )
        for i in holders:
            if i != chosen[0]:
                keep[i].discard(label)
    return keep


def load_inputs(inputs: list[str], prefer: list[str] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tidy table and the failed runs of several inputs, as one sweep's.

    One input is read exactly as :func:`load_results` reads it. Several are
    checked (labels, then fingerprints; each refusal one line) and merged;
    regret is then re-measured over the merged runs, from the lower of each
    pair instance's certified optimum and the best value any input's run saw
    there, as within one sweep (:func:`add_regret`): the published runs'
    numbers change only where a new run went below the certified optimum.

    Returns:
        ``(tidy table, failed runs)`` (see :func:`load_failed`).
    """
    if len(inputs) == 1:
        if prefer:
            raise UserError("--prefer chooses between inputs; give more than one INPUT")
        source = resolve_input(inputs[0])
        return load_results(source), load_failed(source)
    sources = {i: resolve_input(i) for i in inputs}
    frames = {i: load_results(s) for i, s in sources.items()}
    failed = {i: load_failed(s) for i, s in sources.items()}
    labels = {i: set(df[C.METHOD]) | set(failed[i][C.METHOD]) for i, df in frames.items()}
    keep = keep_labels(labels, list(prefer))
    frames = {i: df[df[C.METHOD].isin(keep[i])] for i, df in frames.items()}
    check_pairable(list(frames.items()))
    merged = pd.concat(frames.values(), ignore_index=True)
    # Exports written before the certified optimum was kept stay as each measured them.
    if C.CERTIFIED_OPTIMAL_VALUE in merged:
        certified = merged[C.CERTIFIED_OPTIMAL_VALUE].fillna(merged[C.OPTIMAL_VALUE])
        merged[C.OPTIMAL_VALUE] = certified
        merged = add_regret(merged)
    merged = merged.sort_values([C.PAIR, C.METHOD, C.SEED, C.ITERATION], ignore_index=True)
    lost = pd.concat([f[f[C.METHOD].isin(keep[i])] for i, f in failed.items()], ignore_index=True)
    return merged, lost
