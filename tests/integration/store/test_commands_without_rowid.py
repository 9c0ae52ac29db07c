"""File format 7: ``commands`` is a ``WITHOUT ROWID`` table (one B-tree, a page less written by
every command). A format-6 file is upgraded keeping every command record, event and browser
page exactly as they were; a record the keyed table cannot hold refuses the upgrade."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from desktop_app.application.ports import CommandIdReusedError, StoreError
from desktop_app.store.engine import open_database
from desktop_app.store.event_store import SqliteEventStore
from desktop_app.store.schema import COMMANDS_KEYED_SINCE, SCHEMA_VERSION
from tests.fixtures.store_helpers import new_event
from tests.integration.store.format_steps import browse_positions, dump, fill_log

# The table as format 6 (and every earlier one) made it: rows in a rowid B-tree, the command
# id in a separate unique index.
_V6_COMMANDS = (
    "CREATE TABLE commands (command_id TEXT NOT NULL, stream_id TEXT NOT NULL, "
    "version INTEGER NOT NULL, first_position INTEGER NOT NULL, "
    "last_position INTEGER NOT NULL, fingerprint TEXT, PRIMARY KEY (command_id))"
)
_V6_COMMANDS_NULLABLE = _V6_COMMANDS.replace("command_id TEXT NOT NULL", "command_id TEXT")


def _commands_sql(path: Path) -> str:
    [(sql,)] = dump(path, "SELECT sql FROM sqlite_master WHERE name = 'commands'")
    return str(sql)


def _make_version_6(path: Path, *, ddl: str = _V6_COMMANDS) -> dict[str, int]:
    """A file with appends and their command records, its ``commands`` table as format 6;
    returns each stream's version."""
    versions = fill_log(path)
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("BEGIN")
        con.execute("ALTER TABLE commands RENAME TO commands_v7")
        con.execute(ddl)
        con.execute("INSERT INTO commands SELECT * FROM commands_v7")
        con.execute("DROP TABLE commands_v7")
        con.execute(f"PRAGMA user_version = {COMMANDS_KEYED_SINCE - 1}")
        con.execute("COMMIT")
    finally:
        con.close()
    assert "WITHOUT ROWID" not in _commands_sql(path).upper()
    return versions


def test_a_fresh_file_keeps_its_commands_without_rowid(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite3"
    open_database(path).close()
    assert "WITHOUT ROWID" in _commands_sql(path).upper()


def test_a_version_6_file_is_upgraded_keeping_every_record_event_and_page(
    tmp_path: Path,
) -> None:
    path = tmp_path / "orders.sqlite3"
    versions = _make_version_6(path)
    commands_before = dump(path, "SELECT * FROM commands ORDER BY command_id")
    events_before = dump(path, "SELECT * FROM events ORDER BY position")
    pages_before = browse_positions(path)  # read-only: not upgraded yet
    assert len(commands_before) == 12 and pages_before[2]

    db = open_database(path)
    try:
        assert db.schema_version == SCHEMA_VERSION >= COMMANDS_KEYED_SINCE
        store = SqliteEventStore(db)
        assert store.verify().ok
        # The records still answer: a retry is a duplicate, a reused id is refused.
        one, two = versions["order-1"], versions["order-2"]
        again = store.append("order-1", one, [new_event()], command_id="cmd-9", fingerprint="c1:9")
        assert again.duplicate and again.version == one
        with pytest.raises(CommandIdReusedError):
            store.append("order-1", one, [new_event()], command_id="cmd-9", fingerprint="c1:x")
        store.append("order-1", one, [new_event()], command_id="cmd-new", fingerprint="c1:n")
        # The same id again, on another stream, with the same content: the first result.
        first = store.append(
            "order-2", two, [new_event()], command_id="cmd-new", fingerprint="c1:n"
        )
        assert first.duplicate and first.stream_id == "order-1"
        assert store.head_position() == 19
    finally:
        db.close()

    assert "WITHOUT ROWID" in _commands_sql(path).upper()
    assert dump(path, "SELECT * FROM commands WHERE command_id != 'cmd-new' ORDER BY 1") == (
        commands_before
    )
    assert dump(path, "SELECT * FROM events WHERE position <= 18 ORDER BY position") == (
        events_before
    )
    assert browse_positions(path) == [[19, *pages_before[0]], pages_before[1], pages_before[2]]
    names = {r[0] for r in dump(path, "SELECT name FROM sqlite_master")}
    assert "commands_rowid_v6" not in names
    backups = list((tmp_path / "backups").iterdir())
    assert len(backups) == 1 and "v6-before-upgrade" in backups[0].name


def test_a_command_record_without_an_id_refuses_the_upgrade_and_changes_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "orders.sqlite3"
    _make_version_6(path, ddl=_V6_COMMANDS_NULLABLE)
    con = sqlite3.connect(path)
    with con:
        con.execute("INSERT INTO commands VALUES (NULL, 'order-9', 1, 1, 1, NULL)")
    con.close()
    commands_before = dump(path, "SELECT * FROM commands ORDER BY rowid")

    with pytest.raises(StoreError, match=r"1 command record.*no command id"):
        open_database(path)

    assert dump(path, "PRAGMA user_version") == [(COMMANDS_KEYED_SINCE - 1,)]
    assert dump(path, "SELECT * FROM commands ORDER BY rowid") == commands_before
    assert "WITHOUT ROWID" not in _commands_sql(path).upper()
