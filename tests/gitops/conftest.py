"""Git without the user's configuration, a scaffolded desk, and a CLI with an evaluator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from click.testing import Result
from typer.testing import CliRunner

from stratops.cli import gitops as gitops_cli
from stratops.gitops.forge.local import LocalForge
from stratops.gitops.git import GitRepo
from stratops.gitops.scaffold import Scaffold, init_desk

from .helpers import EXAMPLE_MANIFESTS, registry_evaluator

Invoke = Callable[..., Result]


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


@pytest.fixture
def desk(tmp_path: Path) -> Scaffold:
    return init_desk(tmp_path / "desk", EXAMPLE_MANIFESTS)


@pytest.fixture
def repo(desk: Scaffold) -> GitRepo:
    return GitRepo(desk.root)


@pytest.fixture
def forge(desk: Scaffold) -> LocalForge:
    return LocalForge(desk.remote)


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_show_locals=False)
    gitops_cli.register(app, evaluator=lambda _root: registry_evaluator)
    return app


@pytest.fixture
def invoke(app: typer.Typer, desk: Scaffold) -> Invoke:
    """Run a command in the desk, as a user would."""

    def run(*args: str) -> Result:
        return CliRunner().invoke(app, [*args, "--desk", str(desk.root)])

    return run
