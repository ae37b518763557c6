"""The local runtime: one OS process per (strategy, stage), running the paper engine.

State lives in files under ``root`` (``<desk>/.stratops/runtime`` by default), one folder per
deployment with a ``deployment.json`` record, so the runtime survives controller restarts:

- running processes are *adopted*, never duplicated: a deployment's processes are found by
  scanning ``/proc`` for the deployment folder in their command line, whether or not the
  record that started them was written (a crash between spawn and record);
- a process that died is reported FAILED, so the controller restarts it (self-heal);
- a halt stops the process gracefully (SIGTERM: the paper engine flushes its telemetry) and
  records who halted it and why; the record stays until the deployment is removed.

Processes start in their own session, so they outlive the controller.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from stratops.model.base import Stage
from stratops.runtime.base import (
    DeploymentSpec,
    DeploymentState,
    DeploymentStatus,
    RuntimeHealth,
    RuntimeRejected,
    RuntimeUnavailable,
    paper_arguments,
)

RECORD = "deployment.json"
STOP_GRACE_SECONDS = 10.0
CommandFactory = Callable[[DeploymentSpec, Path], list[str]]


def paper_command(speed: float = 3600.0) -> CommandFactory:
    """``stratops paper run`` for a spec, replaying at ``speed`` times real time."""

    def command(spec: DeploymentSpec, telemetry: Path) -> list[str]:
        return [
            sys.executable,
            "-m",
            "stratops",
            "paper",
            "run",
            *paper_arguments(spec),
            "--telemetry",
            str(telemetry),
            "--speed",
            repr(speed),
        ]

    return command


class Record(BaseModel):
    """``deployment.json``: what the runtime started, for adoption after a restart."""

    model_config = ConfigDict(frozen=True)

    spec: DeploymentSpec
    state: DeploymentState
    since: datetime
    pid: int | None
    detail: str = ""


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _alive(pid: int) -> bool:
    """True when ``pid`` runs and is not a zombie (reaped here if it is our child)."""
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished == pid:
            return False
    except ChildProcessError:
        pass  # not our child: adopted after a restart
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def process_table() -> list[tuple[int, str]]:
    """(pid, command line) of every live process, read once from ``/proc``."""
    table = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        table.append((int(entry.name), raw.replace(b"\0", b" ").decode(errors="replace")))
    return table


def _pids_mentioning(marker: str) -> list[int]:
    """Live processes whose command line contains ``marker``."""
    return sorted(pid for pid, cmdline in process_table() if marker in cmdline and _alive(pid))


def _stop(pids: list[int], grace: float) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.05)
    for pid in pids:
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            while _alive(pid):
                time.sleep(0.01)


class LocalRuntime:
    name = "local"

    def __init__(
        self,
        root: Path,
        *,
        command: CommandFactory | None = None,
        env: dict[str, str] | None = None,
        stop_grace_seconds: float = STOP_GRACE_SECONDS,
    ) -> None:
        self.root = root.resolve()
        self.command = command or paper_command()
        self.env = env or {}
        self.stop_grace_seconds = stop_grace_seconds

    def folder(self, strategy: str, stage: Stage) -> Path:
        return self.root / f"{strategy}--{stage.value}"

    def _marker(self, folder: Path) -> str:
        return f"{folder}{os.sep}"

    def _stop_all(self, folder: Path, keep: int | None = None) -> None:
        """Stop every process of the deployment in ``folder`` but ``keep``, until none is left."""
        quiet_scans = 0
        while quiet_scans < 2:  # two empty scans: a process mid-exec can hide from one
            others = [p for p in _pids_mentioning(self._marker(folder)) if p != keep]
            if others:
                _stop(others, self.stop_grace_seconds)
                quiet_scans = 0
            else:
                quiet_scans += 1
                time.sleep(0.02)

    def _write(self, folder: Path, record: Record) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f".{RECORD}.tmp"
        temporary.write_text(record.model_dump_json(indent=2), encoding="utf-8")
        os.replace(temporary, folder / RECORD)

    def _read(self, folder: Path) -> Record | None:
        try:
            return Record.model_validate_json((folder / RECORD).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise RuntimeUnavailable(f"{folder / RECORD} is unreadable: {exc}") from exc

    def _by_folder(self, table: list[tuple[int, str]]) -> dict[str, list[int]]:
        """Live pids per deployment folder name, from one pass over the process table."""
        prefix = f"{self.root}{os.sep}"
        found: dict[str, list[int]] = {}
        for pid, cmdline in table:
            at = cmdline.find(prefix)
            if at >= 0:
                name = cmdline[at + len(prefix) :].split(os.sep, 1)[0]
                if name and " " not in name and _alive(pid):
                    found.setdefault(name, []).append(pid)
        return found

    def _status(
        self, folder: Path, record: Record, pids: list[int] | None = None
    ) -> DeploymentStatus:
        if pids is None:
            pids = _pids_mentioning(self._marker(folder))
        state, detail = record.state, record.detail
        if record.state is DeploymentState.RUNNING and not pids:
            log = folder / "process.log"
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
            state = DeploymentState.FAILED
            detail = f"process {record.pid} is not running" + (f": {tail[0]}" if tail else "")
        return DeploymentStatus(
            spec=record.spec,
            state=state,
            since=record.since,
            instance=",".join(map(str, pids)) or str(record.pid or ""),
            detail=detail,
        )

    def list(self) -> list[DeploymentStatus]:
        if not self.root.exists():
            return []
        statuses = []
        running = self._by_folder(process_table())
        for folder in sorted(self.root.iterdir()):
            if folder.is_dir() and not folder.name.startswith("."):
                record = self._read(folder)
                if record is not None:
                    statuses.append(
                        self._status(folder, record, sorted(running.get(folder.name, [])))
                    )
        return statuses

    def deploy(self, spec: DeploymentSpec, *, actor: str, reason: str) -> DeploymentStatus:
        folder = self.folder(spec.strategy, spec.stage)
        record = self._read(folder)
        running = _pids_mentioning(self._marker(folder))
        if record is not None and record.spec == spec and len(running) == 1:
            adopted = record.model_copy(
                update={"state": DeploymentState.RUNNING, "pid": running[0]}
            )
            if adopted != record:
                self._write(folder, adopted)
            return self._status(folder, adopted)
        self._stop_all(folder)
        telemetry = folder / f"v{spec.version}" / "telemetry"
        telemetry.mkdir(parents=True, exist_ok=True)
        try:
            with (folder / "process.log").open("ab") as log:
                process = subprocess.Popen(
                    self.command(spec, telemetry),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    env={**os.environ, **self.env},
                    cwd=folder,
                )
        except OSError as exc:
            raise RuntimeRejected(
                f"cannot start {spec.strategy}/{spec.stage.value}: {exc}"
            ) from exc
        self._stop_all(folder, keep=process.pid)  # one started meanwhile by another controller
        started = Record(
            spec=spec,
            state=DeploymentState.RUNNING,
            since=_now(),
            pid=process.pid,
            detail=f"started by {actor}: {reason}",
        )
        self._write(folder, started)
        return self._status(folder, started)

    def halt(self, strategy: str, stage: Stage, *, actor: str, reason: str) -> DeploymentStatus:
        folder = self.folder(strategy, stage)
        record = self._read(folder)
        if record is None:
            raise RuntimeRejected(f"no deployment {strategy}/{stage.value} to halt")
        self._stop_all(folder)
        halted = record.model_copy(
            update={
                "state": DeploymentState.HALTED,
                "since": _now(),
                "detail": f"halted ({record.spec.halt.value}) by {actor}: {reason}",
            }
        )
        self._write(folder, halted)
        return self._status(folder, halted)

    def remove(self, strategy: str, stage: Stage, *, actor: str, reason: str) -> None:
        folder = self.folder(strategy, stage)
        self._stop_all(folder)
        if folder.exists():
            archive = self.root / ".removed" / f"{folder.name}-{_now():%Y%m%dT%H%M%S}"
            archive.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(folder, archive)
            (archive / "removed.json").write_text(
                json.dumps({"by": actor, "reason": reason, "at": _now().isoformat()}),
                encoding="utf-8",
            )

    def health(self) -> RuntimeHealth:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / ".health"
            probe.write_text("ok", encoding="utf-8")
            probe.unlink()
        except OSError as exc:
            return RuntimeHealth(ok=False, detail=f"{self.root} is not writable: {exc}")
        return RuntimeHealth(ok=True, detail=f"{len(self.list())} deployment(s) under {self.root}")
