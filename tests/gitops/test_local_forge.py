"""The local forge on its own: concurrent use, records on disk, merges that meet real git."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from stratops.gitops.errors import ForgeRejected
from stratops.gitops.forge.local import LocalForge
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
from stratops.gitops.scaffold import Scaffold

from .helpers import clone, commit_all, git


def branch_with(desk: Scaffold, work: Path, branch: str, file: str, text: str) -> str:
    git(work, "checkout", "--quiet", "-B", branch, "origin/main")
    (work / file).write_text(text)
    sha = commit_all(work, f"Change {file}")
    git(work, "push", "--quiet", "origin", f"{branch}:{branch}")
    return sha


def new(branch: str, author: str = "rita") -> NewPullRequest:
    return NewPullRequest(
        title=branch, body="", head_branch=branch, base_branch="main", author=author
    )


@pytest.fixture
def work(desk: Scaffold, tmp_path: Path) -> Path:
    return clone(desk.remote, tmp_path / "work")


def test_concurrent_writers_get_distinct_numbers(desk: Scaffold, work: Path) -> None:
    branches = [f"topic-{i}" for i in range(8)]
    for branch in branches:
        branch_with(desk, work, branch, f"{branch}.txt", branch)

    def open_one(branch: str) -> int:
        forge = LocalForge(desk.remote)  # one instance per writer, as separate processes have
        return forge.open_pull_request(new(branch)).number

    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(pool.map(open_one, branches))
    assert sorted(numbers) == list(range(1, 9))
    stored = json.loads((desk.forge / "pulls" / "3.json").read_text())
    assert stored["number"] == 3 and stored["state"] == "open"


def test_one_open_pull_request_per_branch_and_real_branches_only(
    desk: Scaffold, work: Path, forge: LocalForge
) -> None:
    branch_with(desk, work, "topic", "a.txt", "a")
    forge.open_pull_request(new("topic"))
    with pytest.raises(ForgeRejected, match="#1 for topic is already open"):
        forge.open_pull_request(new("topic"))
    with pytest.raises(ForgeRejected, match="branch 'ghost' does not exist"):
        forge.open_pull_request(new("ghost"))
    with pytest.raises(ForgeRejected, match="no pull request #5"):
        forge.get_pull_request(5)


def test_marked_comment_is_updated_in_place(desk: Scaffold, work: Path, forge: LocalForge) -> None:
    branch_with(desk, work, "topic", "a.txt", "a")
    forge.open_pull_request(new("topic"))
    forge.upsert_comment(1, "<!-- other -->", "<!-- other --> hello", "alice")
    first = forge.upsert_comment(1, GATES_MARKER, f"{GATES_MARKER} v1", "ci")
    second = forge.upsert_comment(1, GATES_MARKER, f"{GATES_MARKER} v2", "ci")
    assert first.id == second.id == 2
    record = json.loads((desk.forge / "pulls" / "1.json").read_text())
    assert [c["body"] for c in record["comments"]] == ["<!-- other --> hello", f"{GATES_MARKER} v2"]


def test_merge_onto_a_moved_main_makes_a_merge_commit(
    desk: Scaffold, work: Path, forge: LocalForge
) -> None:
    head = branch_with(desk, work, "topic", "a.txt", "a")
    forge.open_pull_request(new("topic"))
    moved = branch_with(desk, work, "main", "b.txt", "b")  # someone pushed to main meanwhile
    merged = forge.merge(1, expected_head_sha=head)
    assert merged.state is PullState.MERGED
    parents = git(desk.remote, "show", "-s", "--format=%P", "main").split()
    assert parents == [moved, head]
    assert forge.pull_requests_of_commit(head) == [merged]
    with pytest.raises(ForgeRejected, match="#1 is merged"):
        forge.submit_review(1, NewReview(reviewer="bob", state=ReviewState.APPROVED))


def test_merge_refuses_a_stale_head_and_conflicts(
    desk: Scaffold, work: Path, forge: LocalForge
) -> None:
    head = branch_with(desk, work, "topic", "README.md", "ours\n")
    forge.open_pull_request(new("topic"))
    with pytest.raises(ForgeRejected, match="review the new head first"):
        forge.merge(1, expected_head_sha="0" * 40)
    branch_with(desk, work, "main", "README.md", "theirs\n")
    with pytest.raises(ForgeRejected, match="does not merge cleanly into main"):
        forge.merge(1, expected_head_sha=head)
    assert forge.get_pull_request(1).state is PullState.OPEN


def test_reviews_record_their_head_and_time_statuses_their_creator(
    desk: Scaffold, work: Path
) -> None:
    at = datetime(2026, 3, 2, 12, tzinfo=UTC)
    forge = LocalForge(desk.remote, clock=lambda: at)
    first = branch_with(desk, work, "topic", "a.txt", "a")
    forge.open_pull_request(new("topic"))
    review = forge.submit_review(1, NewReview(reviewer="bob", state=ReviewState.APPROVED))
    assert (review.commit_sha, review.submitted_at) == (first, at)
    git(work, "checkout", "--quiet", "topic")
    (work / "b.txt").write_text("b")
    second = commit_all(work, "a new push")
    git(work, "push", "--quiet", "origin", "topic")
    [dismissed] = forge.list_reviews(1)
    assert (dismissed.state, dismissed.commit_sha) == (ReviewState.DISMISSED, first)
    for creator, state in (("ci", StatusState.FAILURE), ("rita", StatusState.SUCCESS)):
        status = CommitStatus(context=GATES_CONTEXT, state=state, creator=creator)
        forge.set_commit_status(second, status)
    # a later status of another creator does not replace CI's
    assert [(s.creator, s.state) for s in forge.commit_statuses(second)] == [
        ("ci", StatusState.FAILURE),
        ("rita", StatusState.SUCCESS),
    ]
    assert forge.merge(1, expected_head_sha=second).merged_at == at
