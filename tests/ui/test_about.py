"""The About box tells what the store reports about itself (GetStoreInfo): the UI loads no
database driver of its own (issue 13: no sqlite3 in the UI)."""

from __future__ import annotations

from desktop_app.application.ports import StoreInfo
from desktop_app.ui.about import about_text


def test_the_engine_version_is_the_one_the_store_reports() -> None:
    info = StoreInfo(
        location="/data/orders.sqlite3",
        read_only=False,
        schema_version=7,
        details={"sqlite_version": "3.99.1", "last_anchor": "#12 <exit>"},
    )
    text = about_text(info)
    assert "<b>SQLite</b></td><td>3.99.1</td>" in text
    assert "/data/orders.sqlite3" in text and "7 (read and write)" in text
    assert "#12 &lt;exit&gt;" in text  # escaped: a store's text is never markup


def test_a_store_that_reports_no_engine_gets_no_engine_row() -> None:
    text = about_text(StoreInfo(location=":memory:", read_only=True))
    assert "SQLite" not in text
    assert ":memory:" in text and "(read-only)" in text
