"""The repositories' aggregate cache: commands see what other writers stored, a failed command
leaves nothing behind, and a plain ``load`` is always built from the stores."""

from __future__ import annotations

from decimal import Decimal

import pytest

from desktop_app.application import commands as c
from desktop_app.application.buses import CommandBus
from desktop_app.application.composition import compose
from desktop_app.application.handlers import Deps
from desktop_app.application.repository import NotFoundError
from desktop_app.domain.errors import DomainError
from desktop_app.domain.order import Order
from desktop_app.store.memory import InMemoryEventStore, InMemorySnapshotStore

from .helpers import identity


def two_writers() -> tuple[tuple[Deps, CommandBus], tuple[Deps, CommandBus]]:
    """Two independently composed applications (two processes) over the same stores."""
    events = InMemoryEventStore()
    snapshots = InMemorySnapshotStore(events)
    a = compose(events, snapshots, identity=identity("a"), snapshot_interval=5)
    b = compose(events, snapshots, identity=identity("b"), snapshot_interval=5)
    return (a[0], a[1]), (b[0], b[1])


def place(bus: CommandBus) -> tuple[str, str, str]:
    customer = bus.dispatch(c.RegisterCustomer(name="Ada")).aggregate_id
    product = bus.dispatch(
        c.AddProduct(sku="MUG", name="Mug", price=Decimal("4.50"), currency="EUR")
    ).aggregate_id
    order = bus.dispatch(
        c.PlaceOrder(customer_id=customer, lines=(c.LineInput(product_id=product, quantity=1),))
    ).aggregate_id
    return customer, product, order


def test_a_cached_order_catches_up_with_another_writer() -> None:
    (deps_a, bus_a), (_deps_b, bus_b) = two_writers()
    _, product, order = place(bus_a)
    line = c.LineInput(product_id=product, quantity=2)
    bus_a.dispatch(c.AddOrderLine(order_id=order, line=line))  # A caches the order at v3
    bus_b.dispatch(c.AddOrderLine(order_id=order, line=line))  # B writes v4
    bus_b.dispatch(c.ConfirmOrder(order_id=order))  # v5
    # A's cached copy is behind: the command must see the confirmation and be refused.
    with pytest.raises(DomainError, match="pending"):
        bus_a.dispatch(c.AddOrderLine(order_id=order, line=line))
    result = bus_a.dispatch(c.ShipOrder(order_id=order, tracking_number="T1"))
    assert result.version == 6
    fresh = deps_a.orders.load(order)
    assert (fresh.version, fresh.status.value, len(fresh.lines)) == (6, "shipped", 3)


def test_a_catalog_change_by_another_writer_is_used_by_the_next_order() -> None:
    (deps_a, bus_a), (_deps_b, bus_b) = two_writers()
    customer, product, _ = place(bus_a)  # A has the product cached
    bus_b.dispatch(c.ChangeProductPrice(product_id=product, price=Decimal("5.00")))
    bus_b.dispatch(c.RenameCustomer(customer_id=customer, name="Ada Lovelace"))
    order = bus_a.dispatch(
        c.PlaceOrder(customer_id=customer, lines=(c.LineInput(product_id=product, quantity=1),))
    ).aggregate_id
    placed = deps_a.orders.load(order)
    assert placed.customer_name == "Ada Lovelace"
    assert placed.lines[0].unit_price.amount == Decimal("5.00")


def test_a_failed_command_leaves_no_trace_in_the_cache() -> None:
    (deps, bus), _ = two_writers()
    _, product, order = place(bus)
    cached = deps.orders.checkout(order)
    cached.confirm()  # changed in memory, never saved (as if the handler then failed)
    del cached
    line = c.LineInput(product_id=product, quantity=1)
    result = bus.dispatch(c.AddOrderLine(order_id=order, line=line))  # still pending
    assert result.version == 3
    assert deps.orders.load(order).status.value == "pending"


def test_checkout_hands_out_a_private_object_and_load_never_uses_the_cache() -> None:
    (deps, bus), _ = two_writers()
    _, _, order = place(bus)
    first = deps.orders.checkout(order)  # the cached one, taken out
    second = deps.orders.checkout(order)  # not cached any more: built from the stores
    assert first is not second
    assert first.to_snapshot() == second.to_snapshot()
    loaded = deps.orders.load(order)
    assert loaded is not first and loaded is not second
    assert isinstance(loaded, Order)


def test_unknown_ids_are_not_found() -> None:
    (deps, _), _ = two_writers()
    with pytest.raises(NotFoundError):
        deps.orders.checkout("nope")
    with pytest.raises(NotFoundError):
        deps.products.view("nope", lambda product: product.name)


def test_the_cache_is_bounded() -> None:
    events = InMemoryEventStore()
    snapshots = InMemorySnapshotStore(events)
    deps, bus, _ = compose(events, snapshots, identity=identity("t"))
    repo = deps.customers
    repo._cache_size = 3
    ids = [bus.dispatch(c.RegisterCustomer(name=f"C{i}")).aggregate_id for i in range(5)]
    assert list(repo._cache) == ids[-3:]
    assert repo.view(ids[0], lambda customer: customer.name) == "C0"  # reloaded
