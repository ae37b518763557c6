"""The fake API server refuses what a real one refuses: the stand-in must bite to be trusted."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fake_apiserver import KINDS, ApiStatus, FakeApiServer, label_filter, validate
from k8s_helpers import NAMESPACE, T0, make_spec, runtime_config

from stratops.controller.leader import new_lease
from stratops.runtime.k8s_objects import build_config_map, build_deployment

DEPLOYMENT = KINDS[("apps", "deployments")]
CONFIG_MAP = KINDS[("", "configmaps")]
LEASE = KINDS[("coordination.k8s.io", "leases")]


def deployment() -> dict[str, Any]:
    return build_deployment(make_spec(), runtime_config(), actor="c", reason="r", at=T0)


def edited(body: dict[str, Any], change: Any) -> dict[str, Any]:
    copied = copy.deepcopy(body)
    change(copied)
    return copied


@pytest.mark.parametrize(
    ("selector", "labels", "selected"),
    [
        ("", {}, True),
        ("a=1", {"a": "1"}, True),
        ("a==1", {"a": "2"}, False),
        ("a!=1", {"a": "2"}, True),
        ("a!=1", {}, True),
        ("a", {"a": ""}, True),
        ("!a", {"a": "1"}, False),
        ("a in (1, 2),b", {"a": "2", "b": "x"}, True),
        ("a notin (1,2)", {"a": "3"}, True),
        ("a notin (1,2)", {}, True),
        ("a in (1)", {}, False),
    ],
)
def test_label_selectors(selector: str, labels: dict[str, str], selected: bool) -> None:
    assert label_filter(selector)(labels) is selected


def test_a_bad_selector_is_refused() -> None:
    with pytest.raises(ApiStatus, match="unable to parse"):
        label_filter("a=(1")


@pytest.mark.parametrize(
    ("kind", "body", "code", "says"),
    [
        (
            DEPLOYMENT,
            edited(deployment(), lambda d: d["spec"].update(replicas="one")),
            422,
            "replicas",
        ),
        (
            DEPLOYMENT,
            edited(deployment(), lambda d: d["spec"].update(paused=1, extra=2)),
            422,
            "extra",
        ),
        (
            DEPLOYMENT,
            edited(deployment(), lambda d: d["spec"]["selector"]["matchLabels"].update(x="y")),
            422,
            "`selector` does not match template `labels`",
        ),
        (
            DEPLOYMENT,
            edited(deployment(), lambda d: d["metadata"]["labels"].update(bad="not ok!")),
            422,
            "metadata.labels",
        ),
        (
            DEPLOYMENT,
            edited(deployment(), lambda d: d["metadata"].update(name="Btc_Trend")),
            422,
            "RFC 1123",
        ),
        (DEPLOYMENT, edited(deployment(), lambda d: d.update(kind="ReplicaSet")), 400, "endpoint"),
        (
            CONFIG_MAP,
            edited(
                build_config_map(make_spec(), runtime_config()),
                lambda c: c["data"].update({"bad key": "x"}),
            ),
            422,
            "config key",
        ),
        (
            LEASE,
            edited(  # what the typed client models send for a whole second: refused
                new_lease("l", NAMESPACE, "a", T0, 15),
                lambda lease: lease["spec"].update(renewTime="2025-03-01T12:00:00+00:00"),
            ),
            422,
            "MicroTime",
        ),
        (
            LEASE,
            edited(
                new_lease("l", NAMESPACE, "a", T0, 15),
                lambda lease: lease["spec"].update(leaseDurationSeconds=0),
            ),
            422,
            "leaseDurationSeconds",
        ),
    ],
)
def test_invalid_objects_are_refused(kind: Any, body: dict[str, Any], code: int, says: str) -> None:
    with pytest.raises(ApiStatus) as caught:
        validate(kind, body)
    assert caught.value.code == code
    assert says in caught.value.message


def test_what_stratops_writes_is_accepted() -> None:
    validate(DEPLOYMENT, deployment())
    validate(CONFIG_MAP, build_config_map(make_spec(), runtime_config()))
    validate(LEASE, new_lease("stratops-controller", NAMESPACE, "a", T0, 15))


def test_the_selector_of_a_deployment_is_immutable() -> None:
    with FakeApiServer(namespaces={NAMESPACE}) as server:
        body = deployment()
        status, _ = server._serve("create", DEPLOYMENT, NAMESPACE, None, {}, body)
        assert status == 201
        changed = edited(
            body,
            lambda d: (
                d["spec"]["selector"]["matchLabels"].update(x="y"),
                d["spec"]["template"]["metadata"]["labels"].update(x="y"),
            ),
        )
        with pytest.raises(ApiStatus, match="field is immutable"):
            server._serve("update", DEPLOYMENT, NAMESPACE, body["metadata"]["name"], {}, changed)
