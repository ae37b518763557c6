"""The registry against real MLflow: the embedded SQLite store and an ``mlflow server`` (REST)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import mlflow.pyfunc
import pandas as pd
import pytest
from bundles import assert_nothing_registered
from mlflow.tracking import MlflowClient
from mlflow_backends import Backend, TickingClock, free_port

from stratops.analytics.returns import DailyReturns
from stratops.model.base import Stage, StrategyType
from stratops.registry import (
    BadInput,
    EvidenceMismatch,
    NotFound,
    RegistrationStep,
    Registry,
    RegistryError,
    RegistryLocation,
    RegistryUnavailable,
    StrategyVersion,
    scan_bundle,
)
from stratops.registry.arrays import load_trials
from stratops.registry.registry import TAG_DIGEST, TAG_FAILURE, TAG_MODEL_DIGEST
from stratops.registry.synthetic import write_synthetic_bundle, write_variant
from stratops.unavailable import Unavailable


def _client(registry: Registry) -> MlflowClient:
    return MlflowClient(registry.location.tracking_uri, registry.location.tracking_uri)


def _register(registry: Registry, strategy: str, bundle: Path, model: Path) -> StrategyVersion:
    return registry.register(
        strategy, strategy_type=StrategyType.TREND, evidence=bundle, model_path=model
    ).version


def _trials(bundle: Path) -> list[tuple[str, DailyReturns]]:
    names, ends, matrix = load_trials(scan_bundle(bundle))
    return [(name, DailyReturns(ends, matrix[:, j])) for j, name in enumerate(names)]


def test_register_records_evidence_trials_and_model(
    registry: Registry, strategy: str, bundle_dir: Path, model_dir: Path
) -> None:
    (first, first_daily), (second, second_daily) = _trials(bundle_dir)[:2]
    swept = [
        registry.log_trial_run(
            strategy, name=first, params={"lookback": 30}, metrics={"sharpe": 0.4},
            daily=first_daily,
        ),
        registry.log_trial_run(strategy, name=second, daily=second_daily, failed=True),
    ]  # fmt: skip
    expected = scan_bundle(bundle_dir)

    version = _register(registry, strategy, bundle_dir, model_dir)

    assert version.name == strategy
    assert version.version == 1
    assert version.evidence_digest == expected.digest
    assert version.strategy_type is StrategyType.TREND
    assert version.code_sha == expected.metadata.code_commit
    assert (version.trials_declared, version.trials_in_experiment) == (10, 10)
    assert registry.get_version(strategy, 1) == version
    assert registry.versions(strategy) == [version]
    assert registry.count_trials(strategy) == 10, "the 8 unlogged trials count from now on"
    assert version.trial_runs == (*swept, version.run_id), "8 columns live in the registration"

    client = _client(registry)
    assert version.run_id is not None
    run = client.get_run(version.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["stratops.run_kind"] == "registration"
    assert run.data.tags[TAG_DIGEST] == expected.digest
    stored = {item.path for item in client.list_artifacts(version.run_id, "evidence")}
    assert stored == {
        f"evidence/{name}"
        for name in (
            "data_quality.json",
            "latency.parquet",
            "manifest.json",
            "metadata.json",
            "returns.parquet",
            "trades.parquet",
            "trials.parquet",
        )
    }
    tags = client.get_model_version(strategy, "1").tags
    assert tags["stratops.trials"] == "10"
    assert tags["stratops.trials_in_experiment"] == "10"
    assert tags["stratops.run_id"] == version.run_id
    assert tags["stratops.trial_runs.0"] == ",".join(version.trial_runs)
    new = run.data.tags["stratops.trials_new.0"].split(",")
    assert new == [daily.sha256() for _, daily in _trials(bundle_dir)[2:]]


def test_registering_counts_every_trial_tried_on_the_strategy(
    registry: Registry, strategy: str, bundle_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    first = _register(registry, strategy, bundle_dir, model_dir)
    again = registry.register(
        strategy, strategy_type=StrategyType.TREND, evidence=bundle_dir, model_path=model_dir
    )
    assert (again.created, again.version) == (False, first), "identical evidence: same version"
    assert registry.count_trials(strategy) == 10

    same_search = write_variant(bundle_dir, tmp_path / "variant", 1)
    second = _register(registry, strategy, same_search, model_dir)
    assert (second.version, second.trials_in_experiment) == (2, 10)
    assert second.trial_runs == first.trial_runs, "the same trials, the same runs"

    other_search = write_synthetic_bundle(tmp_path / "other", seed=3)
    with pytest.raises(BadInput, match="holds 10 trials and the bundle adds 10"):
        _register(registry, strategy, other_search, model_dir)
    assert registry.count_trials(strategy) == 10, "a refused bundle logs nothing"


def test_registered_model_maps_market_data_to_a_position(
    embedded_registry: Registry, strategy: str, bundle_dir: Path, model_dir: Path
) -> None:
    _register(embedded_registry, strategy, bundle_dir, model_dir)
    mlflow.set_tracking_uri(embedded_registry.location.tracking_uri)
    try:
        model = mlflow.pyfunc.load_model(f"models:/{strategy}/1")
    finally:
        mlflow.set_tracking_uri(None)
    assert list(model.predict(pd.DataFrame({"close": [1.0, 2.0], "volume": [3.0, 4.0]}))) == [
        0.5,
        0.5,
    ]


def test_deleted_and_failed_backtests_still_count(
    registry: Registry, strategy: str, bundle_dir: Path, model_dir: Path
) -> None:
    runs = [registry.log_trial_run(strategy, params={"i": i}) for i in range(3)]
    _client(registry).delete_run(runs[0])
    registry.log_trial_run(strategy, failed=True)
    assert registry.count_trials(strategy) == 4

    write_synthetic_bundle(bundle_dir, trials=3)
    with pytest.raises(BadInput, match="holds 4 trials and the bundle adds 3"):
        _register(registry, strategy, bundle_dir, model_dir)


def test_trials_in_a_named_experiment(
    registry: Registry, strategy: str, bundle_dir: Path, model_dir: Path
) -> None:
    experiment = f"{strategy}-research"
    for name, daily in _trials(bundle_dir)[:3]:
        registry.log_trial_run(strategy, name=name, daily=daily, experiment=experiment)
    assert registry.count_trials(strategy) == 0
    assert registry.count_trials(strategy, experiment=experiment) == 3
    version = registry.register(
        strategy,
        strategy_type=StrategyType.TREND,
        evidence=bundle_dir,
        model_path=model_dir,
        experiment=experiment,
    ).version
    assert version.trials_in_experiment == 10
    assert registry.count_trials(strategy) == 0


def test_versions_and_model_uris(
    registry: Registry, strategy: str, bundle_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    first = _register(registry, strategy, bundle_dir, model_dir)
    second_bundle = write_variant(bundle_dir, tmp_path / "second", 2)
    second = registry.register(
        strategy,
        strategy_type=StrategyType.TREND,
        evidence=second_bundle,
        model_uri=f"models:/{strategy}/1",
    ).version
    third = registry.register(
        strategy,
        strategy_type=StrategyType.TREND,
        evidence=write_variant(bundle_dir, tmp_path / "third", 3),
        model_uri=f"runs:/{first.run_id}/model",
    ).version
    assert [v.version for v in registry.versions(strategy)] == [1, 2, 3]
    client = _client(registry)
    for version in (first, second, third):
        assert version.run_id is not None
        assert version.source.endswith(f"{version.run_id}/artifacts/model"), "copied into its run"
        listed = {item.path for item in client.list_artifacts(version.run_id, "model")}
        assert "model/MLmodel" in listed
    assert second.evidence_digest != first.evidence_digest
    with pytest.raises(BadInput, match="no MLflow model"):
        registry.register(
            strategy,
            strategy_type=StrategyType.TREND,
            evidence=second_bundle,
            model_uri=f"runs:/{first.run_id}/evidence",
        )


def test_a_strategy_keeps_its_type(
    registry: Registry, strategy: str, bundle_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    _register(registry, strategy, bundle_dir, model_dir)
    carry = write_synthetic_bundle(tmp_path / "carry", strategy_type=StrategyType.CARRY)
    with pytest.raises(BadInput, match="is registered as trend, not carry"):
        registry.register(
            strategy, strategy_type=StrategyType.CARRY, evidence=carry, model_path=model_dir
        )
    assert len(registry.versions(strategy)) == 1


def test_verify_and_download(
    registry: Registry, strategy: str, bundle_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    version = _register(registry, strategy, bundle_dir, model_dir)
    report = registry.verify_evidence(strategy, 1)
    assert report.ok
    assert report.digest == version.evidence_digest
    assert sorted(f.path for f in report.files) == sorted(p.name for p in bundle_dir.iterdir())

    dest = registry.download_evidence(strategy, 1, tmp_path / "downloaded")
    assert scan_bundle(dest).digest == version.evidence_digest
    with pytest.raises(BadInput, match="not an empty folder"):
        registry.download_evidence(strategy, 1, dest)

    summary = registry.evidence_summary(strategy, 1)
    assert summary.digest == version.evidence_digest
    assert summary.facts.returns_rows == 3 * 1440
    assert summary.facts.trial_columns == summary.metadata.trials == 10
    assert summary.facts.returns_start == datetime(2024, 1, 1, 0, 1, tzinfo=UTC)  # first period end


def _change_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("tamper", "named", "code"),
    [
        (
            lambda folder: _change_a_byte(folder / "returns.parquet"),
            "returns.parquet",
            "hash_mismatch",
        ),
        (lambda folder: (folder / "trials.parquet").unlink(), "trials.parquet", "missing_file"),
        (lambda folder: (folder / "extra.csv").write_text("1"), "extra.csv", "unexpected_file"),
        (
            lambda folder: (folder / "manifest.json").write_text("{}"),
            "manifest.json",
            "manifest_invalid",
        ),
    ],
    ids=["changed", "missing", "extra", "manifest"],
)
def test_tampered_evidence_is_named(
    registry: Registry,
    backend: Backend,
    strategy: str,
    bundle_dir: Path,
    model_dir: Path,
    tmp_path: Path,
    tamper: object,
    named: str,
    code: str,
) -> None:
    version = _register(registry, strategy, bundle_dir, model_dir)
    assert version.run_id is not None
    assert callable(tamper)
    tamper(backend.evidence_folder(version.run_id))

    report = registry.verify_evidence(strategy, 1)
    assert not report.ok
    assert (named, f"evidence.{code}") in {(p.file, p.code) for p in report.problems}
    with pytest.raises(EvidenceMismatch, match=named):
        registry.download_evidence(strategy, 1, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def _stored_model(backend: Backend, run_id: str) -> Path:
    found = list(backend.artifacts.rglob(f"{run_id}/artifacts/model"))
    assert len(found) == 1, f"model of run {run_id} not found under {backend.artifacts}"
    return found[0]


@pytest.mark.parametrize(
    ("tamper", "named", "code"),
    [
        (
            lambda folder: (folder / "constant_position.py").write_bytes(
                (folder / "constant_position.py").read_bytes() + b"\nimport os\n"
            ),
            "model/constant_position.py",
            "hash_mismatch",
        ),
        (lambda folder: (folder / "MLmodel").unlink(), "model/MLmodel", "missing_file"),
        (lambda folder: (folder / "extra.py").write_text("1"), "model/extra.py", "unexpected_file"),
    ],
    ids=["changed", "missing", "extra"],
)
def test_a_tampered_model_is_named_and_never_handed_out(
    registry: Registry,
    backend: Backend,
    strategy: str,
    bundle_dir: Path,
    model_dir: Path,
    tmp_path: Path,
    tamper: object,
    named: str,
    code: str,
) -> None:
    version = _register(registry, strategy, bundle_dir, model_dir)
    assert version.run_id is not None and version.model_digest is not None
    assert registry.download_model(strategy, 1, tmp_path / "intact").is_dir()
    assert callable(tamper)
    tamper(_stored_model(backend, version.run_id))

    report = registry.verify_evidence(strategy, 1)
    assert not report.ok
    assert (named, f"model.{code}") in {(p.file, p.code) for p in report.problems}
    with pytest.raises(EvidenceMismatch, match="stored model"):
        registry.download_model(strategy, 1, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
    with pytest.raises(EvidenceMismatch, match="stored model"):
        registry.evidence_summary(strategy, 1)


def test_a_changed_model_digest_tag_is_detected(
    registry: Registry, strategy: str, bundle_dir: Path, model_dir: Path
) -> None:
    _register(registry, strategy, bundle_dir, model_dir)
    _client(registry).set_model_version_tag(strategy, "1", TAG_MODEL_DIGEST, "0" * 64)
    report = registry.verify_evidence(strategy, 1)
    assert {p.code for p in report.problems} == {"model.manifest_mismatch", "model.digest_mismatch"}


def test_model_changed_in_storage_before_verification_leaves_no_version(
    registry: Registry, backend: Backend, strategy: str, bundle_dir: Path, model_dir: Path
) -> None:
    def corrupt_storage(step: RegistrationStep, run_id: str | None) -> None:
        if step is RegistrationStep.VERIFY_UPLOAD:
            assert run_id is not None
            code = _stored_model(backend, run_id) / "constant_position.py"
            code.write_bytes(code.read_bytes() + b"\nimport os\n")

    with pytest.raises(EvidenceMismatch, match=r"model/constant_position\.py"):
        registry.register(
            strategy,
            strategy_type=StrategyType.TREND,
            evidence=bundle_dir,
            model_path=model_dir,
            on_step=corrupt_storage,
        )
    assert_nothing_registered(registry, strategy)
    assert "EvidenceMismatch" in _failed_run(registry, strategy)[TAG_FAILURE]


def test_a_changed_digest_tag_is_detected(
    registry: Registry, strategy: str, bundle_dir: Path, model_dir: Path
) -> None:
    _register(registry, strategy, bundle_dir, model_dir)
    _client(registry).set_model_version_tag(strategy, "1", TAG_DIGEST, "0" * 64)
    report = registry.verify_evidence(strategy, 1)
    assert {p.code for p in report.problems} == {
        "evidence.manifest_mismatch",
        "evidence.digest_mismatch",
    }


def _failed_run(registry: Registry, strategy: str) -> dict[str, str]:
    client = _client(registry)
    experiment = client.get_experiment_by_name(strategy)
    assert experiment is not None
    (run,) = client.search_runs(
        [experiment.experiment_id], "tags.`stratops.run_kind` = 'registration'"
    )
    assert run.info.status == "FAILED"
    return dict(run.data.tags)


def test_failure_while_uploading_leaves_no_version(
    registry: Registry, backend: Backend, strategy: str, bundle_dir: Path, model_dir: Path
) -> None:
    """A bundle file vanishes after validation: the upload fails half-way, for real."""
    runs: list[str] = []

    def lose_a_file(step: RegistrationStep, run_id: str | None) -> None:
        if step is RegistrationStep.UPLOAD_EVIDENCE:
            assert run_id is not None
            runs.append(run_id)
            (bundle_dir / "trials.parquet").unlink()

    with pytest.raises(RegistryUnavailable, match=r"trials\.parquet"):
        registry.register(
            strategy,
            strategy_type=StrategyType.TREND,
            evidence=bundle_dir,
            model_path=model_dir,
            on_step=lose_a_file,
        )
    assert_nothing_registered(registry, strategy)
    assert "trials.parquet" in _failed_run(registry, strategy)[TAG_FAILURE]
    uploaded = {p.name for p in backend.evidence_folder(runs[0]).iterdir()}
    assert "returns.parquet" in uploaded, "the failure happened mid-upload"
    assert "trials.parquet" not in uploaded


def test_evidence_changed_in_storage_before_verification_leaves_no_version(
    registry: Registry, backend: Backend, strategy: str, bundle_dir: Path, model_dir: Path
) -> None:
    def corrupt_storage(step: RegistrationStep, run_id: str | None) -> None:
        if step is RegistrationStep.VERIFY_UPLOAD:
            assert run_id is not None
            _change_a_byte(backend.stored_file(run_id, "trades.parquet"))

    with pytest.raises(EvidenceMismatch, match=r"trades\.parquet"):
        registry.register(
            strategy,
            strategy_type=StrategyType.TREND,
            evidence=bundle_dir,
            model_path=model_dir,
            on_step=corrupt_storage,
        )
    assert_nothing_registered(registry, strategy)
    assert "EvidenceMismatch" in _failed_run(registry, strategy)[TAG_FAILURE]


def test_interrupted_registration_leaves_no_version(
    embedded_registry: Registry, strategy: str, bundle_dir: Path, model_dir: Path
) -> None:
    def interrupt(step: RegistrationStep, run_id: str | None) -> None:
        if step is RegistrationStep.CREATE_VERSION:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        embedded_registry.register(
            strategy,
            strategy_type=StrategyType.TREND,
            evidence=bundle_dir,
            model_path=model_dir,
            on_step=interrupt,
        )
    assert_nothing_registered(embedded_registry, strategy)
    _failed_run(embedded_registry, strategy)
    assert embedded_registry.count_trials(strategy) == 10, "a failed attempt's trials count"
    retried = _register(embedded_registry, strategy, bundle_dir, model_dir)
    assert retried.trials_in_experiment == 10, "and count once"


def test_stage_aliases_and_history(
    registry: Registry, strategy: str, bundle_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    _register(registry, strategy, bundle_dir, model_dir)
    _register(registry, strategy, write_variant(bundle_dir, tmp_path / "v2", 2), model_dir)

    first = registry.set_stage_alias(strategy, Stage.PAPER, 1, actor="ana", reason="new")
    assert first is not None
    assert (first.sequence, first.from_version, first.to_version) == (1, None, 1)
    assert registry.set_stage_alias(strategy, Stage.PAPER, 1, actor="ana", reason="again") is None
    registry.set_stage_alias(strategy, Stage.CANARY, 1, actor="controller", reason="pr #4")
    registry.set_stage_alias(strategy, Stage.PAPER, 2, actor="ana", reason="v2")
    assert registry.stage_aliases(strategy) == {Stage.PAPER: 2, Stage.CANARY: 1}
    assert [v.aliases for v in registry.versions(strategy)] == [("canary",), ("paper",)]
    cleared = registry.clear_stage_alias(strategy, Stage.CANARY, actor="controller", reason="halt")
    assert cleared is not None
    assert registry.clear_stage_alias(strategy, Stage.CANARY, actor="x", reason="y") is None

    history = registry.alias_history(strategy)
    assert [
        (c.sequence, c.stage, c.from_version, c.to_version, c.actor, c.reason) for c in history
    ] == [
        (1, Stage.PAPER, None, 1, "ana", "new"),
        (2, Stage.CANARY, None, 1, "controller", "pr #4"),
        (3, Stage.PAPER, 1, 2, "ana", "v2"),
        (4, Stage.CANARY, 1, None, "controller", "halt"),
    ]
    minutes = [c.at.minute for c in history]  # the clock also ticked for the trial runs
    assert minutes == list(range(minutes[0], minutes[0] + 4)), "times come from the clock"


def test_alias_changes_are_refused_when_wrong(
    registry: Registry, strategy: str, bundle_dir: Path, model_dir: Path
) -> None:
    with pytest.raises(NotFound, match="not registered"):
        registry.set_stage_alias(strategy, Stage.LIVE, 1, actor="a", reason="b")
    _register(registry, strategy, bundle_dir, model_dir)
    with pytest.raises(NotFound, match="has no version 7"):
        registry.set_stage_alias(strategy, Stage.LIVE, 7, actor="a", reason="b")
    with pytest.raises(BadInput, match="actor and a reason"):
        registry.set_stage_alias(strategy, Stage.LIVE, 1, actor="a", reason=" ")
    assert registry.alias_history(strategy) == []


def test_concurrent_alias_writers_both_stay_in_history(
    embedded: Backend, strategy: str, bundle_dir: Path, model_dir: Path
) -> None:
    """Two writers read the same history before either writes: no entry is lost."""
    Registry(embedded.location).register(
        strategy, strategy_type=StrategyType.TREND, evidence=bundle_dir, model_path=model_dir
    )
    barrier = threading.Barrier(2, timeout=30)

    class MeetingClock(TickingClock):
        def now(self) -> datetime:
            barrier.wait()  # both writers have read the history when they ask for the time
            return super().now()

    errors: list[BaseException] = []

    def write(stage: Stage) -> None:
        try:
            Registry(embedded.location, clock=MeetingClock()).set_stage_alias(
                strategy, stage, 1, actor=f"writer-{stage.value}", reason="race"
            )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(s,)) for s in (Stage.PAPER, Stage.CANARY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    history = Registry(embedded.location).alias_history(strategy)
    assert sorted(c.actor for c in history) == ["writer-canary", "writer-paper"]
    assert {c.sequence for c in history} == {1}
    assert history == sorted(history, key=lambda c: (c.sequence, c.at, c.entry))


def test_unknown_strategy_and_version(registry: Registry, strategy: str) -> None:
    with pytest.raises(NotFound) as raised:
        registry.versions(strategy)
    assert raised.value.code == "registry.strategy_not_found"
    with pytest.raises(NotFound):
        registry.verify_evidence(strategy, 1)
    assert registry.count_trials(strategy) == 0


def test_unreachable_server_is_retryable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    registry = Registry(RegistryLocation(tracking_uri=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(RegistryUnavailable) as raised:
        registry.versions("btc-trend")
    assert isinstance(raised.value, Unavailable)
    assert isinstance(raised.value, RegistryError)
    assert not isinstance(raised.value.__cause__, RegistryError)
