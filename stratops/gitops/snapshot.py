"""The desk as it is at a commit: its documents read from Git, not from the working tree."""

from __future__ import annotations

from stratops.gitops.desk import Desk, desk_from_blobs, is_desk_file, with_signers
from stratops.gitops.errors import GitError
from stratops.gitops.git import GitRepo

MANIFESTS = "manifests"


def desk_at(repo: GitRepo, rev: str) -> Desk:
    """The desk under ``manifests/`` at ``rev``; sources are named by repository path.

    With the allowed-signers file its policy names, from the same commit.
    """
    files = repo.files(rev, MANIFESTS)
    desk = desk_from_blobs(
        {path: raw for path, raw in files.items() if is_desk_file(path.split("/")[1:])}
    )

    def read(path: str) -> bytes | None:
        try:
            return repo.read_file(rev, path)
        except GitError:
            return None

    return with_signers(desk, read)
