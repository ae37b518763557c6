"""Where the dashboard and the API read the desk's status from.

Under a controller, :class:`StatusBoard` is refreshed by the loop after each tick, in the
loop's thread (so the HTTP thread never touches Git while a tick does), and the server reads
the last refresh. Without a controller (``stratops ui``), :class:`PreviewBoard` computes a
preview on request, at most every few seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from stratops.controller.audit import verify_chain
from stratops.controller.reconcile import Reconciler, TickResult
from stratops.model.problems import InvalidDocumentError
from stratops.registry.errors import RegistryError
from stratops.status.alerting import AlertsState, with_alerts
from stratops.status.alertmanager import AlertFeed
from stratops.status.collect import DeskStatus, collect, stored_breaks
from stratops.status.detail import StrategyDetail, deployed_versions, detail
from stratops.status.reports import latest_reports, stored_file
from stratops.status.web import AuditView, Dashboard


def _no_alertmanager() -> AlertFeed:
    return AlertFeed(None)


@dataclass
class StatusBoard:
    """``alerts`` is asked on each read (the feed caches), so a tick never waits on it."""

    reconciler: Reconciler
    alerts: Callable[[], AlertsState] = field(default_factory=_no_alertmanager)
    _status: DeskStatus | None = field(default=None, init=False)

    def update(self, result: TickResult) -> None:
        self._status = collect(self.reconciler, result)

    def ticked(self) -> DeskStatus | None:
        """The status of the last tick, without the alerts."""
        return self._status

    def status(self) -> DeskStatus | None:
        found = self.ticked()
        if found is None:
            return None
        return alerted(found, self.alerts())

    def strategy(self, name: str) -> StrategyDetail | None:
        status = self.status()
        rows = [] if status is None else status.rows
        try:
            versions = self.reconciler.registry.versions(name)
        except RegistryError:
            versions = []
        if not versions and not any(row.strategy == name for row in rows):
            return None
        registry = self.reconciler.registry
        try:
            runs, note = self.reconciler.analyses.runs(name), ""
        except InvalidDocumentError as exc:
            runs, note = [], str(exc)
        return detail(
            name,
            rows,
            versions,
            self.reconciler.audit.events(),
            breaks=stored_breaks(self.reconciler)[0] or [],
            alerts=[] if status is None else status.alerts.firing,
            reports=latest_reports(registry, name, deployed_versions(rows, name)),
            analyses=runs,
            analyses_note=note,
        )

    def report_file(self, name: str, version: int, folder: str, file: str) -> bytes | None:
        return stored_file(self.reconciler.registry, name, version, folder, file)

    def audit(self) -> AuditView:
        log = self.reconciler.audit
        return AuditView(log.events(), verify_chain(log.path))


@dataclass
class PreviewBoard(StatusBoard):
    """A board with no controller: a preview of a tick, recomputed when older than ``ttl``."""

    ttl: float = 3.0
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _computed: float = field(default=float("-inf"), init=False)

    def ticked(self) -> DeskStatus | None:
        with self._lock:
            if time.monotonic() - self._computed > self.ttl:
                self._status = collect(self.reconciler)
                self._computed = time.monotonic()
            return self._status


def alerted(status: DeskStatus, alerts: AlertsState) -> DeskStatus:
    """``status`` with its alerts column filled from ``alerts``."""
    return status.model_copy(update={"rows": with_alerts(status.rows, alerts), "alerts": alerts})


def detail_alerted(found: StrategyDetail, alerts: AlertsState) -> StrategyDetail:
    """``found`` with its alerts from ``alerts``."""
    mine = [a for a in alerts.firing if a.strategy == found.strategy]
    return found.model_copy(update={"rows": with_alerts(found.rows, alerts), "alerts": mine})


def dashboard(board: StatusBoard, token: str | None, mlflow_ui: str | None = None) -> Dashboard:
    """The pages and API of ``board``; ``token`` required on every request when set."""
    links = {} if mlflow_ui is None else {"mlflow": mlflow_ui}
    return Dashboard(
        board.status, board.strategy, board.audit, board.report_file, token=token, links=links
    )
