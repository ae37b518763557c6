"""``stratops demo``: the main story, on the embedded defaults, from a fresh checkout."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.rule import Rule
from rich.table import Table

from stratops.cli.output import EXIT_BAD_INPUT, fail, new_table, render_problems, stdout
from stratops.examples import example_manifests
from stratops.gitops.desk import Desk, load_desk
from stratops.model.policy import Checks


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def compact_amount(amount: float) -> str:
    """1000000 → 1M, 50000 → 50k: allocations at a glance."""
    for scale, suffix in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if abs(amount) >= scale:
            return f"{amount / scale:g}{suffix}"
    return f"{amount:g}"


def _headline(checks: Checks) -> str:
    configured = checks.configured()
    parts = [f"{len(configured)} checks"]
    for name, symbol in (("max_drawdown", "<="), ("psr", ">="), ("dsr", ">="), ("pbo", "<=")):
        check = configured.get(name)
        bound = getattr(check, "max", None) if symbol == "<=" else getattr(check, "min", None)
        if bound is not None:
            parts.append(f"{name} {symbol} {bound:g}")
    return ", ".join(parts)


def desk_tables(desk: Desk) -> list[Table]:
    strategies = new_table(
        "Desired state: version @ allocation per stage",
        *("strategy", "type", "symbols", "paper", "canary", "live"),
    )
    for name, strategy in sorted(desk.strategies.items()):
        stages = strategy.spec.stages
        cells = [
            "-" if entry is None else f"v{entry.version} @ {compact_amount(entry.allocation)}"
            for entry in (stages.paper, stages.canary, stages.live)
        ]
        strategies.add_row(
            name, strategy.spec.strategy_type.value, " ".join(strategy.spec.symbols), *cells
        )
    tables = [strategies]
    policy = desk.policy
    if policy is not None:
        gates = new_table(
            f"Gate policy {policy.name}", *("type", "target", "gates", "latency p50/p99/p99.9 ms")
        )
        for strategy_type, rules in sorted(policy.spec.rules.items()):
            budget = policy.spec.latency_budgets.get(strategy_type)
            latency = (
                "-" if budget is None else f"{budget.p50_ms:g}/{budget.p99_ms:g}/{budget.p999_ms:g}"
            )
            for target in ("canary", "live"):
                checks = getattr(rules, target)
                if checks is not None:
                    gates.add_row(strategy_type.value, target, _headline(checks), latency)
        tables.append(gates)
    analysis = new_table(
        "Canary analysis: thresholds peak / normal / thin liquidity",
        *("template", "window", "metrics", "halt on"),
    )
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
        render_problems(desk.problems)
        raise typer.Exit(EXIT_BAD_INPUT)
    stdout.print(f"[green]valid:[/] {len(desk.sources)} documents under {folder}")
    stdout.print(Rule("2. What the desk declares"))
    for table in desk_tables(desk):
        stdout.print(table)
