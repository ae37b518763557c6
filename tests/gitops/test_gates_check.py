"""``stratops gates check`` between two commits, as CI runs it on a pull request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stratops.gitops.forge.local import LocalForge
from stratops.gitops.forge.models import GATES_MARKER, StatusState
from stratops.gitops.scaffold import Scaffold

from .conftest import Invoke
from .helpers import commit_all, git

BRANCH = "origin/promote/btc-trend/v4-live"


def test_ci_recomputes_the_report_of_the_promotion_commit(invoke: Invoke, desk: Scaffold) -> None:
    assert invoke("promote", "btc-trend", "4", "--to", "live").exit_code == 0
    git(desk.root, "fetch", "--quiet", "origin")
    digest = git(
        desk.root, "show", "-s", "--format=%(trailers:key=Gate-Report-Digest,valueonly)", BRANCH
    )
    result = invoke("gates", "check", "--base", "origin/main", "--head", BRANCH)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(GATES_MARKER)
    assert "## Promotion gates: ✅ PASS" in result.stdout
    assert f"report `{digest.strip()}`" in result.stdout  # the same bytes, recomputed
    as_json = json.loads(
        invoke("gates", "check", "--base", "origin/main", "--head", BRANCH, "-o", "json").stdout
    )
    assert as_json["passed"] is True
    assert [p["digest"] for p in as_json["promotions"]] == [digest.strip()]


def edit_and_commit(desk: Scaffold, old: str, new: str, message: str) -> str:
    path = desk.root / "manifests" / "strategies" / "btc-trend.yaml"
    path.write_text(path.read_text().replace(old, new))
    return commit_all(desk.root, message)


def test_a_failing_promotion_exits_1_and_rollbacks_are_listed(
    invoke: Invoke, desk: Scaffold
) -> None:
    edit_and_commit(desk, "paper: {version: 5}", "paper: {version: 7}", "v7 to paper")
    edit_and_commit(
        desk,
        "    canary: {version: 4, allocation: 50000, analysis: trend-canary, minDuration: 24h}\n",
        "",
        "Roll back the v4 canary",
    )
    result = invoke("gates", "check", "--base", "origin/main", "--head", "HEAD")
    assert result.exit_code == 0, result.output  # paper has no gates
    assert "| btc-trend | canary: v4 → removed | rollback |" in result.stdout
    edit_and_commit(
        desk,
        "    paper: {version: 7}",
        "    canary: {version: 7, allocation: 50000, analysis: trend-canary}\n"
        "    paper: {version: 7}",
        "v7 to canary",
    )
    failing = invoke("gates", "check", "--base", "HEAD~1", "--head", "HEAD")
    assert failing.exit_code == 1
    assert "### Gates: btc-trend v7 → canary: ❌ FAIL" in failing.stdout


def test_a_pull_request_cannot_lower_its_own_bar(invoke: Invoke, desk: Scaffold) -> None:
    """v7 fails the probability of backtest overfitting: relaxing it in the same PR fails."""
    edit_and_commit(desk, "paper: {version: 5}", "paper: {version: 7}", "v7 to paper")
    git(desk.root, "push", "--quiet", "origin", "HEAD:main")
    policy = desk.root / "manifests" / "policy" / "desk-policy.yaml"
    relaxed = policy.read_text().replace("pbo: {max: 0.30, blocks: 16}", "pbo: {max: 1.0}", 1)
    policy.write_text(relaxed)
    edit_and_commit(
        desk,
        "canary: {version: 4, allocation: 50000, analysis: trend-canary, minDuration: 24h}",
        "canary: {version: 7, allocation: 50000, analysis: trend-canary, minDuration: 24h}",
        "Relax the overfitting gate and promote v7 to canary",
    )
    result = invoke("gates", "check", "--base", "origin/main", "--head", "HEAD", "-o", "json")
    assert result.exit_code == 1, result.output
    verdict = json.loads(result.stdout)
    assert "changes the rules (GatePolicy/desk-policy) and promotes" in verdict["refusal"]
    [report] = verdict["promotions"]  # gated by the base's policy, not the head's
    failing = [c["name"] for c in report["report"]["checks"] if c["status"] != "pass"]
    assert failing == ["pbo"]


def test_invalid_manifests_at_head_exit_2(invoke: Invoke, desk: Scaffold) -> None:
    edit_and_commit(desk, "halt: flatten", "halt: panic", "bad halt")
    result = invoke("gates", "check", "--base", "origin/main", "--head", "HEAD")
    assert result.exit_code == 2
    assert "manifests/strategies/btc-trend.yaml:16: spec.halt" in result.stderr


def test_unknown_version_in_a_pull_request_exit_2(invoke: Invoke, desk: Scaffold) -> None:
    edit_and_commit(desk, "paper: {version: 5}", "paper: {version: 42}", "v42")
    result = invoke("gates", "check", "--base", "origin/main")
    assert result.exit_code == 2
    assert "no version 42 of 'btc-trend'" in result.stderr


def test_step_summary_and_publishing_to_the_local_forge(
    invoke: Invoke,
    desk: Scaffold,
    forge: LocalForge,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert invoke("promote", "btc-trend", "5", "--to", "canary").exit_code == 0
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    head = "origin/promote/btc-trend/v5-canary"
    git(desk.root, "fetch", "--quiet")
    check = ("gates", "check", "--base", "origin/main", "--head", head, "--publish", "--as", "ci")
    result = invoke(*check)
    assert result.exit_code == 0, result.output
    assert "published to pull request(s): [1]" in result.stderr
    assert summary.read_text().startswith(f"earlier step\n{GATES_MARKER}")
    again = invoke(*check)
    assert again.exit_code == 0
    record = json.loads((desk.forge / "pulls" / "1.json").read_text())
    assert len(record["comments"]) == 1 and record["comments"][0]["author"] == "ci"
    assert record["comments"][0]["body"].startswith(GATES_MARKER)
    statuses = forge.commit_statuses(forge.get_pull_request(1).head_sha)
    assert [(s.creator, s.state) for s in statuses] == [
        ("rita", StatusState.PENDING),  # set by promote
        ("ci", StatusState.SUCCESS),
    ]


def test_no_change_to_desired_state_is_nothing_to_gate(invoke: Invoke, desk: Scaffold) -> None:
    (desk.root / "README.md").write_text("docs only\n")
    commit_all(desk.root, "docs")
    result = invoke("gates", "check", "--base", "origin/main")
    assert result.exit_code == 0
    assert "no promotion to gate" in result.stdout
