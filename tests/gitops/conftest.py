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
