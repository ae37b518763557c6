"""CrashLoopBackOff, as Kubernetes does it: a pure policy, the clock is an argument.

A deployment that keeps dying is restarted after 10 s, then 20 s, 40 s, ... up to 5 min; once
it has run healthy for 10 min its restart count is reset. Nothing here sleeps.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta


@dataclass(frozen=True)
class BackoffPolicy:
    initial: timedelta = timedelta(seconds=10)
    maximum: timedelta = timedelta(minutes=5)
    reset_after: timedelta = timedelta(minutes=10)

    def next_delay(self, restarts: int) -> timedelta:
        """The wait before restart number ``restarts + 1``: 10, 20, 40, ... capped at 300 s."""
        if restarts <= 0:
            return timedelta(0)
        delay: timedelta = self.initial * 2 ** min(restarts - 1, 30)
        return min(delay, self.maximum)


@dataclass(frozen=True)
class CrashState:
    """Restarts so far, when the last one happened."""

    restarts: int = 0
    last_restart: datetime | None = None

    def crashed(self, now: datetime) -> CrashState:
        """The deployment was found dead at ``now`` and is restarted (the caller checks ready)."""
        return replace(self, restarts=self.restarts + 1, last_restart=now)

    def healthy(self, policy: BackoffPolicy, now: datetime) -> CrashState:
        """Seen running at ``now``: reset once it has run ``reset_after`` since the restart."""
        if self.last_restart is not None and now - self.last_restart >= policy.reset_after:
            return CrashState()
        return self

    def ready(self, policy: BackoffPolicy, now: datetime) -> datetime:
        """When the next restart may happen."""
        if self.last_restart is None:
            return now
        return self.last_restart + policy.next_delay(self.restarts)

    def crash_looping(self, policy: BackoffPolicy, now: datetime) -> bool:
        """Dead and still backing off: report ``crash_loop`` rather than restart."""
        return self.restarts > 0 and now < self.ready(policy, now)
