"""Shared fixtures: paths of the repository's example desk."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_MANIFESTS = REPO / "stratops" / "data" / "example-desk"


@pytest.fixture
def example_manifests() -> Path:
    return EXAMPLE_MANIFESTS


@pytest.fixture(autouse=True)
def git_identity(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A clean git environment: no global or system config, a fixed identity."""
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text("")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Rita Researcher")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "rita@desk.example")
    monkeypatch.setenv("USER", "rita")
    for name in (
        "GITHUB_TOKEN",
        "GITHUB_API_URL",
        "GITHUB_REPOSITORY",
        "GITHUB_STEP_SUMMARY",
        "STRATOPS_FORGE",
        "GIT_AUTHOR_DATE",
        "GIT_COMMITTER_DATE",
    ):
        monkeypatch.delenv(name, raising=False)
