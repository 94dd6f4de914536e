"""``signals_held``: a signal that arrives inside the block takes effect after it.

The driver stores and counts a result under it, and a Slurm array task writes
a result file under it (``bo_transfer.sweep.executors.slurm.run_chunk``), so a
signal never leaves half of either.
"""

from __future__ import annotations

import os
import signal
import threading

import pytest

from bo_transfer.sweep.signals import signals_held

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="POSIX signals")


class Stop(BaseException):
    """What a handler raises to end the work (as a Slurm task's does)."""


@pytest.fixture
def handled() -> list:
    """SIGUSR1's handler for the test notes each signal, then raises ``Stop``."""
    seen: list = []

    def handler(signum, frame):
        seen.append(signum)
        raise Stop()

    previous = signal.signal(signal.SIGUSR1, handler)
    yield seen
    signal.signal(signal.SIGUSR1, previous)


def test_a_signal_from_another_thread_waits_for_the_block(handled):
    """A thread started before the block (as torch's or Dask's are) gets the
    signal from the kernel; its handler still runs only after the block, once,
    and its exception comes out of the ``with`` statement."""
    go, sent = threading.Event(), threading.Event()

    def sender() -> None:
        go.wait()
        os.kill(os.getpid(), signal.SIGUSR1)
        sent.set()

    thread = threading.Thread(target=sender)
    thread.start()
    steps = []
    with pytest.raises(Stop), signals_held((signal.SIGUSR1,)):
        go.set()
        sent.wait()
        while len(steps) < 100_000:  # bytecode enough for a pending handler to run
            steps.append(len(steps))
        assert handled == []
    thread.join()
    assert len(steps) == 100_000 and handled == [signal.SIGUSR1]


def test_the_handlers_are_back_after_the_block(handled):
    """Nothing held: the block ends normally and the test's handler is back."""
    handler = signal.getsignal(signal.SIGUSR1)
    with signals_held((signal.SIGUSR1,)):
        assert signal.getsignal(signal.SIGUSR1) is not handler
    assert signal.getsignal(signal.SIGUSR1) is handler and handled == []
    with pytest.raises(Stop):
        signal.raise_signal(signal.SIGUSR1)
    assert handled == [signal.SIGUSR1]
