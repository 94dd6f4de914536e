"""The Dask executor: tasks on a Dask distributed cluster."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from bo_transfer.errors import UserError
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
    """

    def __init__(self, address: str = "local", workers: int | None = None) -> None:
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise UserError(
                "--dask needs dask distributed: pip install 'bo_transfer[dask]'"
            ) from None
        self.address = address
        self.workers = workers or default_workers()

    def describe(self) -> str:
        where = f"LocalCluster of {self.workers}" if self.address == "local" else self.address
        return f"dask ({where})"

    def run(self, tasks: Sequence[Task]) -> Iterator[RunResult]:
        import dask
        from distributed import Client, LocalCluster
        from distributed import as_completed as dask_completed

        from bo_transfer.sweep.executors._dask_plugin import PinThreads

        with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
            if self.address == "local":
                cluster = LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
                client = Client(cluster)
            else:
                cluster = None
                try:
                    client = Client(self.address, timeout="20s")
                except OSError as exc:
                    raise UserError(
                        f"cannot reach Dask scheduler {self.address!r}: {exc}"
                    ) from None
            try:
                client.register_plugin(PinThreads())
                futures = {
                    client.submit(
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
            finally:
                client.close()
                if cluster is not None:
                    cluster.close()
