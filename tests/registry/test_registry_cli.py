"""The registry commands as a user runs them: exit codes, stdout for output, stderr for errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import typer
import yaml
from mlflow_backends import Backend, free_port
from typer.testing import CliRunner, Result

from stratops.cli import registry as registry_cli
from stratops.model.base import Stage, StrategyType
from stratops.registry import Registry


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_show_locals=False)
    registry_cli.register(app)
    return app


def _run(app: typer.Typer, *args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(arg) for arg in args])


def _no_traceback(result: Result) -> None:
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output


def test_register_then_inspect(
    app: typer.Typer, backend: Backend, strategy: str, bundle_dir: Path, model_dir: Path
) -> None:
    uri = ("--tracking-uri", backend.location.tracking_uri)
    registered = _run(
        app, "register", strategy, "--type", "trend", "--evidence", bundle_dir,
        "--model", model_dir, *uri, "--output", "json",
    )  # fmt: skip
    assert registered.exit_code == 0, registered.output
    version = json.loads(registered.stdout)
    assert (version["version"], version["created"]) == (1, True)
    assert version["trials_declared"] == 10
    assert version["trials_in_experiment"] == 10
    assert version["trial_runs"] == [version["run_id"]], "no sweep logged them: the bundle has"

    again = _run(
        app, "register", strategy, "--type", "trend", "--evidence", bundle_dir,
        "--model", model_dir, *uri,
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    assert f"already registered as v1 (sha256:{version['evidence_digest']})" in again.stdout
    listed_once = json.loads(_run(app, "versions", strategy, *uri, "-o", "json").stdout)
    assert [v["version"] for v in listed_once] == [1]

    Registry(backend.location).set_stage_alias(
        strategy, Stage.PAPER, 1, actor="ana", reason="first paper run"
    )
    listed = _run(app, "versions", strategy, *uri, "-o", "json")
    assert listed.exit_code == 0
    assert json.loads(listed.stdout)[0]["aliases"] == ["paper"]
    assert yaml.safe_load(_run(app, "versions", strategy, *uri, "-o", "yaml").stdout) == (
        json.loads(listed.stdout)
    )
    assert version["evidence_digest"][:12] in _run(app, "versions", strategy, *uri).stdout

    verified = _run(app, "evidence", "verify", strategy, "1", *uri)
    assert verified.exit_code == 0
    assert f"6 files match sha256:{version['evidence_digest']}" in verified.stdout

    shown = _run(app, "evidence", "show", strategy, "1", *uri, "-o", "json")
    assert shown.exit_code == 0
    summary = json.loads(shown.stdout)
    assert summary["facts"]["returns_rows"] == 4320
    assert summary["digest"] == version["evidence_digest"]
    shown_yaml = _run(app, "evidence", "show", strategy, "1", *uri, "-o", "yaml")
    assert yaml.safe_load(shown_yaml.stdout) == summary
    table = _run(app, "evidence", "show", strategy, "1", *uri)
    assert "returns.parquet" in table.stdout
    assert "4,320 rows over 3 days" in table.stdout

    history = _run(app, "aliases", "history", strategy, *uri, "-o", "json")
    assert [(c["stage"], c["to_version"], c["actor"]) for c in json.loads(history.stdout)] == [
        ("paper", 1, "ana")
    ]
    as_yaml = _run(app, "aliases", "history", strategy, *uri, "-o", "yaml")
    assert yaml.safe_load(as_yaml.stdout) == json.loads(history.stdout)
    table = _run(app, "aliases", "history", strategy, *uri).stdout
    assert all(word in table for word in ("first", "paper", "run"))  # prose folds between words


def test_verify_names_a_tampered_file(
    app: typer.Typer, embedded: Backend, strategy: str, bundle_dir: Path, model_dir: Path
) -> None:
    uri = ("--tracking-uri", embedded.location.tracking_uri)
    version = (
        Registry(embedded.location)
        .register(
            strategy, strategy_type=StrategyType.TREND, evidence=bundle_dir, model_path=model_dir
        )
        .version
    )
    assert version.run_id is not None
    stored = embedded.stored_file(version.run_id, "latency.parquet")
    stored.write_bytes(stored.read_bytes() + b"\0")

    result = _run(app, "evidence", "verify", strategy, "1", *uri)
    assert result.exit_code == 1
    _no_traceback(result)
    assert "latency.parquet" in result.stderr
    assert "evidence.hash_mismatch" in result.stderr
    as_json = _run(app, "evidence", "verify", strategy, "1", *uri, "-o", "json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["problems"][0]["file"] == "latency.parquet"
    shown = _run(app, "evidence", "show", strategy, "1", *uri)
    assert shown.exit_code == 1
    assert "latency.parquet" in shown.stderr


def test_bad_bundle_exits_2_with_the_problem(
    app: typer.Typer, embedded: Backend, strategy: str, bundle_dir: Path, model_dir: Path
) -> None:
    (bundle_dir / "manifest.json").write_text("{}")
    args = ("register", strategy, "--type", "trend", "--evidence", bundle_dir, "--model", model_dir)
    result = _run(app, *args, "--tracking-uri", embedded.location.tracking_uri)
    assert result.exit_code == 2
    _no_traceback(result)
    assert "manifest.json" in result.stderr
    assert "never trusted" in result.stderr
    assert "nothing was registered" in result.stderr
    assert result.stdout == ""

    as_json = _run(app, *args, "--tracking-uri", embedded.location.tracking_uri, "-o", "json")
    assert as_json.exit_code == 2
    report = json.loads(as_json.stdout)
    assert report["ok"] is False
    assert report["problems"][0]["code"] == "bundle.unexpected_file"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--type", "momentum"), "'momentum' is not one of"),
        (("--type", "trend"), "exactly one of --model"),
    ],
    ids=["unknown type", "no model"],
)
def test_usage_errors_exit_2(
    app: typer.Typer, embedded: Backend, bundle_dir: Path, args: tuple[str, ...], message: str
) -> None:
    result = _run(
        app, "register", "btc-trend", *args, "--evidence", bundle_dir,
        "--tracking-uri", embedded.location.tracking_uri,
    )  # fmt: skip
    assert result.exit_code == 2
    _no_traceback(result)
    assert message in " ".join(result.stderr.split())


def test_unknown_strategy_exits_2(app: typer.Typer, embedded: Backend) -> None:
    result = _run(app, "versions", "no-such", "--tracking-uri", embedded.location.tracking_uri)
    assert result.exit_code == 2
    assert "strategy 'no-such' is not registered" in result.stderr


def test_embedded_default_lives_in_the_desk_repository(
    app: typer.Typer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    strategy: str,
    bundle_dir: Path,
    model_dir: Path,
) -> None:
    desk = tmp_path / "desk"
    (desk / "manifests").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(desk)], check=True)
    monkeypatch.chdir(desk / "manifests")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    args = ("register", strategy, "--type", "trend", "--evidence", bundle_dir, "--model", model_dir)
    result = _run(app, *args)
    assert result.exit_code == 0, result.output
    assert (desk / ".stratops" / "mlflow.db").is_file()
    stored = list((desk / ".stratops" / "artifacts").rglob("evidence/returns.parquet"))
    assert len(stored) == 1
    assert not (desk / "manifests" / "mlruns").exists()


def test_unreachable_registry_names_where_it_looked(
    app: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)  # the bounded default
    url = f"http://127.0.0.1:{free_port()}"
    result = _run(app, "versions", "btc-trend", "--tracking-uri", url)
    assert result.exit_code == 3  # retry, like the forge
    _no_traceback(result)
    assert f"(registry {url}, from --tracking-uri)" in " ".join(result.stderr.split())


@pytest.mark.parametrize(
    "command",
    [
        ("versions", "btc-trend"),
        ("evidence", "verify", "btc-trend", "1"),
        ("evidence", "show", "btc-trend", "1"),
        ("aliases", "history", "btc-trend"),
        ("gates", "evaluate", "btc-trend", "1", "--to", "paper"),
        ("pr", "list"),
        ("controller", "plan"),
        ("audit", "log"),
        ("audit", "verify"),
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_outside_a_desk_every_desk_command_says_so_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    from stratops.cli.main import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("STRATOPS_DESK", raising=False)
    result = _run(app, *command)
    assert result.exit_code == 2, result.output
    assert "not a desk: run inside one or pass --desk" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_register_outside_a_desk_registers_nothing(
    app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bundle_dir: Path,
    model_dir: Path, strategy: str,
) -> None:  # fmt: skip
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("STRATOPS_DESK", raising=False)
    args = ("register", strategy, "--type", "trend", "--evidence", bundle_dir, "--model", model_dir)
    result = _run(app, *args)
    assert result.exit_code == 2, result.output
    assert "not a desk" in result.stderr
    assert list(work.iterdir()) == []


@pytest.mark.parametrize("how", ["--desk", "STRATOPS_DESK"])
def test_desk_given_by_option_or_environment(
    app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str, strategy: str,
    bundle_dir: Path, model_dir: Path,
) -> None:  # fmt: skip
    desk = tmp_path / "desk"
    (desk / "manifests").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(desk)], check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    extra: tuple[str, ...] = ("--desk", str(desk)) if how == "--desk" else ()
    if how == "STRATOPS_DESK":
        monkeypatch.setenv("STRATOPS_DESK", str(desk))
    args = ("register", strategy, "--type", "trend", "--evidence", bundle_dir, "--model", model_dir)
    assert _run(app, *args, *extra).exit_code == 0
    listed = _run(app, "versions", strategy, "-o", "json", *extra)
    assert listed.exit_code == 0, listed.output
    assert (desk / ".stratops" / "mlflow.db").is_file()
    assert list(elsewhere.iterdir()) == []
