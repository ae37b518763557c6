"""The break summary the controller publishes, so a gates check on another machine can read it.

The break state lives in the controller's state folder (:mod:`.store`); a CI runner's clone of
the desk has none. So each tick that reconciles, the controller publishes, for every strategy
it reconciled, what the ``reconciliation`` gate check needs — the strategy's part of the break
state (its reconciled deployments and the breaks that opened) and the time it was computed —
as a tag of the strategy's registered model in the registry (``stratops.recon.breaks``, written
by the controller alone, :class:`stratops.controller.recon_publish.BreakPublisher`). It is
written when the summary changed, and again once it is :data:`REFRESH` old, so a summary that
stops being refreshed is one whose controller stopped reconciling.

:meth:`PublishedBreaks.open_breaks` counts as :func:`.store.open_breaks` does, from the same
records, so CI and the controller agree; it is None — the check is inconclusive, nothing marks
itself green — when no summary was published, when it was computed more than
:data:`STALE_AFTER` before the promotion's ``as_of``, or when ``as_of`` is older than the
breaks it still lists (:attr:`PublishedBreaks.complete_since`, kept to fit the tag).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from stratops.ops.reconciliation.lifecycle import BreakRecord, BreakState
from stratops.ops.reconciliation.store import ReconState, open_breaks

FORMAT: Final = "stratops.recon-breaks/v1"
STALE_AFTER: Final = timedelta(hours=1)
"""A summary computed longer than this before a promotion's ``as_of`` says nothing about it."""
REFRESH: Final = timedelta(minutes=10)
"""The controller republishes an unchanged summary this often (well inside :data:`STALE_AFTER`)."""
MAX_CHARS: Final = 100_000
"""The longest value of a registered-model tag (MLflow's limit)."""


class PublishedBreaks(BaseModel):
    """One strategy's break summary, as published (:meth:`for_storage`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["stratops.recon-breaks/v1"] = FORMAT
    strategy: str
    computed_at: AwareDatetime
    by: str
    complete_since: AwareDatetime | None = None
    state: ReconState

    def for_storage(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_storage(cls, text: str) -> PublishedBreaks:
        """Raises ValueError (naming the field) when ``text`` is not a summary of this format."""
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            raise ValueError(f"not a {FORMAT} summary: {exc}") from exc

    def open_breaks(self, as_of: datetime) -> int | None:
        """The strategy's breaks blocking promotions at ``as_of``; None when this summary cannot
        tell (stale for ``as_of``, or ``as_of`` before :attr:`complete_since`)."""
        if as_of - self.computed_at > STALE_AFTER:
            return None
        if self.complete_since is not None and as_of < self.complete_since:
            return None
        return open_breaks(self.state, self.strategy, as_of)

    def same_breaks(self, other: PublishedBreaks) -> bool:
        """Whether ``other`` says the same as this one, whenever each was computed."""
        return (self.state, self.complete_since) == (other.state, other.complete_since)


def _opened(records: list[BreakRecord], strategy: str) -> list[BreakRecord]:
    """The strategy's breaks that opened (a settling one is not yet a break), oldest first."""
    mine = [r for r in records if r.strategy == strategy and r.state is not BreakState.SETTLING]
    return sorted(mine, key=lambda r: (r.first_seen, r.identity))


def summarize(state: ReconState, strategy: str, now: datetime, by: str) -> PublishedBreaks:
    """The summary of ``strategy`` in ``state`` computed at ``now``: fits in :data:`MAX_CHARS`,
    leaving out the breaks that cleared first when it must (:attr:`complete_since`)."""
    opened = _opened(state.breaks, strategy)
    part = ReconState(
        breaks=opened,
        reconciled=[r for r in state.reconciled if r.strategy == strategy],
        block_promotions=state.block_promotions,
    )
    summary = PublishedBreaks(strategy=strategy, computed_at=now, by=by, state=part)
    cleared = sorted(
        (r for r in opened if r.cleared_at is not None), key=lambda r: (r.cleared_at, r.identity)
    )
    dropped = 0
    while len(summary.for_storage()) > MAX_CHARS and dropped < len(cleared):
        dropped = min(len(cleared), max(2 * dropped, 1))
        gone = {r.identity for r in cleared[:dropped]}
        kept = [r for r in opened if r.identity not in gone]
        summary = summary.model_copy(
            update={
                "state": part.model_copy(update={"breaks": kept}),
                "complete_since": cleared[dropped - 1].cleared_at,
            }
        )
    return summary
