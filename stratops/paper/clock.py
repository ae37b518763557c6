"""Clocks the paper engine sleeps on: the wall clock, or a manual one for tests.

A clock's ``sleep`` returns early (False) when the stop event is set, so SIGTERM interrupts
a paper run within one wake-up.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Monotonic seconds and an interruptible sleep."""

    def now(self) -> float:
        """Seconds on a monotonic scale."""
        ...

    def sleep(self, seconds: float, stop: threading.Event) -> bool:
        """Sleep ``seconds``; False when ``stop`` was set (at once or during the sleep)."""
        ...


class WallClock:
    """The machine's monotonic clock."""

    def now(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def sleep(self, seconds: float, stop: threading.Event) -> bool:
        """Wait on ``stop`` for ``seconds``."""
        return not stop.wait(max(seconds, 0.0))


class ManualClock:
    """A clock that jumps forward by each requested sleep: a day of paper runs instantly."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        """The current manual time."""
        return self._now

    def sleep(self, seconds: float, stop: threading.Event) -> bool:
        """Advance by ``seconds`` (recorded in ``sleeps``) unless stopped."""
        if stop.is_set():
            return False
        self.sleeps.append(seconds)
        self._now += max(seconds, 0.0)
        return True
