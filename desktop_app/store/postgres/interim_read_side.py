"""The read side on a server database UNTIL the shared PostgreSQL read model exists (issue
10's pg-read part): each workstation projects the shared log into an in-memory read model
(the tested in-memory projection target and list queries), fed from the server's log in
position order. Correct and live (the projector polls the server's head), but every
workstation replays the whole log at start: fine for an office's first thousands of orders,
not for millions. Replaced by the server-side read model (rm_* tables, one projector lease).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from desktop_app.application.ports import EventRecord, ReadModel
from desktop_app.store.memory_read_model import (
    InMemoryOrderListQueries,
    InMemoryProjectionTarget,
    InMemoryReadModelTables,
)
from desktop_app.store.postgres.database import PostgresDatabase
from desktop_app.store.records import load_json_text

_READ = (
    "SELECT position, stream_id, version, type_name, schema_version, payload, recorded_at "
    "FROM events WHERE position > %s ORDER BY position LIMIT %s"
)


class ServerLogFeed:
    """``EventFeed`` over the server's log (positions commit in order: nothing is skipped)."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    def head_position(self) -> int:
        """Position of the newest event (0 when empty)."""
        with self._db.raw() as con:
            row = con.execute("SELECT position FROM events ORDER BY position DESC LIMIT 1")
            found = row.fetchone()
        return int(found[0]) if found else 0

    def read_events(self, *, after_position: int, limit: int) -> list[EventRecord]:
        """Up to ``limit`` events after a position, in position order."""
        if limit <= 0:
            return []
        with self._db.raw() as con:
            rows = con.execute(_READ, (after_position, limit)).fetchall()
        return [
            EventRecord(p, s, v, t, sv, load_json_text(payload), at)
            for p, s, v, t, sv, payload, at in rows
        ]

    @contextmanager
    def scan_events(
        self, *, after_position: int, chunk: int
    ) -> Iterator[Iterator[list[EventRecord]]]:
        """Every event after a position (up to the head as of the call), in chunks."""
        end = self.head_position()
        size = max(1, chunk)

        def chunks() -> Iterator[list[EventRecord]]:
            last = after_position
            while last < end:
                batch = [
                    e
                    for e in self.read_events(after_position=last, limit=size)
                    if e.position <= end
                ]
                if not batch:
                    return
                yield batch
                last = batch[-1].position

        yield chunks()


def interim_read_model(db: PostgresDatabase) -> ReadModel:
    """The in-memory read side over the server's log (see the module)."""
    tables = InMemoryReadModelTables()
    return ReadModel(
        feed=ServerLogFeed(db),
        target=InMemoryProjectionTarget(tables),
        queries=InMemoryOrderListQueries(tables),
    )
