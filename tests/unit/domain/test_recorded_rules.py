"""R27: ``Aggregate.refusal`` judges a recorded event by the command side's own guards.

For every command in every state: the event a command records is legal (refusal None) exactly
in the states where that command succeeds, and where the command is refused the event is
refused with the very same message. So verify and the command side cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from desktop_app.domain import (
    DomainError,
    Money,
    NewLine,
    Order,
    OrderLineAdded,
    OrderLineQuantityChanged,
    OrderPlaced,
)
from desktop_app.domain.catalog import Customer, Product
from desktop_app.domain.events import (
    CustomerAddressChanged,
    CustomerRegistered,
    CustomerRenamed,
    DomainEvent,
    ProductDiscontinued,
    ProductPriceChanged,
)

from .strategies import order_in, place, product

STATUSES = ["pending", "confirmed", "shipped", "delivered", "cancelled"]

COMMANDS: dict[str, Callable[[Order], None]] = {
    "add_line": lambda o: o.add_line(NewLine("l-9", product(), 2)),
    "add_line_same_id": lambda o: o.add_line(NewLine("l-1", product(), 2)),
    "add_line_other_currency": lambda o: o.add_line(NewLine("l-8", product(currency="USD"), 1)),
    "remove_line": lambda o: o.remove_line("l-1"),
    "change_quantity": lambda o: o.change_quantity("l-1", 9),
    "change_quantity_same": lambda o: o.change_quantity("l-1", 3),
    "confirm": lambda o: o.confirm(),
    "ship": lambda o: o.ship("TRK-9", ""),
    "deliver": lambda o: o.deliver(),
    "cancel": lambda o: o.cancel("changed plans"),
    "change_shipping_address": lambda o: o.change_shipping_address("Kai 1\n20457 Hamburg"),
    "add_note": lambda o: o.add_note("n-1", "Call before delivery."),
}


def _outcome(status: str, command: str) -> tuple[str | None, DomainEvent | None]:
    """(the refusal message, or None and the event the command recorded)."""
    order = order_in(status)
    order.take_pending()
    try:
        COMMANDS[command](order)
    except DomainError as exc:
        return exc.message, None
    [event] = order.take_pending()
    return None, event


def _recorded_events() -> dict[str, DomainEvent]:
    """One real event per command, recorded in a state where the command succeeds, or built
    as that command would build it (for the commands that never succeed)."""
    events: dict[str, DomainEvent] = {}
    for command in COMMANDS:
        for status in STATUSES:
            _message, event = _outcome(status, command)
            if event is not None:
                events[command] = event
                break
    price = Money.parse("4.50", "EUR")
    usd = Money.parse("4.50", "USD")
    line = {"product_id": "p-1", "sku": "P-1", "product_name": "Widget", "quantity": 2}
    events.setdefault(
        "add_line_same_id",
        OrderLineAdded(order_id="o-1", line_id="l-1", unit_price=price, **line),  # type: ignore[arg-type]
    )
    events.setdefault(
        "add_line_other_currency",
        OrderLineAdded(order_id="o-1", line_id="l-8", unit_price=usd, **line),  # type: ignore[arg-type]
    )
    events.setdefault(
        "change_quantity_same", OrderLineQuantityChanged(order_id="o-1", line_id="l-1", quantity=3)
    )
    assert set(events) == set(COMMANDS)
    return events


EVENTS = _recorded_events()


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_refusal_of_a_recorded_event_is_the_commands_refusal(status: str, command: str) -> None:
    message, _event = _outcome(status, command)
    before = order_in(status)
    assert before.refusal(EVENTS[command]) == message


def test_creation_rules() -> None:
    placed = OrderPlaced(
        order_id="o-1",
        order_number="SO-0001",
        customer_id="c-1",
        customer_name="Müller",
        currency="EUR",
    )
    assert Order("o-1").refusal(placed) is None
    assert "already created" in (place().refusal(placed) or "")
    assert "before the order was created" in (Order("o-1").refusal(EVENTS["confirm"]) or "")
    assert "another order" in (Order("o-2").refusal(placed) or "")
    bad_currency = OrderPlaced(
        order_id="o-1",
        order_number="SO-1",
        customer_id="c-1",
        customer_name="M",
        currency="XXX",
    )
    assert "Unknown currency" in (Order("o-1").refusal(bad_currency) or "")


def test_catalog_rules_are_shared_too() -> None:
    customer = Customer.register(customer_id="c-1", name="Müller")
    customer.take_pending()
    same = CustomerRenamed(customer_id="c-1", name="Müller")
    with pytest.raises(DomainError) as refused:
        customer.rename("Müller")
    assert customer.refusal(same) == refused.value.message
    assert customer.refusal(CustomerRenamed(customer_id="c-1", name="Meyer")) is None
    assert "already created" in (
        customer.refusal(CustomerRegistered(customer_id="c-1", name="X")) or ""
    )
    clear = CustomerAddressChanged(customer_id="c-1", address="")
    with pytest.raises(DomainError) as nothing_to_clear:
        customer.change_address("")
    assert customer.refusal(clear) == nothing_to_clear.value.message
    assert customer.refusal(CustomerAddressChanged(customer_id="c-1", address="Kai 1")) is None
    widget = Product.add(
        product_id="p-1", sku="W-1", name="Widget", price=Money.parse("4.50", "EUR")
    )
    widget.discontinue()
    with pytest.raises(DomainError) as again:
        widget.discontinue()
    assert widget.refusal(ProductDiscontinued(product_id="p-1")) == again.value.message
    new_price = ProductPriceChanged(product_id="p-1", price=Money.parse("5.00", "EUR"))
    with pytest.raises(DomainError) as priced:
        widget.change_price(Money.parse("5.00", "EUR"))
    assert widget.refusal(new_price) == priced.value.message
