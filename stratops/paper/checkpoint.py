"""A paper deployment's checkpoint: where it stopped, so a restarted process resumes there.

``checkpoint.json`` in the run folder is rewritten atomically (a temporary file, then a
rename) after every telemetry flush, and is what makes the flush count: the parts it does not
count are the writes of a process that died first (removed on resume, then written again —
the replay is deterministic, so with the same rows). It holds the next bar to simulate, each
symbol's state after the last one (position, target, sizing price, mark), the fills not
written yet (their markouts are still in the future), the next part number, the halt in force,
the id of the last control command applied and how much of the paper venue's statement it
counts (:class:`~stratops.paper.venue.VenueCursor`). Floats are stored exactly (JSON's shortest
round-trip form), so a resumed run is bit for bit the run that never stopped.

A checkpoint belongs to one run: the fingerprint of the model URI, the market (name, symbols,
bar, start) and the engine configuration but its allocation. Resuming another run's checkpoint
is refused; a new allocation (a reallocation, a canary's ramp step) resumes the same run with
the new capital: the position carries over and the targets from the next bar on are sized on
the new allocation.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Final

import numpy as np

from stratops.files import replace_file
from stratops.model.strategy import HaltBehaviour
from stratops.paper.config import EngineConfig
from stratops.paper.errors import ConfigError
from stratops.paper.execution import BarRecords, SymbolState
from stratops.paper.market import Market
from stratops.paper.venue import VenueCursor

CHECKPOINT_FILE: Final = "checkpoint.json"
CHECKPOINT_VERSION: Final = 2


def fingerprint(model_uri: str, market: Market, config: EngineConfig) -> str:
    """Digest of what makes a run this run; the end of the market is left out (it may grow),
    and so is the allocation (a reallocated deployment carries on)."""
    settings = {name: value for name, value in config.as_dict().items() if name != "allocation"}
    facts = {
        "model_uri": model_uri,
        "market": [market.name, list(market.symbols), market.step_ns, int(market.ts[0])],
        "config": settings,
    }
    canonical = json.dumps(facts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    """The state of a paper deployment after a flush."""

    fingerprint: str
    cursor: int
    states: tuple[SymbolState, ...]
    pending: tuple[BarRecords, ...]
    next_part: int
    halt: HaltBehaviour | None = None
    command: str | None = None
    venue: VenueCursor = field(default_factory=VenueCursor)

    def for_storage(self) -> dict[str, Any]:
        """JSON-able form (floats exact, NaN as ``NaN``)."""
        return {
            "checkpoint_version": CHECKPOINT_VERSION,
            "fingerprint": self.fingerprint,
            "cursor": self.cursor,
            "states": [asdict(s) for s in self.states],
            "pending": [
                {f.name: _array_for_storage(getattr(r, f.name)) for f in fields(BarRecords)}
                for r in self.pending
            ],
            "next_part": self.next_part,
            "halt": None if self.halt is None else self.halt.value,
            "command": self.command,
            "venue": self.venue.for_storage(),
        }

    @classmethod
    def from_storage(cls, document: dict[str, Any]) -> Checkpoint:
        """Inverse of :meth:`for_storage`; raises KeyError, TypeError or ValueError if malformed."""
        if document["checkpoint_version"] != CHECKPOINT_VERSION:
            raise ValueError(f"checkpoint_version {document['checkpoint_version']!r} is unknown")
        halt = document["halt"]
        return cls(
            fingerprint=str(document["fingerprint"]),
            cursor=int(document["cursor"]),
            states=tuple(SymbolState(**s) for s in document["states"]),
            pending=tuple(
                BarRecords(**{f.name: _array_from_storage(r[f.name]) for f in fields(BarRecords)})
                for r in document["pending"]
            ),
            next_part=int(document["next_part"]),
            halt=None if halt is None else HaltBehaviour(halt),
            command=document["command"],
            venue=VenueCursor.from_storage(document["venue"]),
        )


def _array_for_storage(values: np.ndarray) -> dict[str, Any]:
    return {"dtype": str(values.dtype), "values": values.tolist()}


def _array_from_storage(stored: dict[str, Any]) -> np.ndarray:
    return np.asarray(stored["values"], dtype=np.dtype(stored["dtype"]))


def write_checkpoint(folder: Path, checkpoint: Checkpoint) -> None:
    """Replace ``folder/checkpoint.json`` atomically."""
    replace_file(folder / CHECKPOINT_FILE, json.dumps(checkpoint.for_storage()) + "\n")


def read_checkpoint(folder: Path, expected: str) -> Checkpoint | None:
    """The checkpoint of the run in ``folder``; None when it has none (a fresh start).

    Raises
    ------
    ConfigError
        ``paper.checkpoint`` when the file is unreadable or belongs to another run
        (another model, market or configuration): remove the run folder, or use another.
    """
    path = folder / CHECKPOINT_FILE
    try:
        checkpoint = Checkpoint.from_storage(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable checkpoint ({exc!r})", "paper.checkpoint") from exc
    if checkpoint.fingerprint != expected:
        raise ConfigError(
            f"{path}: the checkpoint belongs to another run (another model, market or "
            "configuration); give this run its own --telemetry folder",
            "paper.checkpoint",
        )
    return checkpoint
