"""The read model in the Order Desk SQLite file: its three parts, wired for one database.

* :class:`~desktop_app.store.event_feed.SqliteEventFeed` — the log as the projector reads it;
* :class:`~desktop_app.store.projection_target.SqliteProjectionTarget` — the tables as the
  projector writes them (ownership, batches, checkpoint, the rebuild's swap in
  :mod:`~desktop_app.store.read_model_rebuild`);
* :class:`~desktop_app.store.order_queries.SqliteOrderListQueries` — the screens' queries.

The tables are defined in :mod:`desktop_app.store.schema`; the statements the parts share are in
:mod:`desktop_app.store.read_model_sql`.
"""

from __future__ import annotations

from desktop_app.application.ports import ReadModel
from desktop_app.store.engine import Database
from desktop_app.store.event_feed import SqliteEventFeed
from desktop_app.store.order_queries import SqliteOrderListQueries, fts_query
from desktop_app.store.projection_target import SqliteProjectionTarget
from desktop_app.store.read_model_sql import READ_MODEL_SCHEMA_VERSION, FaultHook


def sqlite_read_model(database: Database, *, fault: FaultHook | None = None) -> ReadModel:
    """The feed, target and queries of the read model in ``database``'s file."""
    return ReadModel(
        feed=SqliteEventFeed(database),
        target=SqliteProjectionTarget(database, fault=fault),
        queries=SqliteOrderListQueries(database),
    )


__all__ = [
    "READ_MODEL_SCHEMA_VERSION",
    "SqliteEventFeed",
    "SqliteOrderListQueries",
    "SqliteProjectionTarget",
    "fts_query",
    "sqlite_read_model",
]
