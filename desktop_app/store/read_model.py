"""Read-model tables in the same SQLite file: the projector's batches and the list queries.

Raw sqlite3 (through :class:`Database`'s raw helpers) is used on purpose: a projector batch reads
its rows with a few ``IN (SELECT value FROM json_each(?))`` queries and writes them back with
``executemany`` upserts, so a rebuild costs a handful of statements per batch, not per event.

Every SQL text here is a constant or a join of constant fragments chosen from allow-lists; values
only ever travel as bound parameters (R20).

The order list at 1M orders (P5): one status-first index per allow-listed sort serves the
unfiltered and the status-filtered list (one index-only range per status, merged by SQLite);
totals come from ``rm_order_counts`` (exact, written in the projector's transactions); a search
of 3+ characters narrows candidates through the FTS5 trigram table ``rm_order_search`` and the
exact substring filter decides.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import operator
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from desktop_app.application.ports import (
    READ_MODEL_CHECKPOINT,
    CheckpointConflictError,
    CustomerState,
    EventRecord,
    InvalidCursorError,
    LineState,
    ListOrdersSpec,
    NotReadModelOwnerError,
    OrderDetailRecord,
    OrderRecord,
    OrderState,
    ProductState,
    ReadModelKeys,
    ReadModelOwner,
    StoreUnavailableError,
    WorkingSet,
)
from desktop_app.identity import host_name
from desktop_app.store import projector_lease
from desktop_app.store.engine import Database, store_errors
from desktop_app.store.schema import (
    LIST_INDEXES,
    PROJECTOR_INDEXES,
    READ_MODEL_TABLES,
    RETIRED_PREFIX,
    SEARCH_TABLE,
    aside_name,
    aside_table,
    create_index_sql,
    create_table_sql,
    fts_ddl,
    other_index_name,
    read_model_metadata,
    rm_checkpoints,
    rm_meta,
)

READ_MODEL_SCHEMA_VERSION = 3
"""Bump when the read-model tables change: the next start drops them and rebuilds."""

log = logging.getLogger("desktop_app.store.read_model")

FaultHook = Callable[[str], None]
"""Called with a step name inside a batch (tests inject crashes there)."""

_LIVE = {t.removeprefix("rm_"): t for t in READ_MODEL_TABLES}
"""Placeholder -> live table name, for the statements a rebuild also runs on its aside tables
(written as templates: ``{orders}`` is ``rm_orders`` live, ``rmn_orders`` aside)."""
_ASIDE_NAMES = {key: aside_name(name) for key, name in _LIVE.items()}

_CREATE_TABLES = tuple(create_table_sql(t) for t in read_model_metadata.sorted_tables)
_PROJECTOR_INDEXES = tuple((str(i.name), create_index_sql(i)) for i in PROJECTOR_INDEXES)
_LIST_INDEXES = tuple((str(i.name), create_index_sql(i)) for i in LIST_INDEXES)
_INDEXES_BY_NAME = {str(i.name): i for i in (*PROJECTOR_INDEXES, *LIST_INDEXES)}

_DROP_INDEX = tuple(
    "DROP INDEX IF EXISTS " + name
    for index, _ in _LIST_INDEXES
    for name in (index, other_index_name(index))  # either of its names
)
_DROP_TABLES = tuple("DROP TABLE IF EXISTS " + name for name in READ_MODEL_TABLES)
_DELETE_ALL = tuple(
    "DELETE FROM " + t.name  # noqa: S608 (names from the metadata, no input)
    for t in read_model_metadata.sorted_tables
    if t is not rm_meta
)

_ORDER_COLS = (
    "o.order_id, o.order_number, o.customer_id, o.customer_name, o.status, o.line_count, "
    "o.total_minor, o.currency, o.placed_at, o.updated_at, o.version, o.last_position, "
    "o.tracking_number, o.carrier, o.cancel_reason"
)
_SELECT_ORDERS_IN = """SELECT o.order_id, o.order_number, o.customer_id, o.customer_name,
    o.status, o.line_count, o.total_minor, o.currency, o.placed_at, o.updated_at, o.version,
    o.last_position, o.tracking_number, o.carrier, o.cancel_reason
    FROM rm_orders AS o WHERE o.order_id IN (SELECT value FROM json_each(?))"""
_SELECT_LINES_IN = """SELECT order_id, line_id, product_id, sku, product_name, quantity,
    unit_price_minor, currency, seq
    FROM rm_order_lines WHERE order_id IN (SELECT value FROM json_each(?))"""
_SELECT_CUSTOMERS_IN = """SELECT customer_id, name, order_count, lifetime_value, version,
    registered_at FROM rm_customers WHERE customer_id IN (SELECT value FROM json_each(?))"""
_SELECT_PRODUCTS_IN = """SELECT product_id, sku, name, price_minor, currency, discontinued,
    units_sold, version
    FROM rm_products WHERE product_id IN (SELECT value FROM json_each(?))"""
_GET_ORDER = """SELECT o.order_id, o.order_number, o.customer_id, o.customer_name, o.status,
    o.line_count, o.total_minor, o.currency, o.placed_at, o.updated_at, o.version,
    o.last_position, o.tracking_number, o.carrier, o.cancel_reason
    FROM rm_orders AS o WHERE o.order_id = ?"""
_GET_LINES = """SELECT order_id, line_id, product_id, sku, product_name, quantity,
    unit_price_minor, currency, seq
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
_INSERT_FORMER_NAME_T = (
    "INSERT OR IGNORE INTO {customer_names} (customer_id, name_fold) VALUES (?, ?)"
)
_INSERT_FORMER_NAME = _INSERT_FORMER_NAME_T.format_map(_LIVE)
_PRODUCTS = """SELECT product_id, sku, name, price_minor, currency, discontinued, units_sold,
    version
    FROM rm_products WHERE (? = '' OR instr(sku_fold, ?) > 0 OR instr(name_fold, ?) > 0)
    AND (? OR discontinued = 0) ORDER BY sku, product_id LIMIT ?"""

_UPSERT_ORDER = """INSERT INTO rm_orders (order_id, order_number, number_fold, customer_id,
    customer_name, customer_fold, status, line_count, total_minor, currency, placed_at,
    updated_at, version, last_position, tracking_number, carrier, cancel_reason)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (order_id) DO UPDATE SET order_number = excluded.order_number,
    number_fold = excluded.number_fold, customer_id = excluded.customer_id,
    customer_name = excluded.customer_name, customer_fold = excluded.customer_fold,
    status = excluded.status, line_count = excluded.line_count,
    total_minor = excluded.total_minor, currency = excluded.currency,
    placed_at = excluded.placed_at, updated_at = excluded.updated_at,
    version = excluded.version, last_position = excluded.last_position,
    tracking_number = excluded.tracking_number, carrier = excluded.carrier,
    cancel_reason = excluded.cancel_reason"""

_UPSERT_LINE = """INSERT INTO rm_order_lines (order_id, line_id, product_id, sku, sku_fold,
    product_name, quantity, unit_price_minor, line_total_minor, currency, seq)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (order_id, line_id) DO UPDATE SET product_id = excluded.product_id,
    sku = excluded.sku, sku_fold = excluded.sku_fold, product_name = excluded.product_name,
    quantity = excluded.quantity, unit_price_minor = excluded.unit_price_minor,
    line_total_minor = excluded.line_total_minor, currency = excluded.currency,
    seq = excluded.seq"""

_UPSERT_CUSTOMER = """INSERT INTO rm_customers (customer_id, name, name_fold, order_count,
    lifetime_value, version, registered_at) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (customer_id) DO UPDATE SET name = excluded.name,
    name_fold = excluded.name_fold, order_count = excluded.order_count,
    lifetime_value = excluded.lifetime_value, version = excluded.version,
    registered_at = excluded.registered_at"""

_UPSERT_PRODUCT = """INSERT INTO rm_products (product_id, sku, sku_fold, name, name_fold,
    price_minor, currency, discontinued, units_sold, version)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (product_id) DO UPDATE SET sku = excluded.sku, sku_fold = excluded.sku_fold,
    name = excluded.name, name_fold = excluded.name_fold, price_minor = excluded.price_minor,
    currency = excluded.currency, discontinued = excluded.discontinued,
    units_sold = excluded.units_sold, version = excluded.version"""

_RENAME_CUSTOMER = "UPDATE rm_orders SET customer_name = ?, customer_fold = ? WHERE customer_id = ?"
_RENAME_PRODUCT = "UPDATE rm_order_lines SET product_name = ? WHERE product_id = ?"
_DELETE_LINE = "DELETE FROM rm_order_lines WHERE order_id = ? AND line_id = ?"
_GET_CHECKPOINT = "SELECT position FROM rm_checkpoints WHERE name = ?"
_ENSURE_CHECKPOINT = "INSERT OR IGNORE INTO rm_checkpoints (name, position) VALUES (?, 0)"
_CAS_CHECKPOINT = "UPDATE rm_checkpoints SET position = ? WHERE name = ? AND position = ?"
_GET_META = "SELECT value FROM rm_meta WHERE key = ?"
_SET_META = "INSERT OR REPLACE INTO rm_meta (key, value) VALUES (?, ?)"
_DELETE_META = "DELETE FROM rm_meta WHERE key = ?"

_CACHE_SIZE = "PRAGMA cache_size = -32768"
"""32 MB page cache on a connection that runs a projector batch (random-key upserts)."""

_READ_EVENTS = (
    "SELECT position, stream_id, version, type_name, schema_version, payload, recorded_at "
    "FROM events WHERE position > ? ORDER BY position LIMIT ?"
)
_SCAN_EVENTS = (
    "SELECT position, stream_id, version, type_name, schema_version, payload, recorded_at "
    "FROM events WHERE position > ? ORDER BY position"
)
_SCAN_HEAD = "SELECT max(position) FROM events"
# A full rebuild's scan, one position range per statement: each column as ONE JSON array text
# (the payloads are stored JSON, the other values quoted as JSON keeps their SQL types), built
# by SQLite in a single step that holds no GIL, so a reader thread prepares the next chunk
# while the projector folds this one. Rows are visited in rowid (= position) order.
_SCAN_CHUNK = (
    "SELECT '[' || group_concat(position) || ']', "
    "'[' || group_concat(json_quote(stream_id)) || ']', "
    "'[' || group_concat(json_quote(version)) || ']', "
    "'[' || group_concat(json_quote(type_name)) || ']', "
    "'[' || group_concat(json_quote(schema_version)) || ']', "
    "'[' || group_concat(payload) || ']', "
    "'[' || group_concat(json_quote(recorded_at)) || ']' "
    "FROM events WHERE position > ? AND position <= ?"
)

# --- full rebuild: every row written once, into emptied tables, indexes built afterwards
# Parameters: the state's fields in declaration order, then the folds (see _order_rows).
_INSERT_ORDER_T = """INSERT INTO {orders} (order_id, order_number, number_fold, customer_id,
    customer_name, customer_fold, status, line_count, total_minor, currency, placed_at,
    updated_at, version, last_position, tracking_number, carrier, cancel_reason)
    VALUES (?1, ?2, ?16, ?3, ?4, ?17, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"""
# Parameters: the line's fields in declaration order, then the SKU fold (see _line_rows).
_INSERT_LINE_T = """INSERT INTO {order_lines} (order_id, line_id, product_id, sku, sku_fold,
    product_name, quantity, unit_price_minor, line_total_minor, currency, seq)
    VALUES (?1, ?2, ?3, ?4, ?10, ?5, ?6, ?7, ?6 * ?7, ?8, ?9)"""
_INSERT_CUSTOMER_T = """INSERT INTO {customers} (customer_id, name, name_fold, order_count,
    lifetime_value, version, registered_at) VALUES (?, ?, ?, ?, ?, ?, ?)"""
_INSERT_PRODUCT_T = """INSERT INTO {products} (product_id, sku, sku_fold, name, name_fold,
    price_minor, currency, discontinued, units_sold, version)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
_INSERT_ORDER = _INSERT_ORDER_T.format_map(_LIVE)
_INSERT_LINE = _INSERT_LINE_T.format_map(_LIVE)
_INSERT_CUSTOMER = _INSERT_CUSTOMER_T.format_map(_LIVE)
_INSERT_PRODUCT = _INSERT_PRODUCT_T.format_map(_LIVE)
_SET_CHECKPOINT = "INSERT INTO rm_checkpoints (name, position) VALUES (?, ?)"
_REBUILD_PRAGMAS = (
    "PRAGMA cache_size = -1048576",  # up to 1 GB: the new read model (~300 MB at 1M events)
    # and the index sorts stay in memory until the commit (no spilling into the WAL before)
    "PRAGMA temp_store = MEMORY",
    "PRAGMA threads = 2",  # CREATE INDEX may sort with a helper thread
    # The commit must not also copy the whole new read model into the database file: the
    # WAL job checkpoints it in the background (and journal_size_limit trims the WAL).
    "PRAGMA wal_autocheckpoint = 0",
)
_ANALYZE = (
    "ANALYZE rm_orders",
    "ANALYZE rm_order_lines",
    "ANALYZE rm_customers",
    "ANALYZE rm_products",
)
_RESTORE_PRAGMAS = (
    "PRAGMA analysis_limit = 0",
    "PRAGMA cache_size = -2000",
    "PRAGMA temp_store = DEFAULT",
    "PRAGMA threads = 0",
    "PRAGMA wal_autocheckpoint = 1000",
)
_SYNC_RESTORE = {2: "PRAGMA synchronous = FULL", 3: "PRAGMA synchronous = EXTRA"}
"""``PRAGMA synchronous`` values above NORMAL, which a full rebuild's commit lowers to NORMAL
(see :meth:`SqliteReadModelStore.replace_all`), and how to set them back."""
_WRITE_CHUNK = 50_000
"""Most rows per ``executemany`` in :meth:`SqliteReadModelStore.replace_all`."""
PACE_HOLD_SECONDS = 0.1
"""How long one write transaction of a rebuild aims to hold the write lock (R34)."""

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

# --- free-text search index: an FTS5 trigram table of each order's folded number, customer
# name and SKUs (rowid = rm_orders.rid), maintained in the projector's transactions. It only
# narrows the candidates (an AND of the pattern's trigrams, each a quoted FTS string, so no
# pattern text is ever FTS syntax): the exact ``_SEARCH_ORDERS`` filter still decides, so the
# result is exactly the plain substring filter's. Patterns under 3 characters scan.
_CREATE_FTS = fts_ddl()
_DROP_FTS = "DROP TABLE IF EXISTS " + SEARCH_TABLE
_HAS_FTS = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'rm_order_search'"
_HAS_COUNTS = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'rm_order_counts'"
_FTS_FILL_T = (
    "INSERT INTO {order_search} (rowid, doc) SELECT o.rid, o.number_fold || char(31) || "
    "o.customer_fold || coalesce((SELECT char(31) || group_concat(l.sku_fold, char(31)) "
    "FROM {order_lines} AS l WHERE l.order_id = o.order_id), '') FROM {orders} AS o"
)
_FTS_FILL = _FTS_FILL_T.format_map(_LIVE)
_FTS_INSERT_IN = " ".join((_FTS_FILL, "WHERE o.order_id IN (SELECT value FROM json_each(?))"))
_FTS_DELETE_IN = (
    "DELETE FROM rm_order_search WHERE rowid IN (SELECT rid FROM rm_orders "
    "WHERE order_id IN (SELECT value FROM json_each(?)))"
)
_FTS_CANDIDATES = "o.rid IN (SELECT rowid FROM rm_order_search WHERE rm_order_search MATCH ?)"
# Old names are not in the search documents: their customers' orders join the candidates
# (still a rowid list, found through the customer index).
_FTS_CANDIDATES_FORMER = (
    "o.rid IN (SELECT rowid FROM rm_order_search WHERE rm_order_search MATCH ? UNION ALL "
    "SELECT f.rid FROM rm_orders AS f WHERE f.customer_id IN (SELECT customer_id FROM "
    "rm_customer_names WHERE instr(name_fold, ?) > 0))"
)
_ORDERS_OF_CUSTOMERS = (
    "SELECT order_id FROM rm_orders WHERE customer_id IN (SELECT value FROM json_each(?))"
)
_FTS_MAX_TRIGRAMS = 12

# --- exact order counts per (customer, status)
_COUNTS_ADD = """INSERT INTO rm_order_counts (customer_id, status, n) VALUES (?, ?, ?)
    ON CONFLICT (customer_id, status) DO UPDATE SET n = n + excluded.n"""
_COUNTS_PRUNE = "DELETE FROM rm_order_counts WHERE n = 0"
_COUNTS_INSERT_T = "INSERT INTO {order_counts} (customer_id, status, n) VALUES (?, ?, ?)"
_COUNTS_FILL = (
    "INSERT INTO rm_order_counts (customer_id, status, n) "
    "SELECT customer_id, status, count(*) FROM rm_orders GROUP BY customer_id, status"
)
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


def _has_fts(con: sqlite3.Connection) -> bool:
    return con.execute(_HAS_FTS).fetchone() is not None


def _reset_fts(con: sqlite3.Connection) -> bool:
    """Empty the search index quickly (drop + create); False when there is none."""
    if not _has_fts(con):
        return False
    con.execute(_DROP_FTS)
    con.execute(_CREATE_FTS)
    return True


def fold(text: str) -> str:
    """The case-insensitive form searches compare (Unicode case folding)."""
    return text.casefold()


def _ids(values: set[str] | list[str]) -> str:
    return json.dumps(sorted(values), ensure_ascii=False)


def _order_state(row: Any) -> OrderState:
    return OrderState(*row)


def _line_state(row: Any) -> LineState:
    return LineState(*row)


def _customer_state(row: Any) -> CustomerState:
    cid, name, count, ltv, version, registered_at = row
    return CustomerState(
        customer_id=str(cid),
        name=str(name),
        order_count=int(count),
        lifetime_value=dict(json.loads(str(ltv))),
        version=int(version),
        registered_at=str(registered_at or ""),
    )


def _product_state(row: Any) -> ProductState:
    pid, sku, name, price, currency, discontinued, sold, version = row
    return ProductState(
        product_id=str(pid),
        sku=str(sku),
        name=str(name),
        price_minor=int(price),
        currency=str(currency),
        discontinued=bool(discontinued),
        units_sold=int(sold),
        version=int(version),
    )


def _order_row(o: OrderState) -> tuple[Any, ...]:
    return (
        o.order_id,
        o.order_number,
        fold(o.order_number),
        o.customer_id,
        o.customer_name,
        fold(o.customer_name),
        o.status,
        o.line_count,
        o.total_minor,
        o.currency,
        o.placed_at,
        o.updated_at,
        o.version,
        o.last_position,
        o.tracking_number,
        o.carrier,
        o.cancel_reason,
    )


def _line_row(ln: LineState) -> tuple[Any, ...]:
    return (
        ln.order_id,
        ln.line_id,
        ln.product_id,
        ln.sku,
        fold(ln.sku),
        ln.product_name,
        ln.quantity,
        ln.unit_price_minor,
        ln.quantity * ln.unit_price_minor,
        ln.currency,
        ln.seq,
    )


def _customer_row(c: CustomerState) -> tuple[Any, ...]:
    return (
        c.customer_id,
        c.name,
        fold(c.name),
        c.order_count,
        json.dumps(c.lifetime_value, sort_keys=True),
        c.version,
        c.registered_at,
    )


def _product_row(p: ProductState) -> tuple[Any, ...]:
    return (
        p.product_id,
        p.sku,
        fold(p.sku),
        p.name,
        fold(p.name),
        p.price_minor,
        p.currency,
        int(p.discontinued),
        p.units_sold,
        p.version,
    )


_order_fields = operator.attrgetter(
    "order_id",
    "order_number",
    "customer_id",
    "customer_name",
    "status",
    "line_count",
    "total_minor",
    "currency",
    "placed_at",
    "updated_at",
    "version",
    "last_position",
    "tracking_number",
    "carrier",
    "cancel_reason",
)
_line_fields = operator.attrgetter(
    "order_id",
    "line_id",
    "product_id",
    "sku",
    "product_name",
    "quantity",
    "unit_price_minor",
    "currency",
    "seq",
)


_by_key = operator.itemgetter(0)


def _order_rows(
    orders: dict[str, OrderState], counts: dict[tuple[str, str], int]
) -> list[tuple[Any, ...]]:
    """:data:`_INSERT_ORDER` parameters in key order: the fields (one C-level attrgetter call)
    plus the two folds, repeated names folded once; counts orders per (customer, status).

    Rows are made in the dict's order (the order the rows were created in, so memory is read
    mostly in sequence: measured much faster than visiting them in key order) and sorted after.
    """
    folds: dict[str, str] = {}
    get = folds.get
    count = counts.get
    fields = _order_fields
    fold_text = fold
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    for order in orders.values():
        row = fields(order)
        pair = (row[2], row[4])
        counts[pair] = count(pair, 0) + 1
        name = row[3]
        name_fold = get(name)
        if name_fold is None:
            name_fold = folds[name] = fold_text(name)
        append((*row, fold_text(row[1]), name_fold))
    rows.sort(key=_by_key)
    return rows


def _line_rows(lines: dict[str, dict[str, LineState]]) -> list[tuple[Any, ...]]:
    """:data:`_INSERT_LINE` parameters, orders in key order (each order's lines in its dict's
    order): the fields plus the SKU fold. Made in the dicts' order, then sorted (stable)."""
    folds: dict[str, str] = {}
    get = folds.get
    fields = _line_fields
    fold_text = fold
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    for order_lines in lines.values():
        for line in order_lines.values():
            row = fields(line)
            sku = row[3]
            sku_fold = get(sku)
            if sku_fold is None:
                sku_fold = folds[sku] = fold_text(sku)
            append((*row, sku_fold))
    rows.sort(key=_by_key)
    return rows


_SWAPPED = tuple(
    t.name for t in read_model_metadata.sorted_tables if t not in (rm_meta, rm_checkpoints)
)
"""The tables a rebuild replaces (and ``rm_order_search`` where there is one)."""
_CREATE_ASIDE = tuple(
    create_table_sql(aside_table(t))
    for t in read_model_metadata.sorted_tables
    if t.name in _SWAPPED
)
_GROWN_INDEXES = frozenset(
    ("rm_order_lines_product", "rm_orders_sstatus", "rm_orders_s_lines", "rm_orders_s_version")
)
"""Indexes a rebuild creates on the EMPTY aside tables and grows with the rows, instead of
building them in one long statement afterwards: rows go in by order id, and in these indexes
that order only appends at the end of a few ranges (a product's lines; a status, or a status
and a small count), so each paced step touches a few pages of them. Every other index would
be written all over by every step; those get one sort each once the rows are in."""
_FTS_RID_RANGE = " WHERE o.rid > ? AND o.rid <= ?"
_LEFTOVERS = (
    "SELECT name FROM sqlite_master WHERE type = 'table' "
    "AND (name LIKE 'rmn\\_%' ESCAPE '\\' OR name LIKE 'rmo\\_%' ESCAPE '\\') "
    "AND name NOT LIKE '%\\_data' ESCAPE '\\' AND name NOT LIKE '%\\_idx' ESCAPE '\\' "
    "AND name NOT LIKE '%\\_docsize' ESCAPE '\\' "
    "AND name NOT LIKE '%\\_config' ESCAPE '\\' AND name NOT LIKE '%\\_content' ESCAPE '\\'"
)
_INDEXES_OF = (
    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL"
)


def _index_names(con: sqlite3.Connection) -> set[str]:
    return {str(r[0]) for r in con.execute("SELECT name FROM sqlite_master WHERE type='index'")}


def _aside_index(index: str, live: set[str]) -> str:
    """The index's CREATE on the aside table, under whichever of its two names is free."""
    name = other_index_name(index) if index in live else index
    made = _INDEXES_BY_NAME[index]
    assert made.table is not None
    return create_index_sql(made, name=name, table=aside_table(made.table), if_not_exists=False)


def _drop_leftovers(pacer: _Pacer) -> None:
    """Drop aside / retired tables in short steps: each index, then each table."""
    with pacer.step():
        tables = [str(r[0]) for r in pacer.con.execute(_LEFTOVERS)]
    for table in tables:
        with pacer.step():
            indexes = [str(r[0]) for r in pacer.con.execute(_INDEXES_OF, (table,))]
        for index in indexes:
            with pacer.step():
                pacer.con.execute(f"DROP INDEX IF EXISTS {index}")
        with pacer.step():
            pacer.con.execute(f"DROP TABLE IF EXISTS {table}")


_BUSY_POLLS = (
    (0.001, 0.001),
    (0.003, 0.002),
    (0.008, 0.005),
    (0.018, 0.010),
    (0.033, 0.015),
    (0.053, 0.020),
    (0.128, 0.025),
    (0.228, 0.050),
)
"""(waited up to, polls every): SQLite's busy handler (sqliteDefaultBusyCallback); after
228 ms it polls every 100 ms."""


_CHECKPOINT_AFTER = 1.0
"""Seconds of a rebuild's write steps between two passive checkpoints of the WAL."""


class _Pacer:
    """Write transactions short enough, and far enough apart, that another process's command
    never waits long for the write lock while a rebuild writes (R34).

    A writer that finds the lock taken polls it (SQLite's busy handler) after 1, 2, 5, 10, 15,
    20, 25, 25, 25 ms, then every 50 ms, then every 100 ms. Each step here aims at
    :data:`PACE_HOLD_SECONDS`; after it the lock stays free for longer than the polling interval
    of a writer that waited that long (:meth:`gap`), so a waiting command gets in at its next
    poll: it waits about one step, never several. The free
    time is used for a passive WAL checkpoint (needs no write lock), so the WAL does not grow
    by the whole new read model and no command's commit has to checkpoint it.
    """

    def __init__(self, con: sqlite3.Connection, hold: float | None = None) -> None:
        self.con = con
        self.hold = PACE_HOLD_SECONDS if hold is None else hold
        self.longest = 0.0
        """The longest step so far (seconds): the longest a command could have waited."""
        self._written = 0.0

    @staticmethod
    def gap(held: float) -> float:
        """Free time after holding the lock ``held`` seconds: longer than the polling interval
        of a writer that has waited that long (plus a margin for a busy machine)."""
        interval = 0.1
        for waited, step in _BUSY_POLLS:
            if held < waited:
                interval = step
                break
        return interval * 1.2 + 0.003

    @contextmanager
    def step(self) -> Iterator[None]:
        """One write transaction, then room for other writers."""
        con = self.con
        con.execute("BEGIN IMMEDIATE")
        started = time.perf_counter()
        try:
            yield
        except BaseException:
            with suppress(sqlite3.Error):
                con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        held = time.perf_counter() - started
        self.longest = max(self.longest, held)
        free_until = time.perf_counter() + self.gap(held)
        self._written += held
        if self._written >= _CHECKPOINT_AFTER:  # (it syncs the file: not after every step)
            self._written = 0.0
            with suppress(sqlite3.Error):  # a busy checkpoint is no problem: the job does it
                con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        rest = free_until - time.perf_counter()
        if rest > 0:
            time.sleep(rest)

    def _size(self, per_item: float, low: int, high: int) -> int:
        return max(low, min(high, int(self.hold / per_item))) if per_item > 0 else high

    def insert(
        self,
        sql: str,
        rows: list[tuple[Any, ...]],
        advance: Callable[[float], None] | None,
    ) -> None:
        """``executemany`` in steps sized to the time budget (measured as it goes)."""
        start, size = 0, 1000
        while start < len(rows):
            chunk = rows[start : start + size]
            began = time.perf_counter()
            with self.step():
                self.con.executemany(sql, chunk)
            size = self._size((time.perf_counter() - began) / len(chunk), 100, _WRITE_CHUNK)
            start += len(chunk)
            if advance is not None:
                advance(len(chunk))

    def ranges(self, sql: str, count: int, advance: Callable[[int], None]) -> None:
        """``sql`` with (low, high] ranges of 0..``count`` in steps sized to the budget."""
        low, size = 0, 1000
        while low < count:
            high = min(count, low + size)
            began = time.perf_counter()
            with self.step():
                self.con.execute(sql, (low, high))
            size = self._size((time.perf_counter() - began) / (high - low), 100, _WRITE_CHUNK)
            advance(high - low)
            low = high


def _order_record(row: Any) -> OrderRecord:
    # The columns are NOT NULL TEXT / INTEGER in this order (_ORDER_COLS): no conversions.
    return OrderRecord._make(row[:12])


def encode_cursor(sort: str, descending: bool, value: object, order_id: str) -> str:
    """An opaque keyset cursor: the sort it belongs to and the last row's key."""
    raw = json.dumps([sort, descending, value, order_id], ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii")


def decode_cursor(cursor: str, sort: str, descending: bool) -> tuple[object, str]:
    """The (sort value, order id) in a cursor; refuses one made for another sort."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")).decode("utf-8"))
        c_sort, c_desc, value, order_id = data
    except (ValueError, TypeError, UnicodeError, binascii.Error) as exc:
        raise InvalidCursorError("The page cursor is not valid for this list.") from exc
    if c_sort != sort or c_desc != descending or not isinstance(order_id, str):
        raise InvalidCursorError("The page cursor belongs to another sort order.")
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise InvalidCursorError("The page cursor is not valid for this list.")
    return value, order_id


class _Batch:
    """One projector batch on an open ``BEGIN IMMEDIATE`` connection."""

    def __init__(
        self, con: sqlite3.Connection, name: str, expected: int, fault: FaultHook | None
    ) -> None:
        self._con = con
        self._name = name
        self._expected = expected
        self._fault = fault
        self._before: dict[str, tuple[str, str]] = {}
        """(customer_id, status) of every order as loaded: the count deltas start there."""

    def _step(self, step: str) -> None:
        if self._fault is not None:
            self._fault(step)

    def load(self, keys: ReadModelKeys) -> WorkingSet:
        con = self._con
        work = WorkingSet()
        if keys.orders:
            ids = _ids(keys.orders)
            before = self._before
            for row in con.execute(_SELECT_ORDERS_IN, (ids,)):
                order = _order_state(row)
                work.orders[order.order_id] = order
                before[order.order_id] = (order.customer_id, order.status)
            for row in con.execute(_SELECT_LINES_IN, (ids,)):
                line = _line_state(row)
                work.lines.setdefault(line.order_id, {})[line.line_id] = line
        customers = set(keys.customers)
        customers.update(o.customer_id for o in work.orders.values())
        if customers:
            for row in con.execute(_SELECT_CUSTOMERS_IN, (_ids(customers),)):
                customer = _customer_state(row)
                work.customers[customer.customer_id] = customer
        products = set(keys.products)
        for lines in work.lines.values():
            products.update(line.product_id for line in lines.values())
        if products:
            for row in con.execute(_SELECT_PRODUCTS_IN, (_ids(products),)):
                product = _product_state(row)
                work.products[product.product_id] = product
        self._step("loaded")
        return work

    def save(self, work: WorkingSet, new_checkpoint: int) -> None:
        con = self._con
        self._step("before_rows")
        if work.customer_renames:
            con.executemany(
                _RENAME_CUSTOMER,
                [(name, fold(name), cid) for cid, name in work.customer_renames.items()],
            )
        if work.product_renames:
            con.executemany(
                _RENAME_PRODUCT, [(name, pid) for pid, name in work.product_renames.items()]
            )
        if work.removed_lines:
            con.executemany(_DELETE_LINE, sorted(work.removed_lines))
        orders = work.orders
        con.executemany(_UPSERT_ORDER, [_order_row(orders[k]) for k in work.dirty_orders])
        self._step("orders_written")
        lines = work.lines
        con.executemany(_UPSERT_LINE, [_line_row(lines[o][li]) for o, li in work.dirty_lines])
        customers = work.customers
        con.executemany(
            _UPSERT_CUSTOMER, [_customer_row(customers[k]) for k in work.dirty_customers]
        )
        if work.former_names:
            con.executemany(
                _INSERT_FORMER_NAME, [(cid, fold(name)) for cid, name in work.former_names]
            )
        products = work.products
        con.executemany(_UPSERT_PRODUCT, [_product_row(products[k]) for k in work.dirty_products])
        self._save_counts(work)
        self._save_search(work)
        self._step("rows_written")
        moved = con.execute(_CAS_CHECKPOINT, (new_checkpoint, self._name, self._expected))
        if moved.rowcount != 1:
            actual = con.execute(_GET_CHECKPOINT, (self._name,)).fetchone()
            raise CheckpointConflictError(
                self._name, self._expected, int(actual[0]) if actual else 0
            )
        self._step("checkpoint_written")

    def _save_counts(self, work: WorkingSet) -> None:
        deltas: dict[tuple[str, str], int] = {}
        before = self._before
        orders = work.orders
        for key in work.dirty_orders:
            order = orders[key]
            new = (order.customer_id, order.status)
            old = before.get(key)
            if old == new:
                continue
            if old is not None:
                deltas[old] = deltas.get(old, 0) - 1
            deltas[new] = deltas.get(new, 0) + 1
            before[key] = new
        changes = [(cid, status, n) for (cid, status), n in sorted(deltas.items()) if n]
        if changes:
            self._con.executemany(_COUNTS_ADD, changes)
            if any(n < 0 for _, _, n in changes):
                self._con.execute(_COUNTS_PRUNE)

    def _save_search(self, work: WorkingSet) -> None:
        con = self._con
        touched = set(work.dirty_orders)
        touched.update(order_id for order_id, _ in work.dirty_lines)
        touched.update(order_id for order_id, _ in work.removed_lines)
        if work.customer_renames:
            rows = con.execute(_ORDERS_OF_CUSTOMERS, (_ids(list(work.customer_renames)),))
            touched.update(str(r[0]) for r in rows)
        if not touched or not _has_fts(con):
            return
        ids = _ids(touched)
        con.execute(_FTS_DELETE_IN, (ids,))
        con.execute(_FTS_INSERT_IN, (ids,))


_new_tuple = tuple.__new__
_QUEUE_AHEAD = 2
"""Chunks the scan's reader thread may have ready ahead of the projector (bounded memory)."""


class _ChunkReader:
    """A full scan's reader thread: one :data:`_SCAN_CHUNK` statement per position range,
    results handed over through a bounded queue; decoding stays in the consuming thread.

    The connection is used by the thread only until it ends (the consumer waits for that
    before touching it again: a fallback scan, or the snapshot's end).
    """

    _END = object()

    def __init__(self, con: sqlite3.Connection, after: int, head: int, chunk: int) -> None:
        self._con = con
        self._after = after
        self._head = head
        self._chunk = chunk
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=_QUEUE_AHEAD)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        if after < head:
            self._thread = threading.Thread(target=self._run, name="rebuild-scan", daemon=True)
            self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stopping.is_set():
            try:
                self._queue.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def _run(self) -> None:
        con, low, head, chunk = self._con, self._after, self._head, self._chunk
        try:
            while low < head:
                high = min(low + chunk, head)
                try:
                    texts = con.execute(_SCAN_CHUNK, (low, high)).fetchone()
                except sqlite3.Error:  # e.g. a chunk too big for one string: row by row
                    log.debug("rebuild scan: reading from %s row by row", low, exc_info=True)
                    self._put((low, None))
                    return
                if texts is not None and texts[0] is not None and not self._put((low, texts)):
                    return
                low = high
            self._put(self._END)
        except BaseException as exc:  # handed to the consumer, which raises it
            self._put(exc)

    def stop(self) -> None:
        """End the thread (it may be blocked on a full queue) and wait for it."""
        self._stopping.set()
        thread = self._thread
        if thread is not None:
            while thread.is_alive():
                with suppress(queue.Empty):
                    self._queue.get_nowait()
                thread.join(0.05)
            self._thread = None

    def chunks(self) -> Generator[list[EventRecord], None, None]:
        if self._thread is None:
            return
        get = self._queue.get
        while True:
            item = get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            low, texts = item
            records = _decode_chunk(texts) if texts is not None else None
            if records is None:  # not decodable as one chunk: the plain scan from here
                self.stop()
                yield from _plain_chunks(self._con, low, self._chunk)
                return
            yield records


def _decode_chunk(texts: tuple[Any, ...]) -> list[EventRecord] | None:
    """A :data:`_SCAN_CHUNK` row as records; None when it does not decode to equal-length,
    position-ordered columns (then the chunk is read row by row)."""
    loads = json.loads
    try:
        columns = [loads(text) for text in texts]
    except (TypeError, ValueError):
        return None
    positions = columns[0]
    size = len(positions)
    if any(len(column) != size for column in columns) or not all(
        map(operator.lt, positions, positions[1:])
    ):
        return None
    new, record = _new_tuple, EventRecord
    return [new(record, values) for values in zip(*columns, strict=True)]


def _plain_chunks(con: sqlite3.Connection, after: int, chunk: int) -> Iterator[list[EventRecord]]:
    """The row-by-row scan (``fetchmany``, one ``json.loads`` per chunk of payloads)."""
    cursor = con.execute(_SCAN_EVENTS, (after,))
    cursor.arraysize = chunk
    fetch = cursor.fetchmany
    loads = json.loads
    new = _new_tuple
    record = EventRecord
    try:
        while True:
            rows = fetch()
            if not rows:
                return
            # One loads over the joined payloads: measured faster than one per row.
            payloads = loads("[" + ",".join([row[5] for row in rows]) + "]")
            yield [
                new(record, (pos, sid, ver, tname, sver, payload, rec))
                for (pos, sid, ver, tname, sver, _, rec), payload in zip(
                    rows, payloads, strict=True
                )
            ]
    finally:
        cursor.close()


class _Explaining:
    """A connection stand-in that records each statement's query plan, then runs it."""

    def __init__(self, con: sqlite3.Connection, plans: list[str]) -> None:
        self._con = con
        self._plans = plans

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        rows = self._con.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        self._plans.extend(str(row[-1]) for row in rows)
        return self._con.execute(sql, params)


class SqliteReadModelStore:
    """The read model in the Order Desk SQLite file (implements ``ReadModelStore``)."""

    def __init__(self, database: Database, *, fault: FaultHook | None = None) -> None:
        self._db = database
        self.fault = fault
        self._kept: sqlite3.Connection | None = None
        self._kept_fairy: Any = None
        self._kept_lock = threading.Lock()
        self._token: str | None = None
        """This process's owner token while this store holds the read model (R33)."""

    @property
    def read_only(self) -> bool:
        """True when the database is open read-only."""
        return bool(self._db.read_only)

    # --- ownership (R33): one process projects into these tables at a time

    def claim(self, name: str) -> bool:
        """Become (or stay) the one process projecting into these tables; False when another
        process holds them (see :mod:`desktop_app.store.projector_lease`)."""
        if self._token is not None:
            return True
        self._db.ensure_writable()
        try:
            taken = projector_lease.acquire(self._db.path, name, host_name())
        except OSError as exc:
            lock = projector_lease.lock_path(self._db.path)
            raise StoreUnavailableError(
                f"The lists cannot be brought up to date: {lock} could not be used "
                f"({exc.strerror or exc})."
            ) from exc
        if taken is None:
            return False
        token, owner, new = taken
        if new:
            try:
                with self._db.raw_write() as con:
                    con.execute(
                        _SET_META,
                        (projector_lease.OWNER_KEY, projector_lease.owner_row(token, owner)),
                    )
                    self._adopt_checkpoint(con, READ_MODEL_CHECKPOINT)
            except BaseException:
                projector_lease.release(self._db.path, token)
                raise
            log.info("read model of %s: now projected by %s", self._db.path, owner.describe())
        self._token = token
        if new:  # tables of a rebuild cut short by a crash: gone, in short steps
            with self._db.raw() as con:
                _drop_leftovers(_Pacer(con))
        return True

    @staticmethod
    def _adopt_checkpoint(con: sqlite3.Connection, name: str) -> None:
        """One set of tables has ONE position, whatever the projector's name: a checkpoint row
        left under another name (before R33) becomes ``name``'s. Several rows mean the tables were
        written by several projectors (before R33): their rows cannot be trusted, so they are
        emptied and projected again from position 0."""
        rows = con.execute("SELECT name, position FROM rm_checkpoints").fetchall()
        if len(rows) == 1 and rows[0][0] != name:
            con.execute("UPDATE rm_checkpoints SET name = ?", (name,))
        elif len(rows) > 1:
            log.warning("read model written by several projectors %s: projecting it again", rows)
            for sql in _DELETE_ALL:
                con.execute(sql)
            _reset_fts(con)
            con.execute(_ENSURE_CHECKPOINT, (name,))

    def owner(self) -> ReadModelOwner | None:
        with self._db.raw() as con:
            row = con.execute(_GET_META, (projector_lease.OWNER_KEY,)).fetchone()
        parsed = projector_lease.parse_owner_row(str(row[0]) if row else None)
        return parsed[1] if parsed is not None else None

    def _check_owner(self, con: sqlite3.Connection) -> None:
        """Inside a write transaction: raise unless this store's token is the recorded owner."""
        token = self._token
        row = con.execute(_GET_META, (projector_lease.OWNER_KEY,)).fetchone()
        parsed = projector_lease.parse_owner_row(str(row[0]) if row else None)
        if token is not None and parsed is not None and parsed[0] == token:
            return
        if token is not None:  # the row says someone else: our lock was lost somehow
            log.warning("read model of %s: ownership lost to %s", self._db.path, parsed)
            projector_lease.discard(token)
            self._token = None
        raise NotReadModelOwnerError(parsed[1] if parsed is not None else None)

    def _release_ownership(self) -> None:
        token, self._token = self._token, None
        if token is None:
            return
        if projector_lease.release(self._db.path, token):
            try:  # a clean exit clears the row (a crash leaves it: the next owner replaces it)
                with self._db.raw_write() as con:
                    row = con.execute(_GET_META, (projector_lease.OWNER_KEY,)).fetchone()
                    parsed = projector_lease.parse_owner_row(str(row[0]) if row else None)
                    if parsed is not None and parsed[0] == token:
                        con.execute(_DELETE_META, (projector_lease.OWNER_KEY,))
            except Exception:
                log.debug("owner row not cleared", exc_info=True)

    # --- schema

    def prepare(self) -> bool:
        """Create missing tables; drop and recreate them when made by another schema version."""
        if self._db.read_only:
            return False
        with self._db.raw_write() as con:
            names = {
                str(r[0]) for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            reset = False
            if "rm_meta" in names:
                row = con.execute(
                    "SELECT value FROM rm_meta WHERE key = 'schema_version'"
                ).fetchone()
                if row is None or row[0] != str(READ_MODEL_SCHEMA_VERSION):
                    for ddl in _DROP_TABLES:
                        con.execute(ddl)
                    reset = True
            elif names & set(READ_MODEL_TABLES):
                for ddl in _DROP_TABLES:
                    con.execute(ddl)
                reset = True
            for ddl in _CREATE_TABLES:
                con.execute(ddl)
            indexes = _index_names(con)
            for index, ddl in (*_PROJECTOR_INDEXES, *_LIST_INDEXES):
                if other_index_name(index) not in indexes:  # a rebuild's second name
                    con.execute(ddl)
            if reset or "rm_order_search" not in names:
                try:
                    con.execute(_CREATE_FTS)
                except sqlite3.OperationalError:  # no FTS5 in this SQLite: searches scan
                    pass
                else:
                    con.execute(_FTS_FILL)  # rows made before the index existed (none if new)
            con.execute(
                "INSERT OR REPLACE INTO rm_meta (key, value) VALUES ('schema_version', ?)",
                (str(READ_MODEL_SCHEMA_VERSION),),
            )
        return reset

    def reset(self, name: str) -> None:
        with self._db.raw_write() as con:
            self._check_owner(con)
            for sql in _DELETE_ALL:
                con.execute(sql)
            _reset_fts(con)
            con.execute(_ENSURE_CHECKPOINT, (name,))

    def begin_bulk(self) -> None:
        with self._db.raw_write() as con:
            self._check_owner(con)
            for index in _DROP_INDEX:
                con.execute(index)

    def end_bulk(self) -> None:
        """Recreate the list indexes and recompute the counts and the search index from the
        rows (rows may have been written directly, as the P5 benchmark's builder does)."""
        with self._db.raw_write() as con:
            self._check_owner(con)
            for _, ddl in _LIST_INDEXES:
                con.execute(ddl)
            con.execute("DELETE FROM rm_order_counts")
            con.execute(_COUNTS_FILL)
            if _reset_fts(con):
                con.execute(_FTS_FILL)
            con.execute("ANALYZE")

    # --- projector side

    def checkpoint(self, name: str) -> int:
        with self._db.raw() as con:
            row = con.execute(_GET_CHECKPOINT, (name,)).fetchone()
        return int(row[0]) if row else 0

    def head_position(self) -> int:
        with self._db.raw() as con:
            row = con.execute("SELECT max(position) FROM events").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def read_events(self, *, after_position: int, limit: int) -> list[EventRecord]:
        with self._db.raw() as con:
            rows = con.execute(_READ_EVENTS, (after_position, limit)).fetchall()
        if not rows:
            return []
        # One json.loads for the whole batch: the per-call overhead dominates small payloads.
        payloads = json.loads("[" + ",".join([row[5] for row in rows]) + "]")
        make = EventRecord._make
        return [
            make((pos, sid, ver, tname, sver, payload, rec))
            for (pos, sid, ver, tname, sver, _, rec), payload in zip(rows, payloads, strict=True)
        ]

    @contextmanager
    def scan_events(
        self, *, after_position: int, chunk: int
    ) -> Iterator[Iterator[list[EventRecord]]]:
        """Every event after a position in lists of up to ``chunk``, from one read snapshot.

        The lean scan of a full rebuild: a reader thread has SQLite build each chunk's columns
        as JSON array texts (:data:`_SCAN_CHUNK`, no GIL held) while the caller works on the
        previous chunk; the caller's thread decodes them (one ``json.loads`` per column). If a
        chunk cannot be read that way (odd stored values), the rest is read row by row.
        """
        with self._db.raw_read() as con:
            row = con.execute(_SCAN_HEAD).fetchone()  # starts the snapshot
            head = int(row[0]) if row and row[0] is not None else 0
            reader = _ChunkReader(con, after_position, head, max(1, chunk))
            chunks = reader.chunks()
            try:
                yield chunks
            finally:
                chunks.close()  # a fallback's cursor, if any, before the snapshot ends
                reader.stop()

    def replace_all(
        self,
        name: str,
        work: WorkingSet,
        checkpoint: int,
        progress: Callable[[float], None] | None = None,
    ) -> None:
        """Swap the whole read model for ``work`` at ``checkpoint``, never holding the write
        lock for long (R34: clerks' commands go on meanwhile).

        The new tables are built ASIDE (``rmn_*``) in short write transactions with room for
        other writers between them (:class:`_Pacer`): rows in primary-key order with plain
        INSERTs, then the search index, then each secondary index with one sort. Then ONE short
        transaction renames the live tables away (``rmo_*``) and the new ones in, and sets the
        checkpoint; the old tables are dropped afterwards, again in short steps. Readers see
        the old read model until the swap. A crash leaves at most leftover ``rmn_``/``rmo_``
        tables, which the next rebuild drops. ``progress(fraction)`` reports the write.
        """
        self._db.ensure_writable()
        with self._db.raw() as con:
            synchronous = int(con.execute("PRAGMA synchronous").fetchone()[0])
            for pragma in _REBUILD_PRAGMAS:
                con.execute(pragma)
            if synchronous in _SYNC_RESTORE:
                # The commits do not wait for the new read model to reach the disk (seconds
                # of fsync at 1M events): after a power loss the OLD read model and checkpoint
                # are still there, consistent (WAL), and the projector catches up again. The
                # next FULL commit (or checkpoint) syncs these WAL frames too.
                con.execute("PRAGMA synchronous = NORMAL")
            pacer = _Pacer(con)
            try:
                self._replace_all(pacer, name, work, checkpoint, progress)
                log.info(
                    "read model rebuilt aside; longest write step %.0f ms", pacer.longest * 1e3
                )
            finally:
                if con.in_transaction:
                    with suppress(sqlite3.Error):
                        con.execute("ROLLBACK")
                for pragma in _RESTORE_PRAGMAS:
                    con.execute(pragma)
                restore = _SYNC_RESTORE.get(synchronous)
                if restore is not None:
                    con.execute(restore)

    def _replace_all(
        self,
        pacer: _Pacer,
        name: str,
        work: WorkingSet,
        checkpoint: int,
        progress: Callable[[float], None] | None,
    ) -> None:
        # Estimated cost units (measured at 1M orders): a row insert 1, its search-index doc
        # about 3, each index build about 0.6 per order.
        n_orders = len(work.orders)
        n_lines = sum(len(lines) for lines in work.lines.values())
        indexes = len(_PROJECTOR_INDEXES) + len(_LIST_INDEXES)
        total = max(1.0, n_orders * (1 + 3 + 0.6 * indexes) + n_lines)
        done = 0.0

        def advance(units: float) -> None:
            nonlocal done
            done += units
            if progress is not None:
                progress(min(1.0, done / total))

        advance(0)
        con = pacer.con
        with pacer.step():
            self._check_owner(con)
            fts = _has_fts(con)
        _drop_leftovers(pacer)  # of a rebuild that crashed
        with pacer.step():
            for ddl in _CREATE_ASIDE:
                con.execute(ddl)
            if fts:
                con.execute(fts_ddl(aside_name(SEARCH_TABLE)))
            live = _index_names(con)
            for index, _ in (*_PROJECTOR_INDEXES, *_LIST_INDEXES):
                if index in _GROWN_INDEXES:
                    con.execute(_aside_index(index, live))
        self._fault_step("replace_cleared")
        counts: dict[tuple[str, str], int] = {}
        aside = _ASIDE_NAMES
        pacer.insert(_INSERT_ORDER_T.format_map(aside), _order_rows(work.orders, counts), advance)
        pacer.insert(_INSERT_LINE_T.format_map(aside), _line_rows(work.lines), advance)
        pacer.insert(
            _COUNTS_INSERT_T.format_map(aside),
            [(c, s, n) for (c, s), n in sorted(counts.items())],
            None,
        )
        customers = work.customers
        pacer.insert(
            _INSERT_CUSTOMER_T.format_map(aside),
            [_customer_row(customers[k]) for k in sorted(customers)],
            None,
        )
        pacer.insert(
            _INSERT_FORMER_NAME_T.format_map(aside),
            sorted({(cid, fold(name)) for cid, name in work.former_names}),
            None,
        )
        products = work.products
        pacer.insert(
            _INSERT_PRODUCT_T.format_map(aside),
            [_product_row(products[k]) for k in sorted(products)],
            None,
        )
        self._fault_step("replace_rows_written")
        if fts:  # by ranges of rid (1..n_orders: the rows were inserted into an empty table)
            fill = _FTS_FILL_T.format_map(aside) + _FTS_RID_RANGE
            pacer.ranges(fill, n_orders, lambda n: advance(3 * n))
        else:
            advance(3 * n_orders)
        for index, _ in (*_PROJECTOR_INDEXES, *_LIST_INDEXES):
            if index not in _GROWN_INDEXES:  # one sort each: the longest steps of a rebuild
                with pacer.step():
                    con.execute(_aside_index(index, live))
            advance(0.6 * n_orders)
        self._fault_step("replace_aside")
        # The swap: renames only (no rows move), the checkpoint, the owner check.
        with pacer.step():
            self._check_owner(con)
            for table in (*_SWAPPED, *((SEARCH_TABLE,) if fts else ())):
                retired = RETIRED_PREFIX + table.removeprefix("rm_")
                con.execute(f"ALTER TABLE {table} RENAME TO {retired}")
                con.execute(f"ALTER TABLE {aside_name(table)} RENAME TO {table}")
            con.execute("DELETE FROM rm_checkpoints")
            con.execute(_SET_CHECKPOINT, (name, checkpoint))
        self._fault_step("replace_swapped")
        with pacer.step():  # statistics of the new tables, approximate, quickly
            con.execute("PRAGMA analysis_limit = 1000")
            for analyze in _ANALYZE:
                con.execute(analyze)
        _drop_leftovers(pacer)  # the old tables, in short steps
        advance(total)
        self._fault_step("replace_done")

    def _fault_step(self, step: str) -> None:
        if self.fault is not None:
            self.fault(step)

    def data_version(self) -> int:
        with self._kept_lock, store_errors():
            if self._kept is None:
                fairy = self._db.engine.raw_connection()
                con = fairy.driver_connection
                assert isinstance(con, sqlite3.Connection)
                self._kept_fairy, self._kept = fairy, con
            return int(self._kept.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        """Give back ownership of the read model (if held) and the connection kept for
        ``data_version``."""
        self._release_ownership()
        with self._kept_lock:
            fairy, self._kept_fairy, self._kept = self._kept_fairy, None, None
        if fairy is not None:
            fairy.close()

    @contextmanager
    def batch(self, name: str, expected_checkpoint: int) -> Iterator[_Batch]:
        with self._db.raw_write() as con:
            con.execute(_CACHE_SIZE)
            self._check_owner(con)
            con.execute(_ENSURE_CHECKPOINT, (name,))
            row = con.execute(_GET_CHECKPOINT, (name,)).fetchone()
            actual = int(row[0]) if row else 0
            if actual != expected_checkpoint:
                raise CheckpointConflictError(name, expected_checkpoint, actual)
            yield _Batch(con, name, expected_checkpoint, self.fault)

    # --- queries

    def list_orders(
        self, query: ListOrdersSpec
    ) -> tuple[list[OrderRecord], int | None, str | None]:
        return self._list_orders(query, None)

    def explain_list_orders(self, query: ListOrdersSpec) -> list[str]:
        """The query plan (``EXPLAIN QUERY PLAN`` details) of every statement ``list_orders``
        runs for ``query``: tests use it to prove a list is served by index ranges."""
        plans: list[str] = []
        self._list_orders(query, plans)
        return plans

    def _list_orders(
        self, query: ListOrdersSpec, plans: list[str] | None
    ) -> tuple[list[OrderRecord], int | None, str | None]:
        sort_sql = SORT_SQL[query.sort]  # KeyError here means the handler skipped validation
        after = None
        if query.after is not None:
            after = decode_cursor(query.after, query.sort, query.descending)
        with self._db.raw_read() as raw:
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
                total = int(con.execute(_COUNT_STATUSES, (_ids(wanted),)).fetchone()[0])
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
            params.append(_ids(set(query.statuses)))
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
            fts = fts_query(needle) if _has_fts(con) else None
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
                            (query.customer_id, _ids(set(query.statuses))),
                        ).fetchone()[0]
                    )
            return rows, total

        if fts is not None:
            try:
                return run(True)
            except sqlite3.OperationalError:  # e.g. FTS5 missing in this SQLite build: scan
                log.warning("search index unusable; scanning", exc_info=True)
        return run(False)

    def get_order(self, order_id: str) -> OrderDetailRecord | None:
        with self._db.raw_read() as con:
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
        return OrderDetailRecord(
            order=_order_record(row),
            lines=tuple(_line_state(r) for r in lines),
            tracking_number=row[12],
            carrier=row[13],
            cancel_reason=row[14],
        )

    def find_order_by_number(self, order_number: str) -> OrderRecord | None:
        with self._db.raw() as con:
            row = con.execute(
                _FIND_BY_NUMBER,
                (order_number,),
            ).fetchone()
        return None if row is None else _order_record(row)

    def list_customers(self, search: str | None, limit: int) -> list[CustomerState]:
        with self._db.raw_read() as con:
            current = con.execute(_HAS_NAMES).fetchone() is not None
            cols = _CUSTOMER_COLS if current else _CUSTOMER_COLS_OLD
            if search:
                sql = _CUSTOMERS_SEARCH_FORMER if current else _CUSTOMERS_SEARCH
                rows = con.execute(sql.format(cols=cols), (fold(search), limit)).fetchall()
            else:
                rows = con.execute(_CUSTOMERS_ALL.format(cols=cols), (limit,)).fetchall()
        return [_customer_state(r) for r in rows]

    def customer_names(self) -> list[tuple[str, str]]:
        with self._db.raw() as con:
            return [(str(cid), str(name)) for cid, name in con.execute(_CUSTOMER_NAMES)]

    def get_customers(self, customer_ids: Sequence[str]) -> list[CustomerState]:
        if not customer_ids:
            return []
        with self._db.raw_read() as con:
            current = con.execute(_HAS_NAMES).fetchone() is not None
            sql = _SELECT_CUSTOMERS_IN
            if not current:
                sql = sql.replace("registered_at FROM", "'' FROM")
            rows = con.execute(sql, (_ids(list(customer_ids)),)).fetchall()
        by_id = {state.customer_id: state for state in map(_customer_state, rows)}
        return [by_id[cid] for cid in customer_ids if cid in by_id]

    def list_products(
        self, search: str | None, include_discontinued: bool, limit: int
    ) -> list[ProductState]:
        needle = fold(search) if search else ""
        with self._db.raw() as con:
            rows = con.execute(
                _PRODUCTS,
                (needle, needle, needle, int(include_discontinued), limit),
            ).fetchall()
        return [_product_state(r) for r in rows]
