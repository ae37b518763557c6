"""The audit log: append-only, hash-chained, one JSON line per event.

Every event carries the sha256 of the previous one, so editing, dropping or reordering any
line breaks the chain at that point and :func:`verify_chain` names it. Events have a ``key``:
appending an event whose key is already in the log returns the existing event, so an action
replayed after a crash never writes its event twice.

The log file lives in the controller's state folder; :mod:`stratops.controller.audit_remote`
replicates it to the desk repository's remote. Each desk commit a tick reconciled towards is a
``commit_applied`` event, so the last applied commit is a fact of the replicated log, not only
of one replica's disk: :func:`last_applied_commit` reads it back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from filelock import FileLock
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from stratops.model.canonical import canonical_digest

GENESIS = "0" * 64
COMMIT_APPLIED = "commit_applied"


class AuditEvent(BaseModel):
    """Who did what, when, why, to which (strategy, stage, version), at which commit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sequence: int = Field(ge=1)
    key: str = Field(min_length=1, description="Idempotency key: one event per key.")
    at: AwareDatetime
    actor: str
    action: str
    strategy: str | None = None
    stage: str | None = None
    version: int | None = None
    commit: str | None = None
    reason: str
    details: dict[str, Any] = Field(default_factory=dict)
    previous: str = Field(description="hash of the previous event, zeros for the first")
    hash: str

    def body(self) -> dict[str, Any]:
        """Everything the hash covers: the event without its own hash."""
        return self.model_dump(mode="json", exclude={"hash"})


def event_hash(body: dict[str, Any]) -> str:
    return canonical_digest(body)


def last_applied_commit(events: Iterable[AuditEvent]) -> str | None:
    """The commit of the latest ``commit_applied`` event, None when no commit was applied.

    Only these events count: the ``commit`` of other events can be a refused or rewritten head,
    or a pull request's commit, none of which was applied.
    """
    applied = None
    for event in events:
        if event.action == COMMIT_APPLIED:
            applied = event.commit
    return applied


class BrokenLink(BaseModel):
    """Where the chain breaks: the line, and what is wrong there."""

    line: int
    sequence: int | None
    message: str


class AuditLog:
    """An append-only hash-chained log in one file, safe for concurrent appenders."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = FileLock(str(path) + ".lock")
        # (file size, keys, last event) as of the last read or write: appending then costs a
        # stat, not a re-read of the whole log; another writer changes the size and forces one.
        self._seen: tuple[int, set[str], AuditEvent | None] = (0, set(), None)

    def _tail(self) -> tuple[set[str], AuditEvent | None]:
        size = self.path.stat().st_size if self.path.exists() else 0
        if size != self._seen[0]:
            keys: set[str] = set()
            last = None
            for _, event in self._read():
                keys.add(event.key)
                last = event
            self._seen = (size, keys, last)
        return self._seen[1], self._seen[2]

    def events(self) -> list[AuditEvent]:
        """Every event, oldest first (raises ValueError on an unreadable line)."""
        return [event for _, event in self._read()]

    def _read(self) -> Iterator[tuple[int, AuditEvent]]:
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    yield number, AuditEvent.model_validate_json(line)

    def append(
        self,
        *,
        key: str,
        at: datetime,
        actor: str,
        action: str,
        reason: str,
        strategy: str | None = None,
        stage: str | None = None,
        version: int | None = None,
        commit: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditEvent:
        """Append an event, or return the one already recorded under ``key``."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            keys, last = self._tail()
            if key in keys:
                return next(event for _, event in self._read() if event.key == key)
            body: dict[str, Any] = {
                "sequence": 1 if last is None else last.sequence + 1,
                "key": key,
                "at": at,
                "actor": actor,
                "action": action,
                "strategy": strategy,
                "stage": stage,
                "version": version,
                "commit": commit,
                "reason": reason,
                "details": details or {},
                "previous": GENESIS if last is None else last.hash,
            }
            draft = AuditEvent(**body, hash=GENESIS)
            event = draft.model_copy(update={"hash": event_hash(draft.body())})
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(event.model_dump_json() + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            keys.add(key)
            self._seen = (self.path.stat().st_size, keys, event)
            return event


def verify_chain(path: Path) -> BrokenLink | None:
    """The first broken link of the log at ``path``, or None when the chain holds."""
    previous = GENESIS
    expected_sequence = 1
    if not path.exists():
        return None
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                event = AuditEvent.model_validate_json(line)
            except (ValidationError, json.JSONDecodeError) as exc:
                reason = str(exc).splitlines()[0]
                return BrokenLink(line=number, sequence=None, message=f"unreadable: {reason}")
            if event.sequence != expected_sequence:
                return BrokenLink(
                    line=number,
                    sequence=event.sequence,
                    message=f"sequence {event.sequence}, expected {expected_sequence}",
                )
            if event.previous != previous:
                return BrokenLink(
                    line=number,
                    sequence=event.sequence,
                    message="previous hash does not match the event before it",
                )
            if event_hash(event.body()) != event.hash:
                return BrokenLink(
                    line=number,
                    sequence=event.sequence,
                    message="hash does not match the event's content (edited)",
                )
            previous = event.hash
            expected_sequence += 1
    return None
