"""Entry point of the ``stratops`` command."""

from __future__ import annotations

import typer

from stratops import __version__
from stratops.cli import controller, demo, gitops, paper, registry, validate
from stratops.controller.gate_evaluation import desk_evaluator

app = typer.Typer(
    name="stratops",
    help="GitOps strategy registry and promotion controller for a 24/7 trading desk.\n\n"
    "Exit codes: 0 ok, 1 a negative verdict (failing gate, digest mismatch), 2 bad input.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
validate.register(app)
paper.register(app)
registry.register(app)
gitops.register(app, evaluator=desk_evaluator)
controller.register(app)
demo.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"stratops {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """GitOps strategy registry and promotion controller."""


def main() -> None:
    app()
