"""The log-wide event browser (issue 11): every event of every stream, and the refused commands
in their time position, filtered by who, where, when, what and which command, paged over
millions.

The browser's order is time: ``(recorded_at, kind, number)`` where an event's number is its
position and a rejection's its number in the rejection log (a rejection is not an event: it
has no position, only a time). Pages are keyset pages on that key (:class:`LogKey`), never an
offset: "older" reads strictly before a key, "newer" strictly after it, so appends while
someone pages never shift a page or repeat a row.

The store answers two ports' worth of reads through :class:`LogBrowse` (one page of events,
one page of rejections, both in key order); this module merges them, names the orders and tells
each event in business language (:mod:`business_summaries`, lines by product and SKU).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Literal, NamedTuple, Protocol

from desktop_app.application.buses import QueryHandler
from desktop_app.application.business_summaries import LineBook
from desktop_app.application.ports import EventStore, RecordedRejection, StoredEvent
from desktop_app.application.queries import Query
from desktop_app.application.summaries import describe
from desktop_app.domain import events as e
from desktop_app.domain.errors import DomainError
from desktop_app.domain.serialization import from_payload

Direction = Literal["older", "newer"]
EVENT, REJECTION = 0, 1
"""A key's ``rank``: at the same instant an event sorts before a rejection."""

PAGE_MAX = 1000
"""The largest page a caller gets (a bigger ``limit`` is cut to this)."""

EVENT_TYPES: tuple[str, ...] = tuple(sorted(kind.type_name for kind in e.ALL_EVENTS))
"""Every event type the browser can filter by."""

# Events that name a line only by its id: told against the order's lines so far.
_NEEDS_LINES = frozenset(
    {
        e.OrderLineAdded.type_name,
        e.OrderLineRemoved.type_name,
        e.OrderLineQuantityChanged.type_name,
        e.OrderLinesChanged.type_name,
    }
)


@dataclass(frozen=True, order=True, slots=True)
class LogKey:
    """A row's place in the browser's order: time, then events before rejections, then the
    position (events) or the rejection's number."""

    recorded_at: datetime
    rank: int
    number: int


@dataclass(frozen=True, kw_only=True, slots=True)
class LogFilter:
    """What the browser shows; every field left None (or empty) means "any".

    ``since``/``until`` bound the time as ``since <= recorded_at < until``; ``command_id`` is
    the id of one command (an event's ``causation_id``); ``event_type`` excludes the refused
    commands (they have no event type); ``rejections=False`` hides them too.
    """

    user: str | None = None
    host: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    event_type: str | None = None
    command_id: str | None = None
    correlation_id: str | None = None
    rejections: bool = True

    def __post_init__(self) -> None:
        for name, value in (("since", self.since), ("until", self.until)):
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} must be timezone-aware")
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise ValueError("the end of the time window must be after its start")
        if self.event_type is not None and self.event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event type: {self.event_type}")

    @property
    def wants_rejections(self) -> bool:
        """True when refused commands can match (an event-type filter excludes them)."""
        return self.rejections and self.event_type is None


class EventsPage(NamedTuple):
    """What :meth:`LogBrowse.events_page` found: ``events`` in scan order, and ``reached``:
    None when every matching event in the direction was considered (the page is full or the
    log ends), else the key where a bounded scan stopped short of a full page — every matching
    event between the cursor and ``reached`` (inclusive) is in ``events``, and the next page
    goes on from ``reached``."""

    events: list[StoredEvent]
    reached: LogKey | None = None


class LogBrowse(Protocol):
    """The store's reads for the browser. ``direction="older"``: rows with a key strictly below
    ``cursor`` (all rows when None), newest first; ``"newer"``: strictly above it (from the
    oldest when None), oldest first. At most ``limit`` rows."""

    def events_page(
        self, where: LogFilter, cursor: LogKey | None, direction: Direction, limit: int
    ) -> EventsPage:
        """Events matching ``where`` (their key: ``recorded_at``, EVENT, position). A store may
        bound the work of one page (a filter no index serves): see :class:`EventsPage`."""
        ...

    def rejections_page(
        self, where: LogFilter, cursor: LogKey | None, direction: Direction, limit: int
    ) -> list[RecordedRejection]:
        """Refused commands matching ``where`` (key: ``recorded_at``, REJECTION, number)."""
        ...

    def order_numbers(self, order_ids: Sequence[str]) -> dict[str, str]:
        """The order number of each order that exists (from its first event), in one read."""
        ...


def event_key(event: StoredEvent) -> LogKey:
    """An event's place in the browser's order."""
    return LogKey(event.recorded_at, EVENT, event.position)


def rejection_key(rejection: RecordedRejection) -> LogKey:
    """A refused command's place in the browser's order."""
    return LogKey(rejection.recorded_at, REJECTION, rejection.rejection_id)


def matches_event(where: LogFilter, event: StoredEvent) -> bool:
    """True when ``event`` passes ``where`` (the meaning every store implements)."""
    meta = event.metadata
    return (
        (where.user is None or meta.user == where.user)
        and (where.host is None or meta.host == where.host)
        and (where.since is None or event.recorded_at >= where.since)
        and (where.until is None or event.recorded_at < where.until)
        and (where.event_type is None or event.type_name == where.event_type)
        and (where.command_id is None or meta.causation_id == where.command_id)
        and (where.correlation_id is None or meta.correlation_id == where.correlation_id)
    )


def matches_rejection(where: LogFilter, recorded: RecordedRejection) -> bool:
    """True when a refused command passes ``where``."""
    r = recorded.rejection
    return (
        where.wants_rejections
        and (where.user is None or r.user == where.user)
        and (where.host is None or r.host == where.host)
        and (where.since is None or recorded.recorded_at >= where.since)
        and (where.until is None or recorded.recorded_at < where.until)
        and (where.command_id is None or r.command_id == where.command_id)
        and (where.correlation_id is None or r.correlation_id == where.correlation_id)
    )


# --- the query and its rows ------------------------------------------------------------------

RowKind = Literal["event", "rejection"]


@dataclass(frozen=True, kw_only=True, slots=True)
class LogRow:
    """One row of the browser: an event, or a refused command (``kind="rejection"``, no
    position or version: it changed nothing)."""

    key: LogKey
    kind: RowKind
    recorded_at: datetime
    stream_id: str
    subject: str
    """What the row is about in words: "Order SO-0000123", "Customer", "Notes on SO-…"."""
    order_id: str | None
    """The order whose audit view the row opens (None for customers and products)."""
    version: int | None
    position: int | None
    type_name: str
    """The event type, or the refused command's type."""
    summary: str
    """Business language: what the event did, or what was refused and why."""
    user: str
    host: str
    source: str
    command_id: str
    correlation_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class LogPage:
    """One page, newest first, with whether more lies beyond either end and the keys to page
    on from. A page may hold fewer rows than asked, even none, and still have more beyond:
    then the store searched a bounded stretch of the log (back to ``searched_to`` when paging
    older, up to it when paging newer) and the next page searches on from there."""

    rows: tuple[LogRow, ...]
    has_older: bool
    has_newer: bool
    oldest: LogKey | None = None
    """The key to page older from (the last row's, or where the search stopped)."""
    newest: LogKey | None = None
    """The key to page newer from (the first row's, or where the search stopped); on the
    newest page too, to look for rows written since."""
    searched_to: datetime | None = None
    """Where a bounded search stopped short of a full page (None: it did not)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class BrowseLog(Query[LogPage]):
    """A page of the whole log: ``direction`` from ``cursor`` (None: the newest page when
    "older", the oldest page when "newer"). A "newer" page that reaches the top is filled up
    to a whole page of the newest rows."""

    where: LogFilter = field(default_factory=LogFilter)
    cursor: LogKey | None = None
    direction: Direction = "older"
    limit: int = 100

    def __post_init__(self) -> None:
        if self.direction not in ("older", "newer"):
            raise ValueError(f"direction must be 'older' or 'newer', not {self.direction!r}")
        if self.limit < 1:
            raise ValueError("a page holds at least one row")


# --- the handler -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BrowseDeps:
    """What the browser reads: the store's page reads and the event store (order numbers and
    the lines an event names by id)."""

    log: LogBrowse
    events: EventStore


def browse_log(deps: BrowseDeps, query: BrowseLog) -> LogPage:
    """One merged page of events and refused commands (see :class:`BrowseLog`)."""
    limit = min(query.limit, PAGE_MAX)
    cursor, direction = query.cursor, query.direction
    items, more, reached = _merged(deps.log, query.where, cursor, direction, limit)
    if (
        direction == "newer"
        and cursor is not None
        and not more
        and reached is None
        and len(items) < limit
    ):
        # Reached the top: show a whole page of the newest rows instead of a short one.
        cursor, direction = None, "older"
        items, more, reached = _merged(deps.log, query.where, None, "older", limit)
    if direction == "newer":
        items.reverse()
        has_older, has_newer = cursor is not None, more or reached is not None
        oldest = _key(items[-1]) if items else cursor
        newest = reached or (_key(items[0]) if items else cursor)
    else:
        has_older, has_newer = more or reached is not None, cursor is not None
        oldest = reached or (_key(items[-1]) if items else cursor)
        newest = _key(items[0]) if items else cursor
    return LogPage(
        rows=_rows(deps, items),
        has_older=has_older,
        has_newer=has_newer,
        oldest=oldest,
        newest=newest,
        searched_to=None if reached is None else reached.recorded_at,
    )


Item = StoredEvent | RecordedRejection


def _stream(item: Item) -> str:
    return item.stream_id if isinstance(item, StoredEvent) else item.rejection.stream_id


def _key(item: Item) -> LogKey:
    return event_key(item) if isinstance(item, StoredEvent) else rejection_key(item)


def _merged(
    log: LogBrowse, where: LogFilter, cursor: LogKey | None, direction: Direction, limit: int
) -> tuple[list[Item], bool, LogKey | None]:
    """Up to ``limit`` items in scan order, whether more follow, and where a bounded search
    of the events stopped short (the page then ends there: refusals beyond it wait for the
    next page, which searches on from there)."""
    events, reached = log.events_page(where, cursor, direction, limit + 1)
    items: list[Item] = list(events)
    if where.wants_rejections:
        refused = log.rejections_page(where, cursor, direction, limit + 1)
        if reached is not None:
            older = direction == "older"
            refused = [r for r in refused if (rejection_key(r) > reached) == older]
        items += refused
        items.sort(key=_key, reverse=direction == "older")
    if len(items) > limit:
        return items[:limit], True, None
    return items, False, reached


def _rows(deps: BrowseDeps, items: Sequence[Item]) -> tuple[LogRow, ...]:
    events = deps.events
    namer = _OrderNames(deps.log, [_stream(item) for item in items])
    told = _tell_lines(events, [i for i in items if isinstance(i, StoredEvent)])
    rows: list[LogRow] = []
    for item in items:
        if isinstance(item, StoredEvent):
            rows.append(_event_row(item, namer, told))
        else:
            rows.append(_rejection_row(item, namer))
    return tuple(rows)


def _event_row(event: StoredEvent, namer: _OrderNames, told: dict[tuple[str, int], str]) -> LogRow:
    order_id, subject = namer.subject(event.stream_id)
    summary = told.get((event.stream_id, event.version))
    if summary is None:
        summary = _describe(event)
    meta = event.metadata
    return LogRow(
        key=event_key(event),
        kind="event",
        recorded_at=event.recorded_at,
        stream_id=event.stream_id,
        subject=subject,
        order_id=order_id,
        version=event.version,
        position=event.position,
        type_name=event.type_name,
        summary=summary,
        user=meta.user,
        host=meta.host,
        source=meta.source,
        command_id=meta.causation_id,
        correlation_id=meta.correlation_id,
    )


def _rejection_row(recorded: RecordedRejection, namer: _OrderNames) -> LogRow:
    r = recorded.rejection
    order_id, subject = namer.subject(r.stream_id) if r.stream_id else (None, "—")
    return LogRow(
        key=rejection_key(recorded),
        kind="rejection",
        recorded_at=recorded.recorded_at,
        stream_id=r.stream_id,
        subject=subject,
        order_id=order_id,
        version=None,
        position=None,
        type_name=r.command_type,
        summary=f"Refused {command_words(r.command_type)}: {r.message}",
        user=r.user,
        host=r.host,
        source=r.source,
        command_id=r.command_id,
        correlation_id=r.correlation_id,
    )


def command_words(type_name: str) -> str:
    """``ConfirmOrder`` → ``"confirm order"`` (a command type as the auditor reads it)."""
    words: list[str] = []
    for char in type_name:
        if char.isupper() and words:
            words.append(" ")
        words.append(char.lower())
    return "".join(words) or "a command"


def _describe(event: StoredEvent) -> str:
    try:
        return describe(from_payload(event.type_name, event.schema_version, event.payload))
    except (DomainError, KeyError, TypeError, ValueError) as exc:
        return f"{event.type_name} (cannot be read: {exc})"


def _tell_lines(events: EventStore, page: Sequence[StoredEvent]) -> dict[tuple[str, int], str]:
    """The line events of the page told against their order's lines so far: each order
    stream is read once, up to the newest version the page needs."""
    wanted: dict[str, set[int]] = {}
    for event in page:
        if event.type_name in _NEEDS_LINES and event.stream_id.startswith("order-"):
            wanted.setdefault(event.stream_id, set()).add(event.version)
    told: dict[tuple[str, int], str] = {}
    for stream_id, versions in wanted.items():
        book = LineBook()
        for version, type_name, schema_version, payload in events.read_stream_data(
            stream_id, to_version=max(versions)
        ):
            try:
                text = book.tell(from_payload(type_name, schema_version, payload)).text
            except (DomainError, KeyError, TypeError, ValueError, ArithmeticError) as exc:
                text = f"{type_name} (cannot be read: {exc})"
            if version in versions:
                told[(stream_id, version)] = text
    return told


_KINDS = (
    ("order-", "Order"),
    ("customer-", "Customer"),
    ("product-", "Product"),
    ("auditnotes-", "Notes on"),
)


class _OrderNames:
    """Order numbers for one page's rows, read at once."""

    def __init__(self, log: LogBrowse, stream_ids: Sequence[str]) -> None:
        ids = {
            stream_id.split("-", 1)[1]
            for stream_id in stream_ids
            if stream_id.startswith(("order-", "auditnotes-"))
        }
        self._numbers = log.order_numbers(sorted(ids)) if ids else {}

    def number(self, order_id: str) -> str:
        return self._numbers.get(order_id, "(unknown order)")

    def subject(self, stream_id: str) -> tuple[str | None, str]:
        """(the order it opens, the subject in words) for a stream id."""
        for prefix, word in _KINDS:
            if stream_id.startswith(prefix):
                aggregate_id = stream_id[len(prefix) :]
                if prefix in ("order-", "auditnotes-"):
                    return aggregate_id, f"{word} {self.number(aggregate_id)}"
                return None, word
        return None, stream_id


def browse_query_handlers(
    log: LogBrowse, events: EventStore
) -> dict[type[Query[Any]], QueryHandler]:
    """The browser's query bound to one store."""
    handler: Callable[[BrowseLog], LogPage] = partial(browse_log, BrowseDeps(log, events))
    return {BrowseLog: handler}


__all__ = [
    "EVENT",
    "EVENT_TYPES",
    "PAGE_MAX",
    "REJECTION",
    "BrowseDeps",
    "BrowseLog",
    "Direction",
    "EventsPage",
    "LogBrowse",
    "LogFilter",
    "LogKey",
    "LogPage",
    "LogRow",
    "browse_log",
    "browse_query_handlers",
    "command_words",
    "event_key",
    "matches_event",
    "matches_rejection",
    "rejection_key",
]
