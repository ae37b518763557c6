"""``stratops notify test``: send a sample event to the desk's webhooks."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import typer

from stratops.cli.desk import DESK_OPTION, desk_root
from stratops.cli.output import (
    EXIT_NEGATIVE,
    EXIT_RETRY,
    OUTPUT_OPTION,
    OutputFormat,
    emit,
    fail,
    new_table,
    render_problems,
    stdout,
)
from stratops.controller.audit import GENESIS, AuditEvent, event_hash
from stratops.gitops.desk import load_desk
from stratops.gitops.snapshot import MANIFESTS
from stratops.model.notification import Notification
from stratops.notify.deliver import Delivery, Sender

HELP = "Notifications: controller events sent to the desk's webhooks."

notify_app = typer.Typer(
    help=f"{HELP}\n\nExample: stratops notify test --webhook desk-slack",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    """Add the ``notify`` sub-app to ``app``."""
    app.add_typer(notify_app, name="notify")


def sample_event(now: datetime) -> AuditEvent:
    """A made-up event, never appended to the audit log, shaped like a real one."""
    body = {
        "sequence": 1,
        "key": "notify-test",
        "at": now.isoformat(),
        "actor": "stratops notify test",
        "action": "notification_test",
        "strategy": None,
        "stage": None,
        "version": None,
        "commit": None,
        "reason": "a test notification sent by `stratops notify test`",
        "details": {},
        "previous": GENESIS,
    }
    return AuditEvent.model_validate({**body, "hash": event_hash(body)})


@notify_app.command("test")
def send_test(
    desk: Path | None = DESK_OPTION,
    webhook: str | None = typer.Option(
        None, "--webhook", help="Only this webhook (its name); default: every one."
    ),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Send a sample event to the webhooks of the desk's Notification documents.

    Reads the documents in the working tree (what you are about to propose), signs like the
    controller does (the secret from the variable each webhook's secretEnv names), and prints
    what each webhook answered.

    Exit codes:
    0  every webhook accepted the sample
    1  a webhook refused it (4xx)
    2  no Notification document, an unknown --webhook, or an invalid document
    3  a webhook could not be reached, or its secret variable is not set

    Example: stratops notify test --webhook desk-slack -o json
    """
    root = desk_root(desk)
    loaded = load_desk([root / MANIFESTS])
    if loaded.problems:
        render_problems(loaded.problems)
        fail(f"{root / MANIFESTS} has invalid documents")
    hooks = [hook for _, doc in loaded.of_kind(Notification) for hook in doc.spec.webhooks]
    if webhook is not None:
        hooks = [hook for hook in hooks if hook.name == webhook]
    if not hooks:
        known = "no Notification document" if webhook is None else f"no webhook {webhook!r}"
        fail(f"{root / MANIFESTS}: {known}")
    event = sample_event(datetime.now(UTC).replace(microsecond=0))
    sender = Sender(os.environ)
    deliveries = [sender.send(hook, event, root.name) for hook in hooks]
    urls = {hook.name: hook.url for hook in hooks}
    emit(
        [{**_row(d), "url": urls[d.webhook]} for d in deliveries],
        output,
        lambda: _table(deliveries, urls),
    )
    outcomes = {d.outcome for d in deliveries}
    if "unavailable" in outcomes:
        raise typer.Exit(EXIT_RETRY)
    if "rejected" in outcomes:
        raise typer.Exit(EXIT_NEGATIVE)


def _row(delivery: Delivery) -> dict[str, object]:
    return {
        "webhook": delivery.webhook,
        "outcome": delivery.outcome,
        "status": delivery.status,
        "deliveryId": delivery.delivery_id,
        "detail": delivery.detail,
    }


def _table(deliveries: list[Delivery], urls: dict[str, str]) -> None:
    table = new_table("notify test", "WEBHOOK", "URL", "OUTCOME", "STATUS")
    for delivery in deliveries:
        status = "-" if delivery.status is None else str(delivery.status)
        table.add_row(delivery.webhook, urls[delivery.webhook], delivery.outcome, status)
    stdout.print(table)
    for delivery in deliveries:
        if delivery.outcome != "sent":
            stdout.print(f"{delivery.webhook}: {delivery.detail}")
