"""A real file with one order whose history spans several days: placed, a long run of
quantity changes, confirmed, shipped (the audit view's test data)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.bootstrap import bootstrap
from desktop_app.config import Settings

START = datetime(2026, 1, 12, 8, 0, tzinfo=UTC)


class HourClock:
    """Each reading is ``step`` later than the one before: histories that span days."""

    def __init__(self, step: timedelta = timedelta(hours=3)) -> None:
        self.now = START
        self.step = step

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


@dataclass
class AuditOrder:
    app: Any
    path: Path
    order_id: str
    line_id: str
    changes: int


def build(path: Path, *, changes: int = 12) -> AuditOrder:
    """A bootstrapped app on ``path`` holding the order (open: the caller closes it)."""
    app = bootstrap(Settings.default(path), source="test", clock=HourClock())
    send = app.commands.dispatch
    customer = c.RegisterCustomer(name="Kaffeehaus Maria GmbH")
    send(customer)
    mug = c.AddProduct(sku="MUG-CLK", name="Clerk mug", price=Decimal("4.50"), currency="EUR")
    send(mug)
    place = c.PlaceOrder(
        customer_id=customer.customer_id,
        lines=(c.LineInput(product_id=mug.product_id, quantity=3),),
    )
    send(place)
    state = app.queries.ask(q.GetOrderAtVersion(order_id=place.order_id))
    line_id = str(state.state["lines"][0]["line_id"])  # type: ignore[index,call-overload]
    for quantity in range(4, 4 + changes):
        send(c.ChangeLineQuantity(order_id=place.order_id, line_id=line_id, quantity=quantity))
    send(c.ConfirmOrder(order_id=place.order_id))
    app.projector.run_once()
    return AuditOrder(app, path, place.order_id, line_id, changes)


def open_order(tmp_path: Path, *, changes: int = 12) -> Iterator[AuditOrder]:
    order = build(tmp_path / "audit.sqlite3", changes=changes)
    try:
        yield order
    finally:
        order.app.close()
