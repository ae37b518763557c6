"""Webhook deliveries: signed, filtered, retried, and never sent twice across restarts."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
from webhook_receiver import receiver

from stratops.controller.audit import AuditLog
from stratops.model.notification import Webhook
from stratops.notify import payload
from stratops.notify.deliver import Notifier, Sender
from stratops.retry import RetryPolicy

SECRET = "s3cret"
FAST = RetryPolicy(attempts=3, backoff_seconds=0, max_backoff_seconds=0)
AT = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)


def hook(url: str, **fields: object) -> Webhook:
    spec = {"name": "desk", "url": url, "events": ["*"], "secretEnv": "HOOK_SECRET", **fields}
    return Webhook.model_validate(spec)


def append(log: AuditLog, n: int, action: str = "crash_loop", strategy: str = "btc-mm") -> None:
    log.append(
        key=f"e{n}", at=AT, actor="controller", action=action, reason=f"event {n}",
        strategy=strategy, stage="paper", version=n,
    )  # fmt: skip


def notifier(tmp_path: Path, hooks: list[Webhook], env: dict[str, str] | None = None) -> Notifier:
    sender = Sender({"HOOK_SECRET": SECRET} if env is None else env, retry=FAST)
    log = AuditLog(tmp_path / "audit.jsonl")
    return Notifier(log, tmp_path / "cursor.json", lambda: hooks, sender, desk="desk")


def test_events_arrive_signed_in_order_and_a_restart_sends_nothing_twice(tmp_path: Path) -> None:
    with receiver() as server:
        hooks = [hook(server.url)]
        first = notifier(tmp_path, hooks)
        for n in (1, 2, 3):
            append(first.audit, n)
        assert [d.outcome for d in first.flush()] == ["sent"] * 3
        assert [r.json["audit"]["version"] for r in server.received] == [1, 2, 3]
        for request in server.received:
            assert payload.verify(SECRET, request.headers, request.body)
            assert not payload.verify("other", request.headers, request.body)
            tampered = request.body.replace(b"event", b"EVENT")
            assert not payload.verify(SECRET, request.headers, tampered)
        assert first.flush() == []

        restarted = notifier(tmp_path, hooks)
        assert restarted.flush() == []
        append(restarted.audit, 4)
        assert [d.sequence for d in restarted.flush()] == [4]
        assert len(server.received) == 4


def test_only_the_wanted_events_and_strategies_are_sent(tmp_path: Path) -> None:
    with receiver() as server:
        only = hook(server.url, events=["alias_drift"], strategies=["btc-trend"])
        sender = notifier(tmp_path, [only])
        append(sender.audit, 1, "alias_drift", "btc-trend")
        append(sender.audit, 2, "alias_drift", "btc-mm")
        append(sender.audit, 3, "crash_loop", "btc-trend")
        assert [d.sequence for d in sender.flush()] == [1]
        assert sender.flush() == []


def test_a_flaky_webhook_is_retried_with_the_same_delivery_id(tmp_path: Path) -> None:
    with receiver(answers=[503, 500]) as server:
        sender = notifier(tmp_path, [hook(server.url)])
        append(sender.audit, 1)
        [delivery] = sender.flush()
        assert (delivery.outcome, delivery.status) == ("sent", 200)
        ids = {r.headers[payload.DELIVERY_HEADER] for r in server.received}
        assert len(server.received) == 3 and ids == {delivery.delivery_id}


def test_an_unreachable_webhook_loses_nothing(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    down = hook(f"http://127.0.0.1:{port}/hook")
    sender = notifier(tmp_path, [down])
    append(sender.audit, 1)
    append(sender.audit, 2)
    [delivery] = sender.flush()  # the second waits behind the first: order is kept
    assert (delivery.sequence, delivery.outcome) == (1, "unavailable")
    with receiver() as server:
        back = notifier(tmp_path, [hook(server.url)])
        assert [(d.sequence, d.outcome) for d in back.flush()] == [(1, "sent"), (2, "sent")]
        assert server.received[0].headers[payload.DELIVERY_HEADER] == delivery.delivery_id


def test_a_refused_event_is_final_and_a_missing_secret_holds_the_queue(tmp_path: Path) -> None:
    with receiver(answers=[400]) as server:
        sender = notifier(tmp_path, [hook(server.url)])
        append(sender.audit, 1)
        append(sender.audit, 2)
        assert [(d.sequence, d.outcome) for d in sender.flush()] == [(1, "rejected"), (2, "sent")]
        append(sender.audit, 3)
        unsigned = notifier(tmp_path, [hook(server.url)], env={})
        [held] = unsigned.flush()
        assert held.outcome == "unavailable" and "$HOOK_SECRET" in held.detail
        assert len(server.received) == 2  # nothing unsigned went out
        assert [d.sequence for d in notifier(tmp_path, [hook(server.url)]).flush()] == [3]


def test_a_new_webhook_starts_after_the_previous_flush(tmp_path: Path) -> None:
    with receiver() as old, receiver() as new:
        hooks = [hook(old.url, name="old")]
        sender = notifier(tmp_path, hooks)
        append(sender.audit, 1)
        sender.flush()
        hooks.append(hook(new.url, name="new"))
        append(sender.audit, 2)
        sender.flush()
        assert [r.json["audit"]["sequence"] for r in new.received] == [2]
        assert [r.json["audit"]["sequence"] for r in old.received] == [1, 2]


def test_slack_payload_is_an_incoming_webhook_message(tmp_path: Path) -> None:
    with receiver() as server:
        sender = notifier(tmp_path, [hook(server.url, format="slack")])
        append(sender.audit, 7)
        sender.flush()
        message = server.received[0].json
        assert message["text"] == "[desk] crash loop: btc-mm/paper v7"
        header, section = message["blocks"]
        assert header["type"] == "header" and section["type"] == "section"
        assert {"type": "mrkdwn", "text": "*reason*\nevent 7"} in section["fields"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"events": ["halted"]}, r"unknown event halted; expected '\*' or one of: alias_drift"),
        ({"name": "Desk"}, "should match pattern"),
        ({"secretEnv": "lower"}, "should match pattern"),
        ({"events": []}, "at least 1 item"),
    ],
)
def test_webhook_fields_are_validated(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        hook("http://127.0.0.1/hook", **fields)
    with pytest.raises(ValueError, match="should match pattern"):
        hook("ftp://example.com/hook")
