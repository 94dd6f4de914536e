"""``bo-transfer run --slurm`` against a real single-node Slurm (issue 18).

The clusters are the session fixtures ``slurm_plain`` (no accounting, so
``sacct`` fails) and ``slurm_accounting`` (``slurmdbd``), see
tests/slurm_cluster.py; these tests skip when Slurm is not installed.

A sweep on Slurm gives exactly the numbers of a local run; the tests named
``test_<n>_...`` pin the fix of issue 18's numbered faults, each a property a
user should be able to count on (they were ``xfail(strict=True)`` on the code
before the fixes). The CLI always runs in a subprocess under a timeout, so a
hang fails one test, never the suite.
A task that must still be running when the test cancels it runs
``slow-random`` (tests/slurm_slow_method.py), whose proposals wait without
using a CPU.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

import pandas as pd
import pytest
from slurm_cluster import (
    ACCOUNT,
    Job,
    SlurmCluster,
    poll,
    processes_of,
    reap_stale_clusters,
    slurm_cluster,
    wait_for,
)
from slurm_slow_method import DELAY_ENV

from bo_transfer import columns as C
from bo_transfer.analysis import load_results
from bo_transfer.cli import main
from bo_transfer.registry import PLUGINS_ENV
from bo_transfer.sweep import (
    LocalExecutor,
    ResultStore,
    RunSpec,
    SlurmExecutor,
    Sweep,
    Task,
    plan,
    run_sweep,
)
from bo_transfer.sweep.executors.slurm import _chunks
from bo_transfer.sweep.plan import DEFAULT_EVAL_S, estimate_seconds

TESTS = Path(__file__).resolve().parent
FOUR = {
    "name": "four",
    "seeds": 2,
    "budget": 5,
    "n_init": 3,
    "n_source": 8,
    "pairs": ["forrester"],
    "methods": ["random", "cold-gp"],
}
ONE = {**FOUR, "name": "one", "seeds": 1, "budget": 4, "methods": ["random"]}
#: One run, or two, of a method that waits ``DELAY_ENV`` seconds per proposal.
SLOW_ONE = {**ONE, "name": "slow", "methods": ["slow-random"]}
SLOW_TWO = {**SLOW_ONE, "seeds": 2}
#: Long enough that a cancelled task is still running when cancelled.
LONG_DELAY_S = 120
#: How long the command may take to notice that its tasks are gone.
LOST_GRACE_S = 15
#: How long the command may take to show a job's id and pending reason.
SHOWN_WITHIN_S = 10
#: A submission takes the CLI's start-up (torch, BoTorch) plus ``sbatch``.
SUBMITTED_WITHIN_S = 90
#: How long to watch a re-run for a second submission (start-up is ~6 s here).
RERUN_WATCH_S = 30


def write_spec(path: Path, spec: dict) -> Path:
    """The spec as TOML (its ints, strings and lists read the same as JSON)."""
    path.write_text("".join(f"{key} = {json.dumps(value)}\n" for key, value in spec.items()))
    return path


def stored(directory: Path) -> dict[str, int]:
    """How many runs ``directory``'s store holds, by status."""
    with sqlite3.connect(directory / "results.sqlite") as conn:
        return dict(conn.execute("SELECT status, COUNT(*) FROM runs GROUP BY status"))


def slurm_files(harness: Harness, out: str = "out") -> list[Path]:
    """Every file left under ``OUT/slurm`` (hidden ones included)."""
    folder = harness.tmp / out / "slurm"
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def values(directory: Path) -> pd.DataFrame:
    df = load_results(directory)
    return df[[c for c in df.columns if c != C.ELAPSED_S]]


def exported(directory: Path, out: Path) -> pd.DataFrame:
    """``bo-transfer export DIR`` read back, without the wall-clock column."""
    assert main(["export", str(directory), "--out", str(out)]) == 0
    return pd.read_csv(out).drop(columns=C.ELAPSED_S)


def cli_env(cluster: SlurmCluster, delay_s: float = 0.0) -> dict:
    """The environment of a CLI run against ``cluster``: ``slow-random``
    registered, its wait ``delay_s``; sbatch passes it on to the jobs."""
    env = cluster.env()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (env.get("PYTHONPATH"), str(TESTS))))
    env[PLUGINS_ENV] = "slurm_slow_method"
    env[DELAY_ENV] = str(delay_s)
    return env


class Cli:
    """``python -m bo_transfer ARGS`` in the background, its output in files
    (readable while it runs)."""

    _ids = count()

    def __init__(self, args: list[str], env: dict, cwd: Path) -> None:
        n = next(self._ids)
        self.out_path, self.err_path = cwd / f"cli{n}.out", cwd / f"cli{n}.err"
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bo_transfer", *args],
                stdout=out,
                stderr=err,
                env=env,
                cwd=cwd,
                # Ctrl-C reaches it even when pytest runs in the background of
                # a shell, which ignores SIGINT for its children.
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            )

    @property
    def stdout(self) -> str:
        return self.out_path.read_text()

    @property
    def stderr(self) -> str:
        return self.err_path.read_text()

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def said(self) -> str:
        """What bo-transfer itself printed: :attr:`output` without submitit's
        log lines (its sacct warnings name the job id, e.g. ``'-j', '1001'``)."""
        return "".join(
            line for line in self.output.splitlines(True) if not line.startswith("submitit ")
        )

    def wait(self, timeout: float) -> int | None:
        """The exit code, or None if it is still running after ``timeout`` s."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@dataclass
class Harness:
    """A cluster for one test (or one module's scenario): starts CLIs, and
    on :meth:`close` kills them and leaves the cluster empty and idle."""

    cluster: SlurmCluster
    tmp: Path
    clis: list[Cli] = field(default_factory=list)

    def spec(self, spec: dict) -> str:
        return str(write_spec(self.tmp / f"{spec['name']}.toml", spec))

    def cli(self, *args: str, delay_s: float = 0.0) -> Cli:
        cli = Cli(list(args), cli_env(self.cluster, delay_s), self.tmp)
        self.clis.append(cli)
        return cli

    def wait_jobs(
        self, cli: Cli, ready: Callable[[list[Job]], bool], what: str, timeout: float = 60
    ) -> list[Job]:
        """The queue once ``ready(queue)``; fails early if ``cli`` exits first."""

        def check() -> bool:
            if cli.proc.poll() is not None:
                pytest.fail(
                    f"bo-transfer exited ({cli.proc.returncode}) before {what}:\n"
                    f"{cli.output[-2000:]}"
                )
            return ready(self.cluster.jobs())

        wait_for(check, timeout, what, lambda: cli.output[-2000:])
        return self.cluster.jobs()

    def close(self) -> None:
        for cli in self.clis:
            cli.stop()
        self.cluster.reset()


@pytest.fixture
def plain(slurm_plain, tmp_path, monkeypatch) -> Iterator[Harness]:
    monkeypatch.setenv("SLURM_CONF", str(slurm_plain.conf))
    harness = Harness(slurm_plain, tmp_path)
    yield harness
    harness.close()


@pytest.fixture
def accounting(slurm_accounting, tmp_path, monkeypatch) -> Iterator[Harness]:
    monkeypatch.setenv("SLURM_CONF", str(slurm_accounting.conf))
    harness = Harness(slurm_accounting, tmp_path)
    yield harness
    harness.close()


@pytest.fixture(scope="module")
def local_four(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local-four")
    summary = run_sweep(Sweep.from_dict(FOUR), out, executor=LocalExecutor(1))
    assert summary.failed == 0, summary.lines()
    return out


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Interrupt an in-process wait (submitit polls in Python) after ``seconds``."""

    def expire(signum, frame):
        raise TimeoutError(f"no result after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def running(n: int) -> Callable[[list[Job]], bool]:
    return lambda jobs: sum(job.state == "RUNNING" for job in jobs) >= n


def pending_with_reason(jobs: list[Job]) -> bool:
    """The scheduler has looked at the first job and says why it waits."""
    return bool(jobs) and jobs[0].state == "PENDING" and jobs[0].reason != "None"


# -- the fixture itself ---------------------------------------------------------------


def test_a_cluster_stops_every_process_it_started_and_leaves_others_alone(slurm_plain):
    """A second cluster beside the session's: its job and daemons are gone
    after it stops, its directory too, and the session's cluster still works."""
    with slurm_cluster() as cluster:
        cluster.cmd("sbatch", "-o", "/dev/null", "--wrap", "sleep 600")
        wait_for(lambda: running(1)(cluster.jobs()), 30, "the job to run")
        started = cluster.leftover_pids()
        assert len(started) >= 5  # munged, slurmctld, slurmd, slurmstepd, the job
    assert cluster.leftover_pids() == []
    assert not cluster.root.exists()
    assert slurm_plain.node_state() == "idle"


HOLD_A_CLUSTER = """
import sys, time
from slurm_cluster import slurm_cluster, wait_for
with slurm_cluster() as cluster:
    cluster.cmd("sbatch", "-o", "/dev/null", "--wrap", "sleep 600")
    wait_for(lambda: [j for j in cluster.jobs() if j.state == "RUNNING"], 30, "the job")
    print(cluster.conf, flush=True)
    time.sleep(600)
"""


def test_what_a_killed_session_leaves_is_reaped_by_the_next(slurm_plain, tmp_path):
    """``kill -9`` of a session holding a cluster with a running job: its
    daemons die with it; the job's slurmstepd is left, until the next
    cluster starts (here :func:`reap_stale_clusters` directly)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_A_CLUSTER],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(TESTS)},
        cwd=tmp_path,
    )
    try:
        conf = Path(holder.stdout.readline().strip())
    finally:
        holder.kill()
        holder.wait()
    assert conf.name == "slurm.conf", "the holder did not start its cluster"

    def names() -> set[str]:
        found = set()
        for pid in processes_of(conf):
            with suppress(OSError):  # it ended meanwhile
                found.add(Path(f"/proc/{pid}/comm").read_text().strip())
        return found

    wait_for(lambda: not names() & {"munged", "slurmctld", "slurmd"}, 15, "the daemons to die")
    assert "slurmstepd" in names()
    reap_stale_clusters()
    assert processes_of(conf) == []
    assert not conf.parent.parent.exists()
    assert slurm_plain.node_state() == "idle"


# -- the numbers ------------------------------------------------------------------------


def test_slurm_executor_gives_the_local_numbers(accounting, local_four, tmp_path):
    """Two array tasks through ``SlurmExecutor`` in this process; ``sacct``
    saw both complete."""
    out = tmp_path / "slurm-sweep"
    executor = SlurmExecutor(out / "slurm", chunk_size=2)
    with deadline(240):
        summary = run_sweep(Sweep.from_dict(FOUR), out, executor=executor)
    assert (summary.done, summary.failed) == (4, 0), summary.lines()
    pd.testing.assert_frame_equal(values(local_four), values(out))
    (array,) = executor.submitted
    expected = [f"{array}_0|COMPLETED", f"{array}_1|COMPLETED"]

    def states() -> list[str]:
        sacct = ("sacct", "-X", "-n", "-P", "-o", "JobID,State", "-j", array)
        return sorted(accounting.cluster.cmd(*sacct).split())

    # A task's result file exists a moment before its job has ended.
    assert poll(lambda: states() == expected, 30), states()


@pytest.fixture(scope="module")
def cli_sweep(slurm_plain, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """``bo-transfer run four.toml --slurm --slurm-chunk 2 --out DIR`` on the
    cluster without accounting: DIR and the finished process."""
    root = tmp_path_factory.mktemp("cli-sweep")
    spec = write_spec(root / "four.toml", FOUR)
    out = root / "out"
    args = ["run", str(spec), "--slurm", "--slurm-chunk", "2", "--out", str(out)]
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "bo_transfer", *args],
            env=cli_env(slurm_plain),
            cwd=root,
            capture_output=True,
            text=True,
            timeout=240,
        )
    finally:
        slurm_plain.reset()
    return out, proc


def test_cli_slurm_sweep_exports_the_local_numbers(cli_sweep, local_four, tmp_path):
    out, proc = cli_sweep
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "4 done, 0 failed, 0 skipped of 4 runs" in proc.stdout
    pd.testing.assert_frame_equal(
        exported(local_four, tmp_path / "local.csv"), exported(out, tmp_path / "slurm.csv")
    )


# -- issue 18, fault by fault ------------------------------------------------------------


def test_1_a_cancelled_task_ends_the_sweep_without_accounting(plain):
    """Without ``sacct`` (submitit's only source of job states, which polled
    forever here before the fix), ``scancel`` of the running task ends the
    sweep within seconds: the run is lost, not stored (exit 1, the summary
    says so), and the cancelled task's logs are all that is left in
    ``DIR/slurm``."""
    cli = plain.cli("run", plain.spec(SLOW_ONE), "--slurm", "--out", "out", delay_s=LONG_DELAY_S)
    (job,) = plain.wait_jobs(cli, running(1), "the task to run", SUBMITTED_WITHIN_S)
    plain.cluster.cancel_all()
    assert cli.wait(LOST_GRACE_S) is not None, (
        f"still waiting {LOST_GRACE_S} s after scancel:\n{cli.output[-1500:]}"
    )
    assert cli.proc.returncode == 1, cli.output[-1500:]
    assert "0 done, 0 failed, 1 lost, 0 skipped of 1 runs" in cli.stdout, cli.stdout
    assert "its Slurm task was cancelled" in cli.stdout, cli.stdout
    assert stored(plain.tmp / "out") == {}
    left = sorted(p.relative_to(plain.tmp / "out" / "slurm").parts[1] for p in slurm_files(plain))
    assert left == [f"{job.job_id}_0_log.err", f"{job.job_id}_0_log.out"]


@pytest.mark.slow
def test_1_a_task_cancelled_while_pending_ends_the_sweep_with_accounting(accounting):
    """Slurm 22.05 drops an array task cancelled while pending from ``sacct``
    altogether (submitit waited forever for it, even with accounting); the
    queue says it is gone, and the sweep ends within seconds."""
    accounting.cluster.drain()
    cli = accounting.cli("run", accounting.spec(SLOW_ONE), "--slurm", "--out", "out")
    accounting.wait_jobs(cli, bool, "the array to be queued", SUBMITTED_WITHIN_S)
    accounting.cluster.cancel_all()
    accounting.cluster.resume()
    assert cli.wait(LOST_GRACE_S) is not None, (
        f"still waiting {LOST_GRACE_S} s after scancel:\n{cli.output[-1500:]}"
    )
    assert cli.proc.returncode == 1, cli.output[-1500:]
    assert "0 done, 0 failed, 1 lost, 0 skipped of 1 runs" in cli.stdout, cli.stdout
    assert "1 lost: its Slurm task" in cli.stdout, cli.stdout
    assert stored(accounting.tmp / "out") == {}


@pytest.mark.slow
def test_2_the_same_command_resumes_runs_lost_on_the_slurm_side(accounting, tmp_path):
    """A run whose task was cancelled is not stored as failed (before the fix
    the re-run printed "0 done, 0 failed, 1 skipped" and exited 0 with the
    run undone): the same command runs it, to a local run's numbers."""
    spec = accounting.spec(SLOW_ONE)
    args = ("run", spec, "--slurm", "--out", "out")
    reference = accounting.cli("run", spec, "--workers", "1", "--out", "local")
    cli = accounting.cli(*args, delay_s=LONG_DELAY_S)
    accounting.wait_jobs(cli, running(1), "the task to run", SUBMITTED_WITHIN_S)
    accounting.cluster.cancel_all()
    assert cli.wait(90) == 1, cli.output[-1500:]
    assert stored(tmp_path / "out") == {}  # not failed: nothing to --retry-failed
    rerun = accounting.cli(*args)
    assert rerun.wait(180) == 0, rerun.output[-1500:]
    assert reference.wait(180) == 0, reference.output[-1500:]
    assert "1 done, 0 failed, 0 skipped" in rerun.stdout, rerun.stdout
    pd.testing.assert_frame_equal(
        exported(tmp_path / "local", tmp_path / "local.csv"),
        exported(tmp_path / "out", tmp_path / "slurm.csv"),
    )


@pytest.mark.slow
def test_3_lost_tasks_are_not_awaited_one_after_another(accounting):
    """Two cancelled tasks are judged together (submitit waited 15 s for each
    one's result file, one after another: about 35 s from scancel to exit)."""
    spec = accounting.spec(SLOW_TWO)
    cli = accounting.cli(
        "run", spec, "--slurm", "--slurm-chunk", "1", "--out", "out", delay_s=LONG_DELAY_S
    )
    accounting.wait_jobs(cli, running(2), "both tasks to run", SUBMITTED_WITHIN_S)
    accounting.cluster.cancel_all()
    assert cli.wait(LOST_GRACE_S) is not None, (
        f"still waiting {LOST_GRACE_S} s after cancelling 2 tasks:\n{cli.output[-1500:]}"
    )
    assert "0 done, 0 failed, 2 lost, 0 skipped of 2 runs" in cli.stdout, cli.stdout


def test_4_an_unknown_partition_is_one_line_and_writes_nothing(plain):
    """sbatch's complaint in one line, exit 2, nothing written (before: a
    40-line traceback, exit 1, and an empty results.sqlite)."""
    spec = plain.spec(ONE)
    cli = plain.cli("run", spec, "--slurm", "--slurm-partition", "nosuch", "--out", "out")
    code = cli.wait(SUBMITTED_WITHIN_S)
    err = cli.stderr
    assert code == 2, err[-1500:]
    assert err.count("\n") == 1 and "nosuch" in err and "Traceback" not in err, err
    assert not (plain.tmp / "out").exists()


@dataclass
class Interrupted:
    """What a user saw around Ctrl-C of a sweep pending on a busy cluster."""

    array: str
    reason: str
    said_while_pending: str
    exit_code: int | None
    said_after: str
    queued_after: set[str]
    most_arrays_at_once: int


@pytest.fixture(scope="module")
def interrupted(slurm_plain, tmp_path_factory) -> Interrupted:
    """The node busy with another user's job, so the sweep's array pends
    (reason ``Resources``); Ctrl-C, then the same command again while the
    first array may still be queued."""
    harness = Harness(slurm_plain, tmp_path_factory.mktemp("interrupted"))
    try:
        cluster = harness.cluster
        blocker = cluster.cmd(
            "sbatch", "--parsable", "--exclusive", "-o", "/dev/null", "--wrap", "sleep 600"
        ).strip()
        wait_for(lambda: running(1)(cluster.jobs()), 30, "the blocking job to run")
        args = ("run", harness.spec(FOUR), "--slurm", "--slurm-chunk", "2", "--out", "out")

        def sweep_jobs(jobs: list[Job]) -> list[Job]:
            return [job for job in jobs if job.array_id != blocker]

        def arrays() -> set[str]:
            return {job.array_id for job in sweep_jobs(cluster.jobs())}

        first = harness.cli(*args)
        jobs = harness.wait_jobs(
            first,
            lambda jobs: pending_with_reason(sweep_jobs(jobs)),
            "the sweep's array to pend",
            SUBMITTED_WITHIN_S,
        )
        array = sweep_jobs(jobs)[0].array_id

        def reason() -> str:
            jobs = sweep_jobs(cluster.jobs())
            return jobs[0].reason if jobs else ""

        def shown() -> bool:
            return array in first.said and reason() in first.said

        poll(shown, SHOWN_WITHIN_S)  # what it showed by then is the observation
        said_while_pending, reason_while_pending = first.said, reason()
        first.proc.send_signal(signal.SIGINT)
        exit_code = first.wait(15)
        queued_after = arrays()
        second = harness.cli(*args)
        most = len(queued_after)
        # Watch the re-run long enough to start up and submit (a re-run that
        # adopts the queued array never submits).
        end = time.monotonic() + RERUN_WATCH_S
        while time.monotonic() < end and most < 2 and second.proc.poll() is None:
            most = max(most, len(arrays()))
            time.sleep(0.5)
        return Interrupted(
            array,
            reason_while_pending,
            said_while_pending,
            exit_code,
            first.said,
            queued_after,
            most,
        )
    finally:
        harness.close()  # before the tests that read the observation run


def test_5_ctrl_c_cancels_the_array_and_says_so(interrupted):
    """Ctrl-C cancels the pending array and names it (before: exit 130, the
    array left queued, its id never shown)."""
    assert interrupted.exit_code == 130, interrupted.said_after
    assert not interrupted.queued_after, interrupted.queued_after
    told = f"cancelled job {interrupted.array} (scancel {interrupted.array})"
    assert told in interrupted.said_after, interrupted.said_after


def test_5_a_rerun_never_duplicates_work_still_queued(interrupted):
    """The re-run does not submit a second array beside the first (before,
    both ran the same runs)."""
    assert interrupted.most_arrays_at_once <= 1


def test_5_a_rerun_after_the_driver_was_killed_waits_for_its_array(plain, local_four):
    """``kill -9`` of the command leaves its array queued; the same command
    again submits nothing, waits for that array's tasks, stores their
    results (the local numbers) and cleans ``DIR/slurm``."""
    plain.cluster.drain()
    args = ("run", plain.spec(FOUR), "--slurm", "--slurm-chunk", "2", "--out", "out")
    first = plain.cli(*args)
    (array,) = {job.array_id for job in plain.wait_jobs(first, bool, "the array", 90)}
    first.stop()  # SIGKILL: no chance to cancel anything
    rerun = plain.cli(*args)
    arrays: set[str] = set()

    def adopted() -> bool:
        arrays.update(job.array_id for job in plain.cluster.jobs())
        return "from an earlier run of this sweep" in rerun.said or rerun.proc.poll() is not None

    wait_for(adopted, SUBMITTED_WITHIN_S, "the re-run to adopt the array", lambda: rerun.output)
    plain.cluster.resume()
    assert rerun.wait(120) == 0, rerun.output[-1500:]
    assert arrays == {array}
    assert f"waiting for 2 tasks of job {array}" in rerun.said, rerun.said
    assert "4 done, 0 failed, 0 skipped of 4 runs" in rerun.stdout, rerun.stdout
    pd.testing.assert_frame_equal(
        exported(local_four, plain.tmp / "local.csv"),
        exported(plain.tmp / "out", plain.tmp / "slurm.csv"),
    )
    assert slurm_files(plain) == []


def test_8_a_pending_job_shows_its_id_and_reason(interrupted):
    """The progress line names the array and why it pends (before, nothing
    at all was printed while it pended)."""
    seen = interrupted.said_while_pending
    assert f"slurm job {interrupted.array}: 2 pending ({interrupted.reason})" in seen, seen


def test_6_slurm_without_slurm_is_one_line(tmp_path):
    """Needs no cluster: with no ``srun`` on PATH, ``--slurm`` is one line
    naming what is missing, exit 2, nothing written (before, submitit's
    automatic executor ran the sweep as local processes, ignored the
    partition and exited 0 under a "slurm" banner)."""
    spec = write_spec(tmp_path / "one.toml", ONE)
    env = {**os.environ, "PATH": str(tmp_path / "empty-bin")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bo_transfer",
            "run",
            str(spec),
            "--slurm",
            "--slurm-partition",
            "gpu",
            "--out",
            str(tmp_path / "out"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 2, proc.stderr[-1500:]
    assert proc.stderr.count("\n") == 1 and "no Slurm on this machine" in proc.stderr, proc.stderr
    assert "sbatch" in proc.stderr and "srun" in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


def test_7_a_time_limit_inside_the_signal_margin_is_refused(plain):
    """``--slurm-time 1`` is refused before anything is submitted (before, it
    was submitted, submitit's USR2 90 s before the limit arrived at once and
    the run then executing failed as "timed-out and not checkpointable")."""
    plain.cluster.drain()  # whatever gets submitted stays queued
    cli = plain.cli("run", plain.spec(ONE), "--slurm", "--slurm-time", "1", "--out", "out")
    wait_for(
        lambda: cli.proc.poll() is not None or plain.cluster.jobs(),
        SUBMITTED_WITHIN_S,
        "bo-transfer to answer",
    )
    assert not plain.cluster.jobs(), "submitted with a 1-minute limit"
    assert cli.wait(10) == 2
    assert cli.stderr.count("\n") == 1 and "--slurm-time" in cli.stderr, cli.stderr


def test_8_a_time_over_the_partition_limit_is_refused(plain):
    """``--slurm-time 10`` on a partition whose MaxTime is 5 minutes is refused
    up front, one line naming the partition and its limit (before: a job that
    pended with PartitionTimeLimit, in silence, until interrupted)."""
    cli = plain.cli(
        "run",
        plain.spec(ONE),
        "--slurm",
        "--slurm-partition",
        "short",
        "--slurm-time",
        "10",
        "--out",
        "out",
    )
    wait_for(
        lambda: cli.proc.poll() is not None or plain.cluster.jobs(),
        SUBMITTED_WITHIN_S,
        "bo-transfer to refuse or submit",
    )
    assert not plain.cluster.jobs(), "submitted over the partition's limit"
    assert cli.wait(10) == 2, cli.output[-1500:]
    err = cli.stderr
    assert err.count("\n") == 1 and "partition short's time limit of 5 minutes" in err, err
    assert not (plain.tmp / "out").exists()


def test_9_account_qos_memory_and_other_options_reach_the_job(accounting):
    """``--slurm-account``, ``--slurm-qos``, ``--slurm-mem`` and the
    pass-through ``--slurm-option`` (a value, and a flag in sbatch's own
    spelling) are in the submitted job (before: "unrecognized arguments")."""
    accounting.cluster.drain()
    cli = accounting.cli(
        "run",
        accounting.spec(ONE),
        "--slurm",
        "--slurm-account",
        ACCOUNT,
        "--slurm-qos",
        "normal",
        "--slurm-mem",
        "200M",
        "--slurm-option",
        "comment=from-bo-transfer",
        "--slurm-option=--requeue",
        "--out",
        "out",
    )
    jobs = accounting.wait_jobs(cli, bool, "the array to be queued", SUBMITTED_WITHIN_S)
    shown = accounting.cluster.cmd("scontrol", "show", "job", jobs[0].array_id)
    for setting in (
        f"Account={ACCOUNT}",
        "QOS=normal",
        "MinMemoryNode=200M",
        "Comment=from-bo-transfer",
        "Requeue=1",
    ):
        assert setting in shown, shown


def test_9_an_unknown_account_is_one_line_and_writes_nothing(accounting):
    """With accounting enforced (most clusters), sbatch refuses an account the
    user has no association with: one line naming it, exit 2, no folder."""
    cli = accounting.cli(
        "run", accounting.spec(ONE), "--slurm", "--slurm-account", "nosuch", "--out", "out"
    )
    assert cli.wait(SUBMITTED_WITHIN_S) == 2, cli.output[-1500:]
    err = cli.stderr
    assert err.count("\n") == 1 and "sbatch refuses the job" in err, err
    assert "account" in err.lower() and "Traceback" not in err, err
    assert not accounting.cluster.jobs()
    assert not (accounting.tmp / "out").exists()


def test_9_a_finished_sweep_leaves_no_task_files(cli_sweep):
    """Nothing is left in ``DIR/slurm`` (before: 4 files per array task, the
    submission script and its hidden first copy; 10 here)."""
    out, proc = cli_sweep
    assert proc.returncode == 0, proc.stderr[-1500:]
    assert not (out / "slurm").exists(), sorted((out / "slurm").rglob("*"))


# -- time limits, preemption and the size of array tasks -----------------------------------

#: Long enough per run that the test can signal the task between its two runs.
STOP_DELAY_S = 15


def test_7_a_task_told_to_stop_keeps_its_finished_runs_and_the_rest_resume(plain):
    """submitit's signal before the time limit (USR2, also what a preemption
    sends) while the second of a task's two runs executes: the first run is
    stored, the second is lost, not failed (before, it was stored as failed
    "timed-out and not checkpointable"); the same command runs it, and the
    numbers are a local run's."""
    spec = plain.spec(SLOW_TWO)
    args = ("run", spec, "--slurm", "--slurm-chunk", "2", "--out", "out")
    reference = plain.cli("run", spec, "--workers", "1", "--out", "local")
    cli = plain.cli(*args, delay_s=STOP_DELAY_S)
    (job,) = plain.wait_jobs(cli, running(1), "the task to run", SUBMITTED_WITHIN_S)
    wait_for(lambda: "1/2 runs: 1 done" in cli.said, 120, "the first run", lambda: cli.output)
    plain.cluster.cmd("scancel", "--signal=USR2", job.job_id)
    assert cli.wait(LOST_GRACE_S) == 1, cli.output[-1500:]
    assert "1 done, 0 failed, 1 lost, 0 skipped of 2 runs" in cli.stdout, cli.stdout
    assert "its Slurm task stopped on SIGUSR2" in cli.stdout, cli.stdout
    assert stored(plain.tmp / "out") == {"done": 1}
    rerun = plain.cli(*args)
    assert rerun.wait(120) == 0, rerun.output[-1500:]
    assert "1 done, 0 failed, 1 skipped of 2 runs" in rerun.stdout, rerun.stdout
    assert reference.wait(120) == 0, reference.output[-1500:]
    pd.testing.assert_frame_equal(
        exported(plain.tmp / "local", plain.tmp / "local.csv"),
        exported(plain.tmp / "out", plain.tmp / "slurm.csv"),
    )


def test_7_runs_are_packed_only_as_far_as_the_time_limit_allows(plain):
    """Three runs of budget 100 with no finished run to measure are estimated
    at 100 s each (``DEFAULT_EVAL_S`` per evaluation); ``--slurm-time 5``
    leaves a task 90 s of work, so ``--slurm-chunk 10`` still gives one run
    per array task, and the user is told the runs may not fit."""
    plain.cluster.drain()
    spec = {**ONE, "name": "long", "seeds": 3, "budget": 100}
    assert estimate_seconds(Sweep.from_dict(spec).runs()[:1], {}) == 100 * DEFAULT_EVAL_S
    cli = plain.cli(
        "run", plain.spec(spec), "--slurm", "--slurm-time", "5", "--slurm-chunk", "10", "--out", "o"
    )
    jobs = plain.wait_jobs(cli, lambda jobs: len(jobs) == 3, "three array tasks", 90)
    assert len({job.array_id for job in jobs}) == 1
    wait_for(lambda: "3 tasks of up to 1 runs" in cli.said, 10, "the submission line")
    warning = "3 runs are estimated to need more than the 1.5 min an array task can work"
    assert warning in cli.said, cli.said


def test_array_tasks_hold_what_fits_their_time_and_size():
    """Greedy packing, in order, never splitting a task: each array task stays
    within both limits unless one task alone exceeds them, and the next task
    would not have fitted."""
    runs = [RunSpec("forrester", "random", seed, 10, 3, 8) for seed in range(8)]
    estimates = [100, 200, 50, 300, 10, 10, 10, 900]
    tasks = [Task((run,), estimate_s=e) for run, e in zip(runs, estimates)]
    chunks = _chunks(tasks, 3, 350.0)
    assert [[t.estimate_s for t in c] for c in chunks] == [
        [100, 200, 50],  # 350 s: the next (300 s) would not fit
        [300, 10, 10],  # three runs: the size
        [10],  # 10 + 900 s would not fit
        [900],  # alone over the time: a task of its own
    ]
    assert [t for c in chunks for t in c] == tasks
    for chunk, following in zip(chunks, chunks[1:]):
        seconds = sum(t.estimate_s for t in chunk)
        assert seconds <= 350 and len(chunk) <= 3
        assert seconds + following[0].estimate_s > 350 or len(chunk) + 1 > 3


def test_estimates_come_from_the_runs_already_stored(tiny_results):
    """Seconds per evaluation: each method's median over its stored runs,
    recomputed here from the stored run rows; a method without runs gets
    ``DEFAULT_EVAL_S``. A seed block counts as its runs one by one."""
    with ResultStore(tiny_results) as store:
        rates = store.seconds_per_evaluation()
        rows = store.runs_frame()
    rows = rows[rows["status"] == "done"]
    expected = (rows["total_s"] / rows["budget"]).groupby(rows["method_name"]).median()
    assert rates == pytest.approx(expected.to_dict())
    specs = Sweep.from_dict({**FOUR, "methods": ["random", "cold-gp", "taf"]}).runs()
    tasks = plan(specs, batch_seeds=2, rates=rates)
    for task in tasks:
        want = sum(r.budget * rates.get(r.method, DEFAULT_EVAL_S) for r in task.runs)
        assert task.estimate_s == pytest.approx(want)
    assert "taf" not in rates and any(t.runs[0].method == "taf" for t in tasks)
    assert max(len(t) for t in tasks) == 2  # cold-gp's two seeds are one block


SLURM_FLAG_CASES = [
    ("time inside the margin", ["--slurm-time", "4"], "at least 5 minutes"),
    ("memory", ["--slurm-mem", "lots"], "--slurm-mem 'lots': give a size such as 4G"),
    ("option with its own flag", ["--slurm-option", "time=5"], "use --slurm-time"),
    ("option set by bo-transfer", ["--slurm-option=--array=0-3"], "bo-transfer sets it"),
    ("short option", ["--slurm-option", "p=gpu"], "give a long sbatch option"),
    ("chunk", ["--slurm-chunk", "0"], "must be >= 1"),
]


@pytest.mark.parametrize(
    "label, flags, message", SLURM_FLAG_CASES, ids=[c[0] for c in SLURM_FLAG_CASES]
)
def test_bad_slurm_flags_are_one_line_without_a_cluster(tmp_path, capsys, label, flags, message):
    """Checked before Slurm is asked anything: one line, exit 2, nothing written."""
    pytest.importorskip("submitit")
    spec = write_spec(tmp_path / "one.toml", ONE)
    code = main(["run", str(spec), "--slurm", *flags, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()
