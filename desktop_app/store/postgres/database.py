"""Opening an Order Desk database on a PostgreSQL server: ONE SQLAlchemy engine (psycopg 3)
and its pool, error translation into the ``StoreError`` family, the stamp check, and
``init`` (schema + roles + grants).

Hot paths take the psycopg connection of a pool checkout (:meth:`PostgresDatabase.raw`):
one SQLAlchemy Core round trip costs ~20 µs, and psycopg prepares repeated statements itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import psycopg
import psycopg.errors as pg_errors
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool

from desktop_app.application.ports import (
    StoreBusyError,
    StoreConnectionLostError,
    StoreError,
    StoreInfo,
    StoreReadOnlyError,
    StoreUnavailableError,
)
from desktop_app.store.postgres import append_function, ddl

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10
"""Seconds to wait for the server before saying it cannot be reached (unless the URL says)."""
LOCK_TIMEOUT_MS = 5000
"""How long a write waits for the append lock before "busy — try again" (like SQLite's busy
timeout)."""
APPLICATION_NAME = "order-desk"


# ---------------------------------------------------------------------------- errors


def _where(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "the local server"
    port = f":{parts.port}" if parts.port else ""
    database = parts.path.lstrip("/") or "the default database"
    return f"{database} on {host}{port}"


def translate_pg_error(exc: BaseException, where: str = "the server") -> StoreError:
    """A store error a clerk can read for any psycopg or SQLAlchemy exception (never a
    traceback): unreachable or lost server, refused change, no permission, busy."""
    if isinstance(exc, StoreError):
        return exc
    orig: BaseException = exc
    if isinstance(exc, sa_exc.DBAPIError) and isinstance(exc.orig, BaseException):
        orig = exc.orig
    if getattr(orig, "sqlstate", None) == ddl.APPEND_ONLY_SQLSTATE:
        return StoreError("Recorded history can never be changed or deleted.")
    if isinstance(orig, pg_errors.InsufficientPrivilege):
        return StoreReadOnlyError(
            "Your database role may not make this change (it may only read). "
            "You can still look at orders, their history and verify them."
        )
    if isinstance(orig, pg_errors.ReadOnlySqlTransaction):
        return StoreReadOnlyError(
            f"The database {where} accepts no changes right now (a read-only server)."
        )
    if isinstance(
        orig,
        pg_errors.LockNotAvailable
        | pg_errors.SerializationFailure
        | pg_errors.DeadlockDetected
        | pg_errors.QueryCanceled,
    ):
        return StoreBusyError()
    if isinstance(orig, pg_errors.InvalidCatalogName):
        return StoreUnavailableError(
            f"There is no database {where}. Check the name, or create it and run "
            "`desktop-app-admin init --db <url>`."
        )
    if isinstance(orig, pg_errors.InvalidAuthorizationSpecification | pg_errors.InvalidPassword):
        return StoreUnavailableError(
            f"The server refused the login for {where}: {_first_line(orig)}. "
            "Check the user name and the password in ~/.pgpass (or the service file)."
        )
    if isinstance(orig, pg_errors.IntegrityError):
        return StoreError(f"The database refused the change ({_first_line(orig)}).")
    if isinstance(orig, psycopg.OperationalError):
        if (isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated) or _lost(orig):
            return connection_lost(where)
        return StoreUnavailableError(
            f"The database server ({where}) cannot be reached: {_first_line(orig)}. "
            "Check the address and that the server is running, or choose another database."
        )
    if isinstance(orig, psycopg.Error | sa_exc.SQLAlchemyError):
        return StoreUnavailableError(
            f"The database server reported an unexpected problem ({_first_line(orig)})."
        )
    if isinstance(orig, OSError):
        return StoreUnavailableError(f"The database server cannot be used ({orig}).")
    return StoreUnavailableError(f"The database reported an unexpected problem ({orig}).")


def connection_lost(where: str) -> StoreConnectionLostError:
    """The error for a connection that broke mid-operation (outcome unknown)."""
    return StoreConnectionLostError(
        f"The connection to the database server ({where}) was lost. The change may "
        "or may not have been saved: look at the order before trying again (saving "
        "the same form again never records it twice)."
    )


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _lost(exc: BaseException) -> bool:
    if isinstance(exc, pg_errors.AdminShutdown | pg_errors.ConnectionFailure):
        return True
    textual = str(exc).lower()
    return "terminating connection" in textual or "server closed the connection" in textual


@contextmanager
def pg_errors_translated(where: str = "the server") -> Iterator[None]:
    """Re-raise any psycopg / SQLAlchemy exception as a store error."""
    try:
        yield
    except StoreError:
        raise
    except (psycopg.Error, sa_exc.SQLAlchemyError) as exc:
        raise translate_pg_error(exc, where) from exc


# ---------------------------------------------------------------------------- URLs


def engine_url(url: str) -> str:
    """SQLAlchemy's name for a libpq URL (``postgresql+psycopg://``); the rest unchanged, so
    libpq's own parameters (service, sslmode, host=/socket/dir…) reach psycopg as given."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("postgresql", "postgres", "postgresql+psycopg"):
        raise ValueError(f"not a PostgreSQL URL: {url!r}")
    return "postgresql+psycopg://" + rest


def display_url(url: str) -> str:
    """The URL with any password hidden (for titles, logs and messages)."""
    try:
        return (
            make_url(engine_url(url))
            .render_as_string(hide_password=True)
            .replace("postgresql+psycopg://", "postgresql://", 1)
        )
    except (ValueError, sa_exc.ArgumentError):
        return "postgresql://…"


def make_engine(url: str, *, pool_size: int = 5, lock_timeout_ms: int = LOCK_TIMEOUT_MS) -> Engine:
    """The one engine (and pool) of a server database; ``lock_timeout_ms`` bounds how long a
    write waits for a lock (the append lock held by another workstation) before "busy"."""
    sa_url = make_url(engine_url(url))
    query = dict(sa_url.query)
    connect_args: dict[str, Any] = {"application_name": APPLICATION_NAME}
    if "connect_timeout" not in query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    engine = create_engine(
        sa_url,
        poolclass=QueuePool,
        pool_size=pool_size,
        max_overflow=20,
        connect_args=connect_args,
    )

    @event.listens_for(engine, "connect")
    def _setup(dbapi_con: Any, _record: Any) -> None:
        # UTC sessions; a write that waits longer than LOCK_TIMEOUT_MS for the append lock
        # gives up with "busy" instead of hanging behind a stuck workstation.
        with dbapi_con.cursor() as cur:
            cur.execute(f"SET TIME ZONE 'UTC'; SET lock_timeout = {int(lock_timeout_ms)}")
        dbapi_con.commit()

    return engine


# ---------------------------------------------------------------------------- database


@dataclass(frozen=True, slots=True)
class ServerFacts:
    """What an open checks on the server once."""

    schema_version: int
    database_id: str
    session_user: str
    can_write: bool
    server_version: str
    missing_triggers: tuple[str, ...]
    append_function: bool = False
    """True when the server has this version's append function (``init`` makes it): an
    append is then one round trip; without it (a database ``init`` made with an older Order
    Desk) the store appends with separate statements, as that version did."""


class PostgresDatabase:
    """An open Order Desk database on a PostgreSQL server: the engine (ONE pool) and what the
    opening found (schema version, role, whether this role may write)."""

    def __init__(self, *, url: str, engine: Engine, facts: ServerFacts) -> None:
        self.url = url
        self.engine = engine
        self.facts = facts
        self.where = _where(url)
        self.schema_version = facts.schema_version
        self.read_only_reason: str | None = None
        if facts.schema_version > ddl.PG_SCHEMA_VERSION:
            self.read_only_reason = (
                f"the database was made by a newer Order Desk (server schema "
                f"{facts.schema_version}, this program knows {ddl.PG_SCHEMA_VERSION})."
            )
        elif facts.missing_triggers:
            self.read_only_reason = (
                "the database's append-only triggers are missing or disabled "
                f"({', '.join(facts.missing_triggers)}): history is not protected."
            )
        elif not facts.can_write:
            self.read_only_reason = (
                f"your database role {facts.session_user!r} may only read (an auditor role)."
            )
        self.read_only = self.read_only_reason is not None
        self._closed = False
        # hot(): one pool connection per thread, kept checked out in autocommit mode.
        self._hot = threading.local()
        self._hot_lock = threading.Lock()
        self._hot_pinned: list[tuple[threading.Thread, Any]] = []

    @property
    def info(self) -> StoreInfo:
        """Location, read-only state and versions, for the status bar and the CLI."""
        return StoreInfo(
            location=display_url(self.url),
            read_only=self.read_only,
            read_only_reason=self.read_only_reason,
            schema_version=self.schema_version,
            details={
                "backend": "postgresql",
                "server_version": self.facts.server_version,
                "role": self.facts.session_user,
                "append": (
                    "one round trip (server function)"
                    if self.facts.append_function
                    else "separate statements (run `desktop-app-admin init` to add the "
                    "server's append function)"
                ),
                "append_only_triggers": (
                    "missing or disabled: " + ", ".join(self.facts.missing_triggers)
                    if self.facts.missing_triggers
                    else "intact"
                ),
            },
        )

    def ensure_writable(self) -> None:
        """Raise ``StoreReadOnlyError`` (with the reason) when this open may not write."""
        if self.read_only_reason is not None:
            raise StoreReadOnlyError(
                f"Changes cannot be saved: {self.read_only_reason} "
                "You can still look at orders, their history and verify them."
            )

    @contextmanager
    def raw(self, *, transaction: bool = False) -> Iterator[psycopg.Connection[Any]]:
        """The psycopg connection of a pool checkout, in autocommit mode (each statement its
        own transaction: a read costs one round trip, no BEGIN and no ROLLBACK), or with
        ``transaction`` in psycopg's usual mode (BEGIN before the first statement; the caller
        commits what it wants kept). Whatever is left open is rolled back when it goes back
        to the pool; a connection that broke (server restart, ``pg_terminate_backend``) is
        dropped from the pool."""
        if self._closed:
            raise StoreUnavailableError("The database has been closed.")
        with pg_errors_translated(self.where):
            fairy = self.engine.raw_connection()
        try:
            con = fairy.driver_connection
            assert isinstance(con, psycopg.Connection)
            try:
                con.autocommit = not transaction  # client-side only: the checkout is idle
                yield con
            except (psycopg.Error, sa_exc.SQLAlchemyError) as exc:
                error = translate_pg_error(exc, self.where)
                if con.closed or con.broken:
                    fairy.invalidate()
                    # Broken mid-operation: the outcome is unknown whatever the message said.
                    if not isinstance(error, StoreConnectionLostError):
                        error = connection_lost(self.where)
                raise error from exc
            finally:
                if not con.closed and not con.broken:
                    with suppress(psycopg.Error):
                        con.rollback()  # no round trip when nothing is open
                        con.autocommit = False  # what SQLAlchemy's own uses expect
        finally:
            with suppress(Exception):
                fairy.close()

    @contextmanager
    def hot(self) -> Iterator[psycopg.Connection[Any]]:
        """This thread's own psycopg connection, kept checked out of the pool in autocommit
        mode, for the statements every command makes (the append call, the freshness read,
        catch-up reads): each is its own transaction, so nothing is ever left open on it, and
        the pool's checkout, reset and check-in (and the autocommit switches of :meth:`raw`)
        are not paid per statement. Errors are translated as in :meth:`raw`; a connection that
        broke is dropped (the next use gets a new one)."""
        if self._closed:
            raise StoreUnavailableError("The database has been closed.")
        fairy = getattr(self._hot, "fairy", None)
        if fairy is None:
            fairy = self._pin()
        con = fairy.driver_connection
        try:
            yield con
        except (psycopg.Error, sa_exc.SQLAlchemyError) as exc:
            error = translate_pg_error(exc, self.where)
            if con.closed or con.broken:
                self._unpin(fairy, invalidate=True)
                if not isinstance(error, StoreConnectionLostError):
                    error = connection_lost(self.where)
            raise error from exc

    def _pin(self) -> Any:
        with pg_errors_translated(self.where):
            fairy = self.engine.raw_connection()
        try:
            con = fairy.driver_connection
            assert isinstance(con, psycopg.Connection)
            with pg_errors_translated(self.where):
                con.rollback()
                con.autocommit = True
                # Only the few statements of hot paths run here, each a lookup by key or a
                # range of an index: generic plans, so the server does not plan them afresh on
                # every execution while a table has no statistics yet.
                con.execute("SET plan_cache_mode = force_generic_plan")
            # The append call's flat text arrays, dumped in one pass (see the dumper).
            con.adapters.register_dumper(append_function.TextArray, append_function.TextArrayDumper)
        except BaseException:
            fairy.invalidate()
            raise
        with self._hot_lock:
            # Threads that ended give their connection back (to the pool, in the usual mode).
            alive = []
            for thread, pinned in self._hot_pinned:
                if thread.is_alive():
                    alive.append((thread, pinned))
                else:
                    _release(pinned)
            alive.append((threading.current_thread(), fairy))
            self._hot_pinned = alive
        self._hot.fairy = fairy
        return fairy

    def _unpin(self, fairy: Any, *, invalidate: bool) -> None:
        if getattr(self._hot, "fairy", None) is fairy:
            self._hot.fairy = None
        with self._hot_lock:
            self._hot_pinned = [(t, f) for t, f in self._hot_pinned if f is not fairy]
        if invalidate:
            with suppress(Exception):
                fairy.invalidate()
        _release(fairy)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A SQLAlchemy connection inside a transaction (committed on a clean exit)."""
        with pg_errors_translated(self.where), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """Like :meth:`read`, after checking that this open may write."""
        self.ensure_writable()
        with pg_errors_translated(self.where), self.engine.connect() as conn, conn.begin():
            yield conn

    def close(self) -> None:
        """Close every pooled connection (the threads' own ones too)."""
        self._closed = True
        with self._hot_lock:
            pinned, self._hot_pinned = self._hot_pinned, []
        for _thread, fairy in pinned:
            _release(fairy)
        self.engine.dispose()


def _release(fairy: Any) -> None:
    """Give a pinned connection back to the pool in the mode the pool's other users expect."""
    with suppress(Exception):
        con = fairy.driver_connection
        if con is not None and not con.closed and not con.broken:
            con.execute("RESET plan_cache_mode")
            con.autocommit = False
    with suppress(Exception):
        fairy.close()


_STAMP_SQL = """
SELECT
  (SELECT value FROM store_meta WHERE name = 'application_id'),
  (SELECT value FROM store_meta WHERE name = 'schema_version'),
  (SELECT value FROM store_meta WHERE name = 'database_id')
"""
_FACTS_SQL = """
SELECT session_user, has_table_privilege('events', 'INSERT'), current_setting('server_version'),
       to_regprocedure(:append) IS NOT NULL
"""


def _facts(conn: Connection, where: str) -> ServerFacts:
    exists = conn.execute(text("SELECT to_regclass('store_meta') IS NOT NULL")).scalar()
    if not exists:
        raise StoreUnavailableError(
            f"The database {where} is not an Order Desk database (no Order Desk tables). "
            "An administrator creates them with `desktop-app-admin init --db <url>`."
        )
    app_id, version, database_id = conn.execute(text(_STAMP_SQL)).one()
    if app_id != ddl.APPLICATION_ID or version is None or not str(version).isdigit():
        raise StoreUnavailableError(
            f"The database {where} belongs to another program (its store_meta is not "
            "Order Desk's); nothing was changed."
        )
    from desktop_app.store.postgres.append_function import SIGNATURE

    user, can_write, server_version, append_function = conn.execute(
        text(_FACTS_SQL), {"append": SIGNATURE}
    ).one()
    return ServerFacts(
        schema_version=int(version),
        database_id=str(database_id),
        session_user=str(user),
        can_write=bool(can_write),
        server_version=str(server_version),
        missing_triggers=tuple(ddl.trigger_problems(conn)),
        append_function=bool(append_function),
    )


def open_postgres(
    url: str, *, read_only: bool = False, lock_timeout_ms: int = LOCK_TIMEOUT_MS
) -> PostgresDatabase:
    """Connect to an Order Desk database on a server (never creates anything: see
    :func:`init_postgres`). ``StoreUnavailableError`` with a readable reason when the server
    cannot be reached, refuses the login, or the database is not Order Desk's."""
    where = _where(url)
    engine = make_engine(url, lock_timeout_ms=lock_timeout_ms)
    try:
        with pg_errors_translated(where), engine.connect() as conn:
            facts = _facts(conn, where)
            conn.rollback()
    except BaseException:
        engine.dispose()
        raise
    db = PostgresDatabase(url=url, engine=engine, facts=facts)
    if read_only and db.read_only_reason is None:
        db.read_only_reason = "it was opened read-only."
        db.read_only = True
    return db


@dataclass(frozen=True, slots=True)
class InitResult:
    """What ``init`` did on a server."""

    database: str
    roles: ddl.Roles
    created_roles: tuple[str, ...]
    already: bool
    """True when the database already was an Order Desk database (grants refreshed only)."""


def init_postgres(url: str, *, roles: ddl.Roles | None = None) -> InitResult:
    """Create the Order Desk schema in an existing (empty) database, the clerk and auditor
    group roles (``<database>_clerk``, ``<database>_auditor`` unless named) and their grants,
    all in one transaction. Run as the role that is to own the history (an administrator);
    idempotent. A database holding other tables named like ours is refused."""
    where = _where(url)
    engine = make_engine(url, pool_size=1)
    try:
        with pg_errors_translated(where), engine.connect() as conn:
            database = str(conn.execute(text("SELECT current_database()")).scalar())
            chosen = roles or ddl.Roles.for_database(database)
            already = bool(
                conn.execute(text("SELECT to_regclass('store_meta') IS NOT NULL")).scalar()
            )
            if already:
                _facts(conn, where)  # refuses a foreign store_meta
            conn.rollback()
            with conn.begin():
                made = ddl.create_roles(conn, chosen)
                ddl.create_schema(conn, chosen, database=database)
                # pg-read: rid default, NOTIFY trigger, trigram search, read-model stamp
                from desktop_app.store.postgres.read_side_ddl import create_read_side

                create_read_side(conn, chosen)
                # The event browser's index (issue 11)
                from desktop_app.store.postgres.event_browse import create_browse_index

                create_browse_index(conn)
    finally:
        engine.dispose()
    return InitResult(database=database, roles=chosen, created_roles=tuple(made), already=already)
