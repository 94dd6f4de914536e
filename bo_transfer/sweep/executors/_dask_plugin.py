"""The Dask worker plugin, in its own module: it subclasses a class of
``distributed`` (an optional dependency), and workers import it by name."""

from __future__ import annotations

from distributed import WorkerPlugin

from bo_transfer.sweep.executors.threads import set_single_thread


class PinThreads(WorkerPlugin):
    """Pins every Dask worker to one torch/BLAS thread."""

    name = "bo-transfer-pin-threads"

    def setup(self, worker) -> None:
        set_single_thread()
