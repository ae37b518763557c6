"""A break's life between runs: settling, open, aged, cleared (pure).

Each run finds the breaks of that moment; :func:`advance` folds them into what was known:

- a timing break (a missing fill, a funding payment) younger than the settle window is
  ``settling``: the venue may still report it, and it clears itself if it does (a funding
  total compared as of the run is as old as the first run that noticed it);
- any other break is ``open`` from the run that first saw it, ``aged`` once open longer than
  ``ageAfter``, when its severity escalates one level;
- a break a run no longer finds is ``cleared`` (kept, with the time it cleared); a settling
  one the venue reported meanwhile was never a break and is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import pandas as pd
from pydantic import AwareDatetime, BaseModel, ConfigDict

from stratops.model.reconciliation import (
    TIMING_CLASSES,
    BreakClass,
    ReconciliationPolicySpec,
    Severity,
)
from stratops.ops.reconciliation.breaks import AS_OF_CLASSES

NS_PER_SECOND = 1_000_000_000


class BreakState(StrEnum):
    SETTLING = "settling"
    OPEN = "open"
    AGED = "aged"
    CLEARED = "cleared"


ACTIVE = frozenset({BreakState.OPEN, BreakState.AGED})


class BreakRecord(BaseModel):
    """One break of one deployment, as stored between runs."""

    model_config = ConfigDict(frozen=True)

    key: str
    strategy: str
    stage: str
    kind: BreakClass
    source: str
    symbol: str
    ts: int
    order_key: int
    trade_key: int
    ledger: float | None
    venue: float | None
    detail: str
    state: BreakState
    severity: Severity
    first_seen: AwareDatetime
    last_seen: AwareDatetime
    cleared_at: AwareDatetime | None = None

    @property
    def identity(self) -> tuple[str, str, str]:
        return (self.strategy, self.stage, self.key)


def _number(value: Any) -> float | None:
    number = float(value)
    return None if number != number else number


def _state(
    kind: BreakClass,
    ts_ns: int,
    first_seen: datetime,
    now: datetime,
    policy: ReconciliationPolicySpec,
) -> tuple[BreakState, Severity]:
    severity = policy.severity(kind)
    age_of_item = now.timestamp() - ts_ns / NS_PER_SECOND
    if kind in TIMING_CLASSES and age_of_item < policy.settle_seconds:
        return BreakState.SETTLING, severity
    if now - first_seen > timedelta(seconds=policy.age_seconds):
        return BreakState.AGED, severity.escalated()
    return BreakState.OPEN, severity


def advance(
    known: Iterable[BreakRecord],
    found: pd.DataFrame,
    *,
    strategy: str,
    stage: str,
    now: datetime,
    policy: ReconciliationPolicySpec,
) -> list[BreakRecord]:
    """The deployment's breaks after a run that found ``found`` (:mod:`.breaks` columns).

    Records of other deployments in ``known`` are ignored (the caller keeps them).
    """
    previous: Mapping[str, BreakRecord] = {
        r.key: r for r in known if (r.strategy, r.stage) == (strategy, stage)
    }
    records = []
    seen = set()
    for values in found.rename(columns={"class": "kind"}).to_dict("records"):
        key = str(values["key"])
        kind = BreakClass(values["kind"])
        seen.add(key)
        before = previous.get(key)
        noticed, opened = now, now
        if before is not None and before.state is not BreakState.CLEARED:
            noticed = before.first_seen  # a settling break's is when it was first noticed
            opened = before.first_seen if before.state in ACTIVE else now
        late_since = int(values["ts"])
        if before is not None and before.state in ACTIVE:
            late_since = 0  # a break does not go back to settling
        elif kind.value in AS_OF_CLASSES:  # its time is the run's: late since first noticed
            late_since = int(noticed.timestamp() * NS_PER_SECOND)
        state, severity = _state(kind, late_since, opened, now, policy)
        first_seen = noticed if state is BreakState.SETTLING else opened
        records.append(
            BreakRecord(
                key=key,
                strategy=strategy,
                stage=stage,
                kind=kind,
                source=str(values["source"]),
                symbol=str(values["symbol"]),
                ts=int(values["ts"]),
                order_key=int(values["order_key"]),
                trade_key=int(values["trade_key"]),
                ledger=_number(values["ledger"]),
                venue=_number(values["venue"]),
                detail=str(values["detail"]),
                state=state,
                severity=severity,
                first_seen=first_seen,
                last_seen=now,
            )
        )
    for key, record in previous.items():
        if key in seen or record.state is BreakState.SETTLING:  # a settling one was only late
            continue
        if record.state is BreakState.CLEARED:
            records.append(record)
        else:
            records.append(
                record.model_copy(update={"state": BreakState.CLEARED, "cleared_at": now})
            )
    return sorted(records, key=lambda r: r.key)


def halting(records: Iterable[BreakRecord], policy: ReconciliationPolicySpec) -> list[BreakRecord]:
    """The active breaks whose class the policy says halts the deployment."""
    return [r for r in records if r.state in ACTIVE and r.kind in policy.halt]


def active_at(record: BreakRecord, moment: datetime) -> bool:
    """Whether ``record`` was open or aged at ``moment``, by the times it keeps.

    ``first_seen`` is when the break opened (a settling break is not yet one); a cleared break
    was active until ``cleared_at``.
    """
    if record.state is BreakState.SETTLING or record.first_seen > moment:
        return False
    return record.cleared_at is None or record.cleared_at > moment


def blocking(records: Iterable[BreakRecord], strategy: str, as_of: datetime) -> int:
    """Breaks of ``strategy`` active at ``as_of``: what blocks its promotions.

    As of the promotion commit's time, never the wall clock, so CI and the controller count
    alike whenever each of them evaluates (:func:`stratops.ops.reconciliation.store.open_breaks`).
    """
    return sum(1 for r in records if r.strategy == strategy and active_at(r, as_of))
