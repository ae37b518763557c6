"""``stratops pr``: reviews under the policy's rules, and merges that need gates and approvals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import Result

from stratops.gitops.forge.local import LocalForge
from stratops.gitops.forge.models import (
    GATES_CONTEXT,
    CommitStatus,
    NewReview,
    ReviewState,
    StatusState,
)
from stratops.gitops.scaffold import Scaffold

from .conftest import Invoke
from .helpers import git


def ci_publishes(invoke: Invoke, forge: LocalForge, number: int) -> Result:
    """What CI does for a pull request: check its head's gates and publish the verdict."""
    head = forge.get_pull_request(number).head_sha
    check = ("gates", "check", "--base", "origin/main", "--head", head, "--publish")
    return invoke(*check, "--as", "ci")


def test_live_promotion_needs_two_approvals_not_the_authors(
    invoke: Invoke, desk: Scaffold, forge: LocalForge
) -> None:
    assert invoke("promote", "btc-trend", "4", "--to", "live").exit_code == 0
    own = invoke("pr", "approve", "1")  # as rita, the author (from $USER)
    assert own.exit_code == 2
    assert "separation of duties: rita opened #1 and cannot approve it" in own.stderr
    assert invoke("pr", "approve", "1", "--as", "alice", "--comment", "evidence ok").exit_code == 0
    blocked = invoke("pr", "merge", "1")
    assert blocked.exit_code == 1
    assert "approvals on head" in blocked.stderr and "(1 (alice)) < required (2)" in blocked.stderr
    assert invoke("pr", "approve", "1", "--as", "bob").exit_code == 0
    assert ci_publishes(invoke, forge, 1).exit_code == 0
    merged = invoke("pr", "merge", "1")
    assert merged.exit_code == 0, merged.output
    pull = forge.get_pull_request(1)
    assert pull.state.value == "merged"
    assert git(desk.remote, "rev-parse", "main") == pull.merge_sha
    assert git(desk.remote, "log", "-1", "--format=%s", "main") == (
        "Merge pull request #1 from promote/btc-trend/v4-live"
    )
    assert git(desk.remote, "rev-parse", "main^2") == pull.head_sha  # a merge commit
    live = git(desk.remote, "show", "main:manifests/strategies/btc-trend.yaml")
    assert "live: {version: 4, allocation: 1000000, analysis: trend-canary}" in live
    assert "canary:" not in live
    assert forge.pull_requests_of_commit(pull.merge_sha or "") == [pull]
    # the next version can go to canary: a new canary entry, so allocation and analysis are given
    again = ("promote", "btc-trend", "5", "--to", "canary", "--allocation", "40000")
    assert invoke(*again, "--analysis", "trend-canary").exit_code == 0


def test_changes_requested_block_until_approved_again(invoke: Invoke, forge: LocalForge) -> None:
    assert invoke("promote", "btc-trend", "5", "--to", "canary").exit_code == 0
    assert ci_publishes(invoke, forge, 1).exit_code == 0
    assert invoke("pr", "approve", "1", "--as", "alice").exit_code == 0
    assert (
        invoke("pr", "request-changes", "1", "--as", "bob", "--comment", "allocation?").exit_code
        == 0
    )
    blocked = invoke("pr", "merge", "1")
    assert blocked.exit_code == 1
    assert "changes requested by bob" in blocked.stderr
    assert invoke("pr", "approve", "1", "--as", "bob").exit_code == 0
    assert invoke("pr", "merge", "1").exit_code == 0


def test_a_new_push_dismisses_approvals(invoke: Invoke) -> None:
    assert invoke("promote", "btc-trend", "5", "--to", "canary").exit_code == 0
    assert invoke("pr", "approve", "1", "--as", "alice").exit_code == 0
    assert (
        invoke("promote", "btc-trend", "5", "--to", "canary", "--allocation", "45000").exit_code
        == 0
    )
    shown = invoke("pr", "show", "1", "--output", "json")
    assert shown.exit_code == 0, shown.output
    payload = json.loads(shown.stdout)
    assert [r["state"] for r in payload["reviews"]] == ["dismissed"]
    assert "(0) < required (1)" in payload["mergeBlockers"][0]
    assert invoke("pr", "merge", "1").exit_code == 1


def test_merge_waits_for_the_verdict_of_ci(invoke: Invoke, forge: LocalForge) -> None:
    assert invoke("promote", "btc-trend", "5", "--to", "canary").exit_code == 0
    assert invoke("pr", "approve", "1", "--as", "alice").exit_code == 0
    pending = invoke("pr", "merge", "1")  # promote left the status pending
    assert pending.exit_code == 3, pending.output
    assert "CI (ci) has not given its stratops/gates verdict" in pending.stderr
    assert "merge again once CI has published its verdict" in pending.stderr
    # the attack: the author sets the gates green; it is not CI's verdict
    head = forge.get_pull_request(1).head_sha
    green = CommitStatus(context=GATES_CONTEXT, state=StatusState.SUCCESS, creator="rita")
    forge.set_commit_status(head, green)
    forged = invoke("pr", "merge", "1")
    assert forged.exit_code == 3 and "not CI, ignored: success by rita" in forged.stderr
    assert forge.get_pull_request(1).state.value == "open"
    assert ci_publishes(invoke, forge, 1).exit_code == 0
    merged = invoke("pr", "merge", "1")
    assert merged.exit_code == 0, merged.output


def test_failing_gate_status_of_ci_blocks_the_merge(invoke: Invoke, forge: LocalForge) -> None:
    assert invoke("promote", "btc-trend", "5", "--to", "canary").exit_code == 0
    assert invoke("pr", "approve", "1", "--as", "alice").exit_code == 0
    head = forge.get_pull_request(1).head_sha
    forge.set_commit_status(
        head,
        CommitStatus(
            context=GATES_CONTEXT, state=StatusState.FAILURE, creator="ci", description="ci: pbo"
        ),
    )
    blocked = invoke("pr", "merge", "1")
    assert blocked.exit_code == 1
    assert "stratops/gates is failure: ci: pbo" in blocked.stderr


def test_an_approval_older_than_the_ttl_does_not_count(invoke: Invoke, desk: Scaffold) -> None:
    assert invoke("promote", "btc-trend", "5", "--to", "canary").exit_code == 0
    eight_days_ago = datetime.now(UTC) - timedelta(days=8)
    LocalForge(desk.remote, clock=lambda: eight_days_ago).submit_review(
        1, NewReview(reviewer="alice", state=ReviewState.APPROVED)
    )
    forge = LocalForge(desk.remote)
    assert ci_publishes(invoke, forge, 1).exit_code == 0
    stale = invoke("pr", "merge", "1")
    assert stale.exit_code == 1
    assert "(0) < required (1); the author's own and those older than 7d" in stale.stderr
    assert invoke("pr", "approve", "1", "--as", "alice").exit_code == 0  # a fresh look
    assert invoke("pr", "merge", "1").exit_code == 0


def test_list_show_and_close(invoke: Invoke) -> None:
    assert invoke("promote", "btc-trend", "5", "--to", "canary").exit_code == 0
    listed = invoke("pr", "list", "--output", "json")
    assert [p["number"] for p in json.loads(listed.stdout)] == [1]
    shown = invoke("pr", "show", "1")
    assert "blocked: approvals on head" in shown.stdout
    assert "status stratops/gates by rita: pending waiting for CI" in shown.stdout
    assert invoke("pr", "close", "1").exit_code == 0
    assert json.loads(invoke("pr", "list", "--output", "json").stdout) == []
    closed = json.loads(invoke("pr", "list", "--state", "closed", "--output", "json").stdout)
    assert [(p["number"], p["state"]) for p in closed] == [(1, "closed")]
    assert "closed" in invoke("pr", "list", "--state", "all").stdout
    late = invoke("pr", "approve", "1", "--as", "alice")
    assert late.exit_code == 2 and "is closed" in late.stderr
    assert invoke("pr", "merge", "1").exit_code == 1
    missing = invoke("pr", "show", "9")
    assert missing.exit_code == 2 and "no pull request #9" in missing.stderr


def test_a_policy_pull_request_merges_with_an_owners_approval_only(
    invoke: Invoke, desk: Scaffold
) -> None:
    assert invoke("pr", "create", "--head", "policy/lenient", "--title", "x").exit_code == 2
    git(desk.root, "switch", "--quiet", "-c", "policy/lenient")
    policy = desk.root / "manifests" / "policy" / "desk-policy.yaml"
    policy.write_text(policy.read_text().replace("minDuration: 7d}", "minDuration: 1s}", 1))
    git(desk.root, "commit", "--quiet", "-am", "Policy: canaries after a second in paper")
    git(desk.root, "push", "--quiet", "origin", "policy/lenient")
    opened = invoke("pr", "create", "--head", "policy/lenient", "--title", "Policy: lenient")
    assert opened.exit_code == 0, opened.output
    assert "opened #1: policy/lenient → main" in opened.stdout
    assert invoke("pr", "approve", "1", "--as", "alice").exit_code == 0  # no owner
    blocked = invoke("pr", "merge", "1")
    assert blocked.exit_code == 1
    assert "approvals from the rule owners (bob, carol) on head" in blocked.stderr
    assert "(0) < required (1)" in blocked.stderr
    assert invoke("pr", "approve", "1", "--as", "carol").exit_code == 0
    merged = invoke("pr", "merge", "1")  # no gates: a rule change promotes nothing
    assert merged.exit_code == 0, merged.output
