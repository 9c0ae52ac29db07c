"""Query handlers over the read model (lists, searches, one order) and the projector's state.

Validation happens here, before the store sees a request: the sort must be one of
``ORDER_SORT_COLUMNS`` (an allow-list), paging numbers must be sane. Search text is passed on
as a value and matched literally (``%``, ``_`` and ``\\`` are ordinary characters).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.application.ports import (
    CustomerState,
    InvalidCursorError,
    ListOrdersSpec,
    OrderListQueries,
    ProductState,
    Progress,
    StoreError,
)
from desktop_app.domain.catalog import similar_names
from desktop_app.domain.errors import DomainError

MAX_PAGE = 10_000
MAX_OFFSET = 1_000_000_000
"""Rows a list may skip at most: far beyond any desk, far inside SQLite's 64-bit integers
(an offset beyond those raised a raw ``OverflowError`` from the driver)."""


class InvalidQueryError(DomainError):
    """A list request that cannot be answered as asked (unknown sort, bad paging…)."""


class ProjectorControl(Protocol):
    """What the query side needs from the projector."""

    def status(self) -> q.ProjectorStatus: ...

    def wait_until(self, position: int, timeout: float) -> bool: ...

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> int: ...


@dataclass(frozen=True, kw_only=True, slots=True)
class ReadDeps:
    """What the read handlers need; built once by the bootstrap."""

    orders: OrderListQueries
    projector: ProjectorControl


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def customer_row(customer: CustomerState) -> q.CustomerRow:
    """A stored customer as the frozen query result."""
    return q.CustomerRow(
        customer_id=customer.customer_id,
        name=customer.name,
        order_count=customer.order_count,
        lifetime_value=tuple(sorted(customer.lifetime_value.items())),
        version=customer.version,
        registered_at=_time(customer.registered_at) if customer.registered_at else None,
    )


def product_row(product: ProductState) -> q.ProductRow:
    """A stored product as the frozen query result."""
    return q.ProductRow(
        product_id=product.product_id,
        sku=product.sku,
        name=product.name,
        price_minor=product.price_minor,
        currency=product.currency,
        discontinued=product.discontinued,
        units_sold=product.units_sold,
        version=product.version,
    )


def _utc_bound(value: datetime | None, field: str) -> str | None:
    """A range bound as the read model stores times (UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, so
    text order is time order); a naive time is refused (whose midnight would it be?)."""
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidQueryError("A date range bound must be a time with a time zone.", field)
    try:
        utc = value.astimezone(UTC).replace(tzinfo=None)
    except OverflowError as exc:
        raise InvalidQueryError("That date is out of range.", field) from exc
    return utc.isoformat(timespec="microseconds") + "Z"


def _check_limit(limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidQueryError(
            f"A page holds a whole number of rows from 1 to {MAX_PAGE:,}.", field="limit"
        )


def _check_offset(offset: int) -> None:
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise InvalidQueryError(
            f"The page offset must be a whole number from 0 to {MAX_OFFSET:,}.", field="offset"
        )


def _check_search(search: str | None) -> None:
    if search is not None and not isinstance(search, str):
        raise InvalidQueryError("Search text must be text.", field="search")


def list_orders(deps: ReadDeps, query: q.ListOrders) -> q.Page[q.OrderRow]:
    """Filter, search, sort and page the order list (rows as the read model made them)."""
    if query.sort not in q.ORDER_SORT_COLUMNS:
        allowed = ", ".join(q.ORDER_SORT_COLUMNS)
        raise InvalidQueryError(
            f"The order list cannot be sorted by {query.sort!r}; use one of {allowed}.",
            field="sort",
        )
    _check_limit(query.limit)
    _check_search(query.search)
    _check_offset(query.offset)
    if query.date_column not in q.ORDER_DATE_COLUMNS:
        raise InvalidQueryError(
            f"The order list cannot be filtered by {query.date_column!r}; use placed_at or "
            "updated_at.",
            field="date_column",
        )
    date_from = _utc_bound(query.date_from, "date_from")
    date_to = _utc_bound(query.date_to, "date_to")
    if date_from is not None and date_to is not None and date_from >= date_to:
        raise InvalidQueryError("The end of the date range must be after its start.", "date_to")
    spec = ListOrdersSpec(
        statuses=query.statuses,
        customer_id=query.customer_id,
        search=query.search,
        sort=query.sort,
        descending=bool(query.descending),
        offset=query.offset,
        limit=query.limit,
        after=query.after,
        with_total=query.with_total,
        date_column=query.date_column,
        date_from=date_from,
        date_to=date_to,
    )
    try:
        records, total, next_after = deps.orders.list_orders(spec)
    except InvalidCursorError as exc:
        raise InvalidQueryError(str(exc), field="after") from exc
    return q.Page(rows=tuple(records), total=total, offset=query.offset, next_after=next_after)


def get_order(deps: ReadDeps, query: q.GetOrder) -> q.OrderDetail | None:
    """One order's header and lines (None when the read model does not have it yet)."""
    return deps.orders.get_order(query.order_id)


def find_order_by_number(deps: ReadDeps, query: q.FindOrderByNumber) -> q.OrderRow | None:
    """Look an order up by its human number."""
    return deps.orders.find_order_by_number(query.order_number.strip())


def list_customers(deps: ReadDeps, query: q.ListCustomers) -> list[q.CustomerRow]:
    """Customers by name; ``search`` is a literal, case-insensitive substring."""
    _check_limit(query.limit)
    _check_search(query.search)
    return [customer_row(c) for c in deps.orders.list_customers(query.search, query.limit)]


def find_similar_customers(deps: ReadDeps, query: q.FindSimilarCustomers) -> list[q.CustomerRow]:
    """Look-alike customers (see ``domain.catalog.similar_names``), closest first."""
    if not isinstance(query.name, str):
        raise InvalidQueryError("The name must be text.", field="name")
    if isinstance(query.limit, bool) or not isinstance(query.limit, int) or query.limit < 1:
        raise InvalidQueryError("Ask for at least one customer.", field="limit")
    exclude = query.exclude_customer_id
    candidates = [(name, cid) for cid, name in deps.orders.customer_names() if cid != exclude]
    found = similar_names(query.name, candidates)[: query.limit]
    rows = deps.orders.get_customers([cid for _name, cid in found])
    return [customer_row(c) for c in rows]


def list_products(deps: ReadDeps, query: q.ListProducts) -> list[q.ProductRow]:
    """Products by SKU; ``search`` is a literal, case-insensitive substring of SKU or name."""
    _check_limit(query.limit)
    _check_search(query.search)
    rows = deps.orders.list_products(query.search, query.include_discontinued, query.limit)
    return [product_row(p) for p in rows]


def get_projector_status(deps: ReadDeps, query: q.GetProjectorStatus) -> q.ProjectorStatus:
    """The projector's latest status."""
    return deps.projector.status()


def wait_for_position(deps: ReadDeps, query: q.WaitForPosition) -> bool:
    """Read-your-writes: block until the read model reached ``position`` (False on timeout)."""
    return deps.projector.wait_until(query.position, query.timeout_seconds)


def rebuild_read_models(deps: ReadDeps, command: c.RebuildReadModels) -> int:
    """Drop and rebuild the read models (a maintenance command); returns the events applied.
    Raises ``StoreError`` (nothing done) while another process projects into them (R33)."""
    progress: Progress | None = command.progress
    applied = deps.projector.rebuild(progress)
    status = deps.projector.status()
    if status.owner is not None and status.last_error:
        raise StoreError(status.last_error)
    return applied


READ_HANDLERS: dict[type[q.Query[Any]], Callable[[ReadDeps, Any], Any]] = {
    q.ListOrders: list_orders,
    q.GetOrder: get_order,
    q.FindOrderByNumber: find_order_by_number,
    q.ListCustomers: list_customers,
    q.ListProducts: list_products,
    q.FindSimilarCustomers: find_similar_customers,
    q.GetProjectorStatus: get_projector_status,
    q.WaitForPosition: wait_for_position,
}
"""Query type -> handler (``composition.compose`` binds them to their ``ReadDeps``)."""
