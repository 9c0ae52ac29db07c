"""Core tables of the Order Desk database and the schema stamp.

Other store modules (the read model) add their own tables to the same file: either put them in
a migration step (see ``engine.MIGRATIONS``) or register a hook with :func:`register_schema_hook`,
which :func:`create_schema` runs inside the same transaction as the core tables.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from sqlalchemy import (
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)

APPLICATION_ID = 0x4F444553
"""``PRAGMA application_id`` of every Order Desk database ("ODES" in ASCII)."""

SCHEMA_VERSION = 5
"""1: first release. 2: unique keys (SKUs). 3: command fingerprints. 4: sealed snapshots
(``snapshots.seal``) and ``store_meta.database_id``. 5: the rejection log (``rejections``).
The ``PRAGMA user_version`` this code writes; older files are upgraded, newer ones open
read-only."""

FINGERPRINTS_SINCE = 3
"""The file format that added ``commands.fingerprint`` (R30); see ``engine.MIGRATIONS``."""

REJECTIONS_SINCE = 5
"""The file format that added the ``rejections`` table (issue 11); see ``engine.MIGRATIONS``."""

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
    # ``<key id>:<HMAC>`` (see store/sealing.py); '' for rows written before seals existed.
    Column("seal", Text, nullable=False, server_default=""),
    PrimaryKeyConstraint("stream_id", "version", name="pk_snapshots"),
)

store_meta = Table(
    "store_meta",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

sequences = Table(
    "sequences",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", Integer, nullable=False),
)

# Keys that at most one aggregate may hold (a product's SKU): claimed in the same transaction
# as the event that takes them, so the primary key decides between racing workstations.
unique_keys = Table(
    "unique_keys",
    metadata,
    Column("namespace", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("owner_id", Text, nullable=False),
    PrimaryKeyConstraint("namespace", "key", name="pk_unique_keys"),
)

# Keys found held by more than one owner when a file written before keys were enforced was
# upgraded: the first owner keeps the key; the later ones are listed here for the status report.
unique_key_clashes = Table(
    "unique_key_clashes",
    metadata,
    Column("namespace", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("holder_id", Text, nullable=False),
    Column("owner_id", Text, nullable=False),
    Column("position", Integer, nullable=False),
    PrimaryKeyConstraint("namespace", "key", "owner_id", name="pk_unique_key_clashes"),
)

# Refused commands (issue 11): who, when, what and why, outside the event streams. Never read
# by a projection or an aggregate and not part of the hash chain: a rejection changes nothing.
rejections = Table(
    "rejections",
    metadata,
    # AUTOINCREMENT: a number is never reused, so "after_id" paging never skips or repeats.
    Column("rejection_id", Integer, primary_key=True, autoincrement=True),
    Column("recorded_at", Text, nullable=False),
    Column("user", Text, nullable=False),
    Column("host", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("app_version", Text, nullable=False),
    Column("command_type", Text, nullable=False),
    Column("command_id", Text, nullable=False),
    Column("correlation_id", Text, nullable=False),
    Column("stream_id", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("error_class", Text, nullable=False),
    Column("message", Text, nullable=False),
    Index("ix_rejections_stream", "stream_id", "rejection_id"),
    Index("ix_rejections_time", "recorded_at"),
    sqlite_autoincrement=True,
)


# A recorded refusal is evidence too: the program only ever inserts (not hash-chained, so
# these triggers are the guard against a quiet edit through SQL; see docs/ARCHITECTURE.md).
REJECTIONS_APPEND_ONLY_TRIGGERS = (
    """CREATE TRIGGER IF NOT EXISTS rejections_no_update BEFORE UPDATE ON rejections
    BEGIN SELECT RAISE(ABORT, 'rejections are append-only: UPDATE is not allowed'); END""",
    """CREATE TRIGGER IF NOT EXISTS rejections_no_delete BEFORE DELETE ON rejections
    BEGIN SELECT RAISE(ABORT, 'rejections are append-only: DELETE is not allowed'); END""",
)


def add_rejections(conn: Connection) -> None:
    """Version 5: the rejection log table, its indexes and its append-only triggers.
    Idempotent: a fresh file's step 1 already made the table from the metadata."""
    metadata.create_all(conn, tables=[rejections], checkfirst=True)
    for ddl in REJECTIONS_APPEND_ONLY_TRIGGERS:
        conn.exec_driver_sql(ddl)


# Present in every file from version 1 on (the unique-key tables arrive with version 2).
CORE_TABLES = ("events", "commands", "snapshots", "sequences")
"""Tables every stamped file has (schema 1 on); later ones are added by migration steps."""

# The database itself refuses to change history, whatever program opens the file.
APPEND_ONLY_TRIGGERS = (
    """CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE is not allowed'); END""",
    """CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE is not allowed'); END""",
)


def add_snapshot_seals(conn: Connection) -> None:
    """Schema 2: snapshots get a seal column, the file a random database id (the name of its
    snapshot key). Idempotent: a fresh file's step 1 already made both from the metadata."""
    columns = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(snapshots)")}
    if "seal" not in columns:
        conn.exec_driver_sql("ALTER TABLE snapshots ADD COLUMN seal TEXT NOT NULL DEFAULT ''")
    metadata.create_all(conn, tables=[store_meta], checkfirst=True)
    conn.exec_driver_sql(
        "INSERT OR IGNORE INTO store_meta (name, value) VALUES ('database_id', ?)",
        (secrets.token_hex(16),),
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
