"""One contract for the read side's three ports (EventFeed, ProjectionTarget, OrderListQueries):
every test runs against the SQLite parts (a real file), the in-memory fakes and the PostgreSQL
parts on a real server (the throwaway cluster of tests/pg_cluster.py; skipped with the reason
where none can be started, never in CI: ORDER_DESK_REQUIRE_PG=1)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from desktop_app.application import read_handlers as rh
from desktop_app.application.composition import compose
from desktop_app.application.ports import (
    CheckpointConflictError,
    CustomerState,
    EventStore,
    InvalidCursorError,
    LineState,
    ListOrdersSpec,
    NotReadModelOwnerError,
    OrderState,
    ProductState,
    ReadModel,
    ReadModelKeys,
    WorkingSet,
)
from desktop_app.bootstrap import identity_of
from desktop_app.projector.runner import Projector
from desktop_app.store.engine import open_database
from desktop_app.store.event_store import SqliteEventStore, SqliteSnapshotStore
from desktop_app.store.memory import InMemoryEventStore, InMemorySnapshotStore
from desktop_app.store.memory_read_model import memory_read_model
from desktop_app.store.read_model import open_read_model_database, sqlite_read_model
from tests.fixtures.store_helpers import StepClock, events
from tests.integration.read_side import workload

SORTS = (
    "order_number",
    "customer_name",
    "status",
    "line_count",
    "total",
    "placed_at",
    "updated_at",
    "version",
)


@dataclass
class Side:
    """The read side under test and the event store it reads."""

    kind: str
    events: EventStore
    read_model: ReadModel
    snapshots: object


def _sqlite(path: Path, clock: StepClock) -> tuple[Side, object]:
    db = open_database(path)
    store = SqliteEventStore(db, clock=clock)
    snaps = SqliteSnapshotStore(db, clock=clock, key_dir=path.parent / "keys")
    read_db = open_read_model_database(db)  # the read model's own file beside the database
    db.call_after_close(read_db.close)
    read_model = sqlite_read_model(db, read_db)
    read_model.target.prepare()
    return Side("sqlite", store, read_model, snaps), db


def _memory(clock: StepClock) -> Side:
    store = InMemoryEventStore(clock=clock)
    return Side("memory", store, memory_read_model(store), InMemorySnapshotStore(store))


def _postgres(url: str, clock: StepClock, key_dir: Path) -> tuple[Side, object]:
    from desktop_app.store.postgres.database import init_postgres, open_postgres
    from desktop_app.store.postgres.event_store import PostgresEventStore, PostgresSnapshotStore
    from desktop_app.store.postgres.read_side import postgres_read_model

    init_postgres(url)
    db = open_postgres(url)
    store = PostgresEventStore(db, clock=clock)
    snaps = PostgresSnapshotStore(db, clock=clock, key_dir=key_dir)
    read_model = postgres_read_model(db)
    read_model.target.prepare()
    return Side("postgres", store, read_model, snaps), db


BACKENDS = ["sqlite", "memory", "postgres"]


@pytest.fixture(params=BACKENDS)
def side(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Side]:
    clock = StepClock()
    if request.param == "postgres":
        # Looked up only for this parameter: the other two never start the cluster.
        made, db = _postgres(request.getfixturevalue("pg_url"), clock, tmp_path / "keys")
        yield made
        made.read_model.close()
        db.close()  # type: ignore[attr-defined]
        return
    if request.param == "memory":
        made = _memory(clock)
        yield made
        made.read_model.close()
        return
    made, db = _sqlite(tmp_path / "orders.sqlite3", clock)
    yield made
    made.read_model.close()
    db.close()  # type: ignore[attr-defined]


def spec(**kw: object) -> ListOrdersSpec:
    values: dict[str, object] = {
        "statuses": None,
        "customer_id": None,
        "search": None,
        "sort": "order_number",
        "descending": False,
        "offset": 0,
        "limit": 100,
        "after": None,
        "with_total": True,
    }
    values.update(kw)
    return ListOrdersSpec(**values)  # type: ignore[arg-type]


def _order(i: int, customer: str, name: str, status: str, **kw: object) -> OrderState:
    values: dict[str, object] = {
        "order_id": f"o{i:02d}",
        "order_number": f"SO-{100 - i:03d}",
        "customer_id": customer,
        "customer_name": name,
        "status": status,
        "line_count": i % 3,
        "total_minor": (i * 7) % 5 * 100,
        "currency": "EUR",
        "placed_at": f"2025-06-{1 + i:02d}T10:00:00.000000Z",
        "updated_at": f"2025-07-{1 + (i * 5) % 20:02d}T10:00:00.000000Z",
        "version": 1 + i % 4,
        "last_position": i,
    }
    values.update(kw)
    return OrderState(**values)  # type: ignore[arg-type]


def world() -> WorkingSet:
    """12 orders of 3 customers (one renamed), 2 products, lines with SKUs."""
    work = WorkingSet()
    names = {"c1": "Müller GmbH", "c2": "Café Ü", "c3": "plain co"}
    for cid, name in names.items():
        work.customers[cid] = CustomerState(cid, name, 4, {"EUR": 100}, 1, "2025-01-01T00Z")
    work.products["p1"] = ProductState("p1", "AB-1", "Mug", 250, "EUR", False, 3, 1)
    work.products["p2"] = ProductState("p2", "XY-2", "Old cup", 100, "EUR", True, 0, 2)
    statuses = ("draft", "confirmed", "shipped", "cancelled")
    for i in range(12):
        cid = f"c{1 + i % 3}"
        order = _order(i, cid, names[cid], statuses[i % 4], carrier="DHL" if i == 2 else None)
        work.orders[order.order_id] = order
        sku = "AB-1" if i % 2 else "XY-2"
        work.lines[order.order_id] = {
            f"l{k}": LineState(order.order_id, f"l{k}", "p1", sku, "Mug", 1 + k, 250, "EUR", 2 - k)
            for k in range(2)
        }
    work.former_names.add(("c3", "Old Name Ltd"))
    return work


def seeded(side: Side) -> Side:
    target = side.read_model.target
    assert target.claim("main")
    target.replace_all("main", world(), 12)
    return side


# ------------------------------------------------------------------------------ feed


def test_feed_reads_the_log_in_position_order(side: Side) -> None:
    feed = side.read_model.feed
    assert feed.head_position() == 0
    assert feed.read_events(after_position=0, limit=10) == []
    side.events.append("s1", 0, events(3, text="x"))
    side.events.append("s2", 0, events(2))
    assert feed.head_position() == 5
    got = feed.read_events(after_position=1, limit=3)
    assert [(e.position, e.stream_id, e.version) for e in got] == [
        (2, "s1", 2),
        (3, "s1", 3),
        (4, "s2", 1),
    ]
    assert got[0].payload == {"i": 1, "text": "x"}
    assert isinstance(got[0].recorded_at, str) and got[0].recorded_at.endswith("Z")


def test_scan_gives_every_event_in_chunks_from_one_snapshot(side: Side) -> None:
    feed = side.read_model.feed
    for k in range(7):
        side.events.append(f"s{k}", 0, events(1 + k % 3))
    every = feed.read_events(after_position=0, limit=1000)
    with feed.scan_events(after_position=2, chunk=4) as scan:
        side.events.append("late", 0, events(1))  # after the scan began: not in it
        chunks = list(scan)
    assert all(1 <= len(c) <= 4 for c in chunks)
    assert [e for c in chunks for e in c] == every[2:]


# ------------------------------------------------------------------------------ target


def test_writes_need_the_claim(side: Side) -> None:
    target = side.read_model.target
    assert target.owner() is None
    with pytest.raises(NotReadModelOwnerError), target.batch("main", 0):
        pass
    with pytest.raises(NotReadModelOwnerError):
        target.reset("main")
    with pytest.raises(NotReadModelOwnerError):
        target.replace_all("main", world(), 1)
    assert target.claim("main") and target.claim("main")
    owner = target.owner()
    assert owner is not None and owner.name == "main"
    target.close()
    assert target.owner() is None


def test_batch_moves_the_checkpoint_compare_and_set(side: Side) -> None:
    seeded(side)
    target, queries = side.read_model.target, side.read_model.queries
    assert target.checkpoint("main") == 12
    with target.batch("main", 12) as batch:
        work = batch.load(ReadModelKeys(orders={"o01"}))
        assert set(work.orders) == {"o01"} and set(work.lines["o01"]) == {"l0", "l1"}
        assert set(work.customers) == {"c2"} and set(work.products) == {"p1"}
        work.orders["o01"].status = "shipped"
        work.dirty_orders.add("o01")
        work.customer_renames["c2"] = "Café Neu"
        batch.save(work, 13)
    assert target.checkpoint("main") == 13
    detail = queries.get_order("o01")
    assert detail is not None and detail.order.status == "shipped"
    names = {r.order_id: r.customer_name for r in queries.list_orders(spec(customer_id="c2"))[0]}
    assert names.pop("o01") == "Café Ü"  # the loaded row is written as the batch left it
    assert set(names.values()) == {"Café Neu"}  # the rename reaches every other row
    with pytest.raises(CheckpointConflictError), target.batch("main", 12):
        pass


def test_a_failed_batch_changes_nothing(side: Side) -> None:
    seeded(side)
    target, queries = side.read_model.target, side.read_model.queries
    with pytest.raises(RuntimeError), target.batch("main", 12) as batch:
        work = batch.load(ReadModelKeys(orders={"o03"}))
        work.orders["o03"].status = "shipped"
        work.dirty_orders.add("o03")
        batch.save(work, 14)
        raise RuntimeError("crash before the commit")
    assert target.checkpoint("main") == 12
    detail = queries.get_order("o03")
    assert detail is not None and detail.order.status == "cancelled"


def test_reset_and_replace_all(side: Side) -> None:
    seeded(side)
    target, queries = side.read_model.target, side.read_model.queries
    assert queries.list_orders(spec())[1] == 12
    target.reset("main")
    assert target.checkpoint("main") == 0
    assert queries.list_orders(spec()) == ([], 0, None)
    assert queries.list_customers(None, 10) == []
    seen: list[float] = []
    target.replace_all("main", world(), 40, seen.append)
    assert target.checkpoint("main") == 40 and seen[-1] == 1.0
    assert queries.list_orders(spec())[1] == 12
    target.begin_bulk()
    target.end_bulk()
    assert queries.list_orders(spec(statuses=frozenset({"draft"})))[1] == 3


def test_data_version_changes_when_the_log_changes(side: Side) -> None:
    target = side.read_model.target
    before = target.data_version()
    side.events.append("s", 0, events(1))
    assert target.data_version() != before


# ------------------------------------------------------------------------------ queries


def _ids(rows: list[object]) -> list[str]:
    return [r.order_id for r in rows]  # type: ignore[attr-defined]


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("descending", [False, True])
def test_cursor_pages_walk_the_whole_sorted_list(side: Side, sort: str, descending: bool) -> None:
    queries = seeded(side).read_model.queries
    whole, total, _ = queries.list_orders(spec(sort=sort, descending=descending))
    assert total == 12 and len(whole) == 12
    walked: list[str] = []
    after = None
    while True:
        rows, _, after = queries.list_orders(
            spec(sort=sort, descending=descending, limit=5, after=after)
        )
        walked += _ids(list(rows))
        if after is None:
            break
    assert walked == _ids(list(whole))
    offset_page, _, _ = queries.list_orders(spec(sort=sort, descending=descending, offset=3))
    assert _ids(list(offset_page)) == _ids(list(whole))[3:]


def test_list_sort_order(side: Side) -> None:
    queries = seeded(side).read_model.queries
    by_number = queries.list_orders(spec(sort="order_number"))[0]
    assert [r.order_number for r in by_number] == sorted(r.order_number for r in by_number)
    by_total = queries.list_orders(spec(sort="total", descending=True))[0]
    keys = [(r.total_minor, r.order_id) for r in by_total]
    assert keys == sorted(keys, reverse=True)


def test_filters_search_and_totals(side: Side) -> None:
    queries = seeded(side).read_model.queries
    rows, total, _ = queries.list_orders(spec(statuses=frozenset({"draft", "shipped"})))
    assert total == 6 and {r.status for r in rows} == {"draft", "shipped"}
    wanted = frozenset({"draft", "shipped"})
    rows, total, _ = queries.list_orders(spec(customer_id="c1", statuses=wanted))
    assert total == 2 and _ids(list(rows)) == ["o06", "o00"]  # SO-094, SO-100
    assert queries.list_orders(spec(search="MÜLLER"))[1] == 4  # folded: case-insensitive
    assert queries.list_orders(spec(search="so-09"))[1] == 10  # the number (SO-089 … SO-099)
    assert queries.list_orders(spec(search="ab-1"))[1] == 6  # a line's SKU
    assert queries.list_orders(spec(search="old name"))[1] == 4  # a former customer name
    assert queries.list_orders(spec(search="nowhere"))[0:2] == ([], 0)
    rows, total, _ = queries.list_orders(
        spec(
            date_column="placed_at",
            date_from="2025-06-03T00:00:00.000000Z",
            date_to="2025-06-06T00:00:00.000000Z",
        )
    )
    assert total == 3 and sorted(_ids(list(rows))) == ["o02", "o03", "o04"]
    rows, total, _ = queries.list_orders(spec(limit=2, with_total=False))
    assert total is None and len(rows) == 2


def test_a_cursor_of_another_sort_is_refused(side: Side) -> None:
    queries = seeded(side).read_model.queries
    _, _, after = queries.list_orders(spec(limit=2))
    assert after is not None
    with pytest.raises(InvalidCursorError):
        queries.list_orders(spec(sort="total", after=after))
    with pytest.raises(InvalidCursorError):
        queries.list_orders(spec(after="not a cursor"))


def test_order_detail_and_lookup_by_number(side: Side) -> None:
    queries = seeded(side).read_model.queries
    detail = queries.get_order("o02")
    assert detail is not None
    assert detail.order.order_number == "SO-098" and detail.carrier == "DHL"
    assert [ln.line_id for ln in detail.lines] == ["l1", "l0"]  # by position (seq)
    assert detail.lines[0].quantity == 2
    assert queries.get_order("nope") is None
    found = queries.find_order_by_number("SO-095")
    assert found is not None and found.order_id == "o05"
    assert queries.find_order_by_number("SO-999") is None


def test_customers_and_products(side: Side) -> None:
    queries = seeded(side).read_model.queries
    assert [c.customer_id for c in queries.list_customers(None, 10)] == ["c2", "c1", "c3"]
    assert [c.customer_id for c in queries.list_customers("gmbh", 10)] == ["c1"]
    assert [c.customer_id for c in queries.list_customers("old", 10)] == ["c3"]
    assert sorted(queries.customer_names()) == [
        ("c1", "Müller GmbH"),
        ("c2", "Café Ü"),
        ("c3", "plain co"),
    ]
    got = queries.get_customers(["c3", "zz", "c1"])
    assert [c.customer_id for c in got] == ["c3", "c1"] and got[1].lifetime_value == {"EUR": 100}
    assert [p.product_id for p in queries.list_products(None, False, 10)] == ["p1"]
    assert [p.product_id for p in queries.list_products("cup", True, 10)] == ["p2"]
    assert [p.product_id for p in queries.list_products(None, True, 1)] == ["p1"]


# ------------------------------------------------------------------------------ both at once


def test_the_projector_gives_the_same_answers_on_all(tmp_path: Path, pg_url: str) -> None:
    """The same commands, projected into SQLite, into memory and on the server: the same
    lists."""
    made, db = _sqlite(tmp_path / "orders.sqlite3", StepClock())
    server, server_db = _postgres(pg_url, StepClock(), tmp_path / "pg-keys")
    sides = [made, _memory(StepClock()), server]
    try:
        for s in sides:
            projector = Projector(s.events, s.read_model.feed, s.read_model.target, batch_size=9)
            projector.prepare()
            _, commands, _ = compose(
                s.events,
                s.snapshots,  # type: ignore[arg-type]
                identity=identity_of("test"),
                read=rh.ReadDeps(orders=s.read_model.queries, projector=projector),
                wake=projector.wake,
                new_id=iter(f"id-{n:05d}" for n in range(100_000)).__next__,
            )
            world_ = workload.World(random.Random(5))
            workload.seed_catalog(commands, world_)
            workload.run(commands, world_, 150)
            projector.run_once()
            assert projector.status().lag == 0 and projector.status().last_error is None
        answers = []
        for s in sides:
            q = s.read_model.queries
            answer = [q.list_customers(None, 100), q.list_products(None, True, 100)]
            for sort in SORTS:
                for search in (None, "a", "müller", "ab-1"):
                    answer.append(q.list_orders(spec(sort=sort, search=search, limit=500)))
            answer.append([q.get_order(r.order_id) for r in q.list_orders(spec(limit=500))[0]])
            answers.append(answer)
        assert answers[0] == answers[1]
        assert answers[0] == answers[2]
        assert len(answers[0][2][0]) > 10
    finally:
        for s in sides:
            s.read_model.close()
        db.close()  # type: ignore[attr-defined]
        server_db.close()  # type: ignore[attr-defined]
