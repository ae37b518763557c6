"""Alias history, kept where MLflow keeps none: one registered-model tag per change.

Each change is a tag ``stratops.alias_history.<sequence:09d>.<entry>`` whose value is the JSON
of an :class:`AliasChange`. Writers never update or delete another writer's tag, so the history
is append-only; the sequence is one more than the highest seen, and ``entry`` (random) keeps two
concurrent writers that picked the same sequence from overwriting each other: both entries stay,
ordered by (sequence, time, entry). Tags live in MLflow's database next to the aliases, with the
same backups and permissions, and need no artifact store.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from functools import lru_cache

from pydantic import ValidationError

from stratops.model.aliases import AliasDrift
from stratops.model.base import Stage
from stratops.registry.errors import RegistryError
from stratops.registry.models import AliasChange

HISTORY_PREFIX = "stratops.alias_history."


def history_key(change: AliasChange) -> str:
    return f"{HISTORY_PREFIX}{change.sequence:09d}.{change.entry}"


def new_entry_id() -> str:
    return uuid.uuid4().hex[:16]


@lru_cache(maxsize=1 << 16)
def _change(value: str) -> AliasChange:
    """An entry parsed once: tags are never changed, and the controller reads all each tick."""
    return AliasChange.model_validate_json(value)


def read_history(strategy: str, tags: Mapping[str, str]) -> list[AliasChange]:
    """The alias changes recorded in a registered model's tags, oldest first."""
    changes = []
    for key, value in tags.items():
        if not key.startswith(HISTORY_PREFIX):
            continue
        try:
            change = _change(value)
        except ValidationError as exc:
            raise RegistryError(
                f"alias history of {strategy!r} is corrupt: tag {key} does not hold an alias "
                f"change ({exc.error_count()} error(s))",
                "registry.history_corrupt",
            ) from exc
        if history_key(change) != key:
            raise RegistryError(
                f"alias history of {strategy!r} is corrupt: tag {key} holds entry "
                f"{change.sequence}.{change.entry}",
                "registry.history_corrupt",
            )
        changes.append(change)
    return sorted(changes, key=lambda c: (c.sequence, c.at, c.entry))


def next_sequence(history: list[AliasChange]) -> int:
    return max((change.sequence for change in history), default=0) + 1


def alias_drift(
    strategy: str, aliases: Mapping[Stage, int], history: list[AliasChange]
) -> list[AliasDrift]:
    """The stages whose alias differs from the last change stratops recorded, in stage order."""
    last: dict[Stage, AliasChange] = {change.stage: change for change in history}
    return [
        AliasDrift(
            strategy=strategy,
            stage=stage,
            found=aliases.get(stage),
            recorded=recorded,
            sequence=last[stage].sequence if stage in last else 0,
        )
        for stage in Stage
        if aliases.get(stage) != (recorded := last[stage].to_version if stage in last else None)
    ]
