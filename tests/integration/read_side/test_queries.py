"""Read-model queries through the query bus: lists, paging, search (R20), one order, renames."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.application.read_handlers import InvalidQueryError
from desktop_app.bootstrap import App
from desktop_app.store.read_model_file import read_model_path
from tests.integration.read_side.support import all_orders, check_literal_search

NASTY = [
    "' OR 1=1 --",
    "%",
    "_",
    "\\",
    "%_%",
    "'; DROP TABLE rm_orders; --",
    '"',
    "ß",
    "SS",
    "mül",
    "co",
    "100%",
    "O'B",
    "b_l",
    "x" * 5000,
    "SO-0",
    "a_b",
    "cd_",
]


def _schema(path: Path) -> list[tuple[str, str]]:
    """The schema of the database and of its read model's file."""
    found: list[tuple[str, str]] = []
    for file in (path, read_model_path(path)):
        con = sqlite3.connect(file)
        try:
            found += con.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()
        finally:
            con.close()
    return found


def test_search_is_a_literal_substring_filter(seeded: App, db_path: Path) -> None:
    schema = _schema(db_path)
    everything = all_orders(seeded)
    assert len(everything) > 10
    check_literal_search(seeded, everything, list(NASTY))
    for pattern in NASTY:
        customers = seeded.queries.ask(q.ListCustomers(search=pattern))
        all_customers = seeded.queries.ask(q.ListCustomers())
        assert [x.customer_id for x in customers] == [
            x.customer_id for x in all_customers if pattern.casefold() in x.name.casefold()
        ]
        products = seeded.queries.ask(q.ListProducts(search=pattern))
        all_products = seeded.queries.ask(q.ListProducts())
        assert [x.product_id for x in products] == [
            x.product_id
            for x in all_products
            if pattern.casefold() in x.sku.casefold() or pattern.casefold() in x.name.casefold()
        ]
    assert _schema(db_path) == schema
    assert len(all_orders(seeded)) == len(everything)


@pytest.mark.parametrize("sort", ["order_id; DROP TABLE rm_orders", "total_minor", "", "1"])
def test_sort_outside_the_allow_list_is_refused(seeded: App, sort: str) -> None:
    with pytest.raises(InvalidQueryError, match="cannot be sorted by"):
        seeded.queries.ask(q.ListOrders(sort=sort))


def test_filters_sorts_and_both_paging_styles_agree(seeded: App) -> None:
    everything = all_orders(seeded)
    customer = everything[0].customer_id
    statuses = frozenset({"pending", "confirmed"})
    for sort in q.ORDER_SORT_COLUMNS:
        for descending in (False, True):
            full = seeded.queries.ask(
                q.ListOrders(statuses=statuses, sort=sort, descending=descending, limit=10_000)
            )
            expected = [r for r in everything if r.status in statuses]
            assert full.total == len(expected)
            assert {r.order_id for r in full.rows} == {r.order_id for r in expected}
            # keyset paging walks the same rows in the same order
            walked: list[str] = []
            after: str | None = None
            while True:
                page = seeded.queries.ask(
                    q.ListOrders(
                        statuses=statuses, sort=sort, descending=descending, limit=7, after=after
                    )
                )
                walked.extend(r.order_id for r in page.rows)
                after = page.next_after
                if after is None:
                    break
            assert walked == [r.order_id for r in full.rows], sort
            # offset paging too
            second = seeded.queries.ask(
                q.ListOrders(statuses=statuses, sort=sort, descending=descending, limit=5, offset=5)
            )
            assert [r.order_id for r in second.rows] == walked[5:10]
    mine = seeded.queries.ask(q.ListOrders(customer_id=customer, limit=10_000))
    assert {r.order_id for r in mine.rows} == {
        r.order_id for r in everything if r.customer_id == customer
    }
    with pytest.raises(InvalidQueryError):
        seeded.queries.ask(q.ListOrders(after="not-a-cursor"))


def test_get_order_find_by_number_and_catalog_figures(seeded: App) -> None:
    everything = all_orders(seeded)
    row = everything[0]
    detail = seeded.queries.ask(q.GetOrder(order_id=row.order_id))
    assert detail is not None and detail.order == row
    assert detail.order.line_count == len(detail.lines)
    assert detail.order.total_minor == sum(line.line_total_minor for line in detail.lines)
    assert seeded.queries.ask(q.FindOrderByNumber(order_number=row.order_number)) == row
    assert seeded.queries.ask(q.GetOrder(order_id="nope")) is None
    customers = seeded.queries.ask(q.ListCustomers())
    assert sum(x.order_count for x in customers) == len(everything)
    counted = [r for r in everything if r.status in ("confirmed", "shipped", "delivered")]
    assert sum(v for x in customers for _, v in x.lifetime_value) == sum(
        r.total_minor for r in counted
    )
    units = 0
    for r in counted:
        d = seeded.queries.ask(q.GetOrder(order_id=r.order_id))
        assert d is not None
        units += sum(line.quantity for line in d.lines)
    assert sum(p.units_sold for p in seeded.queries.ask(q.ListProducts())) == units


def test_renames_update_denormalised_names(app: App) -> None:
    bus = app.commands
    bus.dispatch(c.RegisterCustomer(customer_id="c1", name="Old Name"))
    bus.dispatch(
        c.AddProduct(
            product_id="p1", sku="SKU-1", name="Old Product", price=Decimal("2.50"), currency="EUR"
        )
    )
    placed = [
        bus.dispatch(
            c.PlaceOrder(customer_id="c1", lines=(c.LineInput(product_id="p1", quantity=2),))
        )
        for _ in range(3)
    ]
    assert app.projector is not None
    app.projector.run_once()  # the orders are in the read model before the renames
    bus.dispatch(c.RenameCustomer(customer_id="c1", name="New Name"))
    result = bus.dispatch(c.RenameProduct(product_id="p1", name="New Product"))
    assert app.queries.ask(q.WaitForPosition(position=result.position, timeout_seconds=5))
    for p in placed:
        detail = app.queries.ask(q.GetOrder(order_id=p.aggregate_id))
        assert detail is not None
        assert detail.order.customer_name == "New Name"
        assert [line.product_name for line in detail.lines] == ["New Product"]
    page = app.queries.ask(q.ListOrders(search="new name"))
    assert page.total == 3
    # The old name stays findable (README: orders show the current name): the orders, through
    # the search index and through the short-pattern scan, and the customer itself.
    found = app.queries.ask(q.ListOrders(search="old name"))
    assert found.total == 3 and {r.customer_name for r in found.rows} == {"New Name"}
    assert app.queries.ask(q.ListOrders(search="ol")).total == 3
    assert app.queries.ask(q.ListOrders(search="OLD NAME", customer_id="c1")).total == 3
    assert [r.name for r in app.queries.ask(q.ListCustomers(search="old"))] == ["New Name"]
    assert app.queries.ask(q.ListOrders(search="never called")).total == 0
    app.commands.run_maintenance(c.RebuildReadModels())  # the full rebuild keeps them too
    assert app.queries.ask(q.ListOrders(search="old name")).total == 3
    assert [r.name for r in app.queries.ask(q.ListCustomers(search="old"))] == ["New Name"]


def test_wake_middleware_and_read_your_writes(app: App) -> None:
    assert app.projector is not None
    woken: list[int] = []
    app.projector.set_wake_hook(lambda: woken.append(1))
    command = c.RegisterCustomer(customer_id="c9", name="Someone")
    result = app.commands.dispatch(command)
    assert woken == [1]
    again = app.commands.dispatch(command)  # same command id: a duplicate wakes nobody
    assert again.duplicate and woken == [1]
    seen: list[q.ProjectorStatus] = []
    app.projector.add_listener(seen.append)
    assert app.projector.run_once() == 1
    assert app.queries.ask(q.WaitForPosition(position=result.position, timeout_seconds=1))
    assert not app.queries.ask(q.WaitForPosition(position=result.position + 5, timeout_seconds=0.2))
    status = app.queries.ask(q.GetProjectorStatus())
    assert status.checkpoint == result.position and status.lag == 0
    assert seen and seen[-1] == status and not status.running


def test_look_alike_customers_are_found_with_what_tells_them_apart(app: App) -> None:
    bus = app.commands
    for cid, name in (("c1", "Müller GmbH"), ("c2", "Blue Harbour Café"), ("c3", "Zeta")):
        bus.dispatch(c.RegisterCustomer(customer_id=cid, name=name))
    bus.dispatch(
        c.AddProduct(product_id="p1", sku="S-1", name="P", price=Decimal(1), currency="EUR")
    )
    bus.dispatch(c.PlaceOrder(customer_id="c1", lines=(c.LineInput(product_id="p1", quantity=1),)))
    assert app.projector is not None
    app.projector.run_once()

    def similar(name: str, exclude: str | None = None) -> list[str]:
        rows = app.queries.ask(q.FindSimilarCustomers(name=name, exclude_customer_id=exclude))
        return [row.name for row in rows]

    assert similar("muller gmbh") == ["Müller GmbH"]
    assert similar("  MÜLER  GmbH") == ["Müller GmbH"]
    assert similar("Blue Harbor Cafe") == ["Blue Harbour Café"]
    assert similar("Northwind") == []
    assert similar("Müller GmbH", exclude="c1") == []  # renaming c1 itself: no warning
    row = app.queries.ask(q.FindSimilarCustomers(name="Mueller GmbH"))[0]
    assert row.customer_id == "c1" and row.order_count == 1
    assert row.registered_at is not None and row.registered_at.tzinfo is not None
    with pytest.raises(InvalidQueryError):
        app.queries.ask(q.FindSimilarCustomers(name="x", limit=0))


_BAD_NUMBERS = [-1, 2**63, 2**70, -(2**70), 1.5, "5", True, None]


@pytest.mark.parametrize("offset", _BAD_NUMBERS)
def test_out_of_range_offsets_are_query_errors(seeded: App, offset: object) -> None:
    """R20/issue 9: ``offset=2**70`` raised a raw OverflowError from the driver."""
    with pytest.raises(InvalidQueryError, match="offset must be a whole number") as info:
        seeded.queries.ask(q.ListOrders(offset=offset))  # type: ignore[arg-type]
    assert info.value.field == "offset"


@pytest.mark.parametrize("limit", [0, *_BAD_NUMBERS])
def test_out_of_range_limits_are_query_errors(seeded: App, limit: object) -> None:
    for query in (
        q.ListOrders(limit=limit),  # type: ignore[arg-type]
        q.ListCustomers(limit=limit),  # type: ignore[arg-type]
        q.ListProducts(limit=limit),  # type: ignore[arg-type]
    ):
        with pytest.raises(InvalidQueryError, match="page holds a whole number") as info:
            seeded.queries.ask(query)
        assert info.value.field == "limit"


def test_the_largest_offset_allowed_is_answered(seeded: App) -> None:
    from desktop_app.application.read_handlers import MAX_OFFSET

    page = seeded.queries.ask(q.ListOrders(offset=MAX_OFFSET))
    assert page.rows == () and page.offset == MAX_OFFSET


@pytest.mark.parametrize("version", [-1, 2**63, 2**70, 1.5, "2", True])
def test_out_of_range_versions_in_history_queries_are_errors(seeded: App, version: object) -> None:
    """Version numbers of the history queries page through a stream: same rule, no raw
    driver error."""
    from desktop_app.domain.errors import DomainError

    order_id = all_orders(seeded)[0].order_id
    for query, field in (
        (q.GetOrderHistory(order_id=order_id, from_version=version), "from_version"),  # type: ignore[arg-type]
        (q.GetOrderHistory(order_id=order_id, to_version=version), "to_version"),  # type: ignore[arg-type]
        (q.GetOrderAtVersion(order_id=order_id, version=version), "version"),  # type: ignore[arg-type]
        (q.GetOrderDiff(order_id=order_id, from_version=version, to_version=1), "from_version"),  # type: ignore[arg-type]
        (q.GetOrderDiff(order_id=order_id, from_version=0, to_version=version), "to_version"),  # type: ignore[arg-type]
        (q.GetOrderSnapshot(order_id=order_id, version=version), "version"),  # type: ignore[arg-type]
        (q.VerifyOrderSnapshot(order_id=order_id, version=version), "version"),  # type: ignore[arg-type]
    ):
        with pytest.raises(DomainError) as info:
            seeded.queries.ask(query)
        assert info.value.field == field, query
