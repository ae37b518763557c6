"""An analysis run (a canary's, or a live deployment's guardrails) as markdown, for the
rollback pull request's body (pure).

What a reviewer needs to judge the rollback: the verdict and the limit that tripped, the
measurements by metric and regime (counts by phase, the worst value against its threshold),
the measurements of the deciding window, and the run's digest.
"""

from __future__ import annotations

from collections import Counter

from stratops.canary.run import AnalysisRun, Measurement, MeasurementPhase
from stratops.model.base import human_duration


def _value(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _worst(found: list[Measurement]) -> Measurement:
    """The measurement furthest on the wrong side of its threshold (the last when none is)."""
    scored = [m for m in found if m.value is not None and m.threshold is not None]
    if not scored:
        return found[-1]
    sign = {"max": 1.0, "min": -1.0}
    return max(
        scored,
        key=lambda m: sign[m.condition or "max"] * ((m.value or 0.0) - (m.threshold or 0.0)),
    )


def by_metric_and_regime(run: AnalysisRun) -> dict[tuple[str, str], list[Measurement]]:
    """The run's measurements grouped by (metric, regime), in order of first appearance."""
    groups: dict[tuple[str, str], list[Measurement]] = {}
    for m in run.measurements:
        groups.setdefault((m.metric.value, m.regime.value), []).append(m)
    return groups


def markdown(run: AnalysisRun) -> str:
    """The run's report: verdict, measurements by metric and regime, the deciding window."""
    step = f", step {run.step + 1} of {run.steps}" if run.steps > 1 else ""
    decided = "-" if run.decided_at is None else run.decided_at.isoformat()
    kind, clock = ("Live guardrails", "Live") if run.live else ("Canary analysis", "Canary")
    lines = [
        f"### {kind} of {run.strategy} v{run.version}: **{run.phase.value}**",
        "",
        f"- **Limit:** {run.reason}",
        f"- **Template:** `{run.template}` (sha256 `{run.template_digest[:12]}`){step}, "
        f"allocation {run.allocation:,.0f}",
        f"- **{clock} time:** {run.started.isoformat()} to {run.as_of.isoformat()} "
        f"({human_duration((run.as_of - run.started).total_seconds())}; minDuration "
        f"{human_duration(run.min_duration_seconds)}), decided at {decided}",
        f"- **Halt:** {'a haltOn condition tripped' if run.halt else 'no haltOn tripped'}",
        f"- **Analysis digest:** `{run.digest}`",
        "",
        "| metric | regime | measurements | "
        + " | ".join(p.value for p in MeasurementPhase)
        + " | worst | threshold |",
        "|---|---|---:|" + "---:|" * len(MeasurementPhase) + "---:|---|",
    ]
    for (metric, regime), found in sorted(by_metric_and_regime(run).items()):
        counts = Counter(m.phase for m in found)
        worst = _worst(found)
        threshold = "-" if worst.threshold is None else f"{worst.condition} {worst.threshold:g}"
        lines.append(
            f"| {metric} | {regime} | {len(found)} | "
            + " | ".join(str(counts[p]) for p in MeasurementPhase)
            + f" | {_value(worst.value)} | {threshold} |"
        )
    deciding = [m for m in run.measurements if m.end == run.decided_at]
    if deciding:
        lines += ["", f"Measurements of the deciding window (ending {decided}):", ""]
        lines += [
            "| metric | regime | value | samples | phase | why |",
            "|---|---|---:|---:|---|---|",
        ]
        for m in deciding:
            phase = m.phase.value + (" (haltOn)" if m.halt else "")
            lines.append(
                f"| {m.metric.value} | {m.regime.value} | {_value(m.value)} | {m.samples} | "
                f"{phase} | {m.note} |"
            )
    return "\n".join(lines) + "\n"
