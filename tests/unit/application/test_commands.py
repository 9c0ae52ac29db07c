"""Every command through the real command bus, and how each one refuses bad input."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from desktop_app.application import commands as c
from desktop_app.application.buses import UnknownMessageError
from desktop_app.application.middleware import InvalidCommandError
from desktop_app.application.repository import NotFoundError
from desktop_app.domain.errors import DomainError, InvalidValue, RuleViolation

from .helpers import MemoryApp, World


def refused(world: World, command: c.Command, field: str | None) -> DomainError:
    """Dispatch and expect a DomainError about ``field``; nothing may be written."""
    head = world.head()
    with pytest.raises(DomainError) as caught:
        world.send(command)
    assert caught.value.field == field, caught.value
    assert caught.value.message
    assert world.head() == head
    return caught.value


def types(app: MemoryApp, order_id: str) -> list[str]:
    return [e.type_name for e in app.events.read_stream(f"order-{order_id}")]


# --- catalog -------------------------------------------------------------------------------


def test_register_and_rename_customer(world: World, app: MemoryApp) -> None:
    customer = world.customer_named("Café Olé")
    result = world.send(c.RenameCustomer(customer_id=customer, name="Café Olé & Fils"))
    assert (result.stream_id, result.aggregate_id, result.version) == (
        f"customer-{customer}",
        customer,
        2,
    )
    names = [e.payload["name"] for e in app.events.read_stream(f"customer-{customer}")]
    assert names == ["Café Olé", "Café Olé & Fils"]


def test_customer_refusals(world: World) -> None:
    refused(world, c.RegisterCustomer(name="   "), "name")
    refused(world, c.RegisterCustomer(name="Tab\there"), "name")
    refused(world, c.RenameCustomer(customer_id=world.customer, name="Müller GmbH"), "name")
    error = refused(world, c.RenameCustomer(customer_id="nobody", name="X"), None)
    assert isinstance(error, NotFoundError)


def test_product_lifecycle(world: World, app: MemoryApp) -> None:
    world.send(c.RenameProduct(product_id=world.mug, name="Blue Mug, large"))
    world.send(c.ChangeProductPrice(product_id=world.mug, price=Decimal("4.95")))
    world.send(c.DiscontinueProduct(product_id=world.mug))
    stored = app.events.read_stream(f"product-{world.mug}")
    assert [e.type_name for e in stored] == [
        "ProductAdded",
        "ProductRenamed",
        "ProductPriceChanged",
        "ProductDiscontinued",
    ]
    assert stored[0].payload["sku"] == "MUG-1"
    assert stored[2].payload["price"] == {"amount": "4.95", "currency": "EUR"}


def test_product_refusals(world: World) -> None:
    refused(world, c.AddProduct(sku="BAD SKU", name="X", price=Decimal(1), currency="EUR"), "sku")
    refused(world, c.AddProduct(sku="OK", name="X", price=Decimal(1), currency="XXX"), "currency")
    refused(world, c.AddProduct(sku="OK", name="X", price=Decimal("-1"), currency="EUR"), "price")
    refused(
        world, c.AddProduct(sku="OK", name="X", price=Decimal("1.001"), currency="EUR"), "price"
    )
    refused(world, c.ChangeProductPrice(product_id=world.mug, price=Decimal("4.50")), "price")
    refused(world, c.RenameProduct(product_id=world.mug, name="Blue Mug"), "name")
    world.send(c.DiscontinueProduct(product_id=world.mug))
    refused(world, c.DiscontinueProduct(product_id=world.mug), None)
    refused(world, c.ChangeProductPrice(product_id=world.mug, price=Decimal(5)), "price")


def test_a_sku_is_unique_whatever_its_case_and_spacing(world: World, app: MemoryApp) -> None:
    error = refused(
        world, c.AddProduct(sku=" mug-1 ", name="Other", price=Decimal(1), currency="EUR"), "sku"
    )
    assert str(error) == "SKU MUG-1 is already used by Blue Mug. Each product needs its own SKU."
    # Discontinued products keep their SKU: old orders still name it.
    world.send(c.DiscontinueProduct(product_id=world.mug))
    refused(world, c.AddProduct(sku="MUG-1", name="New", price=Decimal(1), currency="EUR"), "sku")
    # Punctuation counts: MUG1 and MUG.1 are other articles.
    world.product("MUG1", "Mug one", "1.00")
    world.product("MUG.1", "Mug dot one", "1.00")
    # A re-sent command (same id) is its first result again, not a clash with itself.
    again = c.AddProduct(sku="CUP-9", name="Cup", price=Decimal(1), currency="EUR")
    first = world.send(again)
    assert world.send(again).duplicate and first.aggregate_id == again.product_id


# --- orders --------------------------------------------------------------------------------


def test_place_order_records_placed_and_lines(world: World, app: MemoryApp) -> None:
    command = c.PlaceOrder(
        customer_id=world.customer,
        lines=(
            c.LineInput(product_id=world.mug, quantity=3),
            c.LineInput(product_id=world.pot, quantity=1, unit_price=Decimal("15.00")),
        ),
    )
    result = world.send(command)
    assert result.version == 3
    assert result.position - result.first_position == 2
    stored = app.events.read_stream(f"order-{command.order_id}")
    placed = stored[0].payload
    assert placed["order_number"].startswith("SO-")
    assert (placed["customer_name"], placed["currency"]) == ("Müller GmbH", "EUR")
    assert stored[2].payload["unit_price"] == {"amount": "15.00", "currency": "EUR"}
    assert world.state(command.order_id).state["total"] == "28.50"


def test_order_numbers_are_unique_and_increasing(world: World, app: MemoryApp) -> None:
    numbers = []
    for _ in range(25):  # crosses a hi/lo block
        order_id = world.place(1)
        numbers.append(world.state(order_id).state["order_number"])
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == 25


def test_place_order_refusals(world: World) -> None:
    mug = c.LineInput(product_id=world.mug, quantity=1)
    refused(world, c.PlaceOrder(customer_id=world.customer, lines=()), "lines")
    assert isinstance(
        refused(world, c.PlaceOrder(customer_id="nobody", lines=(mug,)), None), NotFoundError
    )
    zero = c.LineInput(product_id=world.mug, quantity=0)
    refused(world, c.PlaceOrder(customer_id=world.customer, lines=(zero,)), "quantity")
    usd = c.PlaceOrder(customer_id=world.customer, lines=(mug,), currency="USD")
    refused(world, usd, "price")
    world.send(c.DiscontinueProduct(product_id=world.mug))
    refused(world, c.PlaceOrder(customer_id=world.customer, lines=(mug,)), "product")


def test_an_order_without_lines_is_refused_by_the_domain_rule(world: World) -> None:
    # One rule, stated once in Order.place: the handler restated it with its own error.
    for currency in (None, "EUR"):
        error = refused(
            world, c.PlaceOrder(customer_id=world.customer, lines=(), currency=currency), "lines"
        )
        assert isinstance(error, InvalidValue)
        assert error.message == "Add at least one line to the order."


def test_line_commands(world: World, app: MemoryApp) -> None:
    order_id = world.place(2)
    add = c.AddOrderLine(order_id=order_id, line=c.LineInput(product_id=world.pot, quantity=1))
    world.send(add)
    assert add.line_id in world.line_ids(order_id)
    world.send(c.ChangeLineQuantity(order_id=order_id, line_id=add.line_id, quantity=5))
    first = world.line_ids(order_id)[0]
    world.send(c.RemoveOrderLine(order_id=order_id, line_id=first))
    assert world.line_ids(order_id) == [add.line_id]
    assert world.state(order_id).state["total"] == "99.50"
    assert types(app, order_id)[-3:] == [
        "OrderLineAdded",
        "OrderLineQuantityChanged",
        "OrderLineRemoved",
    ]


def test_change_order_lines_is_one_command_one_event_one_version(
    world: World, app: MemoryApp
) -> None:
    order_id = world.place(2, 3)
    first, second = world.line_ids(order_id)
    before = world.version(order_id)
    command = c.ChangeOrderLines(
        order_id=order_id,
        expected_version=before,
        remove=(c.LineRemoval(line_id=first),),
        change=(c.QuantityChange(line_id=second, quantity=7),),
        add=(
            c.LineAddition(line=c.LineInput(product_id=world.pot, quantity=1)),
            c.LineAddition(
                line=c.LineInput(product_id=world.mug, quantity=2, unit_price=Decimal("3.00"))
            ),
        ),
    )
    result = world.send(command)
    assert result.version == before + 1
    stream = app.events.read_stream(f"order-{order_id}")
    assert [e.type_name for e in stream[before:]] == ["OrderLinesChanged"]
    assert stream[-1].metadata.causation_id == command.command_id
    assert world.line_ids(order_id) == [second, *(a.line_id for a in command.add)]
    quantities = [line["quantity"] for line in world.state(order_id).state["lines"]]
    assert quantities == [7, 1, 2]
    # Sent again (a lost reply): a duplicate, nothing written.
    assert world.send(command).duplicate
    assert world.version(order_id) == before + 1


def test_change_order_lines_refuses_everything_when_one_change_is_refused(world: World) -> None:
    order_id = world.place(2, 3)
    first, second = world.line_ids(order_id)
    error = refused(
        world,
        c.ChangeOrderLines(
            order_id=order_id,
            remove=(c.LineRemoval(line_id=first),),
            change=(c.QuantityChange(line_id=second, quantity=3),),
        ),
        "quantity",
    )
    assert error.message.endswith(": The quantity is already 3.")
    refused(world, c.ChangeOrderLines(order_id=order_id), "lines")
    world.send(c.DiscontinueProduct(product_id=world.pot))
    refused(
        world,
        c.ChangeOrderLines(
            order_id=order_id,
            add=(c.LineAddition(line=c.LineInput(product_id=world.pot, quantity=1)),),
        ),
        "product",
    )
    assert world.line_ids(order_id) == [first, second]


def test_line_command_refusals(world: World) -> None:
    order_id = world.place(2)
    line = world.line_ids(order_id)[0]
    refused(world, c.ChangeLineQuantity(order_id=order_id, line_id=line, quantity=2), "quantity")
    refused(world, c.ChangeLineQuantity(order_id=order_id, line_id=line, quantity=-1), "quantity")
    refused(
        world, c.ChangeLineQuantity(order_id=order_id, line_id=line, quantity=10**7), "quantity"
    )
    refused(world, c.RemoveOrderLine(order_id=order_id, line_id="no-such-line"), "lines")
    missing = c.LineInput(product_id="no-such-product", quantity=1)
    refused(world, c.AddOrderLine(order_id=order_id, line=missing), None)
    refused(world, c.ConfirmOrder(order_id="no-such-order"), None)


def test_order_lifecycle_to_delivered(world: World, app: MemoryApp) -> None:
    order_id = world.place(1)
    world.send(c.ConfirmOrder(order_id=order_id))
    world.send(c.ShipOrder(order_id=order_id, tracking_number="JJD000123", carrier="DHL"))
    world.send(c.DeliverOrder(order_id=order_id))
    state = world.state(order_id).state
    assert (state["status"], state["tracking_number"], state["carrier"]) == (
        "delivered",
        "JJD000123",
        "DHL",
    )
    assert types(app, order_id)[-3:] == ["OrderConfirmed", "OrderShipped", "OrderDelivered"]
    refused(world, c.CancelOrder(order_id=order_id, reason="Too late"), None)
    line = c.LineInput(product_id=world.mug, quantity=1)
    refused(world, c.AddOrderLine(order_id=order_id, line=line), "lines")


def test_state_rules(world: World) -> None:
    order_id = world.place(1)
    refused(world, c.ShipOrder(order_id=order_id, tracking_number="T1"), None)
    refused(world, c.DeliverOrder(order_id=order_id), None)
    world.send(c.ConfirmOrder(order_id=order_id))
    refused(world, c.ConfirmOrder(order_id=order_id), None)
    refused(world, c.ShipOrder(order_id=order_id, tracking_number="  "), "tracking_number")
    refused(world, c.CancelOrder(order_id=order_id, reason=""), "reason")
    world.send(c.CancelOrder(order_id=order_id, reason="Customer changed their mind."))
    assert world.state(order_id).state["cancel_reason"] == "Customer changed their mind."
    error = refused(world, c.CancelOrder(order_id=order_id, reason="again"), None)
    assert isinstance(error, RuleViolation)


def test_take_snapshot_writes_no_event(world: World, app: MemoryApp) -> None:
    order_id = world.place(1)
    head = world.head()
    result = world.send(c.TakeSnapshot(order_id=order_id))
    assert result.version == 2
    assert world.head() == head
    snapshot = app.snapshots.get_snapshot(f"order-{order_id}", 2)
    assert snapshot is not None
    assert snapshot.state == world.state(order_id).state


# --- shape validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"price": 4.5}, "price"),
        ({"price": "4.50"}, "price"),
        ({"price": 4}, "price"),
        ({"sku": 123}, "sku"),
        ({"currency": None}, "currency"),
    ],
)
def test_add_product_shape_is_checked(world: World, bad: dict[str, Any], field: str) -> None:
    fields: dict[str, Any] = {"sku": "X-1", "name": "X", "price": Decimal(1), "currency": "EUR"}
    fields.update(bad)
    error = refused(world, c.AddProduct(**fields), field)
    assert isinstance(error, InvalidCommandError)


@pytest.mark.parametrize("quantity", [True, "3", 2.0, None])
def test_line_quantity_shape_is_checked(world: World, quantity: Any) -> None:
    line = c.LineInput(product_id=world.mug, quantity=quantity)
    error = refused(
        world, c.PlaceOrder(customer_id=world.customer, lines=(line,)), "lines[0].quantity"
    )
    assert isinstance(error, InvalidCommandError)
    order_id = world.place(1)
    line_id = world.line_ids(order_id)[0]
    change = c.ChangeLineQuantity(order_id=order_id, line_id=line_id, quantity=quantity)
    assert isinstance(refused(world, change, "quantity"), InvalidCommandError)


def test_float_unit_price_and_list_of_lines_are_refused(world: World) -> None:
    line = c.LineInput(product_id=world.mug, quantity=1, unit_price=0.1)  # type: ignore[arg-type]
    place = c.PlaceOrder(customer_id=world.customer, lines=(line,))
    refused(world, place, "lines[0].unit_price")
    as_list = c.PlaceOrder(customer_id=world.customer, lines=[line])  # type: ignore[arg-type]
    refused(world, as_list, "lines")
    refused(
        world, c.ConfirmOrder(order_id=world.place(1), expected_version=True), "expected_version"
    )
    refused(world, c.ConfirmOrder(order_id="x", command_id="  "), "command_id")


def test_unknown_command_type(app: MemoryApp) -> None:
    @dataclass(frozen=True, kw_only=True, slots=True)
    class Teleport(c.Command):
        where: str

    with pytest.raises(UnknownMessageError):
        app.commands.dispatch(Teleport(where="Mars"))
    assert not app.commands.handles(Teleport)
    assert app.commands.handles(c.ShipOrder)
