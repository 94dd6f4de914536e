"""The Dask worker plugin, in its own module: it subclasses a class of
``distributed`` (an optional dependency), and workers import it by name."""

from __future__ import annotations

import threading

from distributed import WorkerPlugin

from bo_transfer.sweep.executors.lifetime import ignore_sigint
from bo_transfer.sweep.executors.threads import set_single_thread


class PinThreads(WorkerPlugin):
    """Pins every Dask worker to one torch/BLAS thread; in a local cluster
    (``local``), the worker also ignores Ctrl-C, which its driver answers
    (a worker the nanny restarts included)."""

    name = "bo-transfer-pin-threads"

    def __init__(self, local: bool = False) -> None:
        self.local = local

    def setup(self, worker) -> None:
        set_single_thread()
        if self.local and threading.current_thread() is threading.main_thread():
            ignore_sigint()
