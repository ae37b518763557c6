"""What the controller remembers between ticks and across restarts, in one JSON file.

- ``last_applied``: the desk commit the last completed tick reconciled towards; the next head
  must descend from it (a force-push that rewrites history stops reconciliation). The audit
  log records it too (``commit_applied``): without a state file, the reconciler takes it from
  there;
- ``applied``: per strategy, the desired state actually applied (it differs from Git while a
  change is refused, so a refused promotion never takes effect on a later tick);
- ``verified``: promotions whose gate report the controller recomputed and matched;
- ``rules_commit``: the commit of main whose rules (``GatePolicy``, ``AnalysisTemplate``,
  ``AlertRule``, ``Runbook``) are in force: the last rule change accepted (see
  :meth:`Authorizer.rule_change`).

Written atomically (temporary file and rename) and only when it changed.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from stratops.files import replace_file
from stratops.model.strategy import StrategyDeployment


class ControllerState(BaseModel):
    model_config = ConfigDict(frozen=True)

    last_applied: str | None = None
    applied: dict[str, StrategyDeployment] = Field(default_factory=dict)
    verified: frozenset[str] = frozenset()
    rules_commit: str | None = None


def verified_key(strategy: str, stage: str, version: int, allocation: float) -> str:
    """A verified (strategy, stage, version) at a capital: more capital is a new question."""
    return f"{strategy}/{stage}/v{version}@{allocation:.2f}"


class StateStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> ControllerState:
        if not self.path.exists():
            return ControllerState()
        return ControllerState.model_validate_json(self.path.read_text(encoding="utf-8"))

    def save(self, state: ControllerState) -> None:
        text = state.model_dump_json(indent=1, by_alias=True)
        if self.path.exists() and self.path.read_text(encoding="utf-8") == text:
            return
        replace_file(self.path, text, durable=True)
