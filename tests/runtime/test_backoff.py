"""CrashLoopBackOff policy with an injected clock (no sleeping)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from stratops.runtime.backoff import BackoffPolicy, CrashState

T0 = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = BackoffPolicy()


def test_delays_double_from_10s_to_5min() -> None:
    delays = [POLICY.next_delay(n).total_seconds() for n in range(1, 9)]
    assert delays == [10, 20, 40, 80, 160, 300, 300, 300]
    assert POLICY.next_delay(0) == timedelta(0)


def test_a_process_that_exits_at_once_backs_off() -> None:
    state, now = CrashState(), T0
    waits = []
    for _ in range(6):
        assert not state.crash_looping(POLICY, now)  # ready: restart it
        state = state.crashed(now)
        assert state.crash_looping(POLICY, now + timedelta(seconds=1))  # dies again at once
        ready = state.ready(POLICY, now)
        waits.append((ready - now).total_seconds())
        now = ready
    assert waits == [10, 20, 40, 80, 160, 300]


def test_reset_after_ten_healthy_minutes() -> None:
    state = CrashState().crashed(T0).crashed(T0 + timedelta(seconds=10))
    assert state.healthy(POLICY, T0 + timedelta(minutes=5)).restarts == 2
    assert state.healthy(POLICY, T0 + timedelta(minutes=11)) == CrashState()
