"""KubernetesRuntime against the fake API server (which enforces the controller's Role)."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_apiserver import FakeApiServer
from k8s_helpers import NAMESPACE, TOKEN, FakeClock, configuration, make_spec, runtime_config

from stratops.controller.plan import ActionKind, plan
from stratops.model.base import Stage
from stratops.model.deployment import DeploymentSpec, DeploymentState, DeploymentStatus
from stratops.retry import RetryPolicy
from stratops.runtime.base import RuntimeRejected, RuntimeUnavailable
from stratops.runtime.k8s_objects import (
    HALT_REASON,
    HALTED_AT,
    HALTED_BY,
    RESTARTED_AT,
    SPEC_ANNOTATION,
)
from stratops.runtime.kubernetes import KubernetesRuntime
from stratops.unavailable import Unavailable

NAME = "btc-trend-canary"
ACTOR = {"actor": "controller", "reason": "declared in Git"}


def deployment(server: FakeApiServer, name: str = NAME) -> dict[str, Any]:
    found = server.get("deployments", NAMESPACE, name)
    assert found is not None, f"no deployment {name}"
    return found


def writes(server: FakeApiServer) -> list[tuple[str, str, int]]:
    return [(c.verb, c.resource, c.status) for c in server.calls if c.verb in ("create", "update")]


def planned(spec: DeploymentSpec, observed: list[DeploymentStatus]) -> list[ActionKind]:
    """The runtime actions the controller's planner derives from what the runtime lists."""
    actions = plan(
        {spec.key: spec},
        {s.key: s for s in observed},
        {spec.strategy: {spec.stage: spec.version}},
        "c",
    ).actions
    return [action.kind for action in actions]


def test_deploy_list_halt_remove_round_trip(
    runtime: KubernetesRuntime, apiserver: FakeApiServer
) -> None:
    spec = make_spec()
    status = runtime.deploy(spec, **ACTOR)
    assert status.state is DeploymentState.RUNNING
    assert status.spec == spec
    assert runtime.list() == [status]  # rebuilt from the spec annotation alone

    body = deployment(apiserver)
    assert body["metadata"]["labels"]["stratops.io/version"] == "7"
    assert body["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "stratops"
    container = body["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["stratops"]
    assert container["args"][:6] == [
        "paper",
        "run",
        "--model-uri",
        spec.model_uri,
        "--allocation",
        "50000.0",
    ]
    assert container["envFrom"] == [{"configMapRef": {"name": NAME}}]
    config_map = apiserver.get("configmaps", NAMESPACE, NAME)
    assert config_map is not None
    assert config_map["data"]["STRATOPS_HALT"] == "flatten"
    assert config_map["data"]["STRATOPS_SYMBOLS"] == "BTC/USDT"

    halted = runtime.halt("btc-trend", Stage.CANARY, actor="alice", reason="slippage 3x budget")
    assert halted.state is DeploymentState.HALTED
    assert halted.detail == (
        "halted (flatten) by alice: slippage 3x budget; "
        "stopped: no telemetryBucket to read the pod's acknowledgement from"
    )
    body = deployment(apiserver)
    assert body["spec"]["replicas"] == 0  # the command was sent, but nobody can see it applied
    control = apiserver.get("configmaps", NAMESPACE, f"{NAME}-control")
    assert control is not None
    assert json.loads(control["data"]["control.json"])["mode"] == "flatten"
    notes = body["metadata"]["annotations"]
    assert (notes[HALTED_BY], notes[HALT_REASON]) == ("alice", "slippage 3x budget")
    assert runtime.list() == [halted]

    runtime.remove("btc-trend", Stage.CANARY, actor="controller", reason="rolled back")
    assert apiserver.names("deployments", NAMESPACE) == []
    assert apiserver.names("configmaps", NAMESPACE) == []
    assert runtime.list() == []
    runtime.remove("btc-trend", Stage.CANARY, actor="controller", reason="again")  # no error


def test_deploy_is_idempotent(runtime: KubernetesRuntime, apiserver: FakeApiServer) -> None:
    first = runtime.deploy(make_spec(), **ACTOR)
    version = deployment(apiserver)["metadata"]["resourceVersion"]
    before = len(writes(apiserver))
    second = runtime.deploy(make_spec(), **ACTOR)
    assert second == first
    assert len(writes(apiserver)) == before
    assert deployment(apiserver)["metadata"]["resourceVersion"] == version


def test_new_version_updates_in_place_and_keeps_what_others_own(
    runtime: KubernetesRuntime, apiserver: FakeApiServer
) -> None:
    runtime.deploy(make_spec(7), **ACTOR)
    uid = deployment(apiserver)["metadata"]["uid"]
    apiserver.edit(
        "deployments",
        NAMESPACE,
        NAME,
        lambda d: d["metadata"]["annotations"].update({"team.example.com/oncall": "desk-2"}),
    )
    status = runtime.deploy(make_spec(8), **ACTOR)
    body = deployment(apiserver)
    assert status.spec.version == 8
    assert body["metadata"]["uid"] == uid
    assert body["metadata"]["annotations"]["team.example.com/oncall"] == "desk-2"
    assert body["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert body["spec"]["template"]["metadata"]["labels"]["stratops.io/version"] == "8"
    config_map = apiserver.get("configmaps", NAMESPACE, NAME)
    assert config_map is not None
    assert config_map["data"]["STRATOPS_MODEL_URI"] == "models:/btc-trend/8"


def test_conflict_is_reread_and_replanned_not_overwritten(
    runtime: KubernetesRuntime, apiserver: FakeApiServer
) -> None:
    runtime.deploy(make_spec(7), **ACTOR)

    def concurrent_writer() -> None:  # someone writes between the runtime's read and write
        apiserver.edit(
            "deployments",
            NAMESPACE,
            NAME,
            lambda d: d["metadata"]["labels"].update({"cost-center": "desk"}),
        )

    apiserver.before("update", "deployments", concurrent_writer)
    status = runtime.deploy(make_spec(8), **ACTOR)
    assert status.spec.version == 8
    updates = [
        c.status for c in apiserver.calls if (c.verb, c.resource) == ("update", "deployments")
    ]
    assert updates == [409, 200]
    body = deployment(apiserver)
    assert body["metadata"]["labels"]["cost-center"] == "desk"  # the other write survived
    assert body["metadata"]["labels"]["stratops.io/version"] == "8"


def test_conflicts_without_end_are_retryable(
    runtime: KubernetesRuntime, apiserver: FakeApiServer
) -> None:
    runtime.deploy(make_spec(7), **ACTOR)

    def busy_writer() -> None:
        apiserver.edit(
            "deployments", NAMESPACE, NAME, lambda d: d["metadata"]["labels"].update(x="y")
        )

    apiserver.before("update", "deployments", busy_writer, times=10)
    with pytest.raises(RuntimeUnavailable, match="changed under stratops 3 times") as caught:
        runtime.deploy(make_spec(8), **ACTOR)
    assert isinstance(caught.value, Unavailable)


def test_two_replicas_racing_to_create_converge_on_one_deployment(
    apiserver: FakeApiServer, clock: FakeClock
) -> None:
    replicas = [
        KubernetesRuntime.from_configuration(
            configuration(apiserver.url), runtime_config(), clock=clock
        )
        for _ in range(2)
    ]
    # both creates wait for each other: each replica read "absent" before either wrote
    apiserver.barrier("create", "deployments", parties=2)
    results: list[DeploymentStatus] = []
    threads = [
        threading.Thread(target=lambda r=r: results.append(r.deploy(make_spec(), **ACTOR)))
        for r in replicas
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    creates = sorted(
        c.status for c in apiserver.calls if (c.verb, c.resource) == ("create", "deployments")
    )
    assert creates == [201, 409]
    assert [r.state for r in results] == [DeploymentState.RUNNING] * 2
    assert apiserver.names("deployments", NAMESPACE) == [NAME]


def test_scaled_by_hand_is_drift_then_restarted(
    runtime: KubernetesRuntime, apiserver: FakeApiServer
) -> None:
    spec = make_spec()
    runtime.deploy(spec, **ACTOR)
    apiserver.edit("deployments", NAMESPACE, NAME, lambda d: d["spec"].update(replicas=3))
    [status] = runtime.list()
    assert status.state is DeploymentState.FAILED
    assert status.detail == "drift: replicas 3 != 1"
    assert planned(spec, [status]) == [ActionKind.RESTART]

    corrected = runtime.deploy(spec, actor="controller", reason=f"restart: {status.detail}")
    assert corrected.state is DeploymentState.RUNNING
    assert deployment(apiserver)["spec"]["replicas"] == 1
    assert planned(spec, runtime.list()) == []


def test_image_edited_by_hand_is_drift_then_corrected(
    runtime: KubernetesRuntime, apiserver: FakeApiServer
) -> None:
    spec = make_spec()
    runtime.deploy(spec, **ACTOR)

    def swap_image(d: dict[str, Any]) -> None:
        d["spec"]["template"]["spec"]["containers"][0]["image"] = "evil.example.com/miner:latest"

    apiserver.edit("deployments", NAMESPACE, NAME, swap_image)
    [status] = runtime.list()
    assert status.state is DeploymentState.FAILED
    assert status.detail.startswith("drift: pod template edited")
    runtime.deploy(spec, **ACTOR)
    image = deployment(apiserver)["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "registry.example.com/desk/stratops:0.1.0"


def test_spec_annotation_edited_by_hand_is_drift(
    runtime: KubernetesRuntime, apiserver: FakeApiServer
) -> None:
    runtime.deploy(make_spec(), **ACTOR)

    def double_allocation(d: dict[str, Any]) -> None:
        notes = d["metadata"]["annotations"]
        notes[SPEC_ANNOTATION] = notes[SPEC_ANNOTATION].replace("50000.0", "100000.0")

    apiserver.edit("deployments", NAMESPACE, NAME, double_allocation)
    [status] = runtime.list()
    assert status.state is DeploymentState.FAILED
    assert status.detail.startswith("drift: pod template edited")


def test_configmap_edited_by_hand_is_drift_and_the_pod_is_rolled(
    runtime: KubernetesRuntime, apiserver: FakeApiServer, clock: FakeClock
) -> None:
    spec = make_spec()
    runtime.deploy(spec, **ACTOR)
    apiserver.edit("configmaps", NAMESPACE, NAME, lambda c: c["data"].update(STRATOPS_HALT="hold"))
    [status] = runtime.list()
    assert status.state is DeploymentState.FAILED
    assert status.detail.startswith(f"drift: configmap {NAME} edited")

    clock.advance(60)
    runtime.deploy(spec, **ACTOR)
    config_map = apiserver.get("configmaps", NAMESPACE, NAME)
    assert config_map is not None
    assert config_map["data"]["STRATOPS_HALT"] == "flatten"
    template = deployment(apiserver)["spec"]["template"]["metadata"]["annotations"]
    assert template[RESTARTED_AT] == clock().isoformat()  # no pod keeps the edited environment
    assert [s.state for s in runtime.list()] == [DeploymentState.RUNNING]


def test_deleted_by_hand_is_deployed_again(
    runtime: KubernetesRuntime, apiserver: FakeApiServer
) -> None:
    spec = make_spec()
    runtime.deploy(spec, **ACTOR)
    apiserver.delete_by_hand("deployments", NAMESPACE, NAME)
    assert runtime.list() == []
    assert planned(spec, []) == [ActionKind.DEPLOY]
    assert runtime.deploy(spec, **ACTOR).state is DeploymentState.RUNNING
    assert apiserver.names("deployments", NAMESPACE) == [NAME]


def test_a_halted_deployment_scaled_up_by_hand_is_halted_again(
    runtime: KubernetesRuntime, apiserver: FakeApiServer, clock: FakeClock
) -> None:
    spec = make_spec()
    runtime.deploy(spec, **ACTOR)
    halted = runtime.halt("btc-trend", Stage.CANARY, actor="controller", reason="canary failed")
    apiserver.edit("deployments", NAMESPACE, NAME, lambda d: d["spec"].update(replicas=1))
    [status] = runtime.list()
    assert (status.state, status.detail) == (DeploymentState.FAILED, "drift: replicas 1 != 0")
    assert planned(spec, [status]) == [ActionKind.RESTART]

    clock.advance(30)
    restarted = runtime.deploy(spec.model_copy(update={"commit": "1" * 40}), **ACTOR)
    assert restarted == halted  # the halt holds while the version stays: same who, why, when
    assert deployment(apiserver)["spec"]["replicas"] == 0


def test_a_new_version_lifts_a_halt(runtime: KubernetesRuntime, apiserver: FakeApiServer) -> None:
    runtime.deploy(make_spec(7), **ACTOR)
    runtime.halt("btc-trend", Stage.CANARY, actor="controller", reason="canary failed")
    status = runtime.deploy(make_spec(6), actor="controller", reason="rollback PR merged")
    assert (status.state, status.spec.version) == (DeploymentState.RUNNING, 6)
    assert HALTED_AT not in deployment(apiserver)["metadata"]["annotations"]


def test_a_second_halt_keeps_the_first_reason(
    runtime: KubernetesRuntime, apiserver: FakeApiServer
) -> None:
    runtime.deploy(make_spec(), **ACTOR)
    first = runtime.halt("btc-trend", Stage.CANARY, actor="controller", reason="drawdown")
    before = len(writes(apiserver))
    again = runtime.halt("btc-trend", Stage.CANARY, actor="bob", reason="also")
    assert again == first
    assert len(writes(apiserver)) == before


def test_halting_nothing_is_rejected(runtime: KubernetesRuntime) -> None:
    with pytest.raises(RuntimeRejected, match="no deployment btc-trend/live to halt"):
        runtime.halt("btc-trend", Stage.LIVE, actor="controller", reason="x")


def test_no_available_pod_for_long_is_failed_and_the_restart_rolls_it(
    runtime: KubernetesRuntime, apiserver: FakeApiServer, clock: FakeClock
) -> None:
    spec = make_spec()
    runtime.deploy(spec, **ACTOR)
    apiserver.set_unavailable(
        NAMESPACE, NAME, since=clock().isoformat(), message="back-off restarting failed container"
    )
    clock.advance(300)
    [starting] = runtime.list()
    assert starting.state is DeploymentState.RUNNING  # still within unavailable_after
    assert starting.detail.endswith("(0/1 available)")

    clock.advance(360)
    [status] = runtime.list()
    assert status.state is DeploymentState.FAILED
    assert status.detail.startswith("unavailable for 11m")
    assert "back-off restarting failed container" in status.detail
    assert planned(spec, [status]) == [ActionKind.RESTART]
    runtime.deploy(spec, **ACTOR)
    template = deployment(apiserver)["spec"]["template"]["metadata"]["annotations"]
    assert template[RESTARTED_AT] == clock().isoformat()
    [after] = runtime.list()
    assert after.state is DeploymentState.RUNNING  # counted from the restart again


def test_forbidden_names_the_missing_permission(
    runtime: KubernetesRuntime, apiserver: FakeApiServer
) -> None:
    runtime.deploy(make_spec(7), **ACTOR)
    assert apiserver.rbac is not None
    apiserver.rbac.revoke("update", "apps", "deployments")
    with pytest.raises(RuntimeRejected) as caught:
        runtime.deploy(make_spec(8), **ACTOR)
    message = str(caught.value)
    assert message.startswith(
        "forbidden: cannot update deployments.apps in namespace stratops — grant it in the "
        "controller's Role (manifests/deploy/20-role.yaml)"
    )
    assert 'cannot update resource "deployments" in API group "apps"' in message
    assert not isinstance(caught.value, Unavailable)

    apiserver.rbac.revoke("list", "", "configmaps")
    with pytest.raises(RuntimeRejected, match="cannot list configmaps in namespace stratops"):
        runtime.list()


def test_wrong_credentials_are_rejected(apiserver: FakeApiServer) -> None:
    anonymous = KubernetesRuntime.from_configuration(
        configuration(apiserver.url, token=None), runtime_config()
    )
    with pytest.raises(RuntimeRejected, match="unauthorized"):
        anonymous.list()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_api_is_unavailable(sleeps: list[float]) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    runtime = KubernetesRuntime.from_configuration(
        configuration(url), runtime_config(), sleep=sleeps.append
    )
    with pytest.raises(RuntimeUnavailable, match="unavailable after 3 attempt") as caught:
        runtime.deploy(make_spec(), **ACTOR)
    assert isinstance(caught.value, Unavailable)
    assert sleeps == [0.01, 0.02]  # backoff between the attempts
    health = runtime.health()
    assert not health.ok
    assert "no response" in health.detail


def test_transient_server_errors_are_retried(
    runtime: KubernetesRuntime, apiserver: FakeApiServer, sleeps: list[float]
) -> None:
    apiserver.inject("get", "deployments", status=503, times=2)
    assert runtime.deploy(make_spec(), **ACTOR).state is DeploymentState.RUNNING
    assert sleeps == [0.01, 0.02]


def test_throttling_waits_as_long_as_the_api_server_asks(
    runtime: KubernetesRuntime, apiserver: FakeApiServer, sleeps: list[float]
) -> None:
    apiserver.inject("get", "deployments", status=429, retry_after=2)
    assert runtime.deploy(make_spec(), **ACTOR).state is DeploymentState.RUNNING
    assert sleeps == [2.0]
    apiserver.inject("get", "deployments", status=429, retry_after=600, times=9)
    with pytest.raises(RuntimeUnavailable, match=r"after 1 attempt.*429") as caught:
        runtime.deploy(make_spec(), **ACTOR)
    assert caught.value.retry_after == 600.0  # over maxWaitSeconds: not slept
    assert sleeps == [2.0]


def test_dropped_connections_become_unavailable(
    runtime: KubernetesRuntime, apiserver: FakeApiServer
) -> None:
    apiserver.inject("list", "deployments", drop=True, times=100)
    with pytest.raises(RuntimeUnavailable, match=r"list deployments\.apps"):
        runtime.list()


def test_a_hanging_api_times_out_as_unavailable(apiserver: FakeApiServer) -> None:
    config = runtime_config(
        request_timeout_seconds=0.1, retry=RetryPolicy(attempts=2, backoff_seconds=0)
    )
    runtime = KubernetesRuntime.from_configuration(configuration(apiserver.url), config)
    apiserver.inject("get", "deployments", delay=0.4, times=20)
    with pytest.raises(RuntimeUnavailable, match=r"get deployments\.apps btc-trend-canary"):
        runtime.deploy(make_spec(), **ACTOR)


def test_an_expired_list_is_listed_again(apiserver: FakeApiServer, clock: FakeClock) -> None:
    runtime = KubernetesRuntime.from_configuration(
        configuration(apiserver.url), runtime_config(page_size=1), clock=clock
    )
    for strategy in ("btc-trend", "eth-trend", "sol-trend"):
        runtime.deploy(make_spec(strategy=strategy, model_uri=f"models:/{strategy}/7"), **ACTOR)
    # compactions before the first and the second page: the first page's token expires
    apiserver.before("list", "deployments", apiserver.compact, times=2)
    listed = runtime.list()
    assert [s.spec.strategy for s in listed] == ["btc-trend", "eth-trend", "sol-trend"]
    statuses = [
        c.status for c in apiserver.calls if (c.verb, c.resource) == ("list", "deployments")
    ]
    assert statuses == [200, 410, 200, 200, 200]


def test_a_list_that_keeps_expiring_is_unavailable(
    runtime: KubernetesRuntime, apiserver: FakeApiServer
) -> None:
    apiserver.inject("list", "deployments", status=410, times=3)
    with pytest.raises(RuntimeUnavailable, match=r"expired \(410 Gone\) 3 times"):
        runtime.list()


def test_a_missing_namespace(apiserver: FakeApiServer) -> None:
    runtime = KubernetesRuntime.from_configuration(
        configuration(apiserver.url), runtime_config(namespace="elsewhere")
    )
    apiserver.inject("list", "deployments", status=404)
    assert runtime.list() == []  # nothing is managed in a namespace that does not exist
    with pytest.raises(RuntimeRejected, match="does namespace elsewhere exist"):
        runtime.deploy(make_spec(), **ACTOR)


def test_an_object_the_server_refuses_is_rejected(runtime: KubernetesRuntime) -> None:
    huge = make_spec(symbols=tuple(f"COIN{i}/USDT" for i in range(30_000)))  # annotation > 256 KiB
    with pytest.raises(RuntimeRejected, match=r"refused to create deployments\.apps") as caught:
        runtime.deploy(huge, **ACTOR)
    assert "Too long" in str(caught.value)


def test_a_name_that_is_not_a_dns_label_is_rejected(runtime: KubernetesRuntime) -> None:
    with pytest.raises(RuntimeRejected, match="is not a DNS label"):
        runtime.deploy(make_spec(strategy="BTC_Trend"), **ACTOR)


def test_health(runtime: KubernetesRuntime, apiserver: FakeApiServer) -> None:
    runtime.deploy(make_spec(), **ACTOR)
    health = runtime.health()
    assert health.ok
    assert health.detail.startswith("1 deployment(s) in namespace stratops")
    apiserver.edit(
        "deployments",
        NAMESPACE,
        NAME,
        lambda d: d["metadata"]["annotations"].update({SPEC_ANNOTATION: "{not json"}),
    )
    assert runtime.list() == []  # cannot be described: skipped, and health says so
    health = runtime.health()
    assert not health.ok
    assert NAME in health.detail


def test_from_a_kubeconfig(apiserver: FakeApiServer, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": apiserver.url}}],
                "users": [{"name": "controller", "user": {"token": TOKEN}}],
                "contexts": [
                    {"name": "desk", "context": {"cluster": "fake", "user": "controller"}}
                ],
                "current-context": "desk",
            }
        )
    )
    runtime = KubernetesRuntime.from_kubeconfig(runtime_config(), path=str(kubeconfig))
    assert runtime.deploy(make_spec(), **ACTOR).state is DeploymentState.RUNNING
    with pytest.raises(RuntimeRejected, match="cannot load kubeconfig"):
        KubernetesRuntime.from_kubeconfig(runtime_config(), path=str(tmp_path / "missing"))


def test_in_cluster_outside_a_pod_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(RuntimeRejected, match="not running in a Kubernetes pod"):
        KubernetesRuntime.in_cluster(runtime_config())


def test_a_halt_that_died_after_sending_its_command_is_the_same_halt_next_time(
    runtime: KubernetesRuntime, apiserver: FakeApiServer
) -> None:
    runtime.deploy(make_spec(), **ACTOR)
    apiserver.inject("update", "deployments", status=403)  # dies before it annotates
    with pytest.raises(RuntimeRejected, match="forbidden"):
        runtime.halt("btc-trend", Stage.CANARY, actor="controller", reason="drawdown")
    control = apiserver.get("configmaps", NAMESPACE, f"{NAME}-control")
    assert control is not None
    sent = json.loads(control["data"]["control.json"])
    halted = runtime.halt("btc-trend", Stage.CANARY, actor="bob", reason="again")
    assert halted.detail.startswith("halted (flatten) by controller: drawdown")
    notes = deployment(apiserver)["metadata"]["annotations"]
    assert notes["stratops.io/halt-command"] == sent["id"]  # the pod applies it once
