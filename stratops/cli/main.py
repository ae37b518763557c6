"""Entry point of the ``stratops`` command.

Start-up is kept light: the root group knows each command's name and one-line help, and
imports the module defining a command (MLflow, pandas, Kubernetes...) only when that command
runs or shows its own help. ``stratops --help`` and ``--version`` import none of them.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
import typer.main
from typer import _click as click  # typer vendors its own click
from typer.core import TyperCommand, TyperGroup

from stratops import __version__
from stratops.cli import help as help_style
from stratops.cli.verbosity import VERBOSE_ENV, set_verbosity

help_style.install()

# name -> (module under stratops.cli, one-line help in ``stratops --help``), in help order.
# tests/test_cli_help.py checks each line against the command's own help.
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "validate": (
        "validate",
        "Validate desk documents: schemas, safe YAML, and references between documents.",
    ),
    "backtest": (
        "paper",
        "Backtest a strategy, or sweep its parameters, and write evidence for the registry.",
    ),
    "register": ("registry", "Register a strategy version with its evidence bundle."),
    "versions": (
        "registry",
        "List a strategy's versions with evidence digests, trial counts and current aliases.",
    ),
    "init": (
        "gitops",
        "Scaffold a desk repository with a local remote and forge, from the example desk.",
    ),
    "promote": (
        "gitops",
        "Open (or update) the pull request promoting STRATEGY VERSION, or changing its capital.",
    ),
    "demo": ("demo", "Run the stratops story on the embedded defaults, from a fresh checkout."),
    "paper": ("paper", "Paper trading: run a strategy model on replayed market data."),
    "evidence": ("registry", "Verify and inspect registered evidence."),
    "aliases": ("registry", "Stage aliases (paper, canary, live)."),
    "pr": ("gitops", "The desk's pull requests: create, list, show, review, merge, close."),
    "gates": (
        "gitops",
        "Promotion gates: evaluate one version, or check every change between two commits.",
    ),
    "controller": ("controller", "Reconcile running deployments with Git."),
    "audit": ("controller", "The tamper-evident audit log."),
    "analytics": (
        "analytics",
        "Post-trade analytics: import the desk's real fills and quotes into telemetry.",
    ),
    "regimes": (
        "regimes",
        "Market regimes: the hour-of-week profile of volume, volatility and spread.",
    ),
    "notify": ("notify", "Notifications: controller events sent to the desk's webhooks."),
    "status": (
        "status",
        "One row per (strategy, stage): Git, what runs, sync, health, canary, breaks, alerts.",
    ),
    "ui": ("status", "Serve the read-only dashboard of a desk without a controller."),
    "recon": (
        "recon",
        "Reconciliation: each deployment's ledger (telemetry) against the venue's statement.",
    ),
    "alerts": ("alerts", "Alert rules by market context, for Prometheus and Alertmanager."),
    "runbook": (
        "alerts",
        "Runbooks: what an alert means and what to do in the current market context.",
    ),
    "incident": (
        "incidents",
        "Incidents: open, note the runbook steps taken, close; kept in the audit log.",
    ),
    "report": (
        "report",
        "Report a strategy's post-trade analytics as one HTML page, markdown or JSON.",
    ),
    "canary": (
        "canary",
        "Canary analyses: the controller's judging (status), the on-call person's abort, "
        "pause and resume, and the analysis logged on a version.",
    ),
}


def _register(module_name: str, app: typer.Typer) -> None:
    module = importlib.import_module(f"stratops.cli.{module_name}")
    if module_name == "gitops":
        from stratops.controller.assembly import desk_evaluator

        module.register(app, evaluator=desk_evaluator)
    else:
        module.register(app)


def load_command(name: str) -> click.Command:
    """The real click command ``name`` of the root group (imports its module)."""
    module_name, _ = LAZY_COMMANDS[name]
    holder = typer.Typer(rich_markup_mode=None)
    _register(module_name, holder)
    group = typer.main.get_group(holder)
    return group.commands[name]


class LazyGroup(TyperGroup):
    """Root group resolving its commands on demand; its help lists them without importing."""

    _listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *LAZY_COMMANDS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in LAZY_COMMANDS:
            return super().get_command(ctx, cmd_name)
        if self._listing:
            summary = LAZY_COMMANDS[cmd_name][1]
            return TyperCommand(cmd_name, help=summary, short_help=summary)
        command = load_command(cmd_name)
        self.commands[cmd_name] = command
        return command

    def format_help(self, ctx: click.Context, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="stratops",
    cls=LazyGroup,
    help="GitOps strategy registry and promotion controller for a 24/7 trading desk.\n\n"
    "\b\nExit codes:\n"
    "  0 ok\n"
    "  1 a negative verdict (failing gate, digest mismatch)\n"
    "  2 bad input\n"
    "  3 retry: a service is temporarily unavailable, the same command may succeed later",
    epilog="Example: stratops validate manifests/",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"stratops {__version__}")
        raise typer.Exit()


def _verbosity(value: bool) -> None:
    # an option callback runs while the root options are parsed, before the command's module
    # (and MLflow) is imported: the root callback itself would run too late
    set_verbosity(value)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    verbose: bool = typer.Option(
        False,
        "-v",
        "--verbose",
        envvar=VERBOSE_ENV,
        callback=_verbosity,
        help="Show what MLflow logs (INFO, WARNING) and its Python warnings; hidden otherwise. "
        "Before the command: stratops -v register ...",
    ),
) -> None:
    """GitOps strategy registry and promotion controller."""


def main() -> None:
    try:
        app()
    except Exception as exc:
        from stratops.cli.errors import exit_code, one_line
        from stratops.cli.output import print_error

        code = exit_code(exc)
        if code is None:
            raise
        print_error(one_line(exc))
        raise SystemExit(code) from None
