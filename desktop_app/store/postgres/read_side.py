"""The read model on a PostgreSQL server: its three parts wired for one open database, the
same bundle as ``store.read_model.sqlite_read_model`` gives for a file."""

from __future__ import annotations

from desktop_app.application.ports import ReadModel
from desktop_app.store.postgres.database import PostgresDatabase
from desktop_app.store.postgres.event_feed import PostgresEventFeed
from desktop_app.store.postgres.order_queries import PostgresOrderListQueries
from desktop_app.store.postgres.projection_target import PostgresProjectionTarget
from desktop_app.store.read_model_sql import FaultHook


def postgres_read_model(database: PostgresDatabase, *, fault: FaultHook | None = None) -> ReadModel:
    """The feed, target and queries of the read model in ``database`` on the server."""
    return ReadModel(
        feed=PostgresEventFeed(database),
        target=PostgresProjectionTarget(database, fault=fault),
        queries=PostgresOrderListQueries(database),
    )


__all__ = ["postgres_read_model"]
