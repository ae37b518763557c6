"""Faults around the controller: each stops only what depends on it, never the loop."""

from __future__ import annotations

import urllib.request

import pytest
from desks import Desk

from stratops.controller.assembly import build_reconciler
from stratops.controller.observability import Metrics, Probes, serve
from stratops.gitops.forge.select import ForgeKind
from stratops.model.base import Stage


def test_unreachable_remote_reconciles_the_last_fetched_main(desk: Desk) -> None:
    reconciler = desk.reconciler()
    url = desk.repo.remote_url()
    desk.git("remote", "set-url", "origin", str(desk.root / "unreachable.git"))
    try:
        result = reconciler.tick()
    finally:
        desk.git("remote", "set-url", "origin", url)
    assert any("remote unreachable" in p for p in result.problems)
    assert [a.kind.value for a in result.applied] == ["deploy", "set_alias"]


def test_registry_down_defers_promotions_and_aliases(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk.reconciler().tick()
    desk.promote_and_merge(1, Stage.CANARY, 50_000)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    down = build_reconciler(
        desk.root, tracking_uri="http://127.0.0.1:9", forge=ForgeKind.LOCAL, env={}
    )
    result = down.tick()
    stage, version, verdict = result.refused["btc-trend"]
    assert (stage, version, verdict.code, verdict.retryable) == (
        Stage.CANARY,
        1,
        "unavailable",
        True,
    )
    assert any("registry unavailable" in p for p in result.problems)
    assert result.plan is not None and result.plan.empty  # paper keeps running untouched
    recovered = desk.reconciler().tick()
    assert not recovered.refused
    assert ("btc-trend", Stage.CANARY) in {s.key for s in desk.runtime().list()}


def test_forge_down_defers_promotions(desk: Desk) -> None:
    desk.reconciler().tick()
    desk.promote_and_merge(1, Stage.CANARY, 50_000)
    records = desk.forge.root
    aside = records.with_name("forge-aside")
    records.rename(aside)
    records.write_text("the forge's storage is gone")  # unreadable as a forge: down
    try:
        result = desk.reconciler().tick()
    finally:
        records.unlink()
        aside.rename(records)
    assert result.refused["btc-trend"][2].code == "unavailable"
    assert desk.reconciler().tick().refused == {}


def test_probes_metrics_and_webhook() -> None:
    metrics, probes = Metrics(), Probes(stale_after_seconds=60)
    poked: list[bool] = []
    server, _ = serve(metrics, probes, "127.0.0.1", 0, lambda: poked.append(True))
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with urllib.request.urlopen(f"{base}/healthz") as response:
            assert response.status == 200
        with pytest.raises(urllib.error.HTTPError) as not_ready:
            urllib.request.urlopen(f"{base}/readyz")
        assert not_ready.value.code == 503
        probes.ticked()
        with urllib.request.urlopen(f"{base}/readyz") as response:
            assert response.status == 200
        metrics.reconcile_seconds.observe(0.2)
        with urllib.request.urlopen(f"{base}/metrics") as response:
            text = response.read().decode()
        assert "stratops_reconcile_duration_seconds_count 1.0" in text
        request = urllib.request.Request(f"{base}/webhook", data=b"{}", method="POST")
        with urllib.request.urlopen(request) as response:
            assert response.status == 202
        assert poked == [True]
    finally:
        server.shutdown()
