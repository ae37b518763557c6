"""The break state between runs, in one JSON file next to the controller's state.

Written atomically (temporary file, fsync, rename) and only when it changed, so a reader never
sees half of it and a failed run leaves the previous state. Besides the breaks it keeps when
each deployment was first reconciled and whether the policy it ran under lets breaks block
promotions, so that :func:`open_breaks` is a function of the state and a moment.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from stratops.files import replace_file
from stratops.model.reconciliation import ReconciliationPolicySpec
from stratops.ops.reconciliation.lifecycle import BreakRecord, blocking


class Reconciled(BaseModel):
    """A deployment reconciled since ``since`` (its first run)."""

    model_config = ConfigDict(frozen=True)

    strategy: str
    stage: str
    since: AwareDatetime


class ReconState(BaseModel):
    model_config = ConfigDict(frozen=True)

    breaks: list[BreakRecord] = Field(default_factory=list)
    reconciled: list[Reconciled] = Field(default_factory=list)
    block_promotions: bool = True

    def with_run(
        self,
        breaks: list[BreakRecord],
        deployments: Iterable[tuple[str, str]],
        policy: ReconciliationPolicySpec,
        now: datetime,
    ) -> ReconState:
        """The state after a run over ``deployments`` that leaves ``breaks``."""
        known = {(r.strategy, r.stage) for r in self.reconciled}
        fresh = [Reconciled(strategy=s, stage=t, since=now) for s, t in deployments]
        reconciled = [*self.reconciled, *(r for r in fresh if (r.strategy, r.stage) not in known)]
        return ReconState(
            breaks=breaks,
            reconciled=sorted(reconciled, key=lambda r: (r.strategy, r.stage)),
            block_promotions=policy.block_promotions,
        )


def open_breaks(state: ReconState, strategy: str, as_of: datetime) -> int | None:
    """The ``open_breaks`` of ``strategy``'s gate context as of ``as_of``.

    None when none of its deployments had been reconciled by then: the ``reconciliation``
    check is inconclusive rather than passed.
    """
    if not any(r.strategy == strategy and r.since <= as_of for r in state.reconciled):
        return None
    return blocking(state.breaks, strategy, as_of) if state.block_promotions else 0


class BreakStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def state(self) -> ReconState:
        if not self.path.exists():
            return ReconState()
        return ReconState.model_validate_json(self.path.read_text(encoding="utf-8"))

    def load(self) -> list[BreakRecord]:
        return self.state().breaks

    def save(self, state: ReconState) -> None:
        text = state.model_dump_json(indent=1)
        if self.path.exists() and self.path.read_text(encoding="utf-8") == text:
            return
        replace_file(self.path, text, durable=True)
