"""What the detail panel and the order forms show of one order, and how it is loaded.

``load_order_view`` runs on a worker thread. It prefers the read model (``GetOrder``) and falls
back to the event store (``GetOrderAtVersion``) whenever the read model has not caught up with
the version the domain reports, so a clerk always acts on the version they see.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from desktop_app.application.buses import QuerySender
from desktop_app.application.queries import (
    GetOrder,
    GetOrderActions,
    GetOrderAtVersion,
    GetOrderHistory,
    GetOrderShipping,
    OrderActions,
    OrderDetail,
    OrderNoteEntry,
    OrderShipping,
)
from desktop_app.ui.orders.form_base import minor_to_amount
from desktop_app.ui.orders.form_lines import LineDraft


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderView:
    """One order as the clerk sees it, with the actions the domain allows now."""

    order_id: str
    order_number: str
    customer_id: str
    customer_name: str
    status: str
    version: int
    currency: str
    lines: tuple[LineDraft, ...]
    total: Decimal
    actions: OrderActions
    placed_at: datetime | None = None
    updated_at: datetime | None = None
    tracking_number: str | None = None
    carrier: str | None = None
    cancel_reason: str | None = None
    address: str = ""
    address_source: str = "none"  # "order", "customer" (its current one) or "none"
    notes: tuple[OrderNoteEntry, ...] = ()


def _with_shipping(view: OrderView, shipping: OrderShipping) -> OrderView:
    return replace(
        view,
        address=shipping.address,
        address_source=shipping.address_source,
        notes=shipping.notes,
    )


def _from_detail(detail: OrderDetail, actions: OrderActions) -> OrderView:
    order = detail.order
    lines = tuple(
        LineDraft(
            line_id=line.line_id,
            product_id=line.product_id,
            sku=line.sku,
            name=line.product_name,
            quantity=line.quantity,
            unit_price=minor_to_amount(line.unit_price_minor, line.currency),
            currency=line.currency,
            saved=True,
        )
        for line in detail.lines
    )
    return OrderView(
        order_id=order.order_id,
        order_number=order.order_number,
        customer_id=order.customer_id,
        customer_name=order.customer_name,
        status=order.status,
        version=order.version,
        currency=order.currency,
        lines=lines,
        total=minor_to_amount(order.total_minor, order.currency),
        actions=actions,
        placed_at=order.placed_at,
        updated_at=order.updated_at,
        tracking_number=detail.tracking_number,
        carrier=detail.carrier,
        cancel_reason=detail.cancel_reason,
    )


def _recorded_at(queries: QuerySender, order_id: str, version: int) -> datetime | None:
    entries = queries.ask(
        GetOrderHistory(order_id=order_id, from_version=version, to_version=version)
    )
    return entries[0].recorded_at if entries else None


def _from_state(queries: QuerySender, order_id: str, actions: OrderActions) -> OrderView:
    snapshot = queries.ask(GetOrderAtVersion(order_id=order_id, version=None))
    state = snapshot.state
    currency = str(state["currency"])
    lines = tuple(
        LineDraft(
            line_id=str(line["line_id"]),
            product_id=str(line["product_id"]),
            sku=str(line["sku"]),
            name=str(line["product_name"]),
            quantity=int(line["quantity"]),
            unit_price=Decimal(str(line["unit_price"])),
            currency=currency,
            saved=True,
        )
        for line in state["lines"]
    )
    customer = state["customer"]
    return OrderView(
        order_id=order_id,
        order_number=str(state["order_number"]),
        customer_id=str(customer["customer_id"]),
        customer_name=str(customer["name"]),
        status=str(state["status"]),
        version=snapshot.version,
        currency=currency,
        lines=lines,
        total=Decimal(str(state["total"])),
        actions=actions,
        placed_at=_recorded_at(queries, order_id, 1),
        updated_at=_recorded_at(queries, order_id, snapshot.version),
        tracking_number=state.get("tracking_number"),
        carrier=state.get("carrier"),
        cancel_reason=state.get("cancel_reason"),
    )


def load_order_view(queries: QuerySender, order_id: str) -> OrderView:
    """Worker thread: the order's current view (read model when it is current)."""
    actions = queries.ask(GetOrderActions(order_id=order_id))
    view: OrderView | None = None
    if queries.handles(GetOrder):
        detail = queries.ask(GetOrder(order_id=order_id))
        if detail is not None and detail.order.version == actions.version:
            view = _from_detail(detail, actions)
    if view is None:
        view = _from_state(queries, order_id, actions)
        if view.version != actions.version:  # written in between: ask again, once
            actions = queries.ask(GetOrderActions(order_id=order_id))
            view = _from_state(queries, order_id, actions)
    # Address and notes come from the order's events (the list's read model has neither).
    return _with_shipping(view, queries.ask(GetOrderShipping(order_id=order_id)))
