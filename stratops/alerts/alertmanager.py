"""The Alertmanager configuration of a desk's alert rules: routes by severity and team.

Critical alerts page the owning team during desk hours and the on-call rotation at nights and
on weekends: the team's route is ``continue: true`` and active in ``desk-hours``, the on-call
route after it is active in ``nights`` and ``weekends``, so an off-hours page is routed, never
muted. Warnings go to the team's receiver at any hour (they do not wake anyone). Receivers are
declared by name only: the desk adds its integrations (PagerDuty, Slack, webhooks) to them.
Times are UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stratops.model.alerts import AlertRule, Severity

DESK_HOURS = "desk-hours"
NIGHTS = "nights"
WEEKENDS = "weekends"
DEFAULT_RECEIVER = "stratops-default"


@dataclass(frozen=True)
class DeskHours:
    """Weekday hours (UTC, ``HH:MM``) the desk is staffed; the rest of a weekday is night."""

    start: str = "07:00"
    end: str = "21:00"

    @classmethod
    def parse(cls, text: str) -> DeskHours:
        start, sep, end = text.partition("-")
        if not sep or not (_clock(start) and _clock(end)) or start >= end:
            raise ValueError(
                f"expected desk hours as HH:MM-HH:MM in UTC (07:00-21:00), got {text!r}"
            )
        return cls(start, end)


def _clock(text: str) -> bool:
    hours, sep, minutes = text.partition(":")
    return (
        bool(sep)
        and len(text) == 5
        and hours.isdigit()
        and minutes.isdigit()
        and (int(hours) < 24 and int(minutes) < 60)
    )


def time_intervals(hours: DeskHours) -> list[dict[str, Any]]:
    weekdays = ["monday:friday"]
    return [
        {
            "name": DESK_HOURS,
            "time_intervals": [
                {
                    "weekdays": weekdays,
                    "times": [{"start_time": hours.start, "end_time": hours.end}],
                }
            ],
        },
        {
            "name": NIGHTS,
            "time_intervals": [
                {
                    "weekdays": weekdays,
                    "times": [
                        {"start_time": "00:00", "end_time": hours.start},
                        {"start_time": hours.end, "end_time": "24:00"},
                    ],
                }
            ],
        },
        {"name": WEEKENDS, "time_intervals": [{"weekdays": ["saturday", "sunday"]}]},
    ]


def _team_routes(pairs: Sequence[tuple[str, str]], page: bool) -> list[dict[str, Any]]:
    routes: list[dict[str, Any]] = []
    for team, oncall in pairs:
        match = [f'team="{team}"', f'oncall="{oncall}"']
        if not page:
            routes.append({"receiver": team, "matchers": match})
            continue
        routes.append(
            {
                "receiver": team,
                "matchers": match,
                "active_time_intervals": [DESK_HOURS],
                "continue": True,
            }
        )
        routes.append(
            {"receiver": oncall, "matchers": match, "active_time_intervals": [NIGHTS, WEEKENDS]}
        )
    return routes


def alertmanager_config(
    alerts: Sequence[AlertRule], hours: DeskHours = DeskHours()
) -> dict[str, Any]:
    """The configuration (as data, for YAML) routing the alerts of ``alerts``."""
    pairs = sorted({(a.spec.paging.desk_hours, a.spec.paging.off_hours) for a in alerts})
    receivers = sorted({DEFAULT_RECEIVER, *(name for pair in pairs for name in pair)})
    return {
        "route": {
            "receiver": DEFAULT_RECEIVER,
            "group_by": ["alertname", "strategy", "venue"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                {
                    "matchers": [f'severity="{Severity.CRITICAL.value}"'],
                    "repeat_interval": "1h",
                    "routes": _team_routes(pairs, page=True),
                },
                {
                    "matchers": [f'severity="{Severity.WARNING.value}"'],
                    "routes": _team_routes(pairs, page=False),
                },
            ],
        },
        "receivers": [{"name": name} for name in receivers],
        "time_intervals": time_intervals(hours),
    }
