"""The demo's desk manifests and the costly version's configuration, valid as written."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from stratops.cli.main import app
from stratops.demo.desk import (
    CANARY_MIN_DURATION,
    CANARY_TEMPLATE,
    COSTLY,
    COSTLY_CONFIG,
    MIN_TIME_IN_CANARY,
    write_demo_manifests,
)
from stratops.gitops.desk import load_desk
from stratops.model.analysis import CanaryMetric
from stratops.model.base import duration_seconds
from stratops.model.execution import VersionConfig, version_config
from stratops.model.yaml_source import parse_yaml
from stratops.paper.config import ExecutionConfig


def test_the_demo_desk_is_valid_with_its_clock_and_its_canary_template(
    example_manifests: Path, tmp_path: Path
) -> None:
    folder = write_demo_manifests(example_manifests, tmp_path / "manifests")
    result = CliRunner().invoke(app, ["validate", str(folder)])
    assert result.exit_code == 0, result.output

    desk = load_desk([folder])
    assert desk.ok, desk.problems
    assert set(load_desk([example_manifests]).templates) < set(desk.templates)
    template = desk.templates[CANARY_TEMPLATE]
    assert duration_seconds(template.spec.min_duration) == duration_seconds(CANARY_MIN_DURATION)
    assert [r.metric for r in template.spec.metrics] == [CanaryMetric.SLIPPAGE_BPS]

    assert desk.policy is not None
    live = desk.policy.spec.rules["trend"].live
    assert live is not None
    text = (folder / "policy" / "desk-policy.yaml").read_text(encoding="utf-8")
    assert f"minDuration: {MIN_TIME_IN_CANARY}" in text and text.startswith("# demo:")
    assert {"btc-trend", "btc-overfit", COSTLY} <= set(desk.strategies)


def test_the_costly_version_pays_more_than_the_engine_defaults_its_evidence_ran_at() -> None:
    found = version_config(parse_yaml(COSTLY_CONFIG, "version.yaml"))
    assert isinstance(found, VersionConfig), found
    defaults = ExecutionConfig()
    costly = defaults.with_settings(found.execution)
    assert costly.taker_fee_bps > defaults.taker_fee_bps
    assert costly.impact_coefficient > defaults.impact_coefficient
    assert costly.participation == defaults.participation  # the rest: the engine's own
