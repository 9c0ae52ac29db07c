"""The projector rewrites an order's search document only when its text may have changed (a
new line, a removed line, a customer's new name), never for a status or a quantity; the search
finds exactly the same orders either way."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.bootstrap import App
from desktop_app.store.read_model_file import read_model_path
from tests.integration.read_side.support import dump_read_model, open_app, rebuilt_copy

_STRUCTURE = "SELECT block FROM rm_order_search_data WHERE id = 10"
"""FTS5's structure record (its segments and write counter): any write to the index changes it."""


def _index_state(path: Path) -> bytes:
    con = sqlite3.connect(f"file:{read_model_path(path)}?mode=ro", uri=True)
    try:
        row = con.execute(_STRUCTURE).fetchone()
        assert row is not None
        return bytes(row[0])
    finally:
        con.close()


def _found(app: App, pattern: str) -> list[str]:
    page = app.queries.ask(q.ListOrders(search=pattern, limit=100))
    return [row.order_id for row in page.rows]


def _project(app: App) -> None:
    assert app.projector is not None
    app.projector.run_once()
    status = app.projector.status()
    assert status.last_error is None and status.lag == 0


def test_only_changes_of_the_searched_text_rewrite_the_search_document(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    app = open_app(path)
    try:
        do = app.commands.dispatch
        customer = do(c.RegisterCustomer(name="Ada Lovelace")).aggregate_id
        alpha, bravo = (
            do(
                c.AddProduct(sku=sku, name=sku.title(), price=Decimal("2.50"), currency="EUR")
            ).aggregate_id
            for sku in ("ALPHA-17", "BRAVO-23")
        )
        order = do(
            c.PlaceOrder(customer_id=customer, lines=(c.LineInput(product_id=alpha, quantity=1),))
        ).aggregate_id
        other = do(
            c.PlaceOrder(customer_id=customer, lines=(c.LineInput(product_id=alpha, quantity=4),))
        ).aggregate_id
        _project(app)
        assert set(_found(app, "alpha-17")) == {order, other}
        do(c.AddOrderLine(order_id=order, line=c.LineInput(product_id=bravo, quantity=2)))
        _project(app)
        assert _found(app, "bravo") == [order]
        detail = app.queries.ask(q.GetOrder(order_id=order))
        assert detail is not None
        first_line = next(line.line_id for line in detail.lines if line.sku == "ALPHA-17")

        before = _index_state(path)
        do(c.ChangeLineQuantity(order_id=order, line_id=first_line, quantity=5))
        do(c.RenameProduct(product_id=bravo, name="Bravo, renamed"))  # not in the document
        _project(app)
        assert _index_state(path) == before  # nothing searched changed: no rewrite
        assert set(_found(app, "alpha")) == {order, other} and _found(app, "bravo") == [order]

        do(c.RemoveOrderLine(order_id=order, line_id=first_line))
        _project(app)
        assert _index_state(path) != before
        assert _found(app, "alpha") == [other] and _found(app, "bravo") == [order]

        do(c.RenameCustomer(customer_id=customer, name="Grace Hopper"))
        _project(app)
        assert set(_found(app, "hopper")) == {order, other}

        before = _index_state(path)
        for each in (order, other):
            do(c.ConfirmOrder(order_id=each))
        do(c.ShipOrder(order_id=order, tracking_number="TRK-1", carrier="Post"))
        do(c.CancelOrder(order_id=other, reason="changed mind"))
        _project(app)
        assert _index_state(path) == before  # statuses only: no rewrite
        assert _found(app, "bravo") == [order] and _found(app, "alpha") == [other]
        assert set(_found(app, "hopper")) == {order, other}
    finally:
        app.close()
    assert dump_read_model(path) == rebuilt_copy(path, tmp_path)  # documents included
