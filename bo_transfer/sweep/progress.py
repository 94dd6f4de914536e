"""Sweep progress: a bar on a terminal, plain periodic lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from bo_transfer.sweep.outcome import DONE, LOST


def _duration(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class Progress:
    """Counts finished runs and shows done/failed/remaining with an ETA.

    On a TTY the bar is redrawn in place; otherwise a line is printed at most
    every ``interval`` seconds (and at the end), so logs stay short.

    An executor that waits on something the user should see (Slurm: job ids
    and pending reasons) reports it through :meth:`status`, shown at the end
    of the progress line, and one-off lines through :meth:`message`. A new
    status is shown at once (executors report one only when it changed).
    """

    def __init__(self, total: int, stream: TextIO | None = None, interval: float = 10.0) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval
        self.done = self.failed = self.lost = 0
        self.note = ""
        self.start = time.monotonic()
        self._last = -float("inf")

    def update(self, status: str) -> None:
        if status == DONE:
            self.done += 1
        elif status == LOST:
            self.lost += 1
        else:
            self.failed += 1
        now = time.monotonic()
        finished = self.finished
        if self.tty or finished or now - self._last >= self.interval:
            self._last = now
            self._show(now, finished)

    @property
    def finished(self) -> bool:
        return self.done + self.failed + self.lost == self.total

    def status(self, text: str) -> None:
        """What the executor waits for now, shown with the progress line."""
        if text == self.note:
            return
        self.note = text
        if self.finished:  # the last line is out
            return
        self._last = now = time.monotonic()
        self._show(now, False)

    def message(self, line: str) -> None:
        """A line to show once (on a terminal, above the bar)."""
        if self.tty:
            self.stream.write("\r\x1b[K" + line + "\n")
            self._show(time.monotonic(), self.finished)
        else:
            self.stream.write(line + "\n")
            self.stream.flush()

    def line(self, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        n = self.done + self.failed + self.lost
        elapsed = now - self.start
        remaining = self.total - n
        eta = _duration(elapsed / n * remaining) if n else "?"
        lost = f", {self.lost} lost" if self.lost else ""
        note = f"; {self.note}" if self.note and remaining else ""
        return (
            f"{n}/{self.total} runs: {self.done} done, {self.failed} failed{lost}, "
            f"{remaining} remaining; elapsed {_duration(elapsed)}, ETA {eta}{note}"
        )

    def _show(self, now: float, finished: bool) -> None:
        if self.tty:
            width = 24
            n = self.done + self.failed + self.lost
            filled = int(width * n / max(self.total, 1))
            bar = "#" * filled + "-" * (width - filled)
            end = "\n" if finished else ""
            self.stream.write(f"\r[{bar}] {self.line(now)}\x1b[K{end}")
        else:
            self.stream.write(self.line(now) + "\n")
        self.stream.flush()
