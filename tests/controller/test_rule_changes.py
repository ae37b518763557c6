"""A rule change takes effect only through a pull request its owners approved.

The test policy's owners are bob and carol, one approval. Its canary gate wants a second in
paper; the changes here raise that to thirty days (approved) and lower it back (not approved):
a promotion then must still be held to thirty days.
"""

from __future__ import annotations

import pytest
from desks import Desk

from stratops.controller.reconcile import DEPLOYED_CONTEXT, TickResult
from stratops.gitops.errors import MergeBlocked
from stratops.gitops.forge.models import NewPullRequest, NewReview, ReviewState, StatusState
from stratops.gitops.pulls import merge_pull_request
from stratops.model.base import Stage

POLICY = "manifests/policy/policy.yaml"
LENIENT, STRICT = "minDuration: 1s}", "minDuration: 30d}"


def edit_policy(desk: Desk, old: str, new: str, message: str) -> str:
    path = desk.root / POLICY
    path.write_text(path.read_text().replace(old, new))
    desk.git("commit", "--quiet", "-am", message)
    return desk.git("rev-parse", "HEAD")


def rule_pull(desk: Desk, old: str, new: str, *, author: str, approver: str) -> int:
    """A pull request changing the policy, opened by ``author``, approved by ``approver``."""
    branch = f"policy/{new.split()[1].rstrip('}')}"
    desk.git("fetch", "--quiet", "origin")
    desk.git("switch", "--quiet", "-c", branch, "origin/main")
    edit_policy(desk, old, new, f"Policy: {new}")
    desk.git("push", "--quiet", "origin", branch)
    desk.git("switch", "--quiet", "--detach", "origin/main")
    pull = desk.forge.open_pull_request(
        NewPullRequest(
            title=f"Policy: {new}", body="", head_branch=branch, base_branch="main", author=author
        )
    )
    review = NewReview(reviewer=approver, state=ReviewState.APPROVED)
    desk.forge.submit_review(pull.number, review)  # the forge records it; the rules judge it
    return pull.number


def tighten(desk: Desk) -> None:
    """The owners' way: bob approves rita's pull request, it merges under the review rules."""
    number = rule_pull(desk, LENIENT, STRICT, author="rita", approver="bob")
    merge_pull_request(desk.repo, desk.forge, number)
    assert desk.reconciler().tick().rules_refused is None


def canary_is_held_to_the_strict_policy(desk: Desk) -> None:
    """Main's policy is lenient again: promote, CI and the merge all pass; the controller not."""
    desk.promote_and_merge(1, Stage.CANARY, 50_000)
    result = desk.reconciler().tick()
    stage, version, verdict = result.refused["btc-trend"]
    assert (stage, version, verdict.code) == (Stage.CANARY, 1, "digest_mismatch")
    assert Stage.CANARY not in {s.spec.stage for s in desk.runtime().list()}


def refused_rule_change(result: TickResult, sha: str, code: str) -> str:
    assert result.rules_refused is not None
    assert (result.rules_refused.commit, result.rules_refused.code) == (sha, code)
    return result.rules_refused.reason


def test_a_direct_push_to_the_policy_is_refused_and_the_old_policy_stays(desk: Desk) -> None:
    desk.reconciler().tick()
    tighten(desk)
    desk.git("fetch", "--quiet", "origin")
    desk.git("switch", "--quiet", "-C", "main", "origin/main")
    pushed = edit_policy(desk, STRICT, LENIENT, "Policy: canaries after a second again")
    desk.git("push", "--quiet", "origin", "main")

    result = desk.reconciler().tick()
    assert "direct push" in refused_rule_change(result, pushed, "unreviewed")
    assert f"rule change {pushed[:12]} refused (unreviewed)" in result.problems[-1]
    events = [e for e in desk.reconciler().audit.events() if e.action == "policy_refused"]
    assert [(e.commit, e.details["code"]) for e in events] == [(pushed, "unreviewed")]
    deployed = [s for s in desk.forge.commit_statuses(pushed) if s.context == DEPLOYED_CONTEXT]
    assert deployed[-1].state is StatusState.FAILURE
    assert deployed[-1].description.startswith("rule change refused: ")
    canary_is_held_to_the_strict_policy(desk)
    policy_events = [e for e in desk.reconciler().audit.events() if e.action == "policy_refused"]
    assert len(policy_events) == 1  # audited once, not once per tick


@pytest.mark.parametrize("author", ["rita", "bob"], ids=["by-a-trader", "by-an-owner"])
def test_a_policy_pull_request_without_an_owners_approval_does_not_count(
    desk: Desk, author: str
) -> None:
    """Approved by dave, who is no owner; an owner's own change needs another owner."""
    desk.reconciler().tick()
    tighten(desk)
    number = rule_pull(desk, STRICT, LENIENT, author=author, approver="dave")
    with pytest.raises(MergeBlocked, match=r"approvals from the rule owners \(bob, carol\)"):
        merge_pull_request(desk.repo, desk.forge, number)
    head = desk.forge.get_pull_request(number).head_sha
    merged = desk.forge.merge(number, expected_head_sha=head)  # an administrator's merge
    assert merged.merge_sha is not None

    reason = refused_rule_change(desk.reconciler().tick(), merged.merge_sha, "unapproved")
    assert f"PR #{number}: approvals from the rule owners (bob, carol)" in reason
    canary_is_held_to_the_strict_policy(desk)
