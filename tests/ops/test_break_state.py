"""A break's life between runs, and the open breaks a promotion sees as of its commit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from stratops.model.reconciliation import BreakClass, ReconciliationPolicySpec, Tolerance
from stratops.ops.reconciliation.breaks import combine, make_breaks
from stratops.ops.reconciliation.drift import compare_amounts
from stratops.ops.reconciliation.lifecycle import BreakRecord, BreakState, active_at, advance
from stratops.ops.reconciliation.store import ReconState, open_breaks

T0 = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
POLICY = ReconciliationPolicySpec(settle_window="2m")
NS = 10**9


def _ns(moment: datetime) -> int:
    return int(moment.timestamp()) * NS


def _found(kind: BreakClass, item_ts: datetime) -> pd.DataFrame:
    return combine(
        [make_breaks(kind, "venue", symbol=np.array(["BTC/USDT"], dtype=object),
                     ts=int(item_ts.timestamp()) * NS, detail="x")]
    )  # fmt: skip


def _advance(known: list[BreakRecord], found: pd.DataFrame, now: datetime) -> list[BreakRecord]:
    return advance(known, found, strategy="s", stage="paper", now=now, policy=POLICY)


def test_a_late_fill_the_venue_reports_in_its_settle_window_is_never_a_break() -> None:
    late = _advance([], _found(BreakClass.MISSING_INTERNAL, T0), T0 + timedelta(seconds=30))
    assert [r.state for r in late] == [BreakState.SETTLING]
    reported = _advance(
        late, _found(BreakClass.MISSING_INTERNAL, T0).iloc[:0], T0 + timedelta(minutes=1)
    )
    assert reported == []  # dropped: no cleared break, no audit event


def test_open_breaks_count_what_was_active_at_the_moment() -> None:
    opened = _advance([], _found(BreakClass.EXTERNAL_ACTIVITY, T0 - timedelta(hours=1)), T0)
    cleared = _advance(opened, _found(BreakClass.PRICE, T0).iloc[:0], T0 + timedelta(hours=1))
    [record] = cleared
    assert record.state is BreakState.CLEARED and record.first_seen == T0
    assert not active_at(record, T0 - timedelta(seconds=1))
    assert active_at(record, T0 + timedelta(minutes=59))
    assert not active_at(record, T0 + timedelta(hours=1))

    state = ReconState().with_run(cleared, [("s", "paper")], POLICY, T0 - timedelta(minutes=5))
    assert open_breaks(state, "s", T0 - timedelta(minutes=6)) is None  # not reconciled yet
    assert open_breaks(state, "s", T0 - timedelta(minutes=1)) == 0
    assert open_breaks(state, "s", T0 + timedelta(minutes=30)) == 1
    assert open_breaks(state, "s", T0 + timedelta(hours=2)) == 0
    assert open_breaks(state, "other", T0 + timedelta(minutes=30)) is None
    lenient = state.with_run(cleared, [], POLICY.model_copy(update={"block_promotions": False}), T0)
    assert open_breaks(lenient, "s", T0 + timedelta(minutes=30)) == 0
    assert lenient.reconciled == state.reconciled  # first reconciliation kept


def test_a_drift_found_again_by_the_next_run_is_the_same_break() -> None:
    ledger, venue = pd.Series({"BTC/USDT": 1.0}), pd.Series({"BTC/USDT": 1.5})
    runs = [T0, T0 + timedelta(minutes=1)]
    found = [
        combine([compare_amounts(BreakClass.POSITION_DRIFT, ledger, venue, Tolerance(), at)])
        for at in (int(t.timestamp()) * NS for t in runs)
    ]
    assert found[0]["key"].tolist() == found[1]["key"].tolist()
    first = _advance([], found[0], runs[0])
    [again] = _advance(first, found[1], runs[1])
    assert again.state is BreakState.OPEN and again.first_seen == runs[0]


def test_a_funding_difference_settles_for_the_window_then_opens() -> None:
    ledger, venue = pd.Series({"BTC/USDT": 0.0}), pd.Series({"BTC/USDT": -1.25})
    records: list[BreakRecord] = []
    states = []
    for minutes in (0, 1, 3, 4):
        at = T0 + timedelta(minutes=minutes)
        funding = compare_amounts(BreakClass.FUNDING, ledger, venue, Tolerance(), _ns(at))
        records = _advance(records, combine([funding]), at)
        states.append((records[0].state, records[0].first_seen))
    assert states == [
        (BreakState.SETTLING, T0),  # noticed at 03:00, the settle window is 2 minutes
        (BreakState.SETTLING, T0),
        (BreakState.OPEN, T0 + timedelta(minutes=3)),  # a break from the run that opened it
        (BreakState.OPEN, T0 + timedelta(minutes=3)),
    ]
