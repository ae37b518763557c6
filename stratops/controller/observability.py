"""Prometheus metrics, ``/healthz``, ``/readyz`` and structured JSON logs of the controller.

``/healthz`` answers while the process lives; ``/readyz`` only once a reconcile tick has
completed and the last one is recent (a stuck loop stops being ready). Metrics live in their
own registry so that several controllers in one test process do not collide.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from stratops.alerts.metrics import DEPLOYMENT_LABELS, SERIES
from stratops.alerts.regime import MarketContext
from stratops.model.alerts import AlertMetric


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.reconcile_seconds = Histogram(
            "stratops_reconcile_duration_seconds",
            "Duration of one reconcile tick (fetch excluded).",
            registry=self.registry,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.actions = Counter(
            "stratops_actions_total",
            "Actions applied, by kind and outcome.",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.refusals = Counter(
            "stratops_refusals_total",
            "Changes refused (unapproved push, gate digest mismatch, failing gate, ...).",
            ["reason"],
            registry=self.registry,
        )
        self.alias_drift = Counter(
            "stratops_alias_drift_total",
            "Stage aliases found moved outside Git (by hand in MLflow) and moved back.",
            ["stage"],
            registry=self.registry,
        )
        self.notifications = Counter(
            "stratops_notifications_total",
            "Events offered to webhooks, by webhook and outcome (sent, rejected, unavailable).",
            ["webhook", "outcome"],
            registry=self.registry,
        )
        self.drift = Gauge(
            "stratops_drift",
            "Actions the last plan held: deployments that differ from Git.",
            registry=self.registry,
        )
        self.blocked = Gauge(
            "stratops_strategies_blocked",
            "Strategies not reconciled in the last tick, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.last_success = Gauge(
            "stratops_last_successful_reconcile_timestamp_seconds",
            "Unix time of the last completed reconcile tick.",
            registry=self.registry,
        )
        self.recon_breaks = Gauge(
            "stratops_recon_breaks",
            "Open and aged reconciliation breaks (ledger vs venue), by class and severity.",
            ["strategy", "class", "severity"],
            registry=self.registry,
        )
        self.canary_phase = Gauge(
            "stratops_canary_phase",
            "1 for the phase the canary's analysis run is in (running, passed, failed, "
            "inconclusive, error), 0 for the others.",
            ["strategy", "stage", "phase"],
            registry=self.registry,
        )
        self.applied_commit = Gauge(
            "stratops_applied_commit_info",
            "The desk commit last applied (label commit), value 1.",
            ["commit"],
            registry=self.registry,
        )

        self.market_regime = Gauge(
            "stratops_market_regime",
            "1 for the liquidity regime the market is in (peak, normal, thin), 0 for the others.",
            ["venue", "symbol", "regime"],
            registry=self.registry,
        )
        self.market_overlay = Gauge(
            "stratops_market_overlay",
            "1 while an event overlay (funding_window, volatility_shock) is on, else 0.",
            ["venue", "symbol", "overlay"],
            registry=self.registry,
        )

        self.execution = {
            metric.value: Gauge(
                series.name,
                f"{metric.value} of the deployment's recent trading, {series.unit} "
                "(stratops.analytics.execution).",
                list(series.labels),
                registry=self.registry,
            )
            for metric, series in SERIES.items()
            if series.labels == DEPLOYMENT_LABELS
        }
        self.market_data_updated = Gauge(
            SERIES[AlertMetric.MARKET_DATA_AGE_SECONDS].name,
            "Unix time a deployment last took in market data of (venue, symbol).",
            ["venue", "symbol"],
            registry=self.registry,
        )

    def export_context(self, venue: str, symbol: str, context: MarketContext) -> None:
        """Set the market-context gauges of (venue, symbol) to ``context``."""
        for regime, value in context.regime.items():
            self.market_regime.labels(venue, symbol, regime.value).set(value)
        for overlay, value in context.overlays.items():
            self.market_overlay.labels(venue, symbol, overlay.value).set(value)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class Probes:
    """Health and readiness, updated by the loop."""

    def __init__(self, stale_after_seconds: float) -> None:
        self.stale_after_seconds = stale_after_seconds
        self.last_tick: float | None = None
        self.last_error: str | None = None

    def ticked(self, error: str | None = None) -> None:
        self.last_tick = time.monotonic()
        self.last_error = error

    def ready(self) -> tuple[bool, str]:
        if self.last_tick is None:
            return False, "no reconcile tick has completed yet"
        age = time.monotonic() - self.last_tick
        if age > self.stale_after_seconds:
            return False, f"last reconcile tick {age:.0f}s ago"
        return True, self.last_error or "ok"


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: status, content type, body and any further headers."""

    status: int
    content_type: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


Pages = Callable[[str, Mapping[str, str]], Answer | None]


def serve(
    metrics: Metrics,
    probes: Probes,
    host: str,
    port: int,
    on_webhook: Callable[[], None] = lambda: None,
    pages: Pages | None = None,
) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Serve ``/metrics``, ``/healthz``, ``/readyz`` and ``POST /webhook`` in a daemon thread.

    A POST to ``/webhook`` (a forge's push event, say) starts a reconcile tick at once. Any
    other GET goes to ``pages`` (the dashboard and its API), when given.
    """

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            routes: dict[str, Callable[[], Answer]] = {
                "/metrics": lambda: Answer(200, CONTENT_TYPE_LATEST, metrics.render()),
                "/healthz": lambda: Answer(200, "text/plain", b"ok\n"),
                "/readyz": self._ready,
            }
            route = routes.get(self.path.split("?")[0])
            answer = route() if route else None
            if answer is None and pages is not None:
                try:
                    answer = pages(self.path, dict(self.headers.items()))
                except Exception as exc:  # a page's bug must answer 500, not drop the connection
                    logging.getLogger("stratops.controller").exception("page failed")
                    answer = Answer(500, "text/plain", f"internal error: {exc}\n".encode())
            answer = answer or Answer(404, "text/plain", b"not found\n")
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer.body)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            found = self.path.split("?")[0] == "/webhook"
            if found:
                on_webhook()
            body = b"reconciling\n" if found else b"not found\n"
            self.send_response(202 if found else 404)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _ready(self) -> Answer:
            ok, why = probes.ready()
            return Answer(200 if ok else 503, "text/plain", f"{why}\n".encode())

        def log_message(self, format: str, *args: Any) -> None:
            del format, args  # requests are not worth a log line

    server = ThreadingHTTPServer((host, port), Handler)
    thread = threading.Thread(target=server.serve_forever, name="stratops-http", daemon=True)
    thread.start()
    return server, thread


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    RESERVED: ClassVar[frozenset[str]] = frozenset(vars(logging.makeLogRecord({})))

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in self.RESERVED})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(entry, default=str, sort_keys=True)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes each record to ``sys.stderr`` as it is then, never to the stream it had when
    created: a command run in process with its output captured (``stratops demo``) leaves
    no handler behind bound to a stream that has since closed."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def json_logging(level: int = logging.INFO) -> logging.Logger:
    logger = logging.getLogger("stratops.controller")
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter())
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
    return logger
