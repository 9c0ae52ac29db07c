"""Helpers for the read-side tests: apps on a tmp file, comparing read models, a writer child."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from desktop_app.application import queries as q
from desktop_app.bootstrap import App, bootstrap
from desktop_app.config import Settings
from desktop_app.store.read_model_file import read_model_path

READ_MODEL_QUERIES = {
    "orders": "SELECT order_id, order_number, number_fold, customer_id, customer_name, "
    "customer_fold, status, line_count, total_minor, currency, placed_at, updated_at, version, "
    "last_position, tracking_number, carrier, cancel_reason FROM rm_orders ORDER BY order_id",
    "lines": "SELECT order_id, line_id, product_id, sku, sku_fold, product_name, quantity, "
    "unit_price_minor, line_total_minor, currency, seq FROM rm_order_lines "
    "ORDER BY order_id, line_id",
    "customers": "SELECT customer_id, name, name_fold, order_count, lifetime_value, version "
    "FROM rm_customers ORDER BY customer_id",
    "products": "SELECT product_id, sku, sku_fold, name, name_fold, price_minor, currency, "
    "discontinued, units_sold, version FROM rm_products ORDER BY product_id",
    "counts": "SELECT customer_id, status, n FROM rm_order_counts WHERE n != 0 "
    "ORDER BY customer_id, status",
    "former_names": "SELECT customer_id, name_fold FROM rm_customer_names "
    "ORDER BY customer_id, name_fold",
}


def open_app(path: Path, **kwargs: Any) -> App:
    """A composed app on ``path`` (created if missing); nothing started."""
    return bootstrap(Settings(db_path=path), source="test", **kwargs)


SEARCH_QUERIES = {
    # Each order's search document, by order id (the rowids are the orders' rids, which a
    # rebuild numbers in another order than the projector did).
    "search": "SELECT o.order_id, s.doc FROM rm_order_search AS s "
    "JOIN rm_orders AS o ON o.rid = s.rowid ORDER BY o.order_id",
    "search_rows": "SELECT count(*) FROM rm_order_search",
}
"""Also dumped where the file has the search table."""


def dump_read_model(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every read-model row of the database ``path`` (in its read model's own file), in a
    stable order (plain sqlite3, read-only); the search documents too where the file has the
    search table."""
    con = sqlite3.connect(f"file:{read_model_path(path)}?mode=ro", uri=True)
    try:
        dump = {name: con.execute(sql).fetchall() for name, sql in READ_MODEL_QUERIES.items()}
        fts = con.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'rm_order_search'"
        ).fetchone()
        if fts is not None:
            dump |= {name: con.execute(sql).fetchall() for name, sql in SEARCH_QUERIES.items()}
        return dump
    finally:
        con.close()


def rebuilt_copy(path: Path, tmp: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The read model a fresh rebuild gives, computed on a backup copy of ``path``."""
    target = tmp / f"rebuild-{path.stem}.sqlite3"
    src = sqlite3.connect(path)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    app = open_app(target, create=False)
    try:
        assert app.projector is not None
        app.projector.rebuild()
        assert app.projector.status().last_error is None
    finally:
        app.close()
    return dump_read_model(target)


def checkpoint(path: Path, name: str = "main") -> int:
    """The stored checkpoint of a projector (in the read model's file of ``path``)."""
    con = sqlite3.connect(f"file:{read_model_path(path)}?mode=ro", uri=True)
    try:
        row = con.execute("SELECT position FROM rm_checkpoints WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()


def all_orders(app: App) -> list[q.OrderRow]:
    """Every order in the list, by order number (the test files are small)."""
    return list(app.queries.ask(q.ListOrders(limit=10_000, sort="order_number")).rows)


def skus(app: App, order_id: str) -> list[str]:
    """The SKUs of an order's lines."""
    detail = app.queries.ask(q.GetOrder(order_id=order_id))
    assert detail is not None
    return [line.sku for line in detail.lines]


def check_literal_search(app: App, everything: list[q.OrderRow], patterns: list[str]) -> None:
    """``ListOrders(search=…)`` finds exactly the orders whose number, customer name or a SKU
    contains the pattern as a plain, case-insensitive substring (R20)."""
    by_order = {row.order_id: skus(app, row.order_id) for row in everything}
    for pattern in patterns:
        needle = pattern.casefold()
        expected = sorted(
            row.order_id
            for row in everything
            if needle in row.order_number.casefold()
            or needle in row.customer_name.casefold()
            or any(needle in sku.casefold() for sku in by_order[row.order_id])
        )
        page = app.queries.ask(q.ListOrders(search=pattern, limit=10_000))
        assert sorted(r.order_id for r in page.rows) == expected, pattern
        assert page.total == len(expected), pattern
