"""The desk as of a past moment, over the in-memory stores (``application.as_of.DeskHistory``).

The same answers as ``store.as_of_log.SqliteDeskHistory`` (the contract suite runs both): the
same search for the position, the same split between read-model rows kept and orders replayed.
"""

from __future__ import annotations

from datetime import datetime

from desktop_app.application.as_of import DeskParts
from desktop_app.application.ports import EventRecord, OrderRow
from desktop_app.store.as_of_log import ORDER_PREFIX
from desktop_app.store.hashing import Row, utc_text
from desktop_app.store.memory import InMemoryEventStore
from desktop_app.store.memory_read_model import InMemoryReadModelTables, _event_record, _record


class InMemoryDeskHistory:
    """``DeskHistory`` over an in-memory event store and read model."""

    def __init__(
        self,
        events: InMemoryEventStore,
        tables: InMemoryReadModelTables,
        *,
        projector_name: str = "main",
    ) -> None:
        self._events = events
        self._tables = tables
        self._projector = projector_name

    def _rows(self) -> list[Row]:
        store = self._events
        with store._lock:  # the store's own rows (same package); a copy of the list
            return list(store._rows)

    def position_at(self, moment: datetime) -> int:
        """Position of the last event recorded at or before ``moment`` (aware); 0 if none."""
        text = utc_text(moment)
        rows = self._rows()
        # The SQLite search step for step (positions are 1, 2, … here: index + 1), so a clock
        # that stepped back gives the same answer in both stores.
        if not rows or str(rows[0][8]) > text:
            return 0
        if str(rows[-1][8]) <= text:
            return len(rows)
        good, bad = 1, len(rows)
        while bad - good > 1:
            middle = (good + bad) // 2
            if str(rows[middle - 1][8]) > text:
                bad = middle
            else:
                good = middle
        return good

    def recorded_at(self, position: int) -> datetime | None:
        """When the event at ``position`` was recorded (None: no such event)."""
        rows = self._rows()
        if not 0 < position <= len(rows):
            return None
        return datetime.fromisoformat(str(rows[position - 1][8]))

    def stream_version_at(self, stream_id: str, position: int) -> int:
        """The stream's last version at or before ``position`` (0: none yet)."""
        versions = [int(r[2]) for r in self._rows()[: max(position, 0)] if r[1] == stream_id]
        return max(versions, default=0)

    def desk_at(self, position: int) -> DeskParts:
        """The read-model rows still valid at ``position`` and the events to replay."""
        tables = self._tables
        with tables.lock:
            rows = self._rows()
            checkpoint = tables.checkpoints.get(self._projector, 0)
            base = min(position, checkpoint)
            listed_states = list(tables.orders.values())
        changed = {str(r[1]) for r in rows[base:] if str(r[1]).startswith(ORDER_PREFIX)}
        skip = {stream_id[len(ORDER_PREFIX) :] for stream_id in changed}
        listed: list[OrderRow] = []
        if base > 0:
            listed = [_record(o) for o in listed_states if o.order_id not in skip]
        replay: list[EventRecord] = [
            _event_record(r)
            for r in rows[:position]
            if r[1] in changed or not str(r[1]).startswith(ORDER_PREFIX)
        ]
        return DeskParts(position=position, base=base, listed=listed, replay=replay)
