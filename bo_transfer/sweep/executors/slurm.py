"""The Slurm executor: tasks as a Slurm job array, through submitit.

What a cluster does to a sweep, and what this executor does about it:

- **Submission.** Before anything is written, ``sbatch --test-only`` checks the
  settings (partition, account, QoS, memory, extra options) and a time over the
  partition's limit is refused: one line each, never a job that pends forever.
  Without Slurm on the machine, ``--slurm`` is refused (submitit would quietly
  run everything as local processes).
- **Results.** Each array task writes each finished task's results to its own
  file in its batch folder (``DIR/slurm/<batch>/``) as soon as it has them, so
  a task stopped halfway keeps the runs it finished. The driver reads the
  files; submitit only submits and starts the tasks.
- **Job states** come from ``squeue`` (one call for every array of the sweep),
  which works with and without accounting, unlike submitit's ``sacct``: a task
  cancelled while pending is never recorded by ``sacct`` at all. A task that
  has left the queue (or is in a final state) is judged at once when its own
  end note says all its result files are there, otherwise after a short grace
  for a shared file system; tasks are judged together, never one after
  another.
- **Lost runs.** A run whose task ended without its result (cancelled,
  preempted, at its time limit, out of memory, a failed node) is *lost*, not
  failed: it is not stored, and the same command runs it again. A task told
  to stop (SIGTERM; submitit's signal before the time limit or a preemption)
  stops between its runs' Python steps and says so in its end note.
- **Interruptions.** Ctrl-C or SIGTERM of the driver cancels every task it
  submitted or adopted. Submitted arrays are recorded in
  ``DIR/slurm/arrays.json``: a later run of the same directory (after the
  driver was killed outright) first collects their results and waits for
  their tasks still queued or running, instead of submitting the runs again.
- **Time.** A task is told to stop :data:`SIGNAL_S` s before its limit (up to
  :data:`SIGNAL_EARLY_S` s earlier, Slurm's resolution), so ``--slurm-time``
  must leave time to work; runs are packed into a task only as far as their
  estimated seconds (:func:`~bo_transfer.sweep.plan.estimate_seconds`) fit.
- **Cleaning.** When the sweep ends, each batch folder is removed, except the
  logs of tasks that lost runs.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from bo_transfer.errors import UserError
from bo_transfer.sweep.executors.threads import set_single_thread
from bo_transfer.sweep.plan import Task, run_task
from bo_transfer.sweep.runner import RunResult, RunSpec
from bo_transfer.sweep.signals import signals_held

#: submitit's signal to a task this many seconds before its time limit (its default).
SIGNAL_S = 90
#: sbatch's ``--signal``: "the signal may be sent up to 60 seconds earlier than specified".
SIGNAL_EARLY_S = 60
#: What a task spends before its first run: Python, torch and BoTorch imports
#: on a shared file system.
STARTUP_S = 60
#: The shortest ``--slurm-time``: one minute of work besides the above.
MIN_TIME_MIN = math.ceil((SIGNAL_S + SIGNAL_EARLY_S + STARTUP_S + 60) / 60)
#: How often the batch folders are scanned for new results.
RESULTS_POLL_S = 1.0
#: ``squeue`` is asked every 5 s at first, then every tenth of the time since
#: the last submission, at most every 30 s (a cluster's controller is shared).
QUEUE_POLL_S = (5.0, 30.0)
#: How long results may take to appear after their task left the queue, when
#: the task left no end note (it was killed, or cancelled while pending).
RESULT_GRACE_S = 5.0
#: How long to wait for result files a task's end note lists (a shared file
#: system can show a file this late on another machine).
FILES_GRACE_S = 60.0
#: The programs ``--slurm`` needs on the submitting machine.
SLURM_PROGRAMS = ("sbatch", "squeue", "scancel", "scontrol", "srun")
#: Slurm states after which a job never runs again; any other (PENDING,
#: RUNNING, COMPLETING, REQUEUED, SUSPENDED, ...) is a job still in play.
FINAL_STATES = {
    "BOOT_FAIL",
    "CANCELLED",
    "COMPLETED",
    "DEADLINE",
    "FAILED",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "PREEMPTED",
    "REVOKED",
    "TIMEOUT",
}
#: sbatch options set by bo-transfer itself, and those with flags of their own.
RESERVED_OPTIONS = {
    "array": None,
    "output": None,
    "error": None,
    "open-mode": None,
    "signal": None,
    "wrap": None,
    "parsable": None,
    "test-only": None,
    "nodes": None,
    "ntasks": None,
    "ntasks-per-node": None,
    "partition": "--slurm-partition",
    "time": "--slurm-time",
    "account": "--slurm-account",
    "qos": "--slurm-qos",
    "mem": "--slurm-mem",
}
RECORD = "arrays.json"
#: What ``sbatch --test-only`` says when no node can take the job now.
NODES_UNAVAILABLE = "Requested node configuration is not available"


class Observer(Protocol):
    """Where the executor shows what it waits for (the sweep's progress display)."""

    def status(self, text: str) -> None:
        """What the executor waits for now, shown with the progress line."""

    def message(self, line: str) -> None:
        """A line to show once."""


# -- inside an array task --------------------------------------------------------------


class Stopped(BaseException):
    """Slurm told the task to stop. A ``BaseException``, so a run does not
    record it as its own failure: the run in progress is abandoned (lost)."""


def run_chunk(tasks: Sequence[Task], folder: str, index: int, time_min: int) -> int:
    """Run the tasks of one array task (number ``index``) one after another in
    this process, writing each task's results to ``folder`` as soon as they
    exist (``<index>-<j>.runs.pkl``), then an end note (``<index>.end.json``:
    how many result files, and why it stopped early, if it did). A result
    file already there (a task requeued after a preemption) is not redone.
    Returns the number of result files."""
    set_single_thread()
    started = time.monotonic()
    stop: list[str] = []

    def on_signal(signum: int, frame: object) -> None:
        if stop:  # stopping already
            return
        ran = time.monotonic() - started
        near = ran >= time_min * 60 - SIGNAL_S - SIGNAL_EARLY_S - STARTUP_S
        why = "its time limit was near" if near else "it was preempted or cancelled"
        stop.append(f"{signal.Signals(signum).name} after {ran:.0f} s ({why})")
        raise Stopped()

    signals = (signal.SIGTERM, _warning_signal())
    for sig in signals:
        signal.signal(sig, on_signal)
    out = Path(folder)
    targets = [out / f"{index}-{j}.runs.pkl" for j in range(len(tasks))]
    try:
        for task, target in zip(tasks, targets):
            if not target.exists():
                results = pickle.dumps(run_task(task))
                with signals_held(signals):  # a result being written is written whole
                    _write_atomic(target, results)
    except Stopped:
        pass
    finally:
        written = sum(target.exists() for target in targets)
        note = {"written": written, "stopped": stop[0] if stop else None}
        _write_atomic(out / f"{index}.end.json", json.dumps(note).encode())
    return written


def _warning_signal() -> signal.Signals:
    """The signal submitit asks Slurm to send before the time limit (USR2 by default)."""
    from submitit.slurm.slurm import SlurmJobEnvironment

    return signal.Signals[f"SIG{SlurmJobEnvironment.USR_SIG}"]


def _write_atomic(path: Path, data: bytes) -> None:
    """Write under a temporary name, then rename: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# -- the driver's side -------------------------------------------------------------------


@dataclass
class _Batch:
    """One submission: its folder (``DIR/slurm/<name>``), the Slurm id of each
    of its tasks and the run keys each holds."""

    name: str
    array: str
    ids: list[str]
    keys: list[list[str]]
    cluster: str = "slurm"

    def log(self, index: int) -> list[str]:
        """File names of task ``index``'s logs (submitit's naming)."""
        return [f"{self.ids[index]}_0_log.out", f"{self.ids[index]}_0_log.err"]


@dataclass
class _Watched:
    """A task of a batch the sweep waits for."""

    batch: _Batch
    index: int
    state: str = "PENDING"
    reason: str = ""
    ended_at: float | None = None

    @property
    def id(self) -> str:
        return self.batch.ids[self.index]


class SlurmExecutor:
    """Slurm through submitit: tasks are grouped into array tasks of at most
    ``chunk_size`` runs and as many as fit ``time_min`` by their estimated
    seconds (clusters discourage floods of tiny jobs); a task is never split.
    ``cluster="local"`` runs the array tasks as local processes (submitit's
    local executor), for trying the executor without a cluster. Results
    travel through ``folder`` (``DIR/slurm``: a file system the cluster
    shares). See the module docstring for what happens when things go wrong.

    Args:
        folder: where batch folders and the record of submitted arrays live.
        partition, account, qos: Slurm's; None for the cluster's defaults.
        time_min: each array task's time limit in minutes.
        array_parallelism: array tasks running at once, at most.
        chunk_size: runs per array task, at most.
        mem: memory per array task, as sbatch takes it (``4G``, ``500M``).
        options: other sbatch options, ``name=value`` or ``name`` (a flag).
        cluster: ``"slurm"``, or ``"local"``.
    """

    def __init__(
        self,
        folder: str | Path,
        partition: str | None = None,
        time_min: int = 60,
        array_parallelism: int = 64,
        chunk_size: int = 10,
        cluster: str | None = None,
        account: str | None = None,
        qos: str | None = None,
        mem: str | None = None,
        options: Sequence[str] = (),
    ) -> None:
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise UserError("--slurm needs submitit: pip install 'bo_transfer[slurm]'") from None
        if chunk_size < 1 or array_parallelism < 1:
            raise UserError("--slurm-chunk and --slurm-parallelism must be >= 1")
        if time_min < MIN_TIME_MIN:
            raise UserError(
                f"--slurm-time {time_min}: an array task needs at least {MIN_TIME_MIN} minutes "
                f"(submitit tells it to stop {SIGNAL_S} s before its limit, which Slurm may "
                f"send {SIGNAL_EARLY_S} s early, and starting Python takes up to a minute)"
            )
        if mem is not None and not re.fullmatch(r"\d+[KMGT]?", mem, re.IGNORECASE):
            raise UserError(f"--slurm-mem {mem!r}: give a size such as 4G or 500M")
        self.cluster = cluster or "slurm"
        if self.cluster not in ("slurm", "local"):
            raise UserError(f"unknown Slurm backend {self.cluster!r}; use 'slurm' or 'local'")
        self.extra = _parse_options(options)
        if self.cluster == "slurm":
            missing = [p for p in SLURM_PROGRAMS if shutil.which(p) is None]
            if missing:
                raise UserError(
                    f"--slurm: no Slurm on this machine ({', '.join(missing)} not on PATH); "
                    "run from the cluster's login node, or use --workers or --dask"
                )
        self.folder = Path(folder)
        self.partition, self.account, self.qos, self.mem = partition, account, qos, mem
        self.time_min = time_min
        self.array_parallelism = array_parallelism
        self.chunk_size = chunk_size
        #: The sweep's progress display, when it has one (set by the driver).
        self.observer: Observer | None = None
        #: Ids of the arrays (or single jobs) this executor submitted.
        self.submitted: list[str] = []
        self._local_jobs: dict[str, object] = {}
        # Per sweep: result files read, by (batch, task index); tasks that lost runs.
        self._files: dict[tuple[str, int], set[str]] = {}
        self._lost: set[tuple[str, int]] = set()

    def describe(self) -> str:
        where = "local processes via submitit" if self.cluster == "local" else "slurm"
        if self.partition:
            where += f", partition {self.partition}"
        return f"{where} (up to {self.chunk_size} runs per task, {self.time_min} min each)"

    @property
    def work_s(self) -> float:
        """Seconds an array task can count on for its runs."""
        return self.time_min * 60 - SIGNAL_S - SIGNAL_EARLY_S - STARTUP_S

    # -- before anything is written ----------------------------------------------------

    def __enter__(self) -> SlurmExecutor:
        """Check the settings with Slurm (nothing is submitted): a time over the
        partition's limit, and whatever ``sbatch --test-only`` refuses."""
        if self.cluster == "slurm":
            self._check_partition_time()
            test = ["sbatch", "--test-only", *self._flags(), "--wrap=true"]
            proc = _slurm(test)
            # Nodes that are down or drained right now make --test-only answer
            # NODE_CONFIG_UNAVAILABLE, although a job would just wait for them.
            if proc.returncode != 0 and NODES_UNAVAILABLE not in proc.stderr:
                raise UserError(f"--slurm: sbatch refuses the job: {_first_error(proc.stderr)}")
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def _flags(self) -> list[str]:
        """The sbatch options of every array task, as command-line flags."""
        flags = [f"--time={self.time_min}", "--cpus-per-task=1"]
        for name in ("partition", "account", "qos", "mem"):
            if getattr(self, name):
                flags.append(f"--{name}={getattr(self, name)}")
        flags += [f"--{k}" if v is True else f"--{k}={v}" for k, v in self.extra.items()]
        return flags

    def _check_partition_time(self) -> None:
        """A time over the partition's limit pends forever (PartitionTimeLimit): refuse it."""
        proc = _slurm(["scontrol", "show", "partition", "-o", *filter(None, [self.partition])])
        if proc.returncode != 0:
            return  # an unknown partition: sbatch --test-only names it
        for line in proc.stdout.splitlines():
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            if self.partition is None and fields.get("Default") != "YES":
                continue
            limit = _minutes(fields.get("MaxTime", "UNLIMITED"))
            if limit is not None and self.time_min > limit:
                raise UserError(
                    f"--slurm-time {self.time_min} is over partition "
                    f"{fields.get('PartitionName')}'s time limit of {limit} minutes; "
                    "its jobs would pend forever (PartitionTimeLimit)"
                )

    # -- the sweep -------------------------------------------------------------------------

    def run(self, tasks: Sequence[Task]) -> Iterator[RunResult]:
        wanted: dict[str, RunSpec] = {run.key: run for task in tasks for run in task.runs}
        self._files, self._lost = {}, set()
        batches = self._load()
        watched: list[_Watched] = []
        done = False
        try:
            # What earlier runs of this directory left: results, and tasks still in play.
            yield from self._collect(batches, wanted)
            watched = self._adopt(batches, wanted)
            held = {key for w in watched for key in w.batch.keys[w.index]}
            todo = [_only(task, lambda key: key in wanted and key not in held) for task in tasks]
            todo = [task for task in todo if task is not None]
            if todo:
                batch = self._submit(todo)
                batches.append(batch)
                watched += [_Watched(batch, i) for i in range(len(batch.ids))]
            yield from self._wait(batches, watched, wanted)
            done = True
        finally:
            if not done:  # interrupted, or the driver stopped reading: nobody will collect
                self._cancel(batches, watched)
        self._clean(batches)

    def _submit(self, tasks: list[Task]) -> _Batch:
        """Submit ``tasks`` as one array (recorded before anything else can happen)."""
        chunks = _chunks(tasks, self.chunk_size, self.work_s)
        self._warn_long(tasks)
        name = time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)
        folder = self.folder / name
        folder.mkdir(parents=True, exist_ok=True)
        n = len(chunks)
        args = ([str(folder)] * n, list(range(n)), [self.time_min] * n)
        # Ctrl-C and SIGTERM wait until the array is recorded: it is cancelled, or
        # adopted by the next run, never left running unknown.
        with signals_held():
            if self.cluster == "local":
                ids = self._submit_local(folder, chunks, args)
                array = ids[0]
            else:
                array, ids = self._submit_slurm(folder, chunks, args)
            keys = [[run.key for task in chunk for run in task.runs] for chunk in chunks]
            batch = _Batch(name, array, ids, keys, self.cluster)
            self._save([*self._load(), batch])
            self.submitted.append(array)
        most = max(sum(len(t) for t in chunk) for chunk in chunks)
        longest = max(sum(t.estimate_s for t in chunk) for chunk in chunks)
        what = f"job array {array}" if n > 1 else f"job {array}"
        self._say(
            f"slurm: submitted {what}: {n} task{'s' if n > 1 else ''} of up to {most} runs "
            f"(estimated {math.ceil(longest / 60)} min at most, limit {self.time_min} min); "
            f"squeue -j {array} shows {'them' if n > 1 else 'it'}, scancel {array} cancels "
            f"{'them' if n > 1 else 'it'}",
            always=False,
        )
        return batch

    def _submit_slurm(self, folder: Path, chunks: list, args: tuple) -> tuple[str, list[str]]:
        import submitit
        from submitit.core.utils import FailedJobError

        executor = submitit.SlurmExecutor(folder=folder)
        params = {
            "time": self.time_min,
            "cpus_per_task": 1,
            "array_parallelism": self.array_parallelism,
            "signal_delay_s": SIGNAL_S,
            "job_name": "bo-transfer",
        }
        params.update({k: getattr(self, k) for k in ("partition", "account", "qos", "mem")})
        params = {k: v for k, v in params.items() if v is not None}
        if self.extra:
            params["additional_parameters"] = dict(self.extra)
        executor.update_parameters(**params)
        try:
            jobs = executor.map_array(run_chunk, chunks, *args)
        except FailedJobError as exc:
            raise UserError(
                f"--slurm: sbatch refused the job array: {_first_error(str(exc))}"
            ) from None
        array = jobs[0].job_id.split("_")[0]
        return array, [job.job_id for job in jobs]

    def _submit_local(self, folder: Path, chunks: list, args: tuple) -> list[str]:
        import submitit

        executor = submitit.LocalExecutor(folder=folder)
        executor.update_parameters(timeout_min=self.time_min)
        jobs = executor.map_array(run_chunk, chunks, *args)
        self._local_jobs.update({job.job_id: job for job in jobs})
        return [job.job_id for job in jobs]

    def _warn_long(self, tasks: list[Task]) -> None:
        over = [task for task in tasks if task.estimate_s > self.work_s]
        if over:
            run = over[0].runs[0]
            self._say(
                f"slurm: {sum(len(t) for t in over)} runs are estimated to need more than the "
                f"{self.work_s / 60:.1f} min an array task can work with --slurm-time "
                f"{self.time_min} (e.g. {run.method_label} on {run.pair}: about "
                f"{math.ceil(over[0].estimate_s / 60)} min); raise --slurm-time if they are lost "
                "to the time limit"
            )

    def _adopt(self, batches: list[_Batch], wanted: dict[str, RunSpec]) -> list[_Watched]:
        """Tasks of earlier submissions still queued or running: those holding
        runs this sweep wants are waited for, the others cancelled."""
        ids = [i for b in batches if b.cluster == self.cluster for i in b.ids]
        states = self._states(batches) if ids else {}
        adopted: list[_Watched] = []
        useless = []
        for batch in batches:
            for index, keys in enumerate(batch.keys):
                state = (states or {}).get(batch.ids[index])
                alive = state is not None and state[0] not in FINAL_STATES
                if states is None or alive:  # squeue failed: assume alive, judge later
                    if any(key in wanted for key in keys):
                        adopted.append(_Watched(batch, index))
                    elif alive:
                        useless.append(batch.ids[index])
        if useless:  # nobody would collect their results: this sweep cleans DIR/slurm
            names = " ".join(useless)
            error = self._scancel(useless)
            self._say(
                f"slurm: could not cancel job {names} of an earlier run into this directory "
                f"({error}), which holds none of this sweep's runs; cancel it: scancel {names}"
                if error
                else f"slurm: cancelled job {names} of an earlier run into this directory, "
                "which holds none of this sweep's runs"
            )
        if adopted:
            runs = sum(1 for w in adopted for key in w.batch.keys[w.index] if key in wanted)
            arrays = ", ".join(sorted({w.batch.array for w in adopted}))
            self._say(
                f"slurm: waiting for {len(adopted)} tasks of job {arrays} from an earlier run "
                f"of this sweep, which hold {runs} of its runs",
                always=False,
            )
        return adopted

    def _wait(
        self, batches: list[_Batch], watched: list[_Watched], wanted: dict[str, RunSpec]
    ) -> Iterator[RunResult]:
        """Yield results as they appear until every watched task has ended and
        been judged; runs of an ended task without a result come back lost."""
        started = time.monotonic()
        next_poll = started
        while watched:
            yield from self._collect(batches, wanted)
            now = time.monotonic()
            if not any(key in wanted for w in watched for key in w.batch.keys[w.index]):
                # Every result is in: the tasks are exiting, their folders soon cleaned.
                next_poll = min(next_poll, now + RESULTS_POLL_S)
            if now >= next_poll:
                states = self._states(batches)
                self._update(watched, states, now)
                age = now - started
                next_poll = now + min(max(QUEUE_POLL_S[0], age / 10), QUEUE_POLL_S[1])
            for task in [w for w in watched if self._judgeable(w, now)]:
                yield from self._collect(batches, wanted)
                yield from self._judge(task, wanted)
                watched.remove(task)
            if watched:
                time.sleep(RESULTS_POLL_S)
        self._show("")

    def _collect(self, batches: list[_Batch], wanted: dict[str, RunSpec]) -> Iterator[RunResult]:
        """Yield the wanted results of the result files not read yet."""
        for batch in batches:
            folder = self.folder / batch.name
            try:
                folder.chmod(folder.stat().st_mode)  # refreshes a network file system's cache
                names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".runs.pkl"))
            except OSError:
                continue
            for name in names:
                read = self._files.setdefault((batch.name, int(name.split("-", 1)[0])), set())
                if name in read:
                    continue
                read.add(name)
                try:
                    results = pickle.loads((folder / name).read_bytes())
                except Exception as exc:  # unreadable: its runs are judged lost later
                    self._say(f"slurm: cannot read {folder / name}: {exc}")
                    continue
                for result in results:
                    if wanted.pop(result.spec.key, None) is not None:
                        yield result

    def _states(self, batches: list[_Batch]) -> dict[str, tuple[str, str]] | None:
        """Task id -> (state, pending reason) of the tasks the queue still knows;
        None when it cannot be asked now (squeue failed)."""
        if self.cluster == "local":
            return {
                job_id: ("COMPLETED" if job.done() else "RUNNING", "")
                for job_id, job in self._local_jobs.items()
            }
        arrays = sorted({b.array for b in batches if b.cluster == "slurm"})
        if not arrays:
            return {}
        proc = _slurm(["squeue", "-h", "-r", "-t", "all", "-j", ",".join(arrays), "-o", "%i|%T|%r"])
        if proc.returncode != 0:
            if "Invalid job id" in proc.stderr:  # every one of them has left the queue
                return {}
            self._show(f"slurm: squeue failed ({_first_error(proc.stderr)}); retrying")
            return None
        states = {}
        for line in proc.stdout.splitlines():
            parts = line.split("|", 2)
            if len(parts) == 3:
                states[parts[0]] = (parts[1], parts[2])
        return states

    def _update(
        self, watched: list[_Watched], states: dict[str, tuple[str, str]] | None, now: float
    ) -> None:
        """Record each watched task's state; mark those that have ended."""
        if states is None:
            return
        for w in watched:
            state, reason = states.get(w.id, ("", ""))  # gone: ended (or forgotten) by Slurm
            w.state, w.reason = state, reason
            if (not state or state in FINAL_STATES) and w.ended_at is None:
                w.ended_at = now
        self._show(_status_line(watched))

    def _judgeable(self, w: _Watched, now: float) -> bool:
        """Whether every result an ended task wrote can be expected to be visible."""
        if w.ended_at is None:
            return False
        end = self.folder / w.batch.name / f"{w.index}.end.json"
        try:
            note = json.loads(end.read_text())
        except (OSError, ValueError):
            return now - w.ended_at >= RESULT_GRACE_S
        read = self._files.get((w.batch.name, w.index), set())
        return len(read) >= note["written"] or now - w.ended_at >= FILES_GRACE_S

    def _judge(self, w: _Watched, wanted: dict[str, RunSpec]) -> Iterator[RunResult]:
        """The wanted runs of ended task ``w`` that have no result: lost."""
        missing = [key for key in w.batch.keys[w.index] if key in wanted]
        if not missing:
            return
        why = self._why(w)
        self._lost.add((w.batch.name, w.index))  # its logs are kept
        for key in missing:
            yield RunResult.unfinished(wanted.pop(key), why)

    def _why(self, w: _Watched) -> str:
        """Why task ``w`` ended without some of its results, in a few words."""
        try:
            note = json.loads((self.folder / w.batch.name / f"{w.index}.end.json").read_text())
        except (OSError, ValueError):
            note = {}
        state = w.state
        if note.get("stopped") and state in ("", "COMPLETED", "FAILED"):
            what = f"its Slurm task stopped on {note['stopped']}"
        else:
            what = f"its Slurm task {_STATE_WORDS.get(state, f'ended ({state})')}"
        if state == "TIMEOUT" or "time limit was near" in what:
            what += f": raise --slurm-time (now {self.time_min}) or lower --slurm-chunk"
        elif state == "OUT_OF_MEMORY":
            what += ": raise --slurm-mem"
        return what

    def _cancel(self, batches: list[_Batch], watched: list[_Watched]) -> None:
        """Cancel what this sweep waits for (on an interruption): the arrays it
        submitted, and the tasks of earlier ones it adopted."""
        if self.cluster == "local":
            for job in self._local_jobs.values():
                job.cancel(check=False)
            return
        new = {b.array for b in batches if b.array in self.submitted}
        ids = sorted(new | {w.id for w in watched if w.batch.array not in new})
        if not ids:
            return
        error = self._scancel(ids)
        names = " ".join(ids)
        if error:
            self._say(f"slurm: could not cancel job {names} ({error}); cancel it: scancel {names}")
        else:
            self._say(f"slurm: cancelled job {names} (scancel {names})")

    def _scancel(self, ids: list[str]) -> str:
        """``scancel ids``; its error line, or "" when it worked."""
        try:
            proc = _slurm(["scancel", *ids])
        except subprocess.TimeoutExpired:
            return "scancel did not answer"
        return _first_error(proc.stderr) if proc.returncode else ""

    def _clean(self, batches: list[_Batch]) -> None:
        """Remove the batch folders of this sweep, but the logs of tasks that
        lost runs, and the record (every task has ended and been judged)."""
        kept = []
        for batch in batches:
            folder = self.folder / batch.name
            keep = {
                name
                for index in range(len(batch.ids))
                if (batch.name, index) in self._lost
                for name in batch.log(index)
            }
            if folder.exists():
                for path in folder.iterdir():
                    if path.name not in keep:
                        path.unlink()
                if keep & {p.name for p in folder.iterdir()}:
                    kept.append(folder)
                else:
                    folder.rmdir()
        (self.folder / RECORD).unlink(missing_ok=True)
        if kept:
            folders = ", ".join(map(str, kept))
            self._say(f"slurm: the logs of the tasks that lost runs are in {folders}")
        if self.folder.exists() and not any(self.folder.iterdir()):
            self.folder.rmdir()

    # -- the record of submitted arrays ----------------------------------------------------

    def _load(self) -> list[_Batch]:
        try:
            record = json.loads((self.folder / RECORD).read_text())
        except FileNotFoundError:
            return []
        except ValueError:
            raise UserError(
                f"{self.folder / RECORD} is damaged; check squeue for tasks of an earlier run, "
                "then remove the file"
            ) from None
        return [_Batch(**batch) for batch in record]

    def _save(self, batches: list[_Batch]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        data = json.dumps([b.__dict__ for b in batches], indent=1)
        _write_atomic(self.folder / RECORD, data.encode())

    # -- what the user sees ------------------------------------------------------------------

    def _show(self, text: str) -> None:
        if self.observer is not None:
            self.observer.status(text)

    def _say(self, line: str, always: bool = True) -> None:
        """Show ``line`` above the progress; with no progress display, only
        lines that must be seen (``always``) go to stderr."""
        if self.observer is not None:
            self.observer.message(line)
        elif always:
            print(line, file=sys.stderr, flush=True)


_STATE_WORDS = {
    "": "left the queue without its results (cancelled while pending, or forgotten by Slurm)",
    "BOOT_FAIL": "failed: its node did not boot",
    "CANCELLED": "was cancelled",
    "COMPLETED": "ended without reporting them (see its log)",
    "DEADLINE": "passed its deadline",
    "FAILED": "failed (see its log)",
    "NODE_FAIL": "failed with its node",
    "OUT_OF_MEMORY": "ran out of memory",
    "PREEMPTED": "was preempted",
    "TIMEOUT": "reached its time limit",
}


def _status_line(watched: list[_Watched]) -> str:
    """``"slurm job 1234: 2 running, 3 pending (Resources)"``."""
    alive = [w for w in watched if w.ended_at is None]
    if not alive:
        return ""
    arrays = sorted({w.batch.array for w in alive})
    counts = Counter(w.state.lower() or "pending" for w in alive)
    parts = [f"{n} {state}" for state, n in counts.most_common()]
    reasons = sorted({w.reason for w in alive if w.state == "PENDING" and w.reason != "None"})
    if reasons:
        parts = [p + f" ({', '.join(reasons[:2])})" if p.endswith("pending") else p for p in parts]
    return f"slurm job{'s' if len(arrays) > 1 else ''} {', '.join(arrays)}: {', '.join(parts)}"


def _chunks(tasks: Sequence[Task], size: int, work_s: float) -> list[list[Task]]:
    """Tasks in order, cut into array tasks of at most ``size`` runs whose
    estimated seconds fit ``work_s`` (a task that alone exceeds either is an
    array task of its own; a task is never split)."""
    chunks: list[list[Task]] = []
    runs = seconds = 0.0
    for task in tasks:
        if not chunks or runs + len(task) > size or seconds + task.estimate_s > work_s:
            chunks.append([])
            runs = seconds = 0.0
        chunks[-1].append(task)
        runs += len(task)
        seconds += task.estimate_s
    return chunks


def _only(task: Task, keep: Callable[[str], bool]) -> Task | None:
    """``task`` with only the runs whose key ``keep`` accepts; None when none is
    left. A seed block's remaining runs compute the same numbers as the full
    block (see :mod:`bo_transfer.sweep.block`)."""
    runs = tuple(run for run in task.runs if keep(run.key))
    if not runs:
        return None
    if len(runs) == len(task.runs):
        return task
    return replace(task, runs=runs, estimate_s=task.estimate_s * len(runs) / len(task.runs))


def _parse_options(options: Sequence[str]) -> dict[str, str | bool]:
    """``["constraint=haswell", "--exclusive"]`` -> ``{"constraint": "haswell",
    "exclusive": True}``; an option bo-transfer sets itself is refused."""
    parsed: dict[str, str | bool] = {}
    for option in options:
        name, has_value, value = option.lstrip("-").partition("=")
        if not re.fullmatch(r"[a-z][a-z0-9-]+", name):
            raise UserError(
                f"--slurm-option {option!r}: give a long sbatch option, e.g. "
                "--slurm-option constraint=haswell or --slurm-option exclusive"
            )
        if name in RESERVED_OPTIONS:
            flag = RESERVED_OPTIONS[name]
            instead = f"use {flag}" if flag else "bo-transfer sets it for every array task"
            raise UserError(f"--slurm-option {option!r}: {instead}")
        parsed[name] = value if has_value else True
    return parsed


def _slurm(command: list[str]) -> subprocess.CompletedProcess:
    """A Slurm client command, its output captured (never waits forever)."""
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def _first_error(text: str) -> str:
    """The line of a Slurm command's output that says what is wrong."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if "error:" in line:
            return line.split("error:", 1)[1].strip()
    return re.sub(r"^\w+: ", "", lines[0]) if lines else "no message"


def _minutes(text: str) -> int | None:
    """Slurm's ``[days-]hours:minutes:seconds`` (or ``UNLIMITED``) in minutes."""
    if text in ("UNLIMITED", "INFINITE", "NONE"):
        return None
    days, _, clock = text.rpartition("-")
    h, m, s = ([0, 0] + [int(v) for v in clock.split(":")])[-3:]
    return (int(days or 0) * 24 + h) * 60 + m + (s > 0)
