"""The full rebuild's specialised fold gives exactly the rows :func:`project` gives."""

from __future__ import annotations

import json
import random
from dataclasses import astuple
from typing import Any

import pytest

from benchmarks.p3_rebuild import _Generator
from desktop_app.application.ports import EventRecord, WorkingSet
from desktop_app.projector.projections import ProjectionError, project, project_rebuild


def generated(count: int, seed: int) -> list[EventRecord]:
    """Realistic order lifecycles and catalog changes (the P3 benchmark's generator)."""
    out = []
    for row in _Generator(random.Random(seed)).rows(count):
        position, stream_id, version, _, type_name, schema, payload, _, recorded_at = row[:9]
        out.append(
            EventRecord(
                position, stream_id, version, type_name, schema, json.loads(payload), recorded_at
            )
        )
    return out


def rows(work: WorkingSet) -> dict[str, Any]:
    return {
        "orders": {k: astuple(v) for k, v in work.orders.items()},
        "lines": {k: {i: astuple(x) for i, x in v.items()} for k, v in work.lines.items()},
        "customers": {k: astuple(v) for k, v in work.customers.items()},
        "products": {k: astuple(v) for k, v in work.products.items()},
        "renames": (work.customer_renames, work.product_renames),
        "indexes": (work.orders_by_customer, work.lines_by_product),
    }


def both(events: list[EventRecord], chunk: int = 97) -> tuple[WorkingSet, WorkingSet]:
    plain, fast = WorkingSet.indexed(), WorkingSet.indexed()
    for start in range(0, len(events), chunk):
        project(plain, events[start : start + chunk])
        project_rebuild(fast, events[start : start + chunk])
    return plain, fast


def ev(position: int, type_name: str, payload: dict[str, Any], sv: int = 1) -> EventRecord:
    return EventRecord(position, "s", position, type_name, sv, payload, f"t{position:06d}")


@pytest.mark.parametrize("seed", [1, 2])
def test_generated_log_gives_the_same_rows(seed: int) -> None:
    plain, fast = both(generated(6000, seed))
    assert rows(fast) == rows(plain)
    assert len(fast.orders) > 100


def test_edge_cases_give_the_same_rows() -> None:
    eur = {"amount": "2.50", "currency": "EUR"}
    events = [
        ev(1, "CustomerRegistered", {"customer_id": "c1", "name": "Acme"}),
        ev(2, "ProductAdded", {"product_id": "p1", "sku": "S1", "name": "Pen", "price": eur}),
        # unknown customer and product: the names in the events are kept
        ev(3, "OrderPlaced", {"order_id": "o1", "order_number": "1", "customer_id": "cx",
                              "customer_name": "Ghost", "currency": "EUR"}),
        ev(4, "OrderLineAdded", {"order_id": "o1", "line_id": "l1", "product_id": "px",
                                 "sku": "SX", "product_name": "Thing", "quantity": 2,
                                 "unit_price": eur}),
        ev(5, "OrderPlaced", {"order_id": "o2", "order_number": "2", "customer_id": "c1",
                              "customer_name": "Old", "currency": "EUR"}),
        ev(6, "OrderLineAdded", {"order_id": "o2", "line_id": "l1", "product_id": "p1",
                                 "sku": "other sku", "product_name": "Old", "quantity": 1,
                                 "unit_price": {"amount": "3", "currency": "JPY"}}),
        # the same line id again replaces the line; the total follows
        ev(7, "OrderLineAdded", {"order_id": "o2", "line_id": "l1", "product_id": "p1",
                                 "sku": "S1", "product_name": "Old", "quantity": 4,
                                 "unit_price": eur}),
        ev(8, "OrderConfirmed", {"order_id": "o2"}),
        ev(9, "OrderConfirmed", {"order_id": "o2"}),  # counted once
        ev(10, "OrderShipped", {"order_id": "o2", "tracking": "T1"}),  # v1: upcast
        ev(11, "OrderShipped", {"order_id": "o2", "tracking_number": "T2", "carrier": "C"}, 2),
        ev(12, "OrderDelivered", {"order_id": "o2"}),
        ev(13, "CustomerRenamed", {"customer_id": "c1", "name": "New Acme"}),
        ev(14, "ProductRenamed", {"product_id": "p1", "name": "New Pen"}),
        ev(15, "OrderConfirmed", {"order_id": "o1"}),
        ev(16, "OrderCancelled", {"order_id": "o1"}),
        # placed again: the order row starts over, its lines stay
        ev(17, "OrderPlaced", {"order_id": "o1", "order_number": "1b", "customer_id": "c1",
                               "customer_name": "x", "currency": "EUR"}),
        ev(18, "OrderLineRemoved", {"order_id": "o2", "line_id": "l1"}),
        ev(19, "OrderDelivered", {"order_id": "o1"}),
    ]  # fmt: skip
    plain, fast = both(events, chunk=5)
    assert rows(fast) == rows(plain)
    assert fast.orders["o2"].total_minor == 0 and fast.customers["c1"].lifetime_value == {
        "EUR": 1000
    }


@pytest.mark.parametrize(
    "bad",
    [
        ev(3, "OrderLineAdded", {"order_id": "nope", "line_id": "l", "product_id": "p",
                                 "sku": "s", "product_name": "n", "quantity": 1,
                                 "unit_price": {"amount": "1", "currency": "EUR"}}),
        ev(3, "OrderConfirmed", {"order_id": "nope"}),
        ev(3, "OrderShipped", {"order_id": "o1"}, 2),  # no tracking number
        ev(3, "OrderDelivered", {"order_id": "nope"}),
        ev(3, "OrderPlaced", {"order_id": "o2"}),
        ev(3, "OrderShipped", {"order_id": "o1"}, 7),  # newer than known
        ev(3, "Unknown", {}),
    ],
)  # fmt: skip
def test_fails_on_the_same_event(bad: EventRecord) -> None:
    events = [
        ev(1, "OrderPlaced", {"order_id": "o1", "order_number": "1", "customer_id": "c",
                              "customer_name": "C", "currency": "EUR"}),
        ev(2, "OrderDelivered", {"order_id": "o1"}),
        bad,
        ev(4, "OrderDelivered", {"order_id": "o1"}),
    ]  # fmt: skip
    with pytest.raises(ProjectionError) as expected:
        project(WorkingSet.indexed(), events)
    with pytest.raises(ProjectionError) as got:
        project_rebuild(WorkingSet.indexed(), events)
    assert got.value.event is expected.value.event is bad
    assert type(got.value.cause) is type(expected.value.cause)


def test_without_rename_indexes_it_is_project() -> None:
    events = generated(500, 3)
    plain, fast = WorkingSet(), WorkingSet()
    project(plain, events)
    project_rebuild(fast, events)
    assert rows(fast) == rows(plain)
    assert fast.dirty_orders == plain.dirty_orders and fast.dirty_lines == plain.dirty_lines
