"""The control channel of a paper deployment: a command file in, a status file out.

The runtime writes ``control.json`` into the deployment's run folder (atomically: a temporary
file, then a rename), and the process reads it at every wake-up (``--wake-seconds``, 1 s by
default) — a file works for local processes and for a Kubernetes pod alike (a mounted
ConfigMap key or a shared volume), with no socket to keep open::

    {"command": "halt", "mode": "flatten", "id": "20261203T102800-1a2b3c4d",
     "by": "oncall", "reason": "drawdown"}

The process applies a command once per ``id`` (the ``id`` is kept in its checkpoint, so a
restarted process does not flatten twice) and acknowledges it in ``run.json``: ``halt`` holds
the mode and the ``id``, ``positions`` the position of each symbol. :func:`read_status` reads
that acknowledgement back for the runtime.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stratops.files import replace_file
from stratops.model.strategy import HaltBehaviour
from stratops.paper.errors import ConfigError
from stratops.telemetry.schema import RUN_FILE

CONTROL_FILE: Final = "control.json"


class HaltCommand(BaseModel):
    """``control.json``: halt the deployment with ``mode``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    command: Literal["halt"] = "halt"
    mode: HaltBehaviour
    id: str = Field(min_length=1, description="Unique per command: applied once.")
    by: str = ""
    reason: str = ""


class Acknowledged(BaseModel):
    """``run.json``'s ``halt``: the command the process applied."""

    model_config = ConfigDict(frozen=True)

    mode: HaltBehaviour
    command: str


class ProcessStatus(BaseModel):
    """What a paper process reports in ``run.json`` about its own state."""

    model_config = ConfigDict(frozen=True)

    status: str
    halt: Acknowledged | None = None
    positions: dict[str, float] = Field(default_factory=dict)
    bars_done: int = 0
    bars_total: int = 0


def write_command(path: Path, command: HaltCommand) -> None:
    """Write ``control.json`` atomically (the process never reads half a command)."""
    replace_file(path, command.model_dump_json(indent=2) + "\n")


def read_command(path: Path) -> HaltCommand | None:
    """The command in ``path``; None when there is none.

    Raises
    ------
    ConfigError
        ``control.invalid`` naming the file and what is wrong, when it is not a command.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return HaltCommand.model_validate_json(text)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(document)'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(
            f"{path}: not a control command ({problems}); expected "
            '{"command": "halt", "mode": "flatten|reduce_only|hold", "id": "..."}',
            "control.invalid",
        ) from exc


def read_status(run: Path) -> ProcessStatus | None:
    """The state a paper process reports in ``run/run.json``; None when absent or unreadable.

    Unreadable is a state here, not an error: the process may not have written it yet.
    """
    try:
        document = json.loads((run / RUN_FILE).read_text(encoding="utf-8"))
        return ProcessStatus.model_validate(document, strict=False)
    except (OSError, ValueError):
        return None
