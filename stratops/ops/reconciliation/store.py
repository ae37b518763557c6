"""The break state between runs, in one JSON file next to the controller's state.

Written atomically (temporary file, fsync, rename) and only when it changed, so a reader never
sees half of it and a failed run leaves the previous state.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from stratops.files import replace_file
from stratops.ops.reconciliation.lifecycle import BreakRecord


class ReconState(BaseModel):
    model_config = ConfigDict(frozen=True)

    breaks: list[BreakRecord] = Field(default_factory=list)


class BreakStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> list[BreakRecord]:
        if not self.path.exists():
            return []
        return ReconState.model_validate_json(self.path.read_text(encoding="utf-8")).breaks

    def save(self, records: list[BreakRecord]) -> None:
        text = ReconState(breaks=records).model_dump_json(indent=1)
        if self.path.exists() and self.path.read_text(encoding="utf-8") == text:
            return
        replace_file(self.path, text, durable=True)
