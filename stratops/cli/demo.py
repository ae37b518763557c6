"""``stratops demo``: the main story, on the embedded defaults, from a fresh checkout."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer
from rich.rule import Rule
from rich.table import Table

from stratops.cli.output import (
    EXIT_BAD_INPUT,
    EXIT_NEGATIVE,
    FreeText,
    fail,
    new_table,
    render_problems,
    stdout,
)
from stratops.demo.story import StepFailed, Story
from stratops.examples import DATA_DIR_ENV, example_manifests
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
            f"Gate policy {policy.name}",
            *("type", "target", FreeText("gates"), "latency p50/p99/p99.9 ms"),
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
        *("template", "window", FreeText("metrics"), FreeText("halt on")),
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
    workdir: Path = typer.Option(
        None, "--workdir", help="Folder for the demo desk (default: a new temporary folder)."
    ),
    keep_running: bool = typer.Option(
        False, "--keep-running", help="Leave the paper and canary processes running at the end."
    ),
    verbose: bool = typer.Option(False, "--verbose", help="Show every command's full output."),
    data_dir: Path = typer.Option(
        None,
        "--data-dir",
        envvar=DATA_DIR_ENV,
        help="Folder of the market datasets (default: the market data shipped in the package).",
    ),
) -> None:
    """Run the stratops story on the embedded defaults, from a fresh checkout.

    Validates the example desk, backtests two strategies on real market data, creates a desk
    repository, registers them with their evidence (the trend follower a second time, with a
    costlier execution configuration), runs the controller, promotes through a pull request
    (the overfit strategy is stopped by its gates), starts two canaries, shows one alert
    rendered for Prometheus with the runbook for a 3am incident, judges the canaries on an
    accelerated replay clock by the same template (the healthy one passes and goes live
    through an approved pull request; the one whose orders pay more than its evidence said
    fails, is flattened and rolled back by a pull request the controller merges itself), and
    shows the audit log.

    Example: stratops demo --workdir /tmp/stratops-demo
    """
    folder = manifests or example_manifests()
    if not folder.is_dir():
        fail(f"no desk manifests at {folder}: pass --manifests DIR", EXIT_BAD_INPUT)
    stdout.print(Rule("Validate the example desk's manifests"))
    desk = load_desk([folder])
    if not desk.ok:
        render_problems(desk.problems)
        raise typer.Exit(EXIT_BAD_INPUT)
    stdout.print(f"[green]valid:[/] {len(desk.sources)} documents under {folder}")
    for table in desk_tables(desk):
        stdout.print(table)

    root = workdir or Path(tempfile.mkdtemp(prefix="stratops-demo-"))
    if root.exists() and any(root.iterdir()):
        fail(f"{root} is not empty: the demo needs a new or empty folder", EXIT_BAD_INPUT)
    root.mkdir(parents=True, exist_ok=True)
    story = Story(
        root.resolve(),
        stdout,
        show=lambda command: verbose or _worth_showing(command),
        data_dir=None if data_dir is None else data_dir.resolve(),
    )
    try:
        story.play(folder)
    except StepFailed as exc:
        fail(str(exc), EXIT_NEGATIVE)
    finally:
        if not keep_running:
            story.stop_deployments()
    stdout.print(Rule("Done"))
    stdout.print(
        f"The demo desk is in {story.desk}; explore it with `stratops ... --desk {story.desk}`."
    )


SHOWN = (
    "promote", "controller", "audit", "pr merge", "pr list", "evidence verify", "runbook",
    "canary status",
)  # fmt: skip


def _worth_showing(command: str) -> bool:
    return command.startswith(SHOWN)
