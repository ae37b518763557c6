"""``roll_back`` of a live deployment on a real desk repository and the local forge.

The desk runs v3 live and v4 in canary; v4 goes live as people promote it (``stratops
promote``, CI's gates, two approvals, ``stratops pr merge``). The breach of its guardrails is a
``RollbackRequest`` as the judge hands it over. A live rollback restores v3 (or removes the
live stage when nothing was live before), never restarts v4 as a canary, never merges itself
(``rollback: {autoMerge: canary}`` is the desk's policy) and is refused when it conflicts.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from stratops.gitops.forge.local import LocalForge
from stratops.gitops.forge.models import PullState
from stratops.gitops.git import GitRepo
from stratops.gitops.rollback import RollbackRefused, RollbackState, roll_back
from stratops.gitops.scaffold import Scaffold
from stratops.gitops.snapshot import desk_at
from stratops.model.base import Stage
from stratops.model.rollback import RollbackRequest

from .conftest import Invoke
from .test_pr_cli import ci_publishes
from .test_rollback import MANIFEST, edit_main

DIGEST = hashlib.sha256(b"breached live run").hexdigest()
LIVE_V3 = "    live: {version: 3, allocation: 1000000}\n"


def breach() -> RollbackRequest:
    return RollbackRequest(
        strategy="btc-trend",
        stage=Stage.LIVE,
        version=4,
        analysis_digest=DIGEST,
        report="### Live guardrails of btc-trend v4: **failed**\n",
        tripped="failed: haltOn drawdown 0.07 > 0.05",
        halt="halted (flatten) by the controller at this tick; positions flat",
    )


def merged_live(invoke: Invoke, forge: LocalForge) -> str:
    """v4 promoted from canary to live through a gated PR two people approved: its merge."""
    promoted = invoke("promote", "btc-trend", "4", "--to", "live", "--allocation", "1000000")
    assert promoted.exit_code == 0, promoted.output
    (pull,) = forge.list_pull_requests(state=PullState.OPEN)
    assert ci_publishes(invoke, forge, pull.number).exit_code == 0
    for person in ("alice", "bob"):
        assert invoke("pr", "approve", str(pull.number), "--as", person).exit_code == 0
    assert invoke("pr", "merge", str(pull.number)).exit_code == 0
    merge = forge.get_pull_request(pull.number).merge_sha
    assert merge is not None
    return merge


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def test_the_previous_live_version_returns_once_a_person_approves(
    invoke: Invoke, desk: Scaffold, forge: LocalForge, repo: GitRepo
) -> None:
    merge = merged_live(invoke, forge)
    repo.fetch()
    before = repo.read_file(f"{merge}^1", MANIFEST).decode()
    done = roll_back(repo, forge, breach(), author="stratops-controller", as_of=now())
    assert done.state is RollbackState.OPEN and done.opened and done.reverted
    assert done.waiting is not None and "a live rollback: waiting for a person" in done.waiting
    pull = done.pull_request
    assert pull is not None and pull.head_branch == "rollback/btc-trend/v4-live"
    head = repo.commit(pull.head_sha)
    assert dict(head.trailers)["Rollback-Of"] == merge
    assert dict(head.trailers)["Analysis-Digest"] == DIGEST
    assert f"This reverts commit {merge}." in head.message
    stages = desk_at(repo, pull.head_sha).strategies["btc-trend"].spec.stages
    assert stages.live is not None and stages.live.version == 3  # the previous live version
    assert stages.canary is None  # v4 is not restarted as a canary
    assert LIVE_V3 in repo.read_file(pull.head_sha, MANIFEST).decode()
    assert LIVE_V3 in before
    for part in ("haltOn guardrail of the live deployment tripped", breach().tripped, DIGEST):
        assert part in pull.body
    assert f"Rollback-Of: {merge}" in pull.body and "waits for a person's approval" in pull.body

    again = roll_back(repo, forge, breach(), author="stratops-controller", as_of=now())
    assert again.state is RollbackState.OPEN and not again.opened  # one PR per breach
    assert forge.get_pull_request(pull.number).state is PullState.OPEN  # autoMerge: canary
    assert len(forge.list_pull_requests(state=None, head_branch=pull.head_branch)) == 1

    assert invoke("pr", "approve", str(pull.number), "--as", "alice").exit_code == 0
    assert invoke("pr", "merge", str(pull.number)).exit_code == 0  # a person merges it
    repo.fetch()
    after = desk_at(repo, repo.remote_main()).strategies["btc-trend"].spec.stages
    assert after.live is not None and after.live.version == 3 and after.canary is None
    assert after.paper is not None and after.paper.version == 5
    found = roll_back(repo, forge, breach(), author="stratops-controller", as_of=now())
    assert found.state is RollbackState.MERGED and not found.merged  # nothing done twice


def test_without_a_previous_live_version_the_live_stage_goes(
    invoke: Invoke, desk: Scaffold, forge: LocalForge, repo: GitRepo
) -> None:
    edit_main(desk, LIVE_V3, "", "nothing live yet")
    merged_live(invoke, forge)
    done = roll_back(repo, forge, breach(), author="stratops-controller", as_of=now())
    assert done.state is RollbackState.OPEN and done.reverted
    assert done.pull_request is not None
    stages = desk_at(repo, done.pull_request.head_sha).strategies["btc-trend"].spec.stages
    assert stages.live is None and stages.canary is None
    assert stages.paper is not None and stages.paper.version == 5


def test_a_conflicting_live_revert_is_refused(
    invoke: Invoke, desk: Scaffold, forge: LocalForge, repo: GitRepo
) -> None:
    merged_live(invoke, forge)
    edit_main(desk, "allocation: 1000000, analysis", "allocation: 900000, analysis", "less")
    with pytest.raises(RollbackRefused, match="a person must resolve") as refused:
        roll_back(repo, forge, breach(), author="stratops-controller", as_of=now())
    assert "conflicts with later changes of main" in str(refused.value)
    assert "restores the previous live version" in str(refused.value)
    assert repo.remote_branch("rollback/btc-trend/v4-live") is None  # nothing half-done
    assert forge.list_pull_requests(state=None, head_branch="rollback/btc-trend/v4-live") == []
