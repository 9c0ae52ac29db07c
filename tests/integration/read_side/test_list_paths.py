"""The list's fast paths agree with plain Python: status-merged pages, counts, search index."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.bootstrap import App
from desktop_app.store.read_model import fts_query
from desktop_app.store.read_model_file import read_model_path
from tests.integration.read_side.support import all_orders, check_literal_search, skus

_KEYS = {
    "order_number": lambda r: r.order_number,
    "customer_name": lambda r: r.customer_name.casefold(),
    "status": lambda r: r.status,
    "line_count": lambda r: r.line_count,
    "total": lambda r: r.total_minor,
    "placed_at": lambda r: r.placed_at,
    "updated_at": lambda r: r.updated_at,
    "version": lambda r: r.version,
}


def _sql(path: Path, sql: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(read_model_path(path))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _check_counts(path: Path) -> None:
    counts = _sql(path, "SELECT customer_id, status, n FROM rm_order_counts WHERE n != 0")
    truth = _sql(
        path,
        "SELECT customer_id, status, count(*) FROM rm_orders GROUP BY customer_id, status",
    )
    assert sorted(counts) == sorted(truth)
    docs = _sql(path, "SELECT count(*) FROM rm_order_search")[0][0]
    assert docs == _sql(path, "SELECT count(*) FROM rm_orders")[0][0]


def _patterns(app: App, everything: list[q.OrderRow]) -> list[str]:
    found: list[str] = ["zzz", 'a"b', '"""', "SO-", "so-0", "ß", "SS", "MÜL", "x" * 300]
    for row in everything[:15]:
        found.extend((row.order_number[2:7], row.customer_name[1:5].upper()))
        found.extend(sku[1:6] for sku in skus(app, row.order_id))
    return found


def _check_search(app: App) -> None:
    everything = all_orders(app)
    check_literal_search(app, everything, _patterns(app, everything))


def test_fts_query_quotes_every_trigram() -> None:
    assert fts_query("ab") is None
    assert fts_query("a\x00bc") is None
    assert fts_query('a"bc') == '"a""b" """bc"'
    long = fts_query("abcdefghijklmnopqrstuvwxyz")
    assert long is not None and long.count('"') == 24


def test_counts_and_search_index_follow_batches_renames_and_rebuild(
    seeded: App, db_path: Path
) -> None:
    assert seeded.projector is not None
    _check_counts(db_path)
    _check_search(seeded)
    customer = seeded.queries.ask(q.ListCustomers())[0]
    seeded.commands.dispatch(c.RenameCustomer(customer_id=customer.customer_id, name="Zörg Quux"))
    seeded.projector.run_once()
    _check_counts(db_path)
    _check_search(seeded)
    assert seeded.queries.ask(q.ListOrders(search="zörg qu")).total == customer.order_count
    before = all_orders(seeded)
    seeded.projector.rebuild()
    _check_counts(db_path)
    assert all_orders(seeded) == before
    _check_search(seeded)


def test_search_without_the_search_index_scans(seeded: App, db_path: Path) -> None:
    con = sqlite3.connect(read_model_path(db_path))
    con.execute("DROP TABLE rm_order_search")
    con.commit()
    con.close()
    _check_search(seeded)


@pytest.mark.parametrize("sort", sorted(_KEYS))
def test_pages_equal_a_python_sort(seeded: App, sort: str) -> None:
    everything = all_orders(seeded)
    customer = max(
        {r.customer_id for r in everything},
        key=lambda cid: sum(r.customer_id == cid for r in everything),
    )
    filters: list[dict[str, object]] = [
        {},
        {"statuses": frozenset({"pending", "confirmed"})},
        {"statuses": frozenset({"delivered", "no-such-status"})},
        {"statuses": frozenset({"no-such-status"})},
        {"customer_id": customer},
        {"customer_id": customer, "statuses": frozenset({"pending", "cancelled"})},
    ]
    for f in filters:
        statuses = f.get("statuses")
        rows = [
            r
            for r in everything
            if (statuses is None or r.status in statuses)  # type: ignore[operator]
            and ("customer_id" not in f or r.customer_id == f["customer_id"])
        ]
        for descending in (False, True):
            expected = sorted(rows, key=lambda r: (_KEYS[sort](r), r.order_id), reverse=descending)
            ids = [r.order_id for r in expected]
            by_offset: list[str] = []
            by_keyset: list[str] = []
            after: str | None = None
            for offset in range(0, len(ids) + 7, 7):
                page = seeded.queries.ask(
                    q.ListOrders(sort=sort, descending=descending, offset=offset, limit=7, **f)  # type: ignore[arg-type]
                )
                assert page.total == len(ids)
                by_offset.extend(r.order_id for r in page.rows)
                kpage = seeded.queries.ask(
                    q.ListOrders(sort=sort, descending=descending, after=after, limit=7, **f)  # type: ignore[arg-type]
                )
                by_keyset.extend(r.order_id for r in kpage.rows)
                after = kpage.next_after
                if after is None:
                    break
            assert by_offset[: len(ids)] == ids, (sort, descending, f)
            assert by_keyset == ids, (sort, descending, f)


def test_lists_without_the_counts_table_still_answer(seeded: App, db_path: Path) -> None:
    everything = all_orders(seeded)
    con = sqlite3.connect(read_model_path(db_path))
    con.execute("DROP TABLE rm_order_counts")  # as in a read-only file of an older version
    con.commit()
    con.close()
    customer = everything[0].customer_id
    for f in ({}, {"statuses": frozenset({"pending"})}, {"customer_id": customer}):
        page = seeded.queries.ask(q.ListOrders(sort="total", limit=10_000, **f))  # type: ignore[arg-type]
        expected = [
            r
            for r in everything
            if r.status in f.get("statuses", {r.status})  # type: ignore[operator]
            and r.customer_id == f.get("customer_id", r.customer_id)
        ]
        assert page.total == len(expected)
        assert [r.order_id for r in page.rows] == [
            r.order_id
            for r in sorted(expected, key=lambda r: (r.total_minor, r.order_id), reverse=True)
        ]
