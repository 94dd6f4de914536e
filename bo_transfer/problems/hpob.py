"""HPO-B: real tabular meta-data sets of hyperparameter evaluations from OpenML.

HPO-B (Pineda Arango, Jomaa, Wistuba, Grabocka. *HPO-B: A Large-Scale
Reproducible Benchmark for Black-Box HPO based on OpenML*. NeurIPS 2021
Datasets and Benchmarks) records, per search space (an OpenML flow: one model
family and its hyperparameters, already scaled to the unit cube, log-scaled
where its authors chose so, categoricals one-hot) and per data set, the
accuracy of evaluated configurations. HPO-B-v3 splits the data sets of 16 search
spaces into meta-train, meta-validation and meta-test; each meta-test task comes
with five fixed initial designs (seeds ``test0`` .. ``test4``).

We read the user's downloaded files, in HPO-B's own JSON layout, from the
folder named by ``BO_TRANSFER_HPOB_DIR`` (or a spec's ``hpob_dir``):

- ``meta-train-dataset.json``, ``meta-validation-dataset.json``,
  ``meta-test-dataset.json``: ``{space: {dataset: {"X": [[...], ...],
  "y": [[...], ...]}}}``, ids as strings, one value per configuration;
- ``bo-initializations.json``: ``{space: {dataset: {"test0": [row, ...],
  ...}}}``, row indices into the data set's ``X``.

A pair ``hpob:space=S,dataset=D`` has data set D of search space S as its
target (a :class:`~bo_transfer.problems.tabular.TabularProblem`: runs choose
among its configurations) and the other data sets of S in the ``sources``
split(s) as data-only sources, each subsampled to the sweep's ``n_source``
points per run seed. Accuracy is maximised, so values are negated. Run seed
``s`` in 0..4 starts from HPO-B's design ``test{s}`` (other seeds, and data
sets without designs: a random design; a data set that has some designs but
not all five is refused), and normalized regret divides by the task's range, exactly HPO-B's
normalised regret: ``(max y - best y so far) / (max y - min y)``.

Files are read lazily, one search space at a time, and what is read is kept
for the process, however many pairs and runs use it: a first scan finds where
each space's object lies in a split file (braces only, no number parsed), and
a space is parsed when a pair first needs it, its data sets' nested lists
turned into NumPy arrays as they are decoded. At its peak a process holds the
arrays read so far plus one space's text, never a whole file of hundreds of MB;
pair names are checked against the scan alone. Before a sweep writes anything,
its driver hashes the bytes of each pair's search space in every split and the
initial designs (:func:`space_hash`, part of each run's identity: changed
files never mix into a store's older runs) and checks the target's values.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import re
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bo_transfer.errors import UserError
from bo_transfer.problems.families import Param, register_family
from bo_transfer.problems.observed import ObservedSource
from bo_transfer.problems.tabular import TabularProblem

#: Environment variable naming the folder that holds HPO-B's files.
HPOB_DIR_ENV = "BO_TRANSFER_HPOB_DIR"

SPLIT_FILES = {
    "train": "meta-train-dataset.json",
    "validation": "meta-validation-dataset.json",
    "test": "meta-test-dataset.json",
}
INIT_FILE = "bo-initializations.json"
#: HPO-B's seed identifiers; run seed s uses ``SEEDS[s]``.
SEEDS = ("test0", "test1", "test2", "test3", "test4")

#: Where a pair's sources come from (``sources=``); the target's own data set
#: is never a source.
SOURCE_SPLITS = {
    "train": ("train",),
    "train+validation": ("train", "validation"),
    "all": ("train", "validation", "test"),
}
#: The order in which a target data set is looked up.
TARGET_SPLITS = ("test", "validation", "train")


def hpob_dir() -> Path:
    """The folder with HPO-B's files, checked; a one-line error when it is not set
    or lacks a file."""
    raw = os.environ.get(HPOB_DIR_ENV, "").strip()
    needed = [*SPLIT_FILES.values(), INIT_FILE]
    if not raw:
        raise UserError(
            f"hpob pairs need HPO-B's files: set {HPOB_DIR_ENV} (or hpob_dir in the spec) to "
            f"the folder holding {', '.join(needed)} (README: HPO-B)"
        )
    root = Path(raw).expanduser()
    missing = [name for name in needed if not (root / name).is_file()]
    if missing:
        raise UserError(
            f"{HPOB_DIR_ENV}={raw} lacks {', '.join(missing)}; download HPO-B's "
            f"hpob-data.zip and point {HPOB_DIR_ENV} at its folder (README: HPO-B)"
        )
    return root


def _as_arrays(obj: dict[str, Any]) -> Any:
    """JSON object hook: a data set's ``{"X": ..., "y": ...}`` becomes two
    float64 arrays at once, so its nested lists are freed while parsing goes on."""
    if obj.keys() == {"X", "y"}:
        X = np.asarray(obj["X"], dtype=np.float64)
        y = np.asarray(obj["y"], dtype=np.float64).reshape(-1)
        if X.ndim != 2 or len(X) != len(y):
            raise ValueError(f"expected X of n rows and n values, got {X.shape} and {y.shape}")
        return X, y
    return obj


def _decode(text: bytes, where: str) -> Any:
    try:
        return json.loads(text, object_hook=_as_arrays)
    except ValueError as exc:
        raise UserError(f"{where} is not a valid HPO-B file: {exc}".splitlines()[0]) from None


def _stat(name: str) -> tuple[str, int, int]:
    """The file's resolved path, size and modification time: they key the
    caches below, so a replaced file is read again."""
    path = (hpob_dir() / name).resolve()
    stat = path.stat()
    return str(path), stat.st_size, stat.st_mtime_ns


def _key(mm: mmap.mmap, start: int, end: int, path: str) -> str:
    """The object key written between ``start`` and the object at ``end``."""
    key = re.search(rb'"([^"]*)"\s*:\s*$', mm[start:end])
    if key is None:
        raise UserError(f"{path} is not a valid HPO-B file: no key before byte {end}")
    return key.group(1).decode()


@lru_cache(maxsize=8)
def _index(path: str, size: int, mtime_ns: int) -> dict[str, tuple[int, int, tuple[str, ...]]]:
    """Per search space of a split file: the byte span of its object and its
    data set ids, in the file's order.

    HPO-B's files nest objects three deep (file, space, data set: the data
    set's ``X`` and ``y`` are lists) and hold no string with a brace, so a scan
    for braces finds every space and data set without parsing a number. It lets
    a process parse only the spaces it uses (never a whole file of hundreds of
    MB as text), and names are validated without parsing at all.
    """
    if size == 0:
        raise UserError(f"{path} is empty: not an HPO-B file")
    index: dict[str, tuple[int, int, tuple[str, ...]]] = {}
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        depth, space, start, datasets = 0, "", 0, []
        after = [0, 0, 0, 0]  # where the key of the next object at each depth starts
        # Two memchr-speed searches, each redone only once its brace is used.
        opening, closing = mm.find(b"{"), mm.find(b"}")
        while closing >= 0:
            if 0 <= opening < closing:
                depth += 1
                if depth == 2:
                    space, start, datasets = _key(mm, after[2], opening, path), opening, []
                elif depth == 3:
                    datasets.append(_key(mm, after[3], opening, path))
                elif depth > 3:
                    raise UserError(f"{path} is not an HPO-B file: objects nested too deep")
                if depth < 3:
                    after[depth + 1] = opening + 1
                opening = mm.find(b"{", opening + 1)
                continue
            if depth == 2:
                index[space] = (start, closing + 1, tuple(datasets))
            if depth in (2, 3):
                after[depth] = closing + 1
            depth -= 1
            closing = mm.find(b"}", closing + 1)
    if depth != 0:
        raise UserError(f"{path} is not a valid HPO-B file: unbalanced braces")
    return index


@cache
def _space(path: str, size: int, mtime_ns: int, space: str) -> dict:
    start, end, _ = _index(path, size, mtime_ns).get(space, (0, 0, ()))
    if start == end:
        return {}
    with open(path, "rb") as fh:
        fh.seek(start)
        return _decode(fh.read(end - start), path)


def split_spaces(split: str) -> list[str]:
    """The search spaces of one split (``train``, ``validation``, ``test``), in
    the file's order; read without parsing the file."""
    return list(_index(*_stat(SPLIT_FILES[split])))


def split_datasets(split: str, space: str) -> tuple[str, ...]:
    """The data set ids of one search space in one split, in the file's order
    (empty when the split lacks the space); read without parsing the file."""
    return _index(*_stat(SPLIT_FILES[split])).get(space, (0, 0, ()))[2]


def load_space(split: str, space: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{dataset: (X, y)}`` of one search space in one split: `n x d`
    configurations and `n` values as NumPy arrays (shared: do not modify);
    empty when the split lacks the space. Parsed once per process."""
    return _space(*_stat(SPLIT_FILES[split]), space)


@lru_cache(maxsize=4)
def _initializations(path: str, size: int, mtime_ns: int) -> dict:
    with open(path, "rb") as fh:
        return _decode(fh.read(), path)


def load_initializations() -> dict[str, dict[str, dict[str, list[int]]]]:
    """``{space: {dataset: {"test0": [row, ...], ...}}}``, parsed once per process."""
    return _initializations(*_stat(INIT_FILE))


@lru_cache(maxsize=64)
def _space_bytes_hash(path: str, size: int, mtime_ns: int, space: str) -> bytes:
    start, end, _ = _index(path, size, mtime_ns).get(space, (0, 0, ()))
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        fh.seek(start)
        remaining = end - start
        while remaining > 0:
            block = fh.read(min(remaining, 1 << 20))
            if not block:
                break
            digest.update(block)
            remaining -= len(block)
    return digest.digest()


@lru_cache(maxsize=4)
def _file_hash(path: str, size: int, mtime_ns: int) -> bytes:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()


def _designs(space: str, dataset: str) -> list[list[int]]:
    """HPO-B's initial designs of a data set in seed order (``test0`` ..
    ``test4``), or none. Seed s must start from ``test{s}`` itself: a data set
    with some designs but not all is refused (taking the others in order would
    start seed 1 from ``test2``'s design)."""
    inits = load_initializations().get(space, {}).get(dataset, {})
    missing = [s for s in SEEDS if s not in inits]
    if inits and missing:
        raise UserError(
            f"{INIT_FILE} lacks {', '.join(missing)} for HPO-B space {space}, data set "
            f"{dataset} (it has {', '.join(sorted(inits))}); each data set needs all of "
            f"{', '.join(SEEDS)} or none"
        )
    return [inits[s] for s in SEEDS] if inits else []


def space_hash(params: dict) -> str:
    """The data a pair reads, as 16 hex digits of SHA-256 over its search
    space's bytes in every split and the initial designs file; it also checks
    what a run would meet only once started (non-finite accuracies, designs
    missing for a seed), so a sweep refuses them before writing anything."""
    space, dataset = str(params["space"]), str(params["dataset"])
    digest = hashlib.sha256(space.encode())
    for name in SPLIT_FILES.values():
        digest.update(_space_bytes_hash(*_stat(name), space))
    digest.update(_file_hash(*_stat(INIT_FILE)))
    _, y = load_space(_target_split(space, dataset), space)[dataset]
    if not np.isfinite(y).all():
        raise UserError(
            f"HPO-B space {space}, data set {dataset}: {int((~np.isfinite(y)).sum())} of "
            f"{len(y)} accuracy values are not finite (NaN or inf)"
        )
    _designs(space, dataset)
    return digest.hexdigest()[:16]


def _target_split(space: str, dataset: str) -> str:
    """The split holding the target data set (``TARGET_SPLITS`` order)."""
    for split in TARGET_SPLITS:
        if dataset in split_datasets(split, space):
            return split
    spaces = {s for split in TARGET_SPLITS for s in split_spaces(split)}
    if space not in spaces:
        known = sorted(spaces, key=int)
        raise UserError(f"HPO-B has no search space {space}; search spaces: {', '.join(known)}")
    datasets = sorted((d for split in TARGET_SPLITS for d in split_datasets(split, space)), key=int)
    raise UserError(
        f"HPO-B search space {space} has no data set {dataset}; data sets: {', '.join(datasets)}"
    )


def _check(params: dict) -> None:
    """Names are checked against the files' index: nothing is parsed."""
    space, dataset = str(params["space"]), str(params["dataset"])
    _target_split(space, dataset)
    splits = SOURCE_SPLITS[params["sources"]]
    if not any(d != dataset for split in splits for d in split_datasets(split, space)):
        raise UserError(
            f"HPO-B search space {space} has no data set other than {dataset} in "
            f"sources={params['sources']}"
        )


def _source_tables(params: dict) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(dataset, X, y)`` of every source, the largest first when ``max_sources``
    keeps only some."""
    space, target = str(params["space"]), str(params["dataset"])
    tables = [
        (dataset, X, y)
        for split in SOURCE_SPLITS[params["sources"]]
        for dataset, (X, y) in sorted(load_space(split, space).items())
        if dataset != target
    ]
    if params["max_sources"]:
        # The data sets with the most evaluations tell the most; ties by id.
        tables.sort(key=lambda t: (-len(t[2]), int(t[0])))
        tables = tables[: params["max_sources"]]
    return tables


def _unit_cube(X: np.ndarray, where: str) -> torch.Tensor:
    if not np.isfinite(X).all() or X.min() < 0 or X.max() > 1:
        raise UserError(
            f"{where}: configurations outside [0, 1]; HPO-B's files are scaled to the unit "
            f"cube: is {HPOB_DIR_ENV} the folder of hpob-data.zip?"
        )
    return torch.from_numpy(X)


@register_family(
    "hpob",
    params=[
        Param("space", int, 5971, low=0, help="HPO-B search space id"),
        Param("dataset", int, 10093, low=0, help="the target data set's id"),
        Param(
            "sources",
            str,
            "train",
            choices=tuple(SOURCE_SPLITS),
            help="split(s) the source data sets come from",
        ),
        Param("max_sources", int, 0, low=0, help="keep only the largest k sources (0: all)"),
    ],
    summary="HPO-B (tabular, from the user's downloaded files): one data set of a search "
    "space as target, the space's other data sets as sources",
    citation="Pineda Arango, Jomaa, Wistuba, Grabocka. HPO-B: A Large-Scale Reproducible "
    "Benchmark for Black-Box HPO based on OpenML. NeurIPS 2021 Datasets and Benchmarks",
    bib_key="pineda2021hpob",
    examples=("hpob:space=5971,dataset=10093,sources=train,max_sources=0",),
    check=_check,
    data_hash=space_hash,
)
def build_hpob_pair(space: int, dataset: int, sources: str, max_sources: int):
    space_id, dataset_id = str(space), str(dataset)
    X, y = load_space(_target_split(space_id, dataset_id), space_id)[dataset_id]
    where = f"HPO-B space {space_id}, data set {dataset_id}"
    designs = _designs(space_id, dataset_id)
    if not np.isfinite(y).all():
        raise UserError(f"{where}: non-finite accuracy values")
    # HPO-B's accuracies are maximised; every problem here is minimised.
    target = TabularProblem(
        _unit_cube(X, where), -torch.from_numpy(y), f"hpob-{space_id}-{dataset_id}", designs
    )
    params = {"space": space, "dataset": dataset, "sources": sources, "max_sources": max_sources}
    observed = [
        ObservedSource(
            _unit_cube(Xs, f"HPO-B space {space_id}, data set {d}"),
            -torch.from_numpy(ys),
            f"hpob-{space_id}-{d}",
            subsample=True,
        )
        for d, Xs, ys in _source_tables(params)
    ]
    if any(s.dim != target.dim for s in observed):
        raise UserError(f"{where}: data sets of one search space differ in dimension")
    return target, observed


#: HPO-B's protocol (its ``evaluate``: five initial configurations per seed,
#: then 100 trials; normalised regret and average rank over the meta-test tasks).
PROTOCOL = {"seeds": len(SEEDS), "n_init": 5, "budget": 105}


def meta_test_pairs() -> list[str]:
    """Every meta-test task of the files as a pair name (sources from
    meta-train), in HPO-B's order of search spaces and data sets."""
    return [
        f"hpob:space={space},dataset={dataset}"
        for space in split_spaces("test")
        for dataset in split_datasets("test", space)
    ]
