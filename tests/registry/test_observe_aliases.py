"""Every stage alias in one read: the database store's three queries agree with the search."""

from __future__ import annotations

from pathlib import Path

from stratops.model.aliases import AliasDrift
from stratops.model.base import Stage, StrategyType
from stratops.registry import Registry


def test_all_aliases_and_a_hand_moved_one(
    registry: Registry, strategy: str, bundle_dir: Path, model_dir: Path
) -> None:
    registry.register(
        strategy, strategy_type=StrategyType.TREND, evidence=bundle_dir, model_path=model_dir
    )
    registry.set_stage_alias(strategy, Stage.PAPER, 1, actor="ana", reason="paper")
    registry.set_stage_alias(strategy, Stage.CANARY, 1, actor="ana", reason="canary")
    registry._client.delete_registered_model_alias(strategy, "canary")  # by hand in MLflow
    registry._client.set_registered_model_alias(strategy, "live", "1")  # by hand too
    registry._client.set_registered_model_alias(strategy, "champion", "1")  # not a stage

    observed = registry.observe_stage_aliases()

    assert observed.current[strategy] == {Stage.PAPER: 1, Stage.LIVE: 1}
    assert [d for d in observed.drift if d.strategy == strategy] == [
        AliasDrift(strategy, Stage.CANARY, found=None, recorded=1, sequence=2),
        AliasDrift(strategy, Stage.LIVE, found=1, recorded=None, sequence=0),
    ]
    assert observed == registry._search_stage_aliases()  # whichever store answered
