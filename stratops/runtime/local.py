"""The local runtime: one OS process per (strategy, stage), running the paper engine.

State lives in files under ``root`` (``<desk>/.stratops/runtime`` by default), one folder per
deployment with a ``deployment.json`` record, so the runtime survives controller restarts:

- running processes are *adopted*, never duplicated: a deployment's processes are found (with
  psutil: Linux and macOS) by the deployment folder in their command line, whether or not the
  record that started them was written (a crash between spawn and record);
- a process that died is reported FAILED, so the controller restarts it (self-heal);
- a halt writes a halt command into the process's control file (``v<version>/telemetry/
  control.json``, :mod:`stratops.paper.control`) and waits, bounded, for the process to
  acknowledge it in ``run.json``; the process keeps running, flattened, reduce-only or holding.
  A process that does not acknowledge in time is stopped (SIGTERM) so that it trades no more.
  The record keeps who halted it and why until the deployment is removed;
- the status carries what the process reports: the halt it acknowledged, its positions, and
  whether its replay is caught up.

Processes start in their own session, so they outlive the controller.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psutil
from pydantic import BaseModel, ConfigDict

from stratops.files import replace_file
from stratops.model.base import Stage
from stratops.model.deployment import (
    DeploymentSpec,
    DeploymentState,
    DeploymentStatus,
    TelemetrySource,
)
from stratops.model.strategy import HaltBehaviour
from stratops.paper.control import (
    CONTROL_FILE,
    HaltCommand,
    ProcessStatus,
    read_status,
    write_command,
)
from stratops.runtime.backoff import BackoffPolicy, CrashState
from stratops.runtime.base import (
    RuntimeHealth,
    RuntimeRejected,
    RuntimeUnavailable,
    paper_arguments,
)

RECORD = "deployment.json"
STOP_GRACE_SECONDS = 10.0
HALT_ACK_SECONDS = 10.0
LOG_TAIL_LINES = 20
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
    restarts: int = 0
    last_restart: datetime | None = None


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _reaped(pid: int) -> bool:
    """True when ``pid`` is our child and has exited: it is reaped now."""
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False  # not our child: adopted after a restart
    return finished == pid


def _alive(pid: int) -> bool:
    """True when ``pid`` runs and is not a zombie (reaped here if it is our child)."""
    if _reaped(pid):
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _acknowledges(status: ProcessStatus | None, command: HaltCommand) -> bool:
    return status is not None and status.halt is not None and status.halt.command == command.id


def _processes() -> list[tuple[psutil.Process, str]]:
    """(process, command line) of every live process, in one pass of psutil.

    A zombie has no command line (its memory is gone): reading only ``/proc/<pid>/cmdline``
    leaves zombies out without reading each process's ``stat`` too.
    """
    table = []
    for process in psutil.process_iter(["cmdline"]):
        info = process.info
        if not info.get("cmdline"):
            continue
        table.append((process, " ".join(info["cmdline"])))
    return table


def process_table() -> list[tuple[int, str]]:
    """(pid, command line) of every live process, read once."""
    return [(process.pid, cmdline) for process, cmdline in _processes()]


def _pids_mentioning(marker: str) -> list[int]:
    """Live processes whose command line contains ``marker``."""
    return sorted(pid for pid, cmdline in process_table() if marker in cmdline and _alive(pid))


def _stop(processes: list[psutil.Process], grace: float) -> None:
    """SIGTERM, then SIGKILL what is left after ``grace`` seconds; return once all are gone."""
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    _, left = psutil.wait_procs(processes, timeout=grace)
    for process in left:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(left)


class LocalRuntime:
    name = "local"

    def __init__(
        self,
        root: Path,
        *,
        command: CommandFactory | None = None,
        env: dict[str, str] | None = None,
        stop_grace_seconds: float = STOP_GRACE_SECONDS,
        halt_ack_seconds: float = HALT_ACK_SECONDS,
        backoff: BackoffPolicy | None = None,
        now: Callable[[], datetime] = _now,
    ) -> None:
        self.backoff = backoff or BackoffPolicy()
        self.now = now
        self.root = root.resolve()
        self.command = command or paper_command()
        self.env = env or {}
        self.stop_grace_seconds = stop_grace_seconds
        self.halt_ack_seconds = halt_ack_seconds

    def folder(self, strategy: str, stage: Stage) -> Path:
        return self.root / f"{strategy}--{stage.value}"

    def _marker(self, folder: Path) -> str:
        return f"{folder}{os.sep}"

    def _mine(self, folder: Path) -> list[psutil.Process]:
        """The live processes of the deployment in ``folder``, from one scan."""
        marker = self._marker(folder)
        return [p for p, cmdline in _processes() if marker in cmdline and _alive(p.pid)]

    def _stop_all(self, folder: Path, keep: int | None = None) -> None:
        """Stop every process of the deployment in ``folder`` but ``keep``: one scan."""
        others = [p for p in self._mine(folder) if p.pid != keep]
        if others:
            _stop(others, self.stop_grace_seconds)

    def _write(self, folder: Path, record: Record) -> None:
        replace_file(folder / RECORD, record.model_dump_json(indent=2))

    def _read(self, folder: Path) -> Record | None:
        try:
            return Record.model_validate_json((folder / RECORD).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise RuntimeUnavailable(f"{folder / RECORD} is unreadable: {exc}") from exc

    def _by_folder(self, table: list[tuple[psutil.Process, str]]) -> dict[str, list[int]]:
        """Live pids per deployment folder name, from one pass over the process table."""
        prefix = f"{self.root}{os.sep}"
        found: dict[str, list[int]] = {}
        for process, cmdline in table:
            at = cmdline.find(prefix)
            if at >= 0:
                name = cmdline[at + len(prefix) :].split(os.sep, 1)[0]
                # the pass read its status already: only a child that just exited is left out
                if name and " " not in name and not _reaped(process.pid):
                    found.setdefault(name, []).append(process.pid)
        return found

    def _status(
        self, folder: Path, record: Record, pids: list[int] | None = None
    ) -> DeploymentStatus:
        if pids is None:
            pids = _pids_mentioning(self._marker(folder))
        state, detail = record.state, record.detail
        if record.state is DeploymentState.RUNNING and not pids:
            log = folder / "process.log"
            lines = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
            tail = lines[-LOG_TAIL_LINES:]
            crash = CrashState(record.restarts, record.last_restart)
            if crash.crash_looping(self.backoff, self.now()):
                state = DeploymentState.CRASH_LOOP
                ready = crash.ready(self.backoff, self.now())
                detail = f"process {record.pid} keeps dying ({record.restarts} restart(s)), "
                detail += f"next restart at {ready.isoformat()}" + "".join(
                    f"\n{line}" for line in tail
                )
            else:
                state = DeploymentState.FAILED
                detail = f"process {record.pid} is not running" + (f": {tail[-1]}" if tail else "")
        reported = read_status(self._telemetry_folder(record.spec))
        return DeploymentStatus(
            spec=record.spec,
            state=state,
            since=record.since,
            instance=",".join(map(str, pids)) or str(record.pid or ""),
            detail=detail,
            halted=None if reported is None or reported.halt is None else reported.halt.mode,
            positions={} if reported is None else reported.positions,
            caught_up=reported is not None and reported.status == "caught_up",
            bars_done=None if reported is None else reported.bars_done,
        )

    def list(self) -> list[DeploymentStatus]:
        if not self.root.exists():
            return []
        statuses = []
        running = self._by_folder(_processes())
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
        running = self._mine(folder)
        if record is not None and record.spec == spec and len(running) == 1:
            adopted = record.model_copy(
                update={"state": DeploymentState.RUNNING, "pid": running[0].pid}
            )
            if adopted != record:
                self._write(folder, adopted)
            return self._status(folder, adopted, [running[0].pid])
        crash = CrashState()
        died = record is not None and record.state is DeploymentState.RUNNING and not running
        if record is not None and died and record.spec == spec:  # a restart, counted for backoff
            crash = (
                CrashState(record.restarts, record.last_restart)
                .healthy(self.backoff, self.now())
                .crashed(self.now())
            )
        if running:
            _stop(running, self.stop_grace_seconds)
        telemetry = self._telemetry_folder(spec)
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
            restarts=crash.restarts,
            last_restart=crash.last_restart,
        )
        self._write(folder, started)
        return self._status(folder, started, [process.pid])

    def halt(
        self,
        strategy: str,
        stage: Stage,
        *,
        actor: str,
        reason: str,
        mode: HaltBehaviour | None = None,
    ) -> DeploymentStatus:
        folder = self.folder(strategy, stage)
        record = self._read(folder)
        if record is None:
            raise RuntimeRejected(f"no deployment {strategy}/{stage.value} to halt")
        if record.state is DeploymentState.HALTED:
            return self._status(folder, record)  # a second halt keeps the first
        mode = mode or record.spec.halt
        detail = f"halted ({mode.value}) by {actor}: {reason}"
        running = self._mine(folder)
        acknowledged = running and self._command_acknowledged(
            self._telemetry_folder(record.spec),
            HaltCommand(mode=mode, id=f"{_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}",
                        by=actor, reason=reason),
        )  # fmt: skip
        if not acknowledged:
            self._stop_all(folder)
            if running:
                detail += f"; no acknowledgement within {self.halt_ack_seconds:g}s: stopped"
        halted = record.model_copy(
            update={"state": DeploymentState.HALTED, "since": _now(), "detail": detail}
        )
        self._write(folder, halted)
        return self._status(folder, halted, [p.pid for p in running] if acknowledged else [])

    def _command_acknowledged(self, run: Path, command: HaltCommand) -> bool:
        """Send ``command`` through the control file; True once ``run.json`` acknowledges it."""
        write_command(run / CONTROL_FILE, command)
        deadline = time.monotonic() + self.halt_ack_seconds
        while time.monotonic() < deadline:
            if _acknowledges(read_status(run), command):
                return True
            time.sleep(0.05)
        return _acknowledges(read_status(run), command)

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

    def _telemetry_folder(self, spec: DeploymentSpec) -> Path:
        return self.folder(spec.strategy, spec.stage) / f"v{spec.version}" / "telemetry"

    def telemetry(self, spec: DeploymentSpec) -> TelemetrySource:
        """The version's telemetry folder, where its paper process writes."""
        return TelemetrySource(uri=self._telemetry_folder(spec).absolute().as_uri())

    def telemetry_folder(self, spec: DeploymentSpec) -> Path:
        """The version's telemetry folder: the paper process writes it in place."""
        return self._telemetry_folder(spec).absolute()

    def health(self) -> RuntimeHealth:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / ".health"
            probe.write_text("ok", encoding="utf-8")
            probe.unlink()
        except OSError as exc:
            return RuntimeHealth(ok=False, detail=f"{self.root} is not writable: {exc}")
        return RuntimeHealth(ok=True, detail=f"{len(self.list())} deployment(s) under {self.root}")
