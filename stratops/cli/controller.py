"""``stratops controller`` and ``stratops audit``: reconcile the desk, read the audit log."""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import threading
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from types import FrameType

import typer

from stratops.cli.desk import DESK_OPTION, desk_root
from stratops.cli.gitops import FORGE_OPTION
from stratops.cli.output import (
    EXIT_BAD_INPUT,
    EXIT_NEGATIVE,
    OUTPUT_OPTION,
    FreeText,
    OutputFormat,
    emit,
    fail,
    new_table,
    render_problems,
    stdout,
)
from stratops.cli.registry import TRACKING_URI_OPTION
from stratops.cli.status import ALERTMANAGER_OPTION
from stratops.controller.assembly import ControllerPaths, build_notifier, build_reconciler
from stratops.controller.audit import AuditLog, verify_chain
from stratops.controller.audit_remote import AUDIT_BRANCH, AUDIT_FILE, remote_audit
from stratops.controller.cluster import api_client, kubernetes_parts, read_runtime_config
from stratops.controller.leader import LeaderElectionError, LeaseElector
from stratops.controller.loop import run, summary
from stratops.controller.observability import Metrics, Probes, json_logging, serve
from stratops.controller.reconcile import Reconciler, TickResult
from stratops.gitops.errors import ForgeError, GitError
from stratops.gitops.forge.select import ForgeKind
from stratops.gitops.git import GitRepo
from stratops.model.base import DNS_LABEL_PATTERN, DNS_LABEL_RULE
from stratops.model.deployment import DeploymentStatus
from stratops.model.problems import InvalidDocumentError
from stratops.registry.errors import RegistryError
from stratops.runtime.base import Runtime, RuntimeFailure
from stratops.runtime.k8s_api import KubeConfigError
from stratops.status.alertmanager import AlertFeed
from stratops.status.board import StatusBoard, dashboard
from stratops.status.endpoint import TOKEN_OPTION, write_endpoint
from stratops.status.web import is_loopback


def register(app: typer.Typer) -> None:
    controller = typer.Typer(
        help="Reconcile running deployments with Git.",
        epilog="Example: stratops controller plan --no-fetch",
        no_args_is_help=True,
    )
    controller.command("run")(controller_run)
    controller.command("plan")(controller_plan)
    app.add_typer(controller, name="controller")
    audit = typer.Typer(
        help="The tamper-evident audit log.",
        epilog="Example: stratops audit verify",
        no_args_is_help=True,
    )
    audit.command("log")(audit_log)
    audit.command("show")(audit_show)
    audit.command("verify")(audit_verify)
    app.add_typer(audit, name="audit")


DEFAULT_LISTEN = "127.0.0.1:9090"


class RuntimeKind(StrEnum):
    LOCAL = "local"
    KUBERNETES = "kubernetes"


def _reconciler(
    desk: Path,
    tracking_uri: str | None,
    forge: ForgeKind,
    metrics: Metrics | None,
    speed: float,
    runtime: Runtime | None = None,
    is_leader: Callable[[], bool] = lambda: True,
) -> Reconciler:
    try:
        return build_reconciler(
            desk,
            tracking_uri=tracking_uri,
            forge=forge,
            metrics=metrics,
            speed=speed,
            runtime=None if runtime is None else (lambda _root, _registry: runtime),
            is_leader=is_leader,
        )
    except (GitError, ForgeError, RegistryError) as exc:
        fail(f"cannot start the controller for {desk}: {exc}")


def _checkout(repo_url: str, state: Path) -> Path:
    """The controller's own clone of the desk repository under ``state``."""
    clone = state / "desk"
    if not (clone / ".git").exists():
        state.mkdir(parents=True, exist_ok=True)
        try:
            GitRepo.clone(repo_url, clone).close()
        except GitError as exc:
            fail(f"cannot clone {repo_url}: {exc}")
    return clone


def _cluster(
    runtime_config: Path | None,
    kubeconfig: str | None,
    lease_name: str,
    identity: str,
    telemetry_mirror: Path,
) -> tuple[Runtime, LeaseElector]:
    if runtime_config is None:
        fail("--runtime kubernetes needs --runtime-config FILE (a KubernetesRuntimeConfig)")
    try:
        config = read_runtime_config(runtime_config)
        return kubernetes_parts(
            config, api_client(kubeconfig), lease_name, identity, telemetry_mirror
        )
    except InvalidDocumentError as exc:
        render_problems(exc.problems)
        fail(f"{runtime_config} is not a valid runtime configuration")
    except (KubeConfigError, RuntimeFailure, ValueError) as exc:
        fail(f"cannot reach Kubernetes: {exc}")


def controller_run(
    desk: Path | None = DESK_OPTION,
    repo_url: str = typer.Option(
        None,
        "--repo",
        help="Desk repository URL to clone into --state (instead of --desk): for a pod.",
    ),
    state: Path = typer.Option(
        Path(".stratops-controller"), "--state", help="Where --repo is cloned."
    ),
    interval: float = typer.Option(10.0, "--interval", help="Seconds between two ticks."),
    listen: str = typer.Option(
        None,
        "--listen",
        help="host:port of /metrics, /healthz, /readyz and POST /webhook (empty: off). "
        f"Default: {DEFAULT_LISTEN}, or off with --once.",
    ),
    once: bool = typer.Option(
        False,
        "--once",
        help="Reconcile once, print what runs; exit 1 if an action failed or a deployment is "
        "blocked.",
    ),
    output: OutputFormat = OUTPUT_OPTION,
    runtime_kind: RuntimeKind = typer.Option(
        RuntimeKind.LOCAL, "--runtime", help="local: OS processes; kubernetes: Deployments."
    ),
    runtime_config: Path = typer.Option(
        None, "--runtime-config", help="KubernetesRuntimeConfig YAML (--runtime kubernetes)."
    ),
    kubeconfig: str = typer.Option(
        None, "--kubeconfig", help="Kubeconfig file; default: in-cluster, else $KUBECONFIG."
    ),
    lease_name: str = typer.Option(
        "stratops-controller", "--lease-name", help="The Lease replicas elect a leader with."
    ),
    identity: str = typer.Option(
        socket.gethostname(), "--identity", help="This replica's name in the Lease (the pod)."
    ),
    speed: float = typer.Option(
        3600.0, "--speed", help="Replay speed of the paper processes of the local runtime."
    ),
    tracking_uri: str = TRACKING_URI_OPTION,
    forge: ForgeKind = FORGE_OPTION,
    token: str = TOKEN_OPTION,
    alertmanager: str | None = ALERTMANAGER_OPTION,
) -> None:
    """Watch the desk's main branch and make the running deployments match it.

    Logs one JSON line per tick on stderr. Stops cleanly on SIGTERM or Ctrl-C. With
    --runtime kubernetes, replicas elect a leader through a Lease: only the leader acts.
    With --once: one tick, then a line per deployment (or -o json); exit 1 if an action failed.

    Example: stratops controller run --desk . --interval 10
    """
    if listen is None:
        listen = "" if once else DEFAULT_LISTEN
    # --once prints its own summary: its log carries only warnings and errors
    logger = json_logging(logging.WARNING if once else logging.INFO)
    metrics = Metrics()
    probes = Probes(stale_after_seconds=max(60.0, interval * 6))
    folder = _checkout(repo_url, state) if repo_url else desk_root(desk)
    elector: LeaseElector | None = None
    runtime: Runtime | None = None
    if runtime_kind is RuntimeKind.KUBERNETES:
        runtime, elector = _cluster(
            runtime_config, kubeconfig, lease_name, identity, ControllerPaths(folder).telemetry
        )
    reconciler = _reconciler(
        folder,
        tracking_uri,
        forge,
        metrics,
        speed,
        runtime=runtime,
        is_leader=elector.is_leader if elector else lambda: True,
    )
    stop, trigger = threading.Event(), threading.Event()

    def stop_on_signal(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        stop.set()
        trigger.set()

    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGINT, stop_on_signal)
    server = None
    board = StatusBoard(reconciler, AlertFeed(alertmanager))
    endpoint = ControllerPaths(reconciler.repo.root).endpoint
    if listen:
        host, _, port = listen.rpartition(":")
        host = host or "127.0.0.1"
        pages = None
        if token or is_loopback(host):
            pages = dashboard(board, token or None)
        else:
            logger.warning(
                "dashboard off: bound to a non-loopback address without a token",
                extra={"listen": listen, "hint": "set --token or $STRATOPS_UI_TOKEN"},
            )
        try:
            server, _ = serve(metrics, probes, host, int(port), trigger.set, pages=pages)
        except (OSError, ValueError) as exc:
            fail(f"cannot listen on {listen}: {exc}")
        write_endpoint(endpoint, host, server.server_address[1])
    try:
        result = run(
            reconciler,
            interval=interval,
            stop=stop,
            trigger=trigger,
            probes=probes,
            audit_log=ControllerPaths(reconciler.repo.root).audit,
            acquire_leadership=_leadership(elector, logger),
            once=once,
            logger=logger,
            notifier=build_notifier(reconciler, os.environ, metrics),
            on_tick=board.update if server is not None else None,
        )
    finally:
        if elector is not None:
            elector.release()
        if server is not None:
            server.shutdown()
            endpoint.unlink(missing_ok=True)
    if once:
        _report_once(result, reconciler.runtime, output)


def _report_once(result: TickResult | None, runtime: Runtime, output: OutputFormat) -> None:
    """What one tick did and what runs now; exit 1 when the tick failed, an action failed or a
    declared deployment is blocked (its version is not registered or its evidence is altered).
    """
    running = runtime.list()
    payload = {} if result is None else summary(result)

    def human() -> None:
        for status in running:
            stdout.print(deployment_line(status), highlight=False, markup=False)
        if not running:
            stdout.print("no deployments", highlight=False)
        if result is not None:
            for action, why in result.failed:
                stdout.print(
                    f"failed: {action.kind.value} {action.strategy}/{action.stage.value}: {why}",
                    highlight=False,
                    markup=False,
                )
            for name, (stage, version, verdict) in result.refused.items():
                stdout.print(
                    f"refused: {name} v{version} → {stage.value}: {verdict.reason}",
                    highlight=False,
                    markup=False,
                )
            for (name, stage), blocked in sorted(result.blocked.items()):
                stdout.print(
                    f"blocked: {name}/{stage.value} v{blocked.version} ({blocked.code}): "
                    f"{blocked.reason}",
                    highlight=False,
                    markup=False,
                )

    emit({**payload, "deployments": [_deployment_json(s) for s in running]}, output, human)
    if result is None or result.failed or result.blocked:
        raise typer.Exit(EXIT_NEGATIVE)


def deployment_line(status: DeploymentStatus) -> str:
    """``btc-trend/canary v4 @ 10,000 running (pid 8571)``."""
    spec = status.spec
    detail = f": {status.detail}" if status.detail else ""
    return (
        f"{spec.strategy}/{spec.stage.value} v{spec.version} @ {spec.allocation:,.0f} "
        f"{status.state.value} (pid {status.instance}){detail}"
    )


def _deployment_json(status: DeploymentStatus) -> dict[str, object]:
    spec = status.spec
    return {
        "strategy": spec.strategy,
        "stage": spec.stage.value,
        "version": spec.version,
        "allocation": spec.allocation,
        "state": status.state.value,
        "instance": status.instance,
        "since": status.since.isoformat(),
        "detail": status.detail,
    }


def _leadership(elector: LeaseElector | None, logger: logging.Logger) -> Callable[[], bool]:
    if elector is None:
        return lambda: True

    def acquire() -> bool:
        try:
            return elector.try_acquire_or_renew()
        except LeaderElectionError as exc:
            logger.error("leader election refused", extra={"error": str(exc)})
            return False

    return acquire


def controller_plan(
    desk: Path | None = DESK_OPTION,
    tracking_uri: str = TRACKING_URI_OPTION,
    forge: ForgeKind = FORGE_OPTION,
    fetch: bool = typer.Option(True, "--fetch/--no-fetch", help="Fetch the remote first."),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Show what the controller would do, without doing it (like terraform plan).

    Example: stratops controller plan --no-fetch
    """
    result = _reconciler(desk_root(desk), tracking_uri, forge, None, 3600.0).preview(fetch=fetch)
    actions = [] if result.plan is None else result.plan.actions
    table = new_table("Plan", "#", "action", "deployment", "version", FreeText("why"))
    for number, action in enumerate(actions, start=1):
        before = "" if action.from_version is None else f"v{action.from_version} → "
        after = "-" if action.version is None else f"v{action.version}"
        table.add_row(
            str(number),
            action.kind.value,
            f"{action.strategy}/{action.stage.value}",
            f"{before}{after}",
            action.reason,
        )

    def human() -> None:
        stdout.print(f"main at {(result.head or '?')[:12]}: {len(actions)} action(s)")
        if actions:
            stdout.print(table)
        for name, (stage, version, verdict) in result.refused.items():
            stdout.print(f"[red]refused[/] {name} v{version} → {stage.value}: {verdict.reason}")
        for problem in result.problems:
            stdout.print(f"[yellow]problem[/] {problem}")

    planned = {
        **summary(result),
        "actions": [a.model_dump(mode="json", exclude={"spec"}) for a in actions],
    }
    emit(planned, output, human)


def _audit_path(desk: Path | None) -> Path:
    try:
        return ControllerPaths(GitRepo.discover(desk_root(desk)).root).audit
    except GitError as exc:
        fail(f"{desk} is not a desk repository: {exc}", EXIT_BAD_INPUT)


def audit_log(
    desk: Path | None = DESK_OPTION,
    strategy: str = typer.Option(None, "--strategy", help="Only the events of this strategy."),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Print the audit log, oldest first.

    Example: stratops audit log --strategy btc-trend
    """
    if strategy is not None and not re.fullmatch(DNS_LABEL_PATTERN, strategy):
        fail(f"--strategy {strategy!r} is not a strategy name: {DNS_LABEL_RULE}", EXIT_BAD_INPUT)
    events = [
        e
        for e in AuditLog(_audit_path(desk)).events()
        if strategy is None or e.strategy == strategy
    ]
    table = new_table(
        f"Audit log: {len(events)} event(s)",
        *("#", "at", "action", "deployment", "commit", FreeText("why")),
    )
    for e in events:
        where = "-" if e.strategy is None else f"{e.strategy}/{e.stage or '*'}"
        version = "" if e.version is None else f" v{e.version}"
        pull = e.details.get("pull_request")  # the change's PR: the story reads with numbers
        cited = pull is None or f"PR #{pull}" in e.reason
        table.add_row(
            str(e.sequence),
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            e.action,
            where + version,
            (e.commit or "")[:12],
            e.reason if cited else f"{e.reason} (PR #{pull})",
        )
    emit([e.model_dump(mode="json") for e in events], output, lambda: stdout.print(table))


def audit_show(
    sequence: int = typer.Argument(
        ..., min=1, metavar="SEQUENCE", help="The event's number (# in log)."
    ),
    desk: Path | None = DESK_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Print one audit event whole: who, what, why, and every detail recorded with it.

    Example: stratops audit show 3 -o yaml
    """
    events = AuditLog(_audit_path(desk)).events()
    event = next((e for e in events if e.sequence == sequence), None)
    if event is None:
        last = f"events are 1 to {len(events)}" if events else "the log is empty"
        fail(f"no audit event {sequence}: {last}", EXIT_BAD_INPUT)
    data = event.model_dump(mode="json")

    def human() -> None:
        fields = {k: v for k, v in data.items() if k != "details"}
        fields.update({f"details.{k}": v for k, v in sorted(event.details.items())})
        width = max(len(k) for k in fields)
        for key, value in fields.items():
            shown = "-" if value is None else value
            stdout.print(f"{key:<{width}}  {shown}", highlight=False, markup=False)

    emit(data, output, human)


def audit_verify(
    desk: Path | None = DESK_OPTION,
    remote: bool = typer.Option(
        True, "--remote/--no-remote", help=f"Also compare with the replica on {AUDIT_BRANCH}."
    ),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Check the hash chain; exit 1 naming the first broken link.

    Example: stratops audit verify --no-remote
    """
    path = _audit_path(desk)
    broken = verify_chain(path)
    rewritten = False
    if broken is None and remote:
        try:
            _, replica = remote_audit(GitRepo.discover(desk_root(desk)))
        except GitError as exc:
            fail(f"cannot read the replica on {AUDIT_BRANCH}: {exc}", EXIT_BAD_INPUT)
        local = path.read_bytes() if path.exists() else b""
        rewritten = not local.startswith(replica)
    count = None if broken is not None else len(AuditLog(path).events())
    verdict = {
        "ok": broken is None and not rewritten,
        "log": str(path),
        "events": count,
        "brokenLink": None if broken is None else broken.model_dump(),
        "replicaChecked": remote and broken is None,
        "replicaRewritten": rewritten,
    }

    def human() -> None:
        if verdict["ok"]:
            stdout.print(f"[green]audit log intact:[/] {count} event(s), chain verified")

    emit(verdict, output, human)
    if broken is not None:
        fail(f"{path}:{broken.line}: broken link at event {broken.sequence}: {broken.message}", 1)
    if rewritten:
        fail(
            f"{AUDIT_BRANCH}:{AUDIT_FILE} is not a prefix of {path}: a log was rewritten",
            EXIT_NEGATIVE,
        )
