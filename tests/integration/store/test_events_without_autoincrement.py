"""File format 9: ``events`` has no AUTOINCREMENT (its ``sqlite_sequence`` row was a page written
by every command and decided nothing). A format-8 file is upgraded keeping every event, hash,
position, index and trigger exactly as they were; a file whose handed-out positions run past its
last event (its tail removed outside Order Desk) refuses the upgrade and is left unchanged."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from desktop_app.application.ports import CommandIdReusedError, StoreError
from desktop_app.store.engine import open_database
from desktop_app.store.event_store import SqliteEventStore
from desktop_app.store.schema import APPEND_ONLY_TRIGGERS, SCHEMA_VERSION, UNSEQUENCED_SINCE
from desktop_app.store.triggers import trigger_problem
from tests.fixtures.store_helpers import new_event
from tests.integration.store.format_steps import browse_positions, dump, fill_log

# ``events`` exactly as format 8 (and every earlier one) made it.
_V8_EVENTS = (
    "CREATE TABLE events (\n\tposition INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, \n"
    "\tstream_id TEXT NOT NULL, \n\tversion INTEGER NOT NULL, \n\tevent_id TEXT NOT NULL, \n"
    "\ttype_name TEXT NOT NULL, \n\tschema_version INTEGER NOT NULL, \n"
    "\tpayload TEXT NOT NULL, \n\tmetadata TEXT NOT NULL, \n\trecorded_at TEXT NOT NULL, \n"
    "\tprev_hash TEXT NOT NULL, \n\thash TEXT NOT NULL, \n"
    "\tCONSTRAINT uq_events_stream_version UNIQUE (stream_id, version), \n"
    "\tUNIQUE (event_id)\n)"
)

_INDEXES = (
    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' ORDER BY name"
)


def _events_sql(path: Path) -> str:
    [(sql,)] = dump(path, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'")
    return str(sql)


def _sequence(path: Path) -> list[tuple[object, ...]]:
    return dump(path, "SELECT seq FROM sqlite_sequence WHERE name = 'events'")


def _make_version_8(path: Path) -> dict[str, int]:
    """``fill_log``, then ``events`` rebuilt as format 8 had it (AUTOINCREMENT, its sequence row
    at the last position), its browser index and triggers as they were; stamped 8."""
    versions = fill_log(path)
    browse_sql = dict(dump(path, _INDEXES))["ix_events_browse"]
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("BEGIN")
        con.execute("ALTER TABLE events RENAME TO events_v9")
        con.execute("DROP INDEX ix_events_browse")
        con.execute(_V8_EVENTS)
        con.execute("INSERT INTO events SELECT * FROM events_v9 ORDER BY position")
        con.execute("DROP TABLE events_v9")
        con.execute(str(browse_sql))
        for ddl in APPEND_ONLY_TRIGGERS:
            con.execute(ddl)
        con.execute(f"PRAGMA user_version = {UNSEQUENCED_SINCE - 1}")
        con.execute("COMMIT")
        con.execute("ANALYZE")  # statistics, as a rebuild in the file (before format 8) made
        assert trigger_problem(con) is None
    finally:
        con.close()
    assert "AUTOINCREMENT" in _events_sql(path)
    assert _sequence(path) == [(18,)]
    return versions


def test_a_fresh_file_appends_without_a_sequence_row(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite3"
    fill_log(path)
    assert "AUTOINCREMENT" not in _events_sql(path).upper()
    assert _sequence(path) == []
    # The position is still the rowid (no second B-tree) and runs 1..n.
    rows = dump(path, "SELECT rowid, position FROM events ORDER BY position")
    assert rows == [(n, n) for n in range(1, 19)]
    assert [name for name, _ in dump(path, _INDEXES)] == [
        "ix_events_browse",
        "sqlite_autoindex_events_1",
        "sqlite_autoindex_events_2",
    ]


def test_a_version_8_file_is_upgraded_keeping_every_event_index_and_trigger(
    tmp_path: Path,
) -> None:
    path = tmp_path / "orders.sqlite3"
    versions = _make_version_8(path)
    events_before = dump(path, "SELECT * FROM events ORDER BY position")
    commands_before = dump(path, "SELECT * FROM commands ORDER BY command_id")
    indexes_before = dump(path, _INDEXES)
    statistics = "SELECT * FROM sqlite_stat1 WHERE tbl = 'events' ORDER BY idx"
    statistics_before = dump(path, statistics)
    assert len(statistics_before) == 3
    pages_before = browse_positions(path)  # read-only: not upgraded yet
    assert len(events_before) == 18 and pages_before[2]

    db = open_database(path)
    try:
        assert db.schema_version == SCHEMA_VERSION >= UNSEQUENCED_SINCE
        store = SqliteEventStore(db)
        assert store.verify().ok
        one = versions["order-1"]
        again = store.append("order-1", one, [new_event()], command_id="cmd-9", fingerprint="c1:9")
        assert again.duplicate and again.version == one
        with pytest.raises(CommandIdReusedError):
            store.append("order-1", one, [new_event()], command_id="cmd-9", fingerprint="c1:x")
        added = store.append(
            "order-1", one, [new_event(), new_event()], command_id="cmd-new", fingerprint="c1:n"
        )
        # The log goes on from its head, the chain unbroken.
        assert (added.first_position, added.last_position) == (19, 20)
        assert store.verify().ok and store.head_position() == 20
    finally:
        db.close()

    assert "AUTOINCREMENT" not in _events_sql(path).upper()
    assert _sequence(path) == []
    assert dump(path, "SELECT * FROM events WHERE position <= 18 ORDER BY position") == (
        events_before
    )
    assert dump(path, "SELECT * FROM commands WHERE command_id != 'cmd-new' ORDER BY 1") == (
        commands_before
    )
    assert dump(path, _INDEXES) == indexes_before
    # The planner's statistics still describe the table (the same index names, the same rows).
    assert dump(path, statistics) == statistics_before
    assert browse_positions(path) == [[20, 19, *pages_before[0]], pages_before[1], pages_before[2]]
    names = {str(r[0]) for r in dump(path, "SELECT name FROM sqlite_master")}
    assert "events_v8" not in names
    con = sqlite3.connect(path)
    try:
        assert trigger_problem(con) is None
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute("DELETE FROM events WHERE position = 20")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute("UPDATE events SET payload = '{}' WHERE position = 1")
    finally:
        con.close()
    backups = list((tmp_path / "backups").iterdir())
    assert len(backups) == 1 and "v8-before-upgrade" in backups[0].name
    # Opened again: writable (its triggers are exactly the schema's), nothing left to upgrade.
    db = open_database(path)
    try:
        assert not db.read_only and db.schema_version == SCHEMA_VERSION
    finally:
        db.close()
    assert len(list((tmp_path / "backups").iterdir())) == 1


def test_a_log_shorter_than_its_handed_out_positions_refuses_the_upgrade(
    tmp_path: Path,
) -> None:
    path = tmp_path / "orders.sqlite3"
    _make_version_8(path)
    # The last two events removed by someone who put the triggers back afterwards.
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("BEGIN")
        con.execute("DROP TRIGGER events_no_delete")
        con.execute("DELETE FROM events WHERE position > 16")
        con.execute(APPEND_ONLY_TRIGGERS[1])
        con.execute("COMMIT")
    finally:
        con.close()
    events_before = dump(path, "SELECT * FROM events ORDER BY position")

    with pytest.raises(StoreError, match=r"positions up to 18 .* ends at 16"):
        open_database(path)

    assert dump(path, "PRAGMA user_version") == [(UNSEQUENCED_SINCE - 1,)]
    assert "AUTOINCREMENT" in _events_sql(path)
    assert _sequence(path) == [(18,)]
    assert dump(path, "SELECT * FROM events ORDER BY position") == events_before
