"""Opening the Order Desk database: file safety, pragmas, BEGIN IMMEDIATE, error translation.

Every connection (all of them checkouts of the engine's ONE pool) has the driver's
own transaction handling switched off (``isolation_level=None``), ``journal_mode=WAL`` (checked),
``synchronous`` (FULL unless asked), ``foreign_keys=ON``, a ``busy_timeout`` and a
``journal_size_limit``. Transactions are begun explicitly: ``BEGIN`` for reads, ``BEGIN
IMMEDIATE`` for writes, so a writer waits for the lock up front instead of failing half way
with "database is locked".

Over 500 lines because the opening rules (R21, R24, R29, R31, R32) decide how the one engine
and its pool are made, and belong beside them.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL
from sqlalchemy.pool import PoolProxiedConnection, QueuePool

from desktop_app.application.ports import (
    StoreBusyError,
    StoreError,
    StoreInfo,
    StoreReadOnlyError,
    StoreUnavailableError,
)
from desktop_app.store.private_files import make_private_folder
from desktop_app.store.read_model_file import READ_MODEL_APPLICATION_ID, separate_read_model
from desktop_app.store.schema import (
    APPLICATION_ID,
    BROWSE_SINCE,
    COMMANDS_KEYED_SINCE,
    CORE_TABLES,
    FINGERPRINTS_SINCE,
    READ_MODEL_FILE_SINCE,
    REJECTIONS_SINCE,
    SCHEMA_VERSION,
    UNSEQUENCED_SINCE,
    add_browse_indexes,
    add_command_fingerprints,
    add_rejections,
    add_snapshot_seals,
    create_schema,
    drop_events_autoincrement,
    key_commands_by_id,
)
from desktop_app.store.triggers import trigger_problem
from desktop_app.store.unique_keys import add_unique_keys

JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024
"""Bytes the WAL file is truncated to after a checkpoint (R9: the WAL stays bounded)."""

WAL_AUTOCHECKPOINT_PAGES: dict[str, int] = {"FULL": 500, "NORMAL": 3500}
"""WAL pages after which a commit on the event file copies them into the file, by
``synchronous`` (SQLite's default is 1000). A checkpoint costs two fsyncs and writes every page
changed since the last one, so the pages every command changes (page 1, the B-trees' inner
pages and last leaves) are written once per checkpoint. At NORMAL commits do not sync and
checkpoints were a third of a P1 command at 1000 pages: 3500 (~7 MB of 2 KB pages, below the
WAL job's 16 MB soft limit) halved the block writes. At FULL every commit syncs the WAL, and
while the WAL file is still growing (a new file, or after the idle checkpoint truncated it)
each such sync also writes the file's metadata (measured: about two more block writes per
commit), so a longer WAL cost more than the checkpoints it saved: with 2 KB pages
(:data:`EVENT_PAGE_SIZE`) 500 pages (~1 MB) beat 1000 and 2000 (P1 at FULL, paired rounds:
~365 against ~385 and ~400 µs per command); 250 was slower again."""

EVENT_PAGE_SIZE = 2048
"""Bytes per page of a NEW event file (SQLite's default is 4096; an existing file keeps its own).

Every commit writes each page it changed to the WAL, whole: a command changes about eight
pages (the events table's last leaf, a leaf of each index on ``events`` and of ``commands``,
page 1 when the file grows), so the page size, not the ~1 KB of new rows, sets what a commit
writes, checksums and syncs, and what the checkpoint copies. With 2 KB pages a P1 command
writes a third fewer WAL bytes (~20 KB instead of ~32 KB, in ~10 frames instead of ~8) and
takes about a tenth less time at NORMAL. An event row (~1 KB) still fits a page; a larger one
(an order of many lines) spills into overflow pages, read and written like any other. 1 KB
pages were slower (most rows spilled)."""

SQLITE_MAGIC = b"SQLite format 3\x00"

_BEGIN_OPTION = "order_desk_begin"


Synchronous = Literal["FULL", "NORMAL"]

Migration = Callable[[Connection], None]

MIGRATIONS: dict[int, Migration] = {
    1: create_schema,
    2: add_unique_keys,
    FINGERPRINTS_SINCE: add_command_fingerprints,
    4: add_snapshot_seals,
    REJECTIONS_SINCE: add_rejections,
    BROWSE_SINCE: add_browse_indexes,
    COMMANDS_KEYED_SINCE: key_commands_by_id,
    READ_MODEL_FILE_SINCE: separate_read_model,
    UNSEQUENCED_SINCE: drop_events_autoincrement,
}
"""Step that brings a file from version ``n - 1`` to ``n``; all steps run in ONE transaction.

Version 1 is the first release: its step creates whatever core table is missing. Version 2
adds the unique keys (SKUs), filled from the log; 3 the command fingerprints; 4 sealed snapshots
and the database id; 5 the rejection log; 6 the event browser's indexes; 7 ``commands``
without a rowid; 8 moves the read model into its own file (copied out, then dropped from the
database); 9 ``events`` without AUTOINCREMENT (the table copied). Add a step (and bump
``schema.SCHEMA_VERSION``) for every later change of the file format.
"""

_SYNC_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}

_BACKUP_HINT = (
    "Restore the most recent backup of the database (see the 'backups' folder next to it)."
)

OpenErrorKind = Literal[
    "not_found", "empty", "not_sqlite", "corrupt", "foreign", "no_access", "unavailable"
]


class DatabaseOpenError(StoreUnavailableError):
    """The file cannot be opened as an Order Desk database; it was not written to."""

    def __init__(self, kind: OpenErrorKind, path: Path, message: str) -> None:
        self.kind: OpenErrorKind = kind
        self.path = path
        super().__init__(message)


# ---------------------------------------------------------------------------- errors


def _sqlite_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def translate_error(exc: BaseException) -> StoreError:
    """A store error, with words a clerk can read, for any sqlite3 or SQLAlchemy exception."""
    if isinstance(exc, StoreError):
        return exc
    orig: BaseException = exc
    if isinstance(exc, sa_exc.DBAPIError) and isinstance(exc.orig, BaseException):
        orig = exc.orig
    if isinstance(orig, sqlite3.Error):
        code = _sqlite_code(orig)
        text = str(orig).lower()
        if code in (5, 6) or "locked" in text or "busy" in text:
            return StoreBusyError()
        if code == 8 or "readonly" in text or "read-only" in text:
            return StoreReadOnlyError(
                "The database is read-only, so changes cannot be saved. "
                "You can still look at orders, their history and verify them."
            )
        if code == 13 or "full" in text:
            return StoreUnavailableError(
                "The disk is full, so the change was not saved. Free some space and try again."
            )
        if code == 10 or "i/o" in text:
            return StoreUnavailableError(
                "The database file could not be read or written (a disk input/output error). "
                "The change may or may not have been saved: look at the order before trying "
                "again (saving the same form again never records it twice). Check the disk or "
                "network drive; only if the file stays unreadable, restore the most recent backup "
                "(see the 'backups' folder next to it)."
            )
        if code in (11, 26) or "malformed" in text or "not a database" in text:
            return StoreUnavailableError(
                "The database file is damaged and cannot be used. " + _BACKUP_HINT
            )
        if code == 14:
            return StoreUnavailableError(
                "The database file could not be opened. Check that the drive is available."
            )
        if code == 19 and "append-only" in text:
            return StoreError("Recorded events can never be changed or deleted.")
        if code == 19:
            return StoreError(f"The database refused the change ({orig}).")
        return StoreUnavailableError(f"The database reported an unexpected problem ({orig}).")
    if isinstance(exc, sa_exc.SQLAlchemyError):
        return StoreUnavailableError(f"The database reported an unexpected problem ({exc}).")
    if isinstance(exc, OSError):
        return StoreUnavailableError(f"The database file could not be used ({exc}).")
    return StoreUnavailableError(f"The database reported an unexpected problem ({exc}).")


@contextmanager
def store_errors() -> Iterator[None]:
    """Re-raise any sqlite3/SQLAlchemy exception as a store error (nothing else leaks)."""
    try:
        yield
    except StoreError:
        raise
    except (sqlite3.Error, sa_exc.SQLAlchemyError) as exc:
        raise translate_error(exc) from exc


# ---------------------------------------------------------------------------- connections


def _uri(path: Path, *, read_only: bool, immutable: bool) -> str:
    uri = path.absolute().as_uri()
    if read_only:
        uri += "?mode=ro"
        if immutable:
            uri += "&immutable=1"
    else:
        uri += "?mode=rw"  # never let a connection create the file: creation is done 0600 first
    return uri


def _connect(
    path: Path,
    *,
    read_only: bool,
    immutable: bool,
    synchronous: Synchronous,
    busy_timeout_ms: int,
    wal_autocheckpoint: int | None = None,
    page_size: int | None = None,
) -> sqlite3.Connection:
    """A raw sqlite3 connection with every pragma Order Desk requires (``wal_autocheckpoint``:
    pages, or None for SQLite's default; ``page_size``: the page size of a file still empty,
    see :data:`EVENT_PAGE_SIZE`)."""
    con = sqlite3.connect(
        _uri(path, read_only=read_only, immutable=immutable),
        uri=True,
        isolation_level=None,  # we issue BEGIN / BEGIN IMMEDIATE ourselves
        check_same_thread=False,  # pooled: used by one thread at a time, not always the same
        timeout=busy_timeout_ms / 1000,
        cached_statements=256,
    )
    try:
        con.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if page_size is not None and not read_only:
            # Before the switch to WAL, which writes the header of an empty file (and with it
            # the page size). On a file that has pages this changes nothing.
            con.execute(f"PRAGMA page_size = {int(page_size)}")
        # A read-only open never switches modes (R32): that writes the file's header, so a
        # backup (rollback journal) or another account's file failed as "read-only". SQLite
        # reads either mode as it is.
        mode = "" if read_only else str(con.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        if not read_only and mode.lower() != "wal":
            raise StoreUnavailableError(
                f"The database could not be switched to WAL journaling (it reports {mode!r}); "
                "it may be on a network drive that SQLite cannot share safely."
            )
        con.execute(f"PRAGMA synchronous = {synchronous}")
        con.execute("PRAGMA foreign_keys = ON")
        con.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
        if wal_autocheckpoint is not None and not read_only:
            con.execute(f"PRAGMA wal_autocheckpoint = {int(wal_autocheckpoint)}")
    except BaseException:
        con.close()
        raise
    return con


def _read_pragmas(con: sqlite3.Connection) -> dict[str, object]:
    sync = int(con.execute("PRAGMA synchronous").fetchone()[0])
    return {
        "journal_mode": str(con.execute("PRAGMA journal_mode").fetchone()[0]).lower(),
        "synchronous": _SYNC_NAMES.get(sync, str(sync)),
        "foreign_keys": bool(con.execute("PRAGMA foreign_keys").fetchone()[0]),
        "busy_timeout": int(con.execute("PRAGMA busy_timeout").fetchone()[0]),
        "journal_size_limit": int(con.execute("PRAGMA journal_size_limit").fetchone()[0]),
        "wal_autocheckpoint": int(con.execute("PRAGMA wal_autocheckpoint").fetchone()[0]),
        "isolation_level": con.isolation_level,
    }


# ---------------------------------------------------------------------------- database


class _Hold:
    """One thread's checkout of the engine's pool, kept between its uses (see ``acquire``)."""

    __slots__ = ("busy", "con", "fairy", "thread")

    def __init__(
        self, fairy: PoolProxiedConnection, con: sqlite3.Connection, thread: threading.Thread
    ) -> None:
        self.fairy: PoolProxiedConnection | None = fairy
        self.con: sqlite3.Connection | None = con
        self.thread = thread
        self.busy = True


class _Local(threading.local):
    hold: _Hold | None = None


class Database:
    """An open Order Desk database file: the engine (ONE pool) plus how it was opened.

    Every connection, SQLAlchemy's and the hot paths' raw ``sqlite3`` ones, is a checkout of
    ``engine.pool``: one creator, so the same pragmas everywhere (R3), and one place that
    counts, resets and closes connections (the PostgreSQL backend will have its own engine).
    """

    def __init__(
        self,
        *,
        path: Path,
        engine: Engine,
        read_only_reason: str | None,
        schema_version: int,
        synchronous: Synchronous,
        busy_timeout_ms: int,
    ) -> None:
        self.path = path
        self.engine = engine
        self.read_only = read_only_reason is not None
        self.read_only_reason = read_only_reason
        self.schema_version = schema_version
        self.synchronous: Synchronous = synchronous
        self.busy_timeout_ms = busy_timeout_ms
        # A pool checkout + return costs ~5-25 µs, a tenth of a whole append: each thread keeps
        # ONE checkout of the pool between its raw uses (see acquire). Nested uses on the same
        # thread take ordinary checkouts (``_lent``), returned at release.
        self._local = _Local()
        self._holds: list[_Hold] = []
        self._lent: dict[int, PoolProxiedConnection] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._after_close: list[Callable[[], None]] = []

    def call_after_close(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the engine is disposed (e.g. remove a temporary file)."""
        self._after_close.append(callback)

    @property
    def info(self) -> StoreInfo:
        """Location, read-only state and versions, for the status bar and the CLI."""
        return StoreInfo(
            location=str(self.path),
            read_only=self.read_only,
            read_only_reason=self.read_only_reason,
            schema_version=self.schema_version,
            details={
                "sqlite_version": sqlite3.sqlite_version,
                "synchronous": self.synchronous,
                "application_id": hex(APPLICATION_ID),
            },
        )

    def ensure_writable(self) -> None:
        """Raise ``StoreReadOnlyError`` (with the reason) when the file is open read-only."""
        if self.read_only_reason is not None:
            raise StoreReadOnlyError(
                f"Changes cannot be saved: {self.read_only_reason} "
                "You can still look at orders, their history and verify them."
            )

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A SQLAlchemy connection inside a ``BEGIN`` (read) transaction."""
        with store_errors(), self.engine.connect() as conn:
            conn.execution_options(**{_BEGIN_OPTION: "deferred"})
            with conn.begin():
                yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A SQLAlchemy connection inside a ``BEGIN IMMEDIATE`` transaction (commits on exit)."""
        self.ensure_writable()
        with store_errors(), self.engine.connect() as conn:
            conn.execution_options(**{_BEGIN_OPTION: "immediate"})
            with conn.begin():
                yield conn

    def _checkout(self) -> tuple[PoolProxiedConnection, sqlite3.Connection]:
        if self._closed:
            raise StoreUnavailableError("The database has been closed.")
        with store_errors():
            fairy = self.engine.pool.connect()
        con = fairy.driver_connection
        assert isinstance(con, sqlite3.Connection)
        return fairy, con

    def acquire(self, *, hold: bool = True) -> sqlite3.Connection:
        """Take a raw connection (autocommit mode) for this thread; give it back with release.

        A checkout of the engine's pool: with ``hold`` (the event store's hot paths) the
        thread's held one when it is free (no pool round trip), else an ordinary checkout.
        The read side passes ``hold=False``: a connection held by every thread that ever read
        a list kept its page cache too (P5: ~75 MB more resident memory). Raises
        ``StoreUnavailableError`` if a new connection cannot be made.
        """
        held = self._local.hold
        if hold and held is not None and not held.busy:
            con = held.con
            if con is not None:
                held.busy = True
                return con
        fairy, con = self._checkout()
        if hold and (held is None or held.con is None):
            self._hold(fairy, con)
        else:  # not to be held, or the thread's own connection is in use further up its stack
            with self._lock:
                self._lent[id(con)] = fairy
        return con

    def _hold(self, fairy: PoolProxiedConnection, con: sqlite3.Connection) -> None:
        """Keep this checkout for the current thread; give back those of ended threads."""
        hold = self._local.hold = _Hold(fairy, con, threading.current_thread())
        with self._lock:
            ended = [h for h in self._holds if not h.thread.is_alive()]
            self._holds = [h for h in self._holds if h.thread.is_alive()]
            self._holds.append(hold)
        for old in ended:  # its thread ended between two uses: nothing is open on it
            if old.fairy is not None:
                self._give_back(old.fairy, discard=False)
            old.fairy = old.con = None

    def release(self, con: sqlite3.Connection) -> None:
        """Return a connection taken with :meth:`acquire` (rolls back anything left open).

        One whose transaction could not be rolled back (an I/O error) is invalidated (closed
        and dropped from the pool), never kept: idle, it would keep the write lock, and its
        next user would inherit the transaction.
        """
        if con.in_transaction:
            with suppress(sqlite3.Error):
                con.execute("ROLLBACK")
        hold = self._local.hold
        if hold is not None and con is hold.con:
            hold.busy = False
            if con.in_transaction or self._closed:
                self._drop(hold)
            return
        with self._lock:
            lent = self._lent.pop(id(con), None)
        if lent is not None:
            self._give_back(lent, discard=con.in_transaction or self._closed)

    def _drop(self, hold: _Hold) -> None:
        fairy, hold.fairy, hold.con = hold.fairy, None, None
        with self._lock, suppress(ValueError):
            self._holds.remove(hold)
        if fairy is not None:
            self._give_back(fairy, discard=True)

    @staticmethod
    def _give_back(fairy: PoolProxiedConnection, *, discard: bool) -> None:
        with suppress(Exception):
            if discard:
                fairy.invalidate()  # closes the sqlite3 connection; the pool makes a new one
            fairy.close()

    @contextmanager
    def raw(self, *, hold: bool = True) -> Iterator[sqlite3.Connection]:
        """A raw sqlite3 connection in autocommit mode (one statement = one snapshot).

        For hot paths: no SQLAlchemy per-statement overhead; same creator, same pragmas.
        """
        con = self.acquire(hold=hold)
        try:
            with store_errors():
                yield con
        finally:
            self.release(con)

    @contextmanager
    def raw_read(self, *, hold: bool = True) -> Iterator[sqlite3.Connection]:
        """A raw connection inside ``BEGIN``: several statements see one snapshot."""
        with self.raw(hold=hold) as con:
            con.execute("BEGIN")
            try:
                yield con
            finally:
                if con.in_transaction:
                    con.execute("COMMIT")

    @contextmanager
    def raw_write(self, *, hold: bool = True) -> Iterator[sqlite3.Connection]:
        """A raw connection inside ``BEGIN IMMEDIATE``; commits on success, rolls back on error."""
        self.ensure_writable()
        with self.raw(hold=hold) as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                if con.in_transaction:
                    with suppress(sqlite3.Error):
                        con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def pragma_report(self) -> dict[str, object]:
        """Pragmas as read back from live connections (R3: asserted, not assumed).

        Read from a fresh checkout of the pool; ``raw_connections`` holds the same facts read
        from this thread's hot-path connection (a checkout of the same pool: they must agree);
        ``pool_checked_out`` counts the pool's connections in use (the held ones included).
        """
        with store_errors():
            fairy = self.engine.raw_connection()
            try:
                con = fairy.driver_connection
                assert isinstance(con, sqlite3.Connection)
                report = _read_pragmas(con)
            finally:
                fairy.close()
        with self.raw() as raw:
            report["raw_connections"] = _read_pragmas(raw)
            pool = self.engine.pool
            report["pool_checked_out"] = pool.checkedout() if isinstance(pool, QueuePool) else None
        report["read_only"] = self.read_only
        report["pool"] = type(self.engine.pool).__name__
        return report

    def checkpoint(
        self, mode: Literal["PASSIVE", "FULL", "RESTART", "TRUNCATE"] = "PASSIVE"
    ) -> None:
        """Checkpoint the WAL into the main file (scheduled job; keeps the WAL small)."""
        if self.read_only:
            return
        with self.raw() as con:
            con.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()

    def close(self) -> None:
        """Close every connection (held ones in use are closed when released)."""
        self._closed = True
        with self._lock:
            holds = list(self._holds)
        for hold in holds:
            if not hold.busy:
                self._drop(hold)
        self.engine.dispose()
        while self._after_close:
            self._after_close.pop()()


def _make_engine(
    path: Path,
    *,
    read_only: bool,
    immutable: bool,
    synchronous: Synchronous,
    busy_timeout_ms: int,
    wal_autocheckpoint: int | None,
    page_size: int | None = None,
) -> Engine:
    def creator() -> sqlite3.Connection:
        return _connect(
            path,
            read_only=read_only,
            immutable=immutable,
            synchronous=synchronous,
            busy_timeout_ms=busy_timeout_ms,
            wal_autocheckpoint=wal_autocheckpoint,
            page_size=page_size,
        )

    engine = create_engine(
        URL.create("sqlite+pysqlite", database=str(path)),
        creator=creator,
        poolclass=QueuePool,  # file database: one connection per thread, never StaticPool
        pool_size=5,
        # No cap (as SQLite needs none): each thread that uses the database holds one checkout
        # between uses (Database.acquire), so a cap would make the N+1st thread wait.
        max_overflow=-1,
        # Every connection is in autocommit mode and every user ends its own transaction
        # (Database.release rolls back what a raw user left open; SQLAlchemy's Connection
        # does the same for its own): the pool's extra rollback() on return was redundant, and
        # a disk fault in it after a committed batch was swallowed by the pool (R22).
        pool_reset_on_return=None,
    )

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if mode == "immediate" else "BEGIN")

    return engine


# ---------------------------------------------------------------------------- opening rules


def _open_error(kind: OpenErrorKind, path: Path, what: str) -> DatabaseOpenError:
    return DatabaseOpenError(
        kind,
        path,
        f"{path} cannot be opened: {what} Order Desk has not changed the file. " + _BACKUP_HINT,
    )


def _inspect_header(path: Path) -> tuple[int, int, bool]:
    """Check the file with plain reads before SQLite touches it.

    Returns (app id, user version, size in doubt). A size that does not match the header (not
    whole pages, fewer pages than the header counts) is only a doubt, never a verdict: a
    checkpoint cut short by a full disk or a kill leaves exactly that while the pages are safe
    in the -wal file, and SQLite reads such a file correctly (R31). SQLite judges it.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(100)
    except PermissionError as exc:
        raise _open_error("no_access", path, "you do not have permission to read it.") from exc
    except OSError as exc:
        raise _open_error("unavailable", path, f"it could not be read ({exc.strerror}).") from exc
    if size == 0:
        raise _open_error(
            "empty",
            path,
            "the file is empty (0 bytes); it may have been cut short by a crash or a copy.",
        )
    if not head.startswith(SQLITE_MAGIC):
        raise _open_error("not_sqlite", path, "it is not an Order Desk database file.")
    if len(head) < 100:
        raise _open_error("corrupt", path, "the file is damaged (it is truncated).")
    page_size = int.from_bytes(head[16:18], "big")
    if page_size == 1:
        page_size = 65536
    if page_size < 512 or page_size > 65536 or page_size & (page_size - 1):
        raise _open_error("corrupt", path, "the file is damaged (its header is invalid).")
    pages = int.from_bytes(head[28:32], "big")
    size_in_doubt = bool(size % page_size) or (
        head[24:28] == head[92:96] and pages > 0 and size < pages * page_size
    )
    user_version = int.from_bytes(head[60:64], "big", signed=True)
    app_id = int.from_bytes(head[68:72], "big", signed=True)
    return app_id, user_version, size_in_doubt


def _wal_path(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def _foreign(path: Path, app_id: int | None = None) -> DatabaseOpenError:
    if app_id == READ_MODEL_APPLICATION_ID:
        return _open_error(
            "foreign",
            path,
            "it holds the order lists of an Order Desk database (kept beside the database and "
            "made again from it), not the database itself. Choose the database file instead.",
        )
    return _open_error(
        "foreign",
        path,
        "it is a database of another program, not of Order Desk. Choose the Order Desk file.",
    )


def _check_existing(path: Path) -> int:
    """Read the stamps and the table list through a read-only connection; returns user_version.

    Without a -wal file the check uses ``immutable=1`` so SQLite creates no -wal/-shm next to
    a file that may not be ours.
    """
    header_app_id, _, size_in_doubt = _inspect_header(path)
    has_wal = _wal_path(path).exists()
    if header_app_id != APPLICATION_ID and not has_wal:
        raise _foreign(path, header_app_id)
    try:
        con = sqlite3.connect(
            _uri(path, read_only=True, immutable=not has_wal), uri=True, isolation_level=None
        )
    except sqlite3.Error as exc:
        raise _open_error("unavailable", path, f"SQLite could not open it ({exc}).") from exc
    try:
        app_id = int(con.execute("PRAGMA application_id").fetchone()[0])
        user_version = int(con.execute("PRAGMA user_version").fetchone()[0])
        if app_id != APPLICATION_ID:
            raise _foreign(path, app_id)
        names = {
            str(row[0]) for row in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if user_version >= 1 and not set(CORE_TABLES) <= names:
            raise _open_error("corrupt", path, "the file is damaged (tables are missing).")
        if "events" in names:
            con.execute("SELECT max(position) FROM events").fetchone()
        if size_in_doubt:
            # Only SQLite's own check may call the file damaged (R31).
            problems = [str(row[0]) for row in con.execute("PRAGMA quick_check(5)")]
            if problems != ["ok"]:
                raise _open_error(
                    "corrupt",
                    path,
                    f"the file is damaged (SQLite's check reports: {'; '.join(problems)}).",
                )
    except sqlite3.DatabaseError as exc:
        code = _sqlite_code(exc)
        if code in (11, 26) or "malformed" in str(exc) or "not a database" in str(exc):
            raise _open_error("corrupt", path, "the file is damaged.") from exc
        if code in (5, 6):
            raise StoreBusyError() from exc
        raise _open_error("unavailable", path, f"SQLite reported a problem ({exc}).") from exc
    finally:
        con.close()
    return user_version


def _media_read_only(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def _unwritable_companion(path: Path) -> Path | None:
    """A -wal/-shm file beside ``path`` that this user cannot write, or None.

    A read-only session on a read-only file creates them with the file's own (read-only)
    mode and cannot remove them; once the file is writable again every write would fail with
    "attempt to write a readonly database". Our own such files are made writable again
    (changing the mode is safe while other processes have them open).
    """
    for companion in (_wal_path(path), path.with_name(path.name + "-shm")):
        try:
            st = companion.stat()
        except OSError:
            continue
        if os.access(companion, os.W_OK):
            continue
        if st.st_uid == os.getuid():
            with suppress(OSError):
                os.chmod(companion, stat.S_IMODE(st.st_mode) | 0o600)
            if os.access(companion, os.W_OK):
                continue
        return companion
    return None


def _read_only_reason(path: Path, requested: bool, user_version: int) -> str | None:
    if requested:
        return "the database was opened read-only as requested."
    folder = path.parent
    if _media_read_only(folder):
        return "the disk or media holding the database is read-only."
    if not os.access(path, os.W_OK):
        return "the database file is read-only (you do not have permission to change it)."
    if not os.access(folder, os.W_OK):
        return "the folder holding the database is read-only (SQLite needs to write next to it)."
    blocker = _unwritable_companion(path)
    if blocker is not None:
        return (
            f"{blocker.name} next to the database is read-only (left by another user's "
            "read-only session); close Order Desk everywhere, then make it writable or delete it."
        )
    if user_version > SCHEMA_VERSION:
        return (
            "the database was written by a newer version of Order Desk "
            f"(file format {user_version}, this program understands {SCHEMA_VERSION}); "
            "update Order Desk to make changes."
        )
    return None


def trigger_reason(path: Path) -> str | None:
    """Why a writable open must be read-only because the append-only triggers are missing or
    altered (R29), or None when they are exact. Read through a read-only connection."""
    has_wal = _wal_path(path).exists()
    try:
        con = sqlite3.connect(
            _uri(path, read_only=True, immutable=not has_wal), uri=True, isolation_level=None
        )
        try:
            problem = trigger_problem(con)
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise translate_error(exc) from exc
    if problem is None:
        return None
    return (
        f"{problem}, so recorded history could be changed; nothing will be written. "
        "An administrator can run `desktop-app-admin verify` and then `desktop-app-admin repair`."
    )


def _create_file(path: Path) -> None:
    """Create the file 0600 (in a 0700 folder if the folder is new) before SQLite opens it."""
    folder = path.parent
    if not folder.exists():
        make_private_folder(folder)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def _remove_files(path: Path) -> None:
    for p in (path, _wal_path(path), path.with_name(path.name + "-shm")):
        with suppress(FileNotFoundError):
            p.unlink()


def backup_folder(path: Path) -> Path:
    """Where backups of ``path`` are kept (created 0700 on first use)."""
    return path.parent / "backups"


def backup_copy(path: Path, target: Path) -> Path:
    """Copy the live database to ``target`` with the SQLite backup API (never a file copy)."""
    folder = target.parent
    if not folder.exists():
        folder.mkdir(mode=0o700, parents=True)
        os.chmod(folder, 0o700)
    fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    try:
        src = sqlite3.connect(_uri(path, read_only=True, immutable=False), uri=True)
        try:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)
                dst.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                dst.close()
        finally:
            src.close()
        with target.open("rb+") as fh:
            os.fsync(fh.fileno())
    except BaseException:
        _remove_files(target)
        raise
    return target


def _stamp_and_migrate(db: Database, from_version: int) -> None:
    """Run migration steps ``from_version+1..SCHEMA_VERSION`` and stamp, in ONE transaction."""
    with db.write() as conn:
        for version in range(from_version + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[version](conn)
        conn.exec_driver_sql(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_VERSION}")
    # Put page 1 (the stamps) into the main file so plain header reads see them.
    with suppress(StoreError):
        db.checkpoint("TRUNCATE")


def open_database(
    path: Path,
    *,
    create: bool = True,
    synchronous: Synchronous = "FULL",
    busy_timeout_ms: int = 5000,
    read_only: bool = False,
) -> Database:
    """Open (or create) the Order Desk database at ``path`` following the opening rules.

    Raises ``DatabaseOpenError`` (never writing the file) for a missing, empty, non-SQLite,
    corrupt or foreign file. A newer file, or a read-only file/folder/media, opens read-only.
    An older file is upgraded in one transaction after a backup copy.
    """
    path = Path(path).absolute()
    fresh = False
    user_version = SCHEMA_VERSION
    if not path.exists():
        _create_new(path, allowed=create and not read_only)
        fresh = True
    else:
        user_version = _check_existing(path)

    reason = None if fresh else _read_only_reason(path, read_only, user_version)
    if reason is None and not fresh and user_version >= 1:
        reason = trigger_reason(path)
    db = _database(
        path,
        reason,
        user_version,
        synchronous,
        busy_timeout_ms,
        wal_autocheckpoint=WAL_AUTOCHECKPOINT_PAGES[synchronous],
        page_size=EVENT_PAGE_SIZE if fresh else None,
    )
    try:
        if fresh:
            _stamp_and_migrate(db, 0)
        elif reason is None and user_version < SCHEMA_VERSION:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            target = backup_folder(path) / f"{path.stem}-v{user_version}-before-upgrade-{stamp}"
            with store_errors():
                backup_copy(path, target.with_suffix(path.suffix or ".sqlite3"))
            _stamp_and_migrate(db, user_version)
            db.schema_version = SCHEMA_VERSION
        else:
            with db.raw() as con:  # open one connection now: pragma failures surface here
                con.execute("SELECT 1").fetchone()
    except BaseException:
        db.close()
        if fresh:
            _remove_files(path)  # our own half-made file; an empty one would be refused later
        raise
    return db


def _create_new(path: Path, *, allowed: bool) -> None:
    """Create a missing file of ours (0600), or say why it cannot be opened."""
    if not allowed:
        raise _open_error("not_found", path, "the file does not exist.")
    try:
        _create_file(path)
    except OSError as exc:
        raise _open_error(
            "unavailable", path, f"the file could not be created ({exc.strerror})."
        ) from exc


def _database(
    path: Path,
    read_only_reason: str | None,
    schema_version: int,
    synchronous: Synchronous,
    busy_timeout_ms: int,
    *,
    wal_autocheckpoint: int | None = None,
    page_size: int | None = None,
) -> Database:
    """The engine and :class:`Database` for an existing (or just created) file of ours
    (``wal_autocheckpoint``, ``page_size``: see :func:`_connect`)."""
    immutable = False
    if read_only_reason is not None and not _wal_path(path).exists():
        # Nothing may be created next to the file on read-only media or in a read-only folder.
        immutable = _media_read_only(path.parent) or not os.access(path.parent, os.W_OK)
    with store_errors():
        engine = _make_engine(
            path,
            read_only=read_only_reason is not None,
            immutable=immutable,
            synchronous=synchronous,
            busy_timeout_ms=busy_timeout_ms,
            wal_autocheckpoint=wal_autocheckpoint,
            page_size=page_size,
        )
    return Database(
        path=path,
        engine=engine,
        read_only_reason=read_only_reason,
        schema_version=schema_version,
        synchronous=synchronous,
        busy_timeout_ms=busy_timeout_ms,
    )


def open_side_file(
    path: Path,
    *,
    read_only_reason: str | None,
    synchronous: Synchronous,
    busy_timeout_ms: int,
) -> Database:
    """Open (creating it 0600 when missing and writable) a companion SQLite file of ours that
    is not an Order Desk database: the read model's file (see ``store.read_model_file``).

    The same pragmas and pool as the database (WAL, busy timeout); no stamps, migrations or
    triggers: the caller checks and stamps what it needs. A read-only open never creates or
    changes the file (``immutable`` where nothing may be created beside it).
    """
    path = Path(path).absolute()
    fresh = False
    if not path.exists():
        _create_new(path, allowed=read_only_reason is None)
        fresh = True
    db = _database(path, read_only_reason, 0, synchronous, busy_timeout_ms)
    try:
        with db.raw() as con:  # one connection now: pragma failures surface here
            db.schema_version = int(con.execute("PRAGMA user_version").fetchone()[0])
    except BaseException:
        db.close()
        if fresh:
            _remove_files(path)
        raise
    return db


def sqlite_details(db: Database) -> dict[str, Any]:
    """Extra facts for the About box / CLI: file sizes of the database and its WAL."""
    wal = _wal_path(db.path)
    return {
        "db_bytes": db.path.stat().st_size if db.path.exists() else 0,
        "wal_bytes": wal.stat().st_size if wal.exists() else 0,
        "backups": str(backup_folder(db.path)),
    }


__all__ = [
    "EVENT_PAGE_SIZE",
    "JOURNAL_SIZE_LIMIT",
    "MIGRATIONS",
    "WAL_AUTOCHECKPOINT_PAGES",
    "Database",
    "DatabaseOpenError",
    "backup_copy",
    "backup_folder",
    "open_database",
    "open_side_file",
    "store_errors",
    "translate_error",
    "trigger_reason",
]
