"""The event browser on a file (issue 11, P9): every page is one index range read in the
browser's order (never a scan of the table, never a sort), and an older file gets the indexes
when it is upgraded (schema 6)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from desktop_app.application.event_browser import EVENT, REJECTION, Direction, LogFilter, LogKey
from desktop_app.store.engine import open_database
from desktop_app.store.event_browse import bounded, events_sql
from desktop_app.store.schema import (
    APPEND_ONLY_TRIGGERS,
    BROWSE_INDEXES,
    BROWSE_SINCE,
    SCHEMA_VERSION,
)

WHEN = datetime(2024, 5, 3, 13, 0, tzinfo=UTC)
FRIDAY_PM = {"since": WHEN, "until": datetime(2024, 5, 3, 18, 0, tzinfo=UTC)}


def _plan(con: sqlite3.Connection, sql: str, params: list[object]) -> str:
    rows = con.execute(f"EXPLAIN QUERY PLAN {sql}", (*params, 100)).fetchall()
    return " | ".join(str(row[3]) for row in rows)


@pytest.mark.parametrize(
    ("where", "index"),
    [
        (LogFilter(), "ix_events_browse"),
        (LogFilter(**FRIDAY_PM), "ix_events_browse"),
        (LogFilter(user="maria"), "ix_events_browse"),
        (LogFilter(user="maria", **FRIDAY_PM), "ix_events_browse"),
        (LogFilter(host="WS-3", **FRIDAY_PM), "ix_events_browse"),
        (LogFilter(event_type="OrderShipped"), "ix_events_browse"),
        (LogFilter(correlation_id="c-1"), "ix_events_browse"),
        (LogFilter(correlation_id="c-1", user="maria"), "ix_events_browse"),
        (LogFilter(user="maria", host="WS-3", event_type="OrderShipped"), "ix_events_browse"),
    ],
)
@pytest.mark.parametrize("direction", ["older", "newer"])
@pytest.mark.parametrize("cursor", [None, LogKey(WHEN, EVENT, 10), LogKey(WHEN, REJECTION, 3)])
def test_every_page_reads_one_index_range_without_sorting(
    tmp_path: Path, where: LogFilter, index: str, direction: Direction, cursor: LogKey | None
) -> None:
    open_database(tmp_path / "o.sqlite3").close()
    con = sqlite3.connect(tmp_path / "o.sqlite3")
    try:
        # A bounded search (host, type, correlation) also has its stop key, as the store gives.
        stop = LogKey(WHEN, EVENT, 5) if bounded(where) else None
        sql, params = events_sql(where, cursor, direction, stop=stop)
        plan = _plan(con, sql, params)
    finally:
        con.close()
    assert f"USING INDEX {index}" in plan or f"USING COVERING INDEX {index}" in plan, plan
    assert "TEMP B-TREE" not in plan, plan
    # The unfiltered first page walks the time index from its end (and stops at the limit);
    # every other page seeks into its index.
    assert "SEARCH" in plan or (where == LogFilter() and cursor is None), plan


def test_a_command_id_reads_its_append_by_position(tmp_path: Path) -> None:
    open_database(tmp_path / "o.sqlite3").close()
    con = sqlite3.connect(tmp_path / "o.sqlite3")
    try:
        sql, params = events_sql(LogFilter(command_id="cmd-1"), None, "older", (5, 9))
        plan = _plan(con, sql, params)
    finally:
        con.close()
    assert "USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)" in plan, plan


def test_an_older_file_gets_the_indexes_on_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    open_database(path).close()
    con = sqlite3.connect(path)
    with con:
        for index in BROWSE_INDEXES:
            con.execute(f"DROP INDEX {index.name}")
        con.execute(f"PRAGMA user_version = {BROWSE_SINCE - 1}")
    con.close()
    db = open_database(path)
    try:
        assert db.schema_version == SCHEMA_VERSION >= BROWSE_SINCE
    finally:
        db.close()
    con = sqlite3.connect(path)
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    con.close()
    assert {str(index.name) for index in BROWSE_INDEXES} <= names


def test_an_event_whose_metadata_is_not_json_neither_blocks_the_upgrade_nor_a_page(
    tmp_path: Path,
) -> None:
    """An edit through SQL that left an event's metadata unreadable (verify names it) must not
    make the index refuse the file: it upgrades, and a filtered page still answers."""
    from desktop_app.store.event_browse import SqliteLogBrowse
    from desktop_app.store.event_store import SqliteEventStore
    from tests.fixtures.store_helpers import events as store_events

    path = tmp_path / "o.sqlite3"
    db = open_database(path)
    SqliteEventStore(db).append("order-a", 0, store_events(3))
    db.close()
    con = sqlite3.connect(path)
    with con:
        con.execute("DROP TRIGGER events_no_update")
        for index in BROWSE_INDEXES:
            con.execute(f"DROP INDEX {index.name}")
        con.execute("UPDATE events SET metadata = X'00ff' WHERE position = 2")
        con.execute(APPEND_ONLY_TRIGGERS[0])  # the guard back, as an editor would leave it
        con.execute(f"PRAGMA user_version = {BROWSE_SINCE - 1}")
    con.close()
    db = open_database(path)  # upgraded: the index is built over the unreadable row
    try:
        assert db.schema_version == SCHEMA_VERSION
        page = SqliteLogBrowse(db).events_page(LogFilter(user="clerk"), None, "older", 10)
        assert [event.position for event in page.events] == [3, 1]
    finally:
        db.close()
