"""How a run ends and what it survived: statuses, fault counters, error lines.

One place for what every stage of a sweep says about a run: the runner and
the block runner record into a :class:`~bo_transfer.sweep.runner.RunResult`
with these helpers, executors use them for runs their worker lost, the driver
sums the faults and the store keeps the status.
"""

from __future__ import annotations

import signal
import traceback
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

# Defined with the errors (the registry needs it too); every stage imports it from here.
from bo_transfer.errors import error_line as error_line

#: A run that reached its budget.
DONE = "done"
#: A run that raised (stored with its error and traceback), or whose worker was lost.
FAILED = "failed"
#: What the store holds: a run is stored done or failed.
STATUSES = (DONE, FAILED)
#: A run its executor lost before it could finish, through no fault of its own
#: (a Slurm task cancelled, preempted, stopped at its time limit, or on a failed
#: node): never stored, so the same command runs it again.
LOST = "lost"


def fails_the_run(exc: BaseException) -> bool:
    """Whether ``exc``, raised inside a run (a method's or pair's code), fails
    that run rather than the sweep: any ``Exception``; ``SystemExit`` (a
    plugin calling ``sys.exit``: only the driver decides when the sweep
    ends); and ``KeyboardInterrupt`` where Ctrl-C cannot reach the process (a
    worker ignores SIGINT, so code raised it). In the driver a
    ``KeyboardInterrupt`` is taken for Ctrl-C and stops the sweep."""
    if isinstance(exc, (Exception, SystemExit)):
        return True
    return isinstance(exc, KeyboardInterrupt) and signal.getsignal(signal.SIGINT) in (
        signal.SIG_IGN,
        None,
    )


#: Faults a run survives, counted in ``RunResult.metadata`` under these names and
#: summed over the sweep in its closing summary (the text completes "N ...").
FAULTS: dict[str, str] = {
    "sobol_fallbacks": "iterations fell back to a Sobol point after a numerical failure",
    "nonfinite_values": "objective values were not finite (imputed as the worst seen)",
    "repaired_proposals": "proposals repeated an evaluated point and were redrawn",
    "fit_jitter_retries": "GP fits failed and were retried with more jitter",
    "fit_kept_previous": "GP fits failed twice and kept the previous hyperparameters",
    "batch_fallbacks": "iterations of seed blocks took each seed's own step after a "
    "numerical failure of the batched step",
    "below_optimum": "runs evaluated below their pair's certified optimum (regret is "
    "measured from the best value seen)",
}


def fault_count(metadata: dict, key: str) -> int:
    """How many of fault ``key`` a run's metadata records: most faults are
    counts; ``below_optimum`` holds where the run went below (one run)."""
    value = metadata.get(key, 0)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return 1 if value else 0


#: Longest error line kept per fallback in a run's metadata.
MAX_LINE = 300


def full_traceback(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


def count_warnings(caught: list[warnings.WarningMessage]) -> dict[str, int]:
    """Warnings recorded during a run, counted by category name."""
    return dict(Counter(w.category.__name__ for w in caught))


@contextmanager
def recording_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """Record every warning raised inside the block (none is shown), for
    :func:`count_warnings`."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
