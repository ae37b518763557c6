"""A real desk for controller tests: git remote, local forge, embedded MLflow, paper models."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from stratops.controller.assembly import build_reconciler
from stratops.controller.gate_evaluation import registry_evaluator
from stratops.controller.reconcile import Reconciler
from stratops.gitops.forge.local import LocalForge
from stratops.gitops.forge.models import NewReview, ReviewState
from stratops.gitops.forge.select import ForgeKind, open_forge
from stratops.gitops.gates_check import check_gates, publish
from stratops.gitops.git import GitRepo
from stratops.gitops.plan import PromotionRequest
from stratops.gitops.promote import promote
from stratops.gitops.pulls import merge_pull_request, review_pull_request
from stratops.gitops.scaffold import init_desk
from stratops.model.base import Stage, StrategyType
from stratops.paper.datasets import load_dataset
from stratops.paper.strategies import strategy_spec
from stratops.paper.strategies.base import save_strategy
from stratops.registry import Registry
from stratops.registry.location import resolve_location
from stratops.registry.synthetic import write_synthetic_bundle
from stratops.runtime.local import LocalRuntime

DESK_MANIFESTS = Path(__file__).parent / "desk"


@pytest.fixture(scope="session")
def trend_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    market = load_dataset("binance-1m").select(["BTC/USDT"])
    path = tmp_path_factory.mktemp("models") / "trend"
    save_strategy(
        strategy_spec("trend").build({"fast": 10, "slow": 60}), path, market.bars_frame(5)
    )
    return path


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_bundle(
        tmp_path_factory.mktemp("evidence") / "bundle", strategy_type=StrategyType.TREND
    )


@dataclass
class Desk:
    root: Path
    repo: GitRepo
    forge: LocalForge
    registry: Registry

    def reconciler(self) -> Reconciler:
        return build_reconciler(self.root, forge=ForgeKind.LOCAL, env={})

    def runtime(self) -> LocalRuntime:
        runtime = self.reconciler().runtime
        assert isinstance(runtime, LocalRuntime)
        return runtime

    def promote_and_merge(self, version: int, stage: Stage, allocation: float) -> str:
        """What people do: promote, CI publishes the gates, a reviewer approves, merge."""
        evaluator = registry_evaluator(self.registry)
        as_of = datetime.now(UTC).replace(microsecond=0)
        done = promote(
            self.repo,
            self.forge,
            evaluator,
            PromotionRequest(
                strategy="btc-trend",
                version=version,
                target_stage=stage,
                allocation=allocation,
                analysis="trend-canary" if stage is Stage.CANARY else None,
            ),
            author="rita",
            as_of=as_of,
        )
        assert done.pull_request is not None, done.report.markdown()
        self.repo.fetch()
        check = check_gates(self.repo, evaluator, "origin/main", done.pull_request.head_sha)
        publish(self.forge, check, "ci")
        review_pull_request(
            self.forge,
            done.pull_request.number,
            NewReview(reviewer="bob", state=ReviewState.APPROVED),
        )
        merged = merge_pull_request(self.repo, self.forge, done.pull_request.number)
        assert merged.merge_sha is not None
        return merged.merge_sha


@pytest.fixture
def desk(tmp_path: Path, trend_model: Path, bundle: Path) -> Iterator[Desk]:
    scaffold = init_desk(tmp_path / "desk", DESK_MANIFESTS)
    root = scaffold.root
    repo = GitRepo(root)
    forge = open_forge(repo, ForgeKind.LOCAL, {})
    assert isinstance(forge, LocalForge)
    registry = Registry(resolve_location(None, environ={}, cwd=root))
    for _ in range(2):
        registry.register(
            "btc-trend", strategy_type=StrategyType.TREND, evidence=bundle, model_path=trend_model
        )
    made = Desk(root, repo, forge, registry)
    yield made
    runtime = made.runtime()
    for status in runtime.list():
        runtime.remove(status.spec.strategy, status.spec.stage, actor="test", reason="teardown")
