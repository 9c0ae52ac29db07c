"""The desk as of a past moment, from the SQLite file (``application.as_of.DeskHistory``).

"As of T" is a prefix of the log: every event up to the last one recorded at or before T. Its
position is found by a binary search over positions (about 20 primary-key look-ups at a
million events; no index on ``recorded_at`` is needed): a writer stamps ``recorded_at`` from
the clock just before it takes the write lock, so stamps rise with positions. Where a clock
stepped back they may not; the search then still answers a position whose event was recorded
at or before T and whose successor was recorded after it (one consistent prefix of the log).

:meth:`SqliteDeskHistory.desk_at` reads the read model's rows and checkpoint in ONE read
transaction of the read model's file, then the events to replay from the event file (see
``application.as_of``): one grouped pass over the events after ``base`` finds the orders
changed since (SQLite does it, no Python per event), then each such order's events up to the
position by the (stream, version) index, and the catalog's events up to the position by the
same index. Two files, still one consistent answer: events at or before a position never
change, and the rows are those of the checkpoint read with them (bound to this log, see
``store.read_model_file``).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from desktop_app.application.as_of import DeskParts
from desktop_app.application.ports import EventRecord, OrderRow
from desktop_app.store.engine import Database
from desktop_app.store.hashing import utc_text

_BOUNDS = "SELECT min(position), max(position) FROM events"
_FIRST_FROM = (
    "SELECT position, recorded_at FROM events WHERE position >= ? ORDER BY position LIMIT 1"
)
_AT = "SELECT recorded_at FROM events WHERE position = ?"


def _first_from(con: sqlite3.Connection, position: int) -> tuple[int, str] | None:
    row = con.execute(_FIRST_FROM, (position,)).fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


def search_position(con: sqlite3.Connection, moment: str) -> int:
    """The last position recorded at or before ``moment`` (stored UTC text); 0 if none.

    Positions may have gaps (a rolled-back append's number is never reused): each probe asks
    for the first event at or after the middle."""
    low, high = con.execute(_BOUNDS).fetchone()
    if low is None:
        return 0
    first = con.execute(_AT, (low,)).fetchone()
    if str(first[0]) > moment:
        return 0
    last = con.execute(_AT, (high,)).fetchone()
    if str(last[0]) <= moment:
        return int(high)
    # Invariant: ``good`` is an event recorded at or before the moment; every event at or
    # after ``bad`` was recorded after it.
    good, bad = int(low), int(high)
    while bad - good > 1:
        middle = (good + bad) // 2
        found = _first_from(con, middle)
        if found is None or found[0] >= bad or found[1] > moment:
            bad = middle
        else:
            good = found[0]
    return good


ORDER_PREFIX = "order-"
"""Stream ids of orders (``Repository.stream_id``); every other stream is catalog or notes."""
_ORDER_END = "order."  # the first text after every "order-…" id: an index range, not LIKE

_CHECKPOINT = "SELECT position FROM rm_checkpoints WHERE name = ?"
# Per order changed after ``base``: its first version after the position (NULL: none) and its
# last version after ``base`` (its version at the position when nothing came after it).
_CHANGED = (
    "SELECT stream_id, min(CASE WHEN position > ? THEN version END), max(version) FROM events "
    "WHERE position > ? AND stream_id >= ? AND stream_id < ? GROUP BY stream_id"
)
_COLUMNS = "position, stream_id, version, type_name, schema_version, payload, recorded_at"
_STREAM_TO = f"SELECT {_COLUMNS} FROM events WHERE stream_id = ? AND version <= ?"  # noqa: S608
# The catalog (and notes): every stream before "order-" and after "order.", up to the position
# (two ranges of the (stream, version) index: an OR of both would scan the table, and so
# would a plan on ``position``, which the unary ``+`` keeps the planner from choosing).
_CATALOG_BEFORE = f"SELECT {_COLUMNS} FROM events WHERE stream_id < ? AND +position <= ?"  # noqa: S608
_CATALOG_AFTER = f"SELECT {_COLUMNS} FROM events WHERE stream_id >= ? AND +position <= ?"  # noqa: S608
# Rows whose last projected event is at or before ``base`` (a rename changes a row's customer
# name but not its last position). An order with events after the checkpoint still shows here:
# it is among the changed orders, replayed, and left out of these rows.
_LISTED = (
    "SELECT order_id, order_number, customer_id, customer_name, status, line_count, "
    "total_minor, currency, placed_at, updated_at, version, last_position FROM rm_orders "
    "WHERE last_position <= ?"
)
_VERSION_AT = "SELECT max(version) FROM events WHERE stream_id = ? AND position <= ?"


def _records(rows: list[tuple[Any, ...]]) -> list[EventRecord]:
    if not rows:
        return []
    payloads = json.loads("[" + ",".join([str(row[5]) for row in rows]) + "]")
    make = EventRecord._make
    return [
        make((pos, sid, ver, tname, sver, payload, rec))
        for (pos, sid, ver, tname, sver, _, rec), payload in zip(rows, payloads, strict=True)
    ]


class SqliteDeskHistory:
    """The Order Desk SQLite file's log and read model, read as of a past position.

    ``database`` is the event file, ``read_model`` the read model's own file (None: the
    rows are not used, every event is replayed)."""

    def __init__(
        self,
        database: Database,
        read_model: Database | None = None,
        *,
        projector_name: str = "main",
    ) -> None:
        self._db = database
        self._read = read_model
        self._projector = projector_name

    def position_at(self, moment: datetime) -> int:
        """Position of the last event recorded at or before ``moment`` (aware); 0 if none."""
        text = utc_text(moment)
        with self._db.raw_read(hold=False) as con:
            return search_position(con, text)

    def recorded_at(self, position: int) -> datetime | None:
        """When the event at ``position`` was recorded (None: no such event)."""
        with self._db.raw(hold=False) as con:
            row = con.execute(_AT, (position,)).fetchone()
        return None if row is None else datetime.fromisoformat(str(row[0]))

    def stream_version_at(self, stream_id: str, position: int) -> int:
        """The stream's last version at or before ``position`` (0: none yet)."""
        with self._db.raw(hold=False) as con:
            row = con.execute(_VERSION_AT, (stream_id, position)).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def desk_at(self, position: int) -> DeskParts:
        """The read-model rows still valid at ``position`` and the events to replay."""
        listed: list[OrderRow] = []
        base = 0
        if self._read is not None:
            with self._read.raw_read(hold=False) as rm:
                base = min(position, _checkpoint(rm, self._projector))
                if base > 0:
                    new, row_type = tuple.__new__, OrderRow
                    # A named tuple straight from each row (``_make`` costs more, 100k times).
                    listed = [new(row_type, row) for row in rm.execute(_LISTED, (base,))]
        with self._db.raw_read(hold=False) as con:
            changed = con.execute(_CHANGED, (position, base, ORDER_PREFIX, _ORDER_END)).fetchall()
            skip = {str(stream_id)[len(ORDER_PREFIX) :] for stream_id, _, _ in changed}
            if skip:  # changed after ``base`` but not yet projected: replayed instead
                listed = [row for row in listed if row.order_id not in skip]
            rows = con.execute(_CATALOG_BEFORE, (ORDER_PREFIX, position)).fetchall()
            rows += con.execute(_CATALOG_AFTER, (_ORDER_END, position)).fetchall()
            for stream_id, first_after, last in changed:
                version = int(first_after) - 1 if first_after is not None else int(last)
                if version > 0:
                    rows += con.execute(_STREAM_TO, (stream_id, version)).fetchall()
        rows.sort(key=_position)
        return DeskParts(position=position, base=base, listed=listed, replay=_records(rows))


def _position(row: tuple[Any, ...]) -> int:
    return int(row[0])


def _checkpoint(con: sqlite3.Connection, name: str) -> int:
    try:
        row = con.execute(_CHECKPOINT, (name,)).fetchone()
    except sqlite3.OperationalError:  # no read model in this file (yet): replay everything
        return 0
    return int(row[0]) if row and row[0] is not None else 0
