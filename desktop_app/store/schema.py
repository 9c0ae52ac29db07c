"""Core tables of the Order Desk database and the schema stamp.

Other store modules (the read model) add their own tables to the same file: either put them in
a migration step (see ``engine.MIGRATIONS``) or register a hook with :func:`register_schema_hook`,
which :func:`create_schema` runs inside the same transaction as the core tables.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)

APPLICATION_ID = 0x4F444553
"""``PRAGMA application_id`` of every Order Desk database ("ODES" in ASCII)."""

SCHEMA_VERSION = 2
"""``PRAGMA user_version`` this code writes; older files are upgraded, newer open read-only."""

FINGERPRINTS_SINCE = 2
"""The file format that added ``commands.fingerprint`` (R30); see ``engine.MIGRATIONS``."""

metadata = MetaData()

events = Table(
    "events",
    metadata,
    # AUTOINCREMENT: a position is never reused, even after a rolled-back append.
    Column("position", Integer, primary_key=True, autoincrement=True),
    Column("stream_id", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("event_id", Text, nullable=False, unique=True),
    Column("type_name", Text, nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("payload", Text, nullable=False),
    Column("metadata", Text, nullable=False),
    Column("recorded_at", Text, nullable=False),
    Column("prev_hash", Text, nullable=False),
    Column("hash", Text, nullable=False),
    # Doubles as the index for read_stream and iter_stream_ids.
    UniqueConstraint("stream_id", "version", name="uq_events_stream_version"),
    sqlite_autoincrement=True,
)

commands = Table(
    "commands",
    metadata,
    Column("command_id", Text, primary_key=True),
    Column("stream_id", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("first_position", Integer, nullable=False),
    Column("last_position", Integer, nullable=False),
    # Canonical hash of the command's content (R30): a reused id with other content is
    # refused. NULL in rows written before version 2 (those cannot be told apart).
    Column("fingerprint", Text, nullable=True),
)

snapshots = Table(
    "snapshots",
    metadata,
    Column("stream_id", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("aggregate_type", Text, nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("state", Text, nullable=False),
    Column("checksum", Text, nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("taken_at", Text, nullable=False),
    PrimaryKeyConstraint("stream_id", "version", name="pk_snapshots"),
)

sequences = Table(
    "sequences",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", Integer, nullable=False),
)

CORE_TABLES = ("events", "commands", "snapshots", "sequences")

# The database itself refuses to change history, whatever program opens the file.
APPEND_ONLY_TRIGGERS = (
    """CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE is not allowed'); END""",
    """CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE is not allowed'); END""",
)

SchemaHook = Callable[[Connection], None]

_schema_hooks: list[SchemaHook] = []


def register_schema_hook(hook: SchemaHook) -> None:
    """Run ``hook(conn)`` whenever the schema is created (idempotent DDL, e.g. ``checkfirst``)."""
    if hook not in _schema_hooks:
        _schema_hooks.append(hook)


def schema_hooks() -> tuple[SchemaHook, ...]:
    """The registered extra-schema hooks, in registration order."""
    return tuple(_schema_hooks)


def add_command_fingerprints(conn: Connection) -> None:
    """Version 2: the ``commands.fingerprint`` column (R30). Idempotent: a file created by
    version 2 (or re-stamped older) already has it from :func:`create_schema`."""
    columns = {str(row[1]) for row in conn.exec_driver_sql("PRAGMA table_info(commands)")}
    if "fingerprint" not in columns:
        conn.exec_driver_sql("ALTER TABLE commands ADD COLUMN fingerprint TEXT")


def create_schema(conn: Connection) -> None:
    """Create the core tables, the append-only triggers and every hooked extra schema.

    Runs inside the caller's transaction so creation is all-or-nothing.
    """
    metadata.create_all(conn, checkfirst=True)
    for ddl in APPEND_ONLY_TRIGGERS:
        conn.exec_driver_sql(ddl)
    for hook in _schema_hooks:
        hook(conn)
