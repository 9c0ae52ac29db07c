"""The read model in its own file beside the event file (issue 9, R35).

* Clerks' commands never wait for the projector or a rebuild: both hold the read model's write
  lock, not the event file's (with one file, a command waited for the whole batch and failed
  with "busy" once its busy timeout ran out).
* An older file (format 6, read model inside) is upgraded by copying the read model out: the
  lists are the same, nothing is projected again, and the event file keeps no read-model table.
* The read model is bound to its log: restored, replaced or copied files never show rows of
  events that are not in their log; the read model is discarded and rebuilt instead.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.application.ports import StoreBusyError
from desktop_app.bootstrap import App, bootstrap
from desktop_app.config import Settings
from desktop_app.store.backup import create_backup, restore
from desktop_app.store.engine import DatabaseOpenError, open_database
from desktop_app.store.read_model_file import (
    BOUND_TO_KEY,
    CHECKPOINT_EVENT_KEY,
    READ_MODEL_APPLICATION_ID,
    read_model_path,
    remove_read_model_files,
)
from desktop_app.store.read_model_sql import (
    CREATE_FTS,
    CREATE_TABLES,
    LIST_INDEX_DDL,
    PROJECTOR_INDEX_DDL,
)
from desktop_app.store.schema import SCHEMA_VERSION, SEARCH_TABLE, read_model_metadata
from tests.integration.read_side import workload
from tests.integration.read_side.support import (
    all_orders,
    checkpoint,
    dump_read_model,
    open_app,
    rebuilt_copy,
)


def _fill(path: Path, commands: int = 80, seed: int = 3, *, project: bool = True) -> None:
    app = open_app(path)
    try:
        world = workload.World(random.Random(seed))
        workload.seed_catalog(app.commands, world)
        workload.run(app.commands, world, commands)
        if project:
            assert app.projector is not None
            app.projector.run_once()
            assert app.projector.status().lag == 0
    finally:
        app.close()


def _head(path: Path) -> int:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT max(position) FROM events").fetchone()[0] or 0)
    finally:
        con.close()


def _tables(path: Path) -> set[str]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {str(r[0]) for r in con.execute("SELECT name FROM sqlite_master")}
    finally:
        con.close()


def _quick_app(path: Path) -> App:
    """An app whose commands give up on a locked file after 100 ms ("busy")."""
    return bootstrap(Settings(db_path=path, busy_timeout_ms=100), source="test", create=False)


# --------------------------------------------------------------------------- never waiting


def test_a_command_goes_through_while_a_projector_batch_holds_its_transaction(
    tmp_path: Path,
) -> None:
    path = tmp_path / "orders.sqlite3"
    _fill(path, commands=20)
    app = _quick_app(path)
    try:
        assert app.read_model is not None
        target = app.read_model.target
        assert target.claim("main")
        with target.batch("main", target.checkpoint("main")):
            # The batch holds its write transaction open (as while it writes its rows).
            # With the read model in the event file this command waited for it and failed
            # with "busy" after 100 ms.
            result = app.commands.dispatch(c.RegisterCustomer(name="Ada Waits-Never"))
        assert result.version == 1
    finally:
        app.close()


def test_a_command_goes_through_while_another_process_holds_the_read_model_lock(
    tmp_path: Path,
) -> None:
    """Another process's projector batch or rebuild swap: its write lock on the read model's
    file does not stop a clerk's command (the event file is another file)."""
    path = tmp_path / "orders.sqlite3"
    _fill(path, commands=20)
    app = _quick_app(path)
    holder = sqlite3.connect(read_model_path(path), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("UPDATE rm_meta SET value = value WHERE key = 'schema_version'")
        for n in range(5):
            app.commands.dispatch(c.RegisterCustomer(name=f"Clerk {n}"))
        assert app.read_model is not None
        # The projector cannot write meanwhile: it is the one that waits (and says so).
        with pytest.raises(StoreBusyError), app.read_model.target.batch("main", 0):
            pass
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        app.close()


def test_projector_commits_leave_the_event_file_alone(tmp_path: Path) -> None:
    """A projector batch writes only the read model's file: the event file's data version
    (which the event store's "stream is current" check reads) does not move."""
    path = tmp_path / "orders.sqlite3"
    _fill(path, commands=20, project=False)
    watcher = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        before = watcher.execute("PRAGMA data_version").fetchone()[0]
        app = open_app(path, create=False)
        try:
            assert app.projector is not None
            assert app.projector.run_once() > 0
        finally:
            app.close()
        assert watcher.execute("PRAGMA data_version").fetchone()[0] == before
    finally:
        watcher.close()
    assert checkpoint(path) == _head(path)


# --------------------------------------------------------------------------- format 8


def _as_format_6(path: Path) -> None:
    """Put the read model back inside the event file and stamp it 6, as format 6 had it."""
    side = read_model_path(path)
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("ATTACH DATABASE ? AS side", (str(side),))
        con.execute("BEGIN")
        for ddl in CREATE_TABLES:
            con.execute(ddl)
        for table in read_model_metadata.sorted_tables:
            cols = ", ".join(c.name for c in table.columns)
            con.execute(
                f"INSERT INTO main.{table.name} ({cols}) SELECT {cols} FROM side.{table.name}"  # noqa: S608
            )
        con.execute(
            "DELETE FROM main.rm_meta WHERE key IN (?, ?)", (BOUND_TO_KEY, CHECKPOINT_EVENT_KEY)
        )
        for _, ddl in (*PROJECTOR_INDEX_DDL, *LIST_INDEX_DDL):
            con.execute(ddl)
        con.execute(CREATE_FTS)
        con.execute(
            f"INSERT INTO main.{SEARCH_TABLE} (rowid, doc) "  # noqa: S608
            f"SELECT rowid, doc FROM side.{SEARCH_TABLE}"
        )
        con.execute("PRAGMA user_version = 6")
        con.execute("COMMIT")
        con.execute("DETACH DATABASE side")
    finally:
        con.close()
    remove_read_model_files(path)


def test_format_6_file_keeps_its_lists_when_the_read_model_moves_out(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite3"
    _fill(path, commands=120)
    app = open_app(path, create=False)
    try:
        listed = all_orders(app)
    finally:
        app.close()
    rows = dump_read_model(path)
    _as_format_6(path)
    assert "rm_orders" in _tables(path) and not read_model_path(path).exists()

    app = open_app(path, create=False)
    try:
        assert app.info.schema_version == SCHEMA_VERSION
        assert app.projector is not None
        status = app.projector.status()
        assert status.checkpoint == _head(path) and status.lag == 0  # nothing to project again
        assert all_orders(app) == listed
        assert app.queries.ask(q.ListOrders(search=listed[0].order_number)).rows
    finally:
        app.close()
    assert dump_read_model(path) == rows
    assert not {n for n in _tables(path) if n.startswith(("rm_", "rmn_", "rmo_"))}
    assert stat.S_IMODE(read_model_path(path).stat().st_mode) == 0o600
    upgrades = list((tmp_path / "backups").glob("*-v6-before-upgrade-*"))
    assert len(upgrades) == 1 and "rm_orders" in _tables(upgrades[0])


# --------------------------------------------------------------------------- binding


def _list_ids(app: App) -> set[str]:
    return {row.order_id for row in all_orders(app)}


def _assert_only_logged_rows(app: App, path: Path, tmp_path: Path) -> None:
    """Right after opening, before any projecting: no row for an event that is not in the
    log; once projected, the read model a rebuild of this log gives."""
    assert app.projector is not None
    status = app.projector.status()
    assert status.checkpoint <= _head(path)
    assert _list_ids(app) <= _logged_orders(path)
    app.projector.run_once()
    assert app.projector.status().lag == 0 and app.projector.status().last_error is None


def _logged_orders(path: Path) -> set[str]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {
            str(r[0]).removeprefix("order-")
            for r in con.execute(
                "SELECT DISTINCT stream_id FROM events WHERE stream_id LIKE 'order-%'"
            )
        }
    finally:
        con.close()


def _backup_then_more(path: Path, tmp_path: Path) -> Path:
    """A projected file, its backup, then more orders projected (the read model is ahead of
    the backup)."""
    _fill(path, commands=60)
    backup = create_backup(path, tmp_path / "backups").path
    app = open_app(path, create=False)
    try:
        world = workload.World(random.Random(11))
        workload.seed_catalog(app.commands, world)
        workload.run(app.commands, world, 40)
        assert app.projector is not None
        app.projector.run_once()
    finally:
        app.close()
    assert checkpoint(path) > _head(backup)
    return backup


def test_a_read_model_ahead_of_a_restored_log_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite3"
    backup = _backup_then_more(path, tmp_path)
    ahead = _list_ids(open_and_close := open_app(path, create=False))
    open_and_close.close()
    shutil.copyfile(backup, path)  # put back by hand (not with `restore`): the file is left
    for side in ("-wal", "-shm"):
        path.with_name(path.name + side).unlink(missing_ok=True)
    app = open_app(path, create=False)
    try:
        assert not _list_ids(app) & (ahead - _logged_orders(path))
        _assert_only_logged_rows(app, path, tmp_path)
    finally:
        app.close()
    assert dump_read_model(path) == rebuilt_copy(path, tmp_path)


def test_a_restored_log_that_grew_past_the_old_checkpoint_is_not_mistaken(
    tmp_path: Path,
) -> None:
    """The read model's checkpoint is within the restored log (more events were recorded
    after the restore), but the event at it is another one: only the hash tells."""
    path = tmp_path / "orders.sqlite3"
    backup = _backup_then_more(path, tmp_path)
    old_checkpoint = checkpoint(path)
    shutil.copyfile(backup, path)
    for side in ("-wal", "-shm"):
        path.with_name(path.name + side).unlink(missing_ok=True)
    kept = tmp_path / "kept.sqlite3"
    shutil.move(read_model_path(path), kept)
    app = open_app(path, create=False)  # other orders recorded after the restore
    try:
        world = workload.World(random.Random(12))
        workload.seed_catalog(app.commands, world)
        while app.events.head_position() < old_checkpoint + 5:
            workload.run(app.commands, world, 10)
    finally:
        app.close()
    remove_read_model_files(path)
    shutil.move(kept, read_model_path(path))  # the read model made from the replaced log
    app = open_app(path, create=False)
    try:
        assert app.projector is not None
        assert app.projector.status().checkpoint == 0  # discarded, rebuilt from the log
        _assert_only_logged_rows(app, path, tmp_path)
    finally:
        app.close()
    assert dump_read_model(path) == rebuilt_copy(path, tmp_path)


def test_restore_discards_the_read_model(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite3"
    backup = _backup_then_more(path, tmp_path)
    restore(backup, path)
    assert not read_model_path(path).exists()
    app = open_app(path, create=False)
    try:
        assert _list_ids(app) == set()  # nothing projected yet; never the later orders
        _assert_only_logged_rows(app, path, tmp_path)
        assert _list_ids(app) == _logged_orders(path)
    finally:
        app.close()


def test_a_read_model_beside_another_database_is_not_shown(tmp_path: Path) -> None:
    """A database copied without its read model starts a new one; another database's read
    model put beside it (same name) is discarded."""
    first = tmp_path / "a" / "orders.sqlite3"
    second = tmp_path / "b" / "orders.sqlite3"
    first.parent.mkdir()
    second.parent.mkdir()
    _fill(first, commands=40, seed=1)
    _fill(second, commands=5, seed=2)
    copy = tmp_path / "c" / "orders.sqlite3"
    copy.parent.mkdir()
    shutil.copyfile(first, copy)
    app = open_app(copy, create=False)
    try:
        assert app.projector is not None and app.projector.status().checkpoint == 0
        app.projector.run_once()
        assert _list_ids(app) == _logged_orders(first)
    finally:
        app.close()
    shutil.copyfile(read_model_path(first), read_model_path(second))
    app = open_app(second, create=False)
    try:
        assert not _list_ids(app) & (_logged_orders(first) - _logged_orders(second))
        _assert_only_logged_rows(app, second, tmp_path)
    finally:
        app.close()


def test_a_read_only_open_never_shows_an_unbound_read_model(tmp_path: Path) -> None:
    """Read-only (a backup, another account): a read model of another log beside it is not
    used; the lists are projected into a temporary file instead, nothing is written there."""
    path = tmp_path / "orders.sqlite3"
    backup = _backup_then_more(path, tmp_path)
    shutil.copyfile(read_model_path(path), read_model_path(backup))  # ahead of the backup
    before = read_model_path(backup).read_bytes()
    app = bootstrap(Settings(db_path=backup, read_only=True), source="test", create=False)
    try:
        assert app.read_database is not None
        assert app.read_database.path.parent != backup.parent
        assert _list_ids(app) == set()
        assert app.projector is not None
        app.projector.run_once()
        assert _list_ids(app) == _logged_orders(backup)
        temp = app.read_database.path
    finally:
        app.close()
    assert not temp.exists()
    assert read_model_path(backup).read_bytes() == before


def test_the_read_model_file_is_private_and_marked(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite3"
    _fill(path, commands=5)
    side = read_model_path(path)
    assert side.name == "orders.readmodel.sqlite3"
    assert stat.S_IMODE(side.stat().st_mode) == 0o600
    con = sqlite3.connect(f"file:{side}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA application_id").fetchone()[0] == READ_MODEL_APPLICATION_ID
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        con.close()
    assert not {n for n in _tables(path) if n.startswith("rm_")}


def test_opening_the_read_model_file_as_a_database_says_what_it_is(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite3"
    _fill(path, commands=5)
    side = read_model_path(path)
    before = side.read_bytes()
    with pytest.raises(DatabaseOpenError, match="order lists of an Order Desk database"):
        open_database(side)
    assert side.read_bytes() == before
