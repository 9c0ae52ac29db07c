"""Pure projections: one function per event type that changes the rows of a batch in memory.

No I/O here. The runner loads the rows a batch touches into a :class:`WorkingSet`, calls
:func:`project` for each event in position order, and the store writes the changed rows back in
the same transaction as the checkpoint.

Semantics of the derived figures:

* ``order_count`` of a customer counts every order placed for them (cancelled ones too);
* ``lifetime_value`` (per currency) and a product's ``units_sold`` count orders once they are
  confirmed (confirmed, shipped or delivered) and stop counting them when they are cancelled;
* names are denormalised: an order shows its customer's *current* name and a line its
  product's current name (a rename updates every row that shows it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType

from desktop_app.application.ports import (
    CustomerState,
    EventRecord,
    JsonObject,
    LineState,
    OrderState,
    ProductState,
    ReadModelKeys,
    WorkingSet,
)
from desktop_app.domain.serialization import EVENT_TYPES, upcast
from desktop_app.domain.values import CURRENCY_PLACES

PENDING = "pending"
CONFIRMED = "confirmed"
SHIPPED = "shipped"
DELIVERED = "delivered"
CANCELLED = "cancelled"

COUNTED = frozenset({CONFIRMED, SHIPPED, DELIVERED})
"""Statuses whose orders count towards lifetime value and units sold."""

Projection = Callable[[WorkingSet, EventRecord, JsonObject], None]


class ProjectionError(Exception):
    """A projection could not apply an event; the projector stops there."""

    def __init__(self, event: EventRecord, cause: BaseException) -> None:
        self.event = event
        self.cause = cause
        super().__init__(
            f"Event {event.position} ({event.type_name} v{event.schema_version} of "
            f"{event.stream_id} at version {event.version}) could not be applied: "
            f"{type(cause).__name__}: {cause}"
        )


def minor_units(money: JsonObject) -> int:
    """A stored money value ``{"amount": "4.50", "currency": "EUR"}`` in minor units."""
    places = CURRENCY_PLACES[money["currency"]]
    value = Decimal(money["amount"]).scaleb(places)
    minor = int(value)
    if minor != value:
        raise ValueError(f"amount {money['amount']!r} has too many decimal places")
    return minor


def current_payload(event: EventRecord) -> JsonObject:
    """The payload at the current schema version of its type (upcast when older)."""
    cls = EVENT_TYPES.get(event.type_name)
    if cls is not None and cls.schema_version == event.schema_version:
        return event.payload
    return upcast(event.type_name, event.schema_version, event.payload)


# --- keys ------------------------------------------------------------------------------------


def keys_for(events: Iterable[EventRecord]) -> ReadModelKeys:
    """The rows a batch touches, from the payloads alone."""
    keys = ReadModelKeys()
    for event in events:
        payload = event.payload
        if "order_id" in payload:
            keys.orders.add(payload["order_id"])
        if "customer_id" in payload:
            keys.customers.add(payload["customer_id"])
        if "product_id" in payload:
            keys.products.add(payload["product_id"])
    return keys


# --- helpers ---------------------------------------------------------------------------------


def _order(work: WorkingSet, order_id: str) -> OrderState:
    order = work.orders.get(order_id)
    if order is None:
        raise LookupError(f"order {order_id} is not in the read model (no OrderPlaced before)")
    return order


def _touch(work: WorkingSet, order: OrderState, event: EventRecord) -> None:
    order.updated_at = event.recorded_at
    order.version = event.version
    order.last_position = event.position
    work.dirty_orders.add(order.order_id)


def _recount(work: WorkingSet, order: OrderState) -> None:
    lines = work.lines.get(order.order_id, {})
    order.line_count = len(lines)
    order.total_minor = sum(line.quantity * line.unit_price_minor for line in lines.values())


def _count_sale(work: WorkingSet, order: OrderState, sign: int) -> None:
    """Add (sign=1) or take back (sign=-1) an order's contribution to customer and products."""
    customer = work.customers.get(order.customer_id)
    if customer is not None:
        ltv = customer.lifetime_value
        ltv[order.currency] = ltv.get(order.currency, 0) + sign * order.total_minor
        work.dirty_customers.add(customer.customer_id)
    for line in work.lines.get(order.order_id, {}).values():
        product = work.products.get(line.product_id)
        if product is not None:
            product.units_sold += sign * line.quantity
            work.dirty_products.add(product.product_id)


# --- order events ----------------------------------------------------------------------------


def order_placed(work: WorkingSet, event: EventRecord, p: JsonObject) -> None:
    """A new order row; it shows the customer's current name."""
    customer = work.customers.get(p["customer_id"])
    work.orders[p["order_id"]] = OrderState(
        order_id=p["order_id"],
        order_number=p["order_number"],
        customer_id=p["customer_id"],
        customer_name=customer.name if customer is not None else p["customer_name"],
        status=PENDING,
        line_count=0,
        total_minor=0,
        currency=p["currency"],
        placed_at=event.recorded_at,
        updated_at=event.recorded_at,
        version=event.version,
        last_position=event.position,
    )
    work.lines.setdefault(p["order_id"], {})
    work.dirty_orders.add(p["order_id"])
    if customer is not None:
        customer.order_count += 1
        work.dirty_customers.add(customer.customer_id)


def order_line_added(work: WorkingSet, event: EventRecord, p: JsonObject) -> None:
    """A new line showing the product's current name."""
    order = _order(work, p["order_id"])
    product = work.products.get(p["product_id"])
    line = LineState(
        order_id=order.order_id,
        line_id=p["line_id"],
        product_id=p["product_id"],
        sku=p["sku"],
        product_name=product.name if product is not None else p["product_name"],
        quantity=p["quantity"],
        unit_price_minor=minor_units(p["unit_price"]),
        currency=p["unit_price"]["currency"],
        seq=event.position,
    )
    work.lines.setdefault(order.order_id, {})[line.line_id] = line
    key = (order.order_id, line.line_id)
    work.dirty_lines.add(key)
    work.removed_lines.discard(key)
    _recount(work, order)
    _touch(work, order, event)


def order_line_removed(work: WorkingSet, event: EventRecord, p: JsonObject) -> None:
    """The line disappears from the order."""
    order = _order(work, p["order_id"])
    work.lines.get(order.order_id, {}).pop(p["line_id"], None)
    key = (order.order_id, p["line_id"])
    work.dirty_lines.discard(key)
    work.removed_lines.add(key)
    _recount(work, order)
    _touch(work, order, event)


def order_line_quantity_changed(work: WorkingSet, event: EventRecord, p: JsonObject) -> None:
    """New quantity; the order total follows."""
    order = _order(work, p["order_id"])
    line = work.lines[order.order_id][p["line_id"]]
    line.quantity = p["quantity"]
    work.dirty_lines.add((order.order_id, line.line_id))
    _recount(work, order)
    _touch(work, order, event)


def order_confirmed(work: WorkingSet, event: EventRecord, p: JsonObject) -> None:
    """Confirmed: from now on the order counts as a sale."""
    order = _order(work, p["order_id"])
    if order.status not in COUNTED:
        _count_sale(work, order, 1)
    order.status = CONFIRMED
    _touch(work, order, event)


def order_shipped(work: WorkingSet, event: EventRecord, p: JsonObject) -> None:
    """Shipped, with tracking number and carrier."""
    order = _order(work, p["order_id"])
    order.status = SHIPPED
    order.tracking_number = p["tracking_number"]
    order.carrier = p["carrier"]
    _touch(work, order, event)


def order_delivered(work: WorkingSet, event: EventRecord, p: JsonObject) -> None:
    """Delivered."""
    order = _order(work, p["order_id"])
    order.status = DELIVERED
    _touch(work, order, event)


def order_cancelled(work: WorkingSet, event: EventRecord, p: JsonObject) -> None:
    """Cancelled: a counted order stops counting."""
    order = _order(work, p["order_id"])
    if order.status in COUNTED:
        _count_sale(work, order, -1)
    order.status = CANCELLED
    order.cancel_reason = p["reason"]
    _touch(work, order, event)


# --- catalog events --------------------------------------------------------------------------


def customer_registered(work: WorkingSet, event: EventRecord, p: JsonObject) -> None:
    """A new customer row."""
    work.customers[p["customer_id"]] = CustomerState(
        customer_id=p["customer_id"],
        name=p["name"],
        order_count=0,
        lifetime_value={},
        version=event.version,
    )
    work.dirty_customers.add(p["customer_id"])


def customer_renamed(work: WorkingSet, event: EventRecord, p: JsonObject) -> None:
    """New name on the customer and on every order that shows it."""
    customer_id, name = p["customer_id"], p["name"]
    customer = work.customers.get(customer_id)
    if customer is not None:
        customer.name = name
        customer.version = event.version
        work.dirty_customers.add(customer_id)
    work.customer_renames[customer_id] = name
    for order in work.orders.values():
        if order.customer_id == customer_id and order.customer_name != name:
            order.customer_name = name
            work.dirty_orders.add(order.order_id)


def product_added(work: WorkingSet, event: EventRecord, p: JsonObject) -> None:
    """A new product row."""
    work.products[p["product_id"]] = ProductState(
        product_id=p["product_id"],
        sku=p["sku"],
        name=p["name"],
        price_minor=minor_units(p["price"]),
        currency=p["price"]["currency"],
        discontinued=False,
        units_sold=0,
        version=event.version,
    )
    work.dirty_products.add(p["product_id"])


def _product(work: WorkingSet, event: EventRecord, product_id: str) -> ProductState | None:
    product = work.products.get(product_id)
    if product is not None:
        product.version = event.version
        work.dirty_products.add(product_id)
    return product


def product_renamed(work: WorkingSet, event: EventRecord, p: JsonObject) -> None:
    """New name on the product and on every order line that shows it."""
    product_id, name = p["product_id"], p["name"]
    product = _product(work, event, product_id)
    if product is not None:
        product.name = name
    work.product_renames[product_id] = name
    for order_id, lines in work.lines.items():
        for line in lines.values():
            if line.product_id == product_id and line.product_name != name:
                line.product_name = name
                work.dirty_lines.add((order_id, line.line_id))


def product_price_changed(work: WorkingSet, event: EventRecord, p: JsonObject) -> None:
    """New catalog price (order lines keep theirs)."""
    product = _product(work, event, p["product_id"])
    if product is not None:
        product.price_minor = minor_units(p["price"])
        product.currency = p["price"]["currency"]


def product_discontinued(work: WorkingSet, event: EventRecord, p: JsonObject) -> None:
    """No longer sold."""
    product = _product(work, event, p["product_id"])
    if product is not None:
        product.discontinued = True


PROJECTIONS: Mapping[str, Projection] = MappingProxyType(
    {
        "OrderPlaced": order_placed,
        "OrderLineAdded": order_line_added,
        "OrderLineRemoved": order_line_removed,
        "OrderLineQuantityChanged": order_line_quantity_changed,
        "OrderConfirmed": order_confirmed,
        "OrderShipped": order_shipped,
        "OrderDelivered": order_delivered,
        "OrderCancelled": order_cancelled,
        "CustomerRegistered": customer_registered,
        "CustomerRenamed": customer_renamed,
        "ProductAdded": product_added,
        "ProductRenamed": product_renamed,
        "ProductPriceChanged": product_price_changed,
        "ProductDiscontinued": product_discontinued,
    }
)
"""Event type name -> projection. Every known event type has one (an unknown type stops)."""


def project(
    work: WorkingSet,
    events: Iterable[EventRecord],
    projections: Mapping[str, Projection] = PROJECTIONS,
) -> None:
    """Apply events in order; raise :class:`ProjectionError` naming the first that fails."""
    for event in events:
        try:
            projection = projections.get(event.type_name)
            if projection is None:
                raise LookupError(f"no projection for event type {event.type_name!r}")
            projection(work, event, current_payload(event))
        except Exception as exc:
            raise ProjectionError(event, exc) from exc
