"""A version registered with a configuration: stored, digested, verified, and told apart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from bundles import assert_nothing_registered, edit_json
from mlflow_backends import Backend
from typer.testing import CliRunner

from stratops.cli import registry as registry_cli
from stratops.model.base import StrategyType
from stratops.model.canonical import canonical_digest
from stratops.model.execution import ExecutionSettings, VersionConfig
from stratops.registry import BadInput, EvidenceMismatch, Registry, StrategyVersion
from stratops.registry.registry import CONFIG_FILE, CONFIG_PATH

COSTLY = VersionConfig(execution=ExecutionSettings(taker_fee_bps=10.0, impact_coefficient=3.0))


@pytest.fixture
def replayed_bundle(bundle_dir: Path) -> Path:
    """The synthetic bundle, said to be a backtest of a packaged dataset (what a replay needs)."""

    def on_dataset(metadata: dict[str, Any]) -> None:
        metadata["dataset"] = "binance-1m"

    edit_json(bundle_dir / "metadata.json", on_dataset)
    return bundle_dir


def _register(
    registry: Registry, strategy: str, bundle: Path, model: Path, config: VersionConfig | None
) -> tuple[StrategyVersion, bool]:
    done = registry.register(
        strategy, strategy_type=StrategyType.TREND, evidence=bundle, model_path=model, config=config
    )
    return done.version, done.created


def test_the_configuration_is_stored_with_its_digest_and_read_back_verified(
    registry: Registry, strategy: str, replayed_bundle: Path, model_dir: Path
) -> None:
    version, created = _register(registry, strategy, replayed_bundle, model_dir, COSTLY)
    assert created
    stored = {"execution": {"impactCoefficient": 3.0, "takerFeeBps": 10.0}}
    assert version.config_digest == canonical_digest(stored)
    assert registry.version_config(strategy, version.version) == COSTLY

    again, created = _register(registry, strategy, replayed_bundle, model_dir, COSTLY)
    assert (again.version, created) == (version.version, False)
    # the same evidence without the configuration (or with another) is another version
    plain, created = _register(registry, strategy, replayed_bundle, model_dir, None)
    assert created and plain.version != version.version
    assert plain.config_digest is None and registry.version_config(strategy, plain.version) is None
    other = VersionConfig(execution=ExecutionSettings(taker_fee_bps=10.0))
    third, created = _register(registry, strategy, replayed_bundle, model_dir, other)
    assert created and third.config_digest not in (None, version.config_digest)
    # a configuration that sets nothing is no configuration
    empty, created = _register(registry, strategy, replayed_bundle, model_dir, VersionConfig())
    assert (empty.version, created) == (plain.version, False)


def test_a_configuration_changed_in_storage_is_refused(
    embedded_registry: Registry,
    embedded: Backend,
    strategy: str,
    replayed_bundle: Path,
    model_dir: Path,
) -> None:
    version, _ = _register(embedded_registry, strategy, replayed_bundle, model_dir, COSTLY)
    [stored] = list(embedded.artifacts.rglob(f"{version.run_id}/artifacts/{CONFIG_PATH}"))
    cheaper = {"execution": {"impactCoefficient": 0.9, "takerFeeBps": 4.0}}
    (stored / CONFIG_FILE).write_text(json.dumps(cheaper))
    with pytest.raises(EvidenceMismatch, match=r"config\.digest_mismatch"):
        embedded_registry.version_config(strategy, version.version)
    (stored / CONFIG_FILE).unlink()
    with pytest.raises(EvidenceMismatch, match=r"config\.missing"):
        embedded_registry.version_config(strategy, version.version)


def test_a_configuration_needs_a_replayed_dataset(
    embedded_registry: Registry, strategy: str, bundle_dir: Path, model_dir: Path
) -> None:
    with pytest.raises(BadInput, match="names no dataset") as raised:
        _register(embedded_registry, strategy, bundle_dir, model_dir, COSTLY)
    assert raised.value.code == "registry.config_without_dataset"
    assert_nothing_registered(embedded_registry, strategy)


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_show_locals=False)
    registry_cli.register(app)
    return app


def test_register_config_from_the_command_line(
    app: typer.Typer,
    embedded: Backend,
    strategy: str,
    replayed_bundle: Path,
    model_dir: Path,
    tmp_path: Path,
) -> None:
    config = tmp_path / "version.yaml"
    args = [
        "register", strategy, "--type", "trend", "--evidence", str(replayed_bundle),
        "--model", str(model_dir), "--config", str(config),
        "--tracking-uri", embedded.location.tracking_uri,
    ]  # fmt: skip
    config.write_text("execution:\n  takerFeeBps: 10\n  participation: 2\n")
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2, refused.output
    assert f"{config}:3: execution.participation: must be at most 1, got 2" in refused.stderr
    assert_nothing_registered(Registry(embedded.location), strategy)

    config.write_text("execution:\n  takerFeeBps: 10\n  impactCoefficient: 3\n")
    digest = canonical_digest({"execution": {"impactCoefficient": 3.0, "takerFeeBps": 10.0}})
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    assert (
        f"execution takerFeeBps=10.0, impactCoefficient=3.0 (configuration sha256:{digest})"
        in done.stdout
    )
    again = CliRunner().invoke(app, [*args, "--output", "json"])
    assert again.exit_code == 0, again.output
    version = json.loads(again.stdout)
    assert (version["created"], version["config_digest"]) == (False, digest)
