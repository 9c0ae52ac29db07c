"""Shipping addresses, order notes and "order again" through the real buses on a SQLite file,
including an order stored before addresses existed (OrderPlaced v1 JSON in the file)."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.application.ports import NewEvent
from desktop_app.bootstrap import App
from desktop_app.domain.errors import DomainError, RuleViolation
from tests.fixtures.store_helpers import META
from tests.integration.read_side.support import open_app

HOME = "Müller KG\nHauptstraße 1\n1010 Wien"


def _catalog(app: App) -> tuple[str, str, str]:
    send = app.commands.dispatch
    customer = send(c.RegisterCustomer(name="Müller KG", address=HOME)).aggregate_id
    mug = send(
        c.AddProduct(sku="MUG-1", name="Clerk mug", price=Decimal("4.50"), currency="EUR")
    ).aggregate_id
    pen = send(
        c.AddProduct(sku="PEN-1", name="Pen", price=Decimal("1.20"), currency="EUR")
    ).aggregate_id
    return customer, mug, pen


def test_order_takes_the_customer_address_and_may_override_it(tmp_path: Path) -> None:
    app = open_app(tmp_path / "orders.sqlite3")
    try:
        send = app.commands.dispatch
        customer, mug, _ = _catalog(app)
        line = (c.LineInput(product_id=mug, quantity=2),)
        order = send(c.PlaceOrder(customer_id=customer, lines=line)).aggregate_id
        shipping = app.queries.ask(q.GetOrderShipping(order_id=order))
        assert (shipping.address, shipping.address_source) == (HOME, q.ADDRESS_FROM_ORDER)
        # The customer moves: the order keeps the address it was placed with.
        send(c.ChangeCustomerAddress(customer_id=customer, address="Neugasse 5\n1020 Wien"))
        assert app.queries.ask(q.GetOrderShipping(order_id=order)).address == HOME
        assert app.queries.ask(q.GetCustomerAddress(customer_id=customer)).address == (
            "Neugasse 5\n1020 Wien"
        )
        # A typed address at placement wins over the default.
        typed = send(
            c.PlaceOrder(customer_id=customer, lines=line, shipping_address="Dock 4\nHamburg")
        ).aggregate_id
        assert app.queries.ask(q.GetOrderShipping(order_id=typed)).address == "Dock 4\nHamburg"
        # Override until shipped, then refused with the domain's reason.
        send(c.ChangeShippingAddress(order_id=order, address="Lager 2\n4020 Linz"))
        send(c.ConfirmOrder(order_id=order))
        send(c.ChangeShippingAddress(order_id=order, address="Lager 3\n4020 Linz"))
        send(c.ShipOrder(order_id=order, tracking_number="T-1"))
        version = app.queries.ask(q.GetOrderActions(order_id=order)).version
        with pytest.raises(RuleViolation, match="once the order is shipped"):
            send(c.ChangeShippingAddress(order_id=order, address="Elsewhere 1"))
        assert app.queries.ask(q.GetOrderActions(order_id=order)).version == version
        assert app.queries.ask(q.GetOrderShipping(order_id=order)).address == "Lager 3\n4020 Linz"
        # History summaries and the diff speak of the address.
        history = app.queries.ask(q.GetOrderHistory(order_id=order))
        assert "Changed the shipping address to Lager 2 · 4020 Linz" in [e.summary for e in history]
        assert history[0].summary.endswith("ship to Müller KG · Hauptstraße 1 · 1010 Wien")
        diff = app.queries.ask(q.GetOrderDiff(order_id=order, from_version=2, to_version=3))
        assert [(d.path, d.before, d.after) for d in diff.changes] == [
            ("shipping_address", HOME, "Lager 2\n4020 Linz")
        ]
    finally:
        app.close()


def test_notes_at_any_status_with_author_from_metadata(tmp_path: Path) -> None:
    app = open_app(tmp_path / "orders.sqlite3")
    try:
        send = app.commands.dispatch
        customer, mug, _ = _catalog(app)
        line = (c.LineInput(product_id=mug, quantity=1),)
        order = send(c.PlaceOrder(customer_id=customer, lines=line)).aggregate_id
        send(c.AddOrderNote(order_id=order, text="Called: deliver after 10:00"))
        send(c.CancelOrder(order_id=order, reason="Customer changed plans"))
        send(c.AddOrderNote(order_id=order, text="Refund sent\nby bank transfer"))
        with pytest.raises(DomainError, match="Enter a note"):
            send(c.AddOrderNote(order_id=order, text="   "))
        shipping = app.queries.ask(q.GetOrderShipping(order_id=order))
        assert [n.text for n in shipping.notes] == [
            "Called: deliver after 10:00",
            "Refund sent\nby bank transfer",
        ]
        identity = app.deps.identity
        assert {(n.author, n.host) for n in shipping.notes} == {(identity.user, identity.host)}
        assert all(n.recorded_at is not None for n in shipping.notes)
        history = [e.summary for e in app.queries.ask(q.GetOrderHistory(order_id=order))]
        assert "Added a note: “Refund sent · by bank transfer”" in history
        diff = app.queries.ask(q.GetOrderDiff(order_id=order, from_version=2, to_version=3))
        assert [(d.path, d.kind) for d in diff.changes] == [("notes[#3]", "added")]
        assert diff.changes[0].after == {
            "note_id": shipping.notes[0].note_id,
            "version": 3,
            "text": "Called: deliver after 10:00",
        }
        # The list row follows the notes' versions (the detail panel compares them).
        assert app.projector is not None
        app.projector.run_once()
        detail = app.queries.ask(q.GetOrder(order_id=order))
        assert detail is not None and detail.order.version == shipping.version == 5
    finally:
        app.close()


def test_duplicate_order_uses_current_prices_and_address(tmp_path: Path) -> None:
    app = open_app(tmp_path / "orders.sqlite3")
    try:
        send = app.commands.dispatch
        customer, mug, pen = _catalog(app)
        lines = (
            c.LineInput(product_id=mug, quantity=3, unit_price=Decimal("3.99")),
            c.LineInput(product_id=pen, quantity=10),
        )
        source = send(c.PlaceOrder(customer_id=customer, lines=lines)).aggregate_id
        send(c.ConfirmOrder(order_id=source))
        send(c.ShipOrder(order_id=source, tracking_number="T-9"))
        send(c.ChangeProductPrice(product_id=pen, price=Decimal("1.50")))
        send(c.ChangeCustomerAddress(customer_id=customer, address="Neugasse 5"))
        copy = send(c.DuplicateOrder(source_order_id=source)).aggregate_id
        assert copy != source
        state = app.queries.ask(q.GetOrderAtVersion(order_id=copy)).state
        assert state["status"] == "pending"
        assert state["customer"]["customer_id"] == customer  # type: ignore[index]
        assert [(x["sku"], x["quantity"], x["unit_price"]) for x in state["lines"]] == [  # type: ignore[union-attr,index]
            ("MUG-1", 3, "4.50"),
            ("PEN-1", 10, "1.50"),
        ]
        assert state["shipping_address"] == "Neugasse 5"
        src = app.queries.ask(q.GetOrderAtVersion(order_id=source)).state
        assert state["order_number"] != src["order_number"]
        # A discontinued product refuses the whole duplicate, naming it; nothing is written.
        send(c.DiscontinueProduct(product_id=pen))
        before = app.events.head_position()
        with pytest.raises(DomainError, match=r"Pen \(PEN-1\) is discontinued"):
            send(c.DuplicateOrder(source_order_id=source))
        assert app.events.head_position() == before
        # An order whose lines were all removed has nothing to order again.
        empty = send(c.PlaceOrder(customer_id=customer, lines=lines[:1])).aggregate_id
        line_id = app.queries.ask(q.GetOrderAtVersion(order_id=empty)).state["lines"][0]["line_id"]  # type: ignore[index]
        send(c.RemoveOrderLine(order_id=empty, line_id=str(line_id)))
        with pytest.raises(DomainError, match="has no lines to order again"):
            send(c.DuplicateOrder(source_order_id=empty))
    finally:
        app.close()


def test_order_stored_before_addresses_shows_the_customer_current_address(
    tmp_path: Path,
) -> None:
    """An OrderPlaced v1 (no address field) written into the file as an older version did:
    it loads (upcast), projects, and follows its customer's CURRENT address, marked so."""
    path = tmp_path / "orders.sqlite3"
    app = open_app(path)
    try:
        send = app.commands.dispatch
        customer, mug, _ = _catalog(app)
        old_payload = {
            "order_id": "old-1",
            "order_number": "SO-000001",
            "customer_id": customer,
            "customer_name": "Müller KG",
            "currency": "EUR",
        }
        line_payload = {
            "order_id": "old-1",
            "line_id": "l-1",
            "product_id": mug,
            "sku": "MUG-1",
            "product_name": "Clerk mug",
            "quantity": 2,
            "unit_price": {"amount": "4.50", "currency": "EUR"},
        }
        app.events.append(
            "order-old-1",
            0,
            [
                NewEvent(
                    event_id="ev-old-1",
                    type_name="OrderPlaced",
                    schema_version=1,
                    payload=old_payload,
                    metadata=META,
                ),
                NewEvent(
                    event_id="ev-old-2",
                    type_name="OrderLineAdded",
                    schema_version=1,
                    payload=line_payload,
                    metadata=META,
                ),
            ],
        )
    finally:
        app.close()
    raw = sqlite3.connect(path)
    try:
        stored = raw.execute(
            "SELECT schema_version, payload FROM events WHERE event_id = 'ev-old-1'"
        ).fetchone()
    finally:
        raw.close()
    assert stored[0] == 1 and "shipping_address" not in json.loads(stored[1])

    app = open_app(path, create=False)
    try:
        send = app.commands.dispatch
        assert app.projector is not None
        app.projector.run_once()
        assert app.projector.status().last_error is None
        shipping = app.queries.ask(q.GetOrderShipping(order_id="old-1"))
        assert (shipping.address, shipping.address_source) == (HOME, q.ADDRESS_FROM_CUSTOMER)
        send(c.ChangeCustomerAddress(customer_id=customer, address="Neugasse 5"))
        shipping = app.queries.ask(q.GetOrderShipping(order_id="old-1"))
        assert (shipping.address, shipping.address_source) == ("Neugasse 5", "customer")
        send(c.ChangeCustomerAddress(customer_id=customer, address=""))
        assert app.queries.ask(q.GetOrderShipping(order_id="old-1")).address_source == "none"
        # It still works as an order: its own address, a note, confirm; and a full rebuild.
        send(c.ChangeShippingAddress(order_id="old-1", address="Lager 2"))
        send(c.AddOrderNote(order_id="old-1", text="Migrated order"))
        send(c.ConfirmOrder(order_id="old-1"))
        shipping = app.queries.ask(q.GetOrderShipping(order_id="old-1"))
        assert (shipping.address, shipping.address_source) == ("Lager 2", "order")
        history = app.queries.ask(q.GetOrderHistory(order_id="old-1"))
        assert history[0].schema_version == 1
        assert history[0].summary == "Placed order SO-000001 for Müller KG (EUR)"
        assert app.projector.rebuild() > 0
        detail = app.queries.ask(q.GetOrder(order_id="old-1"))
        assert detail is not None and detail.order.status == "confirmed"
        assert detail.order.version == 5
    finally:
        app.close()
