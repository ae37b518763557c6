"""Drift of stage aliases: what MLflow holds against the last change stratops recorded."""

from __future__ import annotations

from datetime import UTC, datetime

from stratops.model.aliases import AliasDrift
from stratops.model.base import Stage
from stratops.registry.history import alias_drift
from stratops.registry.models import AliasChange


def change(sequence: int, stage: Stage, to: int | None, frm: int | None = None) -> AliasChange:
    return AliasChange(
        sequence=sequence,
        entry=f"e{sequence}",
        strategy="s",
        stage=stage,
        from_version=frm,
        to_version=to,
        actor="stratops-controller",
        reason="r",
        at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_aliases_as_recorded_have_no_drift() -> None:
    history = [change(1, Stage.PAPER, 1), change(2, Stage.CANARY, 1), change(3, Stage.PAPER, 2, 1)]
    assert alias_drift("s", {Stage.PAPER: 2, Stage.CANARY: 1}, history) == []


def test_moved_deleted_and_unrecorded_aliases_drift() -> None:
    history = [change(1, Stage.PAPER, 1), change(2, Stage.CANARY, 1), change(3, Stage.LIVE, None)]
    found = {Stage.PAPER: 3, Stage.LIVE: 1}  # paper moved, canary deleted, live set by hand
    assert alias_drift("s", found, history) == [
        AliasDrift("s", Stage.PAPER, found=3, recorded=1, sequence=1),
        AliasDrift("s", Stage.CANARY, found=None, recorded=1, sequence=2),
        AliasDrift("s", Stage.LIVE, found=1, recorded=None, sequence=3),
    ]
    assert alias_drift("s", {Stage.LIVE: 4}, []) == [
        AliasDrift("s", Stage.LIVE, found=4, recorded=None, sequence=0)
    ]
