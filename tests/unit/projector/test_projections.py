"""The pure projections, on an in-memory working set (no SQL)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from desktop_app.application.ports import CustomerState, EventRecord, ProductState, WorkingSet
from desktop_app.projector.projections import (
    ProjectionError,
    keys_for,
    minor_units,
    placed_in,
    project,
)

_pos = itertools.count(1)


def ev(type_name: str, payload: dict[str, Any], *, version: int = 1, sv: int = 1) -> EventRecord:
    position = next(_pos)
    return EventRecord(
        position, "s", version, type_name, sv, payload, f"2026-01-01T00:00:{position:02d}.000000Z"
    )


def eur(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


def catalog() -> WorkingSet:
    work = WorkingSet()
    work.customers["c1"] = CustomerState(
        customer_id="c1", name="Acme", order_count=0, lifetime_value={}, version=1
    )
    for pid, name in (("p1", "Pen"), ("p2", "Ink")):
        work.products[pid] = ProductState(
            product_id=pid,
            sku=pid.upper(),
            name=name,
            price_minor=100,
            currency="EUR",
            discontinued=False,
            units_sold=0,
            version=1,
        )
    return work


def placed(work: WorkingSet) -> None:
    project(
        work,
        [
            ev(
                "OrderPlaced",
                {
                    "order_id": "o1",
                    "order_number": "SO-1",
                    "customer_id": "c1",
                    "customer_name": "Old Acme",
                    "currency": "EUR",
                },
            ),
            ev(
                "OrderLineAdded",
                {
                    "order_id": "o1",
                    "line_id": "l1",
                    "product_id": "p1",
                    "sku": "P1",
                    "product_name": "Old Pen",
                    "quantity": 2,
                    "unit_price": eur("1.50"),
                },
                version=2,
            ),
            ev(
                "OrderLineAdded",
                {
                    "order_id": "o1",
                    "line_id": "l2",
                    "product_id": "p2",
                    "sku": "P2",
                    "product_name": "Ink",
                    "quantity": 1,
                    "unit_price": eur("0.25"),
                },
                version=3,
            ),
        ],
    )


def test_order_lines_totals_and_current_names() -> None:
    work = catalog()
    placed(work)
    order = work.orders["o1"]
    assert (order.line_count, order.total_minor, order.version) == (2, 325, 3)
    assert order.customer_name == "Acme"  # the current name, not the one in the event
    assert work.lines["o1"]["l1"].product_name == "Pen"
    assert work.customers["c1"].order_count == 1
    project(
        work, [ev("OrderLineQuantityChanged", {"order_id": "o1", "line_id": "l1", "quantity": 5})]
    )
    assert order.total_minor == 775
    project(work, [ev("OrderLineRemoved", {"order_id": "o1", "line_id": "l2"})])
    assert (order.line_count, order.total_minor) == (1, 750)
    assert ("o1", "l2") in work.removed_lines and ("o1", "l2") not in work.dirty_lines


def test_confirmed_orders_count_and_cancel_takes_back() -> None:
    work = catalog()
    placed(work)
    assert work.customers["c1"].lifetime_value == {}
    project(work, [ev("OrderConfirmed", {"order_id": "o1"})])
    assert work.customers["c1"].lifetime_value == {"EUR": 325}
    assert work.products["p1"].units_sold == 2
    project(work, [ev("OrderShipped", {"order_id": "o1", "tracking": "T9"}, sv=1)])  # v1 upcast
    assert work.orders["o1"].tracking_number == "T9" and work.orders["o1"].carrier == ""
    project(work, [ev("OrderCancelled", {"order_id": "o1"}, sv=1)])
    assert work.orders["o1"].status == "cancelled"
    assert work.orders["o1"].cancel_reason == "(no reason recorded)"
    assert work.customers["c1"].lifetime_value == {"EUR": 0}
    assert work.products["p1"].units_sold == 0
    assert work.customers["c1"].order_count == 1


def test_renames_reach_loaded_rows_and_are_recorded_for_the_rest() -> None:
    work = catalog()
    placed(work)
    project(
        work,
        [
            ev("CustomerRenamed", {"customer_id": "c1", "name": "New Acme"}, version=2),
            ev("ProductRenamed", {"product_id": "p1", "name": "New Pen"}, version=2),
        ],
    )
    assert work.orders["o1"].customer_name == "New Acme"
    assert work.lines["o1"]["l1"].product_name == "New Pen"
    assert work.customer_renames == {"c1": "New Acme"}
    assert work.product_renames == {"p1": "New Pen"}


def test_catalog_events() -> None:
    work = WorkingSet()
    project(
        work,
        [
            ev("CustomerRegistered", {"customer_id": "c", "name": "X"}),
            ev("ProductAdded", {"product_id": "p", "sku": "S", "name": "N", "price": eur("4.50")}),
            ev("ProductPriceChanged", {"product_id": "p", "price": eur("5.00")}, version=2),
            ev("ProductDiscontinued", {"product_id": "p"}, version=3),
        ],
    )
    product = work.products["p"]
    assert (product.price_minor, product.discontinued, product.version) == (500, True, 3)
    assert work.customers["c"].name == "X"


def test_a_bad_event_names_itself() -> None:
    work = WorkingSet()
    bad = ev("OrderConfirmed", {"order_id": "missing"})
    with pytest.raises(ProjectionError) as info:
        project(work, [bad])
    assert info.value.event is bad and str(bad.position) in str(info.value)
    with pytest.raises(ProjectionError, match="Nope"):
        project(work, [ev("Nope", {})])


def test_keys_and_money() -> None:
    keys = keys_for(
        [
            ev("OrderPlaced", {"order_id": "o", "customer_id": "c"}),
            ev("OrderLineAdded", {"order_id": "o", "product_id": "p"}),
        ]
    )
    assert (keys.orders, keys.customers, keys.products) == ({"o"}, {"c"}, {"p"})
    assert minor_units(eur("4.50")) == 450
    assert minor_units({"amount": "7", "currency": "JPY"}) == 7
    for _ in range(2):  # a refusal is never remembered as a value
        with pytest.raises(ValueError):
            minor_units(eur("4.505"))
    assert minor_units({"amount": 450, "currency": "EUR"}) == 45000  # not text: uncached path


def test_a_batch_loads_no_row_of_the_orders_it_places() -> None:
    events = [
        ev("OrderPlaced", {"order_id": "new", "customer_id": "c"}),
        ev("OrderLineAdded", {"order_id": "new", "product_id": "p"}),
        ev("OrderConfirmed", {"order_id": "old"}),
    ]
    assert placed_in(events) == {"new"}
    assert keys_for(events).orders - placed_in(events) == {"old"}


def test_an_edit_of_several_lines_projects_as_its_one_line_events() -> None:
    added = {
        "line_id": "l3",
        "product_id": "p2",
        "sku": "P2",
        "product_name": "Old Ink",
        "quantity": 4,
        "unit_price": eur("0.50"),
    }
    one_by_one, at_once = catalog(), catalog()
    placed(one_by_one)
    placed(at_once)
    project(
        one_by_one,
        [
            ev("OrderLineRemoved", {"order_id": "o1", "line_id": "l2"}, version=4),
            ev(
                "OrderLineQuantityChanged",
                {"order_id": "o1", "line_id": "l1", "quantity": 3},
                version=5,
            ),
            ev("OrderLineAdded", {"order_id": "o1", **added}, version=6),
        ],
    )
    edit = ev(
        "OrderLinesChanged",
        {
            "order_id": "o1",
            "removed": ["l2"],
            "quantities": [{"line_id": "l1", "quantity": 3}],
            "added": [added],
        },
        version=4,
    )
    assert keys_for([edit]).products == {"p2"}
    project(at_once, [edit])
    order = at_once.orders["o1"]
    assert (order.line_count, order.total_minor, order.version) == (2, 650, 4)
    assert order.last_position == edit.position
    expected = one_by_one.lines["o1"]
    assert {k: (v.quantity, v.product_name) for k, v in at_once.lines["o1"].items()} == {
        k: (v.quantity, v.product_name) for k, v in expected.items()
    }
    assert at_once.lines["o1"]["l3"].product_name == "Ink"  # the current name, as for one line
    assert at_once.removed_lines == one_by_one.removed_lines
    assert at_once.dirty_lines == one_by_one.dirty_lines
