"""``stratops pr``: reviews under the policy's rules, and merges that need gates and approvals."""

from __future__ import annotations

import json

from stratops.gitops.forge.local import LocalForge
from stratops.gitops.forge.models import GATES_CONTEXT, CommitStatus, StatusState
from stratops.gitops.scaffold import Scaffold

from .conftest import Invoke
from .helpers import git


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
    assert "live: {version: 4, allocation: 1000000}" in live and "canary:" not in live
    assert forge.pull_requests_of_commit(pull.merge_sha or "") == [pull]
    # the next version can go to canary: a new canary entry, so allocation and analysis are given
    again = ("promote", "btc-trend", "5", "--to", "canary", "--allocation", "40000")
    assert invoke(*again, "--analysis", "trend-canary").exit_code == 0


def test_changes_requested_block_until_approved_again(invoke: Invoke) -> None:
    assert invoke("promote", "btc-trend", "5", "--to", "canary").exit_code == 0
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


def test_failing_gate_status_blocks_the_merge(invoke: Invoke, forge: LocalForge) -> None:
    assert invoke("promote", "btc-trend", "5", "--to", "canary").exit_code == 0
    assert invoke("pr", "approve", "1", "--as", "alice").exit_code == 0
    head = forge.get_pull_request(1).head_sha
    forge.set_commit_status(
        head, CommitStatus(context=GATES_CONTEXT, state=StatusState.FAILURE, description="ci: pbo")
    )
    blocked = invoke("pr", "merge", "1")
    assert blocked.exit_code == 1
    assert "stratops/gates is failure: ci: pbo" in blocked.stderr


def test_list_show_and_close(invoke: Invoke) -> None:
    assert invoke("promote", "btc-trend", "5", "--to", "canary").exit_code == 0
    listed = invoke("pr", "list", "--output", "json")
    assert [p["number"] for p in json.loads(listed.stdout)] == [1]
    shown = invoke("pr", "show", "1")
    assert "blocked: approvals on head" in shown.stdout
    assert "status stratops/gates: success" in shown.stdout
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
