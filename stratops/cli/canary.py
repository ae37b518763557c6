"""``stratops canary analysis``: the canary analysis logged on a strategy version.

Exit codes: 0 printed; 1 the stored analysis does not match its digest (tampered or
corrupted); 2 bad input (unknown strategy or version, no analysis logged) or an unusable
registry.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import typer

from stratops.canary import AnalysisRun, MeasurementPhase
from stratops.canary.report import by_metric_and_regime
from stratops.cli import canary_control
from stratops.cli.desk import DESK_OPTION
from stratops.cli.output import OUTPUT_OPTION, FreeText, OutputFormat, emit, new_table, stdout
from stratops.cli.registry import (
    STRATEGY_ARGUMENT,
    TRACKING_URI_OPTION,
    VERSION_ARGUMENT,
    open_registry,
    registry_errors,
)
from stratops.model.base import human_duration


def register(app: typer.Typer) -> None:
    """Add the canary commands to ``app``."""
    canary = typer.Typer(
        help="Canary analyses: the controller's judging (status), the on-call person's abort, "
        "pause and resume, and the analysis logged on a version.",
        epilog="Example: stratops canary status btc-trend",
        no_args_is_help=True,
    )
    canary.command("analysis")(analysis)
    canary.command("status")(canary_control.status)
    canary.command("abort")(canary_control.abort)
    canary.command("pause")(canary_control.pause)
    canary.command("resume")(canary_control.resume)
    app.add_typer(canary, name="canary")


def _value(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _summary_rows(run: AnalysisRun) -> list[list[str]]:
    """One row per (metric, regime): counts by phase, the last value and its threshold."""
    rows = []
    for (metric, regime), found in by_metric_and_regime(run).items():
        counts = Counter(m.phase for m in found)
        last = found[-1]
        threshold = "-" if last.threshold is None else f"{last.condition} {last.threshold:g}"
        rows.append(
            [
                metric,
                regime,
                str(len(found)),
                *(str(counts[phase]) for phase in MeasurementPhase),
                _value(last.value),
                threshold,
            ]
        )
    return rows


def render(run: AnalysisRun) -> None:
    """The run for people: what was judged, the verdict, and the measurements' table."""
    step = f"step {run.step + 1}/{run.steps} · " if run.steps > 1 else ""
    stdout.print(
        f"{run.strategy} v{run.version} · template {run.template} · {step}allocation "
        f"{run.allocation:,.0f}",
        highlight=False,
    )
    halt = " (haltOn: halt at once)" if run.halt else ""
    stdout.print(f"[bold]{run.phase.value}[/] → {run.action.value}{halt}", highlight=False)
    stdout.print(run.reason, highlight=False, markup=False)
    decided = "-" if run.decided_at is None else run.decided_at.isoformat()
    stdout.print(
        f"started {run.started.isoformat()} · decided {decided} · minDuration "
        f"{human_duration(run.min_duration_seconds)} · sha256 {run.digest}",
        highlight=False,
    )
    table = new_table(
        f"{len(run.measurements)} measurement(s) by metric and regime",
        *("metric", "regime", "n", *(p.value for p in MeasurementPhase), "last", "threshold"),
    )
    for row in _summary_rows(run):
        table.add_row(*row)
    stdout.print(table)
    deciding = [
        m for m in run.measurements if m.end == run.decided_at and m.phase.value != "passed"
    ]
    if deciding:
        last = new_table(
            f"measurements at {decided}",
            *("metric", "regime", "value", "samples", "phase", FreeText("why")),
        )
        for m in deciding:
            last.add_row(
                m.metric.value,
                m.regime.value + (" (shock)" if m.shock else ""),
                _value(m.value),
                str(m.samples),
                m.phase.value + (" · halt" if m.halt else ""),
                m.note,
            )
        stdout.print(last)


def analysis(
    strategy: str = STRATEGY_ARGUMENT,
    version: int = VERSION_ARGUMENT,
    tracking_uri: str = TRACKING_URI_OPTION,
    desk: Path | None = DESK_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Print the canary analysis logged on a version, verified against its digest.

    Shows the phase, the limit that tripped (or why it passed), and the measurements by metric
    and regime; ``-o json`` prints the whole run with its digest. Exit 1 when the stored
    analysis does not match its digest.

    Example: stratops canary analysis btc-trend 7
    """
    with registry_errors(output, tracking_uri, desk):
        run = open_registry(tracking_uri, desk).canary_analysis_run(strategy, version)
    emit({"digest": run.digest, "run": run.to_storage()}, output, lambda: render(run))
