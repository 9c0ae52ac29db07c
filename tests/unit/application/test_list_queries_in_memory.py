"""The order list, detail and pickers through the real buses over the in-memory read side
(projector + in-memory feed, target and queries): no SQL anywhere."""

from __future__ import annotations

from desktop_app.application import commands as c
from desktop_app.application import queries as q

from .helpers import MemoryApp, World


def _projected(app: MemoryApp) -> None:
    app.projector.run_once()
    status = app.projector.status()
    assert status.lag == 0 and status.last_error is None


def test_lists_and_detail_follow_the_commands(app: MemoryApp, world: World) -> None:
    first = world.place(2, 1)
    second = world.place(5)
    world.send(c.ConfirmOrder(order_id=second))
    _projected(app)
    page = app.queries.ask(q.ListOrders(sort="order_number", descending=False))
    assert [r.order_id for r in page.rows] == [first, second] and page.total == 2
    assert page.rows[0].placed_at.tzinfo is not None  # times as aware datetimes
    confirmed = app.queries.ask(q.ListOrders(statuses=frozenset({"confirmed"})))
    assert [r.order_id for r in confirmed.rows] == [second]
    detail = app.queries.ask(q.GetOrder(order_id=first))
    assert detail is not None and detail.order.line_count == 2
    assert [(ln.sku, ln.quantity, ln.line_total_minor) for ln in detail.lines] == [
        ("MUG-1", 2, 900),
        ("POT-2", 1, 1990),
    ]
    found = app.queries.ask(q.FindOrderByNumber(order_number=f" {detail.order.order_number} "))
    assert found == detail.order
    assert app.queries.ask(q.ListOrders(search="pot-2")).total == 1


def test_pickers_and_a_rename(app: MemoryApp, world: World) -> None:
    world.place(1)
    world.send(c.RenameCustomer(customer_id=world.customer, name="Schmidt AG"))
    _projected(app)
    rows = app.queries.ask(q.ListOrders())
    assert [r.customer_name for r in rows.rows] == ["Schmidt AG"]
    by_old = app.queries.ask(q.ListOrders(search="müller"))  # a former name still finds it
    assert by_old.total == 1
    assert [p.sku for p in app.queries.ask(q.ListProducts())] == ["MUG-1", "POT-2"]
    customers = app.queries.ask(q.ListCustomers(search="mül"))
    assert [r.customer_id for r in customers] == [world.customer]
