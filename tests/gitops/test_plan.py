"""The promotion plan, from plain documents: legality, edits, branch, message."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from stratops.gitops.desk import load_desk
from stratops.gitops.errors import IllegalTransition, MissingOption
from stratops.gitops.plan import (
    PromotionRequest,
    commit_message,
    plan_promotion,
    pull_request_body,
)
from stratops.gitops.yaml_edit import DeleteKey, SetValue
from stratops.model.base import Stage
from stratops.model.strategy import StrategyDeployment

from .helpers import EXAMPLE_MANIFESTS, registry_evaluator

STAGES = ("spec", "stages")


def strategy(**stages: Any) -> StrategyDeployment:
    return StrategyDeployment.model_validate(
        {
            "metadata": {"name": "btc-trend"},
            "spec": {
                "strategyType": "trend",
                "venue": "binance",
                "symbols": ["BTC/USDT"],
                "owners": ["research"],
                "stages": stages,
            },
        }
    )


EXAMPLE = strategy(
    live={"version": 3, "allocation": 1_000_000},
    canary={"version": 4, "allocation": 50_000, "analysis": "trend-canary", "minDuration": "24h"},
    paper={"version": 5},
)


def request(version: int, stage: Stage, **extra: Any) -> PromotionRequest:
    return PromotionRequest(strategy="btc-trend", version=version, target_stage=stage, **extra)


def test_canary_to_live_sets_live_and_drops_that_canary() -> None:
    plan = plan_promotion(EXAMPLE, request(4, Stage.LIVE))
    assert plan.edits == (
        SetValue((*STAGES, "live", "version"), 4),
        SetValue((*STAGES, "live", "analysis"), "trend-canary"),  # its haltOn guards live
        DeleteKey((*STAGES, "canary")),
    )
    named = plan_promotion(EXAMPLE, request(4, Stage.LIVE, analysis="live-guard"))
    assert SetValue((*STAGES, "live", "analysis"), "live-guard") in named.edits
    assert plan.branch == "promote/btc-trend/v4-live"
    assert plan.change.current_stage is Stage.CANARY
    assert plan.change.allocation == 1_000_000


def test_paper_to_canary_keeps_analysis_and_takes_allocation() -> None:
    plan = plan_promotion(EXAMPLE, request(5, Stage.CANARY, allocation=60_000.0))
    assert plan.edits == (
        SetValue((*STAGES, "canary", "version"), 5),
        SetValue((*STAGES, "canary", "allocation"), 60_000),
    )


def test_new_canary_entry_needs_allocation_and_analysis() -> None:
    paper_only = strategy(paper={"version": 1})
    with pytest.raises(MissingOption, match="--allocation"):
        plan_promotion(paper_only, request(1, Stage.CANARY))
    with pytest.raises(MissingOption, match="--analysis"):
        plan_promotion(paper_only, request(1, Stage.CANARY, allocation=5000.0))
    plan = plan_promotion(
        paper_only, request(1, Stage.CANARY, allocation=5000.5, analysis="x", min_duration="48h")
    )
    entry = {"version": 1, "allocation": 5000.5, "analysis": "x", "minDuration": "48h"}
    assert plan.edits == (SetValue((*STAGES, "canary"), entry, order=("live", "canary", "paper")),)


def test_new_version_enters_paper() -> None:
    plan = plan_promotion(EXAMPLE, request(6, Stage.PAPER))
    assert plan.edits == (SetValue((*STAGES, "paper", "version"), 6),)
    assert plan.change.current_stage is None


def test_retired_strategy_comes_back_through_paper() -> None:
    plan = plan_promotion(strategy(), request(9, Stage.PAPER))
    assert plan.change.retired
    assert plan.edits == (
        SetValue((*STAGES, "paper"), {"version": 9}, order=("live", "canary", "paper")),
    )


@pytest.mark.parametrize(
    ("version", "stage", "message"),
    [
        (5, Stage.LIVE, "skips or reverses a stage: needs canary"),  # paper → live
        (6, Stage.CANARY, "nowhere → canary skips"),  # never paper traded
        (3, Stage.CANARY, "demotion, which is a rollback"),  # live → canary
        (4, Stage.PAPER, "demotion, which is a rollback"),  # canary → paper
        (4, Stage.CANARY, "already runs in canary"),
        (2, Stage.PAPER, "newer than v2"),  # an older version back into paper
    ],
)
def test_illegal_transitions(version: int, stage: Stage, message: str) -> None:
    with pytest.raises(IllegalTransition, match=message):
        plan_promotion(EXAMPLE, request(version, stage))


def test_commit_message_carries_parseable_trailers() -> None:
    plan = plan_promotion(EXAMPLE, request(4, Stage.LIVE))
    policy = load_desk([EXAMPLE_MANIFESTS]).policy
    assert policy is not None
    report = registry_evaluator(plan.gate_request(datetime(2025, 1, 6, tzinfo=UTC), policy))
    message = commit_message(plan, report, "beats v3\nout of sample")
    parsed = subprocess.run(
        ["git", "interpret-trailers", "--parse"],
        input=message,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert parsed.splitlines() == [
        "Strategy: btc-trend",
        "Version: 4",
        "Stage: live",
        f"Evidence-Digest: {report.inputs.evidence_digest}",
        f"Gate-Report-Digest: {report.digest}",
    ]
    assert message.startswith(
        "Promote btc-trend v4 to live\n\ncanary → live at allocation 1,000,000"
    )
    assert pull_request_body(plan, report, "beats v3").endswith(report.markdown())


def test_a_live_entry_naming_no_template_is_a_desk_problem(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE_MANIFESTS, tmp_path / "manifests")
    path = tmp_path / "manifests" / "strategies" / "btc-trend.yaml"
    live = "live: {version: 3, allocation: 1000000}"
    path.write_text(path.read_text().replace(live, live[:-1] + ", analysis: trend-guard}"))
    desk = load_desk([tmp_path / "manifests"])
    (problem,) = [p for p in desk.problems if p.code == "desk.unknown_analysis"]
    assert problem.field == "spec.stages.live.analysis" and problem.line is not None
    assert problem.message.startswith("AnalysisTemplate 'trend-guard' does not exist (known: ")
