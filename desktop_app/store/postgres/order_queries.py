"""The order list and detail queries on the server's read model (implements
``OrderListQueries``), answering exactly as the SQLite queries do (the contract suite runs
both): the same allow-listed sorts with the order id as tie-break, code-point text order (the
columns are ``COLLATE "C"``, as SQLite's BINARY), the same keyset cursors, and the same
search: a literal substring of the folded order number, customer name (current or former)
or a line's SKU. FTS5 is SQLite's; here the search is ``LIKE '%needle%'`` over the folded
columns (escaped: no pattern text is ever a wildcard), which the trigram GIN indexes made by
``init`` serve when the ``pg_trgm`` extension is there, and a scan finds the same rows
without it. Totals without a search or a date come from ``rm_order_counts``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import psycopg

from desktop_app.application.ports import (
    CustomerState,
    ListOrdersSpec,
    OrderDetail,
    OrderLineRow,
    OrderRow,
    ProductState,
)
from desktop_app.store.list_rules import decode_cursor, encode_cursor, fold
from desktop_app.store.postgres.database import PostgresDatabase
from desktop_app.store.read_model_sql import customer_state, product_state

_ORDER_COLS = (
    "o.order_id, o.order_number, o.customer_id, o.customer_name, o.status, o.line_count, "
    "o.total_minor, o.currency, o.placed_at, o.updated_at, o.version, o.last_position, "
    "o.tracking_number, o.carrier, o.cancel_reason"
)
_GET_ORDER = f"SELECT {_ORDER_COLS} FROM rm_orders AS o WHERE o.order_id = %s"  # noqa: S608
_GET_LINES = """SELECT order_id, line_id, product_id, sku, product_name, quantity,
    unit_price_minor, quantity * unit_price_minor, currency
    FROM rm_order_lines WHERE order_id = %s ORDER BY seq, line_id"""
_FIND_BY_NUMBER = (
    f"SELECT {_ORDER_COLS} FROM rm_orders AS o "  # noqa: S608
    "WHERE o.order_number = %s ORDER BY o.order_id LIMIT 1"
)
_KNOWN_STATUSES = "SELECT DISTINCT status FROM rm_order_counts WHERE n > 0"
_BEGIN_SNAPSHOT = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"
_CUSTOMER_COLS = "customer_id, name, order_count, lifetime_value, version, registered_at"
_CUSTOMERS_ALL = (
    f"SELECT {_CUSTOMER_COLS} FROM rm_customers "  # noqa: S608
    "ORDER BY name_fold, customer_id LIMIT %s"
)
_CUSTOMERS_SEARCH = (
    f"SELECT {_CUSTOMER_COLS} FROM rm_customers "  # noqa: S608
    "WHERE strpos(name_fold, %(n)s) > 0 OR customer_id IN "
    "(SELECT customer_id FROM rm_customer_names WHERE strpos(name_fold, %(n)s) > 0) "
    "ORDER BY name_fold, customer_id LIMIT %(limit)s"
)
_CUSTOMERS_IN = f"SELECT {_CUSTOMER_COLS} FROM rm_customers WHERE customer_id = ANY(%s)"  # noqa: S608
_CUSTOMER_NAMES = "SELECT customer_id, name FROM rm_customers"
_PRODUCTS = """SELECT product_id, sku, name, price_minor, currency, discontinued, units_sold,
    version FROM rm_products
    WHERE (%(n)s = '' OR strpos(sku_fold, %(n)s) > 0 OR strpos(name_fold, %(n)s) > 0)
    AND (%(all)s OR discontinued = 0) ORDER BY sku, product_id LIMIT %(limit)s"""

# The allow-list: sort name -> constant SQL expression. Nothing else ever reaches ORDER BY.
SORT_SQL = {
    "order_number": "o.order_number",
    "customer_name": "o.customer_fold",
    "status": "o.status",
    "line_count": "o.line_count",
    "total": "o.total_minor",
    "placed_at": "o.placed_at",
    "updated_at": "o.updated_at",
    "version": "o.version",
}
DATE_SQL = {"placed_at": "o.placed_at", "updated_at": "o.updated_at"}
"""The allow-list of time columns a date range may bound."""
_TEXT_SORTS = frozenset(("order_number", "customer_name", "status", "placed_at", "updated_at"))

# A union of candidate sets, each one index lookup (trigram GIN) where the extension is
# there: an OR across the columns and the lines' EXISTS would scan every order instead.
_SEARCH = (
    "o.order_id IN (SELECT order_id FROM rm_orders WHERE number_fold LIKE %s "
    "UNION SELECT order_id FROM rm_orders WHERE customer_fold LIKE %s "
    "UNION SELECT order_id FROM rm_order_lines WHERE sku_fold LIKE %s "
    "UNION SELECT order_id FROM rm_orders WHERE customer_id IN "
    "(SELECT customer_id FROM rm_customer_names WHERE name_fold LIKE %s))"
)


def like_pattern(needle: str) -> str:
    """``%needle%`` with LIKE's own characters escaped (backslash is the escape)."""
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return "%" + escaped + "%"


class _Explaining:
    """A connection stand-in that records each statement's plan, then runs it."""

    def __init__(self, con: psycopg.Connection[Any], plans: list[str]) -> None:
        self._con = con
        self._plans = plans

    def execute(self, sql: str, params: Any = ()) -> Any:
        explain = "EXPLAIN " + sql
        self._plans.extend(str(row[0]) for row in self._con.execute(explain, params))
        return self._con.execute(sql, params)


def _order_record(row: Any) -> OrderRow:
    return OrderRow._make(row[:12])


class PostgresOrderListQueries:
    """The list and detail queries of the read model on a server."""

    def __init__(self, database: PostgresDatabase) -> None:
        self._db = database

    @contextmanager
    def _snapshot(self, several: bool) -> Iterator[psycopg.Connection[Any]]:
        """A connection whose statements all see ONE snapshot of the read model when
        ``several`` (a page and its total, an order and its lines: a projector batch that
        commits between them is seen by both or neither); else autocommit."""
        with self._db.raw() as con:
            if not several:
                yield con
                return
            con.execute(_BEGIN_SNAPSHOT)
            try:
                yield con
            finally:
                with suppress(psycopg.Error):
                    con.execute("COMMIT")

    def _fetch(self, sql: str, params: Any) -> list[Any]:
        with self._db.raw() as con:  # autocommit: one statement, one round trip
            rows: list[Any] = con.execute(sql, params).fetchall()
        return rows

    def list_orders(self, query: ListOrdersSpec) -> tuple[list[OrderRow], int | None, str | None]:
        return self._list_orders(query, None)

    def explain_list_orders(self, query: ListOrdersSpec) -> list[str]:
        """The plan (``EXPLAIN`` lines) of every statement ``list_orders`` runs for
        ``query``: tests use it to prove a list is served by index ranges."""
        plans: list[str] = []
        self._list_orders(query, plans)
        return plans

    def _list_orders(
        self, query: ListOrdersSpec, plans: list[str] | None
    ) -> tuple[list[OrderRow], int | None, str | None]:
        sort_sql = SORT_SQL[query.sort]  # KeyError here means the handler skipped validation
        date_sql = DATE_SQL[query.date_column]
        after = None
        if query.after is not None:
            after = decode_cursor(query.after, query.sort, query.descending)
        where: list[str] = []  # every condition but the statuses (and the page's cursor)
        params: list[object] = []
        if query.customer_id is not None:
            where.append("o.customer_id = %s")
            params.append(query.customer_id)
        if query.date_from is not None:
            where.append(date_sql + " >= %s")
            params.append(query.date_from)
        if query.date_to is not None:
            where.append(date_sql + " < %s")
            params.append(query.date_to)
        if query.search:
            needle = fold(query.search)
            if "\x00" in needle:  # no stored text holds NUL (the server refuses it)
                where.append("false")
            else:
                where.append(_SEARCH)
                params.extend([like_pattern(needle)] * 4)
        page_where, page_params = list(where), list(params)
        if after is not None:
            value, order_id = after
            cmp = " < " if query.descending else " > "
            value_is_text = isinstance(value, str)
            if value_is_text != (query.sort in _TEXT_SORTS):
                # As SQLite compares: every number sorts before every text, so a cursor
                # value of the other kind lies before or after every row of this column.
                if value_is_text != query.descending:
                    page_where.append("false")
            else:
                page_where.append("(" + sort_sql + ", o.order_id)" + cmp + "(%s, %s)")
                page_params.extend((value, order_id))
        direction = " DESC" if query.descending else " ASC"
        order_by = " ORDER BY k" + direction + ", id" + direction
        with self._snapshot(True) as raw:
            con: Any = raw if plans is None else _Explaining(raw, plans)
            if query.customer_id is None and not query.search:
                # One index range per status (the status-first index of the sort), merged:
                # never a sort of the whole table (1M orders), as on SQLite.
                known = [str(r[0]) for r in con.execute(_KNOWN_STATUSES)]
                wanted = sorted(
                    known if query.statuses is None else set(known) & set(query.statuses)
                )
                arm = " ".join(
                    (
                        "(SELECT",
                        sort_sql,
                        "AS k, o.order_id AS id FROM rm_orders AS o WHERE o.status = %s",
                        "".join(" AND " + c for c in page_where),
                        order_by,
                        "LIMIT %s)",
                    )
                )
                arm_params = [*page_params, query.limit + 1 + query.offset]
                sql = " ".join(
                    (
                        "SELECT",
                        _ORDER_COLS + ", p.k FROM (SELECT k, id FROM (",  # noqa: S608
                        " UNION ALL ".join([arm] * len(wanted)),
                        ") AS u",
                        order_by,
                        "LIMIT %s OFFSET %s) AS p JOIN rm_orders AS o ON o.order_id = p.id",
                        "ORDER BY p.k" + direction + ", p.id" + direction,
                    )
                )
                args: list[object] = []
                for status in wanted:
                    args.extend((status, *arm_params))
                args.extend((query.limit + 1, query.offset))
                rows: list[Any] = con.execute(sql, args).fetchall() if wanted else []
                statuses: list[str] | None = wanted
            else:
                statuses = sorted(query.statuses) if query.statuses is not None else None
                status_cond = ["o.status = ANY(%s)"] if statuses is not None else []
                status_args: list[object] = [statuses] if statuses is not None else []
                conds = [*status_cond, *page_where]
                sql = " ".join(
                    (
                        "SELECT",
                        _ORDER_COLS + ",",
                        sort_sql,
                        "AS k, o.order_id AS id FROM rm_orders AS o",
                        ("WHERE " + " AND ".join(conds)) if conds else "",
                        order_by,
                        "LIMIT %s OFFSET %s",
                    )
                )
                args = [*status_args, *page_params, query.limit + 1, query.offset]
                rows = con.execute(sql, args).fetchall()
                rows = [row[:-1] for row in rows]  # the id column; the key stays last
            total: int | None = None
            if query.with_total:
                total = self._total(con, query, statuses, where, params)
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        next_after = None
        if more and rows:
            last = rows[-1]
            next_after = encode_cursor(query.sort, query.descending, last[-1], str(last[0]))
        return [_order_record(r) for r in rows], total, next_after

    @staticmethod
    def _total(
        con: Any,
        query: ListOrdersSpec,
        statuses: list[str] | None,
        where: list[str],
        params: list[object],
    ) -> int:
        status_cond = ["o.status = ANY(%s)"] if statuses is not None else []
        status_args: list[object] = [statuses] if statuses is not None else []
        if query.search or query.date_from is not None or query.date_to is not None:
            conds = [*status_cond, *where]
            sql = "SELECT count(*) FROM rm_orders AS o" + (  # noqa: S608 (allow-listed parts)
                (" WHERE " + " AND ".join(conds)) if conds else ""
            )
            return int(con.execute(sql, [*status_args, *params]).fetchone()[0])
        # Exact counts kept by the projector in the rows' transactions.
        counts: list[str] = []
        args: list[object] = []
        if statuses is not None:
            counts.append("status = ANY(%s)")
            args.append(statuses)
        if query.customer_id is not None:
            counts.append("customer_id = %s")
            args.append(query.customer_id)
        sql = "SELECT coalesce(sum(n), 0) FROM rm_order_counts" + (  # noqa: S608 (constants)
            (" WHERE " + " AND ".join(counts)) if counts else ""
        )
        return int(con.execute(sql, args).fetchone()[0])

    def get_order(self, order_id: str) -> OrderDetail | None:
        with self._snapshot(True) as con:
            row = con.execute(_GET_ORDER, (order_id,)).fetchone()
            lines = con.execute(_GET_LINES, (order_id,)).fetchall() if row is not None else []
        if row is None:
            return None
        return OrderDetail(
            order=_order_record(row),
            lines=tuple(OrderLineRow._make(line) for line in lines),
            tracking_number=row[12],
            carrier=row[13],
            cancel_reason=row[14],
        )

    def find_order_by_number(self, order_number: str) -> OrderRow | None:
        if "\x00" in order_number:
            return None
        rows = self._fetch(_FIND_BY_NUMBER, (order_number,))
        return _order_record(rows[0]) if rows else None

    def list_customers(self, search: str | None, limit: int) -> list[CustomerState]:
        if search:
            needle = fold(search)
            if "\x00" in needle:
                return []
            rows = self._fetch(_CUSTOMERS_SEARCH, {"n": needle, "limit": limit})
        else:
            rows = self._fetch(_CUSTOMERS_ALL, (limit,))
        return [customer_state(r) for r in rows]

    def customer_names(self) -> list[tuple[str, str]]:
        return [(str(cid), str(name)) for cid, name in self._fetch(_CUSTOMER_NAMES, ())]

    def get_customers(self, customer_ids: Sequence[str]) -> list[CustomerState]:
        wanted = [cid for cid in customer_ids if "\x00" not in cid]
        if not wanted:
            return []
        rows = self._fetch(_CUSTOMERS_IN, (sorted(set(wanted)),))
        by_id = {state.customer_id: state for state in map(customer_state, rows)}
        return [by_id[cid] for cid in customer_ids if cid in by_id]

    def list_products(
        self, search: str | None, include_discontinued: bool, limit: int
    ) -> list[ProductState]:
        needle = fold(search) if search else ""
        if "\x00" in needle:
            return []
        rows = self._fetch(_PRODUCTS, {"n": needle, "all": include_discontinued, "limit": limit})
        return [product_state(r) for r in rows]
