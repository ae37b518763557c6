"""A fake GitHub per test, backed by the desk's bare repository; no violation may remain."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from stratops.gitops.forge.github import GitHubForge
from stratops.gitops.forge.http import RestClient
from stratops.gitops.scaffold import Scaffold

from .fake import FakeGitHub

REPOSITORY = "desk/trading"
CI = "github-actions[bot]"  # who a workflow's GITHUB_TOKEN acts as
TOKENS = {"token-rita": "rita", "token-alice": "alice", "token-bob": "bob", "token-ci": CI}
Connect = Callable[..., GitHubForge]


class Sleeps(list[float]):
    """A sleep that records instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def github(desk: Scaffold) -> Iterator[FakeGitHub]:
    fake = FakeGitHub(desk.remote, REPOSITORY, TOKENS)
    yield fake
    fake.close()
    assert fake.violations == []


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def connect(github: FakeGitHub, sleeps: Sleeps) -> Connect:
    def as_user(
        login: str, base_url: str | None = None, clock: float = 1_700_000_000.0
    ) -> GitHubForge:
        token = next(token for token, user in TOKENS.items() if user == login)
        client = RestClient(base_url or github.base_url, token, sleep=sleeps, clock=lambda: clock)
        return GitHubForge(client, REPOSITORY)

    return as_user


@pytest.fixture
def github_env(github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_API_URL", github.base_url)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPOSITORY)
    monkeypatch.setenv("GITHUB_TOKEN", "token-rita")
    monkeypatch.setenv("STRATOPS_FORGE", "github")
