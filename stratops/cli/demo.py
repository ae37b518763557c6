"""``stratops demo``: the main story, on the embedded defaults, from a fresh checkout."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.rule import Rule
from rich.table import Table

from stratops.cli.output import EXIT_BAD_INPUT, fail, problems_table, stdout
from stratops.examples import example_manifests
from stratops.gitops.desk import Desk, load_desk


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def desk_tables(desk: Desk) -> list[Table]:
    strategies = Table(title="Desired state (StrategyDeployment)")
    for column in ("strategy", "type", "venue", "symbols", "paper", "canary", "live", "halt"):
        strategies.add_column(column)
    for name, strategy in sorted(desk.strategies.items()):
        stages = strategy.spec.stages
        cells = []
        for entry in (stages.paper, stages.canary, stages.live):
            cells.append("-" if entry is None else f"v{entry.version} @ {entry.allocation:,.0f}")
        strategies.add_row(
            name,
            strategy.spec.strategy_type.value,
            strategy.spec.venue,
            ", ".join(strategy.spec.symbols),
            *cells,
            strategy.spec.halt.value,
        )
    tables = [strategies]
    policy = desk.policy
    if policy is not None:
        gates = Table(title=f"Gate policy {policy.name!r}")
        for column in ("strategy type", "target", "checks", "latency p50/p99/p99.9 ms"):
            gates.add_column(column, overflow="fold")
        for strategy_type, rules in sorted(policy.spec.rules.items()):
            budget = policy.spec.latency_budgets.get(strategy_type)
            latency = "-" if budget is None else f"{budget.p50_ms:g}/{budget.p99_ms:g}/{budget.p999_ms:g}"
            for target in ("canary", "live"):
                checks = getattr(rules, target)
                if checks is not None:
                    gates.add_row(
                        strategy_type.value, target, ", ".join(checks.configured()), latency
                    )
        tables.append(gates)
    analysis = Table(title="Canary analysis templates")
    for column in ("template", "window", "metrics (peak / normal / thin)", "halt on"):
        analysis.add_column(column, overflow="fold")
    for name, template in sorted(desk.templates.items()):
        metrics = "; ".join(
            f"{rule.metric.value} {rule.condition} {rule.thresholds.peak:g}/"
            f"{rule.thresholds.normal:g}/{rule.thresholds.thin:g}"
            for rule in template.spec.metrics
        )
        halts = ", ".join(
            f"{h.metric.value} {'>' if h.above is not None else '<'} "
            f"{h.above if h.above is not None else h.below:g}"
            for h in template.spec.halt_on
        )
        analysis.add_row(name, template.spec.window, metrics, halts or "-")
    tables.append(analysis)
    return tables


def demo(
    manifests: Path = typer.Option(
        None, "--manifests", help="Desk manifests to show (default: the example desk)."
    ),
) -> None:
    """Run the stratops story on the example desk: validate it and show what it declares."""
    folder = manifests or example_manifests()
    if not folder.is_dir():
        fail(f"no desk manifests at {folder}: pass --manifests DIR", EXIT_BAD_INPUT)
    stdout.print(Rule("1. Validate the desk's manifests"))
    desk = load_desk([folder])
    if not desk.ok:
        stdout.print(problems_table(desk.problems))
        raise typer.Exit(EXIT_BAD_INPUT)
    stdout.print(f"[green]valid:[/] {len(desk.sources)} documents under {folder}")
    stdout.print(Rule("2. What the desk declares"))
    for table in desk_tables(desk):
        stdout.print(table)
