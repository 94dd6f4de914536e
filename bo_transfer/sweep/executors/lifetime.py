"""How worker processes live and die: never longer than their driver, and
deaf to the Ctrl-C that the driver alone answers.

A Ctrl-C in a terminal reaches every process of the foreground group, the
workers included; each would print its own traceback. Workers are therefore
started with SIGINT held pending (:func:`sigint_held`: a blocked signal mask
is inherited through fork and exec) or ignored (:func:`sigint_ignored`, for
processes another library starts from its own threads) and then ignore it;
the driver, interrupted, stops them.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: ``prctl`` option: the signal a process receives when its parent exits (Linux).
PR_SET_PDEATHSIG = 1


@contextmanager
def sigint_held() -> Iterator[None]:
    """SIGINT held pending in this thread, and in the threads and processes it
    starts inside the block; a Ctrl-C meanwhile reaches this thread after it."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextmanager
def sigint_ignored() -> Iterator[None]:
    """Ctrl-C ignored for the block, in this process and in the processes
    started meanwhile by any thread (an ignored signal stays ignored through
    exec, and Python keeps it so); a no-op outside the main thread, where
    Python cannot change signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def ignore_sigint() -> None:
    """Ignore Ctrl-C in this process (a pending one is discarded) and unhold it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def die_with(parent: int) -> None:
    """End this process when ``parent`` (its parent's pid) exits, however it
    exits (SIGKILL included): a parent-death signal on Linux, a watchdog thread
    polling the parent's pid elsewhere."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)
    else:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)
