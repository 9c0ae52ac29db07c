"""Order rules: every refusal with its message and field, and the events each command records."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from desktop_app.domain import (
    MAX_AMOUNT,
    CustomerRef,
    DomainError,
    Money,
    NewLine,
    Order,
    OrderCancelled,
    OrderConfirmed,
    OrderDelivered,
    OrderLineAdded,
    OrderLineQuantityChanged,
    OrderLineRemoved,
    OrderPlaced,
    OrderShipped,
    OrderStatus,
    RuleViolation,
    from_payload,
    to_payload,
)
from desktop_app.domain.order import ACTIONS, MAX_LINES
from desktop_app.domain.serialization import from_payloads

from .strategies import CUSTOMER, order_in, place, prices, product

STATUSES = ["pending", "confirmed", "shipped", "delivered", "cancelled"]


def _refused(call: object, message: str, field: str | None) -> None:
    assert callable(call)
    with pytest.raises(DomainError) as exc:
        call()
    assert exc.value.message == message
    assert exc.value.field == field


# --- place -------------------------------------------------------------------------------


def test_place_records_placed_then_one_event_per_line() -> None:
    order = place(NewLine("l-1", product("p-1"), 3), NewLine("l-2", product("p-2", "1.25"), 2))
    events = order.take_pending()
    assert [type(e) for e in events] == [OrderPlaced, OrderLineAdded, OrderLineAdded]
    assert events[0] == OrderPlaced(
        order_id="o-1",
        order_number="SO-0001",
        customer_id="c-1",
        customer_name="Acme GmbH",
        currency="EUR",
    )
    assert events[1] == OrderLineAdded(
        order_id="o-1",
        line_id="l-1",
        product_id="p-1",
        sku="P-1",
        product_name="Widget",
        quantity=3,
        unit_price=Money.parse("4.50", "EUR"),
    )
    assert order.take_pending() == []
    assert order.version == 3
    assert order.status is OrderStatus.PENDING
    assert order.total == Money.parse("16.00", "EUR")
    assert [line.total for line in order.lines] == [
        Money.parse("13.50", "EUR"),
        Money.parse("2.50", "EUR"),
    ]
    assert (order.order_number, order.customer_id, order.customer_name, order.currency) == (
        "SO-0001",
        "c-1",
        "Acme GmbH",
        "EUR",
    )
    assert order.tracking_number is None and order.carrier is None and order.cancel_reason is None


def test_place_needs_a_line() -> None:
    with pytest.raises(DomainError) as exc:
        Order.place(order_id="o", order_number="1", customer=CUSTOMER, currency="EUR", lines=[])
    assert (exc.value.message, exc.value.field) == ("Add at least one line to the order.", "lines")


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"order_number": "  "}, "order_number", "Enter an order number."),
        ({"order_number": "N" * 41}, "order_number", "at most 40"),
        ({"currency": "XYZ"}, "currency", "Unknown currency"),
        ({"customer": CustomerRef("c", " ")}, "customer", "Enter a customer name."),
        ({"customer": CustomerRef("", "Acme")}, "customer", "Enter a customer."),
        ({"customer": None}, "customer", "Choose a customer."),
    ],
)
def test_place_validates_inputs(kwargs: dict[str, object], field: str, message: str) -> None:
    args: dict[str, object] = {
        "order_id": "o",
        "order_number": "SO-1",
        "customer": CUSTOMER,
        "currency": "EUR",
        "lines": [NewLine("l", product(), 1)],
        **kwargs,
    }
    with pytest.raises(DomainError) as exc:
        Order.place(**args)  # type: ignore[arg-type]
    assert exc.value.field == field
    assert message in exc.value.message


def test_place_refuses_a_bad_line_with_no_order() -> None:
    with pytest.raises(DomainError) as exc:
        place(NewLine("l-1", product(), 1), NewLine("l-2", product(), 0))
    assert exc.value.field == "quantity"


def test_max_lines() -> None:
    lines = [NewLine(f"l-{i}", product(), 1) for i in range(MAX_LINES)]
    order = place(*lines)
    assert len(order.lines) == MAX_LINES
    assert order.total == Money.parse("2250.00", "EUR")
    _refused(
        lambda: order.add_line(NewLine("one-more", product(), 1)),
        "An order can have at most 500 lines.",
        "lines",
    )
    with pytest.raises(DomainError, match="at most 500 lines"):
        place(*lines, NewLine("one-more", product(), 1))


# --- lines -------------------------------------------------------------------------------


def test_add_line_with_catalog_and_explicit_price() -> None:
    order = place()
    order.take_pending()
    order.add_line(NewLine("l-2", product("p-2", "10.00"), 2, Money.parse("9.99", "EUR")))
    [event] = order.take_pending()
    assert isinstance(event, OrderLineAdded)
    assert event.unit_price == Money.parse("9.99", "EUR")
    assert order.total == Money.parse("33.48", "EUR")
    order.add_line(NewLine("l-3", product("p-3", "10.00"), 1, Money.zero("EUR")))
    assert order.lines[-1].unit_price == Money.zero("EUR")


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        (
            NewLine("l-2", product(discontinued=True, name="Old Widget"), 1),
            "product",
            "Old Widget is discontinued and cannot be added to an order.",
        ),
        (
            NewLine("l-2", product(currency="USD"), 1),
            "price",
            "The price must be in EUR, the currency of this order (not USD).",
        ),
        (
            NewLine("l-2", product(), 1, Money.parse("1", "GBP")),
            "price",
            "The price must be in EUR, the currency of this order (not GBP).",
        ),
        (
            NewLine("l-2", product(), 1, Money(Decimal("-1"), "EUR")),
            "price",
            "A price cannot be negative.",
        ),
        (NewLine("l-2", product(), 1, 4.5), "price", "Enter a price."),  # type: ignore[arg-type]
        (NewLine("l-2", product(), 0), "quantity", "The quantity must be at least 1."),
        (NewLine("l-2", product(), -2), "quantity", "The quantity cannot be negative."),
        (
            NewLine("l-2", product(), 2.5),  # type: ignore[arg-type]
            "quantity",
            "Enter the quantity as a whole number, for example 3.",
        ),
        (NewLine("l-2", product(), 2**63), "quantity", "The quantity can be at most 1,000,000."),
        (NewLine("l-1", product(), 1), "line_id", "This order already has a line with that id."),
        (NewLine(" ", product(), 1), "line_id", "Enter a line id."),
    ],
)
def test_add_line_refusals(line: NewLine, field: str, message: str) -> None:
    order = place()
    order.take_pending()
    _refused(lambda: order.add_line(line), message, field)
    assert order.take_pending() == []
    assert order.version == 2


def test_add_line_refuses_a_non_line() -> None:
    order = place()
    _refused(lambda: order.add_line("l-2"), "Choose a product.", "product")  # type: ignore[arg-type]


def test_total_over_the_maximum_is_refused() -> None:
    order = place(NewLine("l-1", product(price=str(MAX_AMOUNT)), 1))
    _refused(
        lambda: order.add_line(NewLine("l-2", product(price="0.01"), 1)),
        "The order total would exceed the largest amount allowed (999,999,999,999.99 EUR). "
        "Lower the quantity or split the order.",
        "quantity",
    )
    with pytest.raises(DomainError) as exc:
        order.change_quantity("l-1", 2)
    assert exc.value.field == "quantity"


def test_remove_line() -> None:
    order = place(NewLine("l-1", product(), 1), NewLine("l-2", product(), 2))
    order.take_pending()
    order.remove_line("l-1")
    assert order.take_pending() == [OrderLineRemoved(order_id="o-1", line_id="l-1")]
    assert [line.line_id for line in order.lines] == ["l-2"]
    _refused(
        lambda: order.remove_line("l-1"), "That line is not on this order (any more).", "lines"
    )
    order.remove_line("l-2")
    assert order.lines == ()
    assert order.total == Money.zero("EUR")
    _refused(lambda: order.remove_line("l-2"), "This order has no lines.", "lines")


def test_change_quantity() -> None:
    order = place()
    order.take_pending()
    order.change_quantity("l-1", 5)
    assert order.take_pending() == [
        OrderLineQuantityChanged(order_id="o-1", line_id="l-1", quantity=5)
    ]
    assert order.total == Money.parse("22.50", "EUR")
    _refused(lambda: order.change_quantity("l-1", 5), "The quantity is already 5.", "quantity")
    _refused(
        lambda: order.change_quantity("l-1", 0), "The quantity must be at least 1.", "quantity"
    )
    _refused(
        lambda: order.change_quantity("nope", 2),
        "That line is not on this order (any more).",
        "lines",
    )


@pytest.mark.parametrize("status", ["confirmed", "shipped", "delivered", "cancelled"])
def test_lines_change_only_while_pending(status: str) -> None:
    order = order_in(status)
    message = f"Lines can only be changed while the order is pending. This order is {status}."
    _refused(lambda: order.add_line(NewLine("l-9", product(), 1)), message, "lines")
    _refused(lambda: order.remove_line("l-1"), message, "lines")
    _refused(lambda: order.change_quantity("l-1", 9), message, "lines")


# --- lifecycle ---------------------------------------------------------------------------


def test_happy_path_lifecycle() -> None:
    order = place()
    order.take_pending()
    order.confirm()
    order.ship("  1Z999 ", " DHL ")
    order.deliver()
    assert order.take_pending() == [
        OrderConfirmed(order_id="o-1"),
        OrderShipped(order_id="o-1", tracking_number="1Z999", carrier="DHL"),
        OrderDelivered(order_id="o-1"),
    ]
    assert order.status is OrderStatus.DELIVERED
    assert (order.tracking_number, order.carrier) == ("1Z999", "DHL")
    assert order.version == 5


def test_ship_without_carrier() -> None:
    order = order_in("confirmed")
    order.ship("T-1")
    assert order.carrier == ""
    assert order.pending_events[-1] == OrderShipped(order_id="o-1", tracking_number="T-1")


def test_confirm_needs_a_line() -> None:
    order = place()
    order.remove_line("l-1")
    _refused(order.confirm, "Add at least one line before confirming the order.", "lines")


@pytest.mark.parametrize("status", ["confirmed", "shipped", "delivered", "cancelled"])
def test_confirm_only_pending(status: str) -> None:
    order = order_in(status)
    _refused(order.confirm, f"Only a pending order can be confirmed. This order is {status}.", None)


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("pending", "An order can only be shipped once it is confirmed."),
        ("shipped", "This order has already been shipped."),
        ("delivered", "This order has already been shipped."),
        ("cancelled", "A cancelled order cannot be shipped."),
    ],
)
def test_ship_only_confirmed(status: str, message: str) -> None:
    order = order_in(status)
    _refused(lambda: order.ship("T-1"), message, None)


@pytest.mark.parametrize(
    ("tracking", "carrier", "field", "message"),
    [
        ("", "", "tracking_number", "Enter a tracking number."),
        ("   ", "", "tracking_number", "Enter a tracking number."),
        ("T" * 61, "", "tracking_number", "The tracking number can be at most 60 characters"),
        ("T\x00", "", "tracking_number", "The tracking number contains a control character"),
        ("T-1", "C" * 61, "carrier", "The carrier can be at most 60 characters"),
        ("T-1", "DHL\n1", "carrier", "The carrier contains a control character"),
    ],
)
def test_ship_input_refusals(tracking: str, carrier: str, field: str, message: str) -> None:
    order = order_in("confirmed")
    with pytest.raises(DomainError) as exc:
        order.ship(tracking, carrier)
    assert exc.value.field == field
    assert exc.value.message.startswith(message)
    assert order.status is OrderStatus.CONFIRMED


def test_ship_accepts_sixty_characters() -> None:
    order = order_in("confirmed")
    order.ship("T" * 60)
    assert order.tracking_number == "T" * 60


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("pending", "An order can only be marked delivered once it has been shipped."),
        ("confirmed", "An order can only be marked delivered once it has been shipped."),
        ("delivered", "This order has already been delivered."),
        ("cancelled", "A cancelled order cannot be delivered."),
    ],
)
def test_deliver_only_shipped(status: str, message: str) -> None:
    order = order_in(status)
    _refused(order.deliver, message, None)


@pytest.mark.parametrize("status", ["pending", "confirmed", "shipped"])
def test_cancel_allowed_before_delivery(status: str) -> None:
    order = order_in(status)
    order.cancel("  Customer called  ")
    assert order.status is OrderStatus.CANCELLED
    assert order.cancel_reason == "Customer called"
    assert order.pending_events[-1] == OrderCancelled(order_id="o-1", reason="Customer called")


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("delivered", "A delivered order cannot be cancelled."),
        ("cancelled", "This order is already cancelled."),
    ],
)
def test_cancel_refused_after_delivery_or_cancellation(status: str, message: str) -> None:
    order = order_in(status)
    _refused(lambda: order.cancel("again"), message, None)


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "Enter a reason for the cancellation."),
        (" \t", "Enter a reason for the cancellation."),
        ("r" * 501, "The reason for the cancellation can be at most 500 characters"),
    ],
)
def test_cancel_needs_a_reason(reason: str, message: str) -> None:
    order = place()
    with pytest.raises(DomainError) as exc:
        order.cancel(reason)
    assert exc.value.field == "reason"
    assert exc.value.message.startswith(message)
    order.cancel("r" * 500)


def test_state_refusal_comes_before_input_checks() -> None:
    order = order_in("pending")
    _refused(lambda: order.ship(""), "An order can only be shipped once it is confirmed.", None)
    delivered = order_in("delivered")
    with pytest.raises(RuleViolation, match=r"A delivered order cannot be cancelled\."):
        delivered.cancel("")


# --- why_not -----------------------------------------------------------------------------


def test_why_not_table() -> None:
    expected = {
        "pending": {
            "add_line",
            "remove_line",
            "change_quantity",
            "confirm",
            "cancel",
            "change_address",
            "add_note",
        },
        "confirmed": {"ship", "cancel", "change_address", "add_note"},
        "shipped": {"deliver", "cancel", "add_note"},
        "delivered": {"add_note"},
        "cancelled": {"add_note"},
    }
    for status, allowed in expected.items():
        order = order_in(status)
        assert {a for a in ACTIONS if order.why_not(a) is None} == allowed, status


def test_why_not_unknown_action() -> None:
    with pytest.raises(ValueError):
        place().why_not("teleport")


# --- apply never validates; totals -------------------------------------------------------


def test_apply_never_validates() -> None:
    # History is already true: even a sequence the commands would refuse replays.
    events = [
        OrderPlaced(
            order_id="o", order_number="", customer_id="c", customer_name="", currency="EUR"
        ),
        OrderShipped(order_id="o", tracking_number=""),
        OrderLineAdded(
            order_id="o",
            line_id="l",
            product_id="p",
            sku="s",
            product_name="",
            quantity=0,
            unit_price=Money.parse("1", "EUR"),
        ),
    ]
    order = Order.replay("o", events)
    assert order.version == 3
    assert order.status is OrderStatus.SHIPPED
    assert order.pending_events == []


@given(
    st.lists(
        st.tuples(prices("EUR", max_value=Decimal("100000")), st.integers(1, 1_000_000)),
        min_size=1,
        max_size=40,
    )
)
def test_line_totals_sum_exactly_to_order_total(items: list[tuple[Money, int]]) -> None:
    lines = [
        NewLine(f"l-{i}", product(f"p-{i}"), qty, price) for i, (price, qty) in enumerate(items)
    ]
    order = place(*lines)
    assert order.total.amount == sum((line.total.amount for line in order.lines), Decimal(0))
    assert order.total.minor_units() == sum(p.minor_units() * q for p, q in items)
    assert order.to_snapshot()["total"] == order.total.amount_text()


# --- apply_stored: quantity changes straight from their payloads -------------------------


def _stored_history(order: Order) -> list[tuple[int, str, int, Mapping[str, object]]]:
    return [
        (n, e.type_name, e.schema_version, to_payload(e))
        for n, e in enumerate(order.take_pending(), start=1)
    ]


def test_apply_stored_applies_quantity_changes_and_counts_every_event() -> None:
    order = place(NewLine("l-1", product(), 3), NewLine("l-2", product("p-2"), 1))
    order.change_quantity("l-1", 5)
    order.change_quantity("l-2", 7)
    order.change_quantity("l-1", 2)
    rows = _stored_history(order)
    stored = Order(order.id)
    stored.apply_stored(rows)
    assert stored.version == order.version == 6
    assert stored.lines == order.lines
    assert [line.quantity for line in stored.lines] == [2, 7]
    assert stored.to_snapshot() == order.to_snapshot()


def test_apply_stored_reads_a_mapping_payload_as_from_payload_does() -> None:
    # Not a plain dict: the short way is not taken, the strict decoder accepts it.
    order = place(NewLine("l-1", product(), 3))
    order.change_quantity("l-1", 4)
    rows = [(v, t, s, MappingProxyType(dict(p))) for v, t, s, p in _stored_history(order)]
    stored = Order(order.id)
    stored.apply_stored(rows)
    assert stored.lines == order.lines


@pytest.mark.parametrize(
    ("schema_version", "payload"),
    [
        (1, {"order_id": "o-1", "line_id": "l-1", "quantity": "3"}),
        (1, {"order_id": "o-1", "line_id": "l-1", "quantity": True}),
        (1, {"order_id": "o-1", "line_id": "l-1", "quantity": 3.0}),
        (1, {"order_id": "o-1", "line_id": 1, "quantity": 3}),
        (1, {"order_id": None, "line_id": "l-1", "quantity": 3}),
        (1, {"line_id": "l-1", "quantity": 3}),
        (1, {"order_id": "o-1", "line_id": "l-1", "quantity": 3, "extra": 1}),
        (1, {"order_id": "o-1", "line": "l-1", "quantity": 3}),
        (1, ["o-1", "l-1", 3]),
        (True, {"order_id": "o-1", "line_id": "l-1", "quantity": 3}),
        (2, {"order_id": "o-1", "line_id": "l-1", "quantity": 3}),
        (0, {"order_id": "o-1", "line_id": "l-1", "quantity": 3}),
    ],
)
def test_apply_stored_refuses_a_malformed_quantity_change_as_from_payload_does(
    schema_version: int, payload: object
) -> None:
    with pytest.raises(DomainError) as expected:
        from_payload("OrderLineQuantityChanged", schema_version, payload)  # type: ignore[arg-type]
    order = place(NewLine("l-1", product(), 3))
    rows = [*_stored_history(order), (3, "OrderLineQuantityChanged", schema_version, payload)]
    stored = Order(order.id)
    with pytest.raises(type(expected.value)) as raised:
        stored.apply_stored(rows)  # type: ignore[arg-type]
    assert raised.value.message == expected.value.message
    assert stored.version == 2  # the events before it were applied and counted


def test_apply_stored_refuses_a_quantity_change_of_an_unknown_line_as_apply_does() -> None:
    order = place(NewLine("l-1", product(), 3))
    rows = _stored_history(order)
    change = {"order_id": order.id, "line_id": "l-9", "quantity": 2}
    with pytest.raises(KeyError):
        Order.replay(order.id, from_payloads([*rows, (3, "OrderLineQuantityChanged", 1, change)]))
    with pytest.raises(KeyError):
        Order(order.id).apply_stored([*rows, (3, "OrderLineQuantityChanged", 1, change)])
