"""The desk as it is at a commit: its documents read from Git, not from the working tree.

A file is parsed once per content: its parse is kept by (path, blob id), and the blob id is
Git's sha of the content, so a kept parse is that of the file at any commit that lists the
same id. Loading the desk at a new commit reads its trees, then reads and parses only the
files that changed (the first load of a process parses them all).
"""

from __future__ import annotations

from collections import OrderedDict

from stratops.gitops.desk import (
    Desk,
    Source,
    desk_from_sources,
    is_desk_file,
    parse_source,
    with_signers,
)
from stratops.gitops.errors import GitError
from stratops.gitops.git import GitRepo
from stratops.model.problems import Problem

MANIFESTS = "manifests"
PARSES_KEPT = 8_192  # (path, blob id) parses kept, least recently used dropped first

_parsed: OrderedDict[tuple[str, str], Source | list[Problem]] = OrderedDict()


def _parse(repo: GitRepo, path: str, blob: str) -> Source | list[Problem]:
    """The parse of the file ``path`` whose content is the blob ``blob``."""
    key = (path, blob)
    found = _parsed.get(key)
    if found is None:
        found = _parsed[key] = parse_source(repo.blob(blob), path)
        if len(_parsed) > PARSES_KEPT:
            _parsed.popitem(last=False)
    else:
        _parsed.move_to_end(key)
    return found


def forget_parses() -> None:
    """Drop every kept parse: the next load parses every file, as a new process does."""
    _parsed.clear()


def desk_at(repo: GitRepo, rev: str) -> Desk:
    """The desk under ``manifests/`` at ``rev``; sources are named by repository path.

    With the allowed-signers file its policy names, from the same commit.
    """
    blobs = repo.blob_ids(rev, MANIFESTS)
    desk = desk_from_sources(
        _parse(repo, path, blob)
        for path, blob in sorted(blobs.items())
        if is_desk_file(path.split("/")[1:])
    )

    def read(path: str) -> bytes | None:
        try:
            return repo.read_file(rev, path)
        except GitError:
            return None

    return with_signers(desk, read)
