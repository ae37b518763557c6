"""What a webhook receives for an audit event: the body, its delivery id and its signature.

Pure functions. The signature follows MLflow's webhooks: ``v1,`` and the base64 HMAC-SHA256,
keyed by the webhook's secret, of ``<delivery id>.<timestamp>.<body>``; a receiver recomputes it
and compares in constant time (:func:`verify`), and refuses a timestamp too far from its clock.
The delivery id depends only on the webhook and the event's hash, so a delivery retried after a
controller restart carries the same id and a receiver can drop the duplicate.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from stratops.controller.audit import AuditEvent
from stratops.model.notification import Webhook

SIGNATURE_HEADER = "X-Stratops-Signature"
DELIVERY_HEADER = "X-Stratops-Delivery-Id"
TIMESTAMP_HEADER = "X-Stratops-Timestamp"
EVENT_HEADER = "X-Stratops-Event"


def delivery_id(webhook: Webhook, event: AuditEvent) -> str:
    return hashlib.sha256(f"{webhook.name}\n{event.hash}".encode()).hexdigest()[:32]


def _subject(event: AuditEvent) -> str:
    parts = [event.strategy or "desk"]
    if event.stage:
        parts.append(event.stage)
    where = "/".join(parts)
    version = f" v{event.version}" if event.version is not None else ""
    return f"{where}{version}"


def json_body(event: AuditEvent, desk: str) -> dict[str, Any]:
    """The generic payload: the audit event as recorded, with the desk it came from."""
    return {"desk": desk, "event": event.action, "audit": event.model_dump(mode="json")}


def slack_body(event: AuditEvent, desk: str) -> dict[str, Any]:
    """A Slack incoming-webhook message: a one-line ``text`` and a section with the fields."""
    title = f"[{desk}] {event.action.replace('_', ' ')}: {_subject(event)}"
    fields = [
        {"type": "mrkdwn", "text": f"*{name}*\n{value}"}
        for name, value in (
            ("reason", event.reason),
            ("actor", event.actor),
            ("at", event.at.isoformat()),
            ("commit", (event.commit or "")[:12]),
            ("audit", f"#{event.sequence}"),
        )
        if value
    ]
    return {
        "text": title,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {"type": "section", "fields": fields},
        ],
    }


def body(webhook: Webhook, event: AuditEvent, desk: str) -> bytes:
    payload = slack_body(event, desk) if webhook.format == "slack" else json_body(event, desk)
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def signature(secret: str, delivery: str, timestamp: int, content: bytes) -> str:
    message = f"{delivery}.{timestamp}.".encode() + content
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers: dict[str, str], content: bytes) -> bool:
    """Whether a request's signature header matches its body (what a receiver runs)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        timestamp = int(lowered[TIMESTAMP_HEADER.lower()])
        expected = signature(secret, lowered[DELIVERY_HEADER.lower()], timestamp, content)
        return hmac.compare_digest(expected, lowered[SIGNATURE_HEADER.lower()])
    except (KeyError, ValueError):
        return False
