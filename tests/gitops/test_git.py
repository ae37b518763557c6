"""The git adapter against real repositories, with git at the terminal as the witness."""

from __future__ import annotations

import re
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from stratops.gitops.errors import GitError, PushRejected
from stratops.gitops.git import GitRepo, parse_trailers

from .helpers import commit_all, git


@pytest.fixture
def work(tmp_path: Path) -> GitRepo:
    """A working repository with two commits on main, pushed to its bare remote ``origin``."""
    remote, root = tmp_path / "remote.git", tmp_path / "work"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(remote))
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(root))
    git(root, "remote", "add", "origin", str(remote))
    (root / "manifests" / "strategies").mkdir(parents=True)
    (root / "manifests" / "strategies" / "a.yaml").write_text("a: 1\n")
    (root / "README.md").write_text("desk\n")
    commit_all(root, "first")
    (root / "manifests" / "policy.yaml").write_text("gates: []\n")
    commit_all(root, "second\n\nStrategy: a\nVersion: 2")
    git(root, "push", "--quiet", "origin", "main")
    repo = GitRepo(root)
    repo.fetch()
    return repo


@pytest.mark.parametrize(
    "message",
    [
        "Promote a v2 to canary\n\npaper → canary.\n\nStrategy: a\nVersion: 2\nStage: canary\n",
        "subject only\n",
        "Strategy: a\n",  # a subject is never a trailer block
        "subject\n\nbody that is\nnot trailers: at all\n",
        "subject\n\nStrategy: a\nnot a trailer\n",
        "subject\n\nReason: long\n  and folded\nStage: live\n",
        "subject\n\nSigned-off-by: A <a@x>\nSigned-off-by: B <b@x>\n",
        "subject\n\nKey:value\nOther-Key :  spaced  \n",
    ],
)
def test_trailers_are_read_as_git_reads_them(message: str) -> None:
    parsed = subprocess.run(
        ["git", "interpret-trailers", "--parse"],
        input=message,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert [f"{key}: {value}" for key, value in parse_trailers(message)] == parsed.splitlines()


def test_commits_are_stratops_values(work: GitRepo) -> None:
    head = work.commit("HEAD")
    first = work.commit("HEAD^")
    assert head.sha == git(work.root, "rev-parse", "HEAD")
    assert head.parents == (first.sha,)
    assert first.parents == ()
    assert head.author == "Rita Researcher"
    assert head.message == "second\n\nStrategy: a\nVersion: 2\n"
    assert head.trailers == (("Strategy", "a"), ("Version", "2"))
    assert head.author_date == datetime.fromisoformat(
        git(work.root, "show", "-s", "--format=%aI", "HEAD")
    )


def test_log_filters_like_git_log(work: GitRepo) -> None:
    head, first = work.rev_parse("HEAD"), work.rev_parse("HEAD^")
    assert [c.sha for c in work.log(head)] == [head, first]
    assert [c.sha for c in work.log(head, limit=1)] == [head]
    assert [c.sha for c in work.log(head, since=first)] == [head]
    assert [c.sha for c in work.log(head, path="README.md")] == [first]
    assert [c.sha for c in work.log(head, message_pattern="^Version:")] == [head]
    assert work.log(head, since=head) == []


def test_first_parent_log_follows_main_not_the_merged_branch(work: GitRepo) -> None:
    root = work.root
    git(root, "switch", "--quiet", "-c", "topic")
    (root / "topic.txt").write_text("t\n")
    topic = commit_all(root, "topic")
    git(root, "switch", "--quiet", "main")
    merge = work.merge(topic, "Merge topic\n")
    assert work.commit(merge).parents[1] == topic
    assert [c.sha for c in work.log(merge, path="topic.txt")] == [topic]
    assert [c.sha for c in work.log(merge, path="topic.txt", first_parent=True)] == [merge]


def test_is_ancestor(work: GitRepo) -> None:
    head, first = work.rev_parse("HEAD"), work.rev_parse("HEAD^")
    assert work.is_ancestor(first, head)
    assert work.is_ancestor(head, head)
    assert not work.is_ancestor(head, first)
    for gone in ("0" * 40, "1" * 40):  # dropped by a rewrite: an ancestor of nothing
        assert not work.is_ancestor(gone, head)
    with pytest.raises(GitError, match="'nowhere' is not a commit"):
        work.is_ancestor(first, "nowhere")


def test_files_and_read_file_read_the_commit_not_the_working_tree(work: GitRepo) -> None:
    (work.root / "manifests" / "strategies" / "a.yaml").write_text("edited in the working tree\n")
    assert work.files("HEAD", "manifests") == {
        "manifests/strategies/a.yaml": b"a: 1\n",
        "manifests/policy.yaml": b"gates: []\n",
    }
    assert work.files("HEAD^", "manifests") == {"manifests/strategies/a.yaml": b"a: 1\n"}
    assert work.files("HEAD", "nothing-here") == {}
    assert work.read_file("HEAD", "README.md") == b"desk\n"
    with pytest.raises(GitError, match=r"there is no missing\.md at HEAD in .*work"):
        work.read_file("HEAD", "missing.md")
    with pytest.raises(GitError, match="manifests is not a file"):
        work.read_file("HEAD", "manifests")


def test_commit_file_touches_no_branch_index_or_working_tree(work: GitRepo) -> None:
    head = work.rev_parse("HEAD")
    status = git(work.root, "status", "--porcelain")
    when = datetime(2025, 1, 6, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    made = work.commit_file(
        head, "manifests/strategies/b.yaml", b"b: 2\n", "add b\n\nStage: paper\n", when
    )
    assert work.rev_parse("HEAD") == head
    assert git(work.root, "status", "--porcelain") == status
    assert not (work.root / "manifests" / "strategies" / "b.yaml").exists()
    assert git(work.root, "fsck", "--strict", "--no-dangling") == ""
    commit = work.commit(made)
    assert commit.parents == (head,)
    assert commit.author_date == when
    assert commit.trailers == (("Stage", "paper"),)
    assert git(work.root, "diff", "--name-status", head, made) == "A\tmanifests/strategies/b.yaml"
    assert git(work.root, "show", f"{made}:manifests/strategies/b.yaml") == "b: 2"
    replaced = work.commit_file(made, "README.md", b"new\n", "readme\n")
    assert git(work.root, "diff", "--name-status", made, replaced) == "M\tREADME.md"


def test_a_first_commit_holds_only_its_file(work: GitRepo) -> None:
    made = work.commit_file(None, "audit.jsonl", b"{}\n", "audit: 1 events\n")
    assert work.commit(made).parents == ()
    assert git(work.root, "ls-tree", "-r", "--name-only", made) == "audit.jsonl"


def test_commit_file_needs_an_identity_as_git_does(
    work: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.delenv(f"GIT_{role}_NAME")
        monkeypatch.delenv(f"GIT_{role}_EMAIL")
    monkeypatch.setenv("EMAIL", "")
    with pytest.raises(GitError, match=r"git var failed in .*work"):
        work.commit_file(work.rev_parse("HEAD"), "x", b"x", "x\n")


def test_push_with_a_lease_and_rejected_when_the_remote_moved(
    work: GitRepo, tmp_path: Path
) -> None:
    head = work.rev_parse("HEAD")
    made = work.commit_file(head, "x.txt", b"x\n", "x\n")
    work.push(made, "topic", expected=None)
    assert work.remote_branch("topic") == made
    other = work.commit_file(head, "y.txt", b"y\n", "y\n")
    with pytest.raises(PushRejected, match=r"(?s)refused to update topic.*\[rejected\]"):
        work.push(other, "topic", expected=None)  # it exists now: the lease says absent
    with pytest.raises(PushRejected):
        work.push(other, "topic", expected=head)
    assert work.remote_branch("topic") == made
    work.push(other, "topic", expected=made)
    assert work.remote_branch("topic") == other
    work.delete_remote_branch("topic", expected=other)
    assert work.remote_branch("topic") is None


def test_push_refused_by_a_hook_is_rejected(work: GitRepo) -> None:
    hook = Path(work.remote_url()) / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho no >&2\nexit 1\n")
    hook.chmod(0o755)
    with pytest.raises(PushRejected, match="remote rejected"):
        work.push(work.rev_parse("HEAD^"), "topic", expected=None)


def test_errors_name_the_repository(work: GitRepo, tmp_path: Path) -> None:
    with pytest.raises(GitError, match=f"{tmp_path / 'nothing'} is not a git repository"):
        GitRepo(tmp_path / "nothing")
    for rev in ("no-such-rev", "HEAD~5", "HEAD@{99}", "HEAD@{yesterday}", "HEAD^{tree}"):
        with pytest.raises(GitError, match=rf"'{re.escape(rev)}' is not a commit in .*work"):
            work.rev_parse(rev)
    git(work.root, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    with pytest.raises(GitError, match=r"git fetch failed in .*work: .*gone\.git") as raised:
        work.fetch()
    assert not isinstance(raised.value, PushRejected)
    with pytest.raises(GitError, match="git push failed in") as raised:
        work.push(work.rev_parse("HEAD"), "main", expected=None)
    assert not isinstance(raised.value, PushRejected)


def test_discover_finds_the_top_of_the_working_tree(work: GitRepo, tmp_path: Path) -> None:
    assert GitRepo.discover(work.root / "manifests" / "strategies").root == work.root
    (tmp_path / "plain").mkdir()
    with pytest.raises(GitError, match="is in no git repository"):
        GitRepo.discover(tmp_path / "plain")


def test_remote_state(work: GitRepo, tmp_path: Path) -> None:
    head = work.rev_parse("HEAD")
    assert work.remote_main() == head
    assert work.remote_branch("main") == head
    assert work.remote_branch("absent") is None
    assert work.is_clean()
    (work.root / "README.md").write_text("changed\n")
    assert not work.is_clean()
    bare = GitRepo(Path(work.remote_url()))
    assert bare.branch("main") == head
    assert bare.branch("absent") is None


def test_user_name_reads_the_configuration(work: GitRepo) -> None:
    assert work.user_name() is None
    git(work.root, "config", "user.name", "Bob Reviewer")
    assert work.user_name() == "Bob Reviewer"


def test_clone_checks_out_the_branch(work: GitRepo, tmp_path: Path) -> None:
    with GitRepo.clone(work.remote_url(), tmp_path / "clone") as clone:
        assert clone.rev_parse("HEAD") == work.rev_parse("HEAD")
        assert clone.remote_url() == work.remote_url()
