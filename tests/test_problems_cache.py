"""The disk cache of certified optima: a hit skips certification, writes are atomic."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from bo_transfer.problems import base, cache
from bo_transfer.problems.pair import _build_pair


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("BO_TRANSFER_CACHE", str(tmp_path))
    return tmp_path


def test_environment_variable_chooses_the_directory(cache_dir):
    assert cache.cache_dir() == cache_dir


def test_second_build_reads_the_optimum_from_disk_without_certifying(cache_dir, monkeypatch):
    name = "forrester:a=0.5,b=10.0,c=-5.0"
    first = _build_pair.__wrapped__(name).target.optimum
    assert list((cache_dir / "optima").glob("*.json"))

    def refuse(*args, **kwargs):
        raise AssertionError("certified again despite a cached optimum")

    monkeypatch.setattr(base, "certify_minimum", refuse)
    again = _build_pair.__wrapped__(name).target.optimum
    assert again == first


def test_a_corrupt_or_foreign_entry_is_a_miss(cache_dir):
    key = "forrester:a=0.5,b=10.0,c=-5.0#target@forrester-v2"
    cache.store_optimum(key, 1.0, (0.5,), "test")
    path = next((cache_dir / "optima").glob("*.json"))
    assert cache.load_optimum(key)["value"] == 1.0
    path.write_text("{not json")
    assert cache.load_optimum(key) is None
    path.write_text(json.dumps({"key": "other", "value": 2.0, "x": [0.1], "how": "x"}))
    assert cache.load_optimum(key) is None


def test_concurrent_writers_never_leave_a_torn_entry(cache_dir):
    """Writers race on one key while a reader polls: every read is a whole entry.

    Threads, not processes: the atomicity comes from ``os.replace`` at the
    file-system level, which threads exercise the same way at a fraction of the
    start-up cost of processes that import torch.
    """
    payload = tuple([0.123456789] * 200)
    cache.store_optimum("shared-key", -1.0, payload, "race")

    def hammer(worker: int) -> None:
        for _ in range(300):
            cache.store_optimum("shared-key", float(worker), payload, "race")

    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(hammer, w) for w in range(3)]
        reads = 0
        while not all(f.done() for f in futures):
            entry = cache.load_optimum("shared-key")
            assert entry is not None and tuple(entry["x"]) == payload
            reads += 1
        for f in futures:
            f.result()
    assert reads > 0
    assert cache.load_optimum("shared-key")["value"] in (0.0, 1.0, 2.0)
    assert not list((cache_dir / "optima").glob(".tmp-*"))


def test_user_built_pairs_are_never_cached(cache_dir):
    """Their code can change without a version bump, so a cached optimum could lie."""
    from bo_transfer.problems import FAMILIES, get_pair, register_pair

    register_pair(
        "uncached-pair", target=lambda X: (X**2).sum(-1), sources=[lambda X: -X.sum(-1)], dim=1
    )
    try:
        assert get_pair("uncached-pair").target.optimal_value == 0.0
        assert not (cache_dir / "optima").exists()
    finally:
        FAMILIES._items.pop("uncached-pair")
