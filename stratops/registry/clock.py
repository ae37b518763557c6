"""The registry's notion of "now", injected so that tests are deterministic."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class WallClock:
    """The system clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)
