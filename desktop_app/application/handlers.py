"""Command and query handlers: plain functions taking their dependencies first.

``composition.compose`` binds the dependencies (``functools.partial``) and registers one
handler per message type. A command handler loads one aggregate, calls one domain method and saves.

Over 500 lines on purpose: one short function per command and query, found by name in one place.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.application.business_summaries import LineBook
from desktop_app.application.diffing import diff_states
from desktop_app.application.middleware import current_context
from desktop_app.application.ports import (
    AppendResult,
    ConcurrencyError,
    EventMetadata,
    EventStore,
    JsonObject,
    ServerAuthorship,
    SnapshotInfo,
    SnapshotStore,
    UniqueClaim,
    UniqueKeyTakenError,
)
from desktop_app.application.repository import Repository, decode
from desktop_app.domain.aggregate import Aggregate
from desktop_app.domain.catalog import SKU_NAMESPACE, Customer, Product, sku_key
from desktop_app.domain.errors import DomainError, RuleViolation
from desktop_app.domain.order import ACTIONS, NewLine, Order, ProductRef
from desktop_app.domain.serialization import from_payloads
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
    """What the handlers need; built once by ``composition.compose``."""

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
        fingerprint=current_context(command).fingerprint,
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
    deps: Deps,
    line: c.LineInput,
    currency: str,
    product: ProductRef | None = None,
    line_id: str | None = None,
) -> NewLine:
    """The domain's line for ``line``; ``line_id`` None gives it a fresh id."""
    if product is None:
        product = _product_ref(deps, line.product_id)
    price = None if line.unit_price is None else _money(line.unit_price, currency)
    return NewLine(
        line_id=deps.new_id() if line_id is None else line_id,
        product=product,
        quantity=line.quantity,
        unit_price=price,
    )


# --- order commands ------------------------------------------------------------------------


def place_order(deps: Deps, command: c.PlaceOrder) -> c.CommandResult:
    """Create an order; the currency defaults to the first product's."""
    customer = deps.customers.view(command.customer_id, Customer.as_ref)
    currency = command.currency
    first: ProductRef | None = None
    if currency is None and command.lines:
        # The first product is looked up once, for the currency and for its line.
        first = _product_ref(deps, command.lines[0].product_id)
        currency = first.price.currency
    # No lines: Order.place refuses the order (its rule, stated there only).
    lines = [
        _new_line(deps, line, currency or "", first if index == 0 else None)
        for index, line in enumerate(command.lines)
    ]
    address = command.shipping_address
    order = Order.place(
        order_id=command.order_id,
        order_number=deps.order_numbers.next(),
        customer=customer,
        currency=currency or "",
        lines=lines,
        shipping_address=customer.address if address is None or not address.strip() else address,
    )
    return _save(deps, deps.orders, order, 0, command)


def duplicate_order(deps: Deps, command: c.DuplicateOrder) -> c.CommandResult:
    """ "Order again": same customer, same products and quantities, as a new pending order.

    Prices are the catalog's current ones, not the source lines': a repeat order is a new sale
    today, and an old price (a raise since, a one-off discount then) would be copied silently;
    the new order is pending, so the clerk can still change any line. The address is the
    customer's current default, as for any new order. A discontinued product refuses the
    whole duplicate, naming it, rather than quietly dropping a line.
    """
    number, customer_id, currency, source_lines = deps.orders.view(
        command.source_order_id, lambda o: (o.order_number, o.customer_id, o.currency, o.lines)
    )
    if not source_lines:
        raise DomainError(f"Order {number} has no lines to order again.", field="lines")
    customer = deps.customers.view(customer_id, Customer.as_ref)
    products = [_product_ref(deps, line.product_id) for line in source_lines]
    gone = [f"{p.name} ({p.sku})" for p in products if p.discontinued]
    if gone:
        raise DomainError(
            f"Order {number} cannot be ordered again as it was: "
            f"{', '.join(gone)} {'is' if len(gone) == 1 else 'are'} discontinued. "
            "Start a new order instead.",
            field="lines",
        )
    lines = [
        NewLine(line_id=deps.new_id(), product=product, quantity=line.quantity)
        for line, product in zip(source_lines, products, strict=True)
    ]
    order = Order.place(
        order_id=command.order_id,
        order_number=deps.order_numbers.next(),
        customer=customer,
        currency=currency,
        lines=lines,
        shipping_address=customer.address,
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
        order.add_line(_new_line(deps, command.line, order.currency, line_id=command.line_id))

    return _on_order(deps, command, act)


def remove_order_line(deps: Deps, command: c.RemoveOrderLine) -> c.CommandResult:
    """Remove a line from a pending order."""
    return _on_order(deps, command, lambda order: order.remove_line(command.line_id))


def change_line_quantity(deps: Deps, command: c.ChangeLineQuantity) -> c.CommandResult:
    """Change a line's quantity."""
    return _on_order(
        deps, command, lambda order: order.change_quantity(command.line_id, command.quantity)
    )


# The domain decision of a command on a loaded order, apart from loading and saving: the
# handler runs it on the checked-out order and saves, the preview (application/preview.py)
# runs the very same function on a freshly loaded copy and saves nothing.


def decide_change_order_lines(deps: Deps, command: c.ChangeOrderLines, order: Order) -> None:
    """Remove, change and add lines in one domain call (one event)."""
    additions = []
    for addition in command.add:
        additions.append(_new_line(deps, addition.line, order.currency, line_id=addition.line_id))
    order.change_lines(
        remove=[removal.line_id for removal in command.remove],
        quantities=[(change.line_id, change.quantity) for change in command.change],
        add=additions,
    )


def decide_confirm_order(deps: Deps, command: c.ConfirmOrder, order: Order) -> None:
    """Confirm the order."""
    order.confirm()


def decide_ship_order(deps: Deps, command: c.ShipOrder, order: Order) -> None:
    """Ship the order."""
    order.ship(command.tracking_number, command.carrier)


def decide_deliver_order(deps: Deps, command: c.DeliverOrder, order: Order) -> None:
    """Mark the order delivered."""
    order.deliver()


def decide_cancel_order(deps: Deps, command: c.CancelOrder, order: Order) -> None:
    """Cancel the order with the command's reason."""
    order.cancel(command.reason)


ORDER_DECISIONS: dict[type[c.OrderCommand], Callable[[Deps, Any, Order], None]] = {
    c.ChangeOrderLines: decide_change_order_lines,
    c.ConfirmOrder: decide_confirm_order,
    c.ShipOrder: decide_ship_order,
    c.DeliverOrder: decide_deliver_order,
    c.CancelOrder: decide_cancel_order,
}
"""The order commands whose outcome can be previewed (``PreviewOrderCommand``)."""


def change_order_lines(deps: Deps, command: c.ChangeOrderLines) -> c.CommandResult:
    """Remove, change and add lines in one edit: one domain call, one event, one append."""
    return _on_order(deps, command, partial(decide_change_order_lines, deps, command))


def confirm_order(deps: Deps, command: c.ConfirmOrder) -> c.CommandResult:
    """Confirm a pending order."""
    return _on_order(deps, command, partial(decide_confirm_order, deps, command))


def ship_order(deps: Deps, command: c.ShipOrder) -> c.CommandResult:
    """Ship a confirmed order."""
    return _on_order(deps, command, partial(decide_ship_order, deps, command))


def deliver_order(deps: Deps, command: c.DeliverOrder) -> c.CommandResult:
    """Mark a shipped order delivered."""
    return _on_order(deps, command, partial(decide_deliver_order, deps, command))


def cancel_order(deps: Deps, command: c.CancelOrder) -> c.CommandResult:
    """Cancel an order with a reason."""
    return _on_order(deps, command, partial(decide_cancel_order, deps, command))


def change_shipping_address(deps: Deps, command: c.ChangeShippingAddress) -> c.CommandResult:
    """Give the order its own shipping address (until shipped)."""
    return _on_order(deps, command, lambda order: order.change_shipping_address(command.address))


def add_order_note(deps: Deps, command: c.AddOrderNote) -> c.CommandResult:
    """Add a note to an order (any status)."""
    return _on_order(deps, command, lambda order: order.add_note(command.note_id, command.text))


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
    customer = Customer.register(
        customer_id=command.customer_id, name=command.name, address=command.address
    )
    return _save(deps, deps.customers, customer, 0, command)


def change_customer_address(deps: Deps, command: c.ChangeCustomerAddress) -> c.CommandResult:
    """Set, change or clear a customer's default shipping address."""
    customer = deps.customers.checkout(command.customer_id)
    _check_version(deps.customers, customer, command.expected_version)
    loaded = customer.version
    customer.change_address(command.address)
    return _save(deps, deps.customers, customer, loaded, command)


def rename_customer(deps: Deps, command: c.RenameCustomer) -> c.CommandResult:
    """Rename a customer."""
    customer = deps.customers.checkout(command.customer_id)
    _check_version(deps.customers, customer, command.expected_version)
    loaded = customer.version
    customer.rename(command.name)
    return _save(deps, deps.customers, customer, loaded, command)


def _sku_taken(deps: Deps, sku: str, holder: str) -> RuleViolation:
    """The clerk's words for a SKU another product holds, naming that product."""
    try:
        name = deps.products.view(holder, lambda product: product.name)
    except DomainError:
        name = ""
    named = f" by {name}" if name else ""
    return RuleViolation(
        f"SKU {sku} is already used{named}. Each product needs its own SKU.", field="sku"
    )


def add_product(deps: Deps, command: c.AddProduct) -> c.CommandResult:
    """Add a product to the catalog; its SKU must not be used by another product.

    The SKU is claimed in the same transaction as the ``ProductAdded`` event, so two
    workstations adding the same SKU at once cannot both succeed (the store decides).
    """
    product = Product.add(
        product_id=command.product_id,
        sku=command.sku,
        name=command.name,
        price=_money(command.price, command.currency),
    )
    claim = UniqueClaim(SKU_NAMESPACE, sku_key(product.sku), product.id)
    try:
        appended = deps.products.save(
            product,
            expected_version=0,
            metadata=_metadata(deps, command),
            command_id=command.command_id,
            fingerprint=current_context(command).fingerprint,
            release=True,
            claims=(claim,),
        )
    except UniqueKeyTakenError as exc:
        raise _sku_taken(deps, product.sku, exc.holder) from exc
    return _result(product, appended)


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

MAX_QUERY_VERSION = 2**62
"""The highest version a query may name (the stores' own bound; SQLite integers are 64-bit,
and a larger number used to reach the driver as a raw ``OverflowError``)."""


def _check_version_arg(value: int | None, field: str, *, lowest: int, optional: bool) -> None:
    """A version in a query: a whole number from ``lowest`` on (or None when optional)."""
    if value is None and optional:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not lowest <= value <= MAX_QUERY_VERSION
    ):
        raise DomainError(
            f"{field.replace('_', ' ').capitalize()} must be a whole number from {lowest} "
            f"to {MAX_QUERY_VERSION:,}.",
            field=field,
        )


def get_order_history(deps: Deps, query: q.GetOrderHistory) -> list[q.HistoryEntry]:
    """The order's events in version order, each with a one-line summary in business
    language (lines by product and SKU, old → new, money deltas: ``business_summaries``)."""
    _check_version_arg(query.from_version, "from_version", lowest=0, optional=False)
    _check_version_arg(query.to_version, "to_version", lowest=0, optional=True)
    stream = deps.orders.stream_id(query.order_id)
    stored = deps.events.read_stream(
        stream, from_version=query.from_version, to_version=query.to_version
    )
    # A removal or a quantity change names only its line: the events before the range (and
    # the filtered-out ones) tell the book which product each line is.
    book = LineBook()
    if query.from_version > 1:
        before = deps.events.read_stream_data(stream, to_version=query.from_version - 1)
        for earlier in from_payloads(before):
            book.tell(earlier)
    # On a server, the role that wrote each event (one read for the whole range).
    roles: dict[int, str] = {}
    if isinstance(deps.events, ServerAuthorship):
        roles = deps.events.author_roles([event.position for event in stored])
    entries = []
    for event in stored:
        summary = book.tell(decode(event)).text
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
                summary=summary,
                prev_hash=event.prev_hash,
                hash=event.hash,
                server_role=roles.get(event.position),
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
    _check_version_arg(query.version, "version", lowest=1, optional=True)
    return _state(deps, query.order_id, query.version)


def get_order_diff(deps: Deps, query: q.GetOrderDiff) -> q.StateDiff:
    """Field-by-field changes between two versions (version 0 is the empty state)."""
    _check_version_arg(query.from_version, "from_version", lowest=0, optional=False)
    _check_version_arg(query.to_version, "to_version", lowest=0, optional=False)
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
    _check_version_arg(query.version, "version", lowest=1, optional=False)
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
    _check_version_arg(query.version, "version", lowest=1, optional=False)
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


def get_order_shipping(deps: Deps, query: q.GetOrderShipping) -> q.OrderShipping:
    """The order's address (its own, else its customer's current one, marked) and its notes
    with author and time from each note event's metadata."""
    version, customer_id, own, notes = deps.orders.view(
        query.order_id, lambda o: (o.version, o.customer_id, o.shipping_address, o.notes)
    )
    address, source = own, q.ADDRESS_FROM_ORDER
    if not own:
        address = deps.customers.view(customer_id, lambda customer: customer.address)
        source = q.ADDRESS_FROM_CUSTOMER if address else q.ADDRESS_NONE
    stream = deps.orders.stream_id(query.order_id)
    entries = []
    for note in notes:
        # One indexed read per note (a note's version is known): never the whole history.
        stored = deps.events.read_stream(stream, from_version=note.version, to_version=note.version)
        meta = stored[0] if stored else None
        entries.append(
            q.OrderNoteEntry(
                note_id=note.note_id,
                text=note.text,
                version=note.version,
                author=meta.metadata.user if meta is not None else "",
                host=meta.metadata.host if meta is not None else "",
                recorded_at=meta.recorded_at if meta is not None else None,
            )
        )
    return q.OrderShipping(
        order_id=query.order_id,
        version=version,
        address=address,
        address_source=source,
        notes=tuple(entries),
    )


def get_customer_address(deps: Deps, query: q.GetCustomerAddress) -> q.CustomerAddress:
    """The customer's current default shipping address."""
    version, address = deps.customers.view(query.customer_id, lambda c: (c.version, c.address))
    return q.CustomerAddress(customer_id=query.customer_id, version=version, address=address)
