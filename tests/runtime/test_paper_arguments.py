"""``paper run`` options of a deployment: its replay and its version's execution parameters."""

from __future__ import annotations

from pathlib import Path

from stratops.model.base import Stage
from stratops.model.deployment import DeploymentSpec, Replay
from stratops.model.execution import ExecutionSettings, execution_settings
from stratops.model.strategy import HaltBehaviour
from stratops.runtime.base import paper_arguments
from stratops.runtime.local import flush_seconds, paper_command

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


def test_an_accelerated_replay_writes_its_telemetry_at_least_every_market_day() -> None:
    def flush(speed: float) -> float:
        args = paper_command(speed)(_spec(None), Path("telemetry"))
        value = _option(args, "--flush-seconds")
        assert value is not None
        return float(value)

    assert flush(3600.0) == 5.0  # an hour of bars a second: paper run's default
    assert flush(345_600.0) == 1.0  # four days a second: never under a second
    assert flush(34_560.0) == 86_400 / 34_560.0  # else a market day
    assert flush(float("inf")) == 1.0
    assert flush_seconds(1.0) == 5.0  # real time
