"""The desk at a commit, read from Git: each file parsed once per content, every commit's
own files seen (git at the terminal makes the commits)."""

from __future__ import annotations

import subprocess

from stratops.gitops.desk import desk_from_blobs, is_desk_file
from stratops.gitops.git import GitRepo
from stratops.gitops.scaffold import Scaffold
from stratops.gitops.snapshot import MANIFESTS, desk_at, forget_parses

from .helpers import commit_all

STRATEGY = "manifests/strategies/btc-trend.yaml"


def test_blob_ids_name_the_content_git_stores(desk: Scaffold, repo: GitRepo) -> None:
    ids = repo.blob_ids("HEAD", MANIFESTS)
    files = repo.files("HEAD", MANIFESTS)
    assert set(ids) == set(files) and STRATEGY in ids
    listed = subprocess.run(
        ["git", "rev-parse", f"HEAD:{STRATEGY}"], cwd=desk.root, capture_output=True, text=True
    )
    assert ids[STRATEGY] == listed.stdout.strip()
    assert all(repo.blob(ids[path]) == raw for path, raw in files.items())


def test_a_kept_parse_serves_only_the_same_content_at_the_same_path(
    desk: Scaffold, repo: GitRepo
) -> None:
    forget_parses()
    before = repo.rev_parse("HEAD")
    first = desk_at(repo, before)
    path = desk.root / STRATEGY
    path.write_text(path.read_text().replace("[research-trend]", "[research-trend, desk-lead]"))
    copy = desk.root / "manifests" / "strategies" / "copy.yaml"
    copy.write_text((desk.root / STRATEGY).read_text().replace("btc-trend", "btc-trend-2"))
    after = commit_all(desk.root, "a second owner, and a second strategy")

    changed = desk_at(repo, after)
    assert changed.strategies["btc-trend"].spec.owners == ["research-trend", "desk-lead"]
    assert "btc-trend-2" in changed.strategies
    again = desk_at(repo, before)  # the older commit: its own content, from the kept parses
    assert again.strategies == first.strategies
    assert [s.file for s in again.sources] == [s.file for s in first.sources]

    for rev in (before, after):  # the same desk as parsing every file anew
        files = repo.files(rev, MANIFESTS)
        fresh = desk_from_blobs(
            {p: raw for p, raw in files.items() if is_desk_file(p.split("/")[1:])}
        )
        kept = desk_at(repo, rev)
        assert kept.strategies == fresh.strategies and kept.problems == fresh.problems


def test_a_broken_file_is_a_problem_at_every_commit_that_holds_it(
    desk: Scaffold, repo: GitRepo
) -> None:
    path = desk.root / STRATEGY
    path.write_text(path.read_text() + "  halt: flatten\n")  # a duplicate key
    broken = commit_all(desk.root, "a duplicate key")
    for _ in range(2):  # parsed, then kept: the same problem
        (problem,) = desk_at(repo, broken).problems
        assert problem.file == STRATEGY and problem.code == "yaml.duplicate_key"
    path.write_text(path.read_text().rsplit("  halt: flatten\n", 1)[0])
    fixed = commit_all(desk.root, "fixed")
    assert desk_at(repo, fixed).ok
