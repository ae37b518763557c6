"""``-o table|json|yaml``: one spelling on every reading command, identifiers whole in tables."""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner, Result

from stratops.cli.main import app
from stratops.cli.output import FreeText, new_table
from stratops.controller.assembly import ControllerPaths
from stratops.controller.audit import AuditLog
from stratops.gitops.forge.local import LocalForge
from stratops.gitops.forge.models import NewPullRequest

BRANCH = "promote/btc-trend-v12-canary"
SHA = "0123456789abcdef0123456789abcdef01234567"
TITLE = "Promote btc-trend v12 to canary: the paper run passed every gate with room to spare"
AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _run(*args: str | Path, columns: int | None = None) -> Result:
    env = None if columns is None else {"COLUMNS": str(columns)}
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``init -o yaml``'s account of a new desk, with an open pull request and audit events."""
    monkeypatch = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text("")
    for name, value in {
        "HOME": str(home),
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Rita",
        "GIT_AUTHOR_EMAIL": "rita@desk.example",
        "GIT_COMMITTER_NAME": "Rita",
        "GIT_COMMITTER_EMAIL": "rita@desk.example",
    }.items():
        monkeypatch.setenv(name, value)
    made = _run("init", tmp_path_factory.mktemp("work") / "desk", "-o", "yaml")
    assert made.exit_code == 0, made.output
    scaffold = yaml.safe_load(made.stdout)
    root = Path(scaffold["root"])
    _git(root, "switch", "--quiet", "-c", BRANCH)
    (root / "README.md").write_text("v12 to canary\n")
    _git(root, "commit", "--quiet", "-am", "promote v12")
    _git(root, "push", "--quiet", "origin", BRANCH)
    forge = LocalForge(Path(scaffold["remote"]))
    forge.open_pull_request(
        NewPullRequest(
            title=TITLE, body="why", head_branch=BRANCH, base_branch="main", author="rita"
        )
    )
    _git(root, "switch", "--quiet", "main")
    log = AuditLog(ControllerPaths(root).audit)
    for number, action in enumerate(("deploy", "set-alias"), start=1):
        log.append(
            key=f"k{number}", at=AT, actor="controller", action=action, strategy="btc-trend",
            stage="canary", version=12, commit=SHA,
            reason="main names v12 for canary and nothing runs it yet, so the controller starts it",
        )  # fmt: skip
    yield scaffold
    monkeypatch.undo()


def test_init_reports_what_it_created(desk: dict[str, Any]) -> None:
    root = Path(desk["root"])
    assert desk["commit"] == _git(root, "rev-parse", "main")
    assert Path(desk["remote"]) == root / ".stratops" / "remote.git"
    assert Path(desk["forge"]).is_dir()


@pytest.mark.parametrize(
    "command",
    [
        ("validate", "{root}/manifests"),
        ("pr", "list", "--state", "all", "--desk", "{root}"),
        ("pr", "show", "1", "--desk", "{root}"),
        ("audit", "log", "--desk", "{root}"),
        ("audit", "show", "2", "--desk", "{root}"),
        ("audit", "verify", "--no-remote", "--desk", "{root}"),
        ("controller", "plan", "--no-fetch", "--desk", "{root}"),
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_yaml_holds_the_same_data_as_json(desk: dict[str, Any], command: tuple[str, ...]) -> None:
    args = [arg.format(root=desk["root"]) for arg in command]
    as_json, as_yaml = _run(*args, "-o", "json"), _run(*args, "--output", "yaml")
    assert (as_json.exit_code, as_yaml.exit_code) == (0, 0), as_yaml.output
    data, same = json.loads(as_json.stdout), yaml.safe_load(as_yaml.stdout)
    if command[0] == "controller":  # how long the plan took differs from run to run
        assert isinstance(data.pop("seconds"), float) and isinstance(same.pop("seconds"), float)
    assert data
    assert same == data


def test_yaml_of_a_pull_request(desk: dict[str, Any]) -> None:
    shown = yaml.safe_load(_run("pr", "show", "1", "--desk", desk["root"], "-o", "yaml").stdout)
    assert shown["pullRequest"]["head_branch"] == BRANCH
    assert shown["pullRequest"]["title"] == TITLE
    verified = yaml.safe_load(_run("audit", "verify", "--no-remote", "--desk", desk["root"],
                                   "-o", "yaml").stdout)  # fmt: skip
    assert (verified["ok"], verified["events"], verified["brokenLink"]) == (True, 2, None)


@pytest.mark.parametrize(
    ("command", "choices"),
    [
        (("pr", "list"), "'table', 'json', 'yaml'"),
        (("versions", "btc-trend"), "'table', 'json', 'yaml'"),
        (("gates", "check", "--base", "main"), "'markdown', 'json', 'yaml'"),
    ],
)
def test_an_unknown_format_names_the_known_ones(command: tuple[str, ...], choices: str) -> None:
    result = _run(*command, "-o", "xml")
    assert result.exit_code == 2
    message = " ".join(result.stderr.replace("│", " ").split())
    assert "Invalid value for '--output' / '-o'" in message
    assert f"'xml' is not one of {choices}" in message


def test_a_narrow_piped_table_keeps_identifiers_whole(desk: dict[str, Any]) -> None:
    listed = _run("pr", "list", "--state", "all", "--desk", desk["root"], columns=40)
    assert listed.exit_code == 0, listed.output
    assert BRANCH in listed.stdout
    logged = _run("audit", "log", "--desk", desk["root"], columns=40)
    assert logged.exit_code == 0, logged.output
    assert "2026-01-02 03:04:05" in logged.stdout
    assert "btc-trend/canary v12" in logged.stdout
    assert SHA[:12] in logged.stdout


def _rendered(width: int, *rows: tuple[str, str, str]) -> list[str]:
    table = new_table("Reviews of sha256:" + "f" * 64, "branch", FreeText("comment"), "commit")
    for row in rows:
        table.add_row(*row)
    console = Console(file=io.StringIO(), width=width, soft_wrap=True)
    console.print(table)
    text = console.file.getvalue()
    assert isinstance(text, str)
    return text.splitlines()


def test_free_text_folds_between_words_and_identifiers_stay_on_one_line() -> None:
    comment = "the evidence covers three regimes and the drawdown stays within budget"
    lines = _rendered(40, (BRANCH, comment, SHA))
    assert sum(BRANCH in line for line in lines) == 1
    assert sum(SHA in line for line in lines) == 1
    assert any(("sha256:" + "f" * 64) in line for line in lines)  # the title's digest too
    assert len(lines) > 6  # the comment took several lines
    words = " ".join(line.replace("│", " ") for line in lines).split()
    assert all(word in words for word in comment.split())  # folded only between words


def test_a_wide_console_keeps_free_text_on_one_line() -> None:
    comment = "evidence ok"
    lines = _rendered(200, (BRANCH, comment, SHA))
    assert any(BRANCH in line and comment in line and SHA in line for line in lines)


def test_audit_show_prints_one_event_whole(desk: dict[str, Any]) -> None:
    shown = _run("audit", "show", "2", "--desk", desk["root"], columns=40)
    assert shown.exit_code == 0, shown.output
    lines = dict(line.split(None, 1) for line in shown.stdout.splitlines())
    assert lines["sequence"] == "2" and lines["action"] == "set-alias"
    assert lines["commit"] == SHA  # whole, not cut to 12
    assert lines["reason"].endswith("so the controller starts it")  # one line, not folded
    missing = _run("audit", "show", "9", "--desk", desk["root"])
    assert missing.exit_code == 2
    assert "no audit event 9: events are 1 to 2" in missing.stderr


def test_audit_log_refuses_a_strategy_name_that_cannot_exist(desk: dict[str, Any]) -> None:
    result = _run("audit", "log", "--strategy", "BAD NAME", "--desk", desk["root"])
    assert result.exit_code == 2
    assert "--strategy 'BAD NAME' is not a strategy name: DNS-1123 label" in result.stderr
