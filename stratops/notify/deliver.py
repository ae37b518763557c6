"""Send new audit events to the desk's webhooks, at least once, never twice in the normal case.

Each webhook has a cursor: the sequence of the last audit event it was offered. A flush sends
the events after it that the webhook wants, in order, saving the cursor after each delivery
(atomically, synced), so a controller restarted later carries on where it stopped and sends
nothing twice; the cursor moves over the events it does not want with one save per flush. A
webhook that cannot be reached (no answer, 5xx, 429, after the retries) keeps its cursor: the
same event goes again at the next flush, with the same delivery id. A refusal (4xx)
is final for that event: it is logged and counted, and the cursor moves on. A webhook seen for
the first time starts at the events appended since the previous flush, not at the log's start.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from stratops import __version__
from stratops.controller.audit import AuditEvent, AuditLog
from stratops.files import replace_file
from stratops.model.notification import Webhook
from stratops.notify import payload
from stratops.retry import (
    RetriesExhausted,
    Retry,
    RetryPolicy,
    call_with_retries,
    retry_after_seconds,
)

NOTIFY_RETRY = RetryPolicy(attempts=4, backoff_seconds=0.5, max_backoff_seconds=4.0)
Outcome = Literal["sent", "rejected", "unavailable"]


@dataclass(frozen=True)
class Delivery:
    webhook: str
    sequence: int
    action: str
    delivery_id: str
    outcome: Outcome
    status: int | None
    detail: str


@dataclass(frozen=True)
class _Answer:
    status: int
    retry_after: float | None = None


def _retry_decision(outcome: _Answer | Exception) -> Retry | None:
    """No answer, a 5xx or a 429 is worth another call (after the server's Retry-After)."""
    if isinstance(outcome, OSError):
        return Retry()
    if isinstance(outcome, Exception):
        return None
    if outcome.status >= 500 or outcome.status == 429:
        return Retry(after=outcome.retry_after)
    return None


@dataclass
class Sender:
    """POSTs one signed body; ``timeout`` per attempt, retries under ``retry``."""

    env: Mapping[str, str]
    retry: RetryPolicy = NOTIFY_RETRY
    timeout: float = 10.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time

    def send(self, webhook: Webhook, event: AuditEvent, desk: str) -> Delivery:
        delivery = payload.delivery_id(webhook, event)
        content = payload.body(webhook, event, desk)

        def done(outcome: Outcome, status: int | None, detail: str) -> Delivery:
            return Delivery(
                webhook.name, event.sequence, event.action, delivery, outcome, status, detail
            )

        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"stratops/{__version__}",
            payload.DELIVERY_HEADER: delivery,
            payload.EVENT_HEADER: event.action,
        }
        if webhook.secret_env is not None:
            secret = self.env.get(webhook.secret_env)
            if not secret:
                return done("unavailable", None, f"${webhook.secret_env} (its secret) is not set")
            timestamp = int(self.clock())
            headers[payload.TIMESTAMP_HEADER] = str(timestamp)
            headers[payload.SIGNATURE_HEADER] = payload.signature(
                secret, delivery, timestamp, content
            )
        try:
            answer = call_with_retries(
                lambda: self._post(webhook.url, content, headers),
                self.retry,
                classify=_retry_decision,
                sleep=self.sleep,
                clock=self.clock,
            )
        except RetriesExhausted as gave_up:
            last = gave_up.last
            return done("unavailable", getattr(last, "status", None), str(gave_up))
        status = answer.status
        if status >= 400:
            return done("rejected", status, f"the webhook answered {status}")
        return done("sent", status, f"the webhook answered {status}")

    def _post(self, url: str, content: bytes, headers: Mapping[str, str]) -> _Answer:
        """One exchange; no answer at all raises ``OSError`` (``URLError`` is one)."""
        request = urllib.request.Request(url, data=content, method="POST", headers=dict(headers))
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return _Answer(int(answer.status))
        except urllib.error.HTTPError as exc:
            return _Answer(exc.code, retry_after_seconds(exc.headers.get("Retry-After")))


class Notifier:
    """Offers each webhook the audit events it has not been offered yet."""

    def __init__(
        self,
        audit: AuditLog,
        cursor: Path,
        webhooks: Callable[[], Sequence[Webhook]],
        sender: Sender,
        *,
        desk: str,
        on_delivery: Callable[[Delivery], None] = lambda _: None,
    ) -> None:
        self.audit = audit
        self.cursor_path = cursor
        self.webhooks = webhooks
        self.sender = sender
        self.desk = desk
        self.on_delivery = on_delivery
        self._previous_end = self._end(audit.events())

    @staticmethod
    def _end(events: Sequence[AuditEvent]) -> int:
        return events[-1].sequence if events else 0

    def _cursors(self) -> dict[str, int]:
        if not self.cursor_path.exists():
            return {}
        loaded = json.loads(self.cursor_path.read_text(encoding="utf-8"))
        return {str(name): int(sequence) for name, sequence in loaded["webhooks"].items()}

    def _save(self, cursors: Mapping[str, int]) -> None:
        text = json.dumps({"webhooks": dict(sorted(cursors.items()))}, indent=1)
        replace_file(self.cursor_path, text, durable=True)

    def flush(self) -> list[Delivery]:
        """Send what is new; returns every delivery attempted, in order."""
        events = self.audit.events()
        saved = self._cursors()
        cursors = dict(saved)
        deliveries: list[Delivery] = []
        for webhook in self.webhooks():
            position = cursors.setdefault(webhook.name, self._previous_end)
            for event in events:
                if event.sequence <= position:
                    continue
                if webhook.wants(event.action, event.strategy):
                    delivery = self.sender.send(webhook, event, self.desk)
                    deliveries.append(delivery)
                    self.on_delivery(delivery)
                    if delivery.outcome == "unavailable":
                        break  # the same event goes first next time: order is kept
                    cursors[webhook.name] = event.sequence
                    self._save(cursors)  # at once: a restart must not send it again
                    saved = dict(cursors)
                position = cursors[webhook.name] = event.sequence
        if cursors != saved:  # events no webhook wanted: skipping them again costs nothing
            self._save(cursors)
        self._previous_end = self._end(events)
        return deliveries
