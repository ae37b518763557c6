"""The GitHub forge against a fake GitHub that checks every exchange against GitHub's contract."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stratops.gitops.errors import ForgeRejected, ForgeUnavailable
from stratops.gitops.forge.models import (
    GATES_CONTEXT,
    GATES_MARKER,
    CommitStatus,
    NewPullRequest,
    NewReview,
    PullState,
    ReviewState,
    StatusState,
)
from stratops.gitops.git import GitRepo
from stratops.gitops.plan import PromotionRequest
from stratops.gitops.promote import promote
from stratops.gitops.scaffold import Scaffold
from stratops.model.base import Stage

from ..conftest import Invoke
from ..helpers import clone, commit_all, git, registry_evaluator
from .conftest import CI, Connect, Sleeps
from .fake import FakeGitHub

BRANCH = "promote/btc-trend/v4-live"


def open_topic(desk: Scaffold, tmp_path: object, connect: Connect, branch: str = "topic") -> int:
    work = clone(desk.remote, desk.root.parent / f"work-{branch}")
    git(work, "checkout", "--quiet", "-b", branch)
    (work / f"{branch}.txt").write_text(branch)
    commit_all(work, branch)
    git(work, "push", "--quiet", "origin", branch)
    new = NewPullRequest(title=branch, body="b", head_branch=branch, base_branch="main", author="x")
    return connect("rita").open_pull_request(new).number


def test_promote_review_and_merge_through_the_github_api(
    invoke: Invoke,
    github_env: None,
    github: FakeGitHub,
    desk: Scaffold,
    connect: Connect,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    promoted = invoke("promote", "btc-trend", "4", "--to", "live", "--reason", "canary passed")
    assert promoted.exit_code == 0, promoted.output
    assert "opened pull request #1" in promoted.stderr
    [pull] = github.pulls.values()
    assert (pull.user, pull.head_ref, pull.base_ref) == ("rita", BRANCH, "main")
    assert "Reason: canary passed" in pull.body
    assert github.statuses[pull.head_sha][0]["context"] == GATES_CONTEXT
    again = invoke("promote", "btc-trend", "4", "--to", "live")
    assert again.exit_code == 0 and "updated pull request #1" in again.stderr
    assert list(github.pulls) == [1]
    assert invoke("pr", "approve", "1").exit_code == 2  # rita is the token's user and the author
    for reviewer in ("alice", "bob"):
        monkeypatch.setenv("GITHUB_TOKEN", f"token-{reviewer}")
        assert invoke("pr", "approve", "1", "--comment", "evidence checked").exit_code == 0
    waiting = invoke("pr", "merge", "1")
    assert waiting.exit_code == 3, waiting.output
    assert "CI (github-actions[bot]) has not given its stratops/gates verdict" in waiting.stderr
    # the attack: a reviewer's token sets the gates green itself; it is not CI's verdict
    green = CommitStatus(context=GATES_CONTEXT, state=StatusState.SUCCESS, creator=CI)
    connect("bob").set_commit_status(pull.head_sha, green)
    assert github.statuses[pull.head_sha][-1]["creator"]["login"] == "bob"
    forged = invoke("pr", "merge", "1")
    assert forged.exit_code == 3 and "ignored: pending by rita, success by bob" in forged.stderr
    # CI, the workflow's token, runs the gates and publishes
    monkeypatch.setenv("GITHUB_TOKEN", "token-ci")
    check = ("gates", "check", "--base", "origin/main", "--head", f"origin/{BRANCH}")
    published = invoke(*check, "--publish")
    assert published.exit_code == 0, published.output
    monkeypatch.setenv("GITHUB_TOKEN", "token-bob")
    merged = invoke("pr", "merge", "1")
    assert merged.exit_code == 0, merged.output
    assert pull.merged_at is not None and pull.merged_by == "bob"
    assert git(desk.remote, "rev-parse", "main^2") == pull.head_sha
    assert (
        git(desk.remote, "log", "-1", "--format=%s", "main")
        == f"Merge pull request #1 from desk/{BRANCH}"
    )


def test_a_push_dismisses_approvals_on_github(
    invoke: Invoke, github_env: None, github: FakeGitHub, connect: Connect
) -> None:
    assert invoke("promote", "btc-trend", "5", "--to", "canary").exit_code == 0
    connect("alice").submit_review(1, NewReview(reviewer="alice", state=ReviewState.APPROVED))
    assert (
        invoke("promote", "btc-trend", "5", "--to", "canary", "--allocation", "45000").exit_code
        == 0
    )
    [review] = connect("rita").list_reviews(1)
    assert review.state is ReviewState.DISMISSED
    blocked = invoke("pr", "merge", "1")
    assert blocked.exit_code == 1 and "(0) < required (1)" in blocked.stderr


def test_github_refuses_self_review_and_foreign_identity(
    desk: Scaffold, tmp_path: object, connect: Connect
) -> None:
    number = open_topic(desk, tmp_path, connect)
    with pytest.raises(ForgeRejected, match="Can not approve your own pull request") as refused:
        connect("rita").submit_review(
            number, NewReview(reviewer="rita", state=ReviewState.APPROVED)
        )
    assert refused.value.status == 422
    with pytest.raises(ForgeRejected, match="belongs to alice, who cannot review as bob"):
        connect("alice").submit_review(
            number, NewReview(reviewer="bob", state=ReviewState.APPROVED)
        )
    with pytest.raises(ForgeRejected, match="A pull request already exists"):
        connect("rita").open_pull_request(
            NewPullRequest(
                title="t", body="", head_branch="topic", base_branch="main", author="rita"
            )
        )


def test_sticky_comment_statuses_and_pagination(
    desk: Scaffold, tmp_path: object, connect: Connect, github: FakeGitHub
) -> None:
    github.max_per_page = 2  # every list below spans several pages
    numbers = [open_topic(desk, tmp_path, connect, f"topic-{i}") for i in range(3)]
    forge = connect("rita")
    assert [p.number for p in forge.list_pull_requests()] == numbers
    assert [p.number for p in forge.list_pull_requests(head_branch="topic-1")] == [numbers[1]]
    for text in ("one", "two", "three"):
        forge.upsert_comment(numbers[0], f"<!-- {text} -->", f"<!-- {text} --> note", "rita")
    first = forge.upsert_comment(numbers[0], GATES_MARKER, f"{GATES_MARKER} v1", "rita")
    second = forge.upsert_comment(numbers[0], GATES_MARKER, f"{GATES_MARKER} v2", "rita")
    assert first.id == second.id and second.body.endswith("v2")
    assert sum(c["issue"] == numbers[0] for c in github.comments.values()) == 4
    head = forge.get_pull_request(numbers[0]).head_sha
    for context, state, description in (
        ("lint", StatusState.SUCCESS, ""),
        (GATES_CONTEXT, StatusState.PENDING, ""),
        (GATES_CONTEXT, StatusState.FAILURE, "pbo"),
    ):
        status = CommitStatus(
            context=context, state=state, creator="anyone", description=description
        )
        forge.set_commit_status(head, status)
    connect("alice").set_commit_status(
        head, CommitStatus(context=GATES_CONTEXT, state=StatusState.SUCCESS, creator="alice")
    )
    # the latest of each context and creator, oldest first; the creator is who GitHub says
    assert [(s.context, s.state, s.creator) for s in forge.commit_statuses(head)] == [
        ("lint", StatusState.SUCCESS, "rita"),
        (GATES_CONTEXT, StatusState.FAILURE, "rita"),
        (GATES_CONTEXT, StatusState.SUCCESS, "alice"),
    ]
    assert [p.number for p in forge.pull_requests_of_commit(head)] == [numbers[0]]
    assert any("page=2" in call for call in github.calls)


def test_merge_needs_the_expected_head_and_closing_works(
    desk: Scaffold, tmp_path: object, connect: Connect
) -> None:
    number = open_topic(desk, tmp_path, connect)
    forge = connect("alice")
    with pytest.raises(ForgeRejected, match="Head branch was modified") as stale:
        forge.merge(number, expected_head_sha="0" * 40)
    assert stale.value.status == 409
    closed = forge.close_pull_request(number)
    assert closed.state is PullState.CLOSED
    assert forge.list_pull_requests(state=PullState.CLOSED) == [closed]
    with pytest.raises(ForgeRejected, match="not mergeable"):
        forge.merge(number, expected_head_sha=closed.head_sha)


def test_retries_5xx_and_secondary_rate_limits(
    desk: Scaffold, tmp_path: object, connect: Connect, github: FakeGitHub, sleeps: Sleeps
) -> None:
    number = open_topic(desk, tmp_path, connect)
    github.fail("GET", r"/pulls/\d+$", 502, times=2)
    github.fail("GET", r"/pulls/\d+$", 403, headers={"Retry-After": "3"})
    github.fail(
        "GET",
        r"/pulls/\d+$",
        429,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1700000007"},
    )
    assert connect("rita").get_pull_request(number).number == number
    assert sleeps == [0.5, 1.0, 3.0, 7.0]


def test_persistent_failures_and_long_waits_are_unavailable(
    desk: Scaffold, tmp_path: object, connect: Connect, github: FakeGitHub, sleeps: Sleeps
) -> None:
    number = open_topic(desk, tmp_path, connect)
    github.fail("GET", r"/pulls/\d+$", 500, times=99)
    with pytest.raises(ForgeUnavailable, match=r"500 injected 500 \(after 5 attempt"):
        connect("rita").get_pull_request(number)
    assert sleeps == [0.5, 1.0, 2.0, 4.0]
    github.faults.clear()
    github.fail("GET", r"/pulls/\d+$", 403, headers={"Retry-After": "120"})
    with pytest.raises(ForgeUnavailable) as waiting:
        connect("rita").get_pull_request(number)
    assert waiting.value.retry_after == 120.0
    github.fail("GET", r"/pulls/\d+$", 403)  # plain 403: forbidden, not a rate limit
    with pytest.raises(ForgeRejected) as forbidden:
        connect("rita").get_pull_request(number)
    assert forbidden.value.status == 403


def test_unreachable_github_is_unavailable(connect: Connect, sleeps: Sleeps) -> None:
    forge = connect("rita", base_url="http://127.0.0.1:9/api/v3")
    with pytest.raises(ForgeUnavailable, match="no answer"):
        forge.list_pull_requests()
    assert len(sleeps) == 4


def test_a_pull_request_github_cannot_open_leaves_no_branch(
    desk: Scaffold, connect: Connect, github: FakeGitHub
) -> None:
    github.fail("POST", r"/pulls$", 500, times=99)
    with pytest.raises(ForgeUnavailable):
        promote(
            GitRepo(desk.root),
            connect("rita"),
            registry_evaluator,
            PromotionRequest(strategy="btc-trend", version=4, target_stage=Stage.LIVE),
            author="rita",
            as_of=datetime.now(UTC).replace(microsecond=0),
        )
    assert git(desk.remote, "for-each-ref", "--format=%(refname:short)", "refs/heads") == "main"
    assert github.pulls == {}


def test_configuration_errors(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, desk: Scaffold
) -> None:
    missing = invoke("pr", "list", "--forge", "github")
    assert missing.exit_code == 2 and "GITHUB_TOKEN is not set" in missing.stderr
    monkeypatch.setenv("GITHUB_TOKEN", "t")
    unknown = invoke("pr", "list", "--forge", "github")
    assert unknown.exit_code == 2 and "set GITHUB_REPOSITORY" in unknown.stderr
    git(desk.root, "remote", "set-url", "origin", "git@github.example:acme/desk.git")
    local = invoke("pr", "list", "--forge", "local")
    assert local.exit_code == 2 and "not on this machine" in local.stderr


def test_owner_and_name_come_from_a_github_origin(
    desk: Scaffold, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stratops.gitops.forge.github import GitHubForge
    from stratops.gitops.forge.select import ForgeKind, open_forge

    repo = GitRepo(desk.root)
    env = {"GITHUB_TOKEN": "t", "GITHUB_API_URL": "http://127.0.0.1:9/api/v3"}
    for url in ("git@github.example:acme/desk.git", "https://github.example/acme/desk"):
        git(desk.root, "remote", "set-url", "origin", url)
        forge = open_forge(repo, ForgeKind.AUTO, env)
        assert isinstance(forge, GitHubForge)
        assert (forge.owner, forge.repo) == ("acme", "/repos/acme/desk")


def test_the_fake_holds_both_sides_to_githubs_contract(
    desk: Scaffold,
    tmp_path: object,
    connect: Connect,
    github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = connect("rita").client
    for method, path, body, params in (
        ("POST", "/repos/desk/trading/pulls", {"title": 1, "head": "x"}, None),
        ("GET", "/repos/desk/trading/pulls", None, {"state": "merged"}),
        ("GET", "/repos/desk/trading/pulls/1/nonsense", None, None),
    ):
        with pytest.raises(ForgeUnavailable):
            client.request(method, path, body=body, params=params)
    assert "pulls/create: request body: (root): 'base' is a required property" in github.violations
    assert any(
        "query parameter state: (root): 'merged' is not one of" in v for v in github.violations
    )
    assert any("no such operation" in v for v in github.violations)
    github.violations.clear()
    number = open_topic(desk, tmp_path, connect)
    shape = github._pull_json
    monkeypatch.setattr(
        github, "_pull_json", lambda pull, full=True: {**shape(pull, full), "number": "one"}
    )
    with pytest.raises(ForgeUnavailable):
        connect("rita").get_pull_request(number)
    assert any(
        "pulls/get 200: response: number: 'one' is not of type 'integer'" in v
        for v in github.violations
    )
    github.violations.clear()
