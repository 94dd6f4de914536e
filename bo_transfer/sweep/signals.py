"""Signals held over a block of code: one that arrives inside the block takes
effect right after it, so the block is done whole or not at all."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def signals_held(
    signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM),
) -> Iterator[None]:
    """Hold ``signals`` (Ctrl-C and SIGTERM by default) for the block: each one
    that arrives meanwhile is handed to its handler when the block ends.

    Python runs signal handlers in the main thread whichever thread the
    kernel delivers the signal to (Dask's threads, torch's OpenMP threads),
    so masking the signal in the main thread alone is not enough: the
    handlers themselves are swapped for ones that note the signal, and the
    noted signals are handed to the original handlers when the block ends.
    Outside the main thread (where handlers cannot be set) nothing is held.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[int] = []

    def note(signum, frame):
        noted.append(signum)

    previous = {s: signal.signal(s, note) for s in signals}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in noted:
            handler = previous[signum]
            if callable(handler):
                handler(signum, None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(signum)
