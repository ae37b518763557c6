"""The strategy registry: MLflow stores, stratops adds verified evidence, trials and history.

A strategy is an MLflow registered model, a strategy version a model version. Registration
uploads the evidence, downloads it again and re-hashes it, and only then creates the version,
so no version ever points at incomplete evidence; a run whose registration failed is FAILED.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from mlflow.entities import Metric, Param, Run, ViewType
from mlflow.entities.model_registry import ModelVersion, RegisteredModel
from mlflow.tracking import MlflowClient

from stratops.analytics.returns import DailyReturns
from stratops.canary.run import AnalysisRun
from stratops.model.aliases import AliasDrift, ObservedAliases
from stratops.model.base import DNS_LABEL_PATTERN, Stage, StrategyType
from stratops.model.canary import CanaryAnalysisRecord
from stratops.model.canonical import canonical_digest, canonical_json
from stratops.model.evidence import EVIDENCE_FILES, EvidenceFile, ModelFile
from stratops.model.execution import VersionConfig
from stratops.model.problems import Problem
from stratops.registry.alias_index import read_alias_rows
from stratops.registry.arrays import load_trials
from stratops.registry.bundle import scan_bundle
from stratops.registry.clock import Clock, WallClock
from stratops.registry.errors import BadInput, EvidenceMismatch, NotFound, RegistryError
from stratops.registry.history import (
    alias_drift,
    history_key,
    new_entry_id,
    next_sequence,
    read_history,
)
from stratops.registry.listing import DEFAULT_MAX_FILE_BYTES, NO_SIZE_LIMIT
from stratops.registry.location import RegistryLocation
from stratops.registry.manifest import MANIFEST_FILE
from stratops.registry.model_files import (
    MODEL_MANIFEST_FILE,
    build_model_manifest,
    check_model,
    model_files,
)
from stratops.registry.models import (
    AliasChange,
    Bundle,
    EvidenceReport,
    EvidenceSummary,
    LoggedReport,
    Registration,
    StrategyVersion,
)
from stratops.registry.vendor import translated
from stratops.registry.verify import check_evidence

TAG_RUN_KIND = "stratops.run_kind"
TAG_STRATEGY = "stratops.strategy"
TAG_DIGEST = "stratops.evidence_digest"
TAG_MODEL_DIGEST = "stratops.model_digest"
TAG_TYPE = "stratops.strategy_type"
TAG_CODE_SHA = "stratops.code_sha"
TAG_TRIALS = "stratops.trials"
TAG_TRIALS_IN_EXPERIMENT = "stratops.trials_in_experiment"
TAG_RUN_ID = "stratops.run_id"
TAG_FAILURE = "stratops.failure"
TAG_TRIAL_SHA256 = "stratops.trial_sha256"
TAG_TRIAL = "stratops.trial"
TAG_DATA_FINGERPRINT = "stratops.data_fingerprint"
TAG_TRIALS_NEW = "stratops.trials_new"
TAG_TRIAL_RUNS = "stratops.trial_runs"
TAG_ANALYSIS_RUN = "stratops.canary_analysis.run_id"
TAG_ANALYSIS_DIGEST = "stratops.canary_analysis.digest"
TAG_ANALYSIS_PHASE = "stratops.canary_analysis.phase"
TAG_VERSION = "stratops.version"
TAG_RECON_BREAKS = "stratops.recon.breaks"
TAG_CONFIG_DIGEST = "stratops.config_digest"
RUN_KIND_BACKTEST = "backtest"
RUN_KIND_REGISTRATION = "registration"
RUN_KIND_ANALYSIS = "canary_analysis"
ANALYSIS_PATH = "canary-analysis"
ANALYSIS_FILE = "analysis.json"
BACKTEST_FILTER = f"tags.`{TAG_RUN_KIND}` = '{RUN_KIND_BACKTEST}'"
EVIDENCE_PATH = "evidence"
MODEL_PATH = "model"
MODEL_MANIFEST_PATH = "model-manifest"
TRIAL_PATH = "trial"
CONFIG_PATH = "config"
CONFIG_FILE = "version-config.json"
REPORT_PATH = "reports"
REPORT_JSON = "report.json"  # the report's canonical JSON, stored beside its pages
_REPORT_NAME = re.compile(r"[A-Za-z0-9_.-]+")
TRIAL_RETURNS_FILE = "daily_returns.parquet"
_PAGE = 10_000
_RUN_IDS_PER_TAG = 2_000  # 2,000 ids of 32 characters and commas fit a version tag (100,000)
_DIGESTS_PER_TAG = 120  # 120 sha256 hex digests and commas fit a run tag (8,000)


class RegistrationStep(StrEnum):
    """Steps of :meth:`Registry.register`, in order, reported to ``on_step`` before each runs."""

    SCAN = "scan evidence"
    COUNT_TRIALS = "count trials"
    CREATE_RUN = "create run"
    UPLOAD_EVIDENCE = "upload evidence"
    UPLOAD_MODEL = "upload model"
    VERIFY_UPLOAD = "verify upload"
    CREATE_VERSION = "create version"


ModelSource = Path | tuple[str, str]
"""A local MLflow model folder, or (run id, artifact path) of a model already in MLflow."""

StepHook = Callable[[RegistrationStep, str | None], None]
"""Called with the step about to run and the registration run id (None before the run exists).

The CLI shows progress with it; tests inject faults with it (raise, or change stored files).
"""


def _no_hook(step: RegistrationStep, run_id: str | None) -> None:
    del step, run_id


def _int_tag(tags: Mapping[str, str], key: str) -> int | None:
    try:
        return int(tags[key])
    except (KeyError, ValueError):
        return None


def _strategy_type(tags: Mapping[str, str]) -> StrategyType | None:
    try:
        return StrategyType(tags.get(TAG_TYPE, ""))
    except ValueError:
        return None


def _list_tags(key: str, values: list[str], per_tag: int) -> dict[str, str]:
    """Tags ``<key>.0``, ``<key>.1``, ...: ``values`` comma-separated, ``per_tag`` a tag."""
    return {
        f"{key}.{i // per_tag}": ",".join(values[i : i + per_tag])
        for i in range(0, len(values), per_tag)
    }


def _listed(key: str, tags: Mapping[str, str]) -> list[str]:
    """The values of :func:`_list_tags` tags, in order."""
    chunks = itertools.takewhile(
        lambda chunk: chunk is not None, (tags.get(f"{key}.{i}") for i in itertools.count())
    )
    return [value for chunk in chunks if chunk for value in chunk.split(",")]


def _check_strategy_name(strategy: str) -> None:
    if not re.fullmatch(DNS_LABEL_PATTERN, strategy) or len(strategy) > 63:
        raise BadInput(
            f"strategy name {strategy!r} is not a DNS label: use lowercase letters, digits and "
            "'-', at most 63 characters",
            "registry.bad_name",
        )


def _artifact_folder(root: Path, experiment: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", experiment).strip(".-") or "experiment"
    return (root / safe).as_uri()


# MLflow's own defaults retry an unreachable server for minutes (7 retries, backoff factor 2,
# 120 s timeout): a controller tick must finish within its interval, so unless the operator set
# them, a call gives up after a few seconds and the caller sees RegistryUnavailable.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}


def _stored_form(config: VersionConfig | None) -> dict[str, Any] | None:
    """What the registry stores of a configuration (None when it sets nothing)."""
    if config is None or not config.execution.given():
        return None
    return {"execution": config.execution.given()}


class Registry:
    """Strategy registry on MLflow; every value in and out is a stratops type."""

    def __init__(self, location: RegistryLocation, *, clock: Clock | None = None) -> None:
        for name, value in HTTP_DEFAULTS.items():
            os.environ.setdefault(name, value)
        self.location = location
        self.clock: Clock = clock or WallClock()
        with translated(f"open the registry at {location.tracking_uri}"):
            if location.artifact_root is not None:
                location.artifact_root.mkdir(parents=True, exist_ok=True)
            self._client = MlflowClient(
                tracking_uri=location.tracking_uri, registry_uri=location.tracking_uri
            )

    # experiments and trials

    def _find_experiment(self, name: str) -> str | None:
        """The id of an experiment, None if there is none; a deleted one is refused."""
        with translated(f"find experiment {name!r}"):
            experiment = self._client.get_experiment_by_name(name)
        if experiment is None:
            return None
        if experiment.lifecycle_stage != "active":
            raise BadInput(
                f"experiment {name!r} is deleted: restore it (mlflow experiments restore) so "
                "its trials count",
                "registry.experiment_deleted",
            )
        return str(experiment.experiment_id)

    def _ensure_experiment(self, name: str) -> str:
        """The id of an experiment, created (with the embedded artifact folder) if needed."""
        found = self._find_experiment(name)
        if found is not None:
            return found
        root = self.location.artifact_root
        location = None if root is None else _artifact_folder(root, name)
        try:
            with translated(f"create experiment {name!r}"):
                return str(self._client.create_experiment(name, artifact_location=location))
        except BadInput:
            created_meanwhile = self._find_experiment(name)  # by a concurrent writer
            if created_meanwhile is None:
                raise
            return created_meanwhile

    def _runs(self, experiment_id: str, kind: str) -> list[Run]:
        """Every run of ``kind`` in the experiment, deleted and failed ones included."""
        runs: list[Run] = []
        token = None
        while True:
            page = self._client.search_runs(
                [experiment_id],
                f"tags.`{TAG_RUN_KIND}` = '{kind}'",
                run_view_type=ViewType.ALL,
                max_results=_PAGE,
                page_token=token,
            )
            runs += page
            token = page.token
            if not token:
                return runs

    def _trial_ledger(self, experiment_id: str | None) -> tuple[int, dict[str, str]]:
        """The trials of an experiment: how many, and the run holding each by its digest.

        Every backtest run is a trial; so is every trial a registration run lists as new
        (tags ``stratops.trials_new.<i>``, failed registrations included).
        """
        if experiment_id is None:
            return 0, {}
        backtests = self._runs(experiment_id, RUN_KIND_BACKTEST)
        by_digest: dict[str, str] = {}
        for run in backtests:
            digest = run.data.tags.get(TAG_TRIAL_SHA256)
            if digest:
                by_digest.setdefault(digest, str(run.info.run_id))
        registered = 0
        for run in self._runs(experiment_id, RUN_KIND_REGISTRATION):
            for digest in _listed(TAG_TRIALS_NEW, run.data.tags):
                if digest not in by_digest:
                    by_digest[digest] = str(run.info.run_id)
                    registered += 1
        return len(backtests) + registered, by_digest

    def count_trials(self, strategy: str, *, experiment: str | None = None) -> int:
        """Every trial ever tried on the strategy, counted in its MLflow experiment.

        A backtest run (tag ``stratops.run_kind=backtest``, logged by a sweep) is one, deleted
        and failed runs too: a strategy cannot hide its failed attempts. So is each trial a
        registered bundle brought that no run had (backtests the registry could not see),
        once however many bundles bring it.
        """
        with translated(f"count the trials of {strategy!r}"):
            return self._trial_ledger(self._find_experiment(experiment or strategy))[0]

    def log_trial_run(
        self,
        strategy: str,
        *,
        name: str | None = None,
        params: Mapping[str, str | float | int | bool] | None = None,
        metrics: Mapping[str, float] | None = None,
        daily: DailyReturns | None = None,
        tags: Mapping[str, str] | None = None,
        experiment: str | None = None,
        failed: bool = False,
    ) -> str:
        """Log one backtest (a trial) in the strategy's experiment; returns the run id.

        ``name`` (the trial's column name) is the run name and tag ``stratops.trial``.
        ``daily``, the trial's daily net returns, is stored as ``trial/daily_returns.parquet``
        and names the run by content (tag ``stratops.trial_sha256``): registering a bundle
        whose trial column has these returns links the version to this run.
        """
        experiment_id = self._ensure_experiment(experiment or strategy)
        millis = int(self.clock.now().timestamp() * 1000)
        run_tags = {TAG_RUN_KIND: RUN_KIND_BACKTEST, TAG_STRATEGY: strategy, **(tags or {})}
        if name is not None:
            run_tags[TAG_TRIAL] = name
        if daily is not None:
            run_tags[TAG_TRIAL_SHA256] = daily.sha256()
        with translated(f"log a trial of {strategy!r}"):
            run = self._client.create_run(
                experiment_id, start_time=millis, tags=run_tags, run_name=name
            )
            run_id = str(run.info.run_id)
            if params or metrics:
                self._client.log_batch(
                    run_id,
                    metrics=[Metric(k, float(v), millis, 0) for k, v in (metrics or {}).items()],
                    params=[Param(k, str(v)) for k, v in (params or {}).items()],
                )
            if daily is not None:
                self._upload_trial_returns(run_id, daily)
            self._client.set_terminated(run_id, "FAILED" if failed else "FINISHED", end_time=millis)
        return run_id

    def _upload_trial_returns(self, run_id: str, daily: DailyReturns) -> None:
        table = pa.table(
            {
                "timestamp": pa.array(daily.ends, pa.int64()).cast(pa.timestamp("ns", tz="UTC")),
                "net": pa.array(daily.returns, pa.float64()),
            }
        )
        with tempfile.TemporaryDirectory(prefix="stratops-trial-") as scratch:
            path = Path(scratch) / TRIAL_RETURNS_FILE
            pq.write_table(table, path)
            self._client.log_artifact(run_id, str(path), TRIAL_PATH)

    # registration

    def register(
        self,
        strategy: str,
        *,
        strategy_type: StrategyType,
        evidence: Path,
        model_path: Path | None = None,
        model_uri: str | None = None,
        code_sha: str | None = None,
        experiment: str | None = None,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        config: VersionConfig | None = None,
        on_step: StepHook = _no_hook,
    ) -> Registration:
        """Register a strategy version with its evidence bundle.

        Refuses (nothing registered) an invalid bundle, a bundle declaring fewer trials than
        the experiment holds (:meth:`count_trials`, plus the bundle's trials it has not seen,
        which the registration run lists), a type differing from the strategy's, and a
        missing model. The version links the run of every trial column (tags
        ``stratops.trial_runs.<i>``): its backtest run, else the registration run listing it.
        ``config`` (execution parameters, :mod:`stratops.model.execution`) is stored with the
        version as canonical JSON, its digest in the tag ``stratops.config_digest``. A bundle
        and configuration that a version of the strategy already has return that version
        (``created`` False) and change nothing.
        """
        _check_strategy_name(strategy)
        model = self._model_source(model_path, model_uri)
        on_step(RegistrationStep.SCAN, None)
        bundle = scan_bundle(evidence, max_file_bytes=max_file_bytes, strategy_type=strategy_type)
        code = self._code_sha(code_sha, bundle)
        self._check_type_unchanged(strategy, strategy_type)
        stored_config = _stored_form(config)
        if stored_config is not None and bundle.metadata.dataset is None:
            raise BadInput(
                "a configuration applies to the version's replay, and metadata.json names no "
                "dataset (dataset): backtest on a packaged dataset (--data) to register one",
                "registry.config_without_dataset",
            )
        config_digest = None if stored_config is None else canonical_digest(stored_config)
        existing = self._version_with_digest(strategy, bundle.digest, config_digest)
        if existing is not None:
            return Registration(version=existing, created=False)

        on_step(RegistrationStep.COUNT_TRIALS, None)
        experiment_name = experiment or strategy
        _, ends, matrix = load_trials(bundle)
        series = [DailyReturns(ends, matrix[:, j]) for j in range(matrix.shape[1])]
        digests = [daily.sha256() for daily in series]
        with translated(f"count the trials of {strategy!r}"):
            counted, by_digest = self._trial_ledger(self._find_experiment(experiment_name))
        new = [digest for digest in dict.fromkeys(digests) if digest not in by_digest]
        trials = counted + len(new)
        if bundle.metadata.trials < trials:
            raise BadInput(
                f"the bundle declares trials: {bundle.metadata.trials} but experiment "
                f"{experiment_name!r} holds {counted} trials and the bundle adds {len(new)} "
                "it has not seen: declare every configuration tried on the strategy (failed "
                "ones too), with one column each in trials.parquet",
                "registry.trials_undeclared",
            )
        experiment_id = self._ensure_experiment(experiment_name)
        tags = {
            TAG_DIGEST: bundle.digest,
            TAG_TYPE: strategy_type.value,
            TAG_TRIALS: str(bundle.metadata.trials),
            TAG_TRIALS_IN_EXPERIMENT: str(trials),
        } | ({} if code is None else {TAG_CODE_SHA: code})
        if config_digest is not None:
            tags[TAG_CONFIG_DIGEST] = config_digest

        on_step(RegistrationStep.CREATE_RUN, None)
        with translated("create the registration run"):
            run = self._client.create_run(
                experiment_id,
                tags={
                    TAG_RUN_KIND: RUN_KIND_REGISTRATION,
                    TAG_STRATEGY: strategy,
                    **tags,
                    **_list_tags(TAG_TRIALS_NEW, new, _DIGESTS_PER_TAG),
                },
                run_name=f"register-{strategy}",
            )
        run_id = str(run.info.run_id)
        linked = list(dict.fromkeys(by_digest.get(digest, run_id) for digest in digests))
        try:
            on_step(RegistrationStep.UPLOAD_EVIDENCE, run_id)
            self._upload_evidence(run_id, bundle)
            if stored_config is not None:
                self._upload_config(run_id, stored_config)
            on_step(RegistrationStep.UPLOAD_MODEL, run_id)
            tags[TAG_MODEL_DIGEST] = self._upload_model(run_id, model)
            with translated("record the model digest"):
                self._client.set_tag(run_id, TAG_MODEL_DIGEST, tags[TAG_MODEL_DIGEST])
            on_step(RegistrationStep.VERIFY_UPLOAD, run_id)
            with tempfile.TemporaryDirectory(prefix="stratops-verify-") as scratch:
                _, _, problems = self._stored_evidence(run_id, bundle.digest, Path(scratch))
                _, _, model_problems = self._stored_model(
                    run_id, tags[TAG_MODEL_DIGEST], Path(scratch)
                )
                if config_digest is not None:
                    _, config_problems = self._stored_config(run_id, config_digest, Path(scratch))
                    model_problems += config_problems
            if problems or model_problems:
                raise EvidenceMismatch(
                    "uploaded evidence or model does not match what was registered",
                    problems + model_problems,
                )
            on_step(RegistrationStep.CREATE_VERSION, run_id)
            self._ensure_registered_model(strategy, strategy_type)
            with translated(f"create a version of {strategy!r}"):
                created = self._client.create_model_version(
                    strategy,
                    f"{run.info.artifact_uri}/{MODEL_PATH}",
                    run_id,
                    tags={
                        **tags,
                        TAG_RUN_ID: run_id,
                        **_list_tags(TAG_TRIAL_RUNS, linked, _RUN_IDS_PER_TAG),
                    },
                )
                self._client.set_terminated(run_id, "FINISHED")
        except BaseException as exc:
            self._fail_run(run_id, exc)
            raise
        return Registration(version=self._strategy_version(created), created=True)

    def _version_with_digest(
        self, strategy: str, digest: str, config_digest: str | None
    ) -> StrategyVersion | None:
        """The oldest version of the strategy registered with this evidence and configuration."""
        try:
            found = self.versions(strategy)
        except NotFound:
            return None
        return next(
            (v for v in found if v.evidence_digest == digest and v.config_digest == config_digest),
            None,
        )

    def _code_sha(self, given: str | None, bundle: Bundle) -> str | None:
        declared = bundle.metadata.code_commit
        if given and declared and given != declared:
            raise BadInput(
                f"--code-sha {given} differs from metadata.json codeCommit {declared}",
                "registry.code_sha_mismatch",
            )
        return given or declared

    def _check_type_unchanged(self, strategy: str, strategy_type: StrategyType) -> None:
        try:
            model = self._registered_model(strategy)
        except NotFound:
            return
        recorded = model.tags.get(TAG_TYPE)
        if recorded is not None and recorded != strategy_type.value:
            raise BadInput(
                f"strategy {strategy!r} is registered as {recorded}, not {strategy_type.value}: "
                "a strategy keeps its type (register a new strategy name)",
                "registry.type_changed",
            )

    def _model_source(self, model_path: Path | None, model_uri: str | None) -> ModelSource:
        """The model to register: a local folder, or (run id, path) of an existing model."""
        if model_path is not None and model_uri is None:
            if not (model_path / "MLmodel").is_file():
                raise BadInput(
                    f"{model_path} is not an MLflow model folder (no MLmodel file): save the "
                    "model with mlflow.pyfunc.save_model",
                    "registry.not_a_model",
                )
            return model_path
        if model_uri is not None and model_path is None:
            return self._model_origin(model_uri)
        raise BadInput(
            "give the strategy's model: exactly one of --model PATH (a folder saved with "
            "mlflow.pyfunc.save_model) or --model-uri URI (runs:/<run>/<path> or "
            "models:/<name>/<version>)",
            "registry.model_required",
        )

    def _model_origin(self, uri: str) -> tuple[str, str]:
        """(run id, artifact path) of an existing model given as a runs:/ or models:/ URI."""
        scheme, _, rest = uri.partition(":/")
        rest = rest.strip("/")
        if scheme == "runs":
            run_id, _, path = rest.partition("/")
        elif scheme == "models":
            name, at, alias = rest.partition("@")
            with translated(f"find the model {uri}"):
                if at:
                    found = self._client.get_model_version_by_alias(name, alias)
                else:
                    name, _, version = rest.partition("/")
                    found = self._client.get_model_version(name, version)
                run_id = str(found.run_id or "")
                root = self._client.get_run(run_id).info.artifact_uri if run_id else None
            source = str(found.source)
            if root is None or not source.startswith(f"{root}/"):
                raise BadInput(
                    f"{uri} is stored at {source}, outside a run: register from a runs:/ URI "
                    "or a local folder",
                    "registry.bad_model_uri",
                )
            path = source.removeprefix(f"{root}/")
        else:
            raise BadInput(
                f"--model-uri {uri!r}: expected runs:/<run_id>/<path>, models:/<name>/<version> "
                "or models:/<name>@<alias>",
                "registry.bad_model_uri",
            )
        with translated(f"find the model {uri}"):
            listed = {item.path for item in self._client.list_artifacts(run_id, path)}
        if not path or f"{path}/MLmodel" not in listed:
            raise BadInput(f"no MLflow model at {uri} (no MLmodel file)", "registry.not_a_model")
        return run_id, path

    def _upload_model(self, run_id: str, model: ModelSource) -> str:
        """Store the model under ``model/`` of the registration run (a copy, for a URI).

        A version's run holds its model and its evidence: MLflow servers only accept a
        version whose source lies inside the run it names. The model's files are hashed
        before they are uploaded; their manifest is stored as ``model-manifest/manifest.json``.
        Returns the model digest.
        """
        with tempfile.TemporaryDirectory(prefix="stratops-model-") as scratch:
            if isinstance(model, Path):
                folder = model
            else:
                with translated("copy the model"):
                    folder = Path(self._client.download_artifacts(*model, dst_path=scratch))
            entries, problems = model_files(folder)
            if problems or not entries:
                raise BadInput(
                    "\n".join(
                        [f"cannot register the model at {folder}", *(p.render() for p in problems)]
                    ),
                    "registry.bad_model",
                )
            manifest = build_model_manifest(entries)
            manifest_file = Path(scratch) / MODEL_MANIFEST_FILE
            manifest_file.write_text(manifest.model_dump_json(by_alias=True, indent=2) + "\n")
            with translated("upload the model"):
                self._client.log_artifacts(run_id, str(folder), MODEL_PATH)
                self._client.log_artifact(run_id, str(manifest_file), MODEL_MANIFEST_PATH)
        return manifest.spec.digest

    def _upload_evidence(self, run_id: str, bundle: Bundle) -> None:
        with tempfile.TemporaryDirectory(prefix="stratops-manifest-") as scratch:
            manifest = Path(scratch) / MANIFEST_FILE
            manifest.write_text(bundle.manifest.model_dump_json(by_alias=True, indent=2) + "\n")
            with translated("upload the evidence"):
                for entry in bundle.manifest.spec.files:
                    self._client.log_artifact(run_id, str(bundle.root / entry.path), EVIDENCE_PATH)
                self._client.log_artifact(run_id, str(manifest), EVIDENCE_PATH)

    def _upload_config(self, run_id: str, stored: dict[str, Any]) -> None:
        with tempfile.TemporaryDirectory(prefix="stratops-config-") as scratch:
            path = Path(scratch) / CONFIG_FILE
            path.write_bytes(canonical_json(stored))
            with translated("upload the version's configuration"):
                self._client.log_artifact(run_id, str(path), CONFIG_PATH)

    def _stored_config(
        self, run_id: str, digest: str, scratch: Path
    ) -> tuple[VersionConfig | None, list[Problem]]:
        """The configuration stored in a run, checked against ``digest``."""
        where = f"{CONFIG_PATH}/{CONFIG_FILE}"
        with translated("download the version's configuration"):
            listed = {item.path for item in self._client.list_artifacts(run_id, CONFIG_PATH)}
            if where not in listed:
                return None, [Problem(file=where, message="not stored", code="config.missing")]
            path = self._client.download_artifacts(run_id, where, str(scratch))
        raw = Path(path).read_bytes()
        try:
            stored = json.loads(raw)
            config = VersionConfig.model_validate(stored, by_alias=True, by_name=False)
        except ValueError as exc:
            return None, [Problem(file=where, message=f"unreadable: {exc}", code="config.invalid")]
        if canonical_digest(stored) != digest:
            return None, [
                Problem(
                    file=where,
                    message=f"digest differs from the recorded {digest[:12]}…: the "
                    "configuration was changed after registration",
                    code="config.digest_mismatch",
                )
            ]
        return config, []

    def version_config(self, strategy: str, version: int) -> VersionConfig | None:
        """The verified configuration of a version; None when it was registered without one.

        Raises :class:`EvidenceMismatch` when the stored configuration differs from its digest.
        """
        found = self._model_version(strategy, version)
        digest = (found.tags or {}).get(TAG_CONFIG_DIGEST)
        if digest is None or not found.run_id:
            return None
        with tempfile.TemporaryDirectory(prefix="stratops-config-") as scratch:
            config, problems = self._stored_config(str(found.run_id), digest, Path(scratch))
        if config is None:
            raise EvidenceMismatch(
                f"stored configuration of {strategy!r} version {version} does not match its digest",
                problems,
            )
        return config

    def _ensure_registered_model(self, strategy: str, strategy_type: StrategyType) -> None:
        try:
            self._registered_model(strategy)
        except NotFound:
            with suppress(BadInput), translated(f"create strategy {strategy!r}"):
                self._client.create_registered_model(strategy, tags={TAG_TYPE: strategy_type.value})

    def _fail_run(self, run_id: str, exc: BaseException) -> None:
        """Mark a registration run FAILED, best effort: the original error is what matters."""
        with suppress(RegistryError), translated("mark the registration run FAILED"):
            self._client.set_tag(run_id, TAG_FAILURE, f"{type(exc).__name__}: {exc}"[:5000])
            self._client.set_terminated(run_id, "FAILED")

    # versions

    def _registered_model(self, strategy: str) -> RegisteredModel:
        try:
            with translated(f"read strategy {strategy!r}"):
                return self._client.get_registered_model(strategy)
        except NotFound as exc:
            raise NotFound(
                f"strategy {strategy!r} is not registered", "registry.strategy_not_found"
            ) from exc

    def _model_version(self, strategy: str, version: int) -> ModelVersion:
        self._registered_model(strategy)
        try:
            with translated(f"read version {version} of {strategy!r}"):
                return self._client.get_model_version(strategy, str(version))
        except NotFound as exc:
            raise NotFound(
                f"strategy {strategy!r} has no version {version}", "registry.version_not_found"
            ) from exc

    def _strategy_version(
        self, found: ModelVersion, aliases: Iterable[str] | None = None
    ) -> StrategyVersion:
        tags = dict(found.tags or {})
        return StrategyVersion(
            name=found.name,
            version=int(found.version),
            evidence_digest=tags.get(TAG_DIGEST),
            model_digest=tags.get(TAG_MODEL_DIGEST),
            config_digest=tags.get(TAG_CONFIG_DIGEST),
            strategy_type=_strategy_type(tags),
            code_sha=tags.get(TAG_CODE_SHA),
            trials_declared=_int_tag(tags, TAG_TRIALS),
            trials_in_experiment=_int_tag(tags, TAG_TRIALS_IN_EXPERIMENT),
            trial_runs=tuple(_listed(TAG_TRIAL_RUNS, tags)),
            aliases=tuple(sorted((found.aliases or ()) if aliases is None else aliases)),
            run_id=found.run_id or None,
            source=found.source or "",
            created_at=datetime.fromtimestamp(found.creation_timestamp / 1000, tz=UTC),
        )

    def get_version(self, strategy: str, version: int) -> StrategyVersion:
        return self._strategy_version(self._model_version(strategy, version))

    def versions(self, strategy: str) -> list[StrategyVersion]:
        """Every version of the strategy, oldest first, with its current aliases."""
        model = self._registered_model(strategy)
        by_version: dict[str, list[str]] = {}
        for alias, version in (model.aliases or {}).items():
            by_version.setdefault(str(version), []).append(alias)
        found: list[ModelVersion] = []
        token = None
        with translated(f"list the versions of {strategy!r}"):
            while True:
                page = self._client.search_model_versions(
                    f"name = '{strategy}'", max_results=_PAGE, page_token=token
                )
                found += page
                token = page.token
                if not token:
                    break
        versions = [self._strategy_version(v, by_version.get(str(v.version), [])) for v in found]
        return sorted(versions, key=lambda v: v.version)

    # evidence

    def _evidence_of(self, strategy: str, version: int) -> tuple[str, str, str | None]:
        """(run id, evidence digest, model digest) of a version registered with evidence."""
        found = self._model_version(strategy, version)
        tags = found.tags or {}
        digest = tags.get(TAG_DIGEST)
        if not digest or not found.run_id:
            raise NotFound(
                f"version {version} of {strategy!r} has no stratops evidence (it was not "
                "registered with stratops register)",
                "registry.no_evidence",
            )
        return str(found.run_id), digest, tags.get(TAG_MODEL_DIGEST)

    def _stored_model(
        self, run_id: str, digest: str | None, scratch: Path
    ) -> tuple[Path, list[ModelFile], list[Problem]]:
        """Download ``model/`` of a run into ``scratch / "model"`` and check it against ``digest``.

        A version without a model digest (registered before models were content-addressed)
        cannot be vouched for: that is a problem too.
        """
        if digest is None:
            unrecorded = Problem(
                file=f"{MODEL_PATH}/",
                message="no model digest recorded on the version: its model cannot be "
                "verified (register it again)",
                code="model.digest_unrecorded",
            )
            return scratch, [], [unrecorded]
        target = scratch / "model"
        target.mkdir(parents=True, exist_ok=True)
        with translated("download the model"):
            if not self._client.list_artifacts(run_id, MODEL_PATH):
                missing = Problem(
                    file=f"{MODEL_PATH}/", message="no model stored", code="model.missing"
                )
                return target, [], [missing]
            folder = Path(self._client.download_artifacts(run_id, MODEL_PATH, str(target)))
            manifests = target / MODEL_MANIFEST_PATH
            if self._client.list_artifacts(run_id, MODEL_MANIFEST_PATH):
                self._client.download_artifacts(run_id, MODEL_MANIFEST_PATH, str(target))
        entries, problems = check_model(folder, manifests / MODEL_MANIFEST_FILE, digest)
        return folder, entries, problems

    def _verified_model(self, strategy: str, version: int, scratch: Path) -> Path:
        """The version's model downloaded into ``scratch``; :class:`EvidenceMismatch` if changed."""
        run_id, _, digest = self._evidence_of(strategy, version)
        folder, _, problems = self._stored_model(run_id, digest, scratch)
        if problems:
            raise EvidenceMismatch(
                f"stored model of {strategy!r} version {version} does not match its digest",
                problems,
            )
        return folder

    def download_model(self, strategy: str, version: int, dest: Path) -> Path:
        """Download the version's model folder into ``dest`` (new or empty), verified.

        Raises :class:`EvidenceMismatch` (and writes nothing) when a stored model file differs
        from the manifest the version's model digest names; load the model only from ``dest``.
        """
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise BadInput(f"{dest} exists and is not an empty folder", "registry.dest_not_empty")
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".stratops-model-", dir=dest.parent) as scratch:
            folder = self._verified_model(strategy, version, Path(scratch))
            if dest.exists():
                dest.rmdir()
            os.replace(folder, dest)
        return dest

    def model_version_of(self, uri: str) -> tuple[str, int]:
        """(strategy, version) of ``models:/<name>/<version>`` or ``models:/<name>@<alias>``."""
        rest = uri.removeprefix("models:/").strip("/")
        name, at, alias = rest.partition("@")
        if not at:
            name, _, alias = rest.partition("/")
        if not uri.startswith("models:/") or not name or not alias or "/" in alias:
            raise BadInput(
                f"{uri!r}: expected models:/<name>/<version> or models:/<name>@<alias>",
                "registry.bad_model_uri",
            )
        if not at and alias.isdigit():
            return name, int(alias)
        if not at:
            raise BadInput(f"{uri!r}: {alias!r} is not a version number", "registry.bad_model_uri")
        self._registered_model(name)
        try:
            with translated(f"find the model {uri}"):
                found = self._client.get_model_version_by_alias(name, alias)
        except BadInput as exc:
            raise NotFound(
                f"strategy {name!r} has no alias {alias!r}", "registry.alias_not_found"
            ) from exc
        return name, int(found.version)

    def _stored_evidence(
        self, run_id: str, digest: str, scratch: Path
    ) -> tuple[Path, list[EvidenceFile], list[Problem]]:
        """Download ``evidence/`` of a run into ``scratch`` and check it against ``digest``."""
        with translated("download the evidence"):
            if not self._client.list_artifacts(run_id, EVIDENCE_PATH):
                missing = Problem(
                    file=f"{EVIDENCE_PATH}/", message="no evidence stored", code="evidence.missing"
                )
                return scratch, [], [missing]
            folder = Path(self._client.download_artifacts(run_id, EVIDENCE_PATH, str(scratch)))
        entries, problems = check_evidence(folder, digest)
        return folder, entries, problems

    def verify_evidence(self, strategy: str, version: int) -> EvidenceReport:
        """Download the version's evidence and model and re-hash every file against its tags."""
        run_id, digest, model_digest = self._evidence_of(strategy, version)
        with tempfile.TemporaryDirectory(prefix="stratops-verify-") as scratch:
            _, entries, problems = self._stored_evidence(run_id, digest, Path(scratch))
            _, model_entries, model_problems = self._stored_model(
                run_id, model_digest, Path(scratch)
            )
        return EvidenceReport(
            strategy=strategy,
            version=version,
            digest=digest,
            files=entries,
            model_digest=model_digest,
            model_files=model_entries,
            problems=problems + model_problems,
        )

    def download_evidence(self, strategy: str, version: int, dest: Path) -> Path:
        """Download the version's evidence bundle into ``dest`` (new or empty), verified.

        ``dest`` then holds exactly the bundle files, a valid input for :func:`scan_bundle`.
        Raises :class:`EvidenceMismatch` (and writes nothing) when the stored evidence differs.
        """
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise BadInput(f"{dest} exists and is not an empty folder", "registry.dest_not_empty")
        run_id, digest, _ = self._evidence_of(strategy, version)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".stratops-download-", dir=dest.parent) as scratch:
            folder, _, problems = self._stored_evidence(run_id, digest, Path(scratch))
            if problems:
                raise EvidenceMismatch(
                    f"stored evidence of {strategy!r} version {version} does not match its digest",
                    problems,
                )
            dest.mkdir(exist_ok=True)
            for name in EVIDENCE_FILES.values():
                os.replace(folder / name, dest / name)
        return dest

    def evidence_summary(self, strategy: str, version: int) -> EvidenceSummary:
        """The verified bundle of a version: files, digest, metadata and facts.

        The version's model is verified too: a version whose stored model differs from its
        model digest raises :class:`EvidenceMismatch` like changed evidence.
        """
        with tempfile.TemporaryDirectory(prefix="stratops-show-") as scratch:
            folder = self.download_evidence(strategy, version, Path(scratch) / "bundle")
            bundle = scan_bundle(folder, max_file_bytes=NO_SIZE_LIMIT)
            self._verified_model(strategy, version, Path(scratch) / "model")
        return EvidenceSummary(
            strategy=strategy,
            version=version,
            digest=bundle.digest,
            files=bundle.manifest.spec.files,
            metadata=bundle.metadata,
            data_quality=bundle.data_quality,
            facts=bundle.facts,
        )

    def log_report(self, strategy: str, version: int, files: Sequence[Path], folder: str) -> str:
        """Store report files as artifacts of the version's run, under ``reports/<folder>``.

        Returns the artifact path (``reports/<folder>``); files of the same name there are
        replaced. Only versions registered with evidence have a run to hold them.
        """
        run_id, _, _ = self._evidence_of(strategy, version)
        if not _REPORT_NAME.fullmatch(folder):
            raise BadInput(
                f"report folder {folder!r}: letters, digits, '_', '.', '-' only",
                "registry.bad_report_folder",
            )
        path = f"{REPORT_PATH}/{folder}"
        with translated(f"store the report of v{version} of {strategy!r}"):
            for file in files:
                self._client.log_artifact(run_id, str(file), path)
        return path

    def logged_reports(self, strategy: str, version: int) -> list[LoggedReport]:
        """The reports :meth:`log_report` stored for a version, by folder name (none: [])."""
        try:
            run_id, _, _ = self._evidence_of(strategy, version)
        except NotFound:
            return []
        found = []
        with translated(f"list the reports of v{version} of {strategy!r}"):
            for folder in self._client.list_artifacts(run_id, REPORT_PATH):
                if not folder.is_dir:
                    continue
                listed = self._client.list_artifacts(run_id, folder.path)
                names = sorted(f.path.rpartition("/")[2] for f in listed if not f.is_dir)
                found.append(
                    LoggedReport(
                        strategy=strategy,
                        version=version,
                        folder=folder.path.rpartition("/")[2],
                        files=tuple(names),
                    )
                )
        return sorted(found, key=lambda r: r.folder)

    def report_file(self, strategy: str, version: int, folder: str, name: str) -> bytes:
        """The bytes of one file of a stored report; NotFound when there is no such file."""
        stored = {r.folder: r.files for r in self.logged_reports(strategy, version)}
        if name not in stored.get(folder, ()) or not _REPORT_NAME.fullmatch(name):
            raise NotFound(
                f"no report file {folder}/{name} for v{version} of {strategy!r}",
                "registry.no_report",
            )
        run_id, _, _ = self._evidence_of(strategy, version)
        with tempfile.TemporaryDirectory(prefix="stratops-report-") as scratch:
            with translated(f"download the report {folder}/{name}"):
                path = self._client.download_artifacts(
                    run_id, f"{REPORT_PATH}/{folder}/{name}", scratch
                )
            return Path(path).read_bytes()

    # canary analyses

    def log_canary_analysis(self, run: AnalysisRun) -> str:
        """Store a final analysis run on its version; returns the MLflow run id.

        The run's canonical JSON goes to ``canary-analysis/analysis.json`` of a new MLflow run
        (kind ``canary_analysis``, in the version's experiment); the version is then tagged with
        that run's id, the digest and the phase (``stratops.canary_analysis.*``), so the
        ``canary_analysis`` gate finds it and checks the stored bytes against the digest. The
        latest analysis logged on a version is the one the tags name; the gate takes the
        latest logged before the promotion (:meth:`canary_analysis` with ``as_of``).
        """
        if not run.phase.final:
            raise BadInput(
                f"the analysis of {run.strategy} v{run.version} is still running: only a final "
                "analysis (passed, failed, inconclusive, error) is logged",
                "registry.analysis_running",
            )
        evidence_run, _, _ = self._evidence_of(run.strategy, run.version)
        tags = {
            TAG_RUN_KIND: RUN_KIND_ANALYSIS,
            TAG_STRATEGY: run.strategy,
            TAG_VERSION: str(run.version),
            TAG_ANALYSIS_DIGEST: run.digest,
            TAG_ANALYSIS_PHASE: run.phase.value,
            "stratops.canary_analysis.reason": run.reason[:5000],
        }
        millis = int(self.clock.now().timestamp() * 1000)
        doing = f"log the canary analysis of v{run.version} of {run.strategy!r}"
        with translated(doing), tempfile.TemporaryDirectory(prefix="stratops-analysis-") as tmp:
            experiment_id = self._client.get_run(evidence_run).info.experiment_id
            created = self._client.create_run(
                experiment_id, start_time=millis, tags=tags, run_name=f"canary-v{run.version}"
            )
            run_id = str(created.info.run_id)
            path = Path(tmp) / ANALYSIS_FILE
            path.write_bytes(run.canonical)
            self._client.log_artifact(run_id, str(path), ANALYSIS_PATH)
            self._client.set_terminated(run_id, "FINISHED", end_time=millis)
            for key, value in {
                TAG_ANALYSIS_RUN: run_id,
                TAG_ANALYSIS_DIGEST: run.digest,
                TAG_ANALYSIS_PHASE: run.phase.value,
            }.items():
                self._client.set_model_version_tag(run.strategy, str(run.version), key, value)
        return run_id

    def canary_analysis(
        self, strategy: str, version: int, as_of: datetime | None = None
    ) -> CanaryAnalysisRecord | None:
        """The version's canary analysis as stored now; None if none was logged.

        The latest logged, or with ``as_of`` the latest logged at or before it (so a gate report
        recomputed later, after another analysis, is the same report). Nothing is judged here:
        the record holds the digest recorded at logging and the digest of the bytes stored
        now, and the gate compares them.
        """
        stored = self._stored_analysis(strategy, version, as_of)
        return None if stored is None else stored[0]

    def _analysis_pointer(
        self, strategy: str, version: int, as_of: datetime | None
    ) -> tuple[str, str] | None:
        """(run id, recorded digest) of the version's analysis, latest at or before ``as_of``."""
        found = self._model_version(strategy, version)
        tags = found.tags or {}
        if as_of is None:
            run_id = tags.get(TAG_ANALYSIS_RUN)
            return None if not run_id else (run_id, tags.get(TAG_ANALYSIS_DIGEST, ""))
        evidence_run, _, _ = self._evidence_of(strategy, version)
        millis = int(as_of.timestamp() * 1000)
        query = (
            f"tags.`{TAG_RUN_KIND}` = '{RUN_KIND_ANALYSIS}' and tags.`{TAG_STRATEGY}` = "
            f"'{strategy}' and tags.`{TAG_VERSION}` = '{version}' and "
            f"attributes.start_time <= {millis}"
        )
        with translated(f"find the canary analyses of v{version} of {strategy!r}"):
            experiment_id = self._client.get_run(evidence_run).info.experiment_id
            runs = self._client.search_runs(
                [experiment_id], query, order_by=["attributes.start_time DESC"], max_results=1
            )
        if not runs:
            return None
        return str(runs[0].info.run_id), runs[0].data.tags.get(TAG_ANALYSIS_DIGEST, "")

    def _stored_analysis(
        self, strategy: str, version: int, as_of: datetime | None = None
    ) -> tuple[CanaryAnalysisRecord, dict[str, Any] | None] | None:
        """The record of the version's analysis and the stored JSON (None if unreadable)."""
        pointer = self._analysis_pointer(strategy, version, as_of)
        if pointer is None:
            return None
        run_id, recorded = pointer

        def unreadable(problem: str) -> tuple[CanaryAnalysisRecord, None]:
            record = CanaryAnalysisRecord(
                run_id=run_id, recorded_digest=recorded, stored_digest=None, problem=problem
            )
            return record, None

        with tempfile.TemporaryDirectory(prefix="stratops-analysis-") as scratch:
            try:
                with translated(f"download the canary analysis of v{version} of {strategy!r}"):
                    folder = self._client.download_artifacts(run_id, ANALYSIS_PATH, scratch)
            except NotFound as exc:
                return unreadable(exc.message)
            stored = Path(folder) / ANALYSIS_FILE
            if not stored.is_file():
                return unreadable(f"{ANALYSIS_FILE} is missing")
            try:
                data = json.loads(stored.read_bytes())
            except ValueError as exc:
                return unreadable(f"{ANALYSIS_FILE} is not JSON: {exc}")
        if not isinstance(data, dict):
            return unreadable(f"{ANALYSIS_FILE} is not a JSON object")
        of_version = data.get("version")
        record = CanaryAnalysisRecord(
            run_id=run_id,
            recorded_digest=recorded,
            stored_digest=canonical_digest(data),
            strategy=str(data.get("strategy")),
            version=of_version if isinstance(of_version, int) else None,
            phase=str(data.get("phase")),
            reason=str(data.get("reason", "")),
        )
        return record, data

    def canary_analysis_run(self, strategy: str, version: int) -> AnalysisRun:
        """The version's logged analysis run, verified against its recorded digest.

        Raises
        ------
        NotFound
            ``registry.no_analysis`` when no analysis was logged on the version.
        EvidenceMismatch
            When the stored analysis is unreadable or does not match its digest.
        """
        stored = self._stored_analysis(strategy, version)
        if stored is None:
            raise NotFound(
                f"no canary analysis is logged on version {version} of {strategy!r}",
                "registry.no_analysis",
            )
        record, data = stored
        if data is None or record.stored_digest != record.recorded_digest:
            why = record.problem or (
                f"recorded sha256 {record.recorded_digest}, the stored run hashes "
                f"{record.stored_digest}"
            )
            raise EvidenceMismatch(
                f"the canary analysis of {strategy!r} version {version} (run {record.run_id}) "
                "does not match its digest",
                [
                    Problem(
                        file=f"{ANALYSIS_PATH}/{ANALYSIS_FILE}",
                        message=why,
                        code="analysis.mismatch",
                    )
                ],
            )
        return AnalysisRun.from_storage(data)

    # reconciliation breaks, published by the controller for CI

    def publish_recon_breaks(self, strategy: str, summary: str) -> None:
        """Set the strategy's reconciliation break summary (a registered-model tag, written by
        the controller; :mod:`stratops.ops.reconciliation.published`)."""
        with translated(f"publish the reconciliation breaks of {strategy!r}"):
            self._client.set_registered_model_tag(strategy, TAG_RECON_BREAKS, summary)

    def published_recon_breaks(self, strategy: str) -> str | None:
        """The summary :meth:`publish_recon_breaks` last set; None when none was.

        Raises
        ------
        NotFound
            The strategy is not registered.
        """
        return (self._registered_model(strategy).tags or {}).get(TAG_RECON_BREAKS)

    # stage aliases

    def stage_aliases(self, strategy: str) -> dict[Stage, int]:
        """The version each stage alias points at (stages without an alias are absent)."""
        aliases = self._registered_model(strategy).aliases or {}
        return {stage: int(aliases[stage.value]) for stage in Stage if stage.value in aliases}

    def observe_stage_aliases(self) -> ObservedAliases:
        """Stage aliases of every registered strategy, and where they drifted from the history.

        Three queries on a database store (:mod:`.alias_index`), else a few paged calls (not
        one per model): the history is in the models' tags.
        """
        with translated("list the registered strategies"):
            rows = read_alias_rows(self._client)
        if rows is None:
            return self._search_stage_aliases()
        found: dict[str, dict[Stage, int]] = {name: {} for name in rows.names}
        stages = {stage.value: stage for stage in Stage}
        for name, alias, version in rows.aliases:
            if alias in stages and name in found:
                found[name][stages[alias]] = version
        tags: dict[str, dict[str, str]] = {}
        for name, key, value in rows.history:
            tags.setdefault(name, {})[key] = value
        drift: list[AliasDrift] = []
        for name in sorted(found):
            found[name] = {stage: found[name][stage] for stage in Stage if stage in found[name]}
            history = read_history(name, tags.get(name, {}))
            drift.extend(alias_drift(name, found[name], history))
        return ObservedAliases(found, drift)

    def _search_stage_aliases(self) -> ObservedAliases:
        """:meth:`observe_stage_aliases` through MLflow's paged search (any store)."""
        found: dict[str, dict[Stage, int]] = {}
        drift: list[AliasDrift] = []
        token = None
        with translated("list the registered strategies"):
            while True:
                page = self._client.search_registered_models(max_results=1000, page_token=token)
                for model in page:
                    aliases = model.aliases or {}
                    found[model.name] = {
                        stage: int(aliases[stage.value])
                        for stage in Stage
                        if stage.value in aliases
                    }
                    history = read_history(model.name, model.tags or {})
                    drift.extend(alias_drift(model.name, found[model.name], history))
                token = page.token
                if not token:
                    return ObservedAliases(found, drift)

    def alias_history(self, strategy: str) -> list[AliasChange]:
        """Every stage alias change of the strategy, oldest first."""
        return read_history(strategy, self._registered_model(strategy).tags or {})

    def set_stage_alias(
        self,
        strategy: str,
        stage: Stage,
        version: int,
        *,
        actor: str,
        reason: str,
        pull_request: int | None = None,
        approvers: Sequence[str] = (),
    ) -> AliasChange | None:
        """Point ``stage`` at ``version`` and record the change; None if it already does.

        Only versions registered with evidence can take a stage. ``pull_request`` and
        ``approvers`` (of the promotion) go into the history and onto the version's tags, so
        MLflow's own pages show who promoted it.
        """
        self._evidence_of(strategy, version)
        change = self._change_alias(
            strategy, stage, version, actor=actor, reason=reason,
            pull_request=pull_request, approvers=approvers,
        )  # fmt: skip
        if change is not None and pull_request is not None:
            tags = {
                f"stratops.{stage.value}.pull_request": str(pull_request),
                f"stratops.{stage.value}.approvers": ",".join(approvers),
            }
            with translated(f"tag v{version} of {strategy!r} with its promotion"):
                for key, value in tags.items():
                    self._client.set_model_version_tag(strategy, str(version), key, value)
        return change

    def clear_stage_alias(
        self,
        strategy: str,
        stage: Stage,
        *,
        actor: str,
        reason: str,
        pull_request: int | None = None,
        approvers: Sequence[str] = (),
    ) -> AliasChange | None:
        """Remove ``stage``'s alias and record the change; None if there is none."""
        return self._change_alias(
            strategy, stage, None, actor=actor, reason=reason,
            pull_request=pull_request, approvers=approvers,
        )  # fmt: skip

    def _change_alias(
        self,
        strategy: str,
        stage: Stage,
        version: int | None,
        *,
        actor: str,
        reason: str,
        pull_request: int | None,
        approvers: Sequence[str],
    ) -> AliasChange | None:
        if not actor.strip() or not reason.strip():
            raise BadInput(
                "an alias change needs an actor and a reason", "registry.unexplained_change"
            )
        model = self._registered_model(strategy)
        aliases = model.aliases or {}
        current = int(aliases[stage.value]) if stage.value in aliases else None
        if current == version:
            return None
        history = read_history(strategy, model.tags or {})
        change = AliasChange(
            sequence=next_sequence(history),
            entry=new_entry_id(),
            strategy=strategy,
            stage=stage,
            from_version=current,
            to_version=version,
            actor=actor,
            reason=reason,
            at=self.clock.now(),
            pull_request=pull_request,
            approvers=list(approvers),
        )
        key = history_key(change)
        with translated(f"record the {stage.value} alias change of {strategy!r}"):
            self._client.set_registered_model_tag(strategy, key, change.model_dump_json())
        try:
            with translated(f"move the {stage.value} alias of {strategy!r}"):
                if version is None:
                    self._client.delete_registered_model_alias(strategy, stage.value)
                else:
                    self._client.set_registered_model_alias(strategy, stage.value, str(version))
        except BaseException:
            with suppress(RegistryError), translated("withdraw the alias history entry"):
                self._client.delete_registered_model_tag(strategy, key)
            raise
        return change
