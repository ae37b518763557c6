"""Signed commits: with ``GatePolicy.spec.signatures`` required, a change counts only from
commits signed by a key of the desk's allowed-signers file.

The commits a decision rests on are verified: the promotion commit and the merge commit that
brought it to main, the commit of main that changes the rules, the one that raises capital.
The list of keys is the one of the rules in force (the allowed-signers file is a rule document,
:attr:`stratops.gitops.desk.Desk.rules`): a push that edits it changes nothing until the
policy's owners approve it. SSH signatures count by git's ``gpg.ssh.allowedSignersFile``;
OpenPGP signatures (GnuPG, with the controller's keyring) when their key's fingerprint is one
of the policy's ``openpgpKeys``.

:func:`judge` decides from a :class:`~stratops.gitops.git.Signature` value; :func:`verify` asks
git for the signatures and judges them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stratops.gitops.desk import Desk
from stratops.gitops.git import GitRepo, Signature, SignatureStatus

UNSIGNED = "unsigned_commit"
UNKNOWN_SIGNER = "unknown_signer"
BAD_SIGNATURE = "bad_signature"


@dataclass(frozen=True)
class Signers:
    """The keys whose signatures count: the allowed-signers file of the rules in force, and
    the fingerprints of the OpenPGP keys their policy lists."""

    path: str
    content: bytes
    openpgp: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Unsigned:
    """A commit that no allowed key signed: ``code`` is stable, ``reason`` for people."""

    commit: str
    code: str
    reason: str


def required_signers(desk: Desk) -> Signers | None:
    """Whose signatures the rules of ``desk`` require; None: they require none."""
    policy = desk.policy
    wanted = None if policy is None else policy.spec.signatures
    if wanted is None or not wanted.required:
        return None
    if desk.signers is None:  # the desk does not validate then; trust nobody
        return Signers(wanted.allowed_signers, b"")
    openpgp = frozenset(wanted.openpgp_keys)
    return Signers(desk.signers.spec.path, desk.signers.spec.content.encode(), openpgp)


def judge(sha: str, what: str, signature: Signature, signers: Signers) -> Unsigned | None:
    """Whether ``signature`` of the commit ``sha`` (``what`` it is, for people) counts."""
    good = signature.status is SignatureStatus.GOOD
    if good and signature.format == "ssh":
        return None
    if (
        good
        and signature.format == "openpgp"
        and {signature.key, signature.primary_key} & (signers.openpgp)
    ):
        return None
    where = f"the {what} {sha[:12]}"
    if signature.status is SignatureStatus.UNSIGNED:
        return Unsigned(sha, UNSIGNED, f"{where} is not signed; {signers.path} lists who may sign")
    if signature.status is SignatureStatus.BAD:
        return Unsigned(sha, BAD_SIGNATURE, f"{where} has a signature that does not match it")
    key = f" ({signature.key})" if signature.key else ""
    if signature.format == "openpgp":
        return Unsigned(
            sha,
            UNKNOWN_SIGNER,
            f"{where} is signed by an OpenPGP key{key} that is not among the policy's "
            "openpgpKeys, or that the controller's keyring cannot check",
        )
    if signature.format != "ssh":
        return Unsigned(
            sha,
            UNKNOWN_SIGNER,
            f"{where} carries an {signature.format or 'unrecognised'} signature{key}: only SSH "
            f"signatures by a key of {signers.path} and OpenPGP signatures count",
        )
    return Unsigned(
        sha,
        UNKNOWN_SIGNER,
        f"{where} is signed by a key{key} that {signers.path} of the rules in force does not list",
    )


def verify(
    repo: GitRepo, commits: Sequence[tuple[str, str]], signers: Signers | None
) -> Unsigned | None:
    """The first of ``commits`` (sha, what it is) whose signature does not count; None if all
    do or no signature is required (``signers`` None)."""
    if signers is None:
        return None
    for sha, what in commits:
        found = judge(sha, what, repo.verify_commit(sha, signers.content), signers)
        if found is not None:
            return found
    return None
