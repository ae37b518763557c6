"""Desks for ``bench_controller.py`` and ``bench_canary_rollback.py``: a clean git identity,
generated manifests, dummy versions, a promotion made as people make it, the controller process.

Nothing here is timed: it builds what the benchmark measures, as fast as the real components
allow (MLflow's client directly for 999 of the 1,000 versions, all sharing the run of one real
registration; one git commit for the 1,000 manifests).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event

from stratops.controller.gate_evaluation import registry_evaluator
from stratops.gitops.forge.local import LocalForge
from stratops.gitops.forge.models import NewReview, ReviewState
from stratops.gitops.forge.select import ForgeKind, open_forge
from stratops.gitops.gates_check import check_gates, publish
from stratops.gitops.git import GitRepo
from stratops.gitops.plan import PromotionRequest
from stratops.gitops.promote import promote
from stratops.gitops.pulls import review_pull_request
from stratops.gitops.scaffold import init_desk
from stratops.model.base import Stage, StrategyType
from stratops.model.deployment import DeploymentSpec, DeploymentState
from stratops.registry.location import resolve_location
from stratops.registry.registry import TAG_TYPE, Registry
from stratops.runtime.local import RECORD, LocalRuntime, Record

REPO = Path(__file__).resolve().parent.parent
TEST_DESK = REPO / "tests" / "controller" / "desk"
IDENTITY = {"NAME": "Rita Researcher", "EMAIL": "rita@desk.example"}
CLEARED = (
    "GITHUB_TOKEN",
    "GITHUB_API_URL",
    "GITHUB_REPOSITORY",
    "GITHUB_STEP_SUMMARY",
    "STRATOPS_FORGE",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_DATE",
    "MLFLOW_TRACKING_URI",
)
POLL_SECONDS = 0.05


def isolate_git(home: Path) -> None:
    """Like tests/conftest.py's ``git_identity``: a fixed identity, no user or system config.

    Changes this process's environment (inherited by git and by the controller subprocess).
    """
    home.mkdir(parents=True, exist_ok=True)
    (home / ".gitconfig").write_text("")
    os.environ["HOME"] = str(home)
    os.environ["GIT_CONFIG_GLOBAL"] = str(home / ".gitconfig")
    os.environ["GIT_CONFIG_NOSYSTEM"] = "1"
    os.environ["USER"] = "rita"
    for role in ("AUTHOR", "COMMITTER"):
        for field, value in IDENTITY.items():
            os.environ[f"GIT_{role}_{field}"] = value
    for name in CLEARED:
        os.environ.pop(name, None)


def strategy_name(index: int) -> str:
    return f"s{index:04d}"


def strategy_manifest(name: str) -> str:
    return (
        "apiVersion: stratops.io/v1alpha1\n"
        "kind: StrategyDeployment\n"
        "metadata:\n"
        f"  name: {name}\n"
        "spec:\n"
        "  strategyType: trend\n"
        "  venue: binance\n"
        "  symbols: [BTC/USDT]\n"
        "  owners: [research-trend]\n"
        "  stages:\n"
        "    paper: {version: 1, allocation: 100000}\n"
        "  halt: flatten\n"
    )


def write_manifests(folder: Path, names: Iterable[str]) -> Path:
    """A manifests folder: the test desk's policy and analysis, one paper-only file per name."""
    for part in ("policy", "analysis"):
        shutil.copytree(TEST_DESK / part, folder / part)
    strategies = folder / "strategies"
    strategies.mkdir(parents=True)
    for name in names:
        (strategies / f"{name}.yaml").write_text(strategy_manifest(name))
    return folder


def trend_model_and_bundle(scratch: Path) -> tuple[Path, Path]:
    """A real trend model (BTC/USDT, 1-minute bars) and synthetic trend evidence."""
    from stratops.paper.datasets import load_dataset
    from stratops.paper.strategies import strategy_spec
    from stratops.paper.strategies.base import save_strategy
    from stratops.registry.synthetic import write_synthetic_bundle

    market = load_dataset("binance-1m").select(["BTC/USDT"])
    model = scratch / "trend-model"
    save_strategy(
        strategy_spec("trend").build({"fast": 10, "slow": 60}), model, market.bars_frame(5)
    )
    return model, write_synthetic_bundle(scratch / "bundle", strategy_type=StrategyType.TREND)


def register_shared_versions(
    registry: Registry, names: Sequence[str], model: Path, bundle: Path
) -> None:
    """One registered model and one version per name, all sharing one real registration.

    The first name is registered through the registry (evidence and model stored and
    digested); every other version is created through MLflow's client directly, pointing at
    the same run with the same tags: each verifies like a registered version, at the cost of
    one MLflow call instead of one upload.
    """
    first = names[0]
    registry.register(first, strategy_type=StrategyType.TREND, evidence=bundle, model_path=model)
    client = registry._client
    shared = client.get_model_version(first, "1")
    tags = dict(shared.tags or {})
    for name in names[1:]:
        client.create_registered_model(name, tags={TAG_TYPE: "trend"})
        client.create_model_version(name, shared.source, shared.run_id, tags=tags)


def sleep_command(spec: DeploymentSpec, telemetry: Path) -> list[str]:
    """A ``sleep`` whose argv[0] is the telemetry path (one tiny process per deployment).

    LocalRuntime finds a deployment's processes by its folder in ``/proc/*/cmdline``;
    ``exec -a`` puts the telemetry path (inside that folder) in the command line of the
    ``sleep`` that replaces the shell.
    """
    del spec
    return ["bash", "-c", 'exec -a "$0" sleep 100000', str(telemetry)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def unsynchronised_sqlite(registry: Registry) -> Iterator[None]:
    """Setup only: the embedded store's SQLite without fsync (``PRAGMA synchronous=OFF``).

    Every MLflow write is its own transaction, and a SQLite commit with its fsyncs costs
    ~15 ms here: 2,000 of them would dominate the benchmark's setup. The pragma applies to
    the connections opened inside the block only; they are closed when it ends, so what is
    measured afterwards uses MLflow's defaults. Without a SQLite store this does nothing.
    """
    client: Any = registry._client
    store = client._get_registry_client().store
    engine = getattr(store, "engine", None)
    if engine is None or engine.dialect.name != "sqlite":
        yield
        return

    def no_fsync(connection: Any, record: Any) -> None:
        del record
        connection.execute("PRAGMA synchronous=OFF")

    event.listen(engine, "connect", no_fsync)
    engine.dispose()
    try:
        yield
    finally:
        event.remove(engine, "connect", no_fsync)
        engine.dispose()


def set_aliases_directly(
    registry: Registry, names: Iterable[str], stage: Stage, version: int
) -> None:
    """Point ``stage`` of each strategy at ``version`` through MLflow (no alias history)."""
    client = registry._client
    for name in names:
        client.set_registered_model_alias(name, stage.value, str(version))


def seed_deployments(runtime: LocalRuntime, specs: Iterable[DeploymentSpec]) -> None:
    """Start deployments the way ``LocalRuntime.deploy`` leaves them, without its safety scans.

    Same folder, command, session and ``deployment.json`` record (the runtime's own
    :class:`Record`), as if a previous controller had started them: the next tick adopts
    them. ``LocalRuntime.deploy`` scans ``/proc`` five times and sleeps 80 ms per deployment,
    ~0.28 s each with 1,000 processes running, which the default benchmark cannot afford
    1,000 times.
    """
    for spec in specs:
        folder = runtime.folder(spec.strategy, spec.stage)
        telemetry = folder / f"v{spec.version}" / "telemetry"
        telemetry.mkdir(parents=True, exist_ok=True)
        with (folder / "process.log").open("ab") as log:
            process = subprocess.Popen(
                runtime.command(spec, telemetry),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, **runtime.env},
                cwd=folder,
            )
        record = Record(
            spec=spec,
            state=DeploymentState.RUNNING,
            since=datetime.now(UTC).replace(microsecond=0),
            pid=process.pid,
            detail="started by the benchmark's setup",
        )
        (folder / RECORD).write_text(record.model_dump_json(indent=2), encoding="utf-8")


@dataclass
class PromotionDesk:
    root: Path
    repo: GitRepo
    forge: LocalForge
    registry: Registry


def build_promotion_desk(
    directory: Path, model: Path, bundle: Path, manifests: Path = TEST_DESK
) -> PromotionDesk:
    """A desk of ``manifests`` (the test desk: btc-trend in paper), btc-trend v1 registered."""
    scaffold = init_desk(directory, manifests)
    repo = GitRepo(scaffold.root)
    forge = open_forge(repo, ForgeKind.LOCAL, {})
    assert isinstance(forge, LocalForge)
    registry = Registry(resolve_location(None, environ={}, desk=lambda: scaffold.root))
    registry.register(
        "btc-trend", strategy_type=StrategyType.TREND, evidence=bundle, model_path=model
    )
    return PromotionDesk(scaffold.root, repo, forge, registry)


def prepare_promotion(desk: PromotionDesk) -> int:
    """Promote btc-trend v1 to canary: PR, CI's gate check published, approved. Not merged."""
    evaluator = registry_evaluator(desk.registry)
    done = promote(
        desk.repo,
        desk.forge,
        evaluator,
        PromotionRequest(
            strategy="btc-trend",
            version=1,
            target_stage=Stage.CANARY,
            allocation=50_000,
            analysis="trend-canary",
        ),
        author="rita",
        as_of=datetime.now(UTC).replace(microsecond=0),
    )
    if done.pull_request is None:
        assert done.report is not None
        raise RuntimeError(f"the promotion was refused:\n{done.report.markdown()}")
    desk.repo.fetch()
    check = check_gates(desk.repo, evaluator, "origin/main", done.pull_request.head_sha)
    publish(desk.forge, check, "ci")
    review_pull_request(
        desk.forge, done.pull_request.number, NewReview(reviewer="bob", state=ReviewState.APPROVED)
    )
    return done.pull_request.number


def controller_ticks(log: Path) -> list[dict[str, Any]]:
    """The controller's 'reconciled' log lines so far."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and entry.get("message") == "reconciled":
            found.append(entry)
    return found


def wait_for(condition: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            raise RuntimeError(f"timed out waiting for {what}; controller log:\n{tail}")
        time.sleep(POLL_SECONDS)


def start_controller(
    root: Path, interval: float, port: int, log: Path, speed: float | None = None
) -> subprocess.Popen[bytes]:
    """``stratops controller run`` on the desk at ``root`` (local forge), its output in ``log``."""
    command = [sys.executable, "-m", "stratops", "controller", "run", "--desk", str(root)]
    command += ["--interval", repr(interval), "--listen", f"127.0.0.1:{port}", "--forge", "local"]
    command += [] if speed is None else ["--speed", repr(speed)]
    with log.open("wb") as out:
        return subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def stop_controller(controller: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL its session after 30 s."""
    if controller.poll() is None:
        controller.send_signal(signal.SIGTERM)
        try:
            controller.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(controller.pid, signal.SIGKILL)
            controller.wait()
