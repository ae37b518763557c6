"""Incidents as audit events, and the pure reader that turns the events back into a table.

``stratops incident open`` appends an ``incident_opened`` event (the alert, its runbook, the
market context, who), ``note`` an ``incident_note`` (what was done, which runbook step, who),
``close`` an ``incident_closed``. An incident is named by the sequence number of its opening
event. :func:`incident_table` gives one row per incident with its start and end, so drawdown
diagnostics can find the incidents that overlapped an episode (:func:`overlapping`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

import pandas as pd

from stratops.controller.audit import AuditEvent

OPENED: Final = "incident_opened"
NOTE: Final = "incident_note"
CLOSED: Final = "incident_closed"
ACTIONS: Final = (OPENED, NOTE, CLOSED)
COLUMNS: Final = (
    "incident",
    "alert",
    "runbook",
    "strategy",
    "context",
    "opened_by",
    "start",
    "end",
    "closed_by",
    "notes",
    "steps",
    "summary",
)


@dataclass
class _Incident:
    opened: AuditEvent
    closed: AuditEvent | None = None
    steps: list[str] = field(default_factory=list)
    notes: int = 0

    def row(self) -> dict[str, object]:
        opened, closed = self.opened, self.closed
        return {
            "incident": opened.sequence,
            "alert": opened.details.get("alert"),
            "runbook": opened.details.get("runbook"),
            "strategy": opened.strategy,
            "context": opened.details.get("context"),
            "opened_by": opened.actor,
            "start": opened.at,
            "end": None if closed is None else closed.at,
            "closed_by": None if closed is None else closed.actor,
            "notes": self.notes,
            "steps": self.steps,
            "summary": opened.reason if closed is None else closed.reason,
        }


def incident_table(events: Iterable[AuditEvent]) -> pd.DataFrame:
    """One row per incident, in the order they were opened.

    ``start`` and ``end`` are UTC timestamps (``end`` is NaT while the incident is open);
    ``steps`` lists the runbook steps noted as taken, in order; ``notes`` counts the notes;
    ``summary`` is the closing summary, or the opening one while open. Events naming no
    opened incident are ignored.
    """
    found: dict[int, _Incident] = {}
    for event in events:
        if event.action == OPENED:
            found[event.sequence] = _Incident(event)
            continue
        incident = found.get(incident_of(event)) if event.action in ACTIONS else None
        if incident is None:
            continue
        if event.action == NOTE:
            incident.notes += 1
            step = event.details.get("step")
            if isinstance(step, str):
                incident.steps.append(step)
        else:
            incident.closed = event
    table = pd.DataFrame([i.row() for i in found.values()], columns=list(COLUMNS))
    for column in ("start", "end"):
        table[column] = pd.to_datetime(table[column], utc=True)
    table["notes"] = table["notes"].astype("int64")
    return table


def incident_of(event: AuditEvent) -> int:
    """The incident an event belongs to (its opening event's sequence; 0: none)."""
    if event.action == OPENED:
        return event.sequence
    value = event.details.get("incident")
    return value if isinstance(value, int) else 0


def overlapping(table: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """The incidents of ``table`` that were open at some moment of ``[start, end]`` (an open
    incident lasts until now)."""
    ends = table["end"].fillna(pd.Timestamp.max.tz_localize("UTC"))
    return table[(table["start"] <= end) & (ends >= start)]
