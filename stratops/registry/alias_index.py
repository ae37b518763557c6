"""Every stage alias and its history, read from MLflow's database in three small queries.

The controller reads all aliases every tick to see one moved by hand within that tick. Through
MLflow's client that is a paged ``search_registered_models``, which loads every model with its
latest versions, tags and aliases: about 0.45 s for 1,000 strategies on the embedded SQLite.
With a database store (the embedded SQLite, PostgreSQL) the same facts are three columns of
three tables, queried here through MLflow's own ORM and session (so its workspace filter
applies). A REST store (``mlflow server``) offers no such read: :func:`read_alias_rows` returns
None and the caller pages through the search.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlflow.store.model_registry.dbmodels.models import (
    SqlRegisteredModel,
    SqlRegisteredModelAlias,
    SqlRegisteredModelTag,
)
from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore
from mlflow.tracking import MlflowClient

from stratops.registry.history import HISTORY_PREFIX


@dataclass(frozen=True)
class AliasRows:
    names: list[str]  # every registered model
    aliases: list[tuple[str, str, int]]  # (model, alias, version)
    history: list[tuple[str, str, str]]  # (model, tag key, tag value) of the alias history


def read_alias_rows(client: MlflowClient) -> AliasRows | None:
    """The rows of a database store; None for a store reached over REST.

    Raises what MLflow's store raises (SQLAlchemy errors): call it inside ``translated``.
    """
    store = client._get_registry_client().store  # type: ignore[no-untyped-call]
    if not isinstance(store, SqlAlchemyStore):
        return None
    query: Callable[..., Any] = store._get_query  # the store's query, with its workspace filter
    with store.ManagedSessionMaker() as session:
        names = query(session, SqlRegisteredModel).with_entities(SqlRegisteredModel.name)
        aliases = query(session, SqlRegisteredModelAlias).with_entities(
            SqlRegisteredModelAlias.name,
            SqlRegisteredModelAlias.alias,
            SqlRegisteredModelAlias.version,
        )
        tag = SqlRegisteredModelTag
        history = (
            query(session, tag)
            .with_entities(tag.name, tag.key, tag.value)
            .filter(tag.key.startswith(HISTORY_PREFIX, autoescape=True))
        )
        return AliasRows(
            names=[name for (name,) in names],
            aliases=[(name, alias, int(version)) for name, alias, version in aliases],
            history=[(name, key, value) for name, key, value in history],
        )
