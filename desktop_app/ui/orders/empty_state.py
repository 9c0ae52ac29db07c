"""What the order list says when it has nothing to show: how to start on an empty desk, how
to get the orders back when a filter hides them. Links name the step; the window runs it."""

from __future__ import annotations

NEW_ORDER = "new-order"
CUSTOMERS = "customers"
PRODUCTS = "products"
SAMPLE_DATA = "sample-data"
CLEAR_FILTERS = "clear-filters"


def empty_desk_text(*, sample_data: bool, read_only: bool) -> str:
    """Rich text for a desk without orders. ``sample_data``: the window can load sample
    data itself; else the command that does it is named."""
    if read_only:
        return (
            "<b>There are no orders in this database.</b> It is open read-only, so none can "
            "be placed here."
        )
    sample = (
        f'<a href="{SAMPLE_DATA}">Load sample data</a> to try Order Desk out with realistic '
        "customers, products and orders."
        if sample_data
        else "To try Order Desk out with sample data, close it and run "
        "<code>desktop-app-admin demo</code> on this database."
    )
    return (
        "<b>There are no orders yet.</b> To start: "
        f'register your <a href="{CUSTOMERS}">customers</a> (Ctrl+Shift+U) and '
        f'<a href="{PRODUCTS}">products</a> (Ctrl+Shift+P), then place the first order with '
        f'<a href="{NEW_ORDER}">New order</a> (Ctrl+N).<br>{sample}'
    )


def filtered_text() -> str:
    """Rich text for a filter that hides every order."""
    return f'No orders match the filter. <a href="{CLEAR_FILTERS}">Clear the filters</a>'
