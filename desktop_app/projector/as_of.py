"""The desk as of a past moment: the list rows made by the projections themselves.

The live list is what the projections made of the log; the list at a past position is made
by the same projections over the events a store hands over (``application.as_of``): the
catalog's up to the position and the changed orders' up to it. Rows the read model still
holds unchanged keep everything but their customer's name, which is taken as it was then.
"""

from __future__ import annotations

from desktop_app.application.as_of import DeskParts
from desktop_app.application.ports import OrderRow, WorkingSet
from desktop_app.projector.projections import project_rebuild


def fold_desk(parts: DeskParts) -> list[OrderRow]:
    """The order list at ``parts.position`` (unsorted)."""
    work = WorkingSet.indexed()
    project_rebuild(work, parts.replay)
    customers = work.customers
    renamed = work.customer_renames  # renames of customers never registered (old files)
    rows = [
        OrderRow(
            o.order_id,
            o.order_number,
            o.customer_id,
            o.customer_name,
            o.status,
            o.line_count,
            o.total_minor,
            o.currency,
            o.placed_at,
            o.updated_at,
            o.version,
            o.last_position,
        )
        for o in work.orders.values()
    ]
    for row in parts.listed:
        customer = customers.get(row.customer_id)
        name = customer.name if customer is not None else renamed.get(row.customer_id)
        if name is not None and name != row.customer_name:
            row = row._replace(customer_name=name)
        rows.append(row)
    return rows
