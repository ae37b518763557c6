"""Help that reads like kubectl or gh: ``STRATEGY VERSION``, no ``<str>``/``<int range>``.

Help is plain text (no rich panels: rendering them costs more than the rest of start-up).
Typer has no public switch for the type column of its help, so the methods that render it are
replaced here, once, for every command: arguments show as capitals (``STRATEGY``,
``[PATHS]...``), options show their choices (``table|json``) or the value's name in capitals
(``--allocation ALLOCATION``), never a type.
"""

from __future__ import annotations

from typing import Any

from typer import _click as click  # typer vendors its own click
from typer import core


def _argument_name(self: core.TyperArgument) -> str:
    return self.metavar if self.metavar is not None else str(self.name).upper()


def _argument_usage(self: core.TyperArgument) -> str:
    name = _argument_name(self)
    if self.nargs != 1:
        name += "..."
    return name if self.required else f"[{name}]"


def _value_name(self: Any, ctx: click.Context) -> str | None:
    if isinstance(self, core.TyperArgument):
        return None
    if self.metavar is not None:
        return str(self.metavar)
    desc = self.type_descriptor
    if desc.is_choice:
        return "|".join(str(getattr(c, "value", c)) for c in desc.choices or ())
    return str(self.name).upper()


def _no_range(self: Any) -> str | None:
    return None


def _epilog_verbatim(
    self: click.Command, ctx: click.Context, formatter: click.HelpFormatter
) -> None:
    """Examples are commands to copy: their lines are kept as written, never re-wrapped."""
    if self.epilog:
        formatter.write_paragraph()
        with formatter.indentation():
            for line in self.epilog.splitlines():
                formatter.write(f"{'':>{formatter.current_indent}}{line}\n")


def install() -> None:
    """Apply the help style (idempotent)."""
    core.TyperArgument.display_name_raw = property(_argument_name)  # type: ignore[assignment,method-assign]
    core.TyperArgument._usage_display_name = _argument_usage  # type: ignore[method-assign]
    for kind in (core.TyperArgument, core.TyperOption):
        kind.display_type_rich = _value_name  # type: ignore[method-assign]
        kind._get_number_range_help_str = _no_range  # type: ignore[method-assign]
    for command in (core.TyperCommand, core.TyperGroup):
        command.format_epilog = _epilog_verbatim  # type: ignore[method-assign]
