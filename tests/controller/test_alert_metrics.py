"""Every series the example desk's rendered alert rules read is one the controller exports.

The rules are rendered by ``stratops alerts render`` from the example desk; the controller
runs a real paper deployment (reconciled against its paper venue's statement) and serves
``/metrics`` over HTTP, as ``stratops controller run`` does.
"""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest
import yaml
from desks import Desk
from ops_desk import ops_desk, ops_template, paper_run
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from stratops.cli.main import app
from stratops.controller.observability import Probes, serve
from stratops.examples import example_manifests

__all__ = ["ops_desk", "ops_template"]  # fixtures

SERIES_NAME = re.compile(r"(?<![:\w])stratops_[a-z0-9_]+")
AWAITING = {"stratops_canary_phase"}
"""Exported only while a canary is judged (tests/controller/test_canary_judging.py checks it);
this desk runs paper only."""


def _rule_series(out: Path) -> set[str]:
    rules = yaml.safe_load((out / "stratops.rules.yaml").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    return {name for expr in exprs for name in SERIES_NAME.findall(str(expr))}


def _scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        text = answer.read().decode()
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


@pytest.fixture(scope="module")
def rule_series(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    out = tmp_path_factory.mktemp("alerts") / "out"
    rendered = CliRunner().invoke(
        app, ["alerts", "render", "--out", str(out), "--manifests", str(example_manifests())]
    )
    assert rendered.exit_code == 0, rendered.output
    return _rule_series(out)


def test_every_series_an_example_alert_reads_is_exported(
    ops_desk: Desk, rule_series: set[str]
) -> None:
    assert {"stratops_slippage_bps", "stratops_market_regime"} <= rule_series  # parsed
    reconciler = ops_desk.reconciler()
    reconciler.tick()
    paper_run(ops_desk)
    reconciler.tick()
    server, _ = serve(reconciler.metrics, Probes(60), "127.0.0.1", 0)
    try:
        samples = _scrape(f"http://127.0.0.1:{server.server_address[1]}/metrics")
    finally:
        server.shutdown()
        server.server_close()

    assert rule_series - AWAITING <= set(samples), sorted(rule_series - set(samples))
    deployment = {"strategy": "btc-trend", "stage": "paper", "venue": "binance"}
    [(labels, fill_ratio)] = samples["stratops_fill_ratio"]
    assert labels == {**deployment, "symbol": "BTC/USDT"}
    assert 0 < fill_ratio <= 1
    [(_, rejects)] = samples["stratops_reject_rate"]
    assert rejects == 0  # the paper venue rejects nothing
    [(_, drawdown)] = samples["stratops_drawdown"]
    assert drawdown >= 0
    regimes = {
        labels["regime"]: value
        for labels, value in samples["stratops_market_regime"]
        if (labels["venue"], labels["symbol"]) == ("binance", "BTC/USDT")
    }
    assert set(regimes) == {"peak", "normal", "thin"} and sum(regimes.values()) == 1
    [(market, updated)] = samples["stratops_market_data_last_update_timestamp_seconds"]
    assert market == {"venue": "binance", "symbol": "BTC/USDT"} and updated > 0
