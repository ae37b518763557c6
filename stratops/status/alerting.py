"""The firing alerts of the desk, and which status row each belongs to (pure).

An alert belongs to a strategy by its ``strategy`` label (the label the desk's rules carry,
:mod:`stratops.alerts.metrics`), and to one stage of it when it also has a ``stage`` label;
an alert without a ``strategy`` label is the desk's (controller, market data) and is listed
but on no row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from stratops.status.rows import StatusRow


class AlertsSource(StrEnum):
    NOT_CONFIGURED = "not configured"
    OK = "ok"
    ERROR = "error"


class FiringAlert(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str = Field(description="The alertname label.")
    strategy: str | None
    stage: str | None
    severity: str | None
    summary: str = ""
    starts_at: AwareDatetime
    fingerprint: str


class AlertsState(BaseModel):
    """What the alerts column shows: the firing alerts, or why there are none to show."""

    model_config = ConfigDict(frozen=True)

    state: AlertsSource = AlertsSource.NOT_CONFIGURED
    url: str | None = Field(None, description="The Alertmanager asked.")
    error: str | None = None
    firing: list[FiringAlert] = Field(default_factory=list)


def alerts_of(row: StatusRow, firing: Iterable[FiringAlert]) -> tuple[str, ...]:
    """The names of the alerts firing for ``row``, sorted, each once."""
    return tuple(
        sorted(
            {
                a.name
                for a in firing
                if a.strategy == row.strategy and a.stage in (None, row.stage.value)
            }
        )
    )


def with_alerts(rows: Sequence[StatusRow], alerts: AlertsState) -> list[StatusRow]:
    """``rows`` with their alerts column: None unless Alertmanager answered."""
    return [
        row.model_copy(
            update={
                "alerts": alerts_of(row, alerts.firing) if alerts.state is AlertsSource.OK else None
            }
        )
        for row in rows
    ]
