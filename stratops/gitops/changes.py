"""The difference between two desired states, as promotions, rollbacks and reallocations.

Pure: documents in, changes out (never text). Per strategy and stage entry:

- a version that appears, or replaces an older one, is a **promotion** (gated);
- an entry that disappears, or goes back to an older version, is a **rollback** (listed, not
  gated), except a canary entry whose version moved up to live in the same change: that is
  part of the promotion;
- the same version with another allocation is a **reallocation** (listed, not gated; a raise
  in a stage needs the approvals a promotion to that stage needs, a cut none).

Apart from those, a change of the rules (a ``GatePolicy`` or an ``AnalysisTemplate`` added,
edited or removed: :func:`rule_changes`) needs the policy owners' approval and never comes with
a promotion in the same pull request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from stratops.gitops.evaluation import GateRequest, stage_of
from stratops.model.base import STAGE_ORDER, Document, Stage, StrategyType
from stratops.model.policy import GatePolicy
from stratops.model.strategy import StrategyDeployment


class ChangeKind(StrEnum):
    PROMOTION = "promotion"
    ROLLBACK = "rollback"
    REALLOCATION = "reallocation"


@dataclass(frozen=True)
class DesiredChange:
    kind: ChangeKind
    strategy: str
    strategy_type: StrategyType
    stage: Stage
    from_version: int | None
    to_version: int | None
    allocation: float | None  # in the stage after the change
    current_stage: Stage | None  # of ``to_version`` before the change
    retired: bool  # the strategy had no stage left before the change
    from_allocation: float | None = None  # in the stage before the change

    @property
    def raises_capital(self) -> bool:
        """A reallocation to more capital (a cut reduces risk)."""
        return (
            self.kind is ChangeKind.REALLOCATION
            and self.allocation is not None
            and self.from_allocation is not None
            and self.allocation > self.from_allocation
        )

    def describe(self) -> str:
        before = "-" if self.from_version is None else f"v{self.from_version}"
        after = "removed" if self.to_version is None else f"v{self.to_version}"
        amount = "" if self.allocation is None else f" @ {self.allocation:,.0f}"
        return f"{self.stage.value}: {before} → {after}{amount}"

    def gate_request(self, as_of: datetime, policy: GatePolicy) -> GateRequest:
        if self.kind is not ChangeKind.PROMOTION or self.to_version is None:
            raise ValueError(f"only promotions are gated, not {self.kind.value}")
        assert self.allocation is not None
        return GateRequest(
            strategy=self.strategy,
            strategy_type=self.strategy_type,
            version=self.to_version,
            current_stage=self.current_stage,
            target_stage=self.stage,
            allocation=self.allocation,
            retired=self.retired,
            as_of=as_of,
            policy=policy,
        )


def desired_changes(
    base: Mapping[str, StrategyDeployment], head: Mapping[str, StrategyDeployment]
) -> list[DesiredChange]:
    """Every stage entry that differs between ``base`` and ``head``, by strategy and stage."""
    changes: list[DesiredChange] = []
    for name in sorted(set(base) | set(head)):
        before, after = base.get(name), head.get(name)
        document = after or before
        assert document is not None
        for stage in STAGE_ORDER:
            old = getattr(before.spec.stages, stage.value) if before else None
            new = getattr(after.spec.stages, stage.value) if after else None
            kind = _kind(stage, old.version if old else None, new.version if new else None, after)
            if kind is None and old and new and old.allocation != new.allocation:
                kind = ChangeKind.REALLOCATION
            if kind is None:
                continue
            changes.append(
                DesiredChange(
                    kind=kind,
                    strategy=name,
                    strategy_type=document.spec.strategy_type,
                    stage=stage,
                    from_version=old.version if old else None,
                    to_version=new.version if new else None,
                    allocation=new.allocation if new else None,
                    current_stage=stage_of(before, new.version) if new else None,
                    retired=before.retired if before else False,
                    from_allocation=old.allocation if old else None,
                )
            )
    return changes


def _kind(
    stage: Stage, old: int | None, new: int | None, after: StrategyDeployment | None
) -> ChangeKind | None:
    if new is not None and (old is None or new > old):
        return ChangeKind.PROMOTION
    if new is not None and old is not None and new < old:
        return ChangeKind.ROLLBACK
    if old is not None and new is None:
        moved_to = stage_of(after, old)
        if moved_to is not None and STAGE_ORDER.index(moved_to) > STAGE_ORDER.index(stage):
            return None  # graduated to a higher stage in the same change
        return ChangeKind.ROLLBACK
    return None


def rule_changes(old: Mapping[str, Document], new: Mapping[str, Document]) -> list[str]:
    """The rule documents (``Kind/name``, as in :attr:`Desk.rules`) that differ, sorted."""
    return sorted(
        name
        for name in set(old) | set(new)
        if name not in old
        or name not in new
        or old[name].model_dump(mode="json") != new[name].model_dump(mode="json")
    )


def mixed_change(rules: Sequence[str], changes: Sequence[DesiredChange]) -> str | None:
    """Why a change that edits the rules and promotes is refused; ``None`` if it does not both."""
    if not rules or not any(c.kind is ChangeKind.PROMOTION for c in changes):
        return None
    return (
        f"it changes the rules ({', '.join(rules)}) and promotes at the same time: a promotion "
        "is gated by the rules in force, so the rule change must merge first, through its owners"
    )
