"""The intent journal: an action is written down before it runs, and crossed out after.

After a crash (even SIGKILL), the pending intents are replayed before anything else: every
runtime and registry operation is idempotent (a deploy adopts what already runs, an alias
already in place is not moved twice), and the audit event of an action is keyed by the
intent, so replaying never duplicates a deployment or an audit event and never loses one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from stratops.controller.plan import Action


class IntentJournal:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _write(self, entry: dict[str, object]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def begin(self, key: str, commit: str, action: Action) -> None:
        self._write(
            {"op": "begin", "key": key, "commit": commit, "action": action.model_dump(mode="json")}
        )

    def done(self, key: str) -> None:
        self._write({"op": "done", "key": key})

    def pending(self) -> list[tuple[str, str, Action]]:
        """Begun and not done, in the order they began: (key, commit, action)."""
        if not self.path.exists():
            return []
        begun: dict[str, tuple[str, Action]] = {}
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a crash mid-write: its action never started
            if entry["op"] == "begin":
                begun[entry["key"]] = (entry["commit"], Action.model_validate(entry["action"]))
            else:
                begun.pop(entry["key"], None)
        return [(key, commit, action) for key, (commit, action) in begun.items()]

    def compact(self) -> None:
        """Drop finished intents once nothing is pending (keeps the file small)."""
        if self.path.exists() and not self.pending():
            self.path.unlink()
