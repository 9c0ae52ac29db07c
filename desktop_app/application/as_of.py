"""The desk as of a past moment (issue 11): the order list and one order as they were.

"As of T" is a prefix of the log: every event up to the last one recorded at or before T
(:meth:`DeskHistory.position_at`). The list at that position is what the live list showed
once the projector had applied that event, and it is made the way the live list is made: by
the projections, folded over the events (the fold is given by the composition root, as the
projections live above this layer).

Folding a million events takes several seconds, so only what changed is replayed. The read
model is the desk at its checkpoint C; an order with no event after ``base = min(T's
position, C)`` has the same row at T as in the read model (only its customer's name may have
changed since: it is taken from the folded customers). Every other order (changed after
``base``, or not yet in the read model) is replayed from its first event up to T's position,
together with the catalog's events up to it (customers' and products' names and prices as
they were). A read model being rebuilt (checkpoint 0) therefore means a full replay.

One order at a time (the audit view's "state at time") is the aggregate at its last version
at or before T's position: loaded by the repository, which starts from a trusted (sealed)
snapshot only and replays the rest.
"""

from __future__ import annotations

import csv
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from desktop_app.application import queries as q
from desktop_app.application.buses import QueryHandler
from desktop_app.application.ports import EventRecord, OrderRow
from desktop_app.domain.order import Order

if TYPE_CHECKING:
    from desktop_app.application.repository import Repository


@dataclass(frozen=True, kw_only=True, slots=True)
class DeskParts:
    """What a store hands over to make the list at a position (one read snapshot).

    ``listed``: read-model rows of the orders with no event after ``base``. ``replay``: the
    catalog's events up to the position and every event, up to the position, of each order
    changed after ``base`` or missing from the read model; in position order."""

    position: int
    base: int
    listed: list[OrderRow]
    replay: list[EventRecord]


class DeskHistory(Protocol):
    """The log read as of a past moment (a store's part; SQLite and memory)."""

    def position_at(self, moment: datetime) -> int:
        """Position of the last event recorded at or before ``moment`` (aware); 0 if none."""
        ...

    def recorded_at(self, position: int) -> datetime | None:
        """When the event at ``position`` was recorded (aware UTC); None: no such event."""
        ...

    def desk_at(self, position: int) -> DeskParts:
        """The read-model rows still valid at ``position`` and the events to replay."""
        ...

    def stream_version_at(self, stream_id: str, position: int) -> int:
        """The stream's last version at or before ``position`` (0: it did not exist yet)."""
        ...


DeskFold = Callable[[DeskParts], list[OrderRow]]
"""Makes the list rows from a store's parts (the projections' fold; see projector.as_of)."""


# --- queries ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class DeskAsOf:
    """The order list as it was at ``at``: ``rows`` newest first (``placed_at``, then id).

    ``position`` is the last event included (0: the log was empty then) and ``recorded_at``
    when it was recorded (None with position 0)."""

    at: datetime
    position: int
    recorded_at: datetime | None
    rows: tuple[OrderRow, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class GetDeskAsOf(q.Query[DeskAsOf]):
    """The whole order list as it was at a past moment (timezone-aware), read-only."""

    at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderAtTime:
    """One order as it was at ``at``: its state after ``version`` (None: not placed yet)."""

    at: datetime
    position: int
    version: int
    state: q.AggregateState | None


@dataclass(frozen=True, kw_only=True, slots=True)
class GetOrderAtTime(q.Query[OrderAtTime]):
    """One order's state at a past moment (timezone-aware): the audit view's "state at"."""

    order_id: str
    at: datetime


def _moment(at: object) -> datetime:
    """The asked moment in UTC; a clear refusal of anything else."""
    if not isinstance(at, datetime):
        raise ValueError("The moment must be a date and time.")
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("The moment needs its time zone (local time or UTC), not a bare time.")
    return at.astimezone(UTC)


_NEWEST_FIRST = operator.itemgetter(8, 0)  # (placed_utc, order_id) of an OrderRow


def get_desk_as_of(history: DeskHistory, fold: DeskFold, query: GetDeskAsOf) -> DeskAsOf:
    """The order list at ``query.at`` (see the module's docstring)."""
    at = _moment(query.at)
    position = history.position_at(at)
    rows = fold(history.desk_at(position)) if position > 0 else []
    rows.sort(key=_NEWEST_FIRST, reverse=True)
    return DeskAsOf(
        at=at,
        position=position,
        recorded_at=history.recorded_at(position) if position > 0 else None,
        rows=tuple(rows),
    )


def get_order_at_time(
    history: DeskHistory, orders: Repository[Order], query: GetOrderAtTime
) -> OrderAtTime:
    """One order at ``query.at``: the repository loads it at its version then (trusted
    snapshots only, then replay)."""
    at = _moment(query.at)
    position = history.position_at(at)
    version = history.stream_version_at(orders.stream_id(query.order_id), position)
    state = None
    if version > 0:
        order = orders.load(query.order_id, at_version=version)
        state = q.AggregateState(
            aggregate_id=query.order_id,
            aggregate_type=Order.AGGREGATE_TYPE,
            version=order.version,
            state=order.to_snapshot(),
        )
    return OrderAtTime(at=at, position=position, version=version, state=state)


def write_desk_csv(rows: Iterable[OrderRow], out: TextIO, *, bom: bool = False) -> int:
    """Write as-of rows as the order list's CSV (same columns as File ▸ Export list as CSV);
    returns the number of rows. ``out`` should be opened with ``newline=""``."""
    # Imported here: the composition root loads this module at start-up, exports are rare.
    from desktop_app.application.export import CSV_HEADER, UTF8_BOM, record_cells

    if bom:
        out.write(UTF8_BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    count = 0
    for row in rows:
        writer.writerow(record_cells(row))
        count += 1
    return count


def as_of_query_handlers(
    history: DeskHistory, fold: DeskFold, orders: Repository[Order]
) -> dict[type[q.Query[Any]], QueryHandler]:
    """The two as-of queries, bound to a store's history, the fold and the orders."""
    return {
        GetDeskAsOf: lambda query: get_desk_as_of(history, fold, query),
        GetOrderAtTime: lambda query: get_order_at_time(history, orders, query),
    }


__all__ = [
    "DeskAsOf",
    "DeskFold",
    "DeskHistory",
    "DeskParts",
    "GetDeskAsOf",
    "GetOrderAtTime",
    "OrderAtTime",
    "as_of_query_handlers",
    "get_desk_as_of",
    "get_order_at_time",
    "write_desk_csv",
]
