"""The alerts column: Alertmanager's v2 answer checked for shape, alerts matched to rows."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from typer.testing import CliRunner

from stratops.cli.main import app
from stratops.model.base import Stage
from stratops.status.alerting import AlertsSource, AlertsState, with_alerts
from stratops.status.alertmanager import AlertFeed, fetch_alerts, parse_alerts
from stratops.status.rows import StatusRow, Sync

REQUIRED = ("labels", "annotations", "receivers", "fingerprint", "startsAt", "updatedAt",
            "endsAt", "status")  # fmt: skip


def gettable(name: str, state: str = "active", **labels: str) -> dict[str, Any]:
    """An alert as ``GET /api/v2/alerts`` of Alertmanager 0.25 returns it."""
    return {
        "labels": {"alertname": name, **labels},
        "annotations": {"summary": f"{name} fired"},
        "receivers": [{"name": "desk"}],
        "fingerprint": f"{abs(hash((name, tuple(labels.items())))):016x}",
        "startsAt": "2026-12-03T14:00:00.000Z",
        "updatedAt": "2026-12-03T14:00:01.000Z",
        "endsAt": "2026-12-03T14:05:00.000Z",
        "generatorURL": "http://prometheus/graph",
        "status": {"state": state, "silencedBy": [], "inhibitedBy": []},
    }


def row(strategy: str, stage: Stage) -> StatusRow:
    return StatusRow(
        strategy=strategy, stage=stage, desired_version=1, desired_allocation=1.0,
        running_version=1, running_allocation=1.0, sync=Sync.SYNCED, health=None,
    )  # fmt: skip


def test_alerts_go_to_their_strategy_and_stage_by_label() -> None:
    firing = parse_alerts(
        [
            gettable("SlippageHigh", strategy="a", stage="canary", severity="warning"),
            gettable("ReconBreaks", strategy="a"),  # every stage of a
            gettable("ControllerStale"),  # the desk's: on no row
            gettable("Silenced", state="suppressed", strategy="a"),
            gettable("Other", strategy="b", stage="paper"),
        ]
    )
    assert [a.name for a in firing] == ["ControllerStale", "Other", "ReconBreaks", "SlippageHigh"]
    assert firing[3].severity == "warning" and firing[3].summary == "SlippageHigh fired"
    rows = [row("a", Stage.PAPER), row("a", Stage.CANARY), row("c", Stage.PAPER)]
    shown = with_alerts(rows, AlertsState(state=AlertsSource.OK, url="u", firing=firing))
    assert [r.alerts for r in shown] == [
        ("ReconBreaks",), ("ReconBreaks", "SlippageHigh"), (),
    ]  # fmt: skip


@pytest.mark.parametrize("state", [AlertsState(), AlertsState(state=AlertsSource.ERROR)])
def test_without_an_answer_the_column_is_unknown_not_empty(state: AlertsState) -> None:
    assert [r.alerts for r in with_alerts([row("a", Stage.PAPER)], state)] == [None]


@given(st.sets(st.sampled_from(REQUIRED), min_size=1))
def test_an_alert_missing_a_required_field_is_rejected(missing: set[str]) -> None:
    alert = {k: v for k, v in gettable("X").items() if k not in missing}
    with pytest.raises(ValidationError):
        parse_alerts([alert])


@pytest.mark.parametrize(
    "answer",
    [{"alerts": []}, [{**gettable("X"), "status": {"state": "firing", "silencedBy": [],
                                                   "inhibitedBy": []}}],
     [{**gettable("X"), "startsAt": "yesterday"}]],
)  # fmt: skip
def test_an_answer_of_another_shape_is_rejected(answer: object) -> None:
    with pytest.raises(ValidationError):
        parse_alerts(answer)


def test_an_unreachable_alertmanager_is_an_error_state_not_a_crash() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    found = fetch_alerts(url, timeout=2)
    assert (found.state, found.url, found.firing) == (AlertsSource.ERROR, url, [])
    assert found.error is not None and found.error.startswith("unreachable")
    assert AlertFeed(None)() == AlertsState()  # not configured: nothing is asked
    assert AlertsState().model_dump(mode="json")["state"] == "not configured"


@pytest.mark.parametrize("command", [["status"], ["ui"], ["controller", "run", "--once"]])
def test_an_alertmanager_that_is_not_an_http_url_is_bad_input(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--alertmanager", "localhost:9093"])
    assert result.exit_code == 2
    assert "'localhost:9093' is not an http(s) URL" in result.output
