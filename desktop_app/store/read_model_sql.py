"""SQL statements and row conversions shared by the SQLite read-model modules.

Every SQL text here is a constant or a join of constant fragments chosen from allow-lists; values
only ever travel as bound parameters (R20). For the SQLite read-model modules of this package
(projection_target, read_model_rebuild, order_queries); other backends have their own.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from typing import Any

from desktop_app.application.ports import (
    CustomerState,
    LineState,
    OrderState,
    ProductState,
    ReadModelKeys,
    WorkingSet,
)
from desktop_app.store.list_rules import fold
from desktop_app.store.schema import (
    LIST_INDEXES,
    PROJECTOR_INDEXES,
    READ_MODEL_TABLES,
    SEARCH_TABLE,
    aside_name,
    create_index_sql,
    create_table_sql,
    fts_ddl,
    other_index_name,
    read_model_metadata,
    rm_meta,
)

READ_MODEL_SCHEMA_VERSION = 3
"""Bump when the read-model tables change: the next start drops them and rebuilds."""

FaultHook = Callable[[str], None]
"""Called with a step name inside a batch (tests inject crashes there)."""

LIVE_TABLES = {t.removeprefix("rm_"): t for t in READ_MODEL_TABLES}
"""Placeholder -> live table name, for the statements a rebuild also runs on its aside tables
(written as templates: ``{orders}`` is ``rm_orders`` live, ``rmn_orders`` aside)."""
ASIDE_TABLES = {key: aside_name(name) for key, name in LIVE_TABLES.items()}

CREATE_TABLES = tuple(create_table_sql(t) for t in read_model_metadata.sorted_tables)
PROJECTOR_INDEX_DDL = tuple((str(i.name), create_index_sql(i)) for i in PROJECTOR_INDEXES)
LIST_INDEX_DDL = tuple((str(i.name), create_index_sql(i)) for i in LIST_INDEXES)
INDEXES_BY_NAME = {str(i.name): i for i in (*PROJECTOR_INDEXES, *LIST_INDEXES)}

DROP_INDEX = tuple(
    "DROP INDEX IF EXISTS " + name
    for index, _ in LIST_INDEX_DDL
    for name in (index, other_index_name(index))  # either of its names
)
DROP_TABLES = tuple("DROP TABLE IF EXISTS " + name for name in READ_MODEL_TABLES)
DELETE_ALL = tuple(
    "DELETE FROM " + t.name  # noqa: S608 (names from the metadata, no input)
    for t in read_model_metadata.sorted_tables
    if t is not rm_meta
)

SELECT_ORDERS_IN = """SELECT o.order_id, o.order_number, o.customer_id, o.customer_name,
    o.status, o.line_count, o.total_minor, o.currency, o.placed_at, o.updated_at, o.version,
    o.last_position, o.tracking_number, o.carrier, o.cancel_reason
    FROM rm_orders AS o WHERE o.order_id IN (SELECT value FROM json_each(?))"""
SELECT_LINES_IN = """SELECT order_id, line_id, product_id, sku, product_name, quantity,
    unit_price_minor, currency, seq
    FROM rm_order_lines WHERE order_id IN (SELECT value FROM json_each(?))"""
SELECT_CUSTOMERS_IN = """SELECT customer_id, name, order_count, lifetime_value, version,
    registered_at FROM rm_customers WHERE customer_id IN (SELECT value FROM json_each(?))"""
SELECT_PRODUCTS_IN = """SELECT product_id, sku, name, price_minor, currency, discontinued,
    units_sold, version
    FROM rm_products WHERE product_id IN (SELECT value FROM json_each(?))"""
INSERT_FORMER_NAME_T = (
    "INSERT OR IGNORE INTO {customer_names} (customer_id, name_fold) VALUES (?, ?)"
)
INSERT_FORMER_NAME = INSERT_FORMER_NAME_T.format_map(LIVE_TABLES)

UPSERT_ORDER = """INSERT INTO rm_orders (order_id, order_number, number_fold, customer_id,
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

UPSERT_LINE = """INSERT INTO rm_order_lines (order_id, line_id, product_id, sku, sku_fold,
    product_name, quantity, unit_price_minor, line_total_minor, currency, seq)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (order_id, line_id) DO UPDATE SET product_id = excluded.product_id,
    sku = excluded.sku, sku_fold = excluded.sku_fold, product_name = excluded.product_name,
    quantity = excluded.quantity, unit_price_minor = excluded.unit_price_minor,
    line_total_minor = excluded.line_total_minor, currency = excluded.currency,
    seq = excluded.seq"""

UPSERT_CUSTOMER = """INSERT INTO rm_customers (customer_id, name, name_fold, order_count,
    lifetime_value, version, registered_at) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (customer_id) DO UPDATE SET name = excluded.name,
    name_fold = excluded.name_fold, order_count = excluded.order_count,
    lifetime_value = excluded.lifetime_value, version = excluded.version,
    registered_at = excluded.registered_at"""

UPSERT_PRODUCT = """INSERT INTO rm_products (product_id, sku, sku_fold, name, name_fold,
    price_minor, currency, discontinued, units_sold, version)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (product_id) DO UPDATE SET sku = excluded.sku, sku_fold = excluded.sku_fold,
    name = excluded.name, name_fold = excluded.name_fold, price_minor = excluded.price_minor,
    currency = excluded.currency, discontinued = excluded.discontinued,
    units_sold = excluded.units_sold, version = excluded.version"""

RENAME_CUSTOMER = "UPDATE rm_orders SET customer_name = ?, customer_fold = ? WHERE customer_id = ?"
RENAME_PRODUCT = "UPDATE rm_order_lines SET product_name = ? WHERE product_id = ?"
DELETE_LINE = "DELETE FROM rm_order_lines WHERE order_id = ? AND line_id = ?"
GET_CHECKPOINT = "SELECT position FROM rm_checkpoints WHERE name = ?"
ENSURE_CHECKPOINT = "INSERT OR IGNORE INTO rm_checkpoints (name, position) VALUES (?, 0)"
CAS_CHECKPOINT = "UPDATE rm_checkpoints SET position = ? WHERE name = ? AND position = ?"
GET_META = "SELECT value FROM rm_meta WHERE key = ?"
SET_META = "INSERT OR REPLACE INTO rm_meta (key, value) VALUES (?, ?)"
DELETE_META = "DELETE FROM rm_meta WHERE key = ?"

CACHE_SIZE = "PRAGMA cache_size = -32768"
"""32 MB page cache on a connection that runs a projector batch (random-key upserts)."""
BATCH_AUTOCHECKPOINT = "PRAGMA wal_autocheckpoint = 8000"
"""The projector's batches fold the WAL into the file every ~32 MB, not every ~4 MB: a batch
writes ~150 pages (the same index pages again and again), and each checkpoint writes the
pages and syncs the file in the middle of a batch's commit, beside the clerk's own syncs
(synchronous=FULL). Fewer checkpoints write each hot page once for many batches; the WAL job
still checkpoints an idle (or a large) WAL, and journal_size_limit trims it."""

# --- free-text search index: an FTS5 trigram table of each order's folded number, customer
# name and SKUs (rowid = rm_orders.rid), maintained in the projector's transactions. It only
# narrows the candidates (an AND of the pattern's trigrams, each a quoted FTS string, so no
# pattern text is ever FTS syntax): the exact ``_SEARCH_ORDERS`` filter still decides, so the
# result is exactly the plain substring filter's. Patterns under 3 characters scan.
CREATE_FTS = fts_ddl()
_DROP_FTS = "DROP TABLE IF EXISTS " + SEARCH_TABLE
_HAS_FTS = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'rm_order_search'"
FTS_FILL_T = (
    "INSERT INTO {order_search} (rowid, doc) SELECT o.rid, o.number_fold || char(31) || "
    "o.customer_fold || coalesce((SELECT char(31) || group_concat(l.sku_fold, char(31)) "
    "FROM {order_lines} AS l WHERE l.order_id = o.order_id), '') FROM {orders} AS o"
)
FTS_FILL = FTS_FILL_T.format_map(LIVE_TABLES)
FTS_INSERT_IN = " ".join((FTS_FILL, "WHERE o.order_id IN (SELECT value FROM json_each(?))"))
FTS_DELETE_IN = (
    "DELETE FROM rm_order_search WHERE rowid IN (SELECT rid FROM rm_orders "
    "WHERE order_id IN (SELECT value FROM json_each(?)))"
)
FTS_DELETE_ROWID = "DELETE FROM rm_order_search WHERE rowid = ?"
FTS_INSERT_DOC = "INSERT INTO rm_order_search (rowid, doc) VALUES (?, ?)"
SEPARATOR = "\x1f"
"""char(31): between the parts of a search document (no pattern holds it)."""
RIDS_IN = "SELECT order_id, rid FROM rm_orders WHERE order_id IN (SELECT value FROM json_each(?))"
ORDERS_OF_CUSTOMERS = (
    "SELECT order_id FROM rm_orders WHERE customer_id IN (SELECT value FROM json_each(?))"
)

# --- exact order counts per (customer, status)
COUNTS_ADD = """INSERT INTO rm_order_counts (customer_id, status, n) VALUES (?, ?, ?)
    ON CONFLICT (customer_id, status) DO UPDATE SET n = n + excluded.n"""
COUNTS_PRUNE = "DELETE FROM rm_order_counts WHERE n = 0"
COUNTS_INSERT_T = "INSERT INTO {order_counts} (customer_id, status, n) VALUES (?, ?, ?)"
COUNTS_FILL = (
    "INSERT INTO rm_order_counts (customer_id, status, n) "
    "SELECT customer_id, status, count(*) FROM rm_orders GROUP BY customer_id, status"
)


def has_fts(con: sqlite3.Connection) -> bool:
    """True when the file has the FTS5 search table."""
    return con.execute(_HAS_FTS).fetchone() is not None


def reset_fts(con: sqlite3.Connection) -> bool:
    """Empty the search index quickly (drop + create); False when there is none."""
    if not has_fts(con):
        return False
    con.execute(_DROP_FTS)
    con.execute(CREATE_FTS)
    return True


def json_ids(values: set[str] | list[str]) -> str:
    """Ids as one JSON array text (for ``IN (SELECT value FROM json_each(?))``)."""
    return json.dumps(sorted(values), ensure_ascii=False)


def order_state(row: Any) -> OrderState:
    """A :data:`SELECT_ORDERS_IN` row as the projector's mutable order."""
    return OrderState(*row)


def line_state(row: Any) -> LineState:
    """A :data:`SELECT_LINES_IN` row as the projector's mutable line."""
    return LineState(*row)


RowsOf = Callable[[str, set[str]], Iterable[Any]]
"""Runs one of the four "rows of these ids" statements with the ids as the backend passes
them (SQLite: one JSON array text; PostgreSQL: an array)."""


def load_working_set(
    keys: ReadModelKeys,
    rows_of: RowsOf,
    statements: tuple[str, str, str, str],
    before: dict[str, tuple[str, str]],
) -> WorkingSet:
    """The rows a projector batch touches (orders with their lines, their customers and the
    lines' products), by the backend's ``statements`` for orders, lines, customers and
    products; ``before`` gets each loaded order's (customer, status), where the count deltas
    start. One reading for both backends' targets."""
    select_orders, select_lines, select_customers, select_products = statements
    work = WorkingSet()
    if keys.orders:
        ids = set(keys.orders)
        for row in rows_of(select_orders, ids):
            order = order_state(row)
            work.orders[order.order_id] = order
            before[order.order_id] = (order.customer_id, order.status)
        for row in rows_of(select_lines, ids):
            line = line_state(row)
            work.lines.setdefault(line.order_id, {})[line.line_id] = line
    customers = set(keys.customers)
    customers.update(o.customer_id for o in work.orders.values())
    if customers:
        for row in rows_of(select_customers, customers):
            customer = customer_state(row)
            work.customers[customer.customer_id] = customer
    products = set(keys.products)
    for lines in work.lines.values():
        products.update(line.product_id for line in lines.values())
    if products:
        for row in rows_of(select_products, products):
            product = product_state(row)
            work.products[product.product_id] = product
    return work


def customer_state(row: Any) -> CustomerState:
    """A customer row (lifetime value decoded from its JSON text)."""
    cid, name, count, ltv, version, registered_at = row
    return CustomerState(
        customer_id=str(cid),
        name=str(name),
        order_count=int(count),
        lifetime_value=dict(json.loads(str(ltv))),
        version=int(version),
        registered_at=str(registered_at or ""),
    )


def product_state(row: Any) -> ProductState:
    """A product row."""
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


def order_params(o: OrderState) -> tuple[Any, ...]:
    """:data:`UPSERT_ORDER` parameters of an order (with its folded search texts)."""
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


def line_params(ln: LineState) -> tuple[Any, ...]:
    """:data:`UPSERT_LINE` parameters of a line (with the SKU fold and the line total)."""
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


def customer_params(c: CustomerState) -> tuple[Any, ...]:
    """:data:`UPSERT_CUSTOMER` parameters of a customer."""
    return (
        c.customer_id,
        c.name,
        fold(c.name),
        c.order_count,
        json.dumps(c.lifetime_value, sort_keys=True),
        c.version,
        c.registered_at,
    )


def product_params(p: ProductState) -> tuple[Any, ...]:
    """:data:`UPSERT_PRODUCT` parameters of a product."""
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
