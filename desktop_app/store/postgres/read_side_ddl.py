"""What the read side needs on the server beyond the shared tables (run by ``init``, as the
owner, inside its transaction; idempotent):

* ``rm_orders.rid`` gets a sequence default: SQLite fills the rowid key itself; here no client
  has to invent one (the projector never names the column);
* a statement-level ``AFTER INSERT`` trigger on ``events`` sends ``NOTIFY order_desk_events,
  '<the head position after the statement>'``. PostgreSQL delivers a notification only when
  (and after) its transaction commits, so a listener is woken exactly by committed appends, from any
  workstation and any program that appends (the ``copy`` tool included);
* the ``pg_trgm`` extension (trusted since PostgreSQL 13: the database owner may create it)
  and trigram GIN indexes on the folded search columns, so a search of 3+ characters is an
  index lookup, as SQLite's FTS5 trigram table makes it. Without the extension the searches
  still give the same answers (``LIKE`` over the folded columns), by scanning;
* the read model's schema stamp in ``rm_meta``.

The clerk role only writes rows: the projector of any clerk's workstation can keep the read
model, none can change its tables (DDL stays the owner's).
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, text

from desktop_app.store.postgres.ddl import Roles, quote_ident
from desktop_app.store.read_model_sql import READ_MODEL_SCHEMA_VERSION

log = logging.getLogger(__name__)

EVENTS_CHANNEL = "order_desk_events"
"""NOTIFY channel of committed appends (payload: the highest position of the statement)."""
READ_MODEL_CHANNEL = "order_desk_read_model"
"""NOTIFY channel of committed projector batches (payload: the new checkpoint)."""

TRIGRAM_INDEXES = (
    ("rm_orders_number_trgm", "rm_orders", "number_fold"),
    ("rm_orders_cname_trgm", "rm_orders", "customer_fold"),
    ("rm_order_lines_sku_trgm", "rm_order_lines", "sku_fold"),
    ("rm_customer_names_trgm", "rm_customer_names", "name_fold"),
)

_RID = (
    "CREATE SEQUENCE IF NOT EXISTS rm_orders_rid_seq AS bigint OWNED BY rm_orders.rid",
    "ALTER TABLE rm_orders ALTER COLUMN rid SET DEFAULT nextval('rm_orders_rid_seq')",
)

_NOTIFY = (
    # The head after the statement (an index lookup that sees the statement's own rows): no
    # transition table, so a big COPY (the ``copy`` tool) keeps no second copy of its rows.
    f"""CREATE OR REPLACE FUNCTION order_desk_notify_events() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('{EVENTS_CHANNEL}',
        (SELECT position FROM events ORDER BY position DESC LIMIT 1)::text);
      RETURN NULL;
    END $$""",  # noqa: S608 (a constant channel name)
    "CREATE OR REPLACE TRIGGER events_notify AFTER INSERT ON events "
    "FOR EACH STATEMENT EXECUTE FUNCTION order_desk_notify_events()",
)

_STAMP = (
    "INSERT INTO rm_meta (key, value) VALUES ('schema_version', :v) ON CONFLICT (key) DO NOTHING"
)


def create_read_side(conn: Connection, roles: Roles) -> bool:
    """The rid default, the NOTIFY trigger, trigram search (when the extension can be made)
    and the read-model stamp, inside the caller's transaction. True when the trigram
    indexes are there."""
    for ddl in (*_RID, *_NOTIFY):
        conn.exec_driver_sql(ddl)
    conn.exec_driver_sql(f"GRANT USAGE ON SEQUENCE rm_orders_rid_seq TO {quote_ident(roles.clerk)}")
    trigram = _trigram_search(conn)
    conn.execute(text(_STAMP), {"v": str(READ_MODEL_SCHEMA_VERSION)})
    return trigram


def _trigram_search(conn: Connection) -> bool:
    savepoint = conn.begin_nested()
    try:
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, table, column in TRIGRAM_INDEXES:
            conn.exec_driver_sql(
                f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops)"
            )
    except Exception as exc:  # no contrib package, or not allowed: searches scan
        savepoint.rollback()
        log.warning("no trigram search indexes (searches will scan): %s", exc)
        return False
    savepoint.commit()
    return True


def has_trigram_search(conn: Connection) -> bool:
    """True when the trigram indexes exist (for ``status`` and the tests)."""
    found = conn.execute(
        text("SELECT count(*) FROM pg_indexes WHERE indexname = ANY(:names)"),
        {"names": [name for name, _, _ in TRIGRAM_INDEXES]},
    ).scalar()
    return int(found or 0) == len(TRIGRAM_INDEXES)
