"""``stratops validate``: check manifests, each problem with file, line and field."""

from __future__ import annotations

from pathlib import Path

import typer

from stratops.cli.output import (
    EXIT_BAD_INPUT,
    OUTPUT_OPTION,
    OutputFormat,
    emit,
    render_problems,
    stdout,
)
from stratops.gitops.desk import load_desk
from stratops.runbooks.commands import command_problems


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)


def validate(
    paths: list[Path] = typer.Argument(
        None,
        help="Files or folders to validate (folders are walked for *.yaml). Default: manifests/.",
    ),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Validate desk documents: schemas, safe YAML, and references between documents.

    Runbook step commands are parsed against this CLI (never run). Exit 0 when every document
    is valid, 2 when any is not.

    Example: stratops validate manifests/
    """
    desk = load_desk(paths or [Path("manifests")])
    problems = [*desk.problems, *command_problems(desk.sources)]

    def human() -> None:
        if not problems:
            stdout.print(f"[green]valid:[/] {len(desk.sources)} document(s)")
        else:
            render_problems(problems)

    verdict = {"valid": not problems, "problems": [p.model_dump() for p in problems]}
    emit(verdict, output, human)
    if problems:
        raise typer.Exit(EXIT_BAD_INPUT)
