"""Alertmanager's API v2, read for the alerts column: ``GET /api/v2/alerts``.

The answer is checked against the ``gettableAlerts`` shape of Alertmanager's OpenAPI
description (``api/v2/openapi.yaml``: every required field, the state enum); an answer of
another shape is an error the status shows, not a crash. Only active alerts that are neither
silenced nor inhibited are asked for. :class:`AlertFeed` caches the answer for a few seconds
so a refreshing page does not ask on every request.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from stratops.status.alerting import AlertsSource, AlertsState, FiringAlert
from stratops.status.endpoint import ServerUnreachable, get_json

ALERTMANAGER_ENV = "STRATOPS_ALERTMANAGER_URL"
QUERY = "/api/v2/alerts?active=true&silenced=false&inhibited=false&unprocessed=false"


class _Receiver(BaseModel):
    name: str


class _Status(BaseModel):
    state: Literal["unprocessed", "active", "suppressed"]
    silenced_by: list[str] = Field(alias="silencedBy")
    inhibited_by: list[str] = Field(alias="inhibitedBy")


class GettableAlert(BaseModel):
    """One alert of ``GET /api/v2/alerts`` (the fields stratops reads, all required ones)."""

    model_config = ConfigDict(frozen=True)

    labels: dict[str, str]
    annotations: dict[str, str]
    receivers: list[_Receiver]
    fingerprint: str
    starts_at: AwareDatetime = Field(alias="startsAt")
    updated_at: AwareDatetime = Field(alias="updatedAt")
    ends_at: AwareDatetime = Field(alias="endsAt")
    status: _Status
    generator_url: str | None = Field(None, alias="generatorURL")

    def firing(self) -> FiringAlert:
        return FiringAlert(
            name=self.labels.get("alertname", self.fingerprint),
            strategy=self.labels.get("strategy"),
            stage=self.labels.get("stage"),
            severity=self.labels.get("severity"),
            summary=self.annotations.get("summary", ""),
            starts_at=self.starts_at,
            fingerprint=self.fingerprint,
        )


_ALERTS = TypeAdapter(list[GettableAlert])


def parse_alerts(data: object) -> list[FiringAlert]:
    """The active alerts of an answer, sorted by name then fingerprint.

    Raises ValidationError when ``data`` is not a list of gettable alerts.
    """
    alerts = _ALERTS.validate_python(data)
    firing = [a.firing() for a in alerts if a.status.state == "active"]
    return sorted(firing, key=lambda a: (a.name, a.fingerprint))


def fetch_alerts(url: str, timeout: float = 3.0) -> AlertsState:
    """The firing alerts Alertmanager at ``url`` knows, or the error that kept them from us."""
    try:
        firing = parse_alerts(get_json(url, QUERY, None, timeout=timeout))
    except ServerUnreachable as exc:
        return AlertsState(state=AlertsSource.ERROR, url=url, error=f"unreachable: {exc}")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return AlertsState(
            state=AlertsSource.ERROR,
            url=url,
            error=f"not an Alertmanager v2 alerts answer: {where}: {first['msg']}",
        )
    return AlertsState(state=AlertsSource.OK, url=url, firing=firing)


@dataclass
class AlertFeed:
    """An Alertmanager's alerts (``url`` None: none configured), asked at most every ``ttl``."""

    url: str | None
    ttl: float = 5.0
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _last: AlertsState | None = field(default=None, init=False)
    _asked: float = field(default=float("-inf"), init=False)

    def __call__(self) -> AlertsState:
        if self.url is None:
            return AlertsState()
        with self._lock:
            if self._last is None or time.monotonic() - self._asked > self.ttl:
                self._last = fetch_alerts(self.url)
                self._asked = time.monotonic()
            return self._last
