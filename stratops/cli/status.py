"""``stratops status`` and ``stratops ui``: the desk at a glance, in the terminal or a browser."""

from __future__ import annotations

import signal
import threading
import time
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import FrameType

import typer

from stratops.cli.desk import DESK_OPTION, desk_root
from stratops.cli.gitops import FORGE_OPTION
from stratops.cli.output import (
    EXIT_BAD_INPUT,
    FreeText,
    OutputFormat,
    emit,
    fail,
    new_table,
    stdout,
)
from stratops.cli.registry import TRACKING_URI_OPTION
from stratops.controller.assembly import ControllerPaths, build_reconciler
from stratops.controller.observability import Metrics, Probes, serve
from stratops.gitops.errors import ForgeError, GitError
from stratops.gitops.forge.select import ForgeKind
from stratops.registry.errors import RegistryError
from stratops.status.alerting import AlertsSource, AlertsState
from stratops.status.alertmanager import ALERTMANAGER_ENV, AlertFeed
from stratops.status.board import PreviewBoard, alerted, dashboard, detail_alerted
from stratops.status.collect import DeskStatus
from stratops.status.detail import StrategyDetail
from stratops.status.endpoint import (
    TOKEN_ENV,
    TOKEN_OPTION,
    ServerUnreachable,
    get_json,
    read_endpoint,
)
from stratops.status.markets import MarketRegime
from stratops.status.rows import StatusRow, age
from stratops.status.web import is_loopback

SERVER_ENV = "STRATOPS_SERVER"


def _http_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise typer.BadParameter(f"{value!r} is not an http(s) URL, e.g. http://127.0.0.1:9093")
    return value


ALERTMANAGER_OPTION = typer.Option(
    None,
    "--alertmanager",
    envvar=ALERTMANAGER_ENV,
    metavar="URL",
    callback=_http_url,
    help="Alertmanager to read the firing alerts from (GET URL/api/v2/alerts), matched to "
    "rows by their strategy and stage labels. Without it the alerts column shows '-' "
    '(JSON: alerts.state "not configured").',
)


class StatusFormat(StrEnum):
    TABLE = "table"
    WIDE = "wide"
    JSON = "json"
    YAML = "yaml"


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("ui")(ui)


def _board(
    desk: Path, tracking_uri: str | None, forge: ForgeKind, alertmanager: str | None
) -> PreviewBoard:
    try:
        reconciler = build_reconciler(desk, tracking_uri=tracking_uri, forge=forge)
    except (GitError, ForgeError, RegistryError) as exc:
        fail(f"cannot read the desk {desk}: {exc}")
    return PreviewBoard(reconciler, AlertFeed(alertmanager))


def _fetch(
    strategy: str | None,
    server: str | None,
    token: str,
    desk: Path | None,
    tracking_uri: str | None,
    forge: ForgeKind,
    alertmanager: str | None,
) -> DeskStatus | StrategyDetail | None:
    """From the controller's API when one answers, else computed here from the desk.

    With ``alertmanager``, its alerts replace those the controller's API shows.
    """
    feed = AlertFeed(alertmanager)
    root = None
    if server is None:
        root = desk_root(desk)
        server = read_endpoint(ControllerPaths(root).endpoint)
    if server is not None:
        path = "/api/v1/status" if strategy is None else f"/api/v1/strategies/{strategy}"
        try:
            data = get_json(server, path, token or None)
        except ServerUnreachable as exc:
            if root is None:  # asked for that server by name
                fail(f"cannot reach the controller: {exc}", 3)
        else:
            if strategy is not None:
                found = StrategyDetail.model_validate(data)
                return found if alertmanager is None else detail_alerted(found, feed())
            status = DeskStatus.model_validate(data)
            return status if alertmanager is None else alerted(status, feed())
    board = _board(root or desk_root(desk), tracking_uri, forge, alertmanager)
    if strategy is None:
        return board.status()
    return board.strategy(strategy)


def status(
    strategy: str | None = typer.Argument(
        None,
        help="One strategy: its stages, versions, latest report, analysis runs, breaks and "
        "history.",
        show_default=False,
    ),
    desk: Path | None = DESK_OPTION,
    server: str | None = typer.Option(
        None,
        "--server",
        envvar=SERVER_ENV,
        help="The controller's API (http://host:port). Default: the running controller of "
        "the desk if it serves one, else computed from the desk and registry directly.",
    ),
    token: str = TOKEN_OPTION,
    watch: bool = typer.Option(False, "--watch", "-w", help="Refresh every 2 s until Ctrl-C."),
    output: StatusFormat = typer.Option(
        StatusFormat.TABLE,
        "--output",
        "-o",
        help="table; wide (adds reasons, instances, since); json or yaml for scripts.",
    ),
    alertmanager: str | None = ALERTMANAGER_OPTION,
    tracking_uri: str = TRACKING_URI_OPTION,
    forge: ForgeKind = FORGE_OPTION,
) -> None:
    """One row per (strategy, stage): Git, what runs, sync, health, canary, breaks, alerts.

    Sync: Synced, OutOfSync (the controller has work left), Refused (the change on main was
    refused; -o wide says why), Blocked (the version is not registered or its evidence does not
    verify). Health: Healthy, Progressing, Degraded, CrashLoop, Halted, Missing. BREAKS: open
    and aged reconciliation breaks (- before any recon run). ALERTS: firing alerts from
    --alertmanager (- when none is configured). Below the table: the market regime now
    (thin, normal, peak, with the weekend and funding overlays) of each venue/symbol.

    Exit codes:
    0  shown
    1  a strategy named that the desk and registry do not know
    2  not a desk
    3  --server given and it cannot be reached

    Example: stratops status -o wide
    Example: stratops status btc-trend
    """
    while True:
        found = _fetch(
            strategy, server, token, desk, tracking_uri, forge=forge, alertmanager=alertmanager
        )
        if found is None and strategy is not None:
            fail(f"no strategy {strategy!r} in the desk or the registry", 1)
        if watch and output in (StatusFormat.TABLE, StatusFormat.WIDE):
            stdout.clear()
        _show(found, output)
        if not watch:
            return
        time.sleep(2.0)


def _show(found: DeskStatus | StrategyDetail | None, output: StatusFormat) -> None:
    wide = output is StatusFormat.WIDE
    if output in (StatusFormat.JSON, StatusFormat.YAML):
        data = None if found is None else found.model_dump(mode="json")
        emit(data, OutputFormat(output.value), lambda: None)
        return
    if found is None:
        stdout.print("The controller has not completed a reconcile tick yet.")
    elif isinstance(found, DeskStatus):
        title = f"{found.desk} at {(found.head or '-')[:12]} ({found.source})"
        stdout.print(_rows_table(title, found.rows, wide))
        if found.markets:
            stdout.print(_markets_table(found.markets, wide))
        stdout.print(_alerts_line(found.alerts), highlight=False, markup=False)
        for problem in found.problems:
            stdout.print(f"problem: {problem}")
    else:
        _strategy(found, wide)


def _rows_table(title: str, rows: list[StatusRow], wide: bool) -> object:
    now = datetime.now(UTC)
    columns: list[str | FreeText] = [
        "STRATEGY", "STAGE", "GIT", "RUNNING", "SYNC", "HEALTH", "CANARY", "BREAKS", "ALERTS",
        "LAST EVENT", "AGE",
    ]  # fmt: skip
    if wide:
        columns += ["INSTANCE", "SINCE", FreeText("REASON")]
    table = new_table(title, *columns)
    for row in rows:
        cells = [
            row.strategy,
            row.stage.value,
            _at(row.desired_version, row.desired_allocation),
            _at(row.running_version, row.running_allocation),
            row.sync.value,
            "-" if row.health is None else row.health.value,
            (row.canary_phase or "-")
            + ("" if row.canary_step is None else f" step {row.canary_step}"),
            "-" if row.recon_breaks is None else str(row.recon_breaks),
            "-" if row.alerts is None else ", ".join(row.alerts) or "none",
            row.last_event or "-",
            age(row.last_event_at, now),
        ]
        if wide:
            since = "-" if row.since is None else row.since.isoformat()
            reason = "; ".join(r for r in (row.sync_reason, row.health_detail) if r) or "-"
            cells += [row.instance or "-", since, reason]
        table.add_row(*cells)
    return table


def _markets_table(markets: list[MarketRegime], wide: bool) -> object:
    columns = ["VENUE", "SYMBOL", "REGIME", "OVERLAYS", "VOLUME/MEDIAN"]
    table = new_table("market regime now", *columns, *(["PROFILE"] if wide else []))
    for m in markets:
        cells = [
            m.venue,
            m.symbol,
            "-" if m.regime is None else m.regime.value,
            ", ".join(m.overlays) or "-",
            "-" if m.liquidity_ratio is None else f"{m.liquidity_ratio:.2f}",
        ]
        if wide:
            cells.append(
                m.note if m.dataset is None else f"{m.dataset} {(m.profile_digest or '')[:12]}"
            )
        table.add_row(*cells)
    return table


def _alerts_line(alerts: AlertsState) -> str:
    if alerts.state is AlertsSource.NOT_CONFIGURED:
        return "alerts: not configured (--alertmanager URL)"
    if alerts.state is AlertsSource.ERROR:
        return f"alerts: {alerts.url}: {alerts.error}"
    desk = [a for a in alerts.firing if a.strategy is None]
    extra = f"; desk: {', '.join(a.name for a in desk)}" if desk else ""
    return f"alerts: {len(alerts.firing)} firing at {alerts.url}{extra}"


def _at(version: int | None, allocation: float | None) -> str:
    return "-" if version is None else f"v{version} @ {allocation or 0:,.0f}"


def _strategy(found: StrategyDetail, wide: bool) -> None:
    stdout.print(_rows_table(f"{found.strategy}: stages", found.rows, wide))
    versions = new_table(
        f"{found.strategy}: {len(found.versions)} version(s)",
        "VERSION", "ALIASES", "EVIDENCE", "TRIALS", "REGISTERED",
    )  # fmt: skip
    for v in found.versions:
        trials = f"{v.trials_declared if v.trials_declared is not None else '-'}"
        versions.add_row(
            f"v{v.version}",
            ", ".join(v.aliases) or "-",
            (v.evidence_digest or "-")[:12],
            trials,
            v.created_at.isoformat(),
        )
    stdout.print(versions)
    if found.reports:
        stdout.print(_reports_table(found))
    for line in _analysis_lines(found):
        stdout.print(line, highlight=False, markup=False)
    if found.breaks:
        breaks = new_table(
            f"{found.strategy}: reconciliation breaks",
            "STAGE", "CLASS", "SEVERITY", "STATE", "SYMBOL", "FIRST SEEN", FreeText("DETAIL"),
        )  # fmt: skip
        for b in found.breaks:
            breaks.add_row(b.stage, b.kind.value, b.severity.value, b.state.value, b.symbol,
                           b.first_seen.isoformat(), b.detail)  # fmt: skip
        stdout.print(breaks)
    history = new_table(
        f"{found.strategy}: history",
        "#", "AT", "EVENT", "STAGE", "VERSION", "PR", "APPROVERS", FreeText("REASON"),
    )  # fmt: skip
    for h in found.history:
        history.add_row(
            str(h.sequence),
            h.at,
            h.action,
            h.stage or "-",
            "-" if h.version is None else f"v{h.version}",
            "-" if h.pull_request is None else f"#{h.pull_request}",
            ", ".join(h.approvers) or "-",
            h.reason,
        )
    stdout.print(history)


def _analysis_lines(found: StrategyDetail) -> list[str]:
    """A line per stored analysis run: phase → action, the reason, the digest."""
    lines = [f"analysis: {found.analyses_note}"] if found.analyses_note else []
    for stored in found.analyses:
        run = stored.run
        lines.append(
            f"analysis v{run.version} step {run.step + 1}/{run.steps} ({run.template}): "
            f"{run.phase.value} -> {run.action.value}: {run.reason} "
            f"[{len(run.measurements)} measurements, sha256 {stored.digest[:12]}]"
        )
    return lines


def _reports_table(found: StrategyDetail) -> object:
    table = new_table(
        f"{found.strategy}: latest report (stratops report --log-to-registry)",
        "VERSION", "STAGE", "TO", "NET", "NET RETURN", "MAX DD", "FILLS", "DECAY",
        FreeText("FILES"),
    )  # fmt: skip
    for p in found.reports:
        table.add_row(
            f"v{p.version}",
            p.stage or "-",
            p.end or "-",
            "-" if p.net is None else f"{p.net:,.0f}",
            "-" if p.net_return is None else f"{p.net_return:.2%}",
            "-" if p.max_drawdown is None else f"{p.max_drawdown:.2%}",
            "-" if p.fills is None else str(p.fills),
            p.note or (p.decay or "not judged").replace("_", " "),
            f"reports/{p.folder}/: " + ", ".join(p.files),
        )
    return table


def ui(
    desk: Path | None = DESK_OPTION,
    listen: str = typer.Option(
        "127.0.0.1:8080", "--listen", help="host:port to serve the dashboard on."
    ),
    token: str = TOKEN_OPTION,
    alertmanager: str | None = ALERTMANAGER_OPTION,
    tracking_uri: str = TRACKING_URI_OPTION,
    forge: ForgeKind = FORGE_OPTION,
) -> None:
    """Serve the read-only dashboard of a desk without a controller.

    The same pages and /api/v1 as `stratops controller run --listen`, computed from the desk
    and the registry on request. On a non-loopback address a token is required. Ctrl-C stops
    it.

    Example: stratops ui --listen 127.0.0.1:8080
    """
    host, _, port = listen.rpartition(":")
    host = host or "127.0.0.1"
    if not token and not is_loopback(host):
        fail(f"serving on {host} needs a token: pass --token or set ${TOKEN_ENV}", EXIT_BAD_INPUT)
    board = _board(desk_root(desk), tracking_uri, forge, alertmanager)
    probes = Probes(stale_after_seconds=float("inf"))
    probes.ticked()
    try:
        server, _ = serve(Metrics(), probes, host, int(port), pages=dashboard(board, token or None))
    except (OSError, ValueError) as exc:
        fail(f"cannot listen on {listen}: {exc}")
    stop = threading.Event()

    def stop_on_signal(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        stop.set()

    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGINT, stop_on_signal)
    stdout.print(f"serving the dashboard of {board.reconciler.repo.root} on "
                 f"http://{host}:{server.server_address[1]}/ (Ctrl-C stops)")  # fmt: skip
    stop.wait()
    server.shutdown()
