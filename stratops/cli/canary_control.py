"""``stratops canary status|abort|pause|resume``: the canaries the controller is judging.

``status`` reads the runs the controller keeps (``.stratops/controller/analysis``): phase and
what it asks for, step, measurements so far, time left, and which limit would trip next, like
``kubectl argo rollouts get rollout``; for a canary ramped through steps, the ramp pull request
each passed step opened. ``abort``, ``pause`` and ``resume`` are the on-call
person's: each writes a request beside the run, which the controller acts on at its next tick
(abort: the analysis fails, the canary is halted and rolled back; pause: no measurement is
taken until resume), and records who asked and why in the audit log.

Exit codes: 0 done; 1 nothing is being analysed for the strategy named; 2 bad input.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from stratops.canary import AnalysisRun
from stratops.canary.headroom import headroom, time_left
from stratops.cli.desk import AS_OPTION, DESK_OPTION, acting_person, desk_root
from stratops.cli.output import (
    OUTPUT_OPTION,
    FreeText,
    OutputFormat,
    emit,
    fail,
    is_data,
    new_table,
    stdout,
)
from stratops.controller.analyses import AnalysisStore, CanaryControl, CanaryRequest
from stratops.controller.assembly import ControllerPaths
from stratops.controller.audit import AuditLog
from stratops.gitops.desk import load_desk
from stratops.gitops.git import GitRepo
from stratops.model.analysis import AnalysisTemplate
from stratops.model.base import human_duration

STRATEGY = typer.Argument(..., metavar="STRATEGY", help="The strategy whose canary it is.")
REASON = typer.Option(..., "--reason", help="Why, for the audit log and the rollback PR.")
EXIT_NOTHING = 1


def _store(root: Path) -> AnalysisStore:
    return AnalysisStore(ControllerPaths(root).analyses)


def _latest(runs: list[AnalysisRun]) -> dict[str, AnalysisRun]:
    """The newest run (version, then step) of each strategy."""
    latest: dict[str, AnalysisRun] = {}
    for run in runs:  # sorted by strategy, version, step
        latest[run.strategy] = run
    return latest


def _templates(root: Path) -> dict[str, AnalysisTemplate]:
    desk = load_desk([root / "manifests"])
    return {doc.name: doc for _, doc in desk.of_kind(AnalysisTemplate)}


def _view(run: AnalysisRun, control: CanaryControl, template: AnalysisTemplate | None) -> Any:
    limits = [] if template is None or run.live else headroom(run, template.spec)
    return {
        "stage": "live" if run.live else "canary",
        "strategy": run.strategy,
        "version": run.version,
        "step": run.step + 1,
        "steps": run.steps,
        "phase": run.phase.value,
        "action": run.action.value,
        "reason": run.reason,
        "paused": None if control.paused is None else control.paused.model_dump(mode="json"),
        "aborted": None if control.aborted is None else control.aborted.model_dump(mode="json"),
        "as_of": run.as_of.isoformat(),
        "time_left_seconds": time_left(run).total_seconds(),
        "measurements": len(run.measurements),
        "digest": run.digest,
        "limits": [
            {
                "metric": h.metric.value,
                "passed": h.passed,
                "min_passed": h.min_passed,
                "failed": h.failed,
                "failure_limit": h.failure_limit,
                "consecutive_failed": h.consecutive_failed,
                "consecutive_failure_limit": h.consecutive_failure_limit,
                "inconclusive": h.inconclusive,
                "inconclusive_limit": h.inconclusive_limit,
                "consecutive_errors": h.consecutive_errors,
                "consecutive_error_limit": h.consecutive_error_limit,
                "next_to_trip": h.next_to_trip,
            }
            for h in limits
        ],
    }


def _ramps(store: AnalysisStore, run: AnalysisRun) -> list[dict[str, int]]:
    """The ramp pull requests opened after the steps of ``run``'s canary passed, by step."""
    found = []
    for step in range(run.steps if run.steps > 1 else 0):
        ramped = store.ramped(run.strategy, run.version, step)
        if ramped is not None:
            found.append({"step": step + 1, "pull_request": ramped[1]})
    return found


def _step(view: dict[str, Any]) -> str:
    """``2/3``, and the ramp pull request the step opened when it passed."""
    opened = [r for r in view["ramps"] if r["step"] == view["step"]]
    ramp = f" → ramp PR #{opened[0]['pull_request']}" if opened else ""
    return f"{view['step']}/{view['steps']}{ramp}"


def _state(view: dict[str, Any]) -> str:
    state = f"{view['phase']} → {view['action']}"
    if view["aborted"]:
        return f"{state} (abort requested by {view['aborted']['by']})"
    if view["paused"]:
        return f"{state} (paused by {view['paused']['by']})"
    return state


def _show_live(views: list[dict[str, Any]]) -> None:
    table = new_table(
        "live guardrails (haltOn only)",
        *("strategy", "version", "phase", "as of"),
        FreeText("reason"),
    )
    for view in views:
        table.add_row(
            view["strategy"], f"v{view['version']}", _state(view), view["as_of"], view["reason"]
        )
    stdout.print(table)


def _show(views: list[dict[str, Any]], detail: bool) -> None:
    live = [view for view in views if view["stage"] == "live"]
    views = [view for view in views if view["stage"] == "canary"]
    if live:
        _show_live(live)
    if not views:
        return
    table = new_table(
        "canary analyses",
        *("strategy", "version", "step", "phase", "measurements", "time left", "as of"),
        FreeText("reason"),
    )
    for view in views:
        table.add_row(
            view["strategy"],
            f"v{view['version']}",
            _step(view),
            _state(view),
            str(view["measurements"]),
            human_duration(view["time_left_seconds"]),
            view["as_of"],
            view["reason"],
        )
    stdout.print(table)
    for view in views if detail else []:
        limits = new_table(
            f"{view['strategy']} v{view['version']}: limits (a limit trips when exceeded)",
            *("metric", "passed", "failed", "consecutive", "inconclusive", "errors in a row"),
            FreeText("next to trip"),
        )
        for h in view["limits"]:
            limits.add_row(
                h["metric"],
                f"{h['passed']}/{h['min_passed']}",
                f"{h['failed']}/{h['failure_limit']}",
                f"{h['consecutive_failed']}/{h['consecutive_failure_limit']}",
                f"{h['inconclusive']}/{h['inconclusive_limit']}",
                f"{h['consecutive_errors']}/{h['consecutive_error_limit']}",
                h["next_to_trip"],
            )
        stdout.print(limits)


def status(
    strategy: str | None = typer.Argument(
        None, metavar="[STRATEGY]", help="One strategy (all its versions); all when omitted."
    ),
    desk: Path | None = DESK_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
    watch: bool = typer.Option(False, "--watch", "-w", help="Refresh every 2 s until Ctrl-C."),
) -> None:
    """Show the canaries' analyses as the controller judged them at its last tick.

    One row per canary: version, step, phase and what it asks for (continue, promote,
    rollback, hold...), measurements so far, canary time left before it may pass, and the
    reason; live deployments' guardrails (their template's haltOn) in a table of their own.
    With STRATEGY, every analysed version of it and, per metric, the counts against
    each limit and the limit that would trip next. ``-o json`` for scripts.

    Example: stratops canary status
    Example: stratops canary status btc-trend --watch
    """
    root = desk_root(desk)
    while True:
        if watch and not is_data(output):
            stdout.clear()
        _status_once(root, strategy, output)
        if not watch:
            return
        time.sleep(2.0)


def _status_once(root: Path, strategy: str | None, output: OutputFormat) -> None:
    store = _store(root)
    runs, live = store.runs(strategy), store.live_runs(strategy)
    if strategy is None:
        runs, live = list(_latest(runs).values()), list(_latest(live).values())
    elif not runs and not live:
        fail(f"no canary analysis of {strategy!r} yet (the controller writes them)", EXIT_NOTHING)
    runs = [*live, *runs]
    templates = _templates(root)
    views = [
        {
            **_view(run, store.control(run.strategy, run.version), templates.get(run.template)),
            "ramps": _ramps(store, run),
        }
        for run in runs
    ]
    emit(views, output, lambda: _show(views, detail=strategy is not None))


def _request(root: Path, strategy: str, who: str | None, reason: str) -> tuple[AnalysisRun, str]:
    """The strategy's canary run being analysed, and who asks; exit 1 when there is none."""
    latest = _latest(_store(root).runs(strategy)).get(strategy)
    if latest is None or latest.phase.final:
        state = "none yet" if latest is None else f"v{latest.version} is {latest.phase.value}"
        fail(f"no canary analysis of {strategy!r} is running ({state})", EXIT_NOTHING)
    if not reason.strip():
        fail("--reason must say why")
    return latest, acting_person(GitRepo.discover(root), who)


def _ask(
    desk: Path | None,
    strategy: str,
    who: str | None,
    reason: str,
    action: str,
    change: Callable[[CanaryControl, CanaryRequest], CanaryControl | str],
) -> None:
    """Write the request ``change`` makes of the running canary's control, then audit it;
    ``change`` returns why it refuses instead (exit 2, nothing written)."""
    root = desk_root(desk)
    run, by = _request(root, strategy, who, reason)
    store = _store(root)
    request = CanaryRequest(by=by, reason=reason, at=datetime.now(UTC))
    control = change(store.control(run.strategy, run.version), request)
    if isinstance(control, str):
        fail(f"{strategy} v{run.version} {control}")
    store.save_control(run.strategy, run.version, control)
    AuditLog(ControllerPaths(root).audit).append(
        key=f"{action}:{run.strategy}:v{run.version}:{request.at.isoformat()}",
        at=request.at,
        actor=request.by,
        action=action,
        reason=request.reason,
        strategy=run.strategy,
        stage="canary",
        version=run.version,
    )
    stdout.print(
        f"{action.replace('_', ' ')}: {run.strategy} v{run.version} (the controller acts at "
        "its next tick)",
        highlight=False,
    )


def _resumed(control: CanaryControl, request: CanaryRequest) -> CanaryControl | str:
    return (
        "is not paused" if control.paused is None else control.model_copy(update={"paused": None})
    )


def abort(
    strategy: str = STRATEGY,
    reason: str = REASON,
    who: str | None = AS_OPTION,
    desk: Path | None = DESK_OPTION,
) -> None:
    """Fail the canary's analysis now: the controller halts it and opens the rollback PR.

    Example: stratops canary abort btc-trend --reason "venue outage, fills unreliable"
    """
    _ask(
        desk,
        strategy,
        who,
        reason,
        "canary_abort",
        lambda c, r: c.model_copy(update={"aborted": r}),
    )


def pause(
    strategy: str = STRATEGY,
    reason: str = REASON,
    who: str | None = AS_OPTION,
    desk: Path | None = DESK_OPTION,
) -> None:
    """Stop measuring the canary until ``resume``; it keeps trading, nothing is decided.

    Example: stratops canary pause btc-trend --reason "exchange maintenance window"
    """
    _ask(
        desk, strategy, who, reason, "canary_pause", lambda c, r: c.model_copy(update={"paused": r})
    )


def resume(
    strategy: str = STRATEGY,
    reason: str = REASON,
    who: str | None = AS_OPTION,
    desk: Path | None = DESK_OPTION,
) -> None:
    """Measure a paused canary again (the windows missed while paused are measured too).

    Example: stratops canary resume btc-trend --reason "maintenance over"
    """
    _ask(desk, strategy, who, reason, "canary_resume", _resumed)
