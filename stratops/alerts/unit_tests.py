"""``promtool test rules`` cases for every alert in every market context, generated.

For each alert, series sit just beyond and just within each of its thresholds (each regime's,
each overlay's). One test group runs the clock from promtool's start, the epoch (Thursday
1970-01-01 00:00 UTC), to 3am on the first Sunday, and checks every alert at a moment of each
regime of the calendar, in a funding window, in a volatility shock (the controller's
``stratops_market_overlay`` on for two hours), and at 3am on Sunday while the controller's
``stratops_market_regime`` says thin, overriding the calendar. The expected alerts are worked
out here from the thresholds, the same way for every moment: a case fires when it breaches the
threshold in force at every evaluation of its ``for`` window. So the same breach is expected to
fire at 3am on a Sunday at the thin threshold and to stay quiet at peak, and the reverse.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from stratops.alerts.metrics import SERIES
from stratops.alerts.prometheus import Calendar
from stratops.analytics.regimes import HOURS_PER_WEEK
from stratops.model.alerts import AlertRule, Overlay
from stratops.model.analysis import Regime
from stratops.model.base import duration_seconds

STEP_MINUTES = 30  # evaluations at :00 and :30
_EPOCH_BUCKET = 72  # Thursday 00:00 in hour-of-week buckets (Monday 00:00 = 0)
_SUNDAY_3AM = 6 * 24 + 3
_SATURDAY_NOON = 5 * 24 + 12
_WINDOW = 120  # minutes the controller's series are exported before a moment
_TEMPLATE = re.compile(r"\{\{\s*\$(value|labels\.(\w+))\s*\}\}")


@dataclass(frozen=True)
class Moment:
    name: str
    minutes: int
    """Since the epoch (promtool's time 0)."""


@dataclass(frozen=True)
class Export:
    """A series the controller exports during ``[start, end]`` (minutes), with its value."""

    series: str
    start: int
    end: int
    value: str


@dataclass(frozen=True)
class Case:
    alert: AlertRule
    labels: dict[str, str] = field(hash=False)
    value: float


@dataclass(frozen=True)
class Scenario:
    """The clock's walk: the calendar, what the controller exports, and the moments checked."""

    calendar: Calendar
    moments: tuple[Moment, ...]
    exported_thin: tuple[int, int]
    shock: tuple[int, int]

    def regime(self, minutes: int) -> Regime:
        if self.exported_thin[0] <= minutes <= self.exported_thin[1]:
            return Regime.THIN
        bucket = (minutes // 60 + _EPOCH_BUCKET) % HOURS_PER_WEEK
        return next(
            r for r, runs in self.calendar.ranges.items() for s, e in runs if s <= bucket < e
        )

    def overlays(self, minutes: int) -> frozenset[Overlay]:
        on = set()
        if self.shock[0] <= minutes <= self.shock[1]:
            on.add(Overlay.VOLATILITY_SHOCK)
        rules = self.calendar.rules
        window, of_day = rules.funding_window_ns // 60_000_000_000, minutes % 1440
        if any(
            min(abs(of_day - 60 * h), 1440 - abs(of_day - 60 * h)) <= window
            for h in rules.funding_hours
        ):
            on.add(Overlay.FUNDING_WINDOW)
        return frozenset(on)

    def exports(self) -> list[Export]:
        where = f'venue="{self.calendar.venue}", symbol="{self.calendar.symbol}"'
        start, end = self.exported_thin
        found = [
            Export(
                f'stratops_market_regime{{{where}, regime="{r.value}"}}',
                start,
                end,
                "1" if r is Regime.THIN else "0",
            )
            for r in Regime
        ]
        shock = f'stratops_market_overlay{{{where}, overlay="{Overlay.VOLATILITY_SHOCK.value}"}}'
        return [*found, Export(shock, *self.shock, "1")]


def _minutes(bucket: int, minute: int) -> int:
    return 60 * ((bucket - _EPOCH_BUCKET) % HOURS_PER_WEEK) + minute


def scenario(calendar: Calendar, longest_for_minutes: int) -> Scenario:
    """Moments of each regime (3am Sunday for thin when the calendar says so), a funding
    window, a shock on Saturday noon, and the controller saying thin at 3am Sunday."""
    regime_of = {b: r for r, runs in calendar.ranges.items() for s, e in runs for b in range(s, e)}
    room = longest_for_minutes + 2 * STEP_MINUTES  # series start at the epoch

    def settled(bucket: int) -> bool:  # the hour before is of the same regime
        return (
            _minutes(bucket, 30) >= room
            and regime_of[(bucket - 1) % HOURS_PER_WEEK] == regime_of[bucket]
        )

    end = _minutes(_SUNDAY_3AM, 30)
    moments = []
    for regime in Regime:
        candidates = sorted(
            (b for b in regime_of if regime_of[b] is regime and _minutes(b, 30) < end),
            key=lambda b: (
                not (regime is Regime.THIN and b == _SUNDAY_3AM),
                not settled(b),
                _minutes(b, 30),
            ),
        )
        if candidates:
            moments.append(Moment(f"calendar {regime.value}", _minutes(candidates[0], 30)))
    funding = [
        _minutes(b, 0)
        for b in regime_of
        if b % 24 in calendar.rules.funding_hours and room <= _minutes(b, 0) < end
    ]
    if funding:
        moments.append(Moment("funding window", min(funding)))
    shock = _minutes(_SATURDAY_NOON, 30)
    moments.append(Moment("volatility shock", shock))
    moments.append(Moment("controller says thin, 3am Sunday", end))
    return Scenario(
        calendar,
        tuple(sorted(moments, key=lambda m: m.minutes)),
        exported_thin=(end - _WINDOW, end),
        shock=(shock - _WINDOW, shock),
    )


def threshold_in_force(alert: AlertRule, regime: Regime, overlays: frozenset[Overlay]) -> float:
    for overlay in Overlay:  # precedence order
        given = alert.spec.overlays.for_overlay(overlay)
        if overlay in overlays and given is not None:
            return given
    return alert.spec.thresholds.for_regime(regime)


def breaches(alert: AlertRule, value: float, threshold: float) -> bool:
    return value > threshold if alert.spec.condition == "above" else value < threshold


def fires(alert: AlertRule, value: float, walk: Scenario, minutes: int) -> bool:
    """Whether the alert fires at ``minutes``: breached at every evaluation of its window."""
    wait = duration_seconds(alert.spec.for_) / 60
    back = math.ceil(wait / STEP_MINUTES)
    evaluations = [minutes - k * STEP_MINUTES for k in range(back + 1)]
    return all(
        breaches(alert, value, threshold_in_force(alert, walk.regime(e), walk.overlays(e)))
        for e in evaluations
    )


def cases(alerts: Sequence[AlertRule]) -> list[Case]:
    """Per alert, a value just beyond and just within each of its thresholds."""
    found = []
    for alert in alerts:
        spec = alert.spec
        sign = 1.0 if spec.condition == "above" else -1.0
        thresholds = {r.value: spec.thresholds.for_regime(r) for r in Regime}
        thresholds |= {
            o.value: v for o in Overlay if (v := spec.overlays.for_overlay(o)) is not None
        }
        for context, threshold in thresholds.items():
            margin = max(abs(threshold) * 0.1, 0.01)
            for side, value in (
                ("beyond", threshold + sign * margin),
                ("within", threshold - sign * margin),
            ):
                found.append(
                    Case(alert, {"case": f"{alert.name}-{context}-{side}"}, round(value, 6))
                )
    return found


def _go_number(value: float) -> str:
    """A float as Go's templates (and promtool's series notation) print it."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)


def _selector(name: str, labels: dict[str, str]) -> str:
    return name + "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _expand(text: str, labels: dict[str, str], value: float) -> str:
    def one(match: re.Match[str]) -> str:
        return _go_number(value) if match[1] == "value" else labels.get(match[2], "")

    return _TEMPLATE.sub(one, text)


def _check(
    alert: AlertRule, rule: dict[str, Any], all_cases: Sequence[Case], walk: Scenario, at: Moment
) -> dict[str, Any]:
    """The alerts expected of ``alert`` at ``at``: each case of its metric that fires."""
    metric = SERIES[alert.spec.metric]
    expected = []
    for case in all_cases:
        if SERIES[case.alert.spec.metric] is metric and fires(alert, case.value, walk, at.minutes):
            labels = {**case.labels, **rule["labels"]}
            annotations = {
                k: _expand(v, labels, case.value) for k, v in rule["annotations"].items()
            }
            expected.append({"exp_labels": labels, "exp_annotations": annotations})
    return {"eval_time": f"{at.minutes}m", "alertname": alert.name, "exp_alerts": expected}


def _window(steps: int, start: int, end: int, value: str) -> str:
    """promtool values: absent (``_``) outside ``[start, end]`` minutes, ``value`` inside."""
    first, last = start // STEP_MINUTES, min(end // STEP_MINUTES, steps - 1)
    parts = [f"_x{first}" if first else "", f"{value}x{last - first}"]
    if last < steps - 1:
        parts.append(f"_x{steps - 1 - last}")
    return " ".join(p for p in parts if p)


def test_file(
    alerts: Sequence[AlertRule],
    calendar: Calendar,
    rule_file: dict[str, Any],
    rule_file_name: str,
) -> dict[str, Any]:
    """The promtool test file (as data, for YAML) for the alerts of ``rule_file``."""
    ordered = sorted(alerts, key=lambda a: a.name)
    rendered = {r["alert"]: r for g in rule_file["groups"] for r in g["rules"] if "alert" in r}
    longest = max((int(duration_seconds(a.spec.for_)) // 60 for a in ordered), default=0)
    if longest > STEP_MINUTES * 4:
        raise ValueError(f"the generated tests handle `for` up to {4 * STEP_MINUTES}m")
    walk = scenario(calendar, longest)
    all_cases = cases(ordered)
    steps = max(m.minutes for m in walk.moments) // STEP_MINUTES + 1
    series = []
    for case in all_cases:
        metric = SERIES[case.alert.spec.metric]
        labels = {**case.labels, **dict(metric.extra)}
        if metric.age:  # a timestamp ``value`` seconds old at every evaluation
            values = f"{_go_number(-case.value)}+{60 * STEP_MINUTES}x{steps - 1}"
        else:
            values = f"{_go_number(case.value)}+0x{steps - 1}"
        series.append({"series": _selector(metric.name, labels), "values": values})
    series += [
        {"series": e.series, "values": _window(steps, e.start, e.end, e.value)}
        for e in walk.exports()
    ]
    checks = [
        _check(alert, rendered[alert.name], all_cases, walk, at)
        for at in walk.moments
        for alert in ordered
    ]
    return {
        "rule_files": [rule_file_name],
        "evaluation_interval": f"{STEP_MINUTES}m",
        "tests": [
            {
                "name": "; ".join(f"{m.name} at {m.minutes}m" for m in walk.moments),
                "interval": f"{STEP_MINUTES}m",
                "input_series": series,
                "alert_rule_test": checks,
            }
        ],
    }
