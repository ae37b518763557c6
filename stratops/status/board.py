"""Where the dashboard and the API read the desk's status from.

Under a controller, :class:`StatusBoard` is refreshed by the loop after each tick, in the
loop's thread (so the HTTP thread never touches Git while a tick does), and the server reads
the last refresh. Without a controller (``stratops ui``), :class:`PreviewBoard` computes a
preview on request, at most every few seconds.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from stratops.controller.audit import verify_chain
from stratops.controller.reconcile import Reconciler, TickResult
from stratops.registry.errors import RegistryError
from stratops.status.collect import DeskStatus, collect
from stratops.status.detail import StrategyDetail, detail
from stratops.status.web import AuditView, Dashboard


@dataclass
class StatusBoard:
    reconciler: Reconciler
    _status: DeskStatus | None = field(default=None, init=False)

    def update(self, result: TickResult) -> None:
        self._status = collect(self.reconciler, result)

    def status(self) -> DeskStatus | None:
        return self._status

    def strategy(self, name: str) -> StrategyDetail | None:
        status = self.status()
        rows = [] if status is None else status.rows
        try:
            versions = self.reconciler.registry.versions(name)
        except RegistryError:
            versions = []
        if not versions and not any(row.strategy == name for row in rows):
            return None
        return detail(name, rows, versions, self.reconciler.audit.events())

    def audit(self) -> AuditView:
        log = self.reconciler.audit
        return AuditView(log.events(), verify_chain(log.path))


@dataclass
class PreviewBoard(StatusBoard):
    """A board with no controller: a preview of a tick, recomputed when older than ``ttl``."""

    ttl: float = 3.0
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _computed: float = field(default=float("-inf"), init=False)

    def status(self) -> DeskStatus | None:
        with self._lock:
            if time.monotonic() - self._computed > self.ttl:
                self._status = collect(self.reconciler)
                self._computed = time.monotonic()
            return self._status


def dashboard(board: StatusBoard, token: str | None, mlflow_ui: str | None = None) -> Dashboard:
    """The pages and API of ``board``; ``token`` required on every request when set."""
    links = {} if mlflow_ui is None else {"mlflow": mlflow_ui}
    return Dashboard(board.status, board.strategy, board.audit, token=token, links=links)
