"""``paper run`` options of a deployment: its replay and its version's execution parameters."""

from __future__ import annotations

from stratops.model.base import Stage
from stratops.model.deployment import DeploymentSpec, Replay
from stratops.model.execution import ExecutionSettings, execution_settings
from stratops.model.strategy import HaltBehaviour
from stratops.runtime.base import paper_arguments

COSTLY = ExecutionSettings(taker_fee_bps=10.0, impact_coefficient=3.0)


def _spec(replay: Replay | None) -> DeploymentSpec:
    return DeploymentSpec(
        strategy="btc-trend-costly", stage=Stage.CANARY, version=1, allocation=10_000.0,
        model_uri="models:/btc-trend-costly/1", strategy_type="trend", venue="binance",
        symbols=("BTC/USDT",), halt=HaltBehaviour.FLATTEN, commit="c" * 40, replay=replay,
    )  # fmt: skip


def _option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def test_a_version_s_execution_parameters_reach_its_paper_process() -> None:
    replay = Replay(dataset="binance-1h", start="2017-08-17", end="2024-08-17", execution=COSTLY)
    args = paper_arguments(_spec(replay))
    passed = _option(args, "--execution")
    assert passed is not None and execution_settings(passed) == COSTLY
    assert _option(args, "--data") == "binance-1h"


def test_without_parameters_the_engine_keeps_its_defaults() -> None:
    plain = Replay(dataset="binance-1h", start="2017-08-17", end="2024-08-17")
    for replay in (plain, None):
        assert "--execution" not in paper_arguments(_spec(replay))
