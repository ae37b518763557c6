"""``stratops init``: a desk with its remote, forge, workflow and first commit on main."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from stratops.gitops.desk import load_desk
from stratops.gitops.scaffold import Scaffold

from .helpers import git


def test_init_scaffolds_a_desk_pushed_to_its_local_remote(app: typer.Typer, tmp_path: Path) -> None:
    target = tmp_path / "my-desk"
    result = CliRunner().invoke(app, ["init", str(target)])
    assert result.exit_code == 0, result.output
    assert "stratops promote btc-trend 1 --to paper" in result.stdout
    for path in (
        "manifests/strategies/btc-trend.yaml",
        "manifests/policy/desk-policy.yaml",
        ".github/workflows/promotion-gates.yml",
        ".github/CODEOWNERS",
        ".gitignore",
        "README.md",
    ):
        assert (target / path).is_file(), path
    remote = target / ".stratops" / "remote.git"
    assert git(target, "remote", "get-url", "origin") == str(remote)
    assert git(remote, "rev-parse", "main") == git(target, "rev-parse", "HEAD")
    assert (target / ".stratops" / "remote.forge" / "pulls").is_dir()
    assert git(target, "status", "--porcelain") == ""  # .stratops/ is ignored
    assert load_desk([target / "manifests"]).ok
    tracked = git(target, "ls-files").splitlines()
    assert ".github/workflows/promotion-gates.yml" in tracked
    assert not any(path.startswith(".stratops") for path in tracked)


def test_init_refuses_a_non_empty_folder(app: typer.Typer, desk: Scaffold) -> None:
    before = sorted(p.name for p in desk.root.iterdir())
    result = CliRunner().invoke(app, ["init", str(desk.root)])
    assert result.exit_code == 2
    assert "is not empty" in result.stderr
    assert sorted(p.name for p in desk.root.iterdir()) == before


def test_init_into_an_existing_empty_folder(app: typer.Typer, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert CliRunner().invoke(app, ["init", str(tmp_path / "empty")]).exit_code == 0


def test_failed_init_leaves_nothing_behind(
    app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for role in ("AUTHOR", "COMMITTER"):  # git cannot commit without an identity
        monkeypatch.delenv(f"GIT_{role}_NAME")
        monkeypatch.delenv(f"GIT_{role}_EMAIL")
    monkeypatch.setenv("EMAIL", "")
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(app, ["init", str(tmp_path / "empty")])
    assert result.exit_code == 2
    assert "git commit failed" in result.stderr
    assert list((tmp_path / "empty").iterdir()) == []


def test_a_new_desk_is_consistent_on_day_one(tmp_path: Path) -> None:
    """No stage names a version nothing registered, and the controller accepts the baseline."""
    from stratops.cli.main import app as stratops

    target = tmp_path / "my-desk"
    assert CliRunner().invoke(stratops, ["init", str(target)]).exit_code == 0
    desk = load_desk([target / "manifests"])
    assert desk.strategies and all(s.retired for s in desk.strategies.values())
    planned = CliRunner().invoke(
        stratops, ["controller", "plan", "--desk", str(target), "--output", "json"]
    )
    assert planned.exit_code == 0, planned.output
    plan = json.loads(planned.stdout)
    assert (plan["actions"], plan["refused"], plan["problems"]) == ([], {}, [])
