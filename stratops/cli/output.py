"""Rendering shared by every command: a table (or markdown) for people, JSON or YAML for scripts.

Exit codes are part of the interface: 0 ok, 1 a negative verdict (a failing gate, a digest
mismatch), 2 bad input. Diagnostics go to stderr; ``--output json`` and ``--output yaml`` print
only the data to stdout, the same data in either syntax.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NoReturn

import typer
import yaml
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markup import escape
from rich.measure import Measurement
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
    YAML = "yaml"


class ReportFormat(StrEnum):
    """The formats of the gate commands, whose human form is a pull request comment."""

    MARKDOWN = "markdown"
    JSON = "json"
    YAML = "yaml"


Format = OutputFormat | ReportFormat

OUTPUT_OPTION = typer.Option(
    OutputFormat.TABLE,
    "--output",
    "-o",
    help="table for people; json or yaml (the same data) for scripts.",
)
REPORT_OPTION = typer.Option(
    ReportFormat.MARKDOWN,
    "--output",
    "-o",
    help="markdown for a pull request; json or yaml (the same data) for scripts.",
)


def is_data(output: Format) -> bool:
    """Whether ``output`` prints data for scripts (json, yaml) rather than text for people."""
    return output.value in (OutputFormat.JSON.value, OutputFormat.YAML.value)


def emit(data: Any, output: Format, human: Callable[[], object]) -> None:
    """Print a command's result: ``data`` as JSON or YAML, else ``human()`` renders it.

    ``data`` is plain values (dicts, lists, strings, numbers; anything else is printed as its
    ``str``). JSON and YAML are made from one normalised copy, so they always hold the same data.
    """
    if not is_data(output):
        human()
        return
    plain = json.loads(json.dumps(data, default=str))
    if output.value == OutputFormat.JSON.value:
        typer.echo(json.dumps(plain, indent=2, sort_keys=True))
    else:
        typer.echo(yaml.safe_dump(plain, sort_keys=False, allow_unicode=True), nl=False)


def render_problems(problems: list[Problem]) -> None:
    """One line per problem, ``file:line: field: message [code]``, like a compiler."""
    for problem in problems:
        stderr.print(problem.render(), highlight=False, markup=False)
    stderr.print(f"{len(problems)} problem(s)", style="bold red")


@dataclass(frozen=True)
class FreeText:
    """A column of prose (a reason, a message, a title): it wraps between words to fit.

    Every other column holds identifiers (ids, versions, shas, timestamps, branch and strategy
    names, digests) and keeps each cell on one line.
    """

    header: str


class _WholeWordTable(Table):
    """A table that never splits a word, however narrow the console or when piped.

    Identifier columns are as wide as their widest cell, prose columns as their longest word,
    and the title as its longest word; when that is wider than the console the table grows past
    it (the terminal wraps the line, no identifier is cut or folded).
    """

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        text = options.update_width(sys.maxsize)  # measure the text, not the screen
        for column in self.columns:
            sizes = [
                Measurement.get(console, text, cell) for cell in (column.header, *column.cells)
            ]
            column.min_width = max(s.maximum if column.no_wrap else s.minimum for s in sizes)
        if self.title:
            self.min_width = Measurement.get(console, text, self.title).minimum
        least = Measurement.get(console, text, self).minimum
        yield from super().__rich_console__(
            console, options.update_width(max(least, options.max_width))
        )


def new_table(title: str, *columns: str | FreeText, show_header: bool = True) -> Table:
    """The table of every command: a plain header names an identifier column."""
    table = _WholeWordTable(title=title, show_header=show_header)
    for column in columns:
        if isinstance(column, FreeText):
            table.add_column(column.header, overflow="fold")
        else:
            table.add_column(column, no_wrap=True)
    return table


def print_error(message: str) -> None:
    """``error: message`` on stderr, the message taken literally (no markup)."""
    stderr.print(f"[bold red]error:[/] {escape(message)}", highlight=False)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print an error to stderr and exit with ``code``."""
    print_error(message)
    raise typer.Exit(code)
