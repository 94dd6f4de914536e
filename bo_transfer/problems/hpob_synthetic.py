"""Synthetic meta-data sets in HPO-B's exact file layout, made by us.

HPO-B's own files are the user's to download (and not ours to ship); the tests,
the load benchmark (``benchmarks/perf/hpob_load.py``) and anyone who wants to
try the ``hpob`` family before downloading use these instead: the same four
files (``meta-{train,validation,test}-dataset.json``,
``bo-initializations.json``) with made-up values.

Landscapes: in search space ``s`` every data set's "accuracy" is a smooth bump
``top - width * ||x - c||^2`` plus a ripple, where ``c`` is the space's centre
plus a small per-data-set offset: data sets of one space agree on where the good
configurations are, roughly (what makes transfer worth trying). With ``dim >=
3`` the last input is binary, like one of HPO-B's one-hot columns.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bo_transfer.problems.hpob import INIT_FILE, SEEDS, SPLIT_FILES


@dataclass(frozen=True)
class SyntheticSpace:
    """One search space: its id, input dimension and data set ids per split."""

    space: str
    dim: int
    train: tuple[str, ...]
    validation: tuple[str, ...] = ()
    test: tuple[str, ...] = ()


#: A small meta-data set for tests: two spaces (ids of real HPO-B-v3 search
#: spaces and meta-test tasks, so the ``hpob`` family's example names resolve).
SMALL = (
    SyntheticSpace("5971", 3, ("9970", "6566", "34536", "3954"), ("43",), ("10093", "146064")),
    SyntheticSpace("4796", 2, ("3549", "3918", "9903"), ("23",), ("125923",)),
)


def _values(rng: np.random.Generator, X: np.ndarray, centre: np.ndarray) -> np.ndarray:
    dim = X.shape[1]
    c = np.clip(centre + rng.normal(0.0, 0.08, dim), 0.05, 0.95)
    top, width = rng.uniform(0.8, 0.98), rng.uniform(0.4, 0.9)
    freq, phase = rng.uniform(3.0, 6.0), rng.uniform(0.0, 2 * np.pi)
    y = top - width * ((X - c) ** 2).sum(-1) + 0.03 * np.sin(freq * X.sum(-1) + phase)
    if dim >= 3:
        y = y - rng.uniform(0.0, 0.1) * (X[:, -1] != round(c[-1]))
    return y


def _configurations(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    X = rng.random((n, dim))
    if dim >= 3:
        X[:, -1] = np.round(X[:, -1])
    # Unique rows, as in HPO-B (its authors dropped duplicated configurations).
    X = np.unique(X, axis=0)
    return X[rng.permutation(len(X))]


def write_synthetic_hpob(
    root: str | Path,
    spaces: Sequence[SyntheticSpace] = SMALL,
    points: tuple[int, int] = (120, 300),
    n_init: int = 5,
    seed: int = 0,
) -> Path:
    """Write a synthetic meta-data set in HPO-B's layout into ``root``.

    Args:
        root: the folder (created if needed); point ``BO_TRANSFER_HPOB_DIR`` at it.
        spaces: the search spaces and their data sets per split.
        points: each data set has a number of configurations drawn uniformly
            from this closed range.
        n_init: configurations per fixed initial design (five designs,
            ``test0`` .. ``test4``, per meta-test data set).
        seed: everything is drawn from it.

    Returns:
        ``root``. Data sets are written one at a time, so a meta-data set of
        HPO-B's size (hundreds of MB) never sits in memory whole.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    centres = {s.space: rng.uniform(0.2, 0.8, s.dim) for s in spaces}
    inits: dict[str, dict[str, dict[str, list[int]]]] = {}
    for split, name in SPLIT_FILES.items():
        with open(root / name, "w", encoding="utf-8") as fh:
            fh.write("{")
            for i, s in enumerate(spaces):
                fh.write(f'{", " if i else ""}"{s.space}": {{')
                for j, dataset in enumerate(getattr(s, split)):
                    X = _configurations(rng, int(rng.integers(points[0], points[1] + 1)), s.dim)
                    y = _values(rng, X, centres[s.space])
                    body = json.dumps({"X": X.tolist(), "y": y[:, None].tolist()})
                    fh.write(f'{", " if j else ""}"{dataset}": {body}')
                    if split == "test":
                        inits.setdefault(s.space, {})[dataset] = {
                            key: rng.choice(len(X), n_init, replace=False).tolist() for key in SEEDS
                        }
                fh.write("}")
            fh.write("}")
    (root / INIT_FILE).write_text(json.dumps(inits))
    return root
