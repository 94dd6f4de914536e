"""The Dask worker plugin, in its own module so the workers can import it."""

from __future__ import annotations

from distributed import WorkerPlugin


class PinThreads(WorkerPlugin):
    """Pins every Dask worker to one torch/BLAS thread."""

    name = "bo-transfer-pin-threads"

    def setup(self, worker) -> None:
        from bo_transfer.sweep.executors import set_single_thread

        set_single_thread()
