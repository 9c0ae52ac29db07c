"""Domain events (past tense). Type names are stable strings, never module paths.

Each event class carries `type_name` and `schema_version`. When a payload shape changes, bump the
version and add an upcaster in serialization.UPCASTERS from the old version to the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from desktop_app.domain.values import Money


@dataclass(frozen=True, kw_only=True, slots=True)
class DomainEvent:
    """Base of all events: an immutable fact, identified by a stable type name and version."""

    type_name: ClassVar[str] = ""
    schema_version: ClassVar[int] = 1


# --- Order ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderPlaced(DomainEvent):
    """An order was opened for a customer in a currency (its lines follow as OrderLineAdded).

    v2 added ``shipping_address``: the address the order ships to, taken from the customer (or
    typed by the clerk) at placement; "" when there was none. v1 orders are upcast to "" and so
    show their customer's current address, marked as such.
    """

    type_name: ClassVar[str] = "OrderPlaced"
    schema_version: ClassVar[int] = 2
    order_id: str
    order_number: str
    customer_id: str
    customer_name: str
    currency: str
    shipping_address: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderLineAdded(DomainEvent):
    """A line was added to a pending order, with the product details as they were then."""

    type_name: ClassVar[str] = "OrderLineAdded"
    schema_version: ClassVar[int] = 1
    order_id: str
    line_id: str
    product_id: str
    sku: str
    product_name: str
    quantity: int
    unit_price: Money


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderLineRemoved(DomainEvent):
    """A line was removed from a pending order."""

    type_name: ClassVar[str] = "OrderLineRemoved"
    schema_version: ClassVar[int] = 1
    order_id: str
    line_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderLineQuantityChanged(DomainEvent):
    """The quantity of a line of a pending order was changed."""

    type_name: ClassVar[str] = "OrderLineQuantityChanged"
    schema_version: ClassVar[int] = 1
    order_id: str
    line_id: str
    quantity: int


@dataclass(frozen=True, kw_only=True, slots=True)
class LineQuantity:
    """One quantity change inside ``OrderLinesChanged``."""

    line_id: str
    quantity: int


@dataclass(frozen=True, kw_only=True, slots=True)
class AddedLine:
    """One new line inside ``OrderLinesChanged``, with the product details as they were then
    (the fields of ``OrderLineAdded``)."""

    line_id: str
    product_id: str
    sku: str
    product_name: str
    quantity: int
    unit_price: Money


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderLinesChanged(DomainEvent):
    """Several lines of a pending order were changed in one edit: ``removed`` lines went,
    then ``quantities`` were changed, then ``added`` lines were added, in that order; each
    change obeys the rule of its one-line event (``OrderLineRemoved``,
    ``OrderLineQuantityChanged``, ``OrderLineAdded``) in the state the earlier ones left.
    One edit, one event, one version."""

    type_name: ClassVar[str] = "OrderLinesChanged"
    schema_version: ClassVar[int] = 1
    order_id: str
    removed: tuple[str, ...] = ()
    quantities: tuple[LineQuantity, ...] = ()
    added: tuple[AddedLine, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderConfirmed(DomainEvent):
    """A pending order was confirmed; its lines are now fixed."""

    type_name: ClassVar[str] = "OrderConfirmed"
    schema_version: ClassVar[int] = 1
    order_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderShipped(DomainEvent):
    """A confirmed order was shipped. v1 stored "tracking" and had no carrier."""

    type_name: ClassVar[str] = "OrderShipped"
    schema_version: ClassVar[int] = 2
    order_id: str
    tracking_number: str
    carrier: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderDelivered(DomainEvent):
    """A shipped order was delivered."""

    type_name: ClassVar[str] = "OrderDelivered"
    schema_version: ClassVar[int] = 1
    order_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderCancelled(DomainEvent):
    """An order was cancelled. v1 had no reason."""

    type_name: ClassVar[str] = "OrderCancelled"
    schema_version: ClassVar[int] = 2
    order_id: str
    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderShippingAddressChanged(DomainEvent):
    """The order's own shipping address was set or changed (allowed until it is shipped)."""

    type_name: ClassVar[str] = "OrderShippingAddressChanged"
    schema_version: ClassVar[int] = 1
    order_id: str
    address: str


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderNoteAdded(DomainEvent):
    """A note was added to the order (any status). Notes are never edited or removed; who
    wrote it and when are in the event's metadata, not the payload."""

    type_name: ClassVar[str] = "OrderNoteAdded"
    schema_version: ClassVar[int] = 1
    order_id: str
    note_id: str
    text: str


# --- Customer ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class CustomerRegistered(DomainEvent):
    """A customer was registered."""

    type_name: ClassVar[str] = "CustomerRegistered"
    schema_version: ClassVar[int] = 1
    customer_id: str
    name: str


@dataclass(frozen=True, kw_only=True, slots=True)
class CustomerRenamed(DomainEvent):
    """A customer's name was changed."""

    type_name: ClassVar[str] = "CustomerRenamed"
    schema_version: ClassVar[int] = 1
    customer_id: str
    name: str


@dataclass(frozen=True, kw_only=True, slots=True)
class CustomerAddressChanged(DomainEvent):
    """A customer's default shipping address was set or changed ("" clears it). New orders
    take it at placement; orders placed earlier keep theirs."""

    type_name: ClassVar[str] = "CustomerAddressChanged"
    schema_version: ClassVar[int] = 1
    customer_id: str
    address: str


# --- Product -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class ProductAdded(DomainEvent):
    """A product was added to the catalog."""

    type_name: ClassVar[str] = "ProductAdded"
    schema_version: ClassVar[int] = 1
    product_id: str
    sku: str
    name: str
    price: Money


@dataclass(frozen=True, kw_only=True, slots=True)
class ProductRenamed(DomainEvent):
    """A product's name was changed."""

    type_name: ClassVar[str] = "ProductRenamed"
    schema_version: ClassVar[int] = 1
    product_id: str
    name: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ProductPriceChanged(DomainEvent):
    """A product's catalog price was changed (existing order lines keep their price)."""

    type_name: ClassVar[str] = "ProductPriceChanged"
    schema_version: ClassVar[int] = 1
    product_id: str
    price: Money


@dataclass(frozen=True, kw_only=True, slots=True)
class ProductDiscontinued(DomainEvent):
    """A product was discontinued; it can no longer be added to orders."""

    type_name: ClassVar[str] = "ProductDiscontinued"
    schema_version: ClassVar[int] = 1
    product_id: str


# --- Auditors' notes (issue 11) -----------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class AuditNoteAdded(DomainEvent):
    """An auditor attached a note to an order (``target_version`` 0) or to one of its events
    (the event at ``target_version``). Kept in the order's own notes stream
    (``auditnotes-<order id>``), so the hash chain covers it and the order's state, version
    and list row never change. Never edited: a correction is a new note naming the one it
    corrects (``corrects``; "" for none). ``order_version`` is the order's version when the
    note was written (a note can only name an event that existed then). Who and when are in
    the event's metadata."""

    type_name: ClassVar[str] = "AuditNoteAdded"
    schema_version: ClassVar[int] = 1
    order_id: str
    note_id: str
    text: str
    target_version: int
    order_version: int
    corrects: str = ""


ORDER_EVENTS: tuple[type[DomainEvent], ...] = (
    OrderPlaced,
    OrderLineAdded,
    OrderLineRemoved,
    OrderLineQuantityChanged,
    OrderLinesChanged,
    OrderConfirmed,
    OrderShipped,
    OrderDelivered,
    OrderCancelled,
    OrderShippingAddressChanged,
    OrderNoteAdded,
)
CUSTOMER_EVENTS: tuple[type[DomainEvent], ...] = (
    CustomerRegistered,
    CustomerRenamed,
    CustomerAddressChanged,
)
PRODUCT_EVENTS: tuple[type[DomainEvent], ...] = (
    ProductAdded,
    ProductRenamed,
    ProductPriceChanged,
    ProductDiscontinued,
)
AUDIT_EVENTS: tuple[type[DomainEvent], ...] = (AuditNoteAdded,)
ALL_EVENTS: tuple[type[DomainEvent], ...] = (
    ORDER_EVENTS + CUSTOMER_EVENTS + PRODUCT_EVENTS + AUDIT_EVENTS
)
