"""The order list's date-range filter (placed / last change): right rows, index ranges only."""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.application.ports import ListOrdersSpec
from desktop_app.application.read_handlers import InvalidQueryError
from desktop_app.store.read_model import SqliteOrderListQueries, SqliteProjectionTarget
from desktop_app.store.read_model_file import read_model_path
from tests.integration.read_side.support import open_app

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class SteppingClock:
    """A clock the test moves by hand (the event store asks it for each append's time)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _all(app: object, **filters: object) -> list[q.OrderRow]:
    rows: list[q.OrderRow] = []
    after = None
    while True:
        page = app.queries.ask(q.ListOrders(limit=3, after=after, **filters))  # type: ignore[attr-defined]
        rows.extend(page.rows)
        if page.next_after is None:
            return rows
        after = page.next_after


def test_range_over_placed_and_last_change_through_the_query_bus(tmp_path: Path) -> None:
    clock = SteppingClock(T0)
    app = open_app(tmp_path / "orders.sqlite3", clock=clock)
    try:
        send = app.commands.dispatch
        customer = send(c.RegisterCustomer(name="Müller KG")).aggregate_id
        other = send(c.RegisterCustomer(name="Clerk & Co")).aggregate_id
        mug = send(
            c.AddProduct(sku="MUG-1", name="Mug", price=Decimal("4.50"), currency="EUR")
        ).aggregate_id
        placed: dict[str, datetime] = {}
        for day in range(10):  # one order a day, 1 to 10 March, alternating customers
            clock.now = T0 + timedelta(days=day)
            who = customer if day % 2 else other
            line = (c.LineInput(product_id=mug, quantity=day + 1),)
            placed[send(c.PlaceOrder(customer_id=who, lines=line)).aggregate_id] = clock.now
        first = next(iter(placed))
        clock.now = T0 + timedelta(days=20)  # touched on 21 March: its last change moves
        send(c.ConfirmOrder(order_id=first))
        assert app.projector is not None
        app.projector.run_once()

        start, end = T0 + timedelta(days=2), T0 + timedelta(days=5)  # 3, 4, 5 March
        expected = {o for o, at in placed.items() if start <= at < end}
        assert len(expected) == 3
        for sort in q.ORDER_SORT_COLUMNS:
            for descending in (False, True):
                rows = _all(app, date_from=start, date_to=end, sort=sort, descending=descending)
                assert {r.order_id for r in rows} == expected, sort
        page = app.queries.ask(q.ListOrders(date_from=start, date_to=end))
        assert page.total == 3
        # With a status, a customer or a search too (the other list paths).
        assert {
            r.order_id for r in _all(app, date_from=start, statuses=frozenset({"pending"}))
        } == {o for o, at in placed.items() if at >= start and o != first}
        theirs = _all(app, date_from=start, date_to=end, customer_id=customer)
        assert {r.customer_id for r in theirs} == {customer} and len(theirs) == 1
        assert (
            app.queries.ask(q.ListOrders(date_from=start, date_to=end, customer_id=customer)).total
            == 1
        )
        assert {r.order_id for r in _all(app, date_from=start, date_to=end, search="müll")} == {
            r.order_id for r in theirs
        }
        # Last change: only the confirmed order moved into 21 March.
        late = T0 + timedelta(days=20)
        assert [r.order_id for r in _all(app, date_column="updated_at", date_from=late)] == [first]
        assert _all(app, date_from=late) == []
        # Bounds in any time zone mean the same instant.
        vienna = start.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Vienna"))
        assert {r.order_id for r in _all(app, date_from=vienna, date_to=end)} == expected
    finally:
        app.close()


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"date_column": "total_minor"}, "cannot be filtered by"),
        ({"date_from": datetime(2026, 1, 1)}, "time zone"),
        ({"date_from": T0, "date_to": T0}, "must be after its start"),
    ],
)
def test_bad_ranges_are_refused(tmp_path: Path, filters: dict[str, object], message: str) -> None:
    app = open_app(tmp_path / "orders.sqlite3")
    try:
        with pytest.raises(InvalidQueryError, match=message):
            app.queries.ask(q.ListOrders(**filters))  # type: ignore[arg-type]
    finally:
        app.close()


def _fill(path: Path, orders: int) -> None:
    """``orders`` list rows spread over a year, written straight into the read model as the
    P5 builder does; the store's end_bulk then computes counts, search index and statistics."""
    rnd = random.Random(7)
    statuses = ("pending", "confirmed", "shipped", "delivered", "cancelled")
    con = sqlite3.connect(read_model_path(path))
    try:
        rows = []
        for i in range(orders):
            placed = datetime(2025, 1, 1) + timedelta(minutes=rnd.randrange(365 * 24 * 60))
            updated = placed + timedelta(minutes=rnd.randrange(60 * 24 * 30))
            number = f"SO-{i:06d}"
            rows.append(
                (f"o{i:06d}", number, number.casefold(), f"c{i % 500}", f"Customer {i % 500}",
                 f"customer {i % 500}", rnd.choice(statuses), 1 + i % 7, 100 * (i % 997), "EUR",
                 placed.isoformat(timespec="microseconds") + "Z",
                 updated.isoformat(timespec="microseconds") + "Z", 3, i + 1)
            )  # fmt: skip
        con.executemany(
            "INSERT INTO rm_orders (order_id, order_number, number_fold, customer_id, "
            "customer_name, customer_fold, status, line_count, total_minor, currency, placed_at, "
            "updated_at, version, last_position) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        con.commit()
    finally:
        con.close()


def test_paging_a_range_uses_index_ranges_never_a_scan(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite3"
    app = open_app(path)
    try:
        assert app.read_model is not None
        store, queries = app.read_model.target, app.read_model.queries
        assert isinstance(store, SqliteProjectionTarget)
        assert isinstance(queries, SqliteOrderListQueries)
        assert store.claim("test")  # the one writer of the read model (R33)
        _fill(path, 20_000)
        store.end_bulk()
        day = ("2025-06-10T00:00:00.000000Z", "2025-06-11T00:00:00.000000Z")
        for column in ("placed_at", "updated_at"):
            for sort in ("placed_at", "updated_at", "total", "order_number", "customer_name"):
                for customer in (None, "c7"):
                    for search in (None, "SO-00"):
                        spec = ListOrdersSpec(
                            statuses=None, customer_id=customer, search=search, sort=sort,
                            descending=True, offset=0, limit=50, after=None, with_total=True,
                            date_column=column, date_from=day[0], date_to=day[1],
                        )  # fmt: skip
                        plans = queries.explain_list_orders(spec)
                        touching = [p for p in plans if " o " in f" {p} " or "rm_orders" in p]
                        assert touching, plans
                        for plan in touching:
                            # "SCAN o" (or a full index scan) would read every order.
                            assert not plan.startswith("SCAN"), (spec, plans)
                        if customer is None and search is None:
                            assert any(column in p and "SEARCH" in p for p in touching), plans
        # And the answer is the right one (oracle: plain SQL over every row).
        con = sqlite3.connect(read_model_path(path))
        try:
            want = {
                r[0]
                for r in con.execute(
                    "SELECT order_id FROM rm_orders WHERE placed_at >= ? AND placed_at < ?", day
                )
            }
        finally:
            con.close()
        got = _all(
            app,
            date_from=datetime(2025, 6, 10, tzinfo=UTC),
            date_to=datetime(2025, 6, 11, tzinfo=UTC),
            sort="total",
        )
        assert {r.order_id for r in got} == want and len(want) > 20
    finally:
        app.close()
