"""The desk as of a past moment on a PostgreSQL server (``application.as_of.DeskHistory``).

The same answers as ``store.as_of_log.SqliteDeskHistory`` (the contract suite runs both), by
the same reads: the position of a moment is a binary search over positions (primary-key
look-ups; stamps rise with positions as appends take the append lock after stamping, and
where a clock stepped back the search still answers one consistent prefix of the log), and
:meth:`PostgresDeskHistory.desk_at` reads the read model's rows and checkpoint and the events
to replay in ONE repeatable-read snapshot (a projector batch committing meanwhile on another
workstation cannot be seen half). ``recorded_at`` and ``payload`` are text on the server as in
the file (``store/postgres/ddl.py`` copies the shared tables), so rows decode the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from desktop_app.application.as_of import DeskParts
from desktop_app.application.ports import OrderRow
from desktop_app.store.as_of_log import ORDER_PREFIX
from desktop_app.store.as_of_log import _records as records_of
from desktop_app.store.hashing import utc_text
from desktop_app.store.postgres.database import PostgresDatabase

_SNAPSHOT_TX = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
_BOUNDS = "SELECT min(position), max(position) FROM events"
_FIRST_FROM = (
    "SELECT position, recorded_at FROM events WHERE position >= %s ORDER BY position LIMIT 1"
)
_AT = "SELECT recorded_at FROM events WHERE position = %s"
_ORDER_END = "order."  # the first text after every "order-…" id (COLLATE "C": code points)
_CHECKPOINT = "SELECT position FROM rm_checkpoints WHERE name = %s"
_CHANGED = (
    "SELECT stream_id, min(CASE WHEN position > %s THEN version END), max(version) FROM events "
    "WHERE position > %s AND stream_id >= %s AND stream_id < %s GROUP BY stream_id"
)
_COLUMNS = "position, stream_id, version, type_name, schema_version, payload, recorded_at"
_STREAM_TO = f"SELECT {_COLUMNS} FROM events WHERE stream_id = %s AND version <= %s"  # noqa: S608
# Catalog and notes: the streams before "order-" and from "order." on, up to the position.
_CATALOG = (
    f"SELECT {_COLUMNS} FROM events "  # noqa: S608
    "WHERE (stream_id < %s OR stream_id >= %s) AND position <= %s"
)
_LISTED = (
    "SELECT order_id, order_number, customer_id, customer_name, status, line_count, "
    "total_minor, currency, placed_at, updated_at, version, last_position FROM rm_orders "
    "WHERE last_position <= %s"
)
_VERSION_AT = "SELECT max(version) FROM events WHERE stream_id = %s AND position <= %s"


def search_position(con: psycopg.Connection[Any], moment: str) -> int:
    """The last position recorded at or before ``moment`` (stored UTC text); 0 if none.
    The SQLite search step for step (``store.as_of_log.search_position``)."""
    low, high = con.execute(_BOUNDS).fetchone() or (None, None)
    if low is None or high is None:
        return 0
    first = con.execute(_AT, (low,)).fetchone()
    if first is None or str(first[0]) > moment:
        return 0
    last = con.execute(_AT, (high,)).fetchone()
    if last is not None and str(last[0]) <= moment:
        return int(high)
    good, bad = int(low), int(high)
    while bad - good > 1:
        middle = (good + bad) // 2
        found = con.execute(_FIRST_FROM, (middle,)).fetchone()
        if found is None or int(found[0]) >= bad or str(found[1]) > moment:
            bad = middle
        else:
            good = int(found[0])
    return good


class PostgresDeskHistory:
    """The server's log and read model, read as of a past position."""

    def __init__(self, db: PostgresDatabase, *, projector_name: str = "main") -> None:
        self._db = db
        self._projector = projector_name

    def position_at(self, moment: datetime) -> int:
        """Position of the last event recorded at or before ``moment`` (aware); 0 if none."""
        text = utc_text(moment)
        with self._db.raw(transaction=True) as con:
            con.execute(_SNAPSHOT_TX)  # one snapshot for the whole search
            return search_position(con, text)

    def recorded_at(self, position: int) -> datetime | None:
        """When the event at ``position`` was recorded (None: no such event)."""
        with self._db.raw() as con:
            row = con.execute(_AT, (position,)).fetchone()
        return None if row is None else datetime.fromisoformat(str(row[0]))

    def stream_version_at(self, stream_id: str, position: int) -> int:
        """The stream's last version at or before ``position`` (0: none yet)."""
        with self._db.raw() as con:
            row = con.execute(_VERSION_AT, (stream_id, position)).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def desk_at(self, position: int) -> DeskParts:
        """The read-model rows still valid at ``position`` and the events to replay."""
        with self._db.raw(transaction=True) as con:
            con.execute(_SNAPSHOT_TX)
            found = con.execute(_CHECKPOINT, (self._projector,)).fetchone()
            checkpoint = int(found[0]) if found and found[0] is not None else 0
            base = min(position, checkpoint)
            changed = con.execute(_CHANGED, (position, base, ORDER_PREFIX, _ORDER_END)).fetchall()
            skip = {str(stream_id)[len(ORDER_PREFIX) :] for stream_id, _, _ in changed}
            listed: list[OrderRow] = []
            if base > 0:
                new, row_type = tuple.__new__, OrderRow
                listed = [new(row_type, row) for row in con.execute(_LISTED, (base,))]
                if skip:  # changed after ``base`` but not yet projected: replayed instead
                    listed = [row for row in listed if row.order_id not in skip]
            rows: list[tuple[Any, ...]] = con.execute(
                _CATALOG, (ORDER_PREFIX, _ORDER_END, position)
            ).fetchall()
            for stream_id, first_after, last in changed:
                version = int(first_after) - 1 if first_after is not None else int(last)
                if version > 0:
                    rows += con.execute(_STREAM_TO, (stream_id, version)).fetchall()
        rows.sort(key=_position)
        return DeskParts(position=position, base=base, listed=listed, replay=records_of(rows))


def _position(row: tuple[Any, ...]) -> int:
    return int(row[0])


__all__ = ["PostgresDeskHistory", "search_position"]
