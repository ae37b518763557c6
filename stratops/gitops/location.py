"""Which desk a command works on: ``--desk``, else ``$STRATOPS_DESK``, else found upwards.

A desk is a Git repository whose top level holds ``manifests/``. Like git looking for ``.git``,
stratops walks from the current folder up to the file system root and takes the first desk it
meets. Nothing is created while looking: outside any desk the answer is :class:`NotADesk`.
"""

from __future__ import annotations

from pathlib import Path

from stratops.gitops.errors import NotADesk
from stratops.gitops.snapshot import MANIFESTS

DESK_ENV = "STRATOPS_DESK"


def is_desk(folder: Path) -> bool:
    return (folder / ".git").exists() and (folder / MANIFESTS).is_dir()


def find_desk(explicit: Path | None, cwd: Path | None = None) -> Path:
    """The desk's root: ``explicit`` when given (it must be a desk), else found upwards."""
    if explicit is not None:
        root = explicit.expanduser().resolve()
        if not is_desk(root):
            raise NotADesk(
                f"not a desk: {explicit} is not a Git repository with a {MANIFESTS}/ folder "
                "(stratops init FOLDER makes one)"
            )
        return root
    start = (cwd or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if is_desk(folder):
            return folder
    raise NotADesk(
        f"not a desk: run inside one or pass --desk (or set ${DESK_ENV}); no Git repository "
        f"with a {MANIFESTS}/ folder contains {start}"
    )
