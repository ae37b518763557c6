"""``--desk``: the one option every command that touches a desk takes."""

from __future__ import annotations

from pathlib import Path

import typer

from stratops.cli.output import EXIT_BAD_INPUT, fail
from stratops.gitops.errors import NotADesk
from stratops.gitops.location import DESK_ENV, find_desk

DESK_OPTION = typer.Option(
    None,
    "--desk",
    envvar=DESK_ENV,
    help="The desk repository. Default: the desk containing the current folder.",
    show_default=False,
)


def desk_root(desk: Path | None) -> Path:
    """The desk's root, or exit 2 with "not a desk" (nothing is created)."""
    try:
        return find_desk(desk)
    except NotADesk as exc:
        fail(str(exc), EXIT_BAD_INPUT)
