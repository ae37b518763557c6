"""A real desk for controller tests: git remote, local forge, MLflow, paper models."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from stratops.controller.assembly import build_reconciler
from stratops.controller.gate_evaluation import registry_evaluator
from stratops.controller.reconcile import Reconciler
from stratops.gitops.forge.local import LocalForge
from stratops.gitops.forge.models import NewReview, PullRequest, ReviewState
from stratops.gitops.forge.select import ForgeKind, open_forge
from stratops.gitops.gates_check import check_gates, publish
from stratops.gitops.git import GitRepo
from stratops.gitops.plan import PromotionRequest, ReallocationRequest
from stratops.gitops.promote import promote
from stratops.gitops.pulls import merge_pull_request, review_pull_request
from stratops.gitops.scaffold import REMOTE_PATH, init_desk
from stratops.model.base import Stage, StrategyType
from stratops.paper.datasets import load_dataset
from stratops.paper.strategies import strategy_spec
from stratops.paper.strategies.base import save_strategy
from stratops.registry import Registry, RegistryLocation
from stratops.registry.synthetic import write_variant
from stratops.runtime.local import LocalRuntime

DESK_MANIFESTS = Path(__file__).parent / "desk"
IN_PAPER = timedelta(seconds=2)


@dataclass
class Desk:
    root: Path
    repo: GitRepo
    forge: LocalForge
    registry: Registry

    def git(self, *args: str) -> str:
        """Run git in the desk, as a person at the terminal would."""
        done = subprocess.run(
            ["git", *args], cwd=self.root, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    def reconciler(self, speed: float = 3600.0) -> Reconciler:
        """The desk's controller; ``speed``: how fast the paper processes it starts replay."""
        return build_reconciler(
            self.root,
            tracking_uri=self.registry.location.tracking_uri,
            forge=ForgeKind.LOCAL,
            env={},
            speed=speed,
        )

    def runtime(self) -> LocalRuntime:
        runtime = self.reconciler().runtime
        assert isinstance(runtime, LocalRuntime)
        return runtime

    def open_promotion(
        self,
        version: int,
        stage: Stage,
        allocation: float,
        *,
        override_rollback: bool = False,
        min_duration: str | None = None,
    ) -> PullRequest:
        """``stratops promote`` as rita: the pull request, its gates pending.

        The test policy wants a second in paper: the promotion is dated as if made two seconds
        from now (its author date is the gates' as-of), instead of the test waiting for it.
        """
        done = promote(
            self.repo,
            self.forge,
            registry_evaluator(self.registry),
            PromotionRequest(
                strategy="btc-trend",
                version=version,
                target_stage=stage,
                allocation=allocation,
                analysis="trend-canary" if stage is Stage.CANARY else None,
                override_rollback=override_rollback,
                min_duration=min_duration,
            ),
            author="rita",
            as_of=datetime.now(UTC).replace(microsecond=0) + IN_PAPER,
        )
        assert done.pull_request is not None, done.report.markdown()
        return done.pull_request

    def publish_gates(self, pull: PullRequest) -> None:
        """CI's step: check the gates of the head and publish the verdict as CI."""
        self.repo.fetch()
        evaluator = registry_evaluator(self.registry)
        publish(self.forge, check_gates(self.repo, evaluator, "origin/main", pull.head_sha), "ci")

    def open_reallocation(self, version: int, allocation: float) -> PullRequest:
        """``stratops promote btc-trend VERSION --allocation N`` as rita: not gated."""
        done = promote(
            self.repo,
            self.forge,
            registry_evaluator(self.registry),
            ReallocationRequest(strategy="btc-trend", version=version, allocation=allocation),
            author="rita",
            as_of=datetime.now(UTC).replace(microsecond=0),
        )
        assert done.pull_request is not None and done.report is None
        return done.pull_request

    def approve(
        self, pull: PullRequest, forge: LocalForge | None = None, reviewer: str = "bob"
    ) -> None:
        review = NewReview(reviewer=reviewer, state=ReviewState.APPROVED)
        review_pull_request(forge or self.forge, pull.number, review)

    def promote_and_merge(
        self, version: int, stage: Stage, allocation: float, min_duration: str | None = None
    ) -> str:
        """What people do: promote, CI publishes the gates, a reviewer approves, merge."""
        pull = self.open_promotion(version, stage, allocation, min_duration=min_duration)
        self.publish_gates(pull)
        self.approve(pull)
        merged = merge_pull_request(self.repo, self.forge, pull.number)
        assert merged.merge_sha is not None
        return merged.merge_sha


def make_desk(
    folder: Path,
    location: RegistryLocation,
    bundle: Path,
    model: Path,
    versions: int = 2,
    manifests: Path = DESK_MANIFESTS,
) -> Desk:
    """A scaffolded desk whose strategy ``btc-trend`` has ``versions`` registered versions."""
    scaffold = init_desk(folder, manifests)
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


def copy_desk(template: Desk, folder: Path, location: RegistryLocation) -> Desk:
    """A copy of ``template`` at ``folder``: its own remote, forge and MLflow, nothing shared.

    Making a desk registers versions in MLflow (seconds); copying one takes milliseconds. The
    copy's absolute paths (the git remote, MLflow's artifact locations) are moved to the copy.
    """
    shutil.copytree(template.root, folder, symlinks=True)
    old, new = str(template.root), str(folder)
    subprocess.run(
        ["git", "remote", "set-url", "origin", str(folder / REMOTE_PATH)], cwd=folder, check=True
    )
    database = folder / ".stratops" / "mlflow.db"
    with sqlite3.connect(database) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for column in db.execute(f"PRAGMA table_info('{table}')").fetchall():
                if column[2].upper().startswith(("VARCHAR", "TEXT")):
                    db.execute(
                        f'UPDATE "{table}" SET "{column[1]}" = replace("{column[1]}", ?, ?) '
                        f'WHERE instr("{column[1]}", ?) > 0',
                        (old, new, old),
                    )
    repo = GitRepo(folder)
    forge = open_forge(repo, ForgeKind.LOCAL, {})
    assert isinstance(forge, LocalForge)
    return Desk(folder, repo, forge, Registry(location))


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


@contextmanager
def forge_refusing_writes(forge: LocalForge) -> Iterator[None]:
    """The local forge, its pull requests readable but not writable, while the block runs."""
    pulls = forge.root / "pulls"
    aside = pulls.with_name("pulls-aside")
    pulls.rename(aside)
    pulls.write_text("the forge cannot store pull requests")  # reads work, writes fail
    try:
        yield
    finally:
        pulls.unlink()
        aside.rename(pulls)
