"""Checks of the numbers people type, before anything runs: one line, exit 2, nothing written."""

from __future__ import annotations

import math
from typing import Any

import typer

from stratops.model.strategy import MAX_VERSION


def amount(value: float | None) -> float | None:
    """An allocation or capital: a finite amount above 0 (``None``: not given)."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(f"expected a finite amount above 0, got {value:g}")
    return value


def version_argument(help: str) -> Any:  # typer's parameter defaults are typed Any
    """The VERSION positional of every command: a registered version number, 1 to 2³¹−1."""
    return typer.Argument(..., min=1, max=MAX_VERSION, metavar="VERSION", help=help)


def replay_speed(text: str) -> float:
    """A replay speed: market seconds per wall-clock second above 0, or ``max`` (infinity)."""
    if text.strip().lower() in ("max", "inf"):
        return math.inf
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0 or math.isnan(value):
        raise typer.BadParameter(f"expected a speed above 0 (1, 3600, ...) or max, got {text!r}")
    return value
