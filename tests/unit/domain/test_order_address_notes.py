"""Shipping addresses (customer default, order override until shipped) and order notes."""

from __future__ import annotations

import json

import pytest

from desktop_app.domain.catalog import Customer
from desktop_app.domain.errors import InvalidValue, RuleViolation
from desktop_app.domain.events import (
    CustomerAddressChanged,
    CustomerRegistered,
    OrderNoteAdded,
    OrderPlaced,
    OrderShippingAddressChanged,
)
from desktop_app.domain.order import CustomerRef, NewLine, Order
from desktop_app.domain.serialization import from_payload, to_payload, upcast
from tests.unit.domain.strategies import order_in, product

ADDRESS = "Clerk & Co\nMain Street 1\n1010 Vienna"


def _place(address: str = "") -> Order:
    return Order.place(
        order_id="o-1",
        order_number="SO-0001",
        customer=CustomerRef("c-1", "Acme GmbH", address),
        currency="EUR",
        lines=[NewLine("l-1", product(), 2)],
        shipping_address=address,
    )


def test_placement_records_the_address_in_order_placed() -> None:
    order = _place(ADDRESS)
    placed = order.pending_events[0]
    assert isinstance(placed, OrderPlaced) and placed.shipping_address == ADDRESS
    assert order.shipping_address == ADDRESS


def test_address_text_is_normalised_and_checked() -> None:
    order = _place("  \r\n Main Street 1  \r\n1010 Vienna \n\n")
    assert order.shipping_address == " Main Street 1\n1010 Vienna"
    with pytest.raises(InvalidValue, match="at most 8 lines"):
        _place("\n".join(f"line {i}" for i in range(9)))
    with pytest.raises(InvalidValue, match="at most 400 characters"):
        _place("x" * 401)
    with pytest.raises(InvalidValue, match="control character"):
        _place("Main\tStreet")


def test_address_can_change_until_shipped() -> None:
    for status in ("pending", "confirmed"):
        order = order_in(status)
        order.change_shipping_address("Dock 4\nHamburg")
        assert isinstance(order.pending_events[-1], OrderShippingAddressChanged)
        assert order.shipping_address == "Dock 4\nHamburg"
    for status, why in (
        ("shipped", "once the order is shipped"),
        ("delivered", "once the order is delivered"),
        ("cancelled", "cancelled order"),
    ):
        order = order_in(status)
        before = order.version
        assert why in (order.why_not("change_address") or "")
        with pytest.raises(RuleViolation, match=why):
            order.change_shipping_address("Dock 4")
        assert order.version == before


def test_same_or_empty_address_is_refused() -> None:
    order = _place(ADDRESS)
    with pytest.raises(RuleViolation, match="already ships"):
        order.change_shipping_address(ADDRESS + "\n")
    with pytest.raises(InvalidValue, match="Enter an address"):
        order.change_shipping_address("   ")
    assert order.version == 2  # placed + one line: nothing recorded


def test_notes_at_any_status_append_only() -> None:
    for status in ("pending", "confirmed", "shipped", "delivered", "cancelled"):
        order = order_in(status)
        order.add_note("n-1", "Customer called:\nleave at the back door.")
        order.add_note("n-2", "Second note")
        notes = order.notes
        assert [n.text for n in notes] == [
            "Customer called:\nleave at the back door.",
            "Second note",
        ]
        assert [n.version for n in notes] == [order.version - 1, order.version]
        assert isinstance(order.pending_events[-1], OrderNoteAdded)
        with pytest.raises(RuleViolation, match="already has a note"):
            order.add_note("n-1", "again")
    with pytest.raises(InvalidValue, match="Enter a note"):
        _place().add_note("n-1", " \n ")


def test_snapshot_keeps_address_and_notes() -> None:
    order = _place(ADDRESS)
    order.add_note("n-1", "Fragile")
    order.change_shipping_address("Dock 4")
    state = json.loads(json.dumps(order.to_snapshot()))
    assert state["shipping_address"] == "Dock 4"
    assert state["notes"] == [{"note_id": "n-1", "version": 3, "text": "Fragile"}]
    restored = Order.from_snapshot(order.id, order.version, state)
    assert restored.to_snapshot() == order.to_snapshot()
    assert restored.notes == order.notes


def test_order_placed_v1_upcasts_to_no_address() -> None:
    v1 = {
        "order_id": "o-1",
        "order_number": "SO-0001",
        "customer_id": "c-1",
        "customer_name": "Acme",
        "currency": "EUR",
    }
    assert upcast("OrderPlaced", 1, v1)["shipping_address"] == ""
    event = from_payload("OrderPlaced", 1, v1)
    assert isinstance(event, OrderPlaced) and event.shipping_address == ""
    # A v2 payload without the field is malformed, not silently defaulted.
    with pytest.raises(Exception, match="malformed"):
        from_payload("OrderPlaced", 2, v1)
    assert to_payload(event)["shipping_address"] == ""


def test_customer_default_address() -> None:
    customer = Customer.register(customer_id="c-1", name="Acme", address=ADDRESS)
    assert [type(e) for e in customer.pending_events] == [
        CustomerRegistered,
        CustomerAddressChanged,
    ]
    assert customer.as_ref().address == ADDRESS
    plain = Customer.register(customer_id="c-2", name="Bob", address="  ")
    assert len(plain.pending_events) == 1 and plain.address == ""
    with pytest.raises(RuleViolation, match="no address to clear"):
        plain.change_address("")
    plain.change_address("Home 1")
    with pytest.raises(RuleViolation, match="already has this address"):
        plain.change_address("Home 1")
    plain.change_address("")
    assert plain.address == "" and plain.version == 3
    restored = Customer.from_snapshot("c-1", customer.version, customer.to_snapshot())
    assert restored.address == ADDRESS
