"""The read model's own file beside the event file, and how the two are bound together.

Since file format 8 the projector's tables (``schema.read_model_metadata``, the FTS5 search
table, the checkpoint and the owner row) live in ``<stem>.readmodel<suffix>`` beside the
database (``orders.sqlite3`` -> ``orders.readmodel.sqlite3``), opened as a database of its own
(its own pool, WAL, ``synchronous=NORMAL``: it is rebuilt from the log whenever in doubt). A
projector batch or a rebuild's swap then holds the read model's write lock, never the event
file's: clerks' commands do not wait for them, and the event store's "stream is current" check
(``PRAGMA data_version`` of the event file) is not upset by every projector commit.

The file is bound to its log (R35): ``rm_meta`` holds the event file's ``database_id`` and
``"<checkpoint>:<hash of the event at the checkpoint>"``, written in the same transaction as
the checkpoint. The hash chain makes that one hash stand for every event up to the checkpoint,
so a read model whose log was restored from a backup, replaced, copied without it (or with
another's), or that is ahead of its log, is recognised on opening and discarded (rebuilt from
the log), never shown (:func:`binding_problem`).

Plain ``sqlite3`` only (the engine imports this module for the migration step 7).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from pathlib import Path

from sqlalchemy import Connection

from desktop_app.store.read_model_sql import (
    CREATE_FTS,
    CREATE_TABLES,
    FTS_FILL,
    GET_META,
    LIST_INDEX_DDL,
    PROJECTOR_INDEX_DDL,
    READ_MODEL_SCHEMA_VERSION,
    SET_META,
)
from desktop_app.store.schema import (
    ASIDE_PREFIX,
    RETIRED_PREFIX,
    SEARCH_TABLE,
    read_model_metadata,
)

log = logging.getLogger("desktop_app.store.read_model_file")

READ_MODEL_APPLICATION_ID = 0x4F44524D
"""``PRAGMA application_id`` of a read-model file ("ODRM"): never taken for a database."""
READ_MODEL_FILE_VERSION = 1
"""``PRAGMA user_version`` of a read-model file (the tables have their own version too)."""

BOUND_TO_KEY = "events_database_id"
"""``rm_meta`` key: the ``store_meta.database_id`` of the event file the rows were made from."""
CHECKPOINT_EVENT_KEY = "checkpoint_event"
"""``rm_meta`` key: ``"<checkpoint>:<hash of the event at it>"`` ('' hash at position 0)."""

_SUFFIXES = ("", "-wal", "-shm", "-journal")


def read_model_path(database: Path) -> Path:
    """The read model's file beside the event file ``database``."""
    return database.with_name(f"{database.stem}.readmodel{database.suffix}")


def remove_read_model_files(database: Path) -> None:
    """Delete the read model of ``database`` (file, WAL, shared memory): it is rebuilt from
    the log (after a restore, when the log it was made from is gone)."""
    path = read_model_path(database)
    for suffix in _SUFFIXES:
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + suffix).unlink()


def database_id(events: sqlite3.Connection, schema: str = "main") -> str:
    """The event file's random id (``store_meta.database_id``; '' where there is none)."""
    try:
        row = events.execute(
            f"SELECT value FROM {schema}.store_meta WHERE name = 'database_id'"  # noqa: S608
        ).fetchone()
    except sqlite3.OperationalError:
        return ""
    return str(row[0]) if row else ""


def event_hash(events: sqlite3.Connection, position: int, schema: str = "main") -> str:
    """The hash of the event at ``position`` ('' at 0 or where there is no such event)."""
    if position <= 0:
        return ""
    row = events.execute(
        f"SELECT hash FROM {schema}.events WHERE position = ?",  # noqa: S608
        (position,),
    ).fetchone()
    return str(row[0]) if row else ""


def bind(con: sqlite3.Connection, events_id: str, position: int, hash_: str) -> None:
    """Record, inside the read model's write transaction that sets the checkpoint to
    ``position``, which log it belongs to."""
    con.execute(SET_META, (BOUND_TO_KEY, events_id))
    con.execute(SET_META, (CHECKPOINT_EVENT_KEY, f"{position}:{hash_}"))


def _meta(con: sqlite3.Connection, key: str) -> str | None:
    row = con.execute(GET_META, (key,)).fetchone()
    return str(row[0]) if row else None


def _tables(con: sqlite3.Connection, schema: str = "main") -> set[str]:
    rows = con.execute(f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table'")  # noqa: S608
    return {str(r[0]) for r in rows}


def binding_problem(con: sqlite3.Connection, events: sqlite3.Connection) -> str | None:
    """Why the read model on ``con`` must not be shown for the log on ``events``; None when
    it was made from that very log (or holds nothing yet)."""
    names = _tables(con)
    if "rm_meta" not in names or "rm_checkpoints" not in names:
        return None  # no read model yet: nothing to show
    row = con.execute("SELECT max(position) FROM rm_checkpoints").fetchone()
    checkpoint = int(row[0]) if row and row[0] is not None else 0
    if checkpoint == 0:
        return None  # nothing projected yet
    if _meta(con, BOUND_TO_KEY) != database_id(events):
        return "it was made from another database"
    head_row = events.execute("SELECT max(position) FROM events").fetchone()
    head = int(head_row[0]) if head_row and head_row[0] is not None else 0
    if checkpoint > head:
        return f"it shows events up to #{checkpoint:,} but the log ends at #{head:,}"
    stored = _meta(con, CHECKPOINT_EVENT_KEY) or ""
    position, _, hash_ = stored.partition(":")
    if position != str(checkpoint) or not hash_:
        return f"its checkpoint #{checkpoint:,} is not bound to an event"
    if event_hash(events, checkpoint) != hash_:
        return (
            f"event #{checkpoint:,} is not the one it was made from "
            "(the database was restored or replaced)"
        )
    return None


def stamp(con: sqlite3.Connection) -> None:
    """Stamp a new read-model file (outside a transaction is fine: header only)."""
    con.execute(f"PRAGMA application_id = {READ_MODEL_APPLICATION_ID}")
    con.execute(f"PRAGMA user_version = {READ_MODEL_FILE_VERSION}")


def is_read_model_file(con: sqlite3.Connection) -> bool | None:
    """True for a read-model file, None for an empty new file, False for anything else."""
    app_id = int(con.execute("PRAGMA application_id").fetchone()[0])
    if app_id == READ_MODEL_APPLICATION_ID:
        return True
    if app_id == 0 and not _tables(con):
        return None
    return False


# ---------------------------------------------------------------------------- format step 7


def _main_file(conn: Connection) -> Path | None:
    for _, name, file in conn.exec_driver_sql("PRAGMA database_list").fetchall():
        if name == "main" and file:
            return Path(str(file))
    return None


_PREFIXES = ("rm_", ASIDE_PREFIX, RETIRED_PREFIX)


def separate_read_model(conn: Connection) -> None:
    """File format 8: the read model leaves the event file for its own (see the module).

    Its rows are COPIED into the new file (a plain copy of the tables, the indexes and the
    search index built once: seconds at a million orders, where a rebuild from the log would
    leave the lists empty for longer), bound to the log, then dropped from the event file in
    the migration's transaction (the freed pages are reused by new events). A read model of
    another read-model version is not copied (it would be rebuilt anyway). Runs inside the
    migration's write transaction: the copy is made by a second connection, which reads the
    event file as last committed (the read model is not changed by the earlier steps).
    """
    path = _main_file(conn)
    names = {str(r[0]) for r in conn.exec_driver_sql("SELECT name FROM sqlite_master")}
    if path is not None and "rm_meta" in names and "rm_checkpoints" in names:
        version = conn.exec_driver_sql(
            "SELECT value FROM rm_meta WHERE key = 'schema_version'"
        ).fetchone()
        if version is not None and version[0] == str(READ_MODEL_SCHEMA_VERSION):
            _copy_out(path)
    # Every read-model table, live or left by a rebuild: virtual (FTS5) tables first, their
    # shadow tables go with them.
    found = conn.exec_driver_sql(
        "SELECT name, sql LIKE 'CREATE VIRTUAL%' FROM sqlite_master WHERE type = 'table'"
    ).fetchall()
    drop = sorted(
        (str(name) for name, virtual in found if virtual and str(name).startswith(_PREFIXES)),
    ) + sorted(
        str(name) for name, virtual in found if not virtual and str(name).startswith(_PREFIXES)
    )
    for name in drop:
        exists = conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        if exists is not None:
            conn.exec_driver_sql(f'DROP TABLE "{name}"')


def _copy_out(database: Path) -> None:
    """Copy the read model of ``database`` (format 6) into a new read-model file."""
    target = read_model_path(database)
    remove_read_model_files(database)  # a copy left by an upgrade that did not finish
    fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    try:
        con = sqlite3.connect(target.as_uri(), uri=True, isolation_level=None)
        try:
            _copy_tables(con, database)
        finally:
            con.close()
    except BaseException:
        remove_read_model_files(database)
        raise
    log.info("read model of %s moved to %s", database, target)


def _copy_tables(con: sqlite3.Connection, database: Path) -> None:
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = NORMAL")
    con.execute("PRAGMA cache_size = -262144")
    con.execute("ATTACH DATABASE ? AS ev", (database.absolute().as_uri() + "?mode=ro",))
    source = _tables(con, "ev")
    con.execute("BEGIN IMMEDIATE")
    for ddl in CREATE_TABLES:
        con.execute(ddl)
    for table in read_model_metadata.sorted_tables:
        if table.name not in source:
            continue
        columns = ", ".join(f'"{c.name}"' for c in table.columns)
        con.execute(
            f'INSERT INTO main."{table.name}" ({columns}) '  # noqa: S608 (names from metadata)
            f'SELECT {columns} FROM ev."{table.name}"'
        )
    for _, ddl in (*PROJECTOR_INDEX_DDL, *LIST_INDEX_DDL):
        con.execute(ddl)
    try:
        con.execute(CREATE_FTS)
    except sqlite3.OperationalError:  # no FTS5 in this SQLite: searches scan
        pass
    else:
        if SEARCH_TABLE in source:
            con.execute(
                f"INSERT INTO {SEARCH_TABLE} (rowid, doc) "  # noqa: S608
                f"SELECT rowid, doc FROM ev.{SEARCH_TABLE}"
            )
        else:
            con.execute(FTS_FILL)
    row = con.execute("SELECT max(position) FROM rm_checkpoints").fetchone()
    checkpoint = int(row[0]) if row and row[0] is not None else 0
    bind(con, database_id(con, "ev"), checkpoint, event_hash(con, checkpoint, "ev"))
    stamp(con)
    con.execute("COMMIT")
    con.execute("DETACH DATABASE ev")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


__all__ = [
    "BOUND_TO_KEY",
    "CHECKPOINT_EVENT_KEY",
    "READ_MODEL_APPLICATION_ID",
    "bind",
    "binding_problem",
    "database_id",
    "event_hash",
    "read_model_path",
    "remove_read_model_files",
    "separate_read_model",
    "stamp",
]
