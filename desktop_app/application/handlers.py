"""Command and query handlers: plain functions taking their dependencies first.

The bootstrap binds the dependencies (``functools.partial``) and registers one handler per
message type. A command handler loads one aggregate, calls one domain method and saves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.application.diffing import diff_states
from desktop_app.application.middleware import current_context
from desktop_app.application.ports import (
    AppendResult,
    ConcurrencyError,
    EventMetadata,
    EventStore,
    JsonObject,
    SnapshotInfo,
    SnapshotStore,
)
from desktop_app.application.repository import Repository, decode
from desktop_app.application.summaries import describe
from desktop_app.domain.aggregate import Aggregate
from desktop_app.domain.catalog import Customer, Product
from desktop_app.domain.errors import DomainError
from desktop_app.domain.order import ACTIONS, NewLine, Order, ProductRef
from desktop_app.domain.values import Money

A = TypeVar("A", bound=Aggregate)


@dataclass(frozen=True, kw_only=True, slots=True)
class Identity:
    """Who is running this program, recorded in every event's metadata."""

    user: str
    host: str
    app_version: str
    source: str


class OrderNumbers:
    """Hands out human order numbers, reserving them from the store in blocks (hi/lo) so
    placing an order does not cost a separate write transaction each time."""

    def __init__(self, events: EventStore, *, block: int = 20, prefix: str = "SO-") -> None:
        self._events = events
        self._block = block
        self._prefix = prefix
        self._next = 0
        self._end = 0
        self._lock = threading.Lock()

    def next(self) -> str:
        """The next unused order number, e.g. ``SO-000123``."""
        with self._lock:
            if self._next >= self._end:
                self._next = self._events.next_number("order-number", self._block)
                self._end = self._next + self._block
            number = self._next
            self._next += 1
        return f"{self._prefix}{number:06d}"


@dataclass(frozen=True, kw_only=True, slots=True)
class Deps:
    """What the handlers need; built once by the bootstrap."""

    events: EventStore
    snapshots: SnapshotStore
    orders: Repository[Order]
    customers: Repository[Customer]
    products: Repository[Product]
    identity: Identity
    new_id: Callable[[], str]
    order_numbers: OrderNumbers


def _metadata(deps: Deps, command: c.Command) -> EventMetadata:
    context = current_context(command)
    return EventMetadata(
        correlation_id=context.correlation_id,
        causation_id=context.command_id,
        user=deps.identity.user,
        host=deps.identity.host,
        app_version=deps.identity.app_version,
        source=deps.identity.source,
    )


def _result(aggregate: Aggregate, appended: AppendResult) -> c.CommandResult:
    return c.CommandResult(
        stream_id=appended.stream_id,
        aggregate_id=aggregate.id,
        version=appended.version,
        first_position=appended.first_position,
        position=appended.last_position,
        duplicate=appended.duplicate,
    )


def _save(
    deps: Deps, repository: Repository[A], aggregate: A, loaded: int, command: c.Command
) -> c.CommandResult:
    appended = repository.save(
        aggregate,
        expected_version=loaded,
        metadata=_metadata(deps, command),
        command_id=command.command_id,
        release=True,  # handlers drop the aggregate after saving: the cache may keep it
    )
    return _result(aggregate, appended)


def _check_version(repository: Repository[A], aggregate: A, expected: int | None) -> None:
    if expected is not None and expected != aggregate.version:
        raise ConcurrencyError(repository.stream_id(aggregate.id), expected, aggregate.version)


def _money(amount: Decimal, currency: str) -> Money:
    return Money(amount, currency)


def _product_ref(deps: Deps, product_id: str) -> ProductRef:
    # A read-only look at the product (through the cache): the order only copies its details.
    return deps.products.view(product_id, Product.as_ref)


def _new_line(
    deps: Deps, line: c.LineInput, currency: str, product: ProductRef | None = None
) -> NewLine:
    if product is None:
        product = _product_ref(deps, line.product_id)
    price = None if line.unit_price is None else _money(line.unit_price, currency)
    return NewLine(line_id=deps.new_id(), product=product, quantity=line.quantity, unit_price=price)


# --- order commands ------------------------------------------------------------------------


def place_order(deps: Deps, command: c.PlaceOrder) -> c.CommandResult:
    """Create an order; the currency defaults to the first product's."""
    customer = deps.customers.view(command.customer_id, Customer.as_ref)
    if not command.lines:
        raise DomainError("Add at least one line to the order.", field="lines")
    currency = command.currency
    first: ProductRef | None = None
    if currency is None:
        # The first product is looked up once, for the currency and for its line.
        first = _product_ref(deps, command.lines[0].product_id)
        currency = first.price.currency
    lines = [
        _new_line(deps, line, currency, first if index == 0 else None)
        for index, line in enumerate(command.lines)
    ]
    order = Order.place(
        order_id=command.order_id,
        order_number=deps.order_numbers.next(),
        customer=customer,
        currency=currency,
        lines=lines,
    )
    return _save(deps, deps.orders, order, 0, command)


def _on_order(
    deps: Deps, command: c.OrderCommand, action: Callable[[Order], None]
) -> c.CommandResult:
    order = deps.orders.checkout(command.order_id)
    _check_version(deps.orders, order, command.expected_version)
    loaded = order.version
    action(order)
    return _save(deps, deps.orders, order, loaded, command)


def add_order_line(deps: Deps, command: c.AddOrderLine) -> c.CommandResult:
    """Add a line (catalog price unless one was typed)."""

    def act(order: Order) -> None:
        line = _new_line(deps, command.line, order.currency)
        order.add_line(
            NewLine(
                line_id=command.line_id,
                product=line.product,
                quantity=line.quantity,
                unit_price=line.unit_price,
            )
        )

    return _on_order(deps, command, act)


def remove_order_line(deps: Deps, command: c.RemoveOrderLine) -> c.CommandResult:
    """Remove a line from a pending order."""
    return _on_order(deps, command, lambda order: order.remove_line(command.line_id))


def change_line_quantity(deps: Deps, command: c.ChangeLineQuantity) -> c.CommandResult:
    """Change a line's quantity."""
    return _on_order(
        deps, command, lambda order: order.change_quantity(command.line_id, command.quantity)
    )


def confirm_order(deps: Deps, command: c.ConfirmOrder) -> c.CommandResult:
    """Confirm a pending order."""
    return _on_order(deps, command, lambda order: order.confirm())


def ship_order(deps: Deps, command: c.ShipOrder) -> c.CommandResult:
    """Ship a confirmed order."""
    return _on_order(
        deps, command, lambda order: order.ship(command.tracking_number, command.carrier)
    )


def deliver_order(deps: Deps, command: c.DeliverOrder) -> c.CommandResult:
    """Mark a shipped order delivered."""
    return _on_order(deps, command, lambda order: order.deliver())


def cancel_order(deps: Deps, command: c.CancelOrder) -> c.CommandResult:
    """Cancel an order with a reason."""
    return _on_order(deps, command, lambda order: order.cancel(command.reason))


def take_snapshot(deps: Deps, command: c.TakeSnapshot) -> c.CommandResult:
    """Store a snapshot of the order's current state (writes no event)."""
    order = deps.orders.load(command.order_id)
    _check_version(deps.orders, order, command.expected_version)
    deps.orders.snapshot(order)
    return c.CommandResult(
        stream_id=deps.orders.stream_id(order.id),
        aggregate_id=order.id,
        version=order.version,
        first_position=0,
        position=0,
    )


# --- catalog commands ----------------------------------------------------------------------


def register_customer(deps: Deps, command: c.RegisterCustomer) -> c.CommandResult:
    """Add a customer."""
    customer = Customer.register(customer_id=command.customer_id, name=command.name)
    return _save(deps, deps.customers, customer, 0, command)


def rename_customer(deps: Deps, command: c.RenameCustomer) -> c.CommandResult:
    """Rename a customer."""
    customer = deps.customers.checkout(command.customer_id)
    _check_version(deps.customers, customer, command.expected_version)
    loaded = customer.version
    customer.rename(command.name)
    return _save(deps, deps.customers, customer, loaded, command)


def add_product(deps: Deps, command: c.AddProduct) -> c.CommandResult:
    """Add a product to the catalog."""
    product = Product.add(
        product_id=command.product_id,
        sku=command.sku,
        name=command.name,
        price=_money(command.price, command.currency),
    )
    return _save(deps, deps.products, product, 0, command)


def _on_product(
    deps: Deps,
    command: c.RenameProduct | c.ChangeProductPrice | c.DiscontinueProduct,
    action: Callable[[Product], None],
) -> c.CommandResult:
    product = deps.products.checkout(command.product_id)
    _check_version(deps.products, product, command.expected_version)
    loaded = product.version
    action(product)
    return _save(deps, deps.products, product, loaded, command)


def rename_product(deps: Deps, command: c.RenameProduct) -> c.CommandResult:
    """Rename a product."""
    return _on_product(deps, command, lambda product: product.rename(command.name))


def change_product_price(deps: Deps, command: c.ChangeProductPrice) -> c.CommandResult:
    """Change a product's price (in its own currency)."""
    return _on_product(
        deps,
        command,
        lambda product: product.change_price(_money(command.price, product.price.currency)),
    )


def discontinue_product(deps: Deps, command: c.DiscontinueProduct) -> c.CommandResult:
    """Discontinue a product."""
    return _on_product(deps, command, lambda product: product.discontinue())


# --- queries over the event store ----------------------------------------------------------


def get_order_history(deps: Deps, query: q.GetOrderHistory) -> list[q.HistoryEntry]:
    """The order's events in version order, each with a one-line summary."""
    stream = deps.orders.stream_id(query.order_id)
    stored = deps.events.read_stream(
        stream, from_version=query.from_version, to_version=query.to_version
    )
    entries = []
    for event in stored:
        if query.type_names is not None and event.type_name not in query.type_names:
            continue
        entries.append(
            q.HistoryEntry(
                position=event.position,
                version=event.version,
                event_id=event.event_id,
                type_name=event.type_name,
                schema_version=event.schema_version,
                recorded_at=event.recorded_at,
                metadata=event.metadata,
                payload=event.payload,
                summary=describe(decode(event)),
                prev_hash=event.prev_hash,
                hash=event.hash,
            )
        )
    return entries


def _state(deps: Deps, order_id: str, version: int | None) -> q.AggregateState:
    order = deps.orders.load(order_id, at_version=version)
    return q.AggregateState(
        aggregate_id=order_id,
        aggregate_type=Order.AGGREGATE_TYPE,
        version=order.version,
        state=order.to_snapshot(),
    )


def get_order_at_version(deps: Deps, query: q.GetOrderAtVersion) -> q.AggregateState:
    """The order's state right after a given version."""
    if query.version is not None and query.version < 1:
        raise DomainError("Versions start at 1.", field="version")
    return _state(deps, query.order_id, query.version)


def get_order_diff(deps: Deps, query: q.GetOrderDiff) -> q.StateDiff:
    """Field-by-field changes between two versions (version 0 is the empty state)."""
    after = _state(deps, query.order_id, query.to_version)
    before_state: JsonObject = {}
    if query.from_version > 0:
        before_state = _state(deps, query.order_id, query.from_version).state
    return q.StateDiff(
        aggregate_id=query.order_id,
        from_version=max(query.from_version, 0),
        to_version=after.version,
        changes=diff_states(before_state, after.state),
    )


def list_order_snapshots(deps: Deps, query: q.ListOrderSnapshots) -> list[SnapshotInfo]:
    """The order's snapshots, newest first."""
    return deps.snapshots.list_snapshots(deps.orders.stream_id(query.order_id))


def get_order_snapshot(deps: Deps, query: q.GetOrderSnapshot) -> q.AggregateState | None:
    """The state stored in one snapshot."""
    snapshot = deps.snapshots.get_snapshot(deps.orders.stream_id(query.order_id), query.version)
    if snapshot is None:
        return None
    return q.AggregateState(
        aggregate_id=query.order_id,
        aggregate_type=snapshot.aggregate_type,
        version=snapshot.version,
        state=snapshot.state,
    )


def verify_order_snapshot(deps: Deps, query: q.VerifyOrderSnapshot) -> q.SnapshotCheck:
    """Compare a stored snapshot with a fresh replay of the events up to its version."""
    stream = deps.orders.stream_id(query.order_id)
    snapshot = deps.snapshots.get_snapshot(stream, query.version)

    def refused(problem: str) -> q.SnapshotCheck:
        return q.SnapshotCheck(
            aggregate_id=query.order_id,
            version=query.version,
            usable=False,
            equal=False,
            differences=(),
            problem=problem,
        )

    if snapshot is None:
        info = next(
            (i for i in deps.snapshots.list_snapshots(stream) if i.version == query.version), None
        )
        if info is not None and info.problem:
            return refused(
                f"The snapshot is not trusted: {info.problem}. "
                "It is ignored when the order is loaded."
            )
        return refused("The snapshot is missing or its stored bytes are damaged.")
    if not deps.orders.usable_snapshot(snapshot, deps.events.stream_version(stream)):
        return refused(
            "The snapshot is of another kind, another format version, or newer than the "
            "order's history; it is ignored when the order is loaded."
        )
    events = deps.events.read_stream(stream, to_version=query.version)
    replayed = Order.replay(query.order_id, [decode(e) for e in events]).to_snapshot()
    differences = diff_states(snapshot.state, replayed)
    return q.SnapshotCheck(
        aggregate_id=query.order_id,
        version=query.version,
        usable=True,
        equal=not differences,
        differences=differences,
    )


def get_order_actions(deps: Deps, query: q.GetOrderActions) -> q.OrderActions:
    """Allowed actions for the order's current state, with reasons for the others."""
    order = deps.orders.load(query.order_id)
    return q.OrderActions(
        order_id=order.id,
        version=order.version,
        status=order.status.value,
        refusals=tuple((action, order.why_not(action)) for action in ACTIONS),
    )
