"""A reallocation through the GitHub API (the fake checks every exchange against GitHub's
contract): not gated, a raise merges with the approvals of its stage, and the controller finds
the merged pull request of the merge commit that set the allocation."""

from __future__ import annotations

import pytest

from stratops.gitops.forge.models import PullState
from stratops.gitops.scaffold import Scaffold

from ..conftest import Invoke
from ..helpers import git
from .conftest import Connect
from .fake import FakeGitHub

BRANCH = "promote/btc-trend/v3-live-allocation"


def test_a_live_raise_merges_with_two_approvals_and_no_gate_verdict(
    invoke: Invoke,
    github_env: None,
    github: FakeGitHub,
    desk: Scaffold,
    connect: Connect,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened = invoke("promote", "btc-trend", "3", "--allocation", "2000000", "--reason", "capacity")
    assert opened.exit_code == 0, opened.output
    [pull] = github.pulls.values()
    assert (pull.user, pull.head_ref) == ("rita", BRANCH)
    assert "live v3: allocation 1,000,000 → 2,000,000" in pull.body
    assert pull.head_sha not in github.statuses  # nothing gated, no pending gate status
    blocked = invoke("pr", "merge", "1")
    assert blocked.exit_code == 1 and "(0) < required (2)" in blocked.stderr
    for reviewer in ("alice", "bob"):
        monkeypatch.setenv("GITHUB_TOKEN", f"token-{reviewer}")
        assert invoke("pr", "approve", "1").exit_code == 0
    merged = invoke("pr", "merge", "1")
    assert merged.exit_code == 0, merged.output
    merge_sha = git(desk.remote, "rev-parse", "main")
    assert "allocation: 2000000" in git(
        desk.remote, "show", "main:manifests/strategies/btc-trend.yaml"
    )
    [found] = connect("bob").pull_requests_of_commit(merge_sha)
    assert (found.number, found.state, found.merge_sha) == (1, PullState.MERGED, merge_sha)
