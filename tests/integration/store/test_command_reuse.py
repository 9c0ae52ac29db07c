"""R30 on a real file: the fingerprint column, its migration, and the bus refusing a reused id."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from desktop_app.application import commands as c
from desktop_app.application.ports import CommandIdReusedError
from desktop_app.bootstrap import bootstrap
from desktop_app.config import Settings
from desktop_app.store.engine import open_database
from desktop_app.store.event_store import SqliteEventStore
from desktop_app.store.schema import SCHEMA_VERSION
from tests.fixtures.store_helpers import events


def _columns(path: Path) -> set[str]:
    con = sqlite3.connect(path)
    try:
        return {str(r[1]) for r in con.execute("PRAGMA table_info(commands)")}
    finally:
        con.close()


def _make_version_1(path: Path) -> None:
    """A file as format 1 wrote it: ``commands`` without a fingerprint, one command in it."""
    db = open_database(path)
    SqliteEventStore(db).append("order-1", 0, events(2), command_id="old-cmd")
    db.close()
    con = sqlite3.connect(path)
    con.execute("ALTER TABLE commands DROP COLUMN fingerprint")
    con.execute("PRAGMA user_version = 1")
    con.close()
    assert "fingerprint" not in _columns(path)


def test_a_version_1_file_is_upgraded_and_its_old_commands_stay_duplicates(
    tmp_path: Path,
) -> None:
    path = tmp_path / "orders.sqlite3"
    _make_version_1(path)
    db = open_database(path)
    try:
        assert db.schema_version == SCHEMA_VERSION >= 2
        assert "fingerprint" in _columns(path)
        store = SqliteEventStore(db)
        # Recorded without a fingerprint: a retry cannot be told apart, so it stays a duplicate.
        again = store.append("order-1", 2, events(1), command_id="old-cmd", fingerprint="c1:z")
        assert again.duplicate and store.head_position() == 2
        store.append("order-2", 0, events(1), command_id="new-cmd", fingerprint="c1:a")
        with pytest.raises(CommandIdReusedError):
            store.append("order-2", 1, events(1), command_id="new-cmd", fingerprint="c1:b")
        assert store.head_position() == 3
    finally:
        db.close()
    backups = list((tmp_path / "backups").iterdir())
    assert len(backups) == 1 and "v1-before-upgrade" in backups[0].name


def test_a_version_1_file_opened_read_only_answers_command_lookups(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite3"
    _make_version_1(path)
    db = open_database(path, read_only=True)
    try:
        store = SqliteEventStore(db)
        found = store.find_command("old-cmd", fingerprint="c1:any")
        assert found is not None and found.duplicate and found.version == 2
        assert store.find_command("missing") is None
    finally:
        db.close()
    assert "fingerprint" not in _columns(path)  # read-only: not upgraded


def test_the_bus_refuses_a_reused_id_on_a_real_file(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite3"
    app = bootstrap(Settings(db_path=path), source="test")
    try:
        register = c.RegisterCustomer(command_id="cmd-1", name="Ada")
        app.commands.dispatch(register)
        head = app.events.head_position()
        with pytest.raises(CommandIdReusedError, match="already used for a different change"):
            app.commands.dispatch(dataclasses.replace(register, name="Grace"))
        assert app.events.head_position() == head
        assert app.commands.dispatch(register).duplicate
    finally:
        app.close()
    con = sqlite3.connect(path)
    try:
        rows = con.execute("SELECT command_id, fingerprint FROM commands").fetchall()
    finally:
        con.close()
    assert len(rows) == 1 and rows[0][0] == "cmd-1" and str(rows[0][1]).startswith("c1:")
