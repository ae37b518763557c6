"""``--desk``: the one option every command that touches a desk takes."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from stratops.cli.output import EXIT_BAD_INPUT, fail
from stratops.gitops.errors import NotADesk
from stratops.gitops.git import GitRepo
from stratops.gitops.location import DESK_ENV, find_desk

DESK_OPTION = typer.Option(
    None,
    "--desk",
    envvar=DESK_ENV,
    help="The desk repository. Default: the desk containing the current folder.",
    show_default=False,
)


AS_OPTION = typer.Option(None, "--as", help="Who acts (default: git config user.name, or $USER).")


def acting_person(repo: GitRepo, given: str | None) -> str:
    """Who acts: ``--as``, else git's user.name, else $USER; exit 2 when none is known."""
    who = given or repo.user_name() or os.environ.get("USER")
    if not who:
        fail("who acts is unknown: pass --as NAME (or set git config user.name)")
    return who


def desk_root(desk: Path | None) -> Path:
    """The desk's root, or exit 2 with "not a desk" (nothing is created)."""
    try:
        return find_desk(desk)
    except NotADesk as exc:
        fail(str(exc), EXIT_BAD_INPUT)
