"""``roll_back`` on a real desk repository and the local forge: which commit, which PR, when.

The promotions are made as people make them (``stratops promote``, CI's gates, an approval,
``stratops pr merge``); the failed analysis is a ``RollbackRequest`` as the judge hands it over.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from stratops.gitops.forge.local import LocalForge
from stratops.gitops.git import Commit, GitRepo, parse_trailers
from stratops.gitops.history import rollbacks
from stratops.gitops.rollback import RollbackRefused, RollbackState, roll_back
from stratops.gitops.rollback_plan import PromotionRef, commit_message, pull_request_body
from stratops.gitops.scaffold import Scaffold
from stratops.gitops.snapshot import desk_at
from stratops.model.base import Stage
from stratops.model.rollback import RollbackRequest

from .conftest import Invoke
from .helpers import commit_all, git
from .test_pr_cli import ci_publishes

MANIFEST = "manifests/strategies/btc-trend.yaml"
DIGEST = hashlib.sha256(b"failed run").hexdigest()


def request(version: int = 5) -> RollbackRequest:
    return RollbackRequest(
        strategy="btc-trend",
        stage=Stage.CANARY,
        version=version,
        analysis_digest=DIGEST,
        report="| metric | regime | phase |\n|---|---|---|\n| slippage_bps | thin | failed |",
        tripped="failed: 2 consecutive failures > consecutiveFailureLimit 1",
        halt="flatten: flat, cost 2.0 bps",
    )


def edit_main(desk: Scaffold, old: str, new: str, message: str) -> str:
    """A direct commit of main that edits the btc-trend manifest (a person at the terminal)."""
    git(desk.root, "pull", "--quiet", "--ff-only", "origin", "main")
    path = desk.root / MANIFEST
    path.write_text(path.read_text().replace(old, new))
    sha = commit_all(desk.root, message)
    git(desk.root, "push", "--quiet", "origin", "main")
    return sha


def merged_canary(invoke: Invoke, forge: LocalForge, *args: str) -> str:
    """Promote btc-trend v5 to canary through a reviewed, gated PR: its merge commit."""
    assert invoke("promote", "btc-trend", "5", "--to", "canary", *args).exit_code == 0
    (pull,) = forge.list_pull_requests()
    assert ci_publishes(invoke, forge, pull.number).exit_code == 0
    assert invoke("pr", "approve", str(pull.number), "--as", "alice").exit_code == 0
    assert invoke("pr", "merge", str(pull.number)).exit_code == 0
    merge = forge.get_pull_request(pull.number).merge_sha
    assert merge is not None
    return merge


CANARY_V4 = (
    "    canary: {version: 4, allocation: 50000, analysis: trend-canary, minDuration: 24h}\n"
)


def without_canary(invoke: Invoke, forge: LocalForge, desk: Scaffold) -> str:
    """v4's canary removed by hand, then v5 promoted into a new canary entry."""
    edit_main(desk, CANARY_V4, "", "drop the v4 canary")
    promoted = ("--allocation", "40000", "--analysis", "trend-canary")
    return merged_canary(invoke, forge, *promoted)


def test_a_later_unrelated_commit_stays_and_the_revert_is_of_the_merge(
    invoke: Invoke, forge: LocalForge, desk: Scaffold, repo: GitRepo
) -> None:
    merge = without_canary(invoke, forge, desk)
    later = edit_main(desk, "    paper: {version: 5}\n", "    paper: {version: 5}\n\n", "spacing")
    done = roll_back(repo, forge, request(), author="stratops-controller", as_of=datetime.now(UTC))
    assert done.state is RollbackState.MERGED and done.merged and done.reverted
    assert done.rollback_of == merge
    pull = done.pull_request
    assert pull is not None and pull.head_branch == "rollback/btc-trend/v5-canary"
    head = repo.commit(pull.head_sha)
    assert head.parents == (later,)
    assert f"This reverts commit {merge}." in head.message
    repo.fetch()
    after = repo.read_file(repo.remote_main(), MANIFEST).decode()
    assert "canary:" not in after and "paper: {version: 5}\n\n" in after  # later edit kept
    assert "the canary analysis failed" in pull.body and "PR #" in pull.body


def test_a_conflicting_revert_becomes_the_edit_that_removes_the_stage(
    invoke: Invoke, forge: LocalForge, desk: Scaffold, repo: GitRepo
) -> None:
    without_canary(invoke, forge, desk)
    edit_main(desk, "allocation: 1000000}", "allocation: 900000}", "less live capital")
    done = roll_back(repo, forge, request(), author="stratops-controller", as_of=datetime.now(UTC))
    assert done.state is RollbackState.MERGED and not done.reverted
    pull = done.pull_request
    assert pull is not None and "the revert conflicts" in pull.body
    repo.fetch()
    before = repo.read_file(f"{repo.remote_main()}^", MANIFEST).decode()
    after = repo.read_file(repo.remote_main(), MANIFEST).decode()
    assert after == "".join(
        line for line in before.splitlines(keepends=True) if "canary: {" not in line
    )
    assert "live: {version: 3, allocation: 900000}" in after


def test_a_revert_that_would_restore_the_replaced_canary_removes_the_stage(
    invoke: Invoke, forge: LocalForge, repo: GitRepo
) -> None:
    merged_canary(invoke, forge)  # v5 replaces v4 in canary: a revert would start v4 again
    done = roll_back(repo, forge, request(), author="stratops-controller", as_of=datetime.now(UTC))
    assert done.state is RollbackState.MERGED and not done.reverted
    repo.fetch()
    stages = desk_at(repo, repo.remote_main()).strategies["btc-trend"].spec.stages
    assert stages.canary is None and stages.live is not None and stages.paper is not None


def test_without_auto_merge_it_waits_and_a_tampered_branch_never_merges(
    invoke: Invoke, forge: LocalForge, desk: Scaffold, repo: GitRepo
) -> None:
    edit_main(desk, "rollback: {autoMerge: canary}", "rollback: {autoMerge: never}", "by hand")
    merged_canary(invoke, forge)
    first = roll_back(repo, forge, request(), author="stratops-controller", as_of=datetime.now(UTC))
    assert first.state is RollbackState.OPEN and first.opened
    assert first.waiting is not None and "waiting for a person's approval" in first.waiting
    pull = first.pull_request
    assert pull is not None
    second = request().model_copy(update={"analysis_digest": "e" * 64})  # another failed run
    joined = roll_back(repo, forge, second, author="stratops-controller", as_of=datetime.now(UTC))
    assert joined.pull_request is not None and joined.pull_request.number == pull.number
    assert not joined.opened and repo.remote_branch(pull.head_branch) == pull.head_sha
    head = repo.commit(pull.head_sha)
    text = repo.read_file(pull.head_sha, MANIFEST).decode().replace("1000000}", "900000}")
    sneaked = repo.commit_file(pull.head_sha, MANIFEST, text.encode(), head.message)
    repo.push(sneaked, pull.head_branch, expected=pull.head_sha)  # same trailers, more change
    assert invoke("pr", "approve", str(pull.number), "--as", "alice").exit_code == 0
    again = roll_back(repo, forge, request(), author="stratops-controller", as_of=datetime.now(UTC))
    assert again.state is RollbackState.OPEN and not again.opened  # the same PR
    assert again.waiting is not None and "not merged by the controller" in again.waiting
    assert len(forge.list_pull_requests(state=None, head_branch=pull.head_branch)) == 1


def test_nothing_to_revert_and_nothing_to_roll_back(forge: LocalForge, repo: GitRepo) -> None:
    with pytest.raises(
        RollbackRefused, match="no promotion commit"
    ):  # v4: scaffolded, not promoted
        roll_back(repo, forge, request(4), author="stratops-controller", as_of=datetime.now(UTC))
    gone = roll_back(repo, forge, request(9), author="stratops-controller", as_of=datetime.now(UTC))
    assert gone.state is RollbackState.OBSOLETE and "runs v4 in canary, not v9" in gone.detail
    assert repo.remote_branch("rollback/btc-trend/v9-canary") is None


def test_the_message_and_body_carry_the_trailers_the_history_reads() -> None:
    promotion = PromotionRef("a" * 40, "b" * 40, "c" * 64, pull_request=7, url="https://x/7")
    wanted = request()
    for reverted in (True, False):
        message = commit_message(wanted, promotion, reverted)
        trailers = dict(parse_trailers(message))
        assert trailers["Rollback-Of"] == "b" * 40 and trailers["Analysis-Digest"] == DIGEST
        assert "Gate-Report-Digest" not in trailers  # never a promotion
        body = pull_request_body(wanted, promotion, reverted)
        for part in (wanted.tripped, wanted.halt, "PR #7", "c" * 64, "https://x/7", DIGEST):
            assert part in body
        assert wanted.report in body
    (found,) = rollbacks([_commit(commit_message(wanted, promotion, True))])
    assert (found.strategy, found.version, found.stage) == ("btc-trend", 5, Stage.CANARY)
    assert found.rollback_of == "b" * 40


def _commit(message: str) -> Commit:
    return Commit("d" * 40, (), "x", datetime.now(UTC), message, parse_trailers(message))
