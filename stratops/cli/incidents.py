"""``stratops incident open|note|close|list``: an incident's timeline in the audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from stratops.cli.desk import AS_OPTION, DESK_OPTION, acting_person, desk_root
from stratops.cli.output import (
    OUTPUT_OPTION,
    FreeText,
    OutputFormat,
    emit,
    fail,
    new_table,
    render_problems,
    stdout,
)
from stratops.controller.assembly import ControllerPaths
from stratops.controller.audit import AuditEvent, AuditLog
from stratops.gitops.desk import load_desk
from stratops.gitops.git import GitRepo
from stratops.gitops.snapshot import MANIFESTS
from stratops.incidents.timeline import CLOSED, NOTE, OPENED, incident_of, incident_table
from stratops.model.alerts import AlertRule
from stratops.model.runbook import SECTIONS, Context, Runbook


def register(app: typer.Typer) -> None:
    incident = typer.Typer(
        help="Incidents: open, note the runbook steps taken, close; kept in the audit log.",
        epilog='Example: stratops incident open slippage-high --summary "slippage at 3am"',
        no_args_is_help=True,
    )
    incident.command("open")(incident_open)
    incident.command("note")(incident_note)
    incident.command("close")(incident_close)
    incident.command("list")(incident_list)
    app.add_typer(incident, name="incident")


def _repo(desk: Path | None) -> GitRepo:
    return GitRepo.discover(desk_root(desk))


def _log(repo: GitRepo) -> AuditLog:
    return AuditLog(ControllerPaths(repo.root).audit)


def _opened(log: AuditLog, incident: int) -> tuple[AuditEvent, bool]:
    """The opening event of ``incident`` and whether it is closed, or exit 2."""
    events = log.events()
    opened = next((e for e in events if e.action == OPENED and e.sequence == incident), None)
    if opened is None:
        fail(f"no incident {incident}: an incident is named by its opening event's number")
    closed = any(e.action == CLOSED and incident_of(e) == incident for e in events)
    return opened, closed


def incident_open(
    alert: str = typer.Argument(..., metavar="ALERT", help="The AlertRule that fired."),
    summary: str = typer.Option(..., "--summary", help="What is happening, in a line."),
    strategy: str | None = typer.Option(None, "--strategy", help="The strategy concerned."),
    context: Context | None = typer.Option(None, "--regime", help="The market context."),
    who: str | None = AS_OPTION,
    desk: Path | None = DESK_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Open an incident for ALERT; its number is printed, for note and close.

    Exit 2 when the alert is not one of the desk's AlertRules.

    Example: stratops incident open slippage-high --strategy btc-mm --summary "slippage at 3am"
    """
    repo = _repo(desk)
    documents = load_desk([repo.root / MANIFESTS])
    if documents.problems:
        render_problems(documents.problems)
        raise typer.Exit(2)
    rules = {doc.name: doc for _, doc in documents.of_kind(AlertRule)}
    if alert not in rules:
        fail(f"no AlertRule {alert!r} in the desk (known: {', '.join(sorted(rules)) or 'none'})")
    actor, at = acting_person(repo, who), datetime.now(UTC)
    event = _log(repo).append(
        key=f"incident/{alert}/{at.isoformat()}/{actor}",
        at=at,
        actor=actor,
        action=OPENED,
        reason=summary,
        strategy=strategy,
        details={
            "alert": alert,
            "runbook": rules[alert].spec.runbook,
            "context": None if context is None else context.value,
        },
    )
    emit(
        {"incident": event.sequence, "at": event.at.isoformat(), "actor": actor},
        output,
        lambda: stdout.print(
            f"incident {event.sequence} opened by {actor}: {summary}", markup=False
        ),
    )


def _step(repo: GitRepo, runbook_name: str, step: str) -> str:
    """The text of ``section.N`` of the runbook, or exit 2 naming the valid steps."""
    documents = load_desk([repo.root / MANIFESTS])
    runbook = next((d for _, d in documents.of_kind(Runbook) if d.name == runbook_name), None)
    section, _, number = step.partition(".")
    steps = getattr(runbook.spec, section, None) if runbook and section in SECTIONS else None
    if steps is None or not number.isdigit() or not 1 <= int(number) <= len(steps):
        valid = (
            ", ".join(f"{s}.1-{len(getattr(runbook.spec, s))}" for s in SECTIONS)
            if runbook
            else "none"
        )
        fail(f"--step {step!r} is not a step of runbook {runbook_name!r} (steps: {valid})")
    text: str = steps[int(number) - 1].do
    return text


def incident_note(
    incident: int = typer.Argument(..., metavar="INCIDENT", min=1, help="The incident's number."),
    text: str = typer.Argument(..., metavar="TEXT", help="What was seen or done."),
    step: str | None = typer.Option(
        None, "--step", help="The runbook step taken, as section.N (mitigation.2)."
    ),
    who: str | None = AS_OPTION,
    desk: Path | None = DESK_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Add a note to an open incident, optionally naming the runbook step taken.

    Example: stratops incident note 7 "switched to reduce-only" --step mitigation.2
    """
    repo = _repo(desk)
    log = _log(repo)
    opened, closed = _opened(log, incident)
    if closed:
        fail(f"incident {incident} is closed")
    details: dict[str, object] = {"incident": incident}
    if step is not None:
        details |= {"step": step, "do": _step(repo, str(opened.details.get("runbook")), step)}
    actor, at = acting_person(repo, who), datetime.now(UTC)
    event = log.append(
        key=f"incident/{incident}/note/{at.isoformat()}/{actor}",
        at=at,
        actor=actor,
        action=NOTE,
        reason=text,
        strategy=opened.strategy,
        details=details,
    )
    emit(
        {"incident": incident, "event": event.sequence},
        output,
        lambda: stdout.print(f"incident {incident}: noted ({event.sequence})"),
    )


def incident_close(
    incident: int = typer.Argument(..., metavar="INCIDENT", min=1, help="The incident's number."),
    summary: str = typer.Option(..., "--summary", help="How it ended, in a line."),
    who: str | None = AS_OPTION,
    desk: Path | None = DESK_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Close an incident.

    Example: stratops incident close 7 --summary "liquidity back, allocation restored"
    """
    repo = _repo(desk)
    log = _log(repo)
    opened, closed = _opened(log, incident)
    if closed:
        fail(f"incident {incident} is already closed")
    actor = acting_person(repo, who)
    log.append(
        key=f"incident/{incident}/close",
        at=datetime.now(UTC),
        actor=actor,
        action=CLOSED,
        reason=summary,
        strategy=opened.strategy,
        details={"incident": incident},
    )
    emit(
        {"incident": incident, "closed": True},
        output,
        lambda: stdout.print(f"incident {incident} closed by {actor}"),
    )


def incident_list(desk: Path | None = DESK_OPTION, output: OutputFormat = OUTPUT_OPTION) -> None:
    """List incidents with their start, end and the runbook steps taken.

    Example: stratops incident list -o json
    """
    table = incident_table(_log(_repo(desk)).events())
    rows = [
        {
            **row,
            "start": row["start"].isoformat(),
            "end": None
            if row["end"] is None or row["end"] != row["end"]
            else row["end"].isoformat(),
        }
        for row in table.to_dict("records")
    ]
    shown = new_table(
        f"{len(rows)} incident(s)",
        *("#", "alert", "strategy", "start", "end", "steps", FreeText("summary")),
    )
    for row in rows:
        shown.add_row(
            str(row["incident"]),
            str(row["alert"]),
            str(row["strategy"] or "-"),
            str(row["start"])[:19],
            str(row["end"] or "open")[:19],
            ", ".join(row["steps"]) or "-",
            str(row["summary"]),
        )
    emit(rows, output, lambda: stdout.print(shown))
