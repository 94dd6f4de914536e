"""The Dask executor: tasks on a Dask distributed cluster."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from bo_transfer.errors import UserError
from bo_transfer.sweep.executors.lifetime import sigint_ignored
from bo_transfer.sweep.executors.threads import default_workers
from bo_transfer.sweep.plan import Task, run_task
from bo_transfer.sweep.runner import RunResult


class DaskExecutor:
    """Dask distributed: ``address="local"`` starts a ``LocalCluster`` of
    ``workers`` single-threaded processes; ``tcp://HOST:PORT`` connects to a
    running scheduler (so dask-jobqueue or any Dask deployment works).

    A worker plugin pins torch to one thread in every worker; tasks of a lost
    worker are rescheduled by Dask, and a task that errs is retried once.
    Only plain data (run specs, results) crosses to the workers, so they need
    no shared file system.

    Used as a context manager (as :func:`~bo_transfer.sweep.run_sweep` does),
    the cluster is started or reached on entry, before the sweep writes
    anything, and closed on exit; :meth:`run` outside one does both itself.
    A local cluster's processes ignore Ctrl-C (the driver answers it and
    closes them quietly) and exit with the driver.
    """

    #: How long to try reaching a scheduler before giving up.
    connect_timeout = "20s"

    def __init__(self, address: str = "local", workers: int | None = None) -> None:
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise UserError(
                "--dask needs dask distributed: pip install 'bo_transfer[dask]'"
            ) from None
        if address != "local":
            _check_address(address)
        self.address = address
        self.workers = workers or default_workers()
        self._client = None
        self._cluster = None

    def describe(self) -> str:
        where = f"LocalCluster of {self.workers}" if self.address == "local" else self.address
        return f"dask ({where})"

    def __enter__(self) -> DaskExecutor:
        from bo_transfer.sweep.executors._dask_plugin import PinThreads

        try:
            self._start()
            self._client.register_plugin(PinThreads(local=self._cluster is not None))
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def _start(self) -> None:
        import dask
        from distributed import Client, LocalCluster

        with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
            if self.address == "local":
                # Its worker processes start (from Dask's threads) while Ctrl-C
                # is ignored, so they ignore it; the driver alone answers it.
                with sigint_ignored():
                    self._cluster = LocalCluster(
                        n_workers=self.workers,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                        # Errors only: closing a cluster with tasks in flight
                        # (an interrupted sweep) warns once per task.
                        silence_logs=logging.ERROR,
                    )
                self._client = Client(self._cluster)
            else:
                try:
                    self._client = Client(self.address, timeout=self.connect_timeout)
                except (OSError, ValueError) as exc:
                    raise UserError(
                        f"cannot reach Dask scheduler {self.address!r}: {exc}"
                    ) from None

    def __exit__(self, kind, exc, tb) -> None:
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        # After Ctrl-C, closing reports the cancelled tasks and workers at
        # length; the driver's one line says what matters.
        quiet = kind is not None and issubclass(kind, KeyboardInterrupt)
        with _silenced("distributed", quiet):
            if client is not None:
                client.close()
            if cluster is not None:
                cluster.close()

    def run(self, tasks: Sequence[Task]) -> Iterator[RunResult]:
        if self._client is None:
            with self:
                yield from self.run(tasks)
            return
        from distributed import as_completed as dask_completed

        futures = {
            self._client.submit(
                run_task, task, key=f"run-{task.runs[0].key}", pure=False, retries=1
            ): task
            for task in tasks
        }
        for future in dask_completed(futures):
            try:
                yield from future.result()
            except Exception as exc:
                for spec in futures[future].runs:
                    yield RunResult.lost(spec, "dask task failed", exc)


def _check_address(address: str) -> None:
    """A one-line error for an address Dask cannot even parse (no port, ...)."""
    from distributed.comm import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        if scheme in ("tcp", "tls"):
            parse_host_port(location)
    except ValueError:
        raise UserError(
            f"--dask {address!r} is not a scheduler address; use 'local' or tcp://HOST:PORT"
        ) from None


@contextmanager
def _silenced(logger: str, quiet: bool) -> Iterator[None]:
    """Only critical messages from ``logger`` inside the block, when ``quiet``."""
    log = logging.getLogger(logger)
    level = log.level
    if quiet:
        log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)
