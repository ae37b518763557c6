"""``stratops gates evaluate`` against a real embedded registry."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from stratops.cli.main import app
from stratops.model.base import StrategyType
from stratops.registry import Registry
from stratops.registry.location import embedded_location
from stratops.registry.synthetic import save_constant_model, write_synthetic_bundle, write_variant

EXAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "desk"
AS_OF = "2024-01-10T00:00:00+00:00"


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("desk")
    shutil.copytree(EXAMPLE, root / "manifests")
    location = embedded_location(root)
    registry = Registry(location)
    bundle = write_synthetic_bundle(
        root / "bundle", strategy_type=StrategyType.TREND, return_rows=5 * 1440, trials=12
    )
    model = save_constant_model(root / "model", position=0.5)
    for version in range(1, 5):  # versions 1..4 of btc-trend
        evidence = bundle if version == 1 else write_variant(bundle, root / f"v{version}", version)
        registry.register(
            "btc-trend", strategy_type=StrategyType.TREND, evidence=evidence, model_path=model
        )
    return root, location.tracking_uri


def run(desk: tuple[Path, str], *args: str) -> tuple[int, str, str]:
    root, uri = desk
    result = CliRunner().invoke(
        app,
        [
            "gates",
            "evaluate",
            *args,
            "--manifests",
            str(root / "manifests"),
            "--tracking-uri",
            uri,
            "--as-of",
            AS_OF,
        ],
    )
    return result.exit_code, result.stdout, result.stderr


def test_failing_gates_exit_1_with_markdown(desk: tuple[Path, str]) -> None:
    code, out, _ = run(desk, "btc-trend", "4", "--to", "canary")
    assert code == 1
    assert out.startswith("### Gates: btc-trend v4 → canary: ❌ FAIL")
    assert "`min_history`" in out


def test_json_report_is_reproducible(desk: tuple[Path, str]) -> None:
    first = run(desk, "btc-trend", "4", "--to", "canary", "--output", "json")
    second = run(desk, "btc-trend", "4", "--to", "canary", "--output", "json")
    assert first[1] == second[1]
    document = json.loads(first[1])
    assert len(document["digest"]) == 64
    assert document["report"]["inputs"]["policy"] == "desk-policy"
    assert document["report"]["as_of"] == AS_OF


def test_yaml_report_holds_the_json_report(desk: tuple[Path, str]) -> None:
    code, as_json, _ = run(desk, "btc-trend", "4", "--to", "canary", "-o", "json")
    again, as_yaml, _ = run(desk, "btc-trend", "4", "--to", "canary", "-o", "yaml")
    assert code == again == 1  # the verdict's exit code, whatever the format
    assert yaml.safe_load(as_yaml) == json.loads(as_json)


def test_unknown_version_is_bad_input(desk: tuple[Path, str]) -> None:
    code, _, err = run(desk, "btc-trend", "99", "--to", "canary")
    assert code == 2
    assert "the registry has no version 99 of 'btc-trend' (registered: v1, v2, v3, v4)" in err


def test_unknown_strategy_is_bad_input(desk: tuple[Path, str]) -> None:
    code, _, err = run(desk, "eth-trend", "1", "--to", "canary")
    assert code == 2
    assert "unknown strategy 'eth-trend'" in err


def test_bad_policy_names_file_and_field(desk: tuple[Path, str], tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    text = (EXAMPLE / "policy" / "desk-policy.yaml").read_text()
    policy.write_text(text.replace("psr: {min: 0.90}", "psr: {min: high}"))
    code, _, err = run(desk, "btc-trend", "4", "--to", "canary", "--policy", str(policy))
    assert code == 2
    assert f"{policy}:" in err
    assert "spec.rules.trend.canary.psr.min" in err


def test_zone_less_as_of_is_refused(desk: tuple[Path, str]) -> None:
    root, uri = desk
    result = CliRunner().invoke(
        app,
        [
            "gates",
            "evaluate",
            "btc-trend",
            "4",
            "--to",
            "canary",
            "--manifests",
            str(root / "manifests"),
            "--tracking-uri",
            uri,
            "--as-of",
            "2024-01-10T00:00:00",
        ],
    )
    assert result.exit_code == 2
    assert "has no time zone" in result.stderr
