"""Signing and verifying commits through the git adapter, with keys from ``ssh-keygen``; the
allowed-signers file as a rule of the desk at a commit."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from stratops.controller.signatures import Signers, judge
from stratops.gitops.changes import rule_changes
from stratops.gitops.git import GitRepo, SignatureStatus
from stratops.gitops.snapshot import desk_at

from .helpers import git
from .signing import SshKey, ssh_key


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, SshKey]:
    return {name: ssh_key(tmp_path / "keys", f"{name}@desk") for name in ("alice", "mallory")}


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo.init(tmp_path / "work")
    git(repo.root, "config", "user.name", "Alice")
    git(repo.root, "config", "user.email", "alice@desk.invalid")
    return repo


def test_commit_file_signs_as_configured_and_keeps_the_commit(
    repo: GitRepo, keys: dict[str, SshKey]
) -> None:
    allowed = keys["alice"].allowed.encode()
    unsigned = repo.commit_file(None, "a/b.yaml", b"x: 1\n", "Plain\n")
    assert repo.verify_commit(unsigned, allowed).status is SignatureStatus.UNSIGNED

    repo.sign_with(keys["alice"].private)
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5)))
    message = "Promote a v2\n\nStrategy: a\nVersion: 2\n"
    signed = repo.commit_file(unsigned, "a/b.yaml", b"x: 2\n", message, when)

    signature = repo.verify_commit(signed, allowed)
    assert (signature.status, signature.format, signature.signer) == (
        SignatureStatus.GOOD,
        "ssh",
        "alice@desk",
    )
    assert signature.key.startswith("SHA256:")
    commit = repo.commit(signed)
    assert (commit.message, commit.author_date, commit.parents) == (message, when, (unsigned,))
    assert repo.read_file(signed, "a/b.yaml") == b"x: 2\n"
    listed = repo.root / ".git" / "allowed"
    listed.write_bytes(allowed)
    git(repo.root, "-c", f"gpg.ssh.allowedSignersFile={listed}", "verify-commit", signed)


def test_a_key_the_list_does_not_name_is_unknown(repo: GitRepo, keys: dict[str, SshKey]) -> None:
    repo.sign_with(keys["mallory"].private)
    sha = repo.commit_file(None, "f", b"1\n", "Signed by mallory\n")
    signature = repo.verify_commit(sha, keys["alice"].allowed.encode())
    assert (signature.status, signature.signer) == (SignatureStatus.UNKNOWN, "")
    both = (keys["alice"].allowed + keys["mallory"].allowed).encode()
    assert repo.verify_commit(sha, both).signer == "mallory@desk"
    assert repo.verify_commit(sha, b"").status is SignatureStatus.UNKNOWN


def test_a_commit_altered_after_signing_has_a_bad_signature(
    repo: GitRepo, keys: dict[str, SshKey]
) -> None:
    repo.sign_with(keys["alice"].private)
    sha = repo.commit_file(None, "f", b"1\n", "Genuine\n")
    raw = git(repo.root, "cat-file", "commit", sha) + "\n"
    forged = git_object(repo.root, raw.replace("Genuine", "Forged"))
    signature = repo.verify_commit(forged, keys["alice"].allowed.encode())
    assert signature.status is SignatureStatus.BAD


def git_object(root: Path, raw: str) -> str:
    path = root / ".git" / "forged"
    path.write_text(raw)
    return git(root, "hash-object", "-t", "commit", "-w", str(path))


POLICY = """\
apiVersion: stratops.io/v1alpha1
kind: GatePolicy
metadata:
  name: p
spec:
  signatures: {required: true, allowedSigners: security/allowed_signers}
  rules:
    trend:
      canary:
        stage_order: {}
"""


def test_the_allowed_signers_file_is_a_rule_of_the_desk_at_a_commit(
    repo: GitRepo, keys: dict[str, SshKey]
) -> None:
    policy = "manifests/policy/policy.yaml"
    without = repo.commit_file(None, policy, POLICY.encode(), "Policy\n")
    [problem] = desk_at(repo, without).problems
    assert (problem.file, problem.line, problem.field, problem.code) == (
        policy,
        6,
        "spec.signatures.allowedSigners",
        "policy.allowed_signers",
    )
    assert "security/allowed_signers is not in the repository" in problem.message

    listed = keys["alice"].allowed.encode()
    one = repo.commit_file(without, "security/allowed_signers", listed, "Signers\n")
    two = repo.commit_file(one, "security/allowed_signers", listed + b"\n", "Signers too\n")
    first, second = desk_at(repo, one), desk_at(repo, two)
    assert first.ok and first.signers is not None
    assert first.signers.spec.content == keys["alice"].allowed
    assert rule_changes(first.rules, second.rules) == ["AllowedSigners/security/allowed_signers"]


@pytest.fixture
def gnupg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A GnuPG keyring of its own with one signing key; its fingerprint. The agent is stopped."""
    home = tmp_path / "gpg"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("GNUPGHOME", str(home))
    new_key = ["--quick-gen-key", "Forge <forge@desk>", "ed25519", "sign", "never"]
    subprocess.run(
        ["gpg", "--batch", "--quiet", "--passphrase", "", *new_key],
        check=True,
        capture_output=True,
    )
    listed = subprocess.run(
        ["gpg", "--list-keys", "--with-colons", "forge@desk"], check=True, capture_output=True
    ).stdout.decode()
    yield next(line.split(":")[9] for line in listed.splitlines() if line.startswith("fpr:"))
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], check=False)


def test_an_openpgp_signature_counts_only_by_a_listed_fingerprint(
    repo: GitRepo, gnupg: str, keys: dict[str, SshKey]
) -> None:
    git(repo.root, "config", "gpg.format", "openpgp")
    git(repo.root, "config", "user.signingkey", gnupg)
    git(repo.root, "config", "commit.gpgsign", "true")
    sha = repo.commit_file(None, "f", b"1\n", "Merged on the forge\n")
    signature = repo.verify_commit(sha, keys["alice"].allowed.encode())
    assert (signature.status, signature.format, signature.key) == (
        SignatureStatus.GOOD,
        "openpgp",
        gnupg,
    )
    signers = Signers("allowed_signers", keys["alice"].allowed.encode())
    listed = replace(signers, openpgp=frozenset({gnupg}))
    assert judge(sha, "merge commit", signature, listed) is None
    refused = judge(sha, "merge commit", signature, signers)
    assert refused is not None and refused.code == "unknown_signer"
    assert "not among the policy's openpgpKeys" in refused.reason
