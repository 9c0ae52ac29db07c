"""The read-model tables are defined once (SQLAlchemy metadata in store/schema.py) and the DDL
generated from it: the tables it makes are the very tables the former hand-written DDL made, so
files made before open unchanged (no rebuild), and a rebuild's aside tables match the live ones."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from desktop_app.store import schema
from desktop_app.store.engine import open_database
from desktop_app.store.read_model import (
    READ_MODEL_SCHEMA_VERSION,
    SqliteProjectionTarget,
    open_read_model_database,
)
from desktop_app.store.read_model_file import READ_MODEL_APPLICATION_ID, read_model_path

# The hand-written DDL the read model was created with up to read-model schema 3 (verbatim).
FORMER_DDL = (
    """CREATE TABLE IF NOT EXISTS rm_meta (
        key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS rm_checkpoints (
        name TEXT PRIMARY KEY, position INTEGER NOT NULL) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS rm_orders (
        rid INTEGER PRIMARY KEY,
        order_id TEXT NOT NULL UNIQUE,
        order_number TEXT NOT NULL,
        number_fold TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        customer_name TEXT NOT NULL,
        customer_fold TEXT NOT NULL,
        status TEXT NOT NULL,
        line_count INTEGER NOT NULL,
        total_minor INTEGER NOT NULL,
        currency TEXT NOT NULL,
        placed_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        version INTEGER NOT NULL,
        last_position INTEGER NOT NULL,
        tracking_number TEXT,
        carrier TEXT,
        cancel_reason TEXT)""",
    """CREATE TABLE IF NOT EXISTS rm_order_lines (
        order_id TEXT NOT NULL,
        line_id TEXT NOT NULL,
        product_id TEXT NOT NULL,
        sku TEXT NOT NULL,
        sku_fold TEXT NOT NULL,
        product_name TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        unit_price_minor INTEGER NOT NULL,
        line_total_minor INTEGER NOT NULL,
        currency TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (order_id, line_id)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS rm_customers (
        customer_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        name_fold TEXT NOT NULL,
        order_count INTEGER NOT NULL,
        lifetime_value TEXT NOT NULL,
        version INTEGER NOT NULL,
        registered_at TEXT NOT NULL DEFAULT '')""",
    """CREATE TABLE IF NOT EXISTS rm_customer_names (
        customer_id TEXT NOT NULL,
        name_fold TEXT NOT NULL,
        PRIMARY KEY (customer_id, name_fold)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS rm_products (
        product_id TEXT PRIMARY KEY,
        sku TEXT NOT NULL,
        sku_fold TEXT NOT NULL,
        name TEXT NOT NULL,
        name_fold TEXT NOT NULL,
        price_minor INTEGER NOT NULL,
        currency TEXT NOT NULL,
        discontinued INTEGER NOT NULL,
        units_sold INTEGER NOT NULL,
        version INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS rm_order_counts (
        customer_id TEXT NOT NULL,
        status TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (customer_id, status)) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS rm_orders_customer ON rm_orders (customer_id, placed_at)",
    "CREATE INDEX IF NOT EXISTS rm_order_lines_product ON rm_order_lines (product_id)",
    "CREATE INDEX IF NOT EXISTS rm_orders_s_number ON rm_orders (status, order_number, order_id)",
    "CREATE INDEX IF NOT EXISTS rm_orders_s_cname ON rm_orders (status, customer_fold, order_id)",
    "CREATE INDEX IF NOT EXISTS rm_orders_sstatus ON rm_orders (status, order_id)",
    "CREATE INDEX IF NOT EXISTS rm_orders_s_lines ON rm_orders (status, line_count, order_id)",
    "CREATE INDEX IF NOT EXISTS rm_orders_s_total ON rm_orders (status, total_minor, order_id)",
    "CREATE INDEX IF NOT EXISTS rm_orders_s_placed ON rm_orders (status, placed_at, order_id)",
    "CREATE INDEX IF NOT EXISTS rm_orders_s_updated ON rm_orders (status, updated_at, order_id)",
    "CREATE INDEX IF NOT EXISTS rm_orders_s_version ON rm_orders (status, version, order_id)",
    "CREATE INDEX IF NOT EXISTS rm_customers_name ON rm_customers (name_fold, customer_id)",
    "CREATE INDEX IF NOT EXISTS rm_products_sku ON rm_products (sku, product_id)",
    "CREATE VIRTUAL TABLE IF NOT EXISTS rm_order_search USING "
    "fts5(doc, tokenize = 'trigram', detail = 'none')",
)

_FORMER_PRODUCT_INDEX = (
    "CREATE INDEX IF NOT EXISTS rm_order_lines_product ON rm_order_lines (product_id)"
)
_PRODUCT_INDEX = (
    "CREATE INDEX IF NOT EXISTS rm_order_lines_product ON rm_order_lines (product_id, seq)"
)
CURRENT_DDL = tuple(_PRODUCT_INDEX if d == _FORMER_PRODUCT_INDEX else d for d in FORMER_DDL)
"""The former DDL with the one change since: the lines' product index ends with ``seq`` (new
lines are appended to each product's range instead of scattered by their order's id)."""


def _generated_ddl() -> list[str]:
    tables = [schema.create_table_sql(t) for t in schema.read_model_metadata.sorted_tables]
    indexes = [
        schema.create_index_sql(i) for i in (*schema.PROJECTOR_INDEXES, *schema.LIST_INDEXES)
    ]
    return [*tables, *indexes, schema.fts_ddl()]


def _structure(con: sqlite3.Connection, prefix: str = "rm_") -> dict[str, Any]:
    """What SQLite made of the DDL (not its text): columns with types, NOT NULL, defaults and
    key positions; rowid or not; every index with its columns, uniqueness and origin."""
    out: dict[str, Any] = {}
    tables = con.execute(
        "SELECT name, type, ncol, wr FROM pragma_table_list WHERE substr(name, 1, ?) = ? "
        "AND name NOT LIKE '%search%' ORDER BY name",
        (len(prefix), prefix),
    ).fetchall()
    for name, kind, ncol, without_rowid in tables:
        key = "rm_" + str(name)[len(prefix) :]
        columns = con.execute(f"PRAGMA table_xinfo({name})").fetchall()
        indexes = []
        for _, index, unique, origin, partial in con.execute(f"PRAGMA index_list({name})"):
            cols = [r[2] for r in con.execute(f"PRAGMA index_info({index})")]
            label = index if origin == "c" else origin  # auto-index names are SQLite's own
            if isinstance(label, str) and label.startswith(("rm_", "rmn_")):
                label = label.split("_", 1)[1]
            indexes.append((label, unique, origin, partial, cols))
        out[key] = (kind, ncol, without_rowid, columns, sorted(indexes))
    return out


def _make(path: Path, ddl: list[str] | tuple[str, ...]) -> sqlite3.Connection:
    con = sqlite3.connect(path)
    for statement in ddl:
        con.execute(statement)
    return con


def test_generated_ddl_makes_the_tables_the_former_ddl_made(tmp_path: Path) -> None:
    assert CURRENT_DDL != FORMER_DDL
    former = _make(tmp_path / "former.sqlite3", CURRENT_DDL)
    generated = _make(tmp_path / "generated.sqlite3", _generated_ddl())
    try:
        assert _structure(generated) == _structure(former)
        assert len(_structure(generated)) == len(schema.read_model_metadata.tables)
        # rid is still the rowid (an alias): rows inserted without it get one; the search
        # table's rowids point at it.
        generated.execute(
            "INSERT INTO rm_orders (order_id, order_number, number_fold, customer_id, "
            "customer_name, customer_fold, status, line_count, total_minor, currency, "
            "placed_at, updated_at, version, last_position) "
            "VALUES ('o', '1', '1', 'c', 'C', 'c', 'placed', 0, 0, 'EUR', 't', 't', 1, 1)"
        )
        assert generated.execute("SELECT rid = rowid FROM rm_orders").fetchone() == (1,)
    finally:
        former.close()
        generated.close()


def _made_with(path: Path, ddl: tuple[str, ...]) -> list[Any]:
    """A read model's file beside the database ``path`` made with ``ddl`` (stamped with the
    current read-model version), opened and prepared as the app does; its ``sqlite_master``
    before and after."""
    open_database(path).close()
    con = _make(read_model_path(path), ddl)  # the read model's own file
    con.execute(f"PRAGMA application_id = {READ_MODEL_APPLICATION_ID}")
    con.execute(
        "INSERT INTO rm_meta (key, value) VALUES ('schema_version', ?)",
        (str(READ_MODEL_SCHEMA_VERSION),),
    )
    con.commit()
    before = con.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    con.close()
    db = open_database(path)
    read_db = open_read_model_database(db)
    assert read_db.path == read_model_path(path)
    store = SqliteProjectionTarget(read_db, events=db)
    try:
        assert store.prepare() is False  # no reset, no rebuild
    finally:
        store.close()
        read_db.close()
        db.close()
    con = sqlite3.connect(read_model_path(path))
    after = con.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    con.close()
    return [before, after]


def test_a_file_made_with_the_current_ddl_opens_unchanged(tmp_path: Path) -> None:
    before, after = _made_with(tmp_path / "orders.sqlite3", CURRENT_DDL)
    assert after == before


def test_a_file_made_with_the_former_ddl_gets_the_product_index_made_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "orders.sqlite3"
    before, after = _made_with(path, FORMER_DDL)
    changed = {row[1] for row in set(after) ^ set(before)}
    assert changed == {"rm_order_lines_product"}  # the rest opens unchanged: no rebuild
    con = sqlite3.connect(read_model_path(path))
    try:
        columns = [r[2] for r in con.execute("PRAGMA index_info(rm_order_lines_product)")]
    finally:
        con.close()
    assert columns == ["product_id", "seq"]


def test_aside_tables_are_the_live_tables_under_other_names(tmp_path: Path) -> None:
    con = _make(tmp_path / "a.sqlite3", _generated_ddl())
    try:
        swapped = [t for t in schema.read_model_metadata.sorted_tables if t.name.startswith("rm_")]
        for table in swapped:
            con.execute(schema.create_table_sql(schema.aside_table(table)))
        for index in (*schema.PROJECTOR_INDEXES, *schema.LIST_INDEXES):
            assert index.table is not None
            con.execute(
                schema.create_index_sql(
                    index,
                    name=schema.other_index_name(str(index.name)),
                    table=schema.aside_table(index.table),
                )
            )
        live, aside = _structure(con), _structure(con, schema.ASIDE_PREFIX)
        assert aside == live
    finally:
        con.close()
