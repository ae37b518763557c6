"""``Notification``: which controller events go to which webhooks, in which format."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from stratops.model.base import DnsName, Document, Spec

# The audit actions a person wants to hear about; "*" means all of them.
NOTIFIABLE: tuple[str, ...] = (
    "alias_drift",
    "analysis_error",
    "analysis_failed",
    "analysis_inconclusive",
    "crash_loop",
    "deployment_blocked",
    "evidence_mismatch",
    "halt",
    "history_rewritten",
    "policy_refused",
    "promotion_refused",
    "ramp_opened",
    "recon_break_aged",
    "recon_break_open",
    "revision_refused",
    "rollback_closed",
    "rollback_merged",
    "rollback_opened",
    "rollback_waiting",
)

EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$", max_length=128)]
WebhookUrl = Annotated[
    str,
    StringConstraints(pattern=r"^https?://[^\s/?#]+[^\s]*$", max_length=2048),
    Field(description="http:// or https:// URL the events are POSTed to."),
]


class Webhook(Spec):
    name: DnsName
    url: WebhookUrl
    format: Literal["json", "slack"] = Field(
        "json",
        description="json: the event as stratops records it; slack: an incoming-webhook "
        "message (text and blocks).",
    )
    events: list[str] = Field(
        min_length=1, description=f"Audit actions to send, or '*': {', '.join(NOTIFIABLE)}."
    )
    strategies: list[DnsName] = Field(
        default_factory=list, description="Only these strategies' events; empty: every one."
    )
    secret_env: EnvName | None = Field(
        None,
        description="Environment variable holding the HMAC secret; the signature goes in "
        "X-Stratops-Signature (v1,<base64 HMAC-SHA256 of delivery id.timestamp.body>).",
    )

    @field_validator("events")
    @classmethod
    def _known_events(cls, events: list[str]) -> list[str]:
        unknown = sorted(set(events) - {*NOTIFIABLE, "*"})
        if unknown:
            raise ValueError(
                f"unknown event {', '.join(unknown)}; expected '*' or one of: "
                + ", ".join(NOTIFIABLE)
            )
        return events

    def wants(self, action: str, strategy: str | None) -> bool:
        chosen = "*" in self.events or action in self.events
        return chosen and (not self.strategies or strategy in self.strategies)


class NotificationSpec(Spec):
    webhooks: list[Webhook] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> NotificationSpec:
        names = [hook.name for hook in self.webhooks]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"webhook names must be unique, repeated: {', '.join(repeated)}")
        return self


class Notification(Document):
    kind: Literal["Notification"] = "Notification"
    spec: NotificationSpec
