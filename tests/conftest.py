from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from bo_transfer.methods import METHODS
from bo_transfer.sweep import LocalExecutor, Sweep, run_sweep

TINY = {
    "name": "tiny",
    "seeds": 3,
    "budget": 6,
    "n_init": 3,
    "n_source": 12,
    "pairs": ["forrester", "forrester:a=-1.0,b=0.0,c=0.0"],
    "methods": ["random", "cold-gp", "init-transfer", "prior-mean"],
}


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="session")
def _private_optimum_cache(tmp_path_factory):
    """Certified optima go to a per-session directory, never the user's cache
    (set in os.environ so spawned sweep workers inherit it)."""
    old = os.environ.get("BO_TRANSFER_CACHE")
    os.environ["BO_TRANSFER_CACHE"] = str(tmp_path_factory.mktemp("optimum-cache"))
    yield
    if old is None:
        os.environ.pop("BO_TRANSFER_CACHE", None)
    else:
        os.environ["BO_TRANSFER_CACHE"] = old


@pytest.fixture(autouse=True, scope="session")
def hpob_dir(tmp_path_factory) -> Path:
    """Small tables in HPO-B's exact file layout, made up by us (we ship none of
    HPO-B's data), so the ``hpob`` family's pairs resolve in every test and
    sweep worker (set in os.environ, which spawned workers inherit)."""
    from bo_transfer.problems.hpob import HPOB_DIR_ENV
    from bo_transfer.problems.hpob_synthetic import write_synthetic_hpob

    old = os.environ.get(HPOB_DIR_ENV)
    root = write_synthetic_hpob(tmp_path_factory.mktemp("hpob"))
    os.environ[HPOB_DIR_ENV] = str(root)
    yield root
    if old is None:
        os.environ.pop(HPOB_DIR_ENV, None)
    else:
        os.environ[HPOB_DIR_ENV] = old


@pytest.fixture(scope="session")
def tiny_sweep() -> Sweep:
    return Sweep.from_dict(TINY)


@pytest.fixture(scope="session")
def tiny_results(tmp_path_factory, tiny_sweep):
    """A finished tiny sweep directory, shared by the tests that only read it."""
    out = tmp_path_factory.mktemp("tiny")
    summary = run_sweep(tiny_sweep, out, executor=LocalExecutor(1))
    assert summary.failed == 0, summary.lines()
    return out


#: Methods too slow for the default run's end-to-end sweeps (run with ``-m slow``).
SLOW_METHODS = ("mtgp-botorch",)


#: The methods of the package and installed plugins, named before any test
#: module registers its own (one of those kills its process on purpose).
REGISTERED_METHODS = tuple(METHODS.names())


@pytest.fixture(scope="session")
def tiny_hpob_results(tmp_path_factory, hpob_dir):
    """Every registered method (the slow ones aside) run end to end on an HPO-B
    pair of the session's tables (seed 0: HPO-B's design ``test0``): the tidy
    results and the sweep directory."""
    from bo_transfer.analysis import load_results

    sweep = Sweep.from_dict(
        {
            "name": "tiny-hpob",
            "seeds": [0],
            "budget": 9,
            "n_init": 5,
            "n_source": 16,
            "pairs": ["hpob:space=5971,dataset=10093"],
            "methods": [m for m in REGISTERED_METHODS if m not in SLOW_METHODS],
        }
    )
    out = tmp_path_factory.mktemp("tiny-hpob")
    summary = run_sweep(sweep, out, executor=LocalExecutor(1))
    assert summary.failed == 0, summary.lines()
    return load_results(out), out


@contextmanager
def installed_plugin_package(root: Path, module: str, source: str, group: str, entry: str):
    """A tiny package of one module declaring ``entry`` in entry-point ``group``,
    pip-installed into the running environment for the duration of the block."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [build-system]
            requires = ["setuptools>=68"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{module}"
            version = "0.0.1"

            [tool.setuptools]
            py-modules = ["{module}"]

            [project.entry-points."{group}"]
            {entry} = "{module}"
            """
        )
    )
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, "install", "--no-deps", "--no-build-isolation", "--no-index", str(root)],
        check=True,
        capture_output=True,
        cwd=root,
    )
    try:
        yield
    finally:
        subprocess.run([*pip, "uninstall", "-y", module], check=True, capture_output=True)


def _slurm_session(accounting: bool):
    from slurm_cluster import slurm_cluster, unavailable_reason

    pytest.importorskip("submitit")
    reason = unavailable_reason(accounting)
    if reason:
        pytest.skip(reason)
    with slurm_cluster(accounting) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def slurm_plain():
    """A real single-node Slurm without accounting (``sacct`` fails), started
    for the session and stopped after it; skipped when Slurm is not installed.
    See tests/slurm_cluster.py."""
    yield from _slurm_session(accounting=False)


@pytest.fixture(scope="session")
def slurm_accounting():
    """Like ``slurm_plain``, with ``slurmdbd`` and MariaDB, so ``sacct`` answers."""
    yield from _slurm_session(accounting=True)
