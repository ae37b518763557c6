"""Where a report's inputs come from: the adapters' side of :mod:`stratops.report.build`.

Reads the telemetry of a run or a deployment (:mod:`stratops.telemetry.reader`), the
version's backtest evidence from the registry, the market data the run replayed for the
regime profile, and the incidents and halts of the audit log, into the values
:func:`~stratops.report.build.build_report` takes. It decides nothing about the report.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd

from stratops.analytics.drawdowns import EVENT_COLUMNS
from stratops.analytics.regimes import HourOfWeekProfile
from stratops.controller.audit import AuditLog
from stratops.controller.plan import ActionKind
from stratops.incidents.timeline import incident_table
from stratops.model.base import Stage
from stratops.model.problems import InvalidDocumentError, Problem
from stratops.paper.datasets import DATASETS, load_dataset, symbol_profile
from stratops.registry import Registry
from stratops.registry.arrays import load_evidence_arrays
from stratops.registry.bundle import scan_bundle
from stratops.report.build import Backtest, Telemetry
from stratops.runtime.local import LocalRuntime
from stratops.telemetry.reader import Window, read, runs
from stratops.telemetry.schema import RUN_FILE

RUNTIME_DIR = Path(".stratops") / "runtime"
TABLES = ("fills", "orders", "pnl", "positions", "events", "quotes")


def deployment_telemetry(desk: Path, strategy: str, stage: Stage, version: int | None) -> Path:
    """The local runtime's telemetry of (strategy, stage): of one version, or of them all."""
    folder = LocalRuntime(desk / RUNTIME_DIR).folder(strategy, stage)
    return folder / f"v{version}" / "telemetry" if version is not None else folder


def run_documents(folder: Path) -> list[dict[str, object]]:
    """The ``run.json`` of every run in ``folder`` (imports have none)."""
    documents = []
    for run in runs(folder):
        path = run / RUN_FILE
        if path.is_file():
            documents.append(json.loads(path.read_text(encoding="utf-8")))
    return documents


def _problem(folder: Path, message: str, code: str) -> InvalidDocumentError:
    return InvalidDocumentError([Problem(file=str(folder), message=message, code=code)])


def allocation_of(folder: Path, documents: list[dict[str, object]]) -> float:
    """The allocation the runs traded (``config.allocation`` of run.json), one for all."""
    configs = [doc["config"] for doc in documents if isinstance(doc.get("config"), dict)]
    found = sorted({float(c["allocation"]) for c in configs if isinstance(c, dict)})
    if len(found) != 1:
        seen = ", ".join(f"{a:g}" for a in found) or "none"
        raise _problem(
            folder,
            f"the runs' allocations are {seen}: give --allocation (or --version for one run)",
            "report.allocation",
        )
    return found[0]


def read_telemetry(folder: Path, window: Window, allocation: float) -> Telemetry:
    """The tables of the runs in ``folder`` inside ``window``, as pandas frames."""
    frames = {name: read(folder, name, window).to_pandas() for name in TABLES}
    return Telemetry(allocation=allocation, **frames)


def backtest_of(registry: Registry, strategy: str, version: int) -> Backtest:
    """The backtest returns of a version's verified evidence."""
    with tempfile.TemporaryDirectory(prefix="stratops-report-") as scratch:
        folder = registry.download_evidence(strategy, version, Path(scratch) / "evidence")
        evidence = load_evidence_arrays(scan_bundle(folder, max_file_bytes=2**62))
    index = pd.DatetimeIndex(evidence.returns_timestamp.view("datetime64[ns]"), tz="UTC")
    return Backtest(
        digest=evidence.digest,
        net=pd.Series(evidence.returns_net, index=index),
        gross=pd.Series(evidence.returns_gross, index=index),
    )


def profile_of(
    documents: list[dict[str, object]], data_dir: Path | None
) -> HourOfWeekProfile | None:
    """The hour-of-week profile of the market the run replayed (its first symbol), if known."""
    markets = [doc.get("market") for doc in documents if isinstance(doc.get("market"), dict)]
    if not markets:
        return None
    market = markets[-1]
    assert isinstance(market, dict)
    name, symbols = str(market.get("name")), list(market.get("symbols") or [])
    if name not in DATASETS or not symbols:
        return None
    return symbol_profile(load_dataset(name, data_dir=data_dir, symbols=[str(symbols[0])]))


def incidents_of(audit: Path, strategy: str) -> pd.DataFrame:
    """The incidents (of ``strategy`` or of the whole desk) and the halts of ``strategy`` in
    the audit log ``audit``, as :func:`~stratops.analytics.drawdowns.diagnose_episodes` takes
    them (:data:`~stratops.analytics.drawdowns.EVENT_COLUMNS`); empty without a log."""
    events = AuditLog(audit).events()
    table = incident_table(events)
    mine = table[table["strategy"].isna() | (table["strategy"] == strategy)]
    halts = [e for e in events if e.action == ActionKind.HALT.value and e.strategy == strategy]
    rows = [
        (row["start"], row["end"], "incident", f"incident #{row['incident']} {row['alert']}")
        for row in mine.to_dict("records")  # one per incident, from a human-sized log
    ] + [(e.at, e.at, "halt", f"halt of {e.stage} v{e.version}: {e.reason}") for e in halts]
    frame = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    for column in ("start", "end"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


__all__ = [
    "allocation_of",
    "backtest_of",
    "deployment_telemetry",
    "incidents_of",
    "profile_of",
    "read_telemetry",
    "run_documents",
]
