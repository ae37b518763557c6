"""Runbook commands checked against the stratops CLI: parsed, never run.

Each step's ``command`` is split like a shell would, must start with ``stratops``, and is
parsed by click itself (``make_context`` down the chain of groups, resilient parsing off), so
an unknown command, option or choice, or a missing argument, is a problem of the runbook's
file and line. Placeholders for an alert's labels (``{strategy}``...) are filled with sample
values for the check.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from functools import cache

import typer.main
from typer import _click as click  # typer vendors its own click
from typer.core import TyperGroup

from stratops.gitops.desk import Source
from stratops.model.problems import Problem
from stratops.model.runbook import SECTIONS, Runbook
from stratops.model.yaml_source import dotted

PLACEHOLDERS = {
    "strategy": "btc-trend",
    "stage": "canary",
    "venue": "binance",
    "symbol": "BTC/USDT",
    "incident": "1",
}


@cache
def _root_command() -> click.Command:
    """The ``stratops`` root group, made once: it keeps each command it has loaded."""
    from stratops.cli.main import app  # here: the CLI imports this module's callers

    return typer.main.get_command(app)


def command_error(command: str) -> str | None:
    """Why ``command`` is not a valid stratops command line (None: it is)."""
    try:
        words = shlex.split(command.format(**PLACEHOLDERS))
    except (ValueError, KeyError, IndexError) as exc:
        return f"cannot read the command: {exc}"
    if not words or words[0] != "stratops":
        return "a runbook command starts with 'stratops'"
    if any(w in ("-h", "--help", "--version") for w in words):
        return "a runbook command does something: no --help or --version"
    command_obj = _root_command()
    name, args = "stratops", words[1:]
    parent: click.Context | None = None
    try:
        while True:
            ctx = command_obj.make_context(name, list(args), parent=parent, resilient_parsing=False)
            if not isinstance(command_obj, TyperGroup):
                return None
            rest = [*ctx._protected_args, *ctx.args]
            if not rest:
                return f"'{ctx.command_path}' needs a subcommand"
            found_name, found, args = command_obj.resolve_command(ctx, rest)
            if found is None or found_name is None:
                return f"no command {rest[0]!r} in '{ctx.command_path}'"
            name, command_obj, parent = found_name, found, ctx
    except click.exceptions.NoArgsIsHelpError as exc:
        where = exc.ctx.command_path if exc.ctx else command
        return f"'{where}' needs more: a subcommand or arguments"
    except click.ClickException as exc:
        return exc.format_message()
    except typer.Exit:
        return "the command exits while parsing (a help or version flag)"


def command_problems(sources: Sequence[Source]) -> list[Problem]:
    """A problem for each runbook step whose command does not parse."""
    problems = []
    for source in sources:
        runbook = source.document
        if not isinstance(runbook, Runbook):
            continue
        for section in SECTIONS:
            for index, step in enumerate(getattr(runbook.spec, section)):
                if step.command is None:
                    continue
                error = command_error(step.command)
                if error is not None:
                    path = ("spec", section, index, "command")
                    problems.append(
                        Problem(
                            file=source.file,
                            line=source.parsed.line_of(path),
                            field=dotted(path),
                            message=f"not a valid stratops command ({step.command!r}): {error}",
                            code="runbook.bad_command",
                        )
                    )
    return problems
