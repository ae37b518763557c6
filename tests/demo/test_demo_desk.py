"""The demo's desk manifests: the example desk with the demo's clock, valid as written."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from stratops.cli.main import app
from stratops.demo.desk import (
    CANARY_MIN_DURATION,
    HEALTHY_TEMPLATE,
    MIN_TIME_IN_CANARY,
    STRICT_TEMPLATE,
    write_demo_manifests,
)
from stratops.gitops.desk import load_desk
from stratops.model.analysis import CanaryMetric
from stratops.model.base import duration_seconds


def test_the_demo_desk_is_valid_with_its_clock_and_both_canary_templates(
    example_manifests: Path, tmp_path: Path
) -> None:
    folder = write_demo_manifests(example_manifests, tmp_path / "manifests")
    result = CliRunner().invoke(app, ["validate", str(folder)])
    assert result.exit_code == 0, result.output

    desk = load_desk([folder])
    assert desk.ok, desk.problems
    assert set(load_desk([example_manifests]).templates) < set(desk.templates)
    healthy, strict = desk.templates[HEALTHY_TEMPLATE], desk.templates[STRICT_TEMPLATE]
    for template in (healthy, strict):
        assert duration_seconds(template.spec.min_duration) == duration_seconds(CANARY_MIN_DURATION)
    [loose] = [r for r in healthy.spec.metrics if r.metric is CanaryMetric.SLIPPAGE_BPS]
    [tight] = [r for r in strict.spec.metrics if r.metric is CanaryMetric.SLIPPAGE_BPS]
    assert tight.thresholds.thin < loose.thresholds.peak  # strict: below what healthy allows
    assert strict.spec.failure_limit < healthy.spec.failure_limit

    assert desk.policy is not None
    live = desk.policy.spec.rules["trend"].live
    assert live is not None
    text = (folder / "policy" / "desk-policy.yaml").read_text(encoding="utf-8")
    assert f"minDuration: {MIN_TIME_IN_CANARY}" in text and text.startswith("# demo:")
    assert {"btc-trend", "btc-overfit", "btc-trend-strict"} <= set(desk.strategies)
