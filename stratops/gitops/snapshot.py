"""The desk as it is at a commit: its documents read from Git, not from the working tree."""

from __future__ import annotations

from stratops.gitops.desk import Desk, desk_from_blobs, is_desk_file
from stratops.gitops.git import GitRepo

MANIFESTS = "manifests"


def desk_at(repo: GitRepo, rev: str) -> Desk:
    """The desk under ``manifests/`` at ``rev``; sources are named by repository path."""
    files = repo.files(rev, MANIFESTS)
    return desk_from_blobs(
        {path: raw for path, raw in files.items() if is_desk_file(path.split("/")[1:])}
    )
