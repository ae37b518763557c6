"""Replicate the audit log to the desk repository's remote, on an orphan branch.

The branch ``stratops/audit`` holds one file, ``audit.jsonl``; each push adds a commit whose
file extends the previous one. The remote copy is append-only: if what the remote holds is not
a prefix of the local log, someone rewrote one of them, and the push is refused with an alert
rather than overwriting the evidence.
"""

from __future__ import annotations

from pathlib import Path

from stratops.gitops.errors import PushRejected
from stratops.gitops.git import GitRepo

AUDIT_BRANCH = "stratops/audit"
AUDIT_FILE = "audit.jsonl"


class AuditDiverged(Exception):
    """The remote audit log is not a prefix of the local one."""


def remote_audit(repo: GitRepo) -> tuple[str | None, bytes]:
    """The remote branch's commit and the log it holds (empty when the branch is new)."""
    head = repo.remote_branch(AUDIT_BRANCH)
    if head is None:
        return None, b""
    repo.fetch(AUDIT_BRANCH)
    return head, repo.read_file(head, AUDIT_FILE)


def replicate(repo: GitRepo, log: Path) -> bool:
    """Push the local log if the remote lags; True when a commit was pushed."""
    local = log.read_bytes() if log.exists() else b""
    parent, remote = remote_audit(repo)
    if remote == local:
        return False
    if not local.startswith(remote):
        raise AuditDiverged(
            f"the audit log on {AUDIT_BRANCH} is not a prefix of {log}: one of them was rewritten"
        )
    events = local.count(b"\n")
    commit = repo.commit_file(parent, AUDIT_FILE, local, f"audit: {events} events\n")
    try:
        repo.push(commit, AUDIT_BRANCH, parent)
    except PushRejected:
        return False  # another controller pushed meanwhile: the next tick retries
    return True


def restore(repo: GitRepo, log: Path) -> bool:
    """Take the remote's log when the local one is a prefix of it (a new replica, a lost disk).

    Run before the first tick, so a controller that starts on an empty state continues the
    chain the previous leader replicated instead of forking it, and knows the last commit it
    applied (its ``commit_applied`` event), which the rewrite check of main needs. True when
    the log was restored.
    """
    _, remote = remote_audit(repo)
    local = log.read_bytes() if log.exists() else b""
    if len(remote) <= len(local):
        return False
    if not remote.startswith(local):
        raise AuditDiverged(f"{log} is not a prefix of the audit log on {AUDIT_BRANCH}")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_bytes(remote)
    return True
