"""Determinism across executors, resume after SIGKILL, the directory lock."""

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pandas as pd
import pytest

from bo_transfer import columns as C
from bo_transfer.analysis import load_results
from bo_transfer.errors import UserError
from bo_transfer.sweep import DaskExecutor, LocalExecutor, SlurmExecutor, Sweep, run_sweep
from bo_transfer.sweep.store import sweep_lock

SMALL = {
    "seeds": 2,
    "budget": 5,
    "n_init": 3,
    "n_source": 8,
    "pairs": ["forrester"],
    "methods": ["random", "cold-gp", "prior-mean"],
}


def _values(directory):
    df = load_results(directory)
    return df[[c for c in df.columns if c != C.ELAPSED_S]]


def test_every_executor_gives_the_same_numbers(tmp_path):
    pytest.importorskip("distributed")
    pytest.importorskip("submitit")
    sweep = Sweep.from_dict(SMALL)
    executors = {
        "one": LocalExecutor(1),
        "two": LocalExecutor(2),
        "dask": DaskExecutor("local", workers=2),
        "submitit": SlurmExecutor(tmp_path / "slurm", chunk_size=3, cluster="local"),
    }
    for name, executor in executors.items():
        summary = run_sweep(sweep, tmp_path / name, executor=executor)
        assert (summary.done, summary.failed) == (6, 0), (name, summary.lines())
    reference = _values(tmp_path / "one")
    for name in ("two", "dask", "submitit"):
        pd.testing.assert_frame_equal(reference, _values(tmp_path / name), obj=name)


def _stored_runs(db) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_resume_after_sigkill_at_random_moments_stores_every_run_once(tmp_path):
    """Kill the sweep (driver and workers) several times while runs are in flight,
    rerun the same command each time, and compare with an uninterrupted sweep."""
    spec = tmp_path / "spec.toml"
    spec.write_text(
        'seeds = 4\nbudget = 6\nn_init = 3\nn_source = 8\npairs = ["forrester"]\n'
        'methods = ["random", "cold-gp", "init-transfer"]\n'
    )
    killed = tmp_path / "killed"
    db = killed / "results.sqlite"
    # One run per task (no seed blocks), so kills land between single runs.
    cmd = [sys.executable, "-m", "bo_transfer", "run", str(spec), "--out", str(killed), "--quiet"]
    cmd += ["--batch-seeds", "1"]
    rng = random.Random(2024)
    kills = 0
    for threshold in sorted(rng.sample(range(1, 11), 3)):
        if _stored_runs(db) >= threshold:
            continue
        proc = subprocess.Popen(
            cmd + ["--workers", "2"], start_new_session=True, stdout=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and _stored_runs(db) < threshold:
            time.sleep(0.05)
        time.sleep(rng.uniform(0, 0.5))  # land anywhere inside the next run
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 2
    assert _stored_runs(db) < 12

    resumed = subprocess.run(cmd + ["--workers", "1"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT key, status FROM runs").fetchall()
        evals = conn.execute("SELECT run_key, COUNT(*) FROM evals GROUP BY run_key").fetchall()
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    assert integrity == "ok"
    assert len(rows) == 12 and {s for _, s in rows} == {"done"}
    assert sorted(n for _, n in evals) == [6] * 12

    clean = tmp_path / "clean"
    # The same layout (one run per task, one thread per worker): the same bits.
    run_sweep(Sweep.from_toml(spec), clean, executor=LocalExecutor(1), batch_seeds=1)
    pd.testing.assert_frame_equal(_values(clean), _values(killed))


def test_a_run_that_kills_its_worker_fails_alone(tmp_path, monkeypatch):
    """A worker that dies (here: os._exit, as the OOM killer would) takes only its
    own run down: it is resubmitted once, then stored as failed; the others finish."""
    (tmp_path / "worker_killer.py").write_text(
        "import os\n"
        "from bo_transfer.methods import Method, register_method\n"
        "@register_method('worker-killer', summary='dies', citation='none')\n"
        "class WorkerKiller(Method):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "    def propose(self, X, y, seed):\n"
        "        os._exit(3)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("BO_TRANSFER_PLUGINS", "worker_killer")
    __import__("worker_killer")
    sweep = Sweep.from_dict({**SMALL, "methods": ["random", "worker-killer"], "seeds": 2})
    summary = run_sweep(sweep, tmp_path / "out", executor=LocalExecutor(2))
    assert (summary.done, summary.failed) == (2, 2)
    assert all("worker lost twice" in err for err in summary.errors)
    with sqlite3.connect(tmp_path / "out" / "results.sqlite") as conn:
        rows = conn.execute("SELECT method, status FROM runs").fetchall()
    assert sorted(rows) == [("random", "done")] * 2 + [("worker-killer", "failed")] * 2


def test_a_second_sweep_into_a_locked_directory_is_refused(tmp_path):
    sweep = Sweep.from_dict(SMALL)
    with sweep_lock(tmp_path), pytest.raises(UserError, match="another bo-transfer run is writing"):
        run_sweep(sweep, tmp_path, executor=LocalExecutor(1))
    assert not (tmp_path / "results.sqlite").exists()


def test_retry_failed_redoes_only_failed_runs(tmp_path, monkeypatch):
    from bo_transfer.methods.baselines import ColdGP

    # One seed at a time: each cold-gp run takes its own (patched) propose.
    sweep = Sweep.from_dict({**SMALL, "batch_seeds": 1})
    original = ColdGP.propose

    def boom(self, X, y, seed):
        raise RuntimeError("flaky")

    monkeypatch.setattr(ColdGP, "propose", boom)
    first = run_sweep(sweep, tmp_path, executor=LocalExecutor(1))
    assert (first.done, first.failed) == (4, 2)
    assert "flaky" in "\n".join(first.lines())
    monkeypatch.setattr(ColdGP, "propose", original)
    again = run_sweep(sweep, tmp_path, executor=LocalExecutor(1))
    assert (again.done, again.failed, again.skipped) == (0, 0, 6)
    retried = run_sweep(sweep, tmp_path, executor=LocalExecutor(1), retry_failed=True)
    assert (retried.done, retried.failed, retried.skipped) == (2, 0, 4)
