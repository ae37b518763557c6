"""The pure core of the Kubernetes runtime, on plain values: names, bodies, drift, state."""

from __future__ import annotations

import copy
import re
from datetime import timedelta
from typing import Any

import kubernetes_validate
import pytest
from hypothesis import given
from hypothesis import strategies as st
from k8s_helpers import T0, make_spec, runtime_config

from stratops.model.base import DNS_LABEL_PATTERN, Stage
from stratops.model.deployment import DeploymentState
from stratops.model.strategy import HaltBehaviour
from stratops.paper.control import Acknowledged, HaltCommand, ProcessStatus
from stratops.runtime.k8s_config import Resources
from stratops.runtime.k8s_objects import (
    CONFIG_DIGEST,
    HALT_STOPPED,
    HALTED_BY,
    InvalidSpec,
    build_config_map,
    build_control_map,
    build_deployment,
    control_name,
    halt_annotations,
    object_name,
    template_digest,
    with_halt,
)
from stratops.runtime.k8s_state import (
    detect_config_drift,
    detect_drift,
    halt_command,
    halt_update,
    merged,
    observe,
    restart_needed,
    stop_update,
)

CONFIG = runtime_config()
LATER = T0 + timedelta(hours=1)
HOUR = timedelta(hours=1)


def built(version: int = 7, **changes: Any) -> dict[str, Any]:
    return build_deployment(make_spec(version, **changes), CONFIG, actor="c", reason="r", at=T0)


def config_map(version: int = 7) -> dict[str, Any]:
    return build_config_map(make_spec(version), CONFIG)


def command(
    by: str = "c", reason: str = "r", mode: HaltBehaviour = HaltBehaviour.FLATTEN
) -> HaltCommand:
    return HaltCommand(mode=mode, id=f"h-{by}", by=by, reason=reason)


def halted(
    body: dict[str, Any],
    by: str = "c",
    reason: str = "r",
    at: str = "t",
    stopped: str | None = None,
) -> dict[str, Any]:
    notes = halt_annotations(command(by, reason), at)
    return with_halt(body, {**notes, **({HALT_STOPPED: stopped} if stopped else {})})


def test_names() -> None:
    assert object_name("btc-trend", Stage.CANARY) == "btc-trend-canary"
    long = "a" * 60
    name = object_name(long, Stage.CANARY)
    assert len(name) == 63
    assert name.endswith("-canary")
    assert name != object_name("a" * 59 + "b", Stage.CANARY)
    with pytest.raises(InvalidSpec, match="not a DNS label"):
        object_name("BTC_trend", Stage.LIVE)


@given(st.from_regex(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", fullmatch=True))
def test_every_name_is_a_dns_label(strategy: str) -> None:
    for stage in Stage:
        name = object_name(strategy, stage)
        assert len(name) <= 63
        assert re.fullmatch(DNS_LABEL_PATTERN, name)


@pytest.mark.parametrize(
    "config",
    [
        CONFIG,
        runtime_config(
            telemetry_claim="telemetry",
            service_account="strategy",
            images={"trend": "registry.example.com/desk/trend:2"},
            resources={"trend": Resources(requests={"cpu": "2"}, limits={"cpu": "4"})},
            extra_args=("--speed", "1"),
        ),
    ],
)
def test_bodies_are_valid_kubernetes_objects(config: Any) -> None:
    spec = make_spec()
    deployment = build_deployment(spec, config, actor="c", reason="r", at=T0)
    kubernetes_validate.validate(deployment, "1.30", strict=True)
    kubernetes_validate.validate(build_config_map(spec, config), "1.30", strict=True)
    kubernetes_validate.validate(halted(deployment), "1.30", strict=True)
    kubernetes_validate.validate(halted(deployment, stopped="stopped"), "1.30", strict=True)
    control = build_control_map(spec.strategy, spec.stage, command(), config)
    kubernetes_validate.validate(control, "1.30", strict=True)


def test_per_type_image_and_resources() -> None:
    config = runtime_config(
        images={"trend": "registry.example.com/desk/trend:2"},
        resources={"trend": Resources(requests={"cpu": "2"}, limits={})},
    )
    container = build_deployment(make_spec(), config, actor="c", reason="r", at=T0)["spec"][
        "template"
    ]["spec"]["containers"][0]
    assert container["image"] == "registry.example.com/desk/trend:2"
    assert container["resources"] == {"requests": {"cpu": "2"}, "limits": {}}
    other = build_deployment(
        make_spec(strategy_type="carry"), config, actor="c", reason="r", at=T0
    )["spec"]["template"]["spec"]["containers"][0]
    assert other["image"] == CONFIG.image
    assert other["resources"]["requests"] == {"cpu": "250m", "memory": "512Mi"}


def _edit(body: dict[str, Any], change: Any) -> dict[str, Any]:
    edited = copy.deepcopy(body)
    change(edited)
    return edited


def _container(body: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = body["spec"]["template"]["spec"]["containers"][0]
    return container


@pytest.mark.parametrize(
    ("change", "drift"),
    [
        (lambda d: None, None),
        # fields the API server defaults are not drift
        (lambda d: _container(d).update(imagePullPolicy="IfNotPresent"), None),
        (lambda d: d["spec"]["template"]["spec"].update(dnsPolicy="ClusterFirst"), None),
        (lambda d: _container(d)["resources"]["requests"].update(cpu="0.25"), None),
        (lambda d: d["metadata"]["annotations"].update({"other.io/x": "y"}), None),
        (lambda d: d["spec"].pop("replicas"), None),  # absent means 1
        (lambda d: d["spec"].update(replicas=3), "drift: replicas 3 != 1"),
        (lambda d: d["spec"].update(replicas=0), "drift: replicas 0 != 1"),
        (
            lambda d: d["metadata"]["labels"].update({"stratops.io/version": "6"}),
            "drift: label stratops.io/version '6' != '7'",
        ),
        (lambda d: _container(d).update(image="x"), "drift: pod template edited"),
        (lambda d: _container(d)["args"].append("--max-fraction=5"), "drift: pod template edited"),
        (
            lambda d: _container(d)["env"].append({"name": "X", "value": "1"}),
            "drift: pod template edited",
        ),
        (
            lambda d: d["metadata"]["annotations"].pop("stratops.io/spec"),
            "drift: annotation stratops.io/spec is missing or unreadable",
        ),
        (
            lambda d: d["metadata"]["annotations"].update({"stratops.io/spec": "{}"}),
            "drift: annotation stratops.io/spec is missing or unreadable",
        ),
    ],
)
def test_detect_drift(change: Any, drift: str | None) -> None:
    found = detect_drift(_edit(built(), change))
    assert found == drift or (drift is not None and found is not None and found.startswith(drift))


def test_a_halted_pod_keeps_running_unless_the_halt_stopped_it() -> None:
    running = halted(built(), at=T0.isoformat())
    assert running["spec"]["replicas"] == 1
    assert detect_drift(running) is None
    stopped = halted(built(), at=T0.isoformat(), stopped="stopped: no acknowledgement")
    assert stopped["spec"]["replicas"] == 0
    assert detect_drift(stopped) is None
    assert detect_drift(_edit(stopped, lambda d: d["spec"].update(replicas=1))) == (
        "drift: replicas 1 != 0"
    )


def test_the_pod_reads_its_control_configmap_and_publishes_to_the_bucket() -> None:
    config = runtime_config(telemetry_bucket="s3://desk-telemetry/strategies",
                            telemetry_endpoint="http://minio.stratops.svc:9000")  # fmt: skip
    pod = build_deployment(make_spec(), config, actor="c", reason="r", at=T0)["spec"]["template"]
    [container] = pod["spec"]["containers"]
    args = container["args"]
    assert args[args.index("--control") + 1] == "/control/control.json"
    assert args[args.index("--publish") + 1] == "s3://desk-telemetry/strategies/btc-trend-canary/v7"
    assert args[args.index("--publish-endpoint") + 1] == "http://minio.stratops.svc:9000"
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["control"]["configMap"] == {"name": "btc-trend-canary-control", "optional": True}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["control"] == {"name": "control", "mountPath": "/control", "readOnly": True}
    assert "--publish" not in built()["spec"]["template"]["spec"]["containers"][0]["args"]
    with_secret = runtime_config(telemetry_secret="desk-telemetry-writer")
    template = build_deployment(make_spec(), with_secret, actor="c", reason="r", at=T0)
    assert template["spec"]["template"]["spec"]["containers"][0]["envFrom"][1] == {
        "secretRef": {"name": "desk-telemetry-writer"}
    }  # the store's credentials, from a Secret
    assert template_digest("{}", template["spec"]["template"]) != template_digest(
        "{}", built()["spec"]["template"]
    )
    long = "a" * 60
    assert len(control_name(long, Stage.CANARY)) == 63
    assert control_name(long, Stage.CANARY) != object_name(long, Stage.CANARY)


def test_detect_config_drift() -> None:
    assert detect_config_drift(built(), config_map()) is None
    assert detect_config_drift(built(), None) == "drift: configmap btc-trend-canary is missing"
    edited = _edit(config_map(), lambda c: c["data"].update(STRATOPS_ALLOCATION="1e9"))
    found = detect_config_drift(built(), edited)
    assert found is not None
    assert found.startswith("drift: configmap btc-trend-canary edited")


def _available(body: dict[str, Any], count: int, since: str | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"availableReplicas": count}
    if since is not None:
        status["conditions"] = [
            {
                "type": "Available",
                "status": "False",
                "lastTransitionTime": since,
                "message": "crash",
            }
        ]
    return {**body, "status": status}


@pytest.mark.parametrize(
    ("body", "state", "detail"),
    [
        (_available(built(), 1), DeploymentState.RUNNING, "deployed by c: r (1/1 available)"),
        (_available(built(), 0), DeploymentState.RUNNING, "deployed by c: r (0/1 available)"),
        (
            _available(built(), 0, since=(T0 - 3 * HOUR).isoformat()),
            DeploymentState.RUNNING,  # unavailable long before, but deployed 1 h ago: 60 min
            "deployed by c: r (0/1 available)",
        ),
        (
            _available(built(), 0, since=(T0 + 0.8 * HOUR).isoformat()),
            DeploymentState.RUNNING,
            "deployed by c: r (0/1 available)",
        ),
        (
            _available(halted(built(), "bob", "drawdown", T0.isoformat()), 1),
            DeploymentState.HALTED,
            "halted (flatten) by bob: drawdown",
        ),
        (
            _available(halted(built(), "bob", "drawdown", T0.isoformat(), "stopped: silent"), 0),
            DeploymentState.HALTED,
            "halted (flatten) by bob: drawdown; stopped: silent",
        ),
        (
            {**built(), "metadata": {**built()["metadata"], "deletionTimestamp": "2025-01-01"}},
            DeploymentState.HALTED,
            "being removed: its pods are stopping",
        ),
        (
            _edit(built(), lambda d: d["spec"].update(replicas=2)),
            DeploymentState.FAILED,
            "drift: replicas 2 != 1",
        ),
    ],
)
def test_observe(body: dict[str, Any], state: DeploymentState, detail: str) -> None:
    status = observe(body, config_map(), now=LATER, unavailable_after=timedelta(minutes=90))
    assert status is not None
    assert (status.state, status.detail) == (state, detail)
    assert status.spec == make_spec()


def test_observe_unavailable_for_long() -> None:
    body = _available(built(), 0, since=T0.isoformat())
    status = observe(body, config_map(), now=LATER, unavailable_after=timedelta(minutes=10))
    assert status is not None
    assert status.state is DeploymentState.FAILED
    assert status.detail == f"unavailable for 60m since {T0.isoformat()}: crash"


def test_observe_cannot_describe_an_object_without_its_spec() -> None:
    body = _edit(built(), lambda d: d["metadata"]["annotations"].pop("stratops.io/spec"))
    assert observe(body, config_map(), now=LATER, unavailable_after=HOUR) is None


def test_merged_takes_what_stratops_owns_and_keeps_the_rest() -> None:
    current = _edit(
        built(7),
        lambda d: (
            d["metadata"].update(resourceVersion="41", uid="u-1"),
            d["metadata"]["labels"].update({"cost-center": "desk"}),
            d["metadata"]["annotations"].update({"deployment.kubernetes.io/revision": "3"}),
            d.update(status={"replicas": 1}),
        ),
    )
    body = merged(halted(current, stopped="stopped"), built(8))
    assert body["metadata"]["resourceVersion"] == "41"  # conditional write
    assert body["metadata"]["labels"]["cost-center"] == "desk"
    assert body["metadata"]["labels"]["stratops.io/version"] == "8"
    assert body["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert HALTED_BY not in body["metadata"]["annotations"]  # stratops annotations replaced
    assert body["spec"]["replicas"] == 1
    assert "status" not in body


def test_halt_update_then_stop_update() -> None:
    first = command("alice", "r1", HaltBehaviour.REDUCE_ONLY)
    body = halt_update(built(), first, at="t1")
    assert body is not None
    assert body["spec"]["replicas"] == 1  # the pod applies the halt and keeps running
    assert halt_command(body) == first  # what a later call sends again
    assert halt_update(body, command("bob", "r2"), at="t2") is None  # the first reason stays
    stopped = stop_update(body, "stopped: no acknowledgement within 120s")
    assert stopped is not None
    assert stopped["spec"]["replicas"] == 0
    assert stop_update(stopped, "again") is None
    scaled = _edit(stopped, lambda d: d["spec"].update(replicas=2))
    again = stop_update(scaled, "again")
    assert again is not None
    assert again["spec"]["replicas"] == 0
    notes = again["metadata"]["annotations"]
    assert (notes[HALTED_BY], notes[HALT_STOPPED]) == (
        "alice",
        "stopped: no acknowledgement within 120s",
    )


def test_the_status_carries_what_the_pod_reports() -> None:
    body = _available(halted(built(), "bob", "drawdown", T0.isoformat()), 1)
    reported = ProcessStatus(
        status="running",
        halt=Acknowledged(mode=HaltBehaviour.FLATTEN, command="h-bob"),
        positions={"BTC/USDT": 0.0},
        bars_done=120,
    )
    status = observe(body, config_map(), now=LATER, unavailable_after=HOUR, reported=reported)
    assert status is not None
    assert (status.halted, status.positions, status.bars_done) == (
        HaltBehaviour.FLATTEN,
        {"BTC/USDT": 0.0},
        120,
    )


def test_restart_needed() -> None:
    desired = built()
    running = _available(desired, 1)
    after = timedelta(minutes=10)
    assert not restart_needed(
        None, desired, config_rewritten=True, now=LATER, unavailable_after=after
    )
    assert restart_needed(
        running, desired, config_rewritten=True, now=LATER, unavailable_after=after
    )
    assert not restart_needed(
        running, desired, config_rewritten=False, now=LATER, unavailable_after=after
    )
    changed = _edit(
        running,
        lambda d: d["spec"]["template"]["metadata"]["annotations"].update({CONFIG_DIGEST: "old"}),
    )
    assert not restart_needed(  # the template changes anyway: a rollout without a restart
        changed, desired, config_rewritten=True, now=LATER, unavailable_after=after
    )
    failing = _available(desired, 0, since=T0.isoformat())
    assert restart_needed(
        failing, desired, config_rewritten=False, now=LATER, unavailable_after=after
    )
