"""Queries on the rejection log (issue 11): refused commands of one order, or of a window.

Answered from the ``RejectionLog`` port, never from the event streams: a rejection changed
nothing, so it is in no stream, version or read-model row.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from desktop_app.application import queries as q
from desktop_app.application.buses import QueryHandler
from desktop_app.application.ports import RecordedRejection, RejectionLog


def list_order_rejections(
    log: RejectionLog, query: q.ListOrderRejections
) -> list[RecordedRejection]:
    """The refused commands aimed at one order, oldest first."""
    return log.for_stream(f"order-{query.order_id}", after_id=query.after_id, limit=query.limit)


def list_rejections(log: RejectionLog, query: q.ListRejections) -> list[RecordedRejection]:
    """The refused commands in a time window (and of one user), oldest first."""
    return log.in_window(
        since=query.since,
        until=query.until,
        user=query.user,
        after_id=query.after_id,
        limit=query.limit,
    )


def rejection_query_handlers(log: RejectionLog) -> dict[type[q.Query[Any]], QueryHandler]:
    """The rejection queries bound to one log."""
    return {
        q.ListOrderRejections: partial(list_order_rejections, log),
        q.ListRejections: partial(list_rejections, log),
    }


__all__ = ["list_order_rejections", "list_rejections", "rejection_query_handlers"]
