"""One-line human summaries of events for the timeline and the CLI ("Added 3 × Blue Mug at
4.50 EUR"). Locale-aware formatting of amounts is the UI's job; this is the plain form."""

from __future__ import annotations

from functools import singledispatch

from desktop_app.domain import events as e


@singledispatch
def describe(event: e.DomainEvent) -> str:
    """A short sentence saying what happened."""
    return event.type_name


@describe.register
def _(event: e.OrderPlaced) -> str:
    placed = f"Placed order {event.order_number} for {event.customer_name} ({event.currency})"
    if event.shipping_address:
        placed += f", ship to {_one_line(event.shipping_address)}"
    return placed


@describe.register
def _(event: e.OrderLineAdded) -> str:
    return (
        f"Added {event.quantity} × {event.product_name} ({event.sku}) at "
        f"{event.unit_price.amount} {event.unit_price.currency}"
    )


@describe.register
def _(event: e.OrderLineRemoved) -> str:
    return f"Removed line {event.line_id[:8]}"


@describe.register
def _(event: e.OrderLineQuantityChanged) -> str:
    return f"Changed quantity of line {event.line_id[:8]} to {event.quantity}"


@describe.register
def _(event: e.OrderLinesChanged) -> str:
    parts = [f"removed line {line_id[:8]}" for line_id in event.removed]
    parts += [
        f"quantity of line {change.line_id[:8]} to {change.quantity}" for change in event.quantities
    ]
    parts += [
        f"added {a.quantity} × {a.product_name} ({a.sku}) at "
        f"{a.unit_price.amount} {a.unit_price.currency}"
        for a in event.added
    ]
    return "Edited the lines: " + "; ".join(parts) if parts else "Edited the lines"


@describe.register
def _(event: e.OrderConfirmed) -> str:
    return "Confirmed the order"


@describe.register
def _(event: e.OrderShipped) -> str:
    carrier = f" with {event.carrier}" if event.carrier else ""
    return f"Shipped{carrier}, tracking number {event.tracking_number}"


@describe.register
def _(event: e.OrderDelivered) -> str:
    return "Delivered"


@describe.register
def _(event: e.OrderCancelled) -> str:
    return f"Cancelled: {event.reason}"


def _one_line(text: str, limit: int = 60) -> str:
    """A multi-line text on one line ("Main St 1 · 1010 Vienna"), cut at ``limit``."""
    flat = " · ".join(part.strip() for part in text.splitlines() if part.strip())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@describe.register
def _(event: e.OrderShippingAddressChanged) -> str:
    return f"Changed the shipping address to {_one_line(event.address)}"


@describe.register
def _(event: e.OrderNoteAdded) -> str:
    return f"Added a note: “{_one_line(event.text)}”"


@describe.register
def _(event: e.CustomerAddressChanged) -> str:
    if not event.address:
        return "Cleared the customer's address"
    return f"Changed the customer's address to {_one_line(event.address)}"


@describe.register
def _(event: e.CustomerRegistered) -> str:
    return f"Registered customer {event.name}"


@describe.register
def _(event: e.CustomerRenamed) -> str:
    return f"Renamed customer to {event.name}"


@describe.register
def _(event: e.ProductAdded) -> str:
    return f"Added product {event.sku} {event.name} at {event.price.amount} {event.price.currency}"


@describe.register
def _(event: e.ProductRenamed) -> str:
    return f"Renamed product to {event.name}"


@describe.register
def _(event: e.ProductPriceChanged) -> str:
    return f"Changed price to {event.price.amount} {event.price.currency}"


@describe.register
def _(event: e.ProductDiscontinued) -> str:
    return "Discontinued the product"


@describe.register
def _(event: e.AuditNoteAdded) -> str:
    where = f"event v{event.target_version}" if event.target_version else "the order"
    fix = f" (corrects note {event.corrects})" if event.corrects else ""
    return f"Auditor's note on {where}{fix}: {_one_line(event.text)}"
