"""``stratops promote`` against a real desk repository, bare remote and local forge."""

from __future__ import annotations

import json
import shutil
import stat
from datetime import datetime
from pathlib import Path

import pytest

from stratops.gitops.forge.local import LocalForge
from stratops.gitops.forge.models import GATES_CONTEXT, PullState, StatusState
from stratops.gitops.scaffold import Scaffold

from .conftest import Invoke
from .helpers import clone, commit_all, git

BRANCH = "promote/btc-trend/v5-canary"
TRAILER_KEYS = ("Strategy", "Version", "Stage", "Evidence-Digest", "Gate-Report-Digest")


def remote_branches(desk: Scaffold) -> list[str]:
    out = git(desk.remote, "for-each-ref", "--format=%(refname:short)", "refs/heads")
    return sorted(out.splitlines())


def trailers(desk: Scaffold, rev: str) -> dict[str, str]:
    message = git(desk.remote, "show", "-s", "--format=%(trailers:only,unfold)", rev)
    return dict(line.split(": ", 1) for line in message.splitlines())


def test_promotion_opens_a_pull_request_with_the_gate_report(
    invoke: Invoke, desk: Scaffold, forge: LocalForge
) -> None:
    result = invoke("promote", "btc-trend", "5", "--to", "canary", "--reason", "beats v4 OOS")
    assert result.exit_code == 0, result.output
    assert "opened pull request #1" in result.stderr
    assert remote_branches(desk) == ["main", BRANCH]
    [pull] = forge.list_pull_requests()
    assert (pull.number, pull.author, pull.head_branch, pull.base_branch) == (
        1,
        "rita",
        BRANCH,
        "main",
    )
    assert pull.head_sha == git(desk.remote, "rev-parse", BRANCH)
    assert "Reason: beats v4 OOS" in pull.body
    assert "### Gates: btc-trend v5 → canary: ✅ PASS" in pull.body
    # the one-line change, on top of main, with its trailers and the as-of as author date
    diff = git(desk.remote, "diff", "main", BRANCH)
    assert [
        line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ] == [
        "-    canary: {version: 4, allocation: 50000, analysis: trend-canary, minDuration: 24h}",
        "+    canary: {version: 5, allocation: 50000, analysis: trend-canary, minDuration: 24h}",
    ]
    assert git(desk.remote, "rev-parse", f"{BRANCH}^") == git(desk.remote, "rev-parse", "main")
    found = trailers(desk, BRANCH)
    assert list(found) == list(TRAILER_KEYS)
    assert (found["Strategy"], found["Version"], found["Stage"]) == ("btc-trend", "5", "canary")
    assert f"report `{found['Gate-Report-Digest']}`" in pull.body
    author_date = datetime.fromisoformat(git(desk.remote, "show", "-s", "--format=%aI", BRANCH))
    assert f"as of {author_date.isoformat()}" in pull.body
    # pending: the verdict that counts is CI's, not the author's
    [status] = forge.commit_statuses(pull.head_sha)
    assert (status.context, status.state, status.creator) == (
        GATES_CONTEXT,
        StatusState.PENDING,
        "rita",
    )
    assert status.description.startswith("waiting for CI; passed when promoted")
    # the desk's working tree and branch are untouched
    assert git(desk.root, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert git(desk.root, "status", "--porcelain") == ""


def test_running_it_again_updates_the_same_pull_request(
    invoke: Invoke, desk: Scaffold, forge: LocalForge
) -> None:
    assert invoke("promote", "btc-trend", "5", "--to", "canary").exit_code == 0
    first = git(desk.remote, "rev-parse", BRANCH)
    assert invoke("pr", "approve", "1", "--as", "alice").exit_code == 0
    again = invoke("promote", "btc-trend", "5", "--to", "canary", "--allocation", "60000")
    assert again.exit_code == 0, again.output
    assert "updated pull request #1" in again.stderr
    [pull] = forge.list_pull_requests(state=None)
    assert pull.head_sha == git(desk.remote, "rev-parse", BRANCH) != first
    assert "allocation 60,000" in pull.body
    [review] = forge.list_reviews(1)
    assert review.state.value == "dismissed"  # the new push dismissed alice's approval


def test_json_output_is_only_json(invoke: Invoke) -> None:
    result = invoke("promote", "btc-trend", "4", "--to", "live", "--output", "json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["branch"] == "promote/btc-trend/v4-live"
    assert payload["pullRequest"]["number"] == 1
    assert payload["gateReport"]["report"]["verdict"] == "pass"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope", "1", "--to", "paper"), "no strategy 'nope' on main (known: btc-mm, btc-trend"),
        (("btc-trend", "9", "--to", "paper"), "the registry has no version 9 of 'btc-trend'"),
        (("btc-trend", "5", "--to", "live"), "paper → live skips or reverses a stage"),
        (("btc-trend", "3", "--to", "canary"), "demotion, which is a rollback"),
        (("btc-trend", "4", "--to", "canary"), "already runs in canary"),
        (("btc-mm", "1", "--to", "canary", "--allocation", "5000"), "pass --analysis"),
        (("eth-btc-meanrev", "1", "--to", "live"), "pass --allocation"),
        (
            ("btc-mm", "1", "--to", "canary"),
            "pass --allocation: the capital in quote currency, e.g. 10000; --analysis: one of "
            "statarb-canary, trend-canary",
        ),
        (("btc-trend", "5", "--to", "canary", "--min-duration", "soon"), "expected a duration"),
        (("Not_A_Name", "5", "--to", "canary"), "strategy"),
    ],
)
def test_bad_requests_are_refused_and_push_nothing(
    invoke: Invoke, desk: Scaffold, args: tuple[str, ...], message: str
) -> None:
    result = invoke("promote", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert remote_branches(desk) == ["main"]


def test_an_edit_that_breaks_the_desk_is_refused_with_file_and_line(
    invoke: Invoke, desk: Scaffold
) -> None:
    result = invoke("promote", "btc-trend", "5", "--to", "canary", "--allocation", "500000")
    assert result.exit_code == 2
    assert "manifests/strategies/btc-trend.yaml:13: spec.stages.canary.allocation" in result.stderr
    assert "[desk.allocation_over_limit]" in result.stderr
    assert remote_branches(desk) == ["main"]


def test_failing_gates_push_nothing(invoke: Invoke, desk: Scaffold, forge: LocalForge) -> None:
    strategy = desk.root / "manifests" / "strategies" / "btc-trend.yaml"
    strategy.write_text(strategy.read_text().replace("paper: {version: 5}", "paper: {version: 7}"))
    commit_all(desk.root, "Paper trade v7")
    git(desk.root, "push", "--quiet", "origin", "main")
    result = invoke("promote", "btc-trend", "7", "--to", "canary")
    assert result.exit_code == 1
    assert "❌ FAIL" in result.stdout and "`pbo`" in result.stdout
    assert "nothing was pushed" in result.stderr
    assert remote_branches(desk) == ["main"]
    assert forge.list_pull_requests(state=None) == []


def test_dirty_working_tree_is_refused(invoke: Invoke, desk: Scaffold) -> None:
    readme = desk.root / "README.md"
    readme.write_text(readme.read_text() + "\nlocal edit\n")
    result = invoke("promote", "btc-trend", "5", "--to", "canary")
    assert result.exit_code == 2
    assert "uncommitted changes" in result.stderr
    assert remote_branches(desk) == ["main"]


def test_a_second_promotion_of_the_same_strategy_names_the_open_one(
    invoke: Invoke, desk: Scaffold
) -> None:
    assert invoke("promote", "btc-trend", "5", "--to", "canary").exit_code == 0
    result = invoke("promote", "btc-trend", "4", "--to", "live")
    assert result.exit_code == 2
    assert (
        "pull request #1 (promote/btc-trend/v5-canary) already promotes 'btc-trend'"
        in result.stderr
    )
    assert remote_branches(desk) == ["main", BRANCH]
    # another strategy is not blocked
    other = invoke("promote", "eth-btc-meanrev", "1", "--to", "live", "--allocation", "100000")
    assert other.exit_code == 0, other.output


def test_promotion_builds_on_the_latest_main(
    invoke: Invoke, desk: Scaffold, tmp_path: Path
) -> None:
    other = clone(desk.remote, tmp_path / "colleague")
    (other / "NOTES.md").write_text("a colleague's change\n")
    pushed = commit_all(other, "Notes")
    git(other, "push", "--quiet", "origin", "main")
    assert invoke("promote", "btc-trend", "5", "--to", "canary").exit_code == 0
    assert git(desk.remote, "rev-parse", f"{BRANCH}^") == pushed


def install_hook(desk: Scaffold, script: str) -> None:
    hook = desk.remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\n" + script)
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)


def test_a_rejected_push_is_rebuilt_on_the_moved_main_and_retried(
    invoke: Invoke, desk: Scaffold, tmp_path: Path
) -> None:
    other = clone(desk.remote, tmp_path / "colleague")
    (other / "NOTES.md").write_text("merged while we pushed\n")
    concurrent = commit_all(other, "Concurrent change")
    git(other, "push", "--quiet", "origin", "main:refs/heads/concurrent")
    # the first push of the promotion is rejected after main moved under it
    install_hook(
        desk,
        "if [ ! -e rejected-once ]; then touch rejected-once\n"
        "  env -u GIT_QUARANTINE_PATH git update-ref refs/heads/main refs/heads/concurrent\n"
        '  echo "main moved" >&2; exit 1; fi\n',
    )
    result = invoke("promote", "btc-trend", "5", "--to", "canary")
    assert result.exit_code == 0, result.output
    assert git(desk.remote, "rev-parse", f"{BRANCH}^") == concurrent
    assert git(desk.remote, "show", f"{BRANCH}:NOTES.md") == "merged while we pushed"


def test_a_push_rejected_twice_is_a_clear_error(
    invoke: Invoke, desk: Scaffold, forge: LocalForge
) -> None:
    install_hook(desk, 'echo "frozen for maintenance" >&2; exit 1\n')
    result = invoke("promote", "btc-trend", "5", "--to", "canary")
    assert result.exit_code == 3
    assert "the remote refused to update promote/btc-trend/v5-canary" in result.stderr
    assert "frozen for maintenance" in result.stderr
    assert remote_branches(desk) == ["main"]
    assert forge.list_pull_requests(state=None) == []


def break_pull_records(desk: Scaffold) -> None:
    """The forge cannot write pull requests (a file where its folder should be)."""
    pulls = desk.forge / "pulls"
    shutil.rmtree(pulls)
    pulls.write_text("not a folder")


def test_forge_failure_deletes_the_pushed_branch(invoke: Invoke, desk: Scaffold) -> None:
    break_pull_records(desk)
    result = invoke("promote", "btc-trend", "5", "--to", "canary")
    assert result.exit_code == 3
    assert "cannot be used" in result.stderr
    assert remote_branches(desk) == ["main"]


def test_forge_failure_on_update_restores_the_branch(
    invoke: Invoke, desk: Scaffold, forge: LocalForge
) -> None:
    assert invoke("promote", "btc-trend", "5", "--to", "canary").exit_code == 0
    before = git(desk.remote, "rev-parse", BRANCH)
    record = (desk.forge / "pulls" / "1.json").read_text()
    break_pull_records(desk)
    result = invoke("promote", "btc-trend", "5", "--to", "canary", "--allocation", "70000")
    assert result.exit_code == 3
    assert git(desk.remote, "rev-parse", BRANCH) == before
    (desk.forge / "pulls").unlink()
    (desk.forge / "pulls").mkdir()
    (desk.forge / "pulls" / "1.json").write_text(record)
    [pull] = forge.list_pull_requests()
    assert pull.head_sha == before and pull.state is PullState.OPEN
