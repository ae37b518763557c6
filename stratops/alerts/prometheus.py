"""The Prometheus rule file of a desk's alert rules: a pure function of the rules and calendar.

One group, ``stratops``, evaluated each minute in order (a rule sees the rules before it):

Market context
    ``stratops:hour_of_week`` and ``stratops:minute_of_day`` from the clock (UTC);
    ``stratops:market_regime:calendar{regime}`` from the desk's hour-of-week profile (1 in the
    regime's buckets, else 0); ``stratops:market_regime{regime}``: what the controller exports
    (``stratops_market_regime`` of the reference venue and symbol) or, while it exports
    nothing, the calendar; ``stratops:event_overlay{overlay}``: the funding window from the
    clock, the volatility shock from the controller.
Thresholds
    ``stratops:alert_threshold{alert,regime|overlay}``, one constant series per threshold, and
    ``stratops:alert_threshold_in_force{alert}``: a shock's threshold while a shock is on, else a
    funding window's during one, else the current regime's.
Alerts
    One alert per ``AlertRule`` comparing its metric with its threshold in force, labelled with
    severity, team and on-call receivers, annotated with a summary and the ``runbook_url``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from stratops.alerts.metrics import SERIES
from stratops.analytics.regimes import RegimeRules
from stratops.model.alerts import AlertRule, Overlay
from stratops.model.analysis import Regime

HOUR_OF_WEEK = "stratops:hour_of_week"
MINUTE_OF_DAY = "stratops:minute_of_day"
CALENDAR = "stratops:market_regime:calendar"
REGIME = "stratops:market_regime"
OVERLAY = "stratops:event_overlay"
THRESHOLD = "stratops:alert_threshold"
IN_FORCE = "stratops:alert_threshold_in_force"


@dataclass(frozen=True)
class Calendar:
    """What the rule file knows of the market without the controller: the regime of each
    hour-of-week bucket (``[start, end)`` runs) and the funding settlements."""

    ranges: dict[Regime, list[tuple[int, int]]]
    venue: str
    symbol: str
    rules: RegimeRules = field(default_factory=RegimeRules)


def _number(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _in_ranges(runs: Sequence[tuple[int, int]]) -> str:
    if not runs:
        return f"{HOUR_OF_WEEK} * 0"
    union = " or ".join(f"({HOUR_OF_WEEK} >= {a} < {b})" for a, b in runs)
    return f"({union}) * 0 + 1 or {HOUR_OF_WEEK} * 0"


def _funding(rules: RegimeRules) -> str:
    window = rules.funding_window_ns // 60_000_000_000
    if not rules.funding_hours:
        return f"{MINUTE_OF_DAY} * 0"
    near = " or ".join(
        f"(abs({MINUTE_OF_DAY} - {60 * hour}) <= {window})"
        f" or (abs({MINUTE_OF_DAY} - {60 * hour}) >= {1440 - window})"
        for hour in rules.funding_hours
    )
    return f"({near}) * 0 + 1 or {MINUTE_OF_DAY} * 0"


def context_rules(calendar: Calendar) -> list[dict[str, Any]]:
    where = f'venue="{calendar.venue}", symbol="{calendar.symbol}"'
    rules: list[dict[str, Any]] = [
        {"record": HOUR_OF_WEEK, "expr": "((day_of_week() + 6) % 7) * 24 + hour()"},
        {"record": MINUTE_OF_DAY, "expr": "hour() * 60 + minute()"},
    ]
    for regime in Regime:
        rules.append(
            {
                "record": CALENDAR,
                "expr": _in_ranges(calendar.ranges.get(regime, [])),
                "labels": {"regime": regime.value},
            }
        )
    rules.append(
        {
            "record": REGIME,
            "expr": f"max by (regime) (stratops_market_regime{{{where}}}) or {CALENDAR}",
        }
    )
    rules.append(
        {
            "record": OVERLAY,
            "expr": _funding(calendar.rules),
            "labels": {"overlay": Overlay.FUNDING_WINDOW.value},
        }
    )
    shock = Overlay.VOLATILITY_SHOCK.value
    rules.append(
        {
            "record": OVERLAY,
            "expr": f'max(stratops_market_overlay{{{where}, overlay="{shock}"}}) or vector(0)',
            "labels": {"overlay": shock},
        }
    )
    return rules


def threshold_rules(alerts: Sequence[AlertRule]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for alert in alerts:
        for regime in Regime:
            value = alert.spec.thresholds.for_regime(regime)
            rules.append(
                {
                    "record": THRESHOLD,
                    "expr": f"vector({_number(value)})",
                    "labels": {"alert": alert.name, "regime": regime.value},
                }
            )
        for overlay in Overlay:
            given = alert.spec.overlays.for_overlay(overlay)
            if given is not None:
                rules.append(
                    {
                        "record": THRESHOLD,
                        "expr": f"vector({_number(given)})",
                        "labels": {"alert": alert.name, "overlay": overlay.value},
                    }
                )
    by_overlay = [
        f'max by (alert) ({THRESHOLD}{{overlay="{o.value}"}} '
        f'and on() ({OVERLAY}{{overlay="{o.value}"}} == 1))'
        for o in Overlay
    ]
    by_regime = f'max by (alert) ({THRESHOLD}{{regime!=""}} and on(regime) ({REGIME} == 1))'
    rules.append({"record": IN_FORCE, "expr": "\nor ".join([*by_overlay, by_regime])})
    return rules


def alert_rule(alert: AlertRule, runbook_url: str) -> dict[str, Any]:
    spec = alert.spec
    operator = ">" if spec.condition == "above" else "<"
    series = SERIES[spec.metric]
    return {
        "alert": alert.name,
        "expr": f"({series.promql()}) {operator} on() group_left() "
        f'{IN_FORCE}{{alert="{alert.name}"}}',
        "for": spec.for_,
        "labels": {
            "severity": spec.severity.value,
            "team": spec.paging.desk_hours,
            "oncall": spec.paging.off_hours,
            "runbook": spec.runbook,
        },
        "annotations": {
            "summary": spec.summary,
            "description": f"{spec.metric.value} ({series.unit}) is {{{{ $value }}}}, "
            f"{spec.condition} the threshold in force for the market context; "
            f"see {runbook_url}",
            "runbook_url": runbook_url,
        },
    }


def rule_file(
    alerts: Sequence[AlertRule], calendar: Calendar, runbook_url: str = "runbooks/{runbook}.html"
) -> dict[str, Any]:
    """The rule file (as data, for YAML): ``runbook_url`` is formatted with ``{runbook}``."""
    ordered = sorted(alerts, key=lambda a: a.name)
    alerting = [alert_rule(a, runbook_url.format(runbook=a.spec.runbook)) for a in ordered]
    rules = [*context_rules(calendar), *threshold_rules(ordered), *alerting]
    return {"groups": [{"name": "stratops", "interval": "1m", "rules": rules}]}
