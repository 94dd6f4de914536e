"""``slow-random``: random search whose every proposal first waits.

A stand-in for an expensive method, so a Slurm test can cancel a task while
it runs without burning the machine's CPUs. Loaded only in subprocesses,
through ``BO_TRANSFER_PLUGINS=slurm_slow_method`` (the test session's own
registry never sees it, so the registry-wide contract tests don't either).
The wait is ``BO_TRANSFER_TEST_DELAY_S`` seconds (default 0): it changes how
long a run takes, never its numbers, so a re-run without the wait must
reproduce them.
"""

from __future__ import annotations

import os
import time

from torch import Tensor

from bo_transfer.methods import register_method
from bo_transfer.methods.baselines import RandomSearch

DELAY_ENV = "BO_TRANSFER_TEST_DELAY_S"


@register_method("slow-random", summary="random search that waits before each proposal")
class SlowRandom(RandomSearch):
    def propose(self, X: Tensor, y: Tensor, seed: int) -> Tensor:
        time.sleep(float(os.environ.get(DELAY_ENV, "0")))
        return super().propose(X, y, seed)
