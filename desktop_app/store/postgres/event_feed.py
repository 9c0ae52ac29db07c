"""The log as the projector reads it from a PostgreSQL server (implements ``EventFeed``).

Why ``position > checkpoint`` never skips an event here, although PostgreSQL commits
transactions in any order: the event store (``postgres/event_store.py``) takes ONE
transaction-level advisory lock (``APPEND_LOCK_KEY``) as the first statement of every append,
and only then reads the head and numbers the new events head + 1, head + 2 … The lock is let
go only after the commit has become visible (PostgreSQL releases a transaction's locks after
removing it from the running set), so

* appends commit one after another in position order, and
* a rolled-back append leaves no hole (the next append reads the same head and reuses the
  numbers).

The committed events are therefore always the prefix 1..K of the positions, and whatever one
statement's snapshot sees is such a prefix: ``WHERE position > p ORDER BY position LIMIT n``
returns the next events with nothing missing between them, and anything not yet visible
will get a position above the last one returned. (A sequence would not do: numbers are
taken in one order and committed in another, so a reader could pass over a number whose
transaction commits later.) ``tests/integration/postgres/test_pg_feed_order.py`` proves it
with writer processes and a tailing reader.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from desktop_app.application.ports import EventRecord
from desktop_app.store.postgres.database import PostgresDatabase

_COLUMNS = "position, stream_id, version, type_name, schema_version, payload, recorded_at"
_READ_EVENTS = f"SELECT {_COLUMNS} FROM events WHERE position > %s ORDER BY position LIMIT %s"  # noqa: S608
_SCAN_EVENTS = f"SELECT {_COLUMNS} FROM events WHERE position > %s ORDER BY position"  # noqa: S608
_HEAD = "SELECT position FROM events ORDER BY position DESC LIMIT 1"
_SNAPSHOT = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"


def _records(rows: list[Any]) -> list[EventRecord]:
    # One json.loads for the whole batch: the per-call overhead dominates small payloads.
    payloads = json.loads("[" + ",".join([row[5] for row in rows]) + "]")
    make = EventRecord._make
    return [
        make((int(pos), sid, int(ver), tname, int(sver), payload, rec))
        for (pos, sid, ver, tname, sver, _, rec), payload in zip(rows, payloads, strict=True)
    ]


class PostgresEventFeed:
    """Events of an Order Desk database on a server, as the projector reads them."""

    def __init__(self, database: PostgresDatabase) -> None:
        self._db = database

    def head_position(self) -> int:
        with self._db.raw() as con:  # autocommit: one statement, one snapshot
            row = con.execute(_HEAD).fetchone()
        return int(row[0]) if row else 0

    def read_events(self, *, after_position: int, limit: int) -> list[EventRecord]:
        with self._db.raw() as con:
            rows: list[Any] = con.execute(_READ_EVENTS, (after_position, limit)).fetchall()
        return _records(rows) if rows else []

    @contextmanager
    def scan_events(
        self, *, after_position: int, chunk: int
    ) -> Iterator[Iterator[list[EventRecord]]]:
        """Every event after a position in lists of up to ``chunk``, from ONE snapshot
        (a REPEATABLE READ, READ ONLY transaction and a server-side cursor)."""
        size = max(1, chunk)
        with self._db.raw(transaction=True) as con:
            con.execute(_SNAPSHOT)
            try:
                with con.cursor(name="order_desk_scan") as cursor:
                    cursor.itersize = size
                    cursor.execute(_SCAN_EVENTS, (after_position,))

                    def chunks() -> Iterator[list[EventRecord]]:
                        while True:
                            rows: list[Any] = cursor.fetchmany(size)
                            if not rows:
                                return
                            yield _records(rows)

                    yield chunks()
            finally:
                con.rollback()
