"""Register → gates → alias against an MLflow tracking server on PostgreSQL, over REST.

The "at scale" registry is the same code on a different store: the gate report computed from
the PostgreSQL-backed server is byte-identical to the one from the embedded SQLite store.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from mlflow_backends import Backend, TickingClock
from pg_server import PostgresServer

from stratops.controller.gate_evaluation import evaluate_request
from stratops.gitops.desk import load_desk
from stratops.gitops.evaluation import GateRequest
from stratops.model.base import Stage, StrategyType
from stratops.registry import Registry, RegistryLocation
from stratops.registry.location import embedded_location
from stratops.registry.synthetic import save_constant_model, write_synthetic_bundle, write_variant

pytestmark = pytest.mark.slow
EXAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "desk"
STRATEGY = "btc-trend-registry"  # its own model on the shared server


def promote_flow(location: RegistryLocation, bundle: Path, model: Path) -> tuple[Registry, str]:
    """What the desk does: register two versions, run v1 in paper, gate v2 into canary.

    Returns the registry and the digest of v2's gate report.
    """
    registry = Registry(location, clock=TickingClock())
    second = bundle.parent / f"{bundle.name}-v2"  # another configuration of the same search
    if not second.exists():
        write_variant(bundle, second, 2)
    for evidence in (bundle, second):
        registry.register(
            STRATEGY, strategy_type=StrategyType.TREND, evidence=evidence, model_path=model
        )
    registry.set_stage_alias(STRATEGY, Stage.PAPER, 1, actor="controller", reason="paper: v1")
    registry.set_stage_alias(STRATEGY, Stage.PAPER, 2, actor="controller", reason="paper: v2")
    policy = load_desk([EXAMPLE]).policy
    assert policy is not None
    request = GateRequest(
        strategy=STRATEGY,
        strategy_type=StrategyType.TREND,
        version=2,
        current_stage=Stage.PAPER,
        target_stage=Stage.CANARY,
        allocation=50_000,
        retired=False,
        as_of=datetime(2024, 1, 10, tzinfo=UTC),
        policy=policy,
    )
    report = evaluate_request(registry, request)
    assert not report.passed  # five days of evidence: a trend canary needs a year
    failed = {check.name for check in report.checks if check.status.value == "fail"}
    assert "min_history" in failed
    return registry, report.digest


def test_register_gates_alias_on_postgres(
    postgres_mlflow: Backend, postgres: PostgresServer, tmp_path: Path
) -> None:
    bundle = write_synthetic_bundle(
        tmp_path / "bundle", strategy_type=StrategyType.TREND, return_rows=5 * 1440, trials=12
    )
    model = save_constant_model(tmp_path / "model", position=0.5)

    registry, digest = promote_flow(postgres_mlflow.location, bundle, model)
    assert registry.stage_aliases(STRATEGY) == {Stage.PAPER: 2}
    history = registry.alias_history(STRATEGY)
    assert [(c.stage, c.to_version) for c in history] == [(Stage.PAPER, 1), (Stage.PAPER, 2)]
    assert registry.verify_evidence(STRATEGY, 2).ok
    assert list(postgres_mlflow.artifacts.rglob("evidence")), "artifacts went through the server"

    import psycopg2  # after the fixtures: without it they skip with the reason

    with psycopg2.connect(postgres.url("mlflow")) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT alias, version FROM registered_model_aliases WHERE name = %s", (STRATEGY,)
        )
        assert cursor.fetchall() == [("paper", 2)]
        cursor.execute("SELECT count(*) FROM model_versions WHERE name = %s", (STRATEGY,))
        assert cursor.fetchone() == (2,)

    _, embedded_digest = promote_flow(embedded_location(tmp_path / "desk"), bundle, model)
    assert digest == embedded_digest  # same evidence and policy: same report, any store
