"""``GitRepo.revert`` against ``git revert -m 1`` at the terminal, on real repositories."""

from __future__ import annotations

import subprocess

import pytest

from stratops.gitops.errors import GitError
from stratops.gitops.git import GitRepo

from .helpers import commit_all, git
from .test_git import work

__all__ = ["work"]

MANIFEST = "manifests/strategies/a.yaml"


def merged_topic(work: GitRepo, text: str) -> str:
    """A topic branch that sets the manifest to ``text``, merged into main with --no-ff."""
    root = work.root
    git(root, "switch", "--quiet", "-c", "topic")
    (root / MANIFEST).write_text(text)
    topic = commit_all(root, "topic")
    git(root, "switch", "--quiet", "main")
    return work.merge(topic, "Merge topic\n")


def unrelated_commit(work: GitRepo) -> str:
    (work.root / "README.md").write_text("desk, edited later\n")
    return commit_all(work.root, "unrelated")


def test_revert_of_a_merge_matches_git_revert(work: GitRepo) -> None:
    merge = merged_topic(work, "a: 1\nb: 2\n")
    head = unrelated_commit(work)
    made = work.revert(merge, head, "Revert topic\n")
    assert made is not None
    git(work.root, "revert", "--quiet", "--no-edit", "-m", "1", merge)
    witness = git(work.root, "rev-parse", "HEAD^{tree}")
    assert git(work.root, "rev-parse", f"{made}^{{tree}}") == witness
    assert work.commit(made).parents == (head,)
    assert work.read_file(made, MANIFEST) == b"a: 1\n"
    assert work.read_file(made, "README.md") == b"desk, edited later\n"  # later commits stay
    assert work.rev_parse("HEAD") != made  # no branch moved to it


def test_a_conflicting_revert_is_none(work: GitRepo) -> None:
    merge = merged_topic(work, "a: 1\nb: 2\n")
    (work.root / MANIFEST).write_text("a: 3\nb: 4\n")
    head = commit_all(work.root, "later edit of the same lines")
    assert work.revert(merge, head, "Revert topic\n") is None
    witness = subprocess.run(
        ["git", "revert", "--no-edit", "-m", "1", merge], cwd=work.root, capture_output=True
    )
    assert witness.returncode != 0 and b"conflict" in witness.stdout.lower() + witness.stderr


def test_revert_needs_the_commit_in_the_history(work: GitRepo) -> None:
    merge = merged_topic(work, "a: 5\n")
    before = work.rev_parse(f"{merge}^")
    with pytest.raises(GitError, match="not in the history"):
        work.revert(merge, before, "Revert\n")
    root = git(work.root, "rev-list", "--max-parents=0", "HEAD")
    with pytest.raises(GitError, match="no parent"):
        work.revert(root, merge, "Revert\n")
