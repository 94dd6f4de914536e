"""A real single-node Slurm for the tests, started from Debian's packages.

:func:`slurm_cluster` starts ``munged``, optionally MariaDB and ``slurmdbd``
(accounting), then ``slurmctld`` and ``slurmd`` as plain child processes, all
state in one temporary directory, and stops them all on exit. Verified with
Debian 12's Slurm 22.05.8, munge 0.5.15 and MariaDB 10.11 in a container
without systemd or cgroups, as root and as an unprivileged user: startup took
about 1 s without accounting and 4 s with it on the 2-core dev machine.

What makes it work in a container (the :data:`SLURM_CONF` template below):

- ``ProctrackType=proctrack/linuxproc``, ``TaskPlugin=task/none``,
  ``JobAcctGatherType=jobacct_gather/none``: nothing touches cgroups.
- ``SelectType=select/cons_tres`` with ``CR_Core`` and the node line that
  ``slurmd -C`` prints (so slurmd never finds the node "reconfigured"), renamed
  after the machine's short host name with ``NodeAddr=127.0.0.1``.
- ``SlurmUser`` and ``SlurmdUser`` are the user running the tests (as
  another user than root, slurmd can run that user's jobs only).
- Every path (state, spool, pid and log files) lives under the temporary
  directory, and every port (slurmctld, slurmd, slurmdbd, MariaDB) is a free
  one picked at startup, so two test sessions on one machine run two
  independent clusters and nothing touches ``/etc/slurm`` or ``/run/munge``.
- munge: a fresh key, and ``AuthInfo=socket=...`` (plus
  ``AccountingStoragePass=<socket>`` towards slurmdbd, which is how Slurm
  names an alternative munge socket there) points Slurm at our ``munged``.
  munged refuses a socket whose directory path is not executable by all,
  which is why the root directory is made with :func:`tempfile.mkdtemp` and
  opened to 0755 instead of living under pytest's private 0700 base.
- ``slurmdbd`` reads ``slurmdbd.conf`` from the directory of ``SLURM_CONF``
  (it has no option for another path), which must be 0600 and owned by
  ``SlurmUser``. It talks to a private ``mariadbd`` over TCP on 127.0.0.1 as
  a user created at startup; slurmctld registers the cluster itself.
  ``AccountingStorageEnforce=associations`` as on most clusters: a job
  needs an existing account (:data:`ACCOUNT`); an unknown ``--account`` is
  refused at submission. Without enforcement, Slurm silently replaces it by
  the user's default account.
- Two partitions: ``main`` (default, no time limit) and ``short``
  (``MaxTime`` of :data:`SHORT_MAX_MIN` minutes, so that a longer
  ``--time`` pends with reason ``PartitionTimeLimit``).
- ``KillWait=2``: a cancelled submitit task ignores SIGTERM (submitit treats
  it as a preemption warning), so cancellations take ``KillWait`` seconds.

Clients find the cluster through ``SLURM_CONF`` alone (:meth:`SlurmCluster.env`).
Jobs started by ``sbatch`` inherit the submitter's environment, so the venv's
Python and ``PYTHONPATH`` reach submitit's ``python -m submitit.core._submit``.

Without accounting ``sacct`` fails ("Slurm accounting storage is disabled");
that is the situation of issue 18's first point.

Robustness: on exit, jobs are cancelled, the daemons stopped, and every
process whose environment carries this cluster's ``SLURM_CONF`` (daemons,
``slurmstepd``, job processes) killed. Each daemon gets ``PR_SET_PDEATHSIG``,
so it dies with the test process even on ``kill -9``; what a running job
leaves then is reaped by the next session (:func:`reap_stale_clusters`).
"""

from __future__ import annotations

import ctypes
import getpass
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

SLURM_BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "srun", "squeue", "scancel", "sinfo")
ACCOUNTING_BINARIES = ("slurmdbd", "sacct", "sacctmgr", "mariadbd", "mariadb-install-db", "mariadb")
INSTALL_HINT = "apt-get install slurmctld slurmd slurm-client munge"
ACCOUNTING_PACKAGES = "slurmdbd mariadb-server-core mariadb-client-core"
PREFIX = "bo-transfer-slurm-"
#: In each cluster's directory: the pid of the test process that owns it.
OWNER_FILE = "owner.pid"
PARTITION = "main"
#: With accounting, jobs need an account the user is associated with; the
#: user running the tests gets this one (root also has ``root``).
ACCOUNT = "bo-test"
SHORT_PARTITION = "short"
SHORT_MAX_MIN = 5
#: Job ids of the two kinds of cluster never overlap, because submitit caches
#: job states by id in one watcher per process, whichever cluster they came from.
FIRST_JOB_ID = {False: 1000, True: 500_000}

SLURM_CONF = """\
ClusterName={cluster}
FirstJobId={first_job_id}
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
AuthType=auth/munge
AuthInfo=socket={munge_socket}
CredType=cred/munge
SlurmUser={user}
SlurmdUser={user}
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
{accounting}
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=2
Waittime=0
{node_line} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName={partition} Nodes={node} Default=YES MaxTime=INFINITE State=UP
PartitionName={short} Nodes={node} MaxTime={short_max} State=UP
"""

SLURMDBD_CONF = """\
AuthType=auth/munge
AuthInfo=socket={munge_socket}
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={dbd_port}
SlurmUser={user}
LogFile={root}/log/slurmdbd.log
PidFile={root}/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={db_port}
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
"""


class SlurmUnavailable(RuntimeError):
    """The binaries are missing: the caller skips, with this message."""


def unavailable_reason(accounting: bool = False) -> str | None:
    """Why a cluster cannot start here (a skip reason), or None when it can."""
    names = SLURM_BINARIES + (ACCOUNTING_BINARIES if accounting else ())
    missing = [name for name in names if shutil.which(name, path=_search_path()) is None]
    if not missing:
        return None
    hint = f"{INSTALL_HINT} {ACCOUNTING_PACKAGES}" if accounting else INSTALL_HINT
    return f"Slurm not installed (no {', '.join(missing)}): {hint}"


def _search_path() -> str:
    """PATH, plus the sbin directories a non-root PATH often lacks (daemons)."""
    return os.pathsep.join((os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"))


def _which(name: str) -> str:
    found = shutil.which(name, path=_search_path())
    assert found, name
    return found


def free_port() -> int:
    """A TCP port nobody listens on now (the daemon binds it a moment later)."""
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the test process dies, even by SIGKILL."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@dataclass
class Job:
    """One line of ``squeue``: ``job_id`` is ``ARRAY_TASK`` for array tasks."""

    job_id: str
    array_id: str
    state: str
    reason: str
    partition: str


@dataclass
class SlurmCluster:
    """A running single-node cluster; see the module docstring.

    Attributes:
        root: the temporary directory holding configuration, state and logs.
        node: the node's name (the machine's short host name).
        accounting: whether ``slurmdbd`` records jobs, so ``sacct`` works.
    """

    root: Path
    node: str
    accounting: bool
    _procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def conf(self) -> Path:
        return self.root / "etc" / "slurm.conf"

    def env(self) -> dict[str, str]:
        """``os.environ`` with this cluster's ``SLURM_CONF``."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def cmd(self, *args: str, check: bool = True, timeout: float = 30) -> str:
        """Run a Slurm client command against this cluster; its stdout."""
        proc = subprocess.run(
            [_which(args[0]), *args[1:]],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode:
            raise RuntimeError(f"{' '.join(args)}: exit {proc.returncode}: {proc.stderr.strip()}")
        return proc.stdout

    def jobs(self) -> list[Job]:
        """Queued, running and completing jobs, array tasks one per line."""
        out = self.cmd("squeue", "-h", "-r", "-o", "%i|%F|%T|%r|%P")
        return [Job(*line.split("|")) for line in out.splitlines() if line.strip()]

    def node_state(self) -> str:
        """``idle``, ``allocated``, ``drained``, ... (empty while slurmctld is not up)."""
        out = self.cmd("sinfo", "-h", "-N", "-n", self.node, "-o", "%T", check=False)
        return out.split("\n", 1)[0].strip()  # one line per partition, all the same

    def drain(self) -> None:
        """Jobs submitted from now on pend (until :meth:`resume`)."""
        self.cmd("scontrol", "update", f"nodename={self.node}", "state=drain", "reason=test")

    def resume(self) -> None:
        self.cmd("scontrol", "update", f"nodename={self.node}", "state=resume", check=False)

    def cancel_all(self) -> None:
        self.cmd("scancel", f"--user={getpass.getuser()}", check=False)

    def reset(self, timeout: float = 30) -> None:
        """Back to an empty queue and an idle node, whatever a test left."""
        self.cancel_all()
        wait_for(lambda: not self.jobs(), timeout, "the queue to empty", self.log_tail)
        self.resume()
        wait_for(lambda: self.node_state() == "idle", timeout, "the node to be idle", self.log_tail)

    def log_tail(self, lines: int = 15) -> str:
        """The end of every daemon log, for error messages."""
        parts = []
        for log in sorted((self.root / "log").glob("*")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.name}\n" + "\n".join(text))
        return "\n".join(parts)

    # -- lifecycle ----------------------------------------------------------------

    def _spawn(self, name: str, args: list[str]) -> None:
        with open(self.root / "log" / f"{name}.out", "ab") as out:
            self._procs[name] = subprocess.Popen(
                [_which(args[0]), *args[1:]],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env(),
                preexec_fn=_die_with_parent,
            )

    def _await(self, name: str, ready: Callable[[], object], timeout: float) -> None:
        """Wait until daemon ``name`` is ``ready()``; raise, with the logs, if
        it exits or takes longer than ``timeout`` s."""

        def check() -> object:
            code = self._procs[name].poll()
            if code is not None:
                raise RuntimeError(f"{name} exited with {code}\n{self.log_tail()}")
            return ready()

        wait_for(check, timeout, name, self.log_tail)

    def start(self, timeout: float = 60) -> None:
        for sub in ("etc", "state", "spool", "log", "run", "munge", "db"):
            (self.root / sub).mkdir()
        (self.root / "munge").chmod(0o700)
        user = getpass.getuser()
        munge_socket = self.root / "run" / "munge.socket"
        key = self.root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        self._spawn(
            "munged",
            [
                "munged",
                "--foreground",
                f"--socket={munge_socket}",
                f"--key-file={key}",
                f"--pid-file={self.root / 'run' / 'munged.pid'}",
                f"--seed-file={self.root / 'munge' / 'munged.seed'}",
            ],
        )
        self._await("munged", munge_socket.exists, timeout)

        accounting = "AccountingStorageType=accounting_storage/none"
        if self.accounting:
            dbd_port = self._start_database(user, munge_socket, timeout)
            accounting = "\n".join(
                (
                    "AccountingStorageType=accounting_storage/slurmdbd",
                    "AccountingStorageEnforce=associations",
                    "AccountingStorageHost=127.0.0.1",
                    f"AccountingStoragePort={dbd_port}",
                    f"AccountingStoragePass={munge_socket}",
                )
            )
        node_line = subprocess.run(
            [_which("slurmd"), "-C"], capture_output=True, text=True, check=True
        ).stdout.splitlines()[0]
        node_line = f"NodeName={self.node} " + node_line.split(None, 1)[1]
        self.conf.write_text(
            SLURM_CONF.format(
                cluster=f"bo{os.getpid()}",
                first_job_id=FIRST_JOB_ID[self.accounting],
                node=self.node,
                ctld_port=free_port(),
                slurmd_port=free_port(),
                munge_socket=munge_socket,
                user=user,
                root=self.root,
                accounting=accounting,
                node_line=node_line,
                partition=PARTITION,
                short=SHORT_PARTITION,
                short_max=SHORT_MAX_MIN,
            )
        )
        self._spawn("slurmctld", ["slurmctld", "-D"])
        self._await("slurmctld", lambda: "UP" in self.cmd("scontrol", "ping", check=False), timeout)
        self._spawn("slurmd", ["slurmd", "-D", "-N", self.node])
        self._await("slurmd", lambda: self.node_state() == "idle", timeout)
        if self.accounting:  # slurmctld has registered the cluster by now
            self.cmd("sacctmgr", "-i", "add", "account", ACCOUNT, "description=tests")
            self.cmd("sacctmgr", "-i", "add", "user", user, f"account={ACCOUNT}")

    def _start_database(self, user: str, munge_socket: Path, timeout: float) -> int:
        """MariaDB and slurmdbd; the port slurmdbd listens on."""
        data = self.root / "db" / "data"
        db_socket = self.root / "run" / "mysql.sock"
        subprocess.run(
            [
                _which("mariadb-install-db"),
                "--no-defaults",
                f"--user={user}",
                f"--datadir={data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            capture_output=True,
            check=True,
        )
        db_port = free_port()
        self._spawn(
            "mariadbd",
            [
                "mariadbd",
                "--no-defaults",
                f"--user={user}",
                f"--datadir={data}",
                f"--socket={db_socket}",
                f"--port={db_port}",
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                f"--pid-file={self.root / 'run' / 'mariadbd.pid'}",
                f"--log-error={self.root / 'log' / 'mariadbd.log'}",
                "--innodb-buffer-pool-size=32M",
            ],
        )
        self._await("mariadbd", db_socket.exists, timeout)
        subprocess.run(
            [
                _which("mariadb"),
                "--no-defaults",
                f"--socket={db_socket}",
                "--user=root",
                "-e",
                "CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm'; "
                "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';",
            ],
            capture_output=True,
            check=True,
        )
        dbd_port = free_port()
        dbd_conf = self.root / "etc" / "slurmdbd.conf"
        dbd_conf.write_text(
            SLURMDBD_CONF.format(
                munge_socket=munge_socket,
                dbd_port=dbd_port,
                user=user,
                root=self.root,
                db_port=db_port,
            )
        )
        dbd_conf.chmod(0o600)
        self._spawn("slurmdbd", ["slurmdbd", "-D"])

        def listening() -> bool:
            with closing(socket.socket()) as s:
                return s.connect_ex(("127.0.0.1", dbd_port)) == 0

        self._await("slurmdbd", listening, timeout)
        return dbd_port

    def stop(self) -> None:
        """Cancel every job, stop the daemons, kill anything left of this cluster."""
        if "slurmctld" in self._procs and self._procs["slurmctld"].poll() is None:
            with suppress(Exception):  # stopping goes on: leftovers are killed below
                self.cancel_all()
                wait_for(lambda: not self.jobs(), 15, "the queue to empty")
        for name in ("slurmd", "slurmctld", "slurmdbd", "mariadbd", "munged"):
            proc = self._procs.get(name)
            if proc is None:
                continue
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        _kill(self.leftover_pids())

    def leftover_pids(self) -> list[int]:
        """Processes (other than this one) of this cluster: daemons,
        ``slurmstepd`` and the jobs' processes."""
        return processes_of(self.conf)


def processes_of(conf: Path) -> list[int]:
    """Processes (other than this one) whose environment has ``SLURM_CONF=conf``."""
    marker = f"SLURM_CONF={conf}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone, or another user's
            continue
        if marker in environ.split(b"\0"):
            pids.append(int(entry.name))
    return pids


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with suppress(ProcessLookupError):  # it ended meanwhile
            os.kill(pid, signal.SIGKILL)


def reap_stale_clusters(base: str | None = None) -> None:
    """Kill what is left of clusters whose test process died without stopping
    them, and remove their directories. After a ``kill -9`` the daemons die
    with the test process (``PR_SET_PDEATHSIG``), but the ``slurmstepd`` of a
    running job does not: it outlives its job, retrying to reach slurmd."""
    for root in Path(base or tempfile.gettempdir()).glob(f"{PREFIX}*"):
        try:
            owner = int((root / OWNER_FILE).read_text())
        except (OSError, ValueError):  # still starting, or not a cluster of ours
            continue
        if not Path(f"/proc/{owner}").exists():
            _kill(processes_of(root / "etc" / "slurm.conf"))
            shutil.rmtree(root, ignore_errors=True)


def poll(predicate: Callable[[], object], timeout: float, interval: float = 0.2) -> bool:
    """True as soon as ``predicate()`` is, False once ``timeout`` s have passed."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def wait_for(
    predicate: Callable[[], object],
    timeout: float,
    what: str,
    detail: Callable[[], str] | None = None,
) -> None:
    """:func:`poll`, raising a ``TimeoutError`` naming ``what`` when it times out."""
    if not poll(predicate, timeout):
        extra = f"\n{detail()}" if detail else ""
        raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}{extra}")


@contextmanager
def slurm_cluster(accounting: bool = False, base: str | None = None) -> Iterator[SlurmCluster]:
    """A started cluster for the duration of the block, its directory removed after.

    Args:
        accounting: also run MariaDB and ``slurmdbd`` so ``sacct`` answers.
        base: parent of the cluster's directory (default: the system temp dir).

    Raises:
        SlurmUnavailable: a program it needs is not installed (callers skip).
    """
    reason = unavailable_reason(accounting)
    if reason:
        raise SlurmUnavailable(reason)
    reap_stale_clusters(base)
    root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=base))
    root.chmod(0o755)
    (root / OWNER_FILE).write_text(str(os.getpid()))
    cluster = SlurmCluster(root, socket.gethostname().split(".")[0], accounting)
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        stack.callback(cluster.stop)
        cluster.start()
        yield cluster
