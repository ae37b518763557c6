"""A real desk for controller tests: git remote, local forge, MLflow, paper models."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

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
from stratops.registry import Registry, RegistryLocation
from stratops.registry.synthetic import write_variant
from stratops.runtime.local import LocalRuntime

DESK_MANIFESTS = Path(__file__).parent / "desk"


@dataclass
class Desk:
    root: Path
    repo: GitRepo
    forge: LocalForge
    registry: Registry

    def reconciler(self) -> Reconciler:
        return build_reconciler(
            self.root,
            tracking_uri=self.registry.location.tracking_uri,
            forge=ForgeKind.LOCAL,
            env={},
        )

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


def make_desk(
    folder: Path, location: RegistryLocation, bundle: Path, model: Path, versions: int = 2
) -> Desk:
    """A scaffolded desk whose strategy ``btc-trend`` has ``versions`` registered versions."""
    scaffold = init_desk(folder, DESK_MANIFESTS)
    repo = GitRepo(scaffold.root)
    forge = open_forge(repo, ForgeKind.LOCAL, {})
    assert isinstance(forge, LocalForge)
    registry = Registry(location)
    for version in range(1, versions + 1):
        variant = folder.parent / f"{folder.name}-evidence-v{version}"
        evidence = bundle if version == 1 else write_variant(bundle, variant, version)
        registry.register(
            "btc-trend", strategy_type=StrategyType.TREND, evidence=evidence, model_path=model
        )
    return Desk(scaffold.root, repo, forge, registry)


def save_trend_model(path: Path) -> Path:
    """A real paper-engine trend follower saved as an MLflow pyfunc model."""
    market = load_dataset("binance-1m").select(["BTC/USDT"])
    save_strategy(
        strategy_spec("trend").build({"fast": 10, "slow": 60}), path, market.bars_frame(5)
    )
    return path


def stop_deployments(desk: Desk) -> None:
    runtime = desk.runtime()
    for status in runtime.list():
        runtime.remove(status.spec.strategy, status.spec.stage, actor="test", reason="teardown")
