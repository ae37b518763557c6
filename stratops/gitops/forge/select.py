"""Which forge a desk uses: the local forge of a local bare remote, or GitHub.

``auto`` (the default) picks the local forge when ``origin`` is a path (or a ``file://`` URL)
on this machine and GitHub otherwise. GitHub is configured like GitHub Actions does it:
``GITHUB_TOKEN`` (required), ``GITHUB_API_URL`` (default ``https://api.github.com``; GitHub
Enterprise Server: ``https://HOST/api/v3``) and ``GITHUB_REPOSITORY`` (``owner/name``, by
default read from the ``origin`` URL). ``STRATOPS_CI_IDENTITY`` names who CI acts as, whose
``stratops/gates`` verdict alone counts (default: ``github-actions[bot]`` on GitHub, the
workflow's ``GITHUB_TOKEN``; ``ci`` on the local forge).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from stratops.gitops.errors import ForgeRejected
from stratops.gitops.forge.base import Forge
from stratops.gitops.forge.github import ACTIONS_BOT, GitHubForge
from stratops.gitops.forge.http import RestClient
from stratops.gitops.forge.local import LOCAL_CI, LocalForge
from stratops.gitops.git import GitRepo

DEFAULT_API_URL = "https://api.github.com"
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")
_OWNER_NAME = re.compile(r"[:/]([^/:]+)/([^/]+?)(?:\.git)?/?$")


class ForgeKind(StrEnum):
    AUTO = "auto"
    LOCAL = "local"
    GITHUB = "github"


def local_remote(url: str, root: Path) -> Path | None:
    """The folder of a remote on this machine, None for a network URL."""
    if url.startswith("file://"):
        return Path(urlsplit(url).path)
    if "://" in url or _SCP_LIKE.match(url):
        return None
    path = (root / url).resolve()
    return path if path.is_dir() else None


def open_forge(repo: GitRepo, kind: ForgeKind, env: Mapping[str, str]) -> Forge:
    url = repo.remote_url()
    bare = local_remote(url, repo.root)
    ci = env.get("STRATOPS_CI_IDENTITY")
    if kind is ForgeKind.LOCAL or (kind is ForgeKind.AUTO and bare is not None):
        if bare is None:
            raise ForgeRejected(f"origin ({url}) is not on this machine: the local forge needs it")
        return LocalForge(bare, ci=ci or LOCAL_CI)
    token = env.get("GITHUB_TOKEN")
    if not token:
        raise ForgeRejected(
            "GITHUB_TOKEN is not set: the GitHub forge needs a token that may write pull "
            "requests, reviews and statuses"
        )
    repository = env.get("GITHUB_REPOSITORY")
    if not repository:
        match = _OWNER_NAME.search(url) if bare is None else None
        if match is None:
            raise ForgeRejected(f"cannot tell owner/name from origin {url}: set GITHUB_REPOSITORY")
        repository = f"{match.group(1)}/{match.group(2)}"
    client = RestClient(env.get("GITHUB_API_URL") or DEFAULT_API_URL, token)
    return GitHubForge(client, repository, ci=ci or ACTIONS_BOT)
