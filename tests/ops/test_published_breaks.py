"""The break summary the controller publishes for CI: it counts what the break state counts,
and says nothing (None: inconclusive) when stale, unreadable or too short for the moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stratops.model.reconciliation import BreakClass, ReconciliationPolicySpec, Severity
from stratops.ops.reconciliation.lifecycle import BreakRecord, BreakState
from stratops.ops.reconciliation.published import (
    MAX_CHARS,
    STALE_AFTER,
    PublishedBreaks,
    summarize,
)
from stratops.ops.reconciliation.store import ReconState, open_breaks

T0 = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
POLICY = ReconciliationPolicySpec()


def _record(
    key: str,
    opened: datetime,
    cleared: datetime | None = None,
    *,
    strategy: str = "btc-trend",
    state: BreakState | None = None,
) -> BreakRecord:
    return BreakRecord(
        key=key, strategy=strategy, stage="paper", kind=BreakClass.PRICE, source="both",
        symbol="BTC/USDT", ts=0, order_key=7, trade_key=-1, ledger=1.0, venue=1.1,
        detail="price differs " + "x" * 200, severity=Severity.WARNING, first_seen=opened,
        last_seen=cleared or opened, cleared_at=cleared,
        state=state or (BreakState.CLEARED if cleared else BreakState.OPEN),
    )  # fmt: skip


def _state(records: list[BreakRecord]) -> ReconState:
    return ReconState().with_run(
        records, [("btc-trend", "paper"), ("other", "paper")], POLICY, T0 - timedelta(hours=2)
    )


def test_a_summary_counts_as_the_break_state_and_round_trips() -> None:
    records = [
        _record("a", T0 - timedelta(minutes=90), T0 - timedelta(minutes=30)),
        _record("b", T0 - timedelta(minutes=10)),
        _record("c", T0 - timedelta(minutes=5), state=BreakState.SETTLING),
        _record("d", T0 - timedelta(minutes=50), strategy="other"),
    ]
    state = _state(records)
    summary = PublishedBreaks.from_storage(summarize(state, "btc-trend", T0, "ctl").for_storage())
    assert [r.key for r in summary.state.breaks] == ["a", "b"]  # its own, opened
    for minutes in (-150, -60, -20, -1, 0, 30, 59):
        as_of = T0 + timedelta(minutes=minutes)
        assert summary.open_breaks(as_of) == open_breaks(state, "btc-trend", as_of), minutes
    assert summary.open_breaks(T0 - timedelta(minutes=60)) == 1
    assert summary.open_breaks(T0) == 1
    assert summary.open_breaks(T0 - timedelta(hours=3)) is None  # not reconciled then


def test_a_stale_summary_says_nothing() -> None:
    summary = summarize(_state([]), "btc-trend", T0, "ctl")
    assert summary.open_breaks(T0 + STALE_AFTER) == 0
    assert summary.open_breaks(T0 + STALE_AFTER + timedelta(seconds=1)) is None


def test_a_summary_the_desk_does_not_block_on_counts_zero() -> None:
    lenient = _state([_record("b", T0 - timedelta(minutes=10))]).with_run(
        [_record("b", T0 - timedelta(minutes=10))],
        [],
        POLICY.model_copy(update={"block_promotions": False}),
        T0,
    )
    assert summarize(lenient, "btc-trend", T0, "ctl").open_breaks(T0) == 0


@pytest.mark.parametrize("text", ["", "{}", '{"format": "stratops.recon-breaks/v0"}', "[1]"])
def test_an_unreadable_summary_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a stratops\.recon-breaks/v1 summary"):
        PublishedBreaks.from_storage(text)


def test_a_summary_too_long_for_a_tag_drops_the_first_cleared_and_says_since_when() -> None:
    cleared = [
        _record(f"c{i:04}", T0 - timedelta(hours=1, seconds=2 * i), T0 - timedelta(seconds=i))
        for i in range(600)
    ]
    state = _state([*cleared, _record("open", T0 - timedelta(minutes=1))])
    summary = summarize(state, "btc-trend", T0, "ctl")
    assert len(summary.for_storage()) <= MAX_CHARS
    assert summary.complete_since is not None
    kept = {r.key for r in summary.state.breaks}
    assert "open" in kept and 0 < len(kept) < len(cleared)
    gone = [r for r in cleared if r.key not in kept]
    assert max(r.cleared_at for r in gone if r.cleared_at) == summary.complete_since
    assert all(r.cleared_at and r.cleared_at >= summary.complete_since for r in cleared
               if r.key in kept)  # fmt: skip
    # from complete_since on it counts as the whole state; before, it cannot tell
    for as_of in (summary.complete_since, T0):
        assert summary.open_breaks(as_of) == open_breaks(state, "btc-trend", as_of)
    assert summary.open_breaks(summary.complete_since - timedelta(seconds=1)) is None
