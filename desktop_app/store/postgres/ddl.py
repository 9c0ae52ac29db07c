"""The Order Desk schema on PostgreSQL: the SAME SQLAlchemy tables as the SQLite file
(``store/schema.py``: events, commands, snapshots, sequences, keys, rejections and the read
model), copied into a PostgreSQL metadata with three differences that only a server needs:

* integers are ``BIGINT``, texts compare in code-point order (``COLLATE "C"``, as SQLite),
  and ``events.position`` has no sequence: the event store hands out positions itself under
  the append lock (see ``event_store``), so they commit in order;
* ``events.author_role``: the database role that wrote the event, filled by the SERVER
  (``DEFAULT session_user`` plus a ``BEFORE INSERT`` trigger that overrides whatever a client
  sends), outside the hash chain so the chain format stays identical on both backends;
* append-only is enforced by plpgsql triggers (UPDATE, DELETE and TRUNCATE refused on events,
  commands and rejections, for every role) and by grants: the clerk role may only insert
  history, the auditor role only read. Only the owner could drop the triggers.

The read model's FTS5 search table is SQLite's; pg-read brings PostgreSQL's text search.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, Connection, Integer, MetaData, Table, Text, text

from desktop_app.store import schema as shared

PG_SCHEMA_VERSION = 1
"""The server schema's version (its own numbering; stored in ``store_meta``)."""

APPLICATION_ID = f"{shared.APPLICATION_ID:#x}"
"""``store_meta.application_id`` of an Order Desk server database (as the file's pragma)."""

APPEND_LOCK_KEY = 0x4F44_4553_0001
"""The transaction-level advisory lock every append takes first (per database)."""
REJECTION_LOCK_KEY = 0x4F44_4553_0002
"""The advisory lock a rejection insert takes, so rejection ids also commit in order."""

APPEND_ONLY_SQLSTATE = "OD001"
"""The SQLSTATE the append-only triggers raise (translated to "history can never change")."""

HISTORY_TABLES = ("events", "commands", "rejections")
"""Append-only: nobody changes or deletes a row (triggers), clerks may only insert (grants)."""

pg_metadata = MetaData()
"""The server's tables, copied from the shared metadata (never defined twice)."""


def _copy(table: Table) -> Table:
    copy = table.to_metadata(pg_metadata)
    # An index made only on another dialect (``ddl_if``: the browser's SQLite index, written
    # with json_extract) is not copied with its condition: leave it out here, the server
    # brings its own (store/postgres/event_browse.py).
    for index in table.indexes:
        only = index._ddl_if
        if only is not None and only.dialect not in (None, "postgresql"):
            copy.indexes.discard(next(i for i in copy.indexes if i.name == index.name))
    for column in copy.columns:
        if isinstance(column.type, Integer):
            column.type = BigInteger()
        elif isinstance(column.type, Text):
            # Code-point order, as SQLite's BINARY: ids sort, compare and page the same on
            # both backends whatever the server's default collation (prefix ranges hold).
            column.type = Text(collation="C")
    return copy


for _table in (*shared.metadata.sorted_tables, *shared.read_model_metadata.sorted_tables):
    _copy(_table)
del _table

pg_events = pg_metadata.tables["events"]
pg_events.c.position.autoincrement = False  # positions are allocated under the append lock
pg_events.append_column(
    Column("author_role", Text, nullable=False, server_default=text("session_user"))
)

READ_MODEL_TABLES = tuple(t.name for t in shared.read_model_metadata.sorted_tables)
"""The read model's tables on the server (the projector writes them)."""

_FUNCTIONS = (
    """CREATE OR REPLACE FUNCTION order_desk_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'OD001', HINT = 'recorded history can never be changed or deleted';
    END $$""",
    # session_user, not current_user: a SECURITY DEFINER function cannot change it, and SET
    # ROLE does not either; it is the role that logged in.
    """CREATE OR REPLACE FUNCTION order_desk_author_role() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      NEW.author_role := session_user;
      RETURN NEW;
    END $$""",
)


def _trigger_ddl() -> list[str]:
    out: list[str] = []
    for table in HISTORY_TABLES:
        out.append(
            f"CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION order_desk_append_only()"
        )
        out.append(
            f"CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION order_desk_append_only()"
        )
    out.append(
        "CREATE OR REPLACE TRIGGER events_author_role BEFORE INSERT ON events "
        "FOR EACH ROW EXECUTE FUNCTION order_desk_author_role()"
    )
    return out


TRIGGER_NAMES = (
    *(f"{t}_append_only" for t in HISTORY_TABLES),
    *(f"{t}_no_truncate" for t in HISTORY_TABLES),
    "events_author_role",
)
"""Every trigger ``init`` makes (an open checks they are all there and enabled)."""


@dataclass(frozen=True, slots=True)
class Roles:
    """The two group roles of one Order Desk database (NOLOGIN; people log in as members)."""

    clerk: str
    auditor: str

    @classmethod
    def for_database(cls, database: str) -> Roles:
        """The default names: ``<database>_clerk`` and ``<database>_auditor``."""
        return cls(clerk=f"{database}_clerk", auditor=f"{database}_auditor")


def quote_ident(name: str) -> str:
    """A SQL identifier, double-quoted (any name a role or database may have)."""
    return '"' + name.replace('"', '""') + '"'


def _grants(roles: Roles, database: str) -> list[str]:
    clerk, auditor = quote_ident(roles.clerk), quote_ident(roles.auditor)
    every = ", ".join(t.name for t in pg_metadata.sorted_tables)
    read_model = ", ".join(READ_MODEL_TABLES)
    return [
        f"REVOKE ALL ON {every} FROM PUBLIC",
        f"GRANT CONNECT ON DATABASE {quote_ident(database)} TO {clerk}, {auditor}",
        f"GRANT USAGE ON SCHEMA public TO {clerk}, {auditor}",
        f"GRANT SELECT ON {every} TO {clerk}, {auditor}",
        # History: insert only. Snapshots are a cache (sealed, replaced at a version).
        f"GRANT INSERT ON events, commands, rejections, unique_keys TO {clerk}",
        f"GRANT INSERT, UPDATE ON snapshots, sequences TO {clerk}",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {clerk}",
        # The projector of whichever workstation holds the lease writes the read model.
        f"GRANT INSERT, UPDATE, DELETE, TRUNCATE ON {read_model} TO {clerk}",
    ]


def create_roles(conn: Connection, roles: Roles) -> list[str]:
    """Create the group roles that are missing (cluster-wide objects); the names created."""
    made: list[str] = []
    for name in (roles.clerk, roles.auditor):
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name})
        if exists.first() is None:
            conn.exec_driver_sql(f"CREATE ROLE {quote_ident(name)} NOLOGIN")
            made.append(name)
    return made


def create_schema(conn: Connection, roles: Roles, *, database: str) -> None:
    """Tables, triggers, stamp and grants, inside the caller's transaction (all or nothing).
    Idempotent: running it again on an Order Desk database changes nothing but the grants
    and the functions (``CREATE OR REPLACE``: a database made by an older Order Desk gets the
    ones this version brings, such as the append function)."""
    pg_metadata.create_all(conn, checkfirst=True)
    # The append in one round trip (made here; imported here: it needs APPEND_LOCK_KEY).
    from desktop_app.store.postgres import append_function

    for ddl in (*_FUNCTIONS, *_trigger_ddl(), append_function.DDL):
        # The driver reads '%' as a placeholder even without parameters: doubled.
        conn.exec_driver_sql(ddl.replace("%", "%%"))
    for name, value in (
        ("application_id", APPLICATION_ID),
        ("schema_version", str(PG_SCHEMA_VERSION)),
        ("database_id", secrets.token_hex(16)),
        ("clerk_role", roles.clerk),
        ("auditor_role", roles.auditor),
    ):
        conn.execute(
            text(
                "INSERT INTO store_meta (name, value) VALUES (:n, :v) ON CONFLICT (name) DO NOTHING"
            ),
            {"n": name, "v": value},
        )
    for ddl in (*_grants(roles, database), *append_function.grants(quote_ident(roles.clerk))):
        conn.exec_driver_sql(ddl)


def trigger_problems(conn: Connection) -> list[str]:
    """Names of the append-only / authorship triggers that are missing or disabled."""
    rows = conn.execute(
        text(
            "SELECT tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND c.relname = ANY(:tables)"
        ),
        {"tables": list(HISTORY_TABLES)},
    )
    present = {str(row[0]) for row in rows}
    return [name for name in TRIGGER_NAMES if name not in present]
