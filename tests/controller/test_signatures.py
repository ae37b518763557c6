"""Signed commits: with ``signatures.required``, a promotion counts only from commits signed by
a key of the allowed-signers file in force — the promoter's commit and the forge's merge.

Keys are real (``ssh-keygen -t ed25519``): alice promotes, the local forge signs its merges
with its own key, both listed; mallory's key is not. The first tick trusts main, which turns
signatures on; a later change of the list is a rule change, held to the list in force.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from desks import Desk

from stratops.controller.reconcile import Reconciler
from stratops.gitops.forge.local import SIGNING_KEY
from stratops.gitops.forge.models import NewPullRequest
from stratops.gitops.pulls import merge_pull_request
from stratops.model.base import Stage

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gitops"))
from signing import SshKey, ssh_key

POLICY = "manifests/policy/policy.yaml"
SIGNERS = "manifests/policy/allowed_signers"
REQUIRED = f"  signatures: {{required: true, allowedSigners: {SIGNERS}}}\n"


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, SshKey]:
    folder = tmp_path / "keys"
    return {name: ssh_key(folder, f"{name}@desk") for name in ("alice", "forge", "mallory")}


def push(desk: Desk, files: dict[str, str], message: str) -> str:
    """Commit ``files`` (path → text) on main and push them directly."""
    desk.git("pull", "--quiet", "--ff-only", "origin", "main")
    for path, text in files.items():
        (desk.root / path).write_text(text)
    desk.git("add", *files)
    desk.git("commit", "--quiet", "-m", message)
    desk.git("push", "--quiet", "origin", "main")
    return desk.git("rev-parse", "HEAD")


@pytest.fixture
def signed(desk: Desk, keys: dict[str, SshKey]) -> Desk:
    """The desk with signatures required of alice and the forge; alice signs her commits."""
    shutil.copy(keys["forge"].private, desk.forge.root / SIGNING_KEY)
    desk.repo.sign_with(keys["alice"].private)
    policy = (desk.root / POLICY).read_text().replace("spec:\n", "spec:\n" + REQUIRED, 1)
    listed = keys["alice"].allowed + keys["forge"].allowed
    push(desk, {POLICY: policy, SIGNERS: listed}, "Require signed commits")
    assert desk.reconciler().tick().rules_refused is None  # v1 starts in paper
    return desk


def canary(desk: Desk) -> bool:
    return Stage.CANARY in {s.spec.stage for s in desk.runtime().list()}


def refused(desk: Desk, reconciler: Reconciler, code: str) -> str:
    """A tick refuses the canary: ``code``, in the audit log, counted, marked failing."""
    stage, version, verdict = reconciler.tick().refused["btc-trend"]
    assert (stage, version, verdict.code) == (Stage.CANARY, 1, code)
    assert not canary(desk)
    events = [e for e in reconciler.audit.events() if e.action == "promotion_refused"]
    assert [(e.commit, e.details["code"]) for e in events] == [(verdict.commit, code)]
    assert verdict.commit is not None
    status = desk.forge.commit_statuses(verdict.commit)[-1]
    assert status.state.value == "failure" and "refused: " in status.description
    metrics = reconciler.metrics.render().decode()
    assert f'stratops_refusals_total{{reason="{code}"}} 1.0' in metrics
    return verdict.reason


def test_a_promotion_signed_by_listed_keys_is_applied(signed: Desk) -> None:
    signed.promote_and_merge(1, Stage.CANARY, 10_000)
    result = signed.reconciler().tick()
    assert not result.refused and canary(signed)


def test_an_unsigned_promotion_commit_is_refused(signed: Desk) -> None:
    signed.git("config", "commit.gpgsign", "false")
    merge = signed.promote_and_merge(1, Stage.CANARY, 10_000)
    reason = refused(signed, signed.reconciler(), "unsigned_commit")
    promotion = signed.repo.rev_parse(f"{merge}^2")
    assert reason.startswith(f"the promotion commit {promotion[:12]} is not signed")


def test_a_merge_the_forge_did_not_sign_is_refused(signed: Desk) -> None:
    (signed.forge.root / SIGNING_KEY).unlink()
    merge = signed.promote_and_merge(1, Stage.CANARY, 10_000)
    reason = refused(signed, signed.reconciler(), "unsigned_commit")
    assert reason.startswith(f"the merge commit of PR #1 {merge[:12]} is not signed")


def test_a_promotion_signed_by_an_unlisted_key_is_refused(
    signed: Desk, keys: dict[str, SshKey]
) -> None:
    signed.repo.sign_with(keys["mallory"].private)
    signed.promote_and_merge(1, Stage.CANARY, 10_000)
    reconciler = signed.reconciler()
    reason = refused(signed, reconciler, "unknown_signer")
    assert f"{SIGNERS} of the rules in force does not list" in reason
    reconciler.tick()  # refused again, audited once
    assert len([e for e in reconciler.audit.events() if e.action == "promotion_refused"]) == 1


def test_a_signer_list_pushed_to_main_does_not_count(signed: Desk, keys: dict[str, SshKey]) -> None:
    """Mallory adds her key by a direct push, then promotes through a reviewed PR."""
    reconciler = signed.reconciler()
    signed.repo.sign_with(keys["mallory"].private)
    listed = (signed.root / SIGNERS).read_text() + keys["mallory"].allowed
    pushed = push(signed, {SIGNERS: listed}, "Add a signer")
    signed.promote_and_merge(1, Stage.CANARY, 10_000)

    refused(signed, reconciler, "unknown_signer")
    [event] = [e for e in reconciler.audit.events() if e.action == "policy_refused"]
    assert (event.commit, event.details["code"]) == (pushed, "unknown_signer")


def test_a_signer_the_owners_approved_counts(signed: Desk, keys: dict[str, SshKey]) -> None:
    """The same change as a pull request bob (an owner) approves: mallory's promotion runs."""
    signed.git("fetch", "--quiet", "origin")
    signed.git("switch", "--quiet", "-c", "signers/mallory", "origin/main")
    (signed.root / SIGNERS).write_text(
        (signed.root / SIGNERS).read_text() + keys["mallory"].allowed
    )
    signed.git("commit", "--quiet", "-am", "Add mallory as a signer")
    signed.git("push", "--quiet", "origin", "signers/mallory")
    signed.git("switch", "--quiet", "--detach", "origin/main")
    pull = signed.forge.open_pull_request(
        NewPullRequest(
            title="Add a signer",
            body="",
            head_branch="signers/mallory",
            base_branch="main",
            author="rita",
        )
    )
    signed.approve(pull)
    merge_pull_request(signed.repo, signed.forge, pull.number)
    assert signed.reconciler().tick().rules_refused is None

    signed.repo.sign_with(keys["mallory"].private)
    signed.promote_and_merge(1, Stage.CANARY, 10_000)
    result = signed.reconciler().tick()
    assert not result.refused and canary(signed)


def test_a_raise_counts_only_from_a_signed_merge(signed: Desk) -> None:
    """A reallocation PR raises the canary; its merge commit is the one that must be signed."""
    signed.promote_and_merge(1, Stage.CANARY, 10_000)
    signed.reconciler().tick()
    raised = signed.open_reallocation(1, 50_000)
    signed.approve(raised)
    merge_pull_request(signed.repo, signed.forge, raised.number)
    assert not signed.reconciler().tick().refused

    (signed.forge.root / SIGNING_KEY).unlink()
    again = signed.open_reallocation(1, 80_000)
    signed.approve(again)
    merge = merge_pull_request(signed.repo, signed.forge, again.number).merge_sha
    stage, _, verdict = signed.reconciler().tick().refused["btc-trend"]
    assert (stage, verdict.code, verdict.commit) == (Stage.CANARY, "unsigned_commit", merge)
    assert verdict.reason.startswith(f"the allocation change {(merge or '')[:12]} is not signed")
    canary_spec = {s.spec.stage: s.spec for s in signed.runtime().list()}[Stage.CANARY]
    assert canary_spec.allocation == 50_000
