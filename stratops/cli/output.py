"""Rendering shared by every command: JSON for scripts, rich tables for people.

Exit codes are part of the interface: 0 ok, 1 a negative verdict (a failing gate, a digest
mismatch), 2 bad input. Diagnostics go to stderr; ``--output json`` prints only JSON to stdout.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from stratops.model.problems import Problem

EXIT_OK = 0
EXIT_NEGATIVE = 1
EXIT_BAD_INPUT = 2
EXIT_RETRY = 3  # a service is temporarily unavailable: the same command may succeed later

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


OUTPUT_OPTION = typer.Option(
    OutputFormat.TABLE, "--output", "-o", help="table for people, json for scripts."
)


def print_json(value: Any) -> None:
    """Print JSON to stdout, nothing else (no markup, no wrapping)."""
    typer.echo(json.dumps(value, indent=2, sort_keys=True, default=str))


def render_problems(problems: list[Problem]) -> None:
    """One line per problem, ``file:line: field: message [code]``, like a compiler."""
    for problem in problems:
        stderr.print(problem.render(), highlight=False, markup=False)
    stderr.print(f"{len(problems)} problem(s)", style="bold red")


def report_problems(problems: list[Problem], output: OutputFormat) -> None:
    if output is OutputFormat.JSON:
        print_json({"valid": not problems, "problems": [p.model_dump() for p in problems]})
    elif problems:
        render_problems(problems)


def new_table(title: str, *columns: str) -> Table:
    """A table whose cells wrap rather than truncate, so narrow terminals lose nothing."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print an error to stderr and exit with ``code``."""
    stderr.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)
