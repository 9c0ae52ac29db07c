"""The order list and detail queries on the SQLite read model (implements ``OrderListQueries``).

The order list at 1M orders (P5): one status-first index per allow-listed sort serves the
unfiltered and the status-filtered list (one index-only range per status, merged by SQLite);
totals come from ``rm_order_counts`` (exact, written in the projector's transactions); a search
of 3+ characters narrows candidates through the FTS5 trigram table ``rm_order_search`` and the
exact substring filter decides.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from typing import Any

from desktop_app.application.ports import (
    CustomerState,
    ListOrdersSpec,
    OrderDetail,
    OrderLineRow,
    OrderRow,
    ProductState,
)
from desktop_app.store.engine import Database
from desktop_app.store.list_rules import decode_cursor, encode_cursor, fold
from desktop_app.store.read_model_sql import (
    SELECT_CUSTOMERS_IN,
    customer_state,
    has_fts,
    json_ids,
    product_state,
)

log = logging.getLogger("desktop_app.store.order_queries")

_ORDER_COLS = (
    "o.order_id, o.order_number, o.customer_id, o.customer_name, o.status, o.line_count, "
    "o.total_minor, o.currency, o.placed_at, o.updated_at, o.version, o.last_position, "
    "o.tracking_number, o.carrier, o.cancel_reason"
)

_GET_ORDER = """SELECT o.order_id, o.order_number, o.customer_id, o.customer_name, o.status,
    o.line_count, o.total_minor, o.currency, o.placed_at, o.updated_at, o.version,
    o.last_position, o.tracking_number, o.carrier, o.cancel_reason
    FROM rm_orders AS o WHERE o.order_id = ?"""

_GET_LINES = """SELECT order_id, line_id, product_id, sku, product_name, quantity,
    unit_price_minor, quantity * unit_price_minor, currency
    FROM rm_order_lines WHERE order_id = ? ORDER BY seq, line_id"""

_FIND_BY_NUMBER = """SELECT o.order_id, o.order_number, o.customer_id, o.customer_name,
    o.status, o.line_count, o.total_minor, o.currency, o.placed_at, o.updated_at, o.version,
    o.last_position, o.tracking_number, o.carrier, o.cancel_reason
    FROM rm_orders AS o WHERE o.order_number = ? ORDER BY o.order_id LIMIT 1"""

_CUSTOMER_COLS = "customer_id, name, order_count, lifetime_value, version, registered_at"

# A read-only file whose read model was made by an older version has neither the column nor
# the former names: the queries then do without them.
_CUSTOMER_COLS_OLD = "customer_id, name, order_count, lifetime_value, version, ''"

_HAS_NAMES = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'rm_customer_names'"

_CUSTOMERS_ALL = "SELECT {cols} FROM rm_customers ORDER BY name_fold, customer_id LIMIT ?"

_CUSTOMERS_SEARCH = (
    "SELECT {cols} FROM rm_customers WHERE instr(name_fold, ?) > 0 "
    "ORDER BY name_fold, customer_id LIMIT ?"
)

# Also by a name the customer had before a rename.
_CUSTOMERS_SEARCH_FORMER = (
    "SELECT {cols} FROM rm_customers WHERE instr(name_fold, ?1) > 0 OR customer_id IN "
    "(SELECT customer_id FROM rm_customer_names WHERE instr(name_fold, ?1) > 0) "
    "ORDER BY name_fold, customer_id LIMIT ?2"
)

_CUSTOMER_NAMES = "SELECT customer_id, name FROM rm_customers"

_PRODUCTS = """SELECT product_id, sku, name, price_minor, currency, discontinued, units_sold,
    version
    FROM rm_products WHERE (? = '' OR instr(sku_fold, ?) > 0 OR instr(name_fold, ?) > 0)
    AND (? OR discontinued = 0) ORDER BY sku, product_id LIMIT ?"""

_HAS_COUNTS = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'rm_order_counts'"

_FTS_CANDIDATES = "o.rid IN (SELECT rowid FROM rm_order_search WHERE rm_order_search MATCH ?)"

# Old names are not in the search documents: their customers' orders join the candidates
# (still a rowid list, found through the customer index).
_FTS_CANDIDATES_FORMER = (
    "o.rid IN (SELECT rowid FROM rm_order_search WHERE rm_order_search MATCH ? UNION ALL "
    "SELECT f.rid FROM rm_orders AS f WHERE f.customer_id IN (SELECT customer_id FROM "
    "rm_customer_names WHERE instr(name_fold, ?) > 0))"
)

_FTS_MAX_TRIGRAMS = 12

_KNOWN_STATUSES = "SELECT DISTINCT status FROM rm_order_counts WHERE n > 0"

_COUNT_ALL = "SELECT coalesce(sum(n), 0) FROM rm_order_counts"

_COUNT_STATUSES = (
    "SELECT coalesce(sum(n), 0) FROM rm_order_counts "
    "WHERE status IN (SELECT value FROM json_each(?))"
)

_COUNT_CUSTOMER = "SELECT coalesce(sum(n), 0) FROM rm_order_counts WHERE customer_id = ?"

_COUNT_CUSTOMER_STATUSES = (
    "SELECT coalesce(sum(n), 0) FROM rm_order_counts WHERE customer_id = ? "
    "AND status IN (SELECT value FROM json_each(?))"
)


def fts_query(needle: str) -> str | None:
    """The FTS5 query that finds a superset of the orders containing ``needle`` (already
    folded): an AND of its trigrams, each as a quoted string; None when it cannot help."""
    if len(needle) < 3 or "\x00" in needle:
        return None
    grams = list(dict.fromkeys(needle[i : i + 3] for i in range(len(needle) - 2)))
    if len(grams) > _FTS_MAX_TRIGRAMS:  # a spread-out subset still gives a superset
        step = len(grams) / _FTS_MAX_TRIGRAMS
        grams = [grams[int(i * step)] for i in range(_FTS_MAX_TRIGRAMS)]
    return " ".join('"' + gram.replace('"', '""') + '"' for gram in grams)


def _order_record(row: Any) -> OrderRow:
    # The columns are NOT NULL TEXT / INTEGER in this order (_ORDER_COLS): no conversions.
    return OrderRow._make(row[:12])


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

# The allow-list of time columns a date range may bound (ListOrdersSpec.date_column). Each has
# a status-first index (rm_orders_s_placed / rm_orders_s_updated), so a range within a status
# is an index range: no new column or index was needed for the date filter.
DATE_SQL = {"placed_at": "o.placed_at", "updated_at": "o.updated_at"}


def _date_range(query: ListOrdersSpec) -> tuple[str, list[object]]:
    """The " AND ..." text and its values bounding the date column ("" when unbounded)."""
    column = DATE_SQL[query.date_column]  # KeyError: the handler skipped validation
    text, values = "", list[object]()
    if query.date_from is not None:
        text += " AND " + column + " >= ?"
        values.append(query.date_from)
    if query.date_to is not None:
        text += " AND " + column + " < ?"
        values.append(query.date_to)
    return text, values


_SEARCH_ORDERS = (
    "(instr(o.number_fold, ?) > 0 OR instr(o.customer_fold, ?) > 0 OR EXISTS "
    "(SELECT 1 FROM rm_order_lines AS l WHERE l.order_id = o.order_id "
    "AND instr(l.sku_fold, ?) > 0))"
)
# The same, plus the orders of customers who had a matching name before a rename.
_SEARCH_ORDERS_FORMER = (
    "(instr(o.number_fold, ?) > 0 OR instr(o.customer_fold, ?) > 0 OR EXISTS "
    "(SELECT 1 FROM rm_order_lines AS l WHERE l.order_id = o.order_id "
    "AND instr(l.sku_fold, ?) > 0) OR o.customer_id IN (SELECT customer_id FROM "
    "rm_customer_names WHERE instr(name_fold, ?) > 0))"
)


class _Explaining:
    """A connection stand-in that records each statement's query plan, then runs it."""

    def __init__(self, con: sqlite3.Connection, plans: list[str]) -> None:
        self._con = con
        self._plans = plans

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        rows = self._con.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        self._plans.extend(str(row[-1]) for row in rows)
        return self._con.execute(sql, params)


class SqliteOrderListQueries:
    """The list and detail queries of the read model in the Order Desk SQLite file."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def list_orders(self, query: ListOrdersSpec) -> tuple[list[OrderRow], int | None, str | None]:
        return self._list_orders(query, None)

    def explain_list_orders(self, query: ListOrdersSpec) -> list[str]:
        """The query plan (``EXPLAIN QUERY PLAN`` details) of every statement ``list_orders``
        runs for ``query``: tests use it to prove a list is served by index ranges."""
        plans: list[str] = []
        self._list_orders(query, plans)
        return plans

    def _list_orders(
        self, query: ListOrdersSpec, plans: list[str] | None
    ) -> tuple[list[OrderRow], int | None, str | None]:
        sort_sql = SORT_SQL[query.sort]  # KeyError here means the handler skipped validation
        after = None
        if query.after is not None:
            after = decode_cursor(query.after, query.sort, query.descending)
        with self._db.raw_read(hold=False) as raw:
            con: Any = raw if plans is None else _Explaining(raw, plans)
            # A read-only file from an older read-model version has no counts table: the
            # general path (SQL counts) still answers there.
            counted = con.execute(_HAS_COUNTS).fetchone() is not None
            if query.customer_id is None and not query.search and counted:
                rows, total = self._list_by_status(con, query, sort_sql, after)
            else:
                rows, total = self._list_filtered(con, query, sort_sql, after, counted)
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        next_after = None
        if more and rows:
            last = rows[-1]
            next_after = encode_cursor(query.sort, query.descending, last[-1], str(last[0]))
        return [_order_record(r) for r in rows], total, next_after

    @staticmethod
    def _list_by_status(
        con: sqlite3.Connection,
        query: ListOrdersSpec,
        sort_sql: str,
        after: tuple[object, str] | None,
    ) -> tuple[list[Any], int | None]:
        """No customer, no search: one index-only range per status (``status = ?`` on the
        status-first index of the sort), merged by SQLite in sort order (UNION ALL … ORDER
        BY), the page cut there, and only the page's rows looked up. Totals from the counts."""
        known = {str(r[0]) for r in con.execute(_KNOWN_STATUSES)}
        if query.statuses is None:
            wanted = sorted(known)
        else:
            wanted = sorted(known.intersection(query.statuses))
        in_range, bounds = _date_range(query)
        total: int | None = None
        if query.with_total and in_range:
            # No exact counts per date: one index-only range count per status (the
            # status-first index of the date column), never a scan of the table.
            count = " ".join(("SELECT count(*) FROM rm_orders AS o WHERE o.status = ?", in_range))
            total = sum(int(con.execute(count, (s, *bounds)).fetchone()[0]) for s in wanted)
        elif query.with_total:
            if query.statuses is None:
                total = int(con.execute(_COUNT_ALL).fetchone()[0])
            else:
                total = int(con.execute(_COUNT_STATUSES, (json_ids(wanted),)).fetchone()[0])
        if not wanted:
            return [], total
        direction = " DESC" if query.descending else " ASC"
        cmp = " < " if query.descending else " > "
        base = " ".join(
            (
                "SELECT",
                sort_sql,
                "AS k, o.order_id AS id FROM rm_orders AS o WHERE o.status = ?" + in_range,
            )
        )
        arms: list[str] = []
        params: list[object] = []
        for status in wanted:
            if after is None:
                arms.append(base)
                params.append(status)
                params.extend(bounds)
            elif query.sort == "status":
                # The sort key IS the arm's status: compare it here, so the arm stays a range
                # on (status, order_id) (SQLite does not narrow a row value that repeats it).
                value, order_id = after
                # SQLite orders every text after every number; str order = BINARY order.
                c = ((status > value) - (status < value)) if isinstance(value, str) else 1
                if c == 0:
                    arms.append(base + " AND o.order_id" + cmp + "?")
                    params.extend((status, *bounds, order_id))
                elif (c < 0) == query.descending:
                    arms.append(base)
                    params.extend((status, *bounds))
            else:
                arms.append(base + " AND (" + sort_sql + ", o.order_id)" + cmp + "(?, ?)")
                params.extend((status, *bounds, after[0], after[1]))
        if not arms:
            return [], total
        sql = " ".join(
            (
                "SELECT",
                _ORDER_COLS + ", p.k FROM (",
                " UNION ALL ".join(arms),
                "ORDER BY k" + direction + ", id" + direction,
                "LIMIT ? OFFSET ?) AS p JOIN rm_orders AS o ON o.order_id = p.id",
                "ORDER BY p.k" + direction + ", p.id" + direction,
            )
        )
        params.extend((query.limit + 1, query.offset))
        return con.execute(sql, params).fetchall(), total

    @staticmethod
    def _list_filtered(
        con: sqlite3.Connection,
        query: ListOrdersSpec,
        sort_sql: str,
        after: tuple[object, str] | None,
        counted: bool,
    ) -> tuple[list[Any], int | None]:
        """A customer's orders (few: sorted after the customer index) and/or a search (FTS
        candidates when there is a search index, then the exact substring filter)."""
        where: list[str] = []
        params: list[object] = []
        if query.statuses is not None:
            where.append("o.status IN (SELECT value FROM json_each(?))")
            params.append(json_ids(set(query.statuses)))
        if query.customer_id is not None:
            where.append("o.customer_id = ?")
            params.append(query.customer_id)
        in_range, bounds = _date_range(query)
        if in_range:
            where.append(in_range[len(" AND ") :])
            params.extend(bounds)
        fts: str | None = None
        former = False
        needle = ""
        if query.search:
            needle = fold(query.search)
            fts = fts_query(needle) if has_fts(con) else None
            former = con.execute(_HAS_NAMES).fetchone() is not None
            where.append(_SEARCH_ORDERS_FORMER if former else _SEARCH_ORDERS)
            params.extend((needle, needle, needle, needle) if former else (needle, needle, needle))
        direction = " DESC" if query.descending else " ASC"

        def run(use_fts: bool) -> tuple[list[Any], int | None]:
            conds, args = list(where), list(params)
            if use_fts:
                conds.insert(0, _FTS_CANDIDATES_FORMER if former else _FTS_CANDIDATES)
                if former:
                    args[0:0] = [fts, needle]
                else:
                    args.insert(0, fts)
            page_conds, page_args = list(conds), list(args)
            if after is not None:
                cmp = " < " if query.descending else " > "
                page_conds.append("(" + sort_sql + ", o.order_id)" + cmp + "(?, ?)")
                page_args.extend(after)
            sql = " ".join(
                (
                    "SELECT",
                    _ORDER_COLS + ",",
                    sort_sql,
                    "FROM rm_orders AS o",
                    ("WHERE " + " AND ".join(page_conds)) if page_conds else "",
                    "ORDER BY",
                    sort_sql + direction + ", o.order_id" + direction,
                    "LIMIT ? OFFSET ?",
                )
            )
            page_args.extend((query.limit + 1, query.offset))
            rows = con.execute(sql, page_args).fetchall()
            total: int | None = None
            if query.with_total:
                if query.search or not counted or query.customer_id is None or in_range:
                    count_sql = " ".join(
                        (
                            "SELECT count(*) FROM rm_orders AS o",
                            ("WHERE " + " AND ".join(conds)) if conds else "",
                        )
                    )
                    total = int(con.execute(count_sql, args).fetchone()[0])
                elif query.statuses is None:
                    total = int(con.execute(_COUNT_CUSTOMER, (query.customer_id,)).fetchone()[0])
                else:
                    total = int(
                        con.execute(
                            _COUNT_CUSTOMER_STATUSES,
                            (query.customer_id, json_ids(set(query.statuses))),
                        ).fetchone()[0]
                    )
            return rows, total

        if fts is not None:
            try:
                return run(True)
            except sqlite3.OperationalError:  # e.g. FTS5 missing in this SQLite build: scan
                log.warning("search index unusable; scanning", exc_info=True)
        return run(False)

    def get_order(self, order_id: str) -> OrderDetail | None:
        with self._db.raw_read(hold=False) as con:
            row = con.execute(
                _GET_ORDER,
                (order_id,),
            ).fetchone()
            if row is None:
                return None
            lines = con.execute(
                _GET_LINES,
                (order_id,),
            ).fetchall()
        return OrderDetail(
            order=_order_record(row),
            lines=tuple(map(OrderLineRow._make, lines)),
            tracking_number=row[12],
            carrier=row[13],
            cancel_reason=row[14],
        )

    def find_order_by_number(self, order_number: str) -> OrderRow | None:
        with self._db.raw(hold=False) as con:
            row = con.execute(
                _FIND_BY_NUMBER,
                (order_number,),
            ).fetchone()
        return None if row is None else _order_record(row)

    def list_customers(self, search: str | None, limit: int) -> list[CustomerState]:
        with self._db.raw_read(hold=False) as con:
            current = con.execute(_HAS_NAMES).fetchone() is not None
            cols = _CUSTOMER_COLS if current else _CUSTOMER_COLS_OLD
            if search:
                sql = _CUSTOMERS_SEARCH_FORMER if current else _CUSTOMERS_SEARCH
                rows = con.execute(sql.format(cols=cols), (fold(search), limit)).fetchall()
            else:
                rows = con.execute(_CUSTOMERS_ALL.format(cols=cols), (limit,)).fetchall()
        return [customer_state(r) for r in rows]

    def customer_names(self) -> list[tuple[str, str]]:
        with self._db.raw(hold=False) as con:
            return [(str(cid), str(name)) for cid, name in con.execute(_CUSTOMER_NAMES)]

    def get_customers(self, customer_ids: Sequence[str]) -> list[CustomerState]:
        if not customer_ids:
            return []
        with self._db.raw_read(hold=False) as con:
            current = con.execute(_HAS_NAMES).fetchone() is not None
            sql = SELECT_CUSTOMERS_IN
            if not current:
                sql = sql.replace("registered_at FROM", "'' FROM")
            rows = con.execute(sql, (json_ids(list(customer_ids)),)).fetchall()
        by_id = {state.customer_id: state for state in map(customer_state, rows)}
        return [by_id[cid] for cid in customer_ids if cid in by_id]

    def list_products(
        self, search: str | None, include_discontinued: bool, limit: int
    ) -> list[ProductState]:
        needle = fold(search) if search else ""
        with self._db.raw(hold=False) as con:
            rows = con.execute(
                _PRODUCTS,
                (needle, needle, needle, int(include_discontinued), limit),
            ).fetchall()
        return [product_state(r) for r in rows]
