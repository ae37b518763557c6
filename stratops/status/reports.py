"""The latest attribution and drawdown report of each deployed version, for the strategy page.

``stratops report --log-to-registry`` stores the report's pages and its JSON (``report.json``)
with the version in MLflow. The page shows the headline figures of the newest report of each
version that Git declares or the runtime runs, and links to its stored files.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stratops.registry import Registry
from stratops.registry.errors import RegistryError
from stratops.registry.models import LoggedReport
from stratops.registry.registry import REPORT_JSON


class _Summary(BaseModel):
    net: float | None
    net_return: float | None
    max_drawdown: float | None
    costs: float | None
    fills: int
    fill_rate: float | None


class _Decay(BaseModel):
    verdict: str | None
    reason: str


class _Drawdown(BaseModel):
    depth: float
    dominant: str


class _Report(BaseModel):
    """The parts of ``stratops.report/v1`` JSON the page reads (the rest is ignored)."""

    start: str | None
    end: str | None
    stage: str | None
    summary: _Summary
    decay: _Decay
    drawdowns: list[_Drawdown] = Field(default_factory=list)


class ReportHeadline(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: int
    folder: str
    files: tuple[str, ...]
    stage: str | None = None
    start: str | None = None
    end: str | None = None
    net: float | None = None
    net_return: float | None = None
    max_drawdown: float | None = None
    costs: float | None = None
    fills: int | None = None
    fill_rate: float | None = None
    decay: str | None = Field(None, description="The decay verdict (None: not judged).")
    worst_drawdown: float | None = None
    worst_drawdown_cause: str | None = Field(None, description="Its dominant cost or loss.")
    note: str = Field("", description="Why the figures are missing, when they are.")


def headline(stored: LoggedReport, data: bytes | None) -> ReportHeadline:
    """The headline figures of a stored report from its ``report.json`` bytes (pure)."""
    base = ReportHeadline(version=stored.version, folder=stored.folder, files=stored.files)
    if data is None:
        return base.model_copy(update={"note": f"no {REPORT_JSON} stored with this report"})
    try:
        report = _Report.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = f": {'.'.join(str(p) for p in first['loc'])}" if first["loc"] else ""
        return base.model_copy(update={"note": f"{REPORT_JSON}{where}: {first['msg']}"})
    worst = max(report.drawdowns, key=lambda d: abs(d.depth), default=None)
    return base.model_copy(
        update={
            "stage": report.stage,
            "start": report.start,
            "end": report.end,
            **report.summary.model_dump(),
            "decay": report.decay.verdict,
            "worst_drawdown": None if worst is None else worst.depth,
            "worst_drawdown_cause": None if worst is None else worst.dominant,
        }
    )


def latest_reports(
    registry: Registry, strategy: str, versions: Iterable[int]
) -> list[ReportHeadline]:
    """The newest stored report (by its window's end) of each version that has one."""
    found = []
    for version in sorted(set(versions), reverse=True):
        try:
            stored = registry.logged_reports(strategy, version)
            headlines = [
                headline(
                    r,
                    registry.report_file(strategy, version, r.folder, REPORT_JSON)
                    if REPORT_JSON in r.files
                    else None,
                )
                for r in stored
            ]
        except RegistryError:
            continue  # the registry is away: the page shows the rest
        if headlines:
            found.append(max(headlines, key=lambda h: (h.end or "", h.folder)))
    return found


def stored_file(
    registry: Registry, strategy: str, version: int, folder: str, name: str
) -> bytes | None:
    """A file of a report stored with a version; None when there is none (or no registry)."""
    try:
        return registry.report_file(strategy, version, folder, name)
    except RegistryError:
        return None
