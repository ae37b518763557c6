"""Publish each reconciled strategy's break summary to the registry, for CI (adapter).

After each tick's reconciliation (:mod:`.recon_step`) the controller publishes, for every
strategy in its break state, the summary of :mod:`stratops.ops.reconciliation.published` — but
only when it says something new, or when the one published last is
:data:`~stratops.ops.reconciliation.published.REFRESH` old (a quiet strategy stays fresh while
the controller reconciles it; one whose controller stopped goes stale). The break state is
parsed again only when its file changed. A registry that cannot take the summary is logged and
tried again next tick: a gates check elsewhere then finds the check inconclusive, never green.
"""

from __future__ import annotations

import logging
from datetime import datetime

from stratops.ops.reconciliation.published import REFRESH, PublishedBreaks, summarize
from stratops.ops.reconciliation.store import BreakStore, ReconState
from stratops.registry.errors import RegistryError
from stratops.registry.registry import Registry


class BreakPublisher:
    """Publishes summaries; what a summary holds is :func:`summarize`'s decision."""

    def __init__(
        self, *, registry: Registry, store: BreakStore, actor: str, log: logging.Logger
    ) -> None:
        self.registry = registry
        self.store = store
        self.actor = actor
        self.log = log
        self._read: tuple[tuple[int, int] | None, ReconState] | None = None
        self._published: dict[str, PublishedBreaks] = {}

    def _state(self) -> ReconState:
        try:
            info = self.store.path.stat()
            stamp: tuple[int, int] | None = (info.st_mtime_ns, info.st_size)
        except FileNotFoundError:
            stamp = None
        if self._read is None or self._read[0] != stamp:
            self._read = (stamp, self.store.state())
        return self._read[1]

    def publish(self, now: datetime) -> list[str]:
        """Publish what changed or is due at ``now``; the strategies published."""
        state = self._state()
        done = []
        for strategy in sorted({r.strategy for r in state.reconciled}):
            summary = summarize(state, strategy, now, self.actor)
            last = self._published.get(strategy)
            if last is not None and last.same_breaks(summary) and now - last.computed_at < REFRESH:
                continue
            try:
                self.registry.publish_recon_breaks(strategy, summary.for_storage())
            except RegistryError as exc:
                self.log.warning(
                    "reconciliation breaks not published",
                    extra={"strategy": strategy, "error": str(exc)},
                )
                continue
            self._published[strategy] = summary
            done.append(strategy)
        return done
