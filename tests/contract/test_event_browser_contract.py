"""The log-wide event browser's contract (issue 11), on the SQLite store (a real file), the
in-memory one and a PostgreSQL server: every filter finds exactly the rows it should, pages
join without a gap or a repeat in both directions, refused commands sit in their time
position, appends while paging shift nothing, and rows speak business language."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from desktop_app.application.event_browser import (
    BrowseDeps,
    BrowseLog,
    LogBrowse,
    LogFilter,
    LogKey,
    LogPage,
    LogRow,
    browse_log,
)
from desktop_app.application.ports import (
    EventMetadata,
    EventStore,
    NewEvent,
    Rejection,
    RejectionLog,
)
from desktop_app.store.engine import open_database
from desktop_app.store.event_browse import SCAN_BUDGET, SqliteLogBrowse
from desktop_app.store.event_store import SqliteEventStore
from desktop_app.store.memory import InMemoryEventStore
from desktop_app.store.memory_browse import InMemoryLogBrowse
from desktop_app.store.rejection_log import InMemoryRejectionLog
from desktop_app.store.rejection_store import SqliteRejectionLog
from tests.fixtures.store_helpers import StepClock

START = datetime(2024, 5, 3, 9, 0, tzinfo=UTC)  # a Friday
STEP = timedelta(minutes=7)
_ids = itertools.count(1)


@dataclass
class Expected:
    """What the test wrote, to compute each filter's answer independently of the stores."""

    kind: str
    user: str
    host: str
    type_name: str
    command_id: str
    correlation_id: str
    stream_id: str
    order: int
    """Write order (the stores' keys follow it: the clock steps forward)."""


@dataclass
class Log:
    events: EventStore
    rejections: RejectionLog
    browse: LogBrowse
    other_events: EventStore
    """Another writer on the same data (SQLite: its own database handle)."""
    other_rejections: RejectionLog
    clock: StepClock
    bounded: bool = False
    """The store searches at most a few entries a page (sqlite-bounded)."""
    written: list[Expected] = field(default_factory=list)

    def deps(self) -> BrowseDeps:
        return BrowseDeps(self.browse, self.events)

    def page(self, **kwargs: Any) -> LogPage:
        return browse_log(self.deps(), BrowseLog(**kwargs))

    def append(
        self,
        stream_id: str,
        type_name: str,
        payload: dict[str, Any],
        *,
        user: str,
        host: str,
        correlation: str | None = None,
        other: bool = False,
    ) -> str:
        command = f"cmd-{next(_ids)}"
        meta = EventMetadata(
            correlation_id=correlation or command,
            causation_id=command,
            user=user,
            host=host,
            app_version="1.0",
            source="gui",
        )
        store = self.other_events if other else self.events
        version = store.stream_version(stream_id)
        new = NewEvent(
            event_id=f"ev-{next(_ids)}",
            type_name=type_name,
            schema_version=1,
            payload=payload,
            metadata=meta,
        )
        store.append(stream_id, version, [new], command_id=command)
        self.written.append(
            Expected(
                "event",
                user,
                host,
                type_name,
                command,
                meta.correlation_id,
                stream_id,
                len(self.written),
            )
        )
        return command

    def refuse(self, stream_id: str, *, user: str, host: str, other: bool = False) -> str:
        command = f"cmd-{next(_ids)}"
        log = self.other_rejections if other else self.rejections
        log.record(
            Rejection(
                user=user,
                host=host,
                source="gui",
                app_version="1.0",
                command_type="ShipOrder",
                command_id=command,
                correlation_id=command,
                stream_id=stream_id,
                content="{}",
                error_class="RuleViolation",
                message="Only a confirmed order can be shipped.",
            )
        )
        self.written.append(
            Expected("rejection", user, host, "", command, command, stream_id, len(self.written))
        )
        return command


@pytest.fixture(params=["sqlite", "sqlite-bounded", "memory", "postgres", "postgres-bounded"])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Log]:
    """``sqlite-bounded``: the file with a search budget of 3 index entries a page, so every
    host, event-type and correlation page ends early and the next goes on from there; the
    same two on a PostgreSQL server (the throwaway cluster of tests/pg_cluster.py)."""
    clock = StepClock(start=START, step=STEP)
    if request.param.startswith("postgres"):
        yield from _postgres_log(request.getfixturevalue("pg_url"), clock, request.param)
        return
    if request.param == "memory":
        events = InMemoryEventStore(clock=clock)
        rejections = InMemoryRejectionLog(clock=clock)
        yield Log(
            events, rejections, InMemoryLogBrowse(events, rejections), events, rejections, clock
        )
        return
    path = tmp_path / "orders.sqlite3"
    db = open_database(path)
    other = open_database(path, create=False)
    try:
        yield Log(
            SqliteEventStore(db, clock=clock),
            SqliteRejectionLog(db, clock=clock),
            SqliteLogBrowse(
                db, scan_budget=3 if request.param == "sqlite-bounded" else SCAN_BUDGET
            ),
            SqliteEventStore(other, clock=clock),
            SqliteRejectionLog(other, clock=clock),
            clock,
            bounded=request.param == "sqlite-bounded",
        )
    finally:
        other.close()
        db.close()


def _postgres_log(url: str, clock: StepClock, param: str) -> Iterator[Log]:
    from desktop_app.store.postgres.database import init_postgres, open_postgres
    from desktop_app.store.postgres.event_browse import PgLogBrowse
    from desktop_app.store.postgres.event_store import PostgresEventStore
    from desktop_app.store.postgres.rejections import PostgresRejectionLog

    init_postgres(url)
    db = open_postgres(url)
    other = open_postgres(url)  # another engine and pool, as another workstation
    bounded = param == "postgres-bounded"
    try:
        yield Log(
            PostgresEventStore(db, clock=clock),
            PostgresRejectionLog(db, clock=clock),
            PgLogBrowse(db, scan_budget=3 if bounded else SCAN_BUDGET),
            PostgresEventStore(other, clock=clock),
            PostgresRejectionLog(other, clock=clock),
            clock,
            bounded=bounded,
        )
    finally:
        other.close()
        db.close()


USERS = (("maria", "WS-3"), ("jonas", "WS-1"), ("li", "WS-2"))


def _fill(log: Log) -> None:
    """Customers, products, three orders with line changes, a note, and refusals between."""
    log.append(
        "customer-c1",
        "CustomerRegistered",
        {"customer_id": "c1", "name": "Anna Berg"},
        user="jonas",
        host="WS-1",
    )
    log.append(
        "product-p1",
        "ProductAdded",
        {
            "product_id": "p1",
            "sku": "MUG-01",
            "name": "Clerk mug",
            "price": {"amount": "4.50", "currency": "EUR"},
        },
        user="jonas",
        host="WS-1",
    )
    for n in range(1, 4):
        user, host = USERS[n % 3]
        oid = f"o{n}"
        stream = f"order-{oid}"
        placed = {
            "order_id": oid,
            "order_number": f"SO-{n:07d}",
            "customer_id": "c1",
            "customer_name": "Anna Berg",
            "currency": "EUR",
        }
        correlation = log.append(stream, "OrderPlaced", placed, user=user, host=host)
        line = {
            "order_id": oid,
            "line_id": f"l{n}",
            "product_id": "p1",
            "sku": "MUG-01",
            "product_name": "Clerk mug",
            "quantity": 3,
            "unit_price": {"amount": "4.50", "currency": "EUR"},
        }
        log.append(stream, "OrderLineAdded", line, user=user, host=host, correlation=correlation)
        log.refuse(stream, user="maria", host="WS-3")
        for quantity in (7, 2):
            change = {"order_id": oid, "line_id": f"l{n}", "quantity": quantity}
            log.append(stream, "OrderLineQuantityChanged", change, user="maria", host="WS-3")
        log.append(stream, "OrderConfirmed", {"order_id": oid}, user=user, host=host)
    log.append(
        "auditnotes-o1",
        "AuditNoteAdded",
        {
            "note_id": "n1",
            "order_id": "o1",
            "text": "Checked with the customer.",
            "target_version": 0,
            "order_version": 5,
            "corrects": "",
        },
        user="li",
        host="WS-2",
    )
    log.refuse("", user="li", host="WS-2")


def _walk_older(log: Log, where: LogFilter, size: int) -> list[LogKey]:
    keys: list[LogKey] = []
    page = log.page(where=where, limit=size)
    assert not page.has_newer
    for _ in range(4 * len(log.written) + 4):  # a page that repeats would loop: bounded
        assert len(page.rows) <= size
        keys += [row.key for row in page.rows]
        if not page.has_older:
            break
        # A short page with more beyond only when a bounded search says where it stopped.
        assert len(page.rows) == size or page.searched_to is not None
        assert page.oldest is not None
        page = log.page(where=where, cursor=page.oldest, direction="older", limit=size)
        assert page.has_newer
    else:
        pytest.fail("paging older never ended")
    return keys


def _walk_newer(log: Log, where: LogFilter, size: int) -> list[LogKey]:
    """From the oldest page up to the top, each page newest first; returned newest first."""
    pages: list[list[LogKey]] = []
    page = log.page(where=where, direction="newer", limit=size)
    for _ in range(4 * len(log.written) + 4):
        pages.append([row.key for row in page.rows])
        if not page.has_newer:
            break
        assert len(page.rows) == size or page.searched_to is not None
        assert page.newest is not None
        page = log.page(where=where, cursor=page.newest, direction="newer", limit=size)
    else:
        pytest.fail("paging newer never ended")
    keys: list[LogKey] = []
    for chunk in reversed(pages):
        keys += [k for k in chunk if k not in keys]
    return keys


def _all_rows(log: Log, where: LogFilter) -> list[LogRow]:
    """Every row ``where`` finds, newest first, page after page (pages of 100)."""
    rows: list[LogRow] = []
    page = log.page(where=where, limit=100)
    for _ in range(4 * len(log.written) + 4):
        rows += page.rows
        if not page.has_older:
            return rows
        page = log.page(where=where, cursor=page.oldest, direction="older", limit=100)
    pytest.fail("paging older never ended")


def _expected(log: Log, test: Any) -> list[int]:
    """Write orders of what should match, newest first."""
    return [w.order for w in reversed(log.written) if test(w)]


def _orders_of(log: Log, keys: list[LogKey]) -> list[int]:
    """Map keys back to write order: keys ascend exactly as the test wrote (one clock)."""
    everything = sorted(_walk_older(log, LogFilter(), 1000))
    rank = {key: n for n, key in enumerate(everything)}
    return [rank[key] for key in keys]


def test_unfiltered_pages_join_without_gap_or_repeat_both_ways(log: Log) -> None:
    _fill(log)
    total = len(log.written)
    for size in (1, 4, 7, total, total + 5):
        older = _walk_older(log, LogFilter(), size)
        assert len(older) == len(set(older)) == total
        assert older == sorted(older, reverse=True)
        assert _walk_newer(log, LogFilter(), size) == older


def test_refused_commands_are_grey_rows_in_their_time_position(log: Log) -> None:
    _fill(log)
    rows = log.page(limit=100).rows
    kinds = [row.kind for row in reversed(rows)]
    assert kinds == [w.kind for w in log.written]
    refused = [row for row in rows if row.kind == "rejection"]
    assert len(refused) == 4
    assert all(row.position is None and row.version is None for row in refused)
    first = refused[-1]
    assert first.order_id == "o1" and first.subject == "Order SO-0000001"
    assert first.summary == "Refused ship order: Only a confirmed order can be shipped."
    assert refused[0].order_id is None  # aimed at no stream
    # A filter on event type shows events only; rejections=False hides them as well.
    typed = _all_rows(log, LogFilter(event_type="OrderConfirmed"))
    assert [row.kind for row in typed] == ["event"] * 3
    assert all(row.kind == "event" for row in log.page(where=LogFilter(rejections=False)).rows)


@pytest.mark.parametrize(
    ("where", "test"),
    [
        (LogFilter(user="maria"), lambda w: w.user == "maria"),
        (LogFilter(host="WS-1"), lambda w: w.host == "WS-1"),
        (
            LogFilter(event_type="OrderLineQuantityChanged"),
            lambda w: w.type_name == "OrderLineQuantityChanged",
        ),
        (LogFilter(user="maria", host="WS-2"), lambda w: False),
        (LogFilter(user="li", rejections=False), lambda w: w.user == "li" and w.kind == "event"),
    ],
    ids=["user", "host", "event-type", "user-and-host-none", "user-events-only"],
)
def test_each_filter_finds_exactly_its_rows_on_every_page(
    log: Log, where: LogFilter, test: Any
) -> None:
    _fill(log)
    expected = _expected(log, test)
    for size in (2, 3, 50):
        assert _orders_of(log, _walk_older(log, where, size)) == expected
        assert _orders_of(log, _walk_newer(log, where, size)) == expected


def test_time_window_and_user_in_a_window(log: Log) -> None:
    _fill(log)
    # Written at START + n * STEP (one clock for events and refusals).
    since, until = START + 5 * STEP, START + 17 * STEP
    window = LogFilter(since=since, until=until)
    assert _orders_of(log, _walk_older(log, window, 4)) == list(range(16, 4, -1))
    rows = log.page(where=window, limit=100).rows
    assert all(since <= row.recorded_at < until for row in rows)
    maria = LogFilter(user="maria", since=since, until=until)
    expected = [n for n in range(16, 4, -1) if log.written[n].user == "maria"]
    assert _orders_of(log, _walk_older(log, maria, 2)) == expected
    assert _orders_of(log, _walk_newer(log, maria, 2)) == expected
    # The window's ends: since is in, until is out.
    edge = LogFilter(since=START + 5 * STEP, until=START + 6 * STEP)
    assert _orders_of(log, _walk_older(log, edge, 10)) == [5]


def test_command_and_correlation_ids(log: Log) -> None:
    _fill(log)
    placed = next(w for w in log.written if w.type_name == "OrderPlaced")
    by_command = log.page(where=LogFilter(command_id=placed.command_id), limit=10).rows
    assert [(row.type_name, row.command_id) for row in by_command] == [
        ("OrderPlaced", placed.command_id)
    ]
    # The line added with that correlation id joins the placing under one correlation.
    by_correlation = _all_rows(log, LogFilter(correlation_id=placed.command_id))
    assert [row.type_name for row in reversed(by_correlation)] == ["OrderPlaced", "OrderLineAdded"]
    refused = next(w for w in log.written if w.kind == "rejection")
    rows = log.page(where=LogFilter(command_id=refused.command_id), limit=10).rows
    assert [(row.kind, row.command_id) for row in rows] == [("rejection", refused.command_id)]
    assert log.page(where=LogFilter(command_id="cmd-none")).rows == ()


def test_appends_while_paging_shift_no_page(log: Log) -> None:
    _fill(log)
    before = _walk_older(log, LogFilter(), 100)
    first = log.page(limit=5)
    assert [row.key for row in first.rows] == before[:5]
    # Another workstation writes meanwhile: an event and a refusal.
    log.append("order-o2", "OrderCancelled", {"order_id": "o2"}, user="li", host="WS-2", other=True)
    log.refuse("order-o2", user="li", host="WS-2", other=True)
    second = log.page(cursor=first.oldest, direction="older", limit=5)
    assert [row.key for row in second.rows] == before[5:10]
    # Paging newer from the first page's top finds exactly the new rows, newest first.
    newer = log.page(cursor=first.newest, direction="newer", limit=2)
    assert [row.kind for row in newer.rows] == ["rejection", "event"]
    assert all(row.key > first.rows[0].key for row in newer.rows)
    assert not newer.has_newer and newer.has_older
    # Filtered paging across the same boundary: li's rows, two at a time.
    li = LogFilter(user="li")
    keys = _walk_older(log, li, 2)
    assert _orders_of(log, keys) == _expected(log, lambda w: w.user == "li")


def test_newer_page_reaching_the_top_is_a_whole_page(log: Log) -> None:
    _fill(log)
    top = log.page(limit=6)
    second = log.page(cursor=top.oldest, direction="older", limit=6)
    back = log.page(cursor=second.rows[2].key, direction="newer", limit=6)
    # Two rows of the second page and four of the top page: a whole page, more above it.
    assert [row.key for row in back.rows] == [r.key for r in (*top.rows[2:], *second.rows[:2])]
    assert back.has_newer and back.has_older
    # Only two rows lie above the top page's third row: the whole top page instead.
    near_top = log.page(cursor=top.rows[2].key, direction="newer", limit=6)
    assert [row.key for row in near_top.rows] == [row.key for row in top.rows]
    assert not near_top.has_newer and near_top.has_older


def test_rows_speak_business_language(log: Log) -> None:
    _fill(log)
    rows = _all_rows(log, LogFilter(event_type="OrderLineQuantityChanged"))
    texts = [row.summary for row in rows if row.order_id == "o2"]
    assert texts == [
        "Clerk mug (MUG-01): 7 → 2, -22.50 EUR",
        "Clerk mug (MUG-01): 3 → 7, +18.00 EUR",
    ]
    assert all(row.subject == "Order SO-0000002" for row in rows if row.order_id == "o2")
    note = _all_rows(log, LogFilter(event_type="AuditNoteAdded"))[0]
    assert note.order_id == "o1" and note.subject == "Notes on SO-0000001"
    customer = _all_rows(log, LogFilter(event_type="CustomerRegistered"))[0]
    assert customer.order_id is None and customer.subject == "Customer"
    assert "Anna Berg" in customer.summary
    assert "Checked with the customer." in note.summary


def test_bad_filters_are_refused_with_a_message() -> None:
    with pytest.raises(ValueError, match="after its start"):
        LogFilter(since=START, until=START)
    with pytest.raises(ValueError, match="unknown event type"):
        LogFilter(event_type="OrderTeleported")
    with pytest.raises(ValueError, match="timezone-aware"):
        LogFilter(since=datetime(2024, 5, 3, 9, 0))
    with pytest.raises(ValueError, match="direction"):
        BrowseLog(direction="sideways")  # type: ignore[arg-type]


def test_order_numbers_of_many_orders_in_one_read(log: Log) -> None:
    _fill(log)
    wanted = [f"missing-{n}" for n in range(600)] + ["o3", "o1", "o2"]
    assert log.browse.order_numbers(wanted) == {
        "o1": "SO-0000001",
        "o2": "SO-0000002",
        "o3": "SO-0000003",
    }
    assert log.browse.order_numbers([]) == {}


def test_a_bounded_search_says_how_far_it_searched(log: Log) -> None:
    """A rare match (one correlation id far back): every page is honest about whether more
    may lie beyond, an empty page included; the rows found are exactly the matches."""
    _fill(log)
    placed = next(w for w in log.written if w.type_name == "OrderPlaced")
    where = LogFilter(correlation_id=placed.command_id)
    page = log.page(where=where, limit=10)
    if log.bounded:
        # The newest three entries hold no match: an empty page that says so and goes on.
        assert page.rows == () and page.has_older and page.oldest is not None
        assert page.oldest.recorded_at == page.searched_to
    else:
        assert len(page.rows) == 2 and page.searched_to is None and not page.has_older
    keys = _walk_older(log, where, 10)
    assert [r.type_name for r in _all_rows(log, where)] == ["OrderLineAdded", "OrderPlaced"]
    assert len(keys) == 2
