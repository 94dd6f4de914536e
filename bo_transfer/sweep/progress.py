"""Sweep progress: a bar on a terminal, plain periodic lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from bo_transfer.sweep.outcome import DONE


def _duration(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class Progress:
    """Counts finished runs and shows done/failed/remaining with an ETA.

    On a TTY the bar is redrawn in place; otherwise a line is printed at most
    every ``interval`` seconds (and at the end), so logs stay short.
    """

    def __init__(self, total: int, stream: TextIO | None = None, interval: float = 10.0) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval
        self.done = self.failed = 0
        self.start = time.monotonic()
        self._last = -float("inf")

    def update(self, status: str) -> None:
        if status == DONE:
            self.done += 1
        else:
            self.failed += 1
        now = time.monotonic()
        finished = self.done + self.failed == self.total
        if self.tty or finished or now - self._last >= self.interval:
            self._last = now
            self._show(now, finished)

    def line(self, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        n = self.done + self.failed
        elapsed = now - self.start
        remaining = self.total - n
        eta = _duration(elapsed / n * remaining) if n else "?"
        return (
            f"{n}/{self.total} runs: {self.done} done, {self.failed} failed, "
            f"{remaining} remaining; elapsed {_duration(elapsed)}, ETA {eta}"
        )

    def _show(self, now: float, finished: bool) -> None:
        if self.tty:
            width = 24
            filled = int(width * (self.done + self.failed) / max(self.total, 1))
            bar = "#" * filled + "-" * (width - filled)
            end = "\n" if finished else ""
            self.stream.write(f"\r[{bar}] {self.line(now)}\x1b[K{end}")
        else:
            self.stream.write(self.line(now) + "\n")
        self.stream.flush()
