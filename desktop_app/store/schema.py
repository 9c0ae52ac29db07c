"""Core tables of the Order Desk database and the schema stamp; the read model's tables.

Other store modules may add their own tables to the database: either put them in a migration
step (see ``engine.MIGRATIONS``) or register a hook with :func:`register_schema_hook`, which
:func:`create_schema` runs inside the same transaction as the core tables. The read model's
tables (``read_model_metadata``) are NOT in the database file: they live in the read model's
own file beside it (``store.read_model_file``), created by the read side's ``prepare()``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Dialect,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    case,
    func,
)
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateIndex, CreateTable

from desktop_app.application.ports import StoreError

APPLICATION_ID = 0x4F444553
"""``PRAGMA application_id`` of every Order Desk database ("ODES" in ASCII)."""

SCHEMA_VERSION = 9
"""1: first release. 2: unique keys (SKUs). 3: command fingerprints. 4: sealed snapshots
(``snapshots.seal``) and ``store_meta.database_id``. 5: the rejection log (``rejections``).
6: the event browser's indexes on ``events`` (``BROWSE_INDEXES``). 7: ``commands`` is a
``WITHOUT ROWID`` table (one B-tree instead of two: a page less written by every command).
8: the read model moves to its own file beside the database (``store.read_model_file``).
9: ``events`` without AUTOINCREMENT (no ``sqlite_sequence`` page written by every command).
The ``PRAGMA user_version`` this code writes; older files are upgraded, newer ones open
read-only."""

FINGERPRINTS_SINCE = 3
"""The file format that added ``commands.fingerprint`` (R30); see ``engine.MIGRATIONS``."""

REJECTIONS_SINCE = 5
"""The file format that added the ``rejections`` table (issue 11); see ``engine.MIGRATIONS``."""

BROWSE_SINCE = 6
"""The file format that added the event browser's indexes (issue 11); see ``engine.MIGRATIONS``."""

COMMANDS_KEYED_SINCE = 7
"""The file format whose ``commands`` table is ``WITHOUT ROWID``; see ``engine.MIGRATIONS``."""

READ_MODEL_FILE_SINCE = 8
"""The file format whose read model is in its own file (issue 9); see ``engine.MIGRATIONS``."""

UNSEQUENCED_SINCE = 9
"""The file format whose ``events`` table has no AUTOINCREMENT; see ``engine.MIGRATIONS``."""

metadata = MetaData()

events = Table(
    "events",
    metadata,
    # The append sets every position itself: the head's + 1, under the write lock, in the
    # transaction that inserts it (a rolled-back append takes none). No AUTOINCREMENT (format
    # 9): its ``sqlite_sequence`` row cost every command a page write (an fsync's worth of I/O
    # at synchronous=FULL) and decided nothing, since the triggers refuse the DELETE that could
    # free a position for reuse.
    Column("position", Integer, primary_key=True, autoincrement=False),
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
)


def event_meta(name: str) -> ColumnElement[str]:
    """One field of an event's metadata, written the same way by the browser's index and by
    its queries (SQLite matches index expressions by their form). NULL where the stored text
    is not JSON: ``json_extract`` alone would raise, and an index built from it would refuse
    such a row — a file holding one (an edit through SQL, which verify must be able to name)
    could then not even be upgraded."""
    return case(
        (func.json_valid(events.c.metadata) == 1, func.json_extract(events.c.metadata, f"$.{name}"))
    )


# The log-wide event browser (issue 11, P9): ONE index, because every index costs every append
# a page write (one per filter cut P1's commands/s at NORMAL by about a third; a second one, by
# user, cost another ~8 %). ix_events_browse holds the time, the position, then every field a
# filter compares: unfiltered and time-window pages read it in order; user, host, event type and
# correlation filters are checked on its entries without touching the table (a full scan of 1M
# entries takes ~0.2 s, so a page searches a bounded stretch: see store/event_browse.py).
# The position (the rowid, again) makes (recorded_at, position) the index order: no sort.
# SQLite only (json_extract; ``ddl_if``): another backend brings its own. Created by step 1 on
# a fresh file, by step 6 on an older one.
BROWSE_INDEXES = tuple(
    index.ddl_if(dialect="sqlite")
    for index in (
        Index(
            "ix_events_browse",
            events.c.recorded_at,
            events.c.position,
            event_meta("user"),
            event_meta("host"),
            events.c.type_name,
            event_meta("correlation_id"),
        ),
    )
)
"""The event browser's indexes on ``events`` (schema 6)."""


def add_browse_indexes(conn: Connection) -> None:
    """Version 6: the event browser's indexes. Idempotent (a fresh file's step 1 made them);
    on a file of 1M events each takes a few seconds, once."""
    for index in BROWSE_INDEXES:
        # Not ``checkfirst``: SQLAlchemy cannot reflect an expression index.
        conn.execute(CreateIndex(index, if_not_exists=True))


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
    # Stored in the primary key's B-tree itself (schema 7): a rowid table kept the rows in one
    # B-tree and the command id's unique index in another, so every command wrote a page (and
    # an fsync's worth of I/O at synchronous=FULL) more than needed. Looked up only by id.
    sqlite_with_rowid=False,
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


_COMMAND_COLUMNS = "command_id, stream_id, version, first_position, last_position, fingerprint"


def _commands_have_rowid(conn: Connection) -> bool:
    # A WITHOUT ROWID table has no rowid to select (and ``commands`` has no column of that name).
    try:
        conn.exec_driver_sql("SELECT rowid FROM commands LIMIT 0")
    except DBAPIError:
        return False
    return True


def key_commands_by_id(conn: Connection) -> None:
    """Version 7: ``commands`` rebuilt as a ``WITHOUT ROWID`` table, every row kept as it was.
    Idempotent (a fresh file's step 1 made it so already). A row without a command id (an edit
    through SQL: the program never writes one) has no place in the keyed table, so the upgrade
    is refused, naming the count, and the file is left as it was (one transaction)."""
    if not _commands_have_rowid(conn):
        return
    unkeyed = conn.exec_driver_sql(
        "SELECT count(*) FROM commands WHERE command_id IS NULL"
    ).scalar_one()
    if unkeyed:
        raise StoreError(
            f"The file cannot be upgraded: {unkeyed} command record(s) have no command id "
            "(an edit made outside Order Desk). The file was not changed."
        )
    conn.exec_driver_sql("ALTER TABLE commands RENAME TO commands_rowid_v6")
    metadata.create_all(conn, tables=[commands], checkfirst=False)
    conn.exec_driver_sql(
        f"INSERT INTO commands ({_COMMAND_COLUMNS}) "  # noqa: S608
        f"SELECT {_COMMAND_COLUMNS} FROM commands_rowid_v6"
    )
    conn.exec_driver_sql("DROP TABLE commands_rowid_v6")


def _events_sql(conn: Connection) -> str:
    row = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'"
    ).fetchone()
    return "" if row is None else str(row[0])


def _table_names(conn: Connection) -> set[str]:
    return {str(r[0]) for r in conn.exec_driver_sql("SELECT name FROM sqlite_master")}


def _sequence_of_events(conn: Connection) -> int | None:
    if "sqlite_sequence" not in _table_names(conn):
        return None
    row = conn.exec_driver_sql("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    return None if row is None or row[0] is None else int(row[0])


def drop_events_autoincrement(conn: Connection) -> None:
    """Version 9: ``events`` rebuilt without AUTOINCREMENT, every row, index and trigger as it
    was. Idempotent (a fresh file's step 1 made it so already).

    ``sqlite_sequence`` then no longer remembers the highest position ever handed out. In a file
    Order Desk wrote that is always the last event's (an append sets positions itself and a
    rolled-back one takes none); a higher one means events were removed from the end outside
    Order Desk. That is the one trace of such a removal inside the file, so the upgrade is then
    refused, naming both positions, and the file is left as it was (one transaction).
    """
    if "AUTOINCREMENT" not in _events_sql(conn).upper():
        return
    sequence = _sequence_of_events(conn)
    head = int(conn.exec_driver_sql("SELECT coalesce(max(position), 0) FROM events").scalar_one())
    if sequence is not None and sequence > head:
        raise StoreError(
            f"The file cannot be upgraded: positions up to {sequence} were handed out but the "
            f"log ends at {head}, so events were removed from its end outside Order Desk. "
            "The file was not changed. Check it with 'verify' against a saved anchor and "
            "restore a backup."
        )
    # The planner's statistics (a file that ran ANALYZE): dropping the browser's index drops
    # its row; the table and index names stay, so they are put back as they were.
    statistics = (
        [
            (str(tbl), idx, stat)
            for tbl, idx, stat in conn.exec_driver_sql(
                "SELECT tbl, idx, stat FROM sqlite_stat1 WHERE tbl = 'events'"
            )
        ]
        if "sqlite_stat1" in _table_names(conn)
        else []
    )
    # The index and trigger names are the schema's: free them before the new table takes them
    # (a rename carries the indexes and triggers along to the old table).
    conn.exec_driver_sql("ALTER TABLE events RENAME TO events_v8")
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_events_browse")
    conn.execute(CreateTable(events))
    columns = ", ".join(column.name for column in events.columns)
    conn.exec_driver_sql(
        f"INSERT INTO events ({columns}) SELECT {columns} FROM events_v8 ORDER BY position"  # noqa: S608
    )
    conn.exec_driver_sql("DROP TABLE events_v8")  # its triggers and sqlite_sequence row too
    add_browse_indexes(conn)
    for ddl in APPEND_ONLY_TRIGGERS:
        conn.exec_driver_sql(ddl)
    if statistics:
        conn.exec_driver_sql("DELETE FROM sqlite_stat1 WHERE tbl = 'events'")
        for row in statistics:
            conn.exec_driver_sql("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)", row)


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


# ---------------------------------------------------------------------------- read model
#
# The projector's tables (store/read_model*.py), in the read model's own file beside the
# database (format 8 on; see store/read_model_file.py), outside the stamped file format: the
# read model has its own version (READ_MODEL_SCHEMA_VERSION) and is rebuilt from the log
# whenever it changes. Defined here once; the SQLite DDL is generated from it
# (:func:`create_table_sql` / :func:`create_index_sql`), and so are the tables a rebuild
# builds aside (:func:`aside_table`). Only the FTS5 search table is hand-written SQL (see
# :func:`fts_ddl`). The generated tables are exactly those the former hand-written DDL made
# (tests/integration/read_side/test_read_model_schema.py), so existing files need no rebuild:
# hence ``nullable=True`` on the primary keys of the three rowid tables (SQLite never made
# those NOT NULL; PostgreSQL makes every primary key NOT NULL whatever is declared).

read_model_metadata = MetaData()
"""The read-model tables (``rm_*``): created by ``prepare()``, never by the migrations."""

rm_meta = Table(
    "rm_meta",
    read_model_metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
    sqlite_with_rowid=False,
)

rm_checkpoints = Table(
    "rm_checkpoints",
    read_model_metadata,
    Column("name", Text, primary_key=True),
    Column("position", Integer, nullable=False),
    sqlite_with_rowid=False,
)

rm_orders = Table(
    "rm_orders",
    read_model_metadata,
    # ``rid``: a stable integer key (the rowid: VACUUM keeps it) that rm_order_search's rowids
    # point at. No AUTOINCREMENT: a rebuild inserts 1..n into an empty table.
    Column("rid", Integer, primary_key=True, autoincrement=False, nullable=True),
    Column("order_id", Text, nullable=False, unique=True),
    Column("order_number", Text, nullable=False),
    Column("number_fold", Text, nullable=False),
    Column("customer_id", Text, nullable=False),
    Column("customer_name", Text, nullable=False),
    Column("customer_fold", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("line_count", Integer, nullable=False),
    Column("total_minor", Integer, nullable=False),
    Column("currency", Text, nullable=False),
    Column("placed_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("last_position", Integer, nullable=False),
    Column("tracking_number", Text),
    Column("carrier", Text),
    Column("cancel_reason", Text),
)

rm_order_lines = Table(
    "rm_order_lines",
    read_model_metadata,
    Column("order_id", Text, nullable=False),
    Column("line_id", Text, nullable=False),
    Column("product_id", Text, nullable=False),
    Column("sku", Text, nullable=False),
    Column("sku_fold", Text, nullable=False),
    Column("product_name", Text, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price_minor", Integer, nullable=False),
    Column("line_total_minor", Integer, nullable=False),
    Column("currency", Text, nullable=False),
    Column("seq", Integer, nullable=False),
    PrimaryKeyConstraint("order_id", "line_id"),
    sqlite_with_rowid=False,
)

rm_customers = Table(
    "rm_customers",
    read_model_metadata,
    Column("customer_id", Text, primary_key=True, nullable=True),
    Column("name", Text, nullable=False),
    Column("name_fold", Text, nullable=False),
    Column("order_count", Integer, nullable=False),
    Column("lifetime_value", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("registered_at", Text, nullable=False, server_default=""),
)

# Names a customer no longer has (folded): searching the orders by an old name still finds
# them after a rename (orders show the customer's current name).
rm_customer_names = Table(
    "rm_customer_names",
    read_model_metadata,
    Column("customer_id", Text, nullable=False),
    Column("name_fold", Text, nullable=False),
    PrimaryKeyConstraint("customer_id", "name_fold"),
    sqlite_with_rowid=False,
)

rm_products = Table(
    "rm_products",
    read_model_metadata,
    Column("product_id", Text, primary_key=True, nullable=True),
    Column("sku", Text, nullable=False),
    Column("sku_fold", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("name_fold", Text, nullable=False),
    Column("price_minor", Integer, nullable=False),
    Column("currency", Text, nullable=False),
    Column("discontinued", Integer, nullable=False),
    Column("units_sold", Integer, nullable=False),
    Column("version", Integer, nullable=False),
)

# Orders per (customer, status), kept exact by the projector in the same transaction as the
# rows: the list's unfiltered / status / customer totals come from here, not count(*).
rm_order_counts = Table(
    "rm_order_counts",
    read_model_metadata,
    Column("customer_id", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("n", Integer, nullable=False),
    PrimaryKeyConstraint("customer_id", "status"),
    sqlite_with_rowid=False,
)

PROJECTOR_INDEXES = (
    # Needed by the projector itself (renames): kept during a bulk rebuild.
    Index("rm_orders_customer", rm_orders.c.customer_id, rm_orders.c.placed_at),
    # (product_id, seq), not (product_id) alone: the latter's entries end with the table's key
    # (a random order id), so a batch's new lines landed on as many leaf pages as lines; seq
    # (the event position) grows, so they are appended at the end of each product's range
    # (P1 with the projector: ~35 of a batch's ~145 WAL pages).
    Index("rm_order_lines_product", rm_order_lines.c.product_id, rm_order_lines.c.seq),
)
"""Indexes the projector's own statements need."""

# One index per allow-listed sort, status first: ``status = ? ORDER BY <sort>, order_id`` is an
# index-only range, and the unfiltered / multi-status list merges one such range per status.
# The customer filter uses rm_orders_customer (a customer has few orders).
_o = rm_orders.c
LIST_INDEXES = (
    Index("rm_orders_s_number", _o.status, _o.order_number, _o.order_id),
    Index("rm_orders_s_cname", _o.status, _o.customer_fold, _o.order_id),
    Index("rm_orders_sstatus", _o.status, _o.order_id),
    Index("rm_orders_s_lines", _o.status, _o.line_count, _o.order_id),
    Index("rm_orders_s_total", _o.status, _o.total_minor, _o.order_id),
    Index("rm_orders_s_placed", _o.status, _o.placed_at, _o.order_id),
    Index("rm_orders_s_updated", _o.status, _o.updated_at, _o.order_id),
    Index("rm_orders_s_version", _o.status, _o.version, _o.order_id),
    Index("rm_customers_name", rm_customers.c.name_fold, rm_customers.c.customer_id),
    Index("rm_products_sku", rm_products.c.sku, rm_products.c.product_id),
)
"""The order list's (and the pickers') indexes: dropped for a bulk rebuild, made again after."""
del _o

SEARCH_TABLE = "rm_order_search"
"""The FTS5 trigram table of each order's folded number, customer name and SKUs."""


def fts_ddl(name: str = SEARCH_TABLE) -> str:
    """The search table's CREATE. Hand-written SQLite, the one piece of the read model that
    cannot be SQLAlchemy metadata: an FTS5 virtual table (``CREATE VIRTUAL TABLE … USING
    fts5``) has no ``Table`` form; another backend brings its own text search."""
    return (
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {name} USING "
        "fts5(doc, tokenize = 'trigram', detail = 'none')"
    )


READ_MODEL_TABLES = (*(t.name for t in read_model_metadata.sorted_tables), SEARCH_TABLE)
"""Every read-model table name (the search table included)."""

ASIDE_PREFIX = "rmn_"
"""Prefix of the tables a rebuild builds beside the live ones (R34)."""
RETIRED_PREFIX = "rmo_"
"""Prefix of the live tables a rebuild swapped out, until they are dropped."""

_SQLITE = sqlite_dialect.dialect()
_aside_metadata = MetaData()


def aside_name(name: str) -> str:
    """The name of a read-model table (``rm_x``) built aside by a rebuild (``rmn_x``)."""
    return ASIDE_PREFIX + name.removeprefix("rm_")


def aside_table(table: Table) -> Table:
    """The same table under its aside name (columns, keys, options; not the indexes)."""
    name = aside_name(table.name)
    existing = _aside_metadata.tables.get(name)
    if existing is not None:
        return existing
    copy = table.to_metadata(_aside_metadata, name=name)
    for index in list(copy.indexes):  # indexes are made separately (see aside_index)
        copy.indexes.discard(index)
    return copy


def other_index_name(name: str) -> str:
    """An index's second name: a rebuilt table's indexes cannot take the names of the live
    table's (SQLite cannot rename an index), so each rebuild switches between the two."""
    return "rm_" + name[4:] if name.startswith(ASIDE_PREFIX) else ASIDE_PREFIX + name[3:]


def create_table_sql(table: Table, dialect: Dialect = _SQLITE) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for ``table`` in ``dialect`` (SQLite by default)."""
    return str(CreateTable(table, if_not_exists=True).compile(dialect=dialect)).strip()


def create_index_sql(
    index: Index,
    *,
    name: str | None = None,
    table: Table | None = None,
    if_not_exists: bool = True,
    dialect: Dialect = _SQLITE,
) -> str:
    """``CREATE INDEX [IF NOT EXISTS]`` for ``index``, optionally under another name and on
    another table with the same columns (a rebuild's aside table)."""
    if name is not None or table is not None:
        target = index.table if table is None else table
        assert target is not None
        index = Index(name or index.name, *(target.c[c.name] for c in index.columns))
    create = CreateIndex(index, if_not_exists=if_not_exists)
    return str(create.compile(dialect=dialect)).strip()
