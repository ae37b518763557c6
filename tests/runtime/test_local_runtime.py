"""The local runtime with real ``stratops paper run`` processes."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from stratops.model.base import Stage
from stratops.model.deployment import DeploymentSpec, DeploymentState
from stratops.model.strategy import HaltBehaviour
from stratops.paper.datasets import load_dataset
from stratops.paper.strategies import strategy_spec
from stratops.paper.strategies.base import save_strategy
from stratops.runtime.local import LocalRuntime, _pids_mentioning

ACTOR = {"actor": "test", "reason": "test"}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    market = load_dataset("binance-1m").select(["BTC/USDT"])
    path = tmp_path_factory.mktemp("models") / "trend"
    save_strategy(
        strategy_spec("trend").build({"fast": 10, "slow": 60}), path, market.bars_frame(5)
    )
    return path


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[LocalRuntime]:
    local = LocalRuntime(tmp_path / "runtime", stop_grace_seconds=15)
    yield local
    for status in local.list():
        local.remove(status.spec.strategy, status.spec.stage, **ACTOR)


def spec(model: Path, version: int = 1, allocation: float = 50_000.0) -> DeploymentSpec:
    return DeploymentSpec(
        strategy="btc-trend",
        stage=Stage.CANARY,
        version=version,
        allocation=allocation,
        model_uri=str(model),
        strategy_type="trend",
        venue="binance",
        symbols=("BTC/USDT",),
        halt=HaltBehaviour.FLATTEN,
        commit="abc",
    )


def processes(runtime: LocalRuntime) -> list[int]:
    return _pids_mentioning(f"{runtime.folder('btc-trend', Stage.CANARY)}{os.sep}")


def wait_for(predicate: object, timeout: float = 60.0) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_deploy_is_idempotent_and_adopted_after_restart(runtime: LocalRuntime, model: Path) -> None:
    first = runtime.deploy(spec(model), **ACTOR)
    assert first.state is DeploymentState.RUNNING
    again = runtime.deploy(spec(model), **ACTOR)
    assert again.instance == first.instance
    restarted = LocalRuntime(runtime.root)  # a new controller process
    (status,) = restarted.list()
    assert (status.state, status.instance) == (DeploymentState.RUNNING, first.instance)
    assert restarted.deploy(spec(model), **ACTOR).instance == first.instance
    assert len(processes(runtime)) == 1


def test_killed_process_is_failed_then_restarted(runtime: LocalRuntime, model: Path) -> None:
    first = runtime.deploy(spec(model), **ACTOR)
    os.kill(int(first.instance), signal.SIGKILL)
    wait_for(lambda: runtime.list()[0].state is DeploymentState.FAILED)
    assert "is not running" in runtime.list()[0].detail
    healed = runtime.deploy(spec(model), **ACTOR)
    assert healed.state is DeploymentState.RUNNING
    assert healed.instance != first.instance


def test_orphan_without_record_is_not_duplicated(runtime: LocalRuntime, model: Path) -> None:
    runtime.deploy(spec(model), **ACTOR)
    (runtime.folder("btc-trend", Stage.CANARY) / "deployment.json").unlink()
    runtime.deploy(spec(model), **ACTOR)
    assert len(processes(runtime)) == 1


def test_replace_stops_the_old_version(runtime: LocalRuntime, model: Path) -> None:
    old = runtime.deploy(spec(model, version=1), **ACTOR)
    new = runtime.deploy(spec(model, version=2), **ACTOR)
    assert processes(runtime) == [int(new.instance)]
    assert new.instance != old.instance
    assert runtime.list()[0].spec.version == 2


def test_halt_is_sent_to_the_process_which_flattens_and_keeps_running(
    runtime: LocalRuntime, model: Path
) -> None:
    started = runtime.deploy(spec(model), **ACTOR)
    telemetry = runtime.folder("btc-trend", Stage.CANARY) / "v1" / "telemetry"
    wait_for(lambda: (telemetry / "run.json").exists())
    halted = runtime.halt("btc-trend", Stage.CANARY, actor="oncall", reason="drawdown")
    assert halted.state is DeploymentState.HALTED
    assert halted.detail == "halted (flatten) by oncall: drawdown"
    assert halted.halted is HaltBehaviour.FLATTEN and set(halted.positions) == {"BTC/USDT"}
    assert processes(runtime) == [int(started.instance)]  # halted, not stopped
    wait_for(lambda: runtime.list()[0].positions == {"BTC/USDT": 0.0})  # flattened
    again = LocalRuntime(runtime.root).halt("btc-trend", Stage.CANARY, actor="x", reason="y")
    assert again.detail == halted.detail  # a second halt keeps the first
    (status,) = LocalRuntime(runtime.root).list()
    assert (status.state, status.halted) == (DeploymentState.HALTED, HaltBehaviour.FLATTEN)


def test_a_process_that_does_not_acknowledge_a_halt_is_stopped(tmp_path: Path, model: Path) -> None:
    def silent(spec: DeploymentSpec, telemetry: Path) -> list[str]:
        return [sys.executable, "-c", "import time; time.sleep(60)", str(telemetry)]

    local = LocalRuntime(tmp_path / "runtime", command=silent, halt_ack_seconds=0.3)
    local.deploy(spec(model), **ACTOR)
    halted = local.halt("btc-trend", Stage.CANARY, actor="oncall", reason="drawdown")
    assert halted.state is DeploymentState.HALTED
    assert "no acknowledgement within 0.3s: stopped" in halted.detail
    assert _pids_mentioning(f"{local.folder('btc-trend', Stage.CANARY)}{os.sep}") == []


def test_remove_archives_and_forgets(runtime: LocalRuntime, model: Path) -> None:
    runtime.deploy(spec(model), **ACTOR)
    runtime.remove("btc-trend", Stage.CANARY, **ACTOR)
    assert runtime.list() == []
    assert processes(runtime) == []
    (archived,) = (runtime.root / ".removed").iterdir()
    assert json.loads((archived / "removed.json").read_text())["reason"] == "test"
    runtime.remove("btc-trend", Stage.CANARY, **ACTOR)  # removing twice is fine


def test_health_reports_an_unwritable_root(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert not LocalRuntime(blocker / "runtime").health().ok
    assert LocalRuntime(tmp_path / "ok").health().ok


def test_a_process_that_exits_at_once_enters_crash_loop(tmp_path: Path, model: Path) -> None:
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]

    def dying(spec: DeploymentSpec, telemetry: Path) -> list[str]:
        del spec
        return [
            sys.executable,
            "-c",
            "print('boom: no model'); exit(1)",
            str(telemetry),
        ]

    local = LocalRuntime(tmp_path / "runtime", command=dying, now=lambda: clock[0])
    local.deploy(spec(model), **ACTOR)
    wait_for(lambda: local.list()[0].state is DeploymentState.FAILED)  # first death: restart
    local.deploy(spec(model), **ACTOR)  # restart 1
    wait_for(lambda: local.list()[0].state is not DeploymentState.RUNNING)
    (status,) = local.list()
    assert status.state is DeploymentState.CRASH_LOOP
    assert "boom: no model" in status.detail  # the log tail
    assert "1 restart(s)" in status.detail
    clock[0] += timedelta(seconds=11)  # past the 10 s backoff: restart allowed
    assert local.list()[0].state is DeploymentState.FAILED
    local.deploy(spec(model), **ACTOR)  # restart 2: next wait 20 s
    wait_for(lambda: local.list()[0].state is not DeploymentState.RUNNING)
    clock[0] += timedelta(seconds=15)
    assert local.list()[0].state is DeploymentState.CRASH_LOOP
    clock[0] += timedelta(seconds=6)
    assert local.list()[0].state is DeploymentState.FAILED
