"""The audit log: hash chain, idempotent keys, tamper detection."""

from __future__ import annotations

import itertools
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from stratops.controller.audit import AuditLog, verify_chain

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def fill(log: AuditLog, count: int) -> None:
    for index in range(count):
        log.append(
            key=f"k{index}",
            at=T0 + timedelta(seconds=index),
            actor="controller",
            action="deploy",
            strategy="btc-trend",
            stage="canary",
            version=index + 1,
            commit="abc",
            reason=f"event {index}",
        )


def test_chain_verifies_and_links(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    fill(log, 5)
    events = log.events()
    assert [e.sequence for e in events] == [1, 2, 3, 4, 5]
    assert all(later.previous == earlier.hash for earlier, later in itertools.pairwise(events))
    assert verify_chain(log.path) is None


def test_same_key_is_recorded_once(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    fill(log, 2)
    again = log.append(key="k1", at=T0, actor="x", action="y", reason="replayed after a crash")
    assert again.sequence == 2
    assert len(log.events()) == 2


def test_concurrent_appenders_keep_one_chain(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")

    def writer(prefix: str) -> None:
        other = AuditLog(log.path)
        for i in range(20):
            other.append(key=f"{prefix}{i}", at=T0, actor=prefix, action="a", reason="r")

    threads = [threading.Thread(target=writer, args=(p,)) for p in "abc"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(log.events()) == 60
    assert verify_chain(log.path) is None


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 5), st.sampled_from(["reason", "version", "drop", "swap"]))
def test_any_tampering_names_the_first_broken_line(index: int, how: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        log = AuditLog(Path(scratch) / "audit.jsonl")
        fill(log, 6)
        lines = log.path.read_text().splitlines()
        if how == "drop":
            del lines[index]
            expected = index + 1 if index < 5 else None
        elif how == "swap":
            other = (index + 1) % 6
            lines[index], lines[other] = lines[other], lines[index]
            expected = min(index, other) + 1
        else:
            event = json.loads(lines[index])
            event[how] = "tampered" if how == "reason" else 999
            lines[index] = json.dumps(event)
            expected = index + 1
        log.path.write_text("\n".join(lines) + "\n")
        broken = verify_chain(log.path)
        if expected is None:
            assert broken is None  # dropping the last line is only visible against a replica
        else:
            assert broken is not None
            assert broken.line == expected
