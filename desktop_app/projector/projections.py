"""Pure projections: one function per event type that changes the rows of a batch in memory.

No I/O here. The runner loads the rows a batch touches into a :class:`WorkingSet`, calls
:func:`project` for each event in position order, and the store writes the changed rows back in
the same transaction as the checkpoint.

Semantics of the derived figures:

* ``order_count`` of a customer counts every order placed for them (cancelled ones too);
* ``lifetime_value`` (per currency) and a product's ``units_sold`` count orders once they are
  confirmed (confirmed, shipped or delivered) and stop counting them when they are cancelled;
* names are denormalised: an order shows its customer's *current* name and a line its
  product's current name (a rename updates every row that shows it); a customer's former
  names are kept so a search by an old name still finds the orders. The name an order was
  placed with stays in its history (the events).

Over 500 lines on purpose: one short pure function per event type, kept side by side.
"""

from __future__ import annotations

import functools
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
    """A stored money value ``{"amount": "4.50", "currency": "EUR"}`` in minor units.

    Prices repeat a lot: good results are cached per (amount, currency) text.
    """
    amount, currency = money["amount"], money["currency"]
    if type(amount) is str and type(currency) is str:
        return _cached_minor_units(amount, currency)
    return _minor_units(money)


@functools.lru_cache(maxsize=4096)
def _cached_minor_units(amount: str, currency: str) -> int:
    # A refusal raises and is not cached, so a bad amount is refused every time.
    return _minor_units({"amount": amount, "currency": currency})


def _minor_units(money: JsonObject) -> int:
    places = CURRENCY_PLACES[money["currency"]]
    value = Decimal(money["amount"]).scaleb(places)
    minor = int(value)
    if minor != value:
        raise ValueError(f"amount {money['amount']!r} has too many decimal places")
    return minor


_CURRENT_VERSIONS: Mapping[str, int] = MappingProxyType(
    {name: cls.schema_version for name, cls in EVENT_TYPES.items()}
)


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
        elif event.type_name == "OrderLinesChanged":
            keys.products.update(line["product_id"] for line in payload.get("added", ()))
    return keys


def placed_in(events: Iterable[EventRecord]) -> set[str]:
    """The orders a batch places: not in the read model before it, so there is nothing of
    them to load (a live batch of new orders then reads none of the orders' rows)."""
    return {e.payload["order_id"] for e in events if e.type_name == "OrderPlaced"}


# --- helpers ---------------------------------------------------------------------------------


def _no_order(order_id: str) -> LookupError:
    """The error for an event about an order the read model has never seen."""
    return LookupError(f"order {order_id} is not in the read model (no OrderPlaced before)")


def _order(work: WorkingSet, order_id: str) -> OrderState:
    order = work.orders.get(order_id)
    if order is None:
        raise _no_order(order_id)
    return order


def _touch(work: WorkingSet, order: OrderState, event: EventRecord) -> None:
    order.updated_at = event.recorded_at
    order.version = event.version
    order.last_position = event.position
    work.dirty_orders.add(order.order_id)


def _recount(work: WorkingSet, order: OrderState) -> None:
    lines = work.lines.get(order.order_id)
    total = 0
    if lines:
        for line in lines.values():
            total += line.quantity * line.unit_price_minor
        order.line_count = len(lines)
    else:
        order.line_count = 0
    order.total_minor = total


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
    # Positional (the fields' order): a keyword call costs more, a million times over.
    work.orders[p["order_id"]] = OrderState(
        p["order_id"],  # order_id
        p["order_number"],  # order_number
        p["customer_id"],  # customer_id
        customer.name if customer is not None else p["customer_name"],  # customer_name
        PENDING,  # status
        0,  # line_count
        0,  # total_minor
        p["currency"],  # currency
        event.recorded_at,  # placed_at
        event.recorded_at,  # updated_at
        event.version,  # version
        event.position,  # last_position
    )
    work.lines.setdefault(p["order_id"], {})
    work.dirty_orders.add(p["order_id"])
    index = work.orders_by_customer
    if index is not None:
        index.setdefault(p["customer_id"], []).append(p["order_id"])
    if customer is not None:
        customer.order_count += 1
        work.dirty_customers.add(customer.customer_id)


def order_line_added(work: WorkingSet, event: EventRecord, p: JsonObject) -> None:
    """A new line showing the product's current name."""
    order = _order(work, p["order_id"])
    product = work.products.get(p["product_id"])
    line = LineState(  # positional, in the fields' order
        order.order_id,  # order_id
        p["line_id"],  # line_id
        p["product_id"],  # product_id
        p["sku"],  # sku
        product.name if product is not None else p["product_name"],  # product_name
        p["quantity"],  # quantity
        minor_units(p["unit_price"]),  # unit_price_minor
        p["unit_price"]["currency"],  # currency
        event.position,  # seq
    )
    work.lines.setdefault(order.order_id, {})[line.line_id] = line
    key = (order.order_id, line.line_id)
    work.dirty_lines.add(key)
    work.removed_lines.discard(key)
    index = work.lines_by_product
    if index is not None:
        index.setdefault(line.product_id, []).append(key)
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


def order_lines_changed(work: WorkingSet, event: EventRecord, p: JsonObject) -> None:
    """One edit of several lines: exactly the one-line projections, in the edit's order
    (removals, quantity changes, additions)."""
    order_id = p["order_id"]
    for line_id in p["removed"]:
        order_line_removed(work, event, {"order_id": order_id, "line_id": line_id})
    for change in p["quantities"]:
        order_line_quantity_changed(work, event, {"order_id": order_id, **change})
    for added in p["added"]:
        order_line_added(work, event, {"order_id": order_id, **added})
    _touch(work, _order(work, order_id), event)  # an edit that changed no line still counts


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


def order_touched(work: WorkingSet, event: EventRecord, p: JsonObject) -> None:
    """An address change or a note: the list row only moves its version and last change (the
    detail panel reads address and notes from the order's own events)."""
    _touch(work, _order(work, p["order_id"]), event)


# --- catalog events --------------------------------------------------------------------------


def customer_registered(work: WorkingSet, event: EventRecord, p: JsonObject) -> None:
    """A new customer row."""
    work.customers[p["customer_id"]] = CustomerState(
        customer_id=p["customer_id"],
        name=p["name"],
        order_count=0,
        lifetime_value={},
        version=event.version,
        registered_at=event.recorded_at,
    )
    work.dirty_customers.add(p["customer_id"])


def customer_renamed(work: WorkingSet, event: EventRecord, p: JsonObject) -> None:
    """New name on the customer and on every order that shows it; the old name is kept as a
    former name, so searching for it still finds the customer's orders."""
    customer_id, name = p["customer_id"], p["name"]
    customer = work.customers.get(customer_id)
    if customer is not None:
        if customer.name != name:
            work.former_names.add((customer_id, customer.name))
        customer.name = name
        customer.version = event.version
        work.dirty_customers.add(customer_id)
    work.customer_renames[customer_id] = name
    index = work.orders_by_customer
    orders: Iterable[OrderState]
    if index is None:
        orders = work.orders.values()
    else:  # only the orders placed for this customer (same check on each)
        get = work.orders.get
        orders = [o for o in map(get, index.get(customer_id, ())) if o is not None]
    for order in orders:
        if order.customer_id == customer_id and order.customer_name != name:
            order.customer_name = name
            work.dirty_orders.add(order.order_id)


def customer_address_changed(work: WorkingSet, event: EventRecord, p: JsonObject) -> None:
    """The address is not in the read model (asked from the events): the version moves."""
    customer = work.customers.get(p["customer_id"])
    if customer is not None:
        customer.version = event.version
        work.dirty_customers.add(customer.customer_id)


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
    index = work.lines_by_product
    if index is not None:  # only the lines ever added with this product (same check on each)
        lines_of = work.lines.get
        dirty = work.dirty_lines
        for order_id, line_id in index.get(product_id, ()):
            lines = lines_of(order_id)
            if lines is None:  # (no empty dict made per line: a rename visits thousands)
                continue
            line = lines.get(line_id)
            if line is not None and line.product_id == product_id and line.product_name != name:
                line.product_name = name
                dirty.add((order_id, line_id))
        return
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


def audit_note_added(work: WorkingSet, event: EventRecord, p: JsonObject) -> None:
    """An auditor's note lives in its order's notes stream and is read from there: no row of
    the read model changes (not even the order's version or last change)."""


PROJECTIONS: Mapping[str, Projection] = MappingProxyType(
    {
        "OrderPlaced": order_placed,
        "OrderLineAdded": order_line_added,
        "OrderLineRemoved": order_line_removed,
        "OrderLineQuantityChanged": order_line_quantity_changed,
        "OrderLinesChanged": order_lines_changed,
        "OrderConfirmed": order_confirmed,
        "OrderShipped": order_shipped,
        "OrderDelivered": order_delivered,
        "OrderCancelled": order_cancelled,
        "OrderShippingAddressChanged": order_touched,
        "OrderNoteAdded": order_touched,
        "CustomerRegistered": customer_registered,
        "CustomerRenamed": customer_renamed,
        "CustomerAddressChanged": customer_address_changed,
        "ProductAdded": product_added,
        "ProductRenamed": product_renamed,
        "ProductPriceChanged": product_price_changed,
        "ProductDiscontinued": product_discontinued,
        "AuditNoteAdded": audit_note_added,
    }
)
"""Event type name -> projection. Every known event type has one (an unknown type stops)."""


def project(
    work: WorkingSet,
    events: Iterable[EventRecord],
    projections: Mapping[str, Projection] = PROJECTIONS,
) -> None:
    """Apply events in order; raise :class:`ProjectionError` naming the first that fails.

    The hot loop of a rebuild (a million calls): lookups are hoisted, and the payload is used
    as stored unless its schema version is older than its type's (then it is upcast, exactly
    as :func:`current_payload` does).
    """
    get = projections.get
    current = _CURRENT_VERSIONS.get
    for event in events:
        try:
            type_name = event.type_name
            projection = get(type_name)
            if projection is None:
                raise LookupError(f"no projection for event type {type_name!r}")
            payload = event.payload
            if current(type_name) != event.schema_version:
                payload = upcast(type_name, event.schema_version, payload)
            projection(work, event, payload)
        except Exception as exc:
            raise ProjectionError(event, exc) from exc


_V_PLACED = _CURRENT_VERSIONS["OrderPlaced"]
_V_LINE_ADDED = _CURRENT_VERSIONS["OrderLineAdded"]
_V_CONFIRMED = _CURRENT_VERSIONS["OrderConfirmed"]
_V_SHIPPED = _CURRENT_VERSIONS["OrderShipped"]
_V_DELIVERED = _CURRENT_VERSIONS["OrderDelivered"]


def project_rebuild(work: WorkingSet, events: Iterable[EventRecord]) -> None:
    """:func:`project` with the standard projections, specialised for a full rebuild.

    The rows end exactly as :func:`project` leaves them, but the dirty sets are not kept for
    the most frequent event types (a full rebuild writes every row, it never reads them): the
    hot order events are applied inline (no per-event function calls, lookups bound once),
    the others go through :data:`PROJECTIONS`. Raises :class:`ProjectionError` exactly where
    :func:`project` would. Needs the rename indexes (:meth:`WorkingSet.indexed`); without
    them it is :func:`project`.
    """
    by_customer = work.orders_by_customer
    by_product = work.lines_by_product
    if by_customer is None or by_product is None:
        project(work, events)
        return
    orders = work.orders
    order_of = orders.get
    all_lines = work.lines
    lines_of = all_lines.get
    customer_of = work.customers.get
    product_of = work.products.get
    orders_of_customer = by_customer.get
    lines_of_product = by_product.get
    cached_minor = _cached_minor_units
    projection_of = PROJECTIONS.get
    current = _CURRENT_VERSIONS.get
    new_order = OrderState
    new_line = LineState
    counted = COUNTED
    texts: dict[str, str] = {}  # one object per distinct currency code
    event: EventRecord | None = None
    try:
        for event in events:
            position, _, version, type_name, schema_version, p, recorded_at = event
            if type_name == "OrderLineAdded" and schema_version == _V_LINE_ADDED:
                order_id = p["order_id"]
                order = order_of(order_id)
                if order is None:
                    raise _no_order(order_id)
                order_id = order.order_id  # the row's own string objects, shared
                product_id = p["product_id"]
                product = product_of(product_id)
                price = p["unit_price"]
                amount, currency = price["amount"], price["currency"]
                if type(amount) is str and type(currency) is str:
                    price_minor = cached_minor(amount, currency)
                else:
                    price_minor = minor_units(price)
                sku = p["sku"]
                if product is None:
                    name = p["product_name"]
                else:
                    product_id, name = product.product_id, product.name
                    if type(sku) is str and sku == product.sku:
                        sku = product.sku
                line_id = p["line_id"]
                line = new_line(
                    order_id,
                    line_id,
                    product_id,
                    sku,
                    name,
                    p["quantity"],
                    price_minor,
                    texts.setdefault(currency, currency) if type(currency) is str else currency,
                    position,
                )
                lines = lines_of(order_id)
                if lines is None:
                    lines = all_lines[order_id] = {}
                lines[line_id] = line
                indexed = lines_of_product(product_id)
                if indexed is None:
                    by_product[product_id] = [(order_id, line_id)]
                else:
                    indexed.append((order_id, line_id))
                total = 0
                for each in lines.values():
                    total += each.quantity * each.unit_price_minor
                order.line_count = len(lines)
                order.total_minor = total
                order.updated_at = recorded_at
                order.version = version
                order.last_position = position
            elif type_name == "OrderPlaced" and (
                schema_version == _V_PLACED or schema_version == 1
            ):  # v1 lacks only shipping_address, which the list does not show
                customer_id = p["customer_id"]
                customer = customer_of(customer_id)
                if customer is None:
                    name = p["customer_name"]
                else:
                    customer_id, name = customer.customer_id, customer.name
                order_id = p["order_id"]
                currency = p["currency"]
                orders[order_id] = new_order(
                    order_id,
                    p["order_number"],
                    customer_id,
                    name,
                    PENDING,
                    0,
                    0,
                    texts.setdefault(currency, currency) if type(currency) is str else currency,
                    recorded_at,
                    recorded_at,
                    version,
                    position,
                )
                if order_id not in all_lines:
                    all_lines[order_id] = {}
                placed = orders_of_customer(customer_id)
                if placed is None:
                    by_customer[customer_id] = [order_id]
                else:
                    placed.append(order_id)
                if customer is not None:
                    customer.order_count += 1
            elif type_name == "OrderConfirmed" and schema_version == _V_CONFIRMED:
                order_id = p["order_id"]
                order = order_of(order_id)
                if order is None:
                    raise _no_order(order_id)
                if order.status not in counted:
                    customer = customer_of(order.customer_id)
                    if customer is not None:
                        ltv = customer.lifetime_value
                        currency = order.currency
                        ltv[currency] = ltv.get(currency, 0) + order.total_minor
                    lines = lines_of(order_id)
                    if lines:
                        for each in lines.values():
                            product = product_of(each.product_id)
                            if product is not None:
                                product.units_sold += each.quantity
                order.status = CONFIRMED
                order.updated_at = recorded_at
                order.version = version
                order.last_position = position
            elif type_name == "OrderShipped" and schema_version == _V_SHIPPED:
                order_id = p["order_id"]
                order = order_of(order_id)
                if order is None:
                    raise _no_order(order_id)
                order.status = SHIPPED
                order.tracking_number = p["tracking_number"]
                order.carrier = p["carrier"]
                order.updated_at = recorded_at
                order.version = version
                order.last_position = position
            elif type_name == "OrderDelivered" and schema_version == _V_DELIVERED:
                order_id = p["order_id"]
                order = order_of(order_id)
                if order is None:
                    raise _no_order(order_id)
                order.status = DELIVERED
                order.updated_at = recorded_at
                order.version = version
                order.last_position = position
            else:
                projection = projection_of(type_name)
                if projection is None:
                    raise LookupError(f"no projection for event type {type_name!r}")
                if current(type_name) != schema_version:
                    p = upcast(type_name, schema_version, p)
                projection(work, event, p)
    except Exception as exc:
        assert event is not None
        raise ProjectionError(event, exc) from exc
