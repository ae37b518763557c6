"""Kubernetes deployments through their telemetry bucket and their control channel.

A pod is the container's own ``stratops paper run`` arguments run as a real process
(:mod:`pods`), publishing its run folder to a real S3-compatible server (moto's); a kubelet
stand-in projects the control ConfigMap into the mounted file. The runtime talks to the fake API
server, which validates every object it writes against the Kubernetes schema.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
from fake_apiserver import FakeApiServer
from k8s_helpers import NAMESPACE, FakeClock, configuration, make_spec, runtime_config
from pods import BUCKET, Pod

from stratops.canary import RunPhase
from stratops.controller.analyses import AnalysisStore
from stratops.controller.audit import AuditLog
from stratops.controller.canaries import (
    CanaryReader,
    canary_actions,
    judge_canaries,
    rollback_requests,
)
from stratops.controller.observability import Metrics
from stratops.controller.recon_step import ReconStep
from stratops.gitops.desk import load_desk
from stratops.model.analysis import AnalysisTemplate
from stratops.model.base import Stage
from stratops.model.deployment import DeploymentSpec, DeploymentState, DeploymentStatus
from stratops.model.reconciliation import ReconciliationPolicySpec
from stratops.model.strategy import HaltBehaviour, StrategyDeployment
from stratops.ops.reconciliation.store import BreakStore
from stratops.paper.datasets import load_dataset
from stratops.paper.strategies import strategy_spec
from stratops.paper.strategies.base import save_strategy
from stratops.runtime.base import RuntimeUnavailable
from stratops.runtime.k8s_objects import HALT_MODE
from stratops.runtime.kubernetes import KubernetesRuntime
from stratops.telemetry import reader

NAME = "btc-trend-canary"
FLATTEN = HaltBehaviour.FLATTEN
KEY = ("btc-trend", Stage.CANARY)
ACTOR = {"actor": "controller", "reason": "declared in Git"}
DESK = Path(__file__).resolve().parents[1] / "controller" / "desk"
FAST = ("--speed", "36000", "--flush-seconds", "0.3", "--wake-seconds", "0.1",
        "--poll-seconds", "0.1")  # fmt: skip
DEAD_ENDPOINT = "http://127.0.0.1:9"  # nothing listens on the discard port


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    market = load_dataset("binance-1m").select(["BTC/USDT"])
    path = tmp_path_factory.mktemp("models") / "trend"
    strategy = strategy_spec("trend").build({"fast": 10, "slow": 60, "allow_short": True})
    save_strategy(strategy, path, market.bars_frame(5))
    return path


def k8s_runtime(
    apiserver: FakeApiServer,
    mirror: Path,
    endpoint: str,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] | None = None,
    **changes: Any,
) -> KubernetesRuntime:
    values: dict[str, Any] = {
        "env": {},
        "telemetry_bucket": f"s3://{BUCKET}/strategies",
        "telemetry_endpoint": endpoint,
        "extra_args": FAST,
        "halt_poll_seconds": 0.2,
        "halt_wait_seconds": 60.0,
    }
    config = runtime_config(**{**values, **changes})
    return KubernetesRuntime.from_configuration(
        configuration(apiserver.url),
        config,
        sleep=sleep,
        clock=clock or (lambda: datetime.now(UTC)),
        telemetry_mirror=mirror,
    )


def the_status(runtime: KubernetesRuntime, strategy: str = "btc-trend") -> DeploymentStatus:
    return {s.spec.strategy: s for s in runtime.list()}[strategy]


def wait_until(
    runtime: KubernetesRuntime,
    ok: Callable[[DeploymentStatus], bool],
    what: str,
    strategy: str = "btc-trend",
) -> DeploymentStatus:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status = the_status(runtime, strategy)
        if ok(status):
            return status
        time.sleep(0.2)
    raise AssertionError(f"the pod of {strategy} did not {what} within 90s")


def canary(model: Path) -> DeploymentSpec:
    return make_spec(1, model_uri=str(model), allocation=50_000.0)


def test_a_halt_reaches_the_pod_which_applies_its_mode_and_keeps_running(
    apiserver: FakeApiServer, s3: str, model: Path, tmp_path: Path
) -> None:
    """One deployment per halt mode, their pods side by side."""
    runtime = k8s_runtime(apiserver, tmp_path / "mirror", s3)
    specs = {
        mode: canary(model).model_copy(update={"strategy": f"btc-{mode.value.replace('_', '-')}"})
        for mode in HaltBehaviour
    }
    pods = {}
    for mode, spec in specs.items():
        runtime.deploy(spec, **ACTOR)
        pods[mode] = Pod(apiserver, f"{spec.strategy}-canary", tmp_path / mode.value).start()
    try:
        halted = {}
        for mode, spec in specs.items():
            wait_until(runtime, lambda s: (s.bars_done or 0) > 600, "publish", spec.strategy)
            halted[mode] = runtime.halt(
                spec.strategy, Stage.CANARY, actor="oncall", reason="drawdown", mode=mode
            )
        for mode, spec in specs.items():
            status = halted[mode]
            assert (status.state, status.halted) == (DeploymentState.HALTED, mode)
            assert status.detail == f"halted ({mode.value}) by oncall: drawdown"
            assert set(status.positions) == {"BTC/USDT"}
            body = apiserver.get("deployments", NAMESPACE, f"{spec.strategy}-canary")
            assert body is not None
            assert body["spec"]["replicas"] == 1 and pods[mode].running()  # not stopped
            assert body["metadata"]["annotations"][HALT_MODE] == mode.value
            again = runtime.halt(spec.strategy, Stage.CANARY, actor="bob", reason="also")
            assert again.detail == status.detail  # a second halt keeps the first

        flat = wait_until(
            runtime, lambda s: s.positions == {"BTC/USDT": 0.0}, "flatten", specs[FLATTEN].strategy
        )  # at its next bar, through the execution simulator
        assert flat.halted is FLATTEN
        held = the_status(runtime, specs[HaltBehaviour.HOLD].strategy)
        assert held.positions == halted[HaltBehaviour.HOLD].positions  # no new order
        reduced = the_status(runtime, specs[HaltBehaviour.REDUCE_ONLY].strategy)
        before = halted[HaltBehaviour.REDUCE_ONLY].positions["BTC/USDT"]
        assert abs(reduced.positions["BTC/USDT"]) <= abs(before)
        hold = specs[HaltBehaviour.HOLD]
        redeployed = runtime.deploy(hold.model_copy(update={"commit": "1" * 40}), **ACTOR)
        assert redeployed.state is DeploymentState.HALTED  # the halt holds while the version does
        body = apiserver.get("deployments", NAMESPACE, f"{hold.strategy}-canary")
        assert body is not None and body["spec"]["replicas"] == 1
        for spec in specs.values():
            events = reader.read(runtime.telemetry_folder(spec), "events").to_pandas()
            assert (events["kind"] == "halt").sum() == 1  # applied once, seen in the mirror
    finally:
        for pod in pods.values():
            pod.stop()


def test_a_pod_that_does_not_acknowledge_is_stopped_by_the_restart_and_stays_halted(
    apiserver: FakeApiServer, s3: str, model: Path, tmp_path: Path, clock: FakeClock
) -> None:
    sleeps: list[float] = []
    runtime = k8s_runtime(
        apiserver, tmp_path / "mirror", s3, sleeps.append, clock=clock, halt_wait_seconds=1.0,
        halt_poll_seconds=0.5, halt_ack_seconds=120.0,
    )  # fmt: skip
    spec = canary(model)
    runtime.deploy(spec, **ACTOR)  # no pod runs it: nobody reads the control ConfigMap
    halted = runtime.halt(*KEY, actor="oncall", reason="drawdown")
    assert (halted.state, halted.halted) == (DeploymentState.HALTED, None)
    assert halted.detail == "halted (flatten) by oncall: drawdown"
    assert sleeps == [0.5, 0.5]  # the call waits halt_wait_seconds, not halt_ack_seconds
    control = apiserver.get("configmaps", NAMESPACE, f"{NAME}-control")
    assert control is not None
    command = json.loads(control["data"]["control.json"])
    assert (command["mode"], command["by"], command["reason"]) == ("flatten", "oncall", "drawdown")

    clock.advance(121)
    late = the_status(runtime)
    assert late.state is DeploymentState.FAILED  # the planner answers with a RESTART
    assert late.detail.endswith("; no acknowledgement within 120s: restart stops it")
    restarted = runtime.deploy(spec.model_copy(update={"commit": "1" * 40}), **ACTOR)
    assert restarted.state is DeploymentState.HALTED
    assert restarted.detail == (
        "halted (flatten) by oncall: drawdown; stopped: no acknowledgement within 120s"
    )
    body = apiserver.get("deployments", NAMESPACE, NAME)
    assert body is not None and body["spec"]["replicas"] == 0
    assert runtime.deploy(spec, **ACTOR) == restarted  # the halt holds while the version stays

    assert runtime.deploy(make_spec(2, model_uri=str(model)), **ACTOR).state is (
        DeploymentState.RUNNING
    )  # a new version lifts the halt, and its pod must not read the old command
    assert apiserver.get("configmaps", NAMESPACE, f"{NAME}-control") is None
    runtime.remove(*KEY, actor="controller", reason="rolled back")
    assert apiserver.names("configmaps", NAMESPACE) == []


def declared(version: int) -> tuple[StrategyDeployment, dict[str, AnalysisTemplate]]:
    desk = load_desk([DESK])
    strategy = desk.strategies["btc-trend"]
    raw = strategy.model_dump(by_alias=True, exclude_none=True)
    raw["spec"]["stages"]["canary"] = {
        "version": version,
        "allocation": 50_000,
        "analysis": "trend-canary",
    }
    with_canary = StrategyDeployment.model_validate(raw)
    [template] = [doc for _, doc in desk.of_kind(AnalysisTemplate)]
    lenient = template.model_dump(by_alias=True, exclude_none=True)
    # it never passes either: no replay covers ten years, however far the pod gets before it
    # is stopped (on a loaded machine it got past the default 24 h)
    lenient["spec"].update(minSamples=1, inconclusiveLimit=1000, haltOn=[], minDuration="3650d")
    for rule in lenient["spec"]["metrics"]:  # a healthy canary: no threshold trips
        bound = 1e9 if rule["condition"] == "max" else -1e9
        rule["thresholds"] = dict.fromkeys(rule["thresholds"], bound)
    templates = {"trend-canary": AnalysisTemplate.model_validate(lenient)}
    return with_canary, templates


def published_canary(
    apiserver: FakeApiServer, endpoint: str, model: Path, tmp_path: Path
) -> KubernetesRuntime:
    """A canary whose pod replayed more than a 4-hour window, published and stopped."""
    runtime = k8s_runtime(apiserver, tmp_path / "mirror", endpoint)
    runtime.deploy(canary(model), **ACTOR)
    pod = Pod(apiserver, NAME, tmp_path / "pod").start()
    try:
        wait_until(runtime, lambda s: (s.bars_done or 0) > 6 * 60, "replay six hours")
    finally:
        pod.stop()
    return runtime


def test_a_canary_is_judged_and_reconciled_from_its_bucket_an_unreachable_one_is_an_error(
    apiserver: FakeApiServer, s3: str, model: Path, tmp_path: Path
) -> None:
    runtime = published_canary(apiserver, s3, model, tmp_path)
    strategy, templates = declared(1)
    store = AnalysisStore(tmp_path / "analysis")
    observed = {KEY: the_status(runtime)}

    canaries = CanaryReader(runtime, store).read(observed, lambda _: strategy, templates)
    assert canaries.problems == () and KEY in canaries.due
    run = judge_canaries(canaries)[KEY]
    assert run.measurements, "six hours replayed: a 4-hour window is measured"
    assert RunPhase.ERROR not in {m.phase for m in run.measurements}
    assert not run.phase.final
    pnl = reader.read(runtime.telemetry_folder(canary(model)), "pnl", columns=["ts"])
    assert run.started == pc.min(pnl.column("ts")).as_py()  # the pod's own clock
    store.save(run)

    breaks = BreakStore(tmp_path / "recon.json")
    step = ReconStep(
        root=tmp_path,
        runtime=runtime,
        audit=AuditLog(tmp_path / "audit.jsonl"),
        store=breaks,
        metrics=Metrics(),
        now=lambda: datetime.now(UTC) + timedelta(days=1),
        log=logging.getLogger("test"),
    )
    assert observed[KEY].bars_done  # read from the run.json the pod published
    assert step.run(observed, ReconciliationPolicySpec()) == []
    state = breaks.state()
    assert [(r.strategy, r.stage) for r in state.reconciled] == [("btc-trend", "canary")]
    assert state.breaks == []  # the paper venue's statement and the ledger agree

    down = k8s_runtime(apiserver, tmp_path / "mirror", DEAD_ENDPOINT)
    with pytest.raises(
        RuntimeUnavailable,
        match=rf"cannot list s3://{BUCKET}/strategies/{NAME}/v1 at {DEAD_ENDPOINT}",
    ):
        down.telemetry_folder(canary(model))
    canaries = CanaryReader(down, store).read(observed, lambda _: strategy, templates)
    after = judge_canaries(canaries)[KEY]
    new = after.measurements[len(run.measurements) :]
    assert new and {m.phase for m in new} == {RunPhase.ERROR}
    assert after.phase is not RunPhase.FAILED
    desired = {"btc-trend": strategy}
    assert rollback_requests({KEY: after}, observed, desired) == []  # the provider flaked
    assert [a.halt for a in canary_actions({KEY: after}, observed, desired)] in (
        [],
        [HaltBehaviour.HOLD],
    )
