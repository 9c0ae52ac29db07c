"""SQLite event store and snapshot store.

Hot paths (append, read_stream, read_all) use the pooled raw sqlite3 connection: each
SQLAlchemy Core round trip costs ~20 µs, a whole append at synchronous=FULL ~150 µs, so
the append is BEGIN IMMEDIATE + one SELECT + executemany + (one INSERT) + COMMIT.

The aggregate cache's catch-up read is skipped when ``stream_is_current`` can prove nothing was
appended since this process's own append (one ``PRAGMA data_version`` on the same connection).

Over 500 lines on purpose: the event and snapshot stores share the hot-path connection handling.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import suppress
from datetime import datetime
from pathlib import Path

from sqlalchemy import exc as sa_exc

from desktop_app.application.ports import (
    AppendResult,
    AuditRow,
    ConcurrencyError,
    Digest,
    EventData,
    NewEvent,
    Progress,
    Snapshot,
    SnapshotInfo,
    SnapshotTrust,
    StoredEvent,
    StoredSnapshot,
    StoreError,
    UniqueClaim,
    UniqueClash,
    UniqueKeyTakenError,
    VerifyResult,
)
from desktop_app.store import unique_keys
from desktop_app.store.engine import Database, store_errors, translate_error
from desktop_app.store.hashing import GENESIS_HASH, ChainVerifier, Row, parse_utc
from desktop_app.store.records import (
    MAX_VERSION,
    SNAPSHOT_COLUMNS,
    Clock,
    DataRow,
    SnapshotRow,
    SnapshotTrustLog,
    append_result,
    build_rows,
    check_append,
    clock_text,
    decode_data_rows,
    decode_rows,
    digest_result,
    encode_events,
    payload_object,
    recorded_result,
    scan_json,
    snapshot_info,
    snapshot_row,
    stored_snapshot,
    trusted_snapshot,
    utc_now,
    verify_result,
)
from desktop_app.store.schema import FINGERPRINTS_SINCE
from desktop_app.store.sealing import SealKey, key_path, load_key, read_database_id

_COLUMNS = (
    "position, stream_id, version, event_id, type_name, schema_version, "
    "payload, metadata, recorded_at, prev_hash, hash"
)

# One SELECT gives the stream's version and the chain head (its position and hash: two seeks
# to the last row of the rowid B-tree). The next position is the head's + 1 (format 9 has no
# AUTOINCREMENT: see schema.events). A recorded command id is found by the UNIQUE key of
# ``commands`` refusing it (then looked up, like a version conflict): the happy path pays no
# lookup.
_HEAD_SQL = """
SELECT
  (SELECT max(version) FROM events WHERE stream_id = ?),
  (SELECT hash FROM events ORDER BY position DESC LIMIT 1),
  (SELECT max(position) FROM events),
  (SELECT data_version FROM pragma_data_version())
"""

_INSERT_EVENT = f"INSERT INTO events ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)"  # noqa: S608
_INSERT_COMMAND = (
    "INSERT INTO commands "
    "(command_id, stream_id, version, first_position, last_position, fingerprint) "
    "VALUES (?,?,?,?,?,?)"
)
_READ_STREAM = (
    f"SELECT {_COLUMNS} FROM events WHERE stream_id = ? AND version >= ? AND version <= ? "  # noqa: S608
    "ORDER BY version"
)
# Only what an aggregate load needs (the hashes and metadata are ~2/3 of a row's bytes).
_READ_STREAM_DATA = (
    "SELECT version, type_name, schema_version, payload FROM events "
    "WHERE stream_id = ? AND version >= ? AND version <= ? ORDER BY version"
)
_READ_ALL = f"SELECT {_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?"  # noqa: S608
_FIND_COMMAND = (
    "SELECT stream_id, version, first_position, last_position, fingerprint FROM commands "
    "WHERE command_id = ?"
)
# A file older than FINGERPRINTS_SINCE opened read-only (not upgraded) has no fingerprints.
_FIND_COMMAND_V1 = (
    "SELECT stream_id, version, first_position, last_position, NULL FROM commands "
    "WHERE command_id = ?"
)
_NEXT_NUMBER = (
    "INSERT INTO sequences (name, value) VALUES (?1, ?2) "
    "ON CONFLICT (name) DO UPDATE SET value = value + ?2 RETURNING value"
)

VERIFY_BATCH = 20_000
"""Events between two ``verify`` progress reports."""
VERIFY_FETCH = 256
"""Rows ``verify`` fetches and checks at a time."""
# verify's one scan of the whole log (a rowid scan: position is the INTEGER PRIMARY KEY).
_VERIFY_ALL = f"SELECT {_COLUMNS} FROM events ORDER BY position"  # noqa: S608

_KNOWN_LIMIT = 20_000
"""Streams remembered by ``stream_is_current`` at most (then the memory starts afresh)."""

Known = dict[str, tuple[int, sqlite3.Connection, int]]
"""stream -> (the version the last append made it, the pooled connection that append used,
that connection's ``PRAGMA data_version`` inside the append's write transaction)."""

# One map per open Database, shared by every store on it: they share its pooled connections,
# so an append through any of them must update what all of them believe.
_KNOWN_BY_DB: weakref.WeakKeyDictionary[Database, Known] = weakref.WeakKeyDictionary()
_known_lock = threading.Lock()


def _known_streams(db: Database) -> Known:
    with _known_lock:
        known = _KNOWN_BY_DB.get(db)
        if known is None:
            known = _KNOWN_BY_DB[db] = {}
        return known


def _conflict_or_error(exc: sqlite3.IntegrityError, stream_id: str, expected: int) -> StoreError:
    text = str(exc)
    if "events.stream_id" in text:
        return ConcurrencyError(stream_id, expected)
    if "events.event_id" in text:
        return StoreError("An event with the same id was already recorded.")
    if "commands.command_id" in text:
        return StoreError("This command was already recorded.")
    return StoreError(f"The database refused the change ({exc}).")


class _ReadEpoch(threading.local):
    """One thread's read epoch: its depth, and the ``data_version`` read in it (on ``con``)."""

    depth = 0
    con: sqlite3.Connection | None = None
    data_version = 0


def _recorded(
    db: Database, con: sqlite3.Connection, command_id: str, fingerprint: str | None
) -> AppendResult | None:
    """The recorded result of ``command_id`` (``duplicate=True``), or None;
    ``CommandIdReusedError`` when it was recorded with another fingerprint."""
    sql = _FIND_COMMAND if db.schema_version >= FINGERPRINTS_SINCE else _FIND_COMMAND_V1
    row = con.execute(sql, (command_id,)).fetchone()
    if row is None:
        return None
    return recorded_result(command_id, row, fingerprint)


class SqliteEventStore:
    """``EventStore`` on an Order Desk SQLite file."""

    def __init__(self, db: Database, *, clock: Clock | None = None) -> None:
        self._db = db
        self._clock: Clock = clock or utc_now
        self._known = _known_streams(db)
        self._epoch = _ReadEpoch()

    @property
    def database(self) -> Database:
        """The open database (for the CLI and the status bar)."""
        return self._db

    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        command_id: str | None = None,
        claims: Sequence[UniqueClaim] = (),
        fingerprint: str | None = None,
    ) -> AppendResult:
        """Append atomically in one ``BEGIN IMMEDIATE`` transaction (see ``EventStore``)."""
        check_append(stream_id, expected_version, events, command_id, fingerprint)
        encoded = encode_events(events)  # JSON work before the write lock is taken
        recorded_at = clock_text(self._clock)
        db = self._db
        db.ensure_writable()
        # Explicit try/finally rather than nested context managers: this is the hottest path.
        known = self._known
        # Forget the stream first: whatever happens below, no stale "current" answer remains.
        known.pop(stream_id, None)
        con = db.acquire()
        try:
            con.execute("BEGIN IMMEDIATE")
            current, head_hash, head, data_version = con.execute(_HEAD_SQL, (stream_id,)).fetchone()
            current = current or 0
            if current != expected_version:
                try:
                    earlier = (
                        None if command_id is None else _recorded(db, con, command_id, fingerprint)
                    )
                finally:
                    con.execute("ROLLBACK")
                if earlier is not None:
                    return earlier
                raise ConcurrencyError(stream_id, expected_version, current)
            rows = build_rows(
                stream_id,
                current + 1,
                (head or 0) + 1,
                head_hash or GENESIS_HASH,
                recorded_at,
                encoded,
            )
            result = append_result(stream_id, rows)
            if command_id is not None:
                # First: a command id already recorded stops the append here (see below).
                con.execute(
                    _INSERT_COMMAND,
                    (
                        command_id,
                        stream_id,
                        result.version,
                        result.first_position,
                        result.last_position,
                        fingerprint,
                    ),
                )
            for wanted in claims:
                # Under the write lock: nobody can take the key between the claim and COMMIT.
                holder = unique_keys.claim(con, wanted)
                if holder != wanted.owner:
                    con.execute("ROLLBACK")
                    raise UniqueKeyTakenError(wanted, holder)
            con.executemany(_INSERT_EVENT, rows)
            con.execute("COMMIT")
            # Still holding the connection, so a later append on it cannot record first.
            if len(known) >= _KNOWN_LIMIT:
                known.clear()
            known[stream_id] = (result.version, con, data_version)
            return result
        except sqlite3.IntegrityError as exc:
            # A recorded command id wins over any other refusal: write nothing, report the
            # first result (still inside the write transaction, so it cannot change).
            earlier = None
            if command_id is not None and con.in_transaction:
                with suppress(sqlite3.Error):
                    earlier = _recorded(db, con, command_id, fingerprint)
            if earlier is not None:
                return earlier
            raise _conflict_or_error(exc, stream_id, expected_version) from exc
        except (sqlite3.Error, sa_exc.SQLAlchemyError) as exc:
            raise translate_error(exc) from exc
        finally:
            db.release(con)  # rolls back whatever is still open

    def stream_is_current(self, stream_id: str, version: int) -> bool:
        """True when ``version`` is certainly still the stream's newest event, so a catch-up
        read from it would find nothing new; False means "read to find out", nothing more.

        Certain when this store's last append to the stream made it ``version`` and no other
        connection has committed anything since: ``PRAGMA data_version`` on the SAME pooled
        connection (it is per connection) is unchanged since that append's write transaction.
        Commits by this connection do not change it, but events only ever change through
        :meth:`append` (which forgets the stream first); UPDATE and DELETE are refused by
        triggers, and anyone who drops them uses another connection, which is seen.

        Inside a read epoch (:meth:`begin_reads`) the first reading of ``data_version`` is
        reused for the rest of the epoch: the answer is then "current as of the epoch's first
        check" (a commit by another connection after it is seen by the next epoch, or by the
        append's own version check).
        """
        known = self._known
        entry = known.get(stream_id)
        if entry is None or entry[0] != version:
            return False  # the common "no" without touching a connection
        epoch = self._epoch
        if epoch.depth and epoch.con is entry[1]:
            # Read on that connection earlier in this epoch: nothing needs a connection now.
            return bool(epoch.data_version == entry[2])
        db = self._db
        con = db.acquire()
        try:
            # Again, now that we hold the connection: an append that used it has finished and
            # recorded its stream; one on another connection will change its data_version.
            entry = known.get(stream_id)
            if entry is None or entry[0] != version or entry[1] is not con:
                return False
            data_version = con.execute("PRAGMA data_version").fetchone()[0]
        except (sqlite3.Error, sa_exc.SQLAlchemyError, StoreError):
            return False
        finally:
            db.release(con)
        if epoch.depth:
            epoch.con = con
            epoch.data_version = data_version
        return bool(data_version == entry[2])

    def begin_reads(self) -> None:
        """Start a read epoch on this thread (the command bus opens one per command; they
        nest): :meth:`stream_is_current` reads ``PRAGMA data_version`` once per epoch instead
        of once per call, so a command's cached reads all see the store as of its first one.
        Every ``begin_reads`` must be matched by :meth:`end_reads`."""
        self._epoch.depth += 1

    def end_reads(self) -> None:
        """End the read epoch begun by the matching :meth:`begin_reads`."""
        epoch = self._epoch
        epoch.depth -= 1
        if epoch.depth <= 0:
            epoch.depth = 0
            epoch.con = None

    def find_command(
        self, command_id: str, *, fingerprint: str | None = None
    ) -> AppendResult | None:
        """The recorded result of ``command_id`` (``duplicate=True``), or None (see
        ``EventStore.find_command``)."""
        with store_errors(), self._db.raw() as con:
            return _recorded(self._db, con, command_id, fingerprint)

    def unique_key_holder(self, namespace: str, key: str) -> str | None:
        """The owner holding ``key`` in ``namespace``, or None."""
        with store_errors(), self._db.raw() as con:
            return unique_keys.holder(con, namespace, key)

    def unique_key_clashes(self, namespace: str | None = None) -> list[UniqueClash]:
        """Keys found held twice when the file was upgraded (see ``store.unique_keys``)."""
        with store_errors(), self._db.raw() as con:
            return unique_keys.clashes(con, namespace)

    def read_stream(
        self, stream_id: str, *, from_version: int = 1, to_version: int | None = None
    ) -> list[StoredEvent]:
        """One stream in version order (a single query; never ordered by time)."""
        upper = MAX_VERSION if to_version is None else to_version
        with store_errors(), self._db.raw() as con:
            rows: list[Row] = con.execute(_READ_STREAM, (stream_id, from_version, upper)).fetchall()
        return decode_rows(rows)

    def read_stream_data(
        self, stream_id: str, *, from_version: int = 1, to_version: int | None = None
    ) -> list[EventData]:
        """(version, type_name, schema_version, payload) of one stream, in version order."""
        upper = MAX_VERSION if to_version is None else to_version
        db = self._db
        # acquire/release rather than two context managers: every command runs this once or
        # twice and the context-manager machinery cost as much as the indexed query itself.
        con = db.acquire()
        try:
            rows: list[DataRow] = con.execute(
                _READ_STREAM_DATA, (stream_id, from_version, upper)
            ).fetchall()
        except (sqlite3.Error, sa_exc.SQLAlchemyError) as exc:
            raise translate_error(exc) from exc
        finally:
            db.release(con)
        return decode_data_rows(rows)

    def stream_version(self, stream_id: str) -> int:
        """Current version of a stream (0 when it does not exist)."""
        with store_errors(), self._db.raw() as con:
            row = con.execute(
                "SELECT max(version) FROM events WHERE stream_id = ?", (stream_id,)
            ).fetchone()
        return int(row[0] or 0)

    def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Up to ``limit`` events after ``after_position``, in position order (for tailing)."""
        if limit <= 0:
            return []
        with store_errors(), self._db.raw() as con:
            rows: list[Row] = con.execute(_READ_ALL, (after_position, limit)).fetchall()
        return decode_rows(rows)

    def head_position(self) -> int:
        """Position of the newest event (0 when empty)."""
        with store_errors(), self._db.raw() as con:
            row = con.execute("SELECT max(position) FROM events").fetchone()
        return int(row[0] or 0)

    def verify(self, *, progress: Progress | None = None) -> VerifyResult:
        """Recompute the whole chain in batches inside one read snapshot."""
        verifier = ChainVerifier()
        with store_errors(), self._db.raw_read() as con:
            total = int(con.execute("SELECT count(*) FROM events").fetchone()[0])
            if progress is not None:
                progress(0, total)
            # One scan, fed in small slices: each row is checked while its texts are still in
            # the CPU cache (20,000-row lists measured ~15% slower); progress every batch.
            cursor = con.execute(_VERIFY_ALL)
            try:
                cursor.arraysize = VERIFY_FETCH
                fetch = cursor.fetchmany
                feed = verifier.feed
                reported = 0
                while rows := fetch():
                    ok = feed(rows)
                    if progress is not None and (
                        not ok or verifier.checked - reported >= VERIFY_BATCH
                    ):
                        reported = verifier.checked
                        progress(min(reported, total), total)
                    if not ok:
                        break
                else:
                    if progress is not None and reported != verifier.checked:
                        progress(min(verifier.checked, total), total)
            finally:
                cursor.close()
        return verify_result(verifier)

    def digest(self) -> Digest:
        """The chain head now; keep it elsewhere to catch truncation or a rewritten chain."""
        with store_errors(), self._db.raw_read() as con:
            head = con.execute(
                "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1"
            ).fetchone()
            count = int(con.execute("SELECT count(*) FROM events").fetchone()[0])
        return Digest(
            head_position=int(head[0]) if head else 0,
            head_hash=str(head[1]) if head else GENESIS_HASH,
            event_count=count,
            taken_at=self._now(),
        )

    def check_digest(self, digest: Digest) -> VerifyResult:
        """Is the log still an extension of ``digest``? Then verify the whole chain."""
        with store_errors(), self._db.raw_read() as con:
            row = con.execute(
                "SELECT hash FROM events WHERE position = ?", (digest.head_position,)
            ).fetchone()
            count = int(
                con.execute(
                    "SELECT count(*) FROM events WHERE position <= ?", (digest.head_position,)
                ).fetchone()[0]
            )
            head = con.execute(
                "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1"
            ).fetchone()
        stored = None if digest.head_position == 0 else (str(row[0]) if row else None)
        return digest_result(
            digest,
            stored,
            count,
            int(head[0]) if head else 0,
            str(head[1]) if head else GENESIS_HASH,
            self.verify,
        )

    def next_number(self, sequence: str, count: int = 1) -> int:
        """Reserve ``count`` consecutive values of a counter (own write transaction); the first."""
        if type(count) is not int or count < 1:
            raise ValueError("count must be an integer >= 1")
        with store_errors(), self._db.raw_write() as con:
            rows = con.execute(_NEXT_NUMBER, (sequence, count)).fetchall()
        return int(rows[0][0]) - count + 1

    def iter_stream_ids(self, prefix: str = "") -> Iterator[str]:
        """Stream ids starting with ``prefix``, in order; pages of 1000, no open transaction."""
        last: str | None = None
        while True:
            with store_errors(), self._db.raw() as con:
                if last is None:
                    rows = con.execute(
                        "SELECT DISTINCT stream_id FROM events WHERE stream_id >= ? "
                        "ORDER BY stream_id LIMIT 1000",
                        (prefix,),
                    ).fetchall()
                else:
                    rows = con.execute(
                        "SELECT DISTINCT stream_id FROM events WHERE stream_id > ? "
                        "ORDER BY stream_id LIMIT 1000",
                        (last,),
                    ).fetchall()
            if not rows:
                return
            for (stream_id,) in rows:
                if not stream_id.startswith(prefix):
                    return
                yield stream_id
            last = rows[-1][0]

    def iter_streams(self) -> Iterator[tuple[str, list[AuditRow]]]:
        """Every stream with its events, by stream id, from one read snapshot (``verify``).

        One scan in (stream_id, version) order (the unique index); the read transaction stays
        open until the caller has consumed the last stream or closed the iterator.
        """
        with store_errors(), self._db.raw_read() as con:
            cursor = con.execute(_SCAN_STREAMS)
            try:
                cursor.arraysize = 1000
                current: str | None = None
                rows: list[AuditRow] = []
                scan = scan_json
                while batch := cursor.fetchmany():
                    for stream_id, position, version, type_name, schema_version, text in batch:
                        if stream_id != current:
                            if current is not None:
                                yield current, rows
                            current, rows = stream_id, []
                        # payload_object inlined for the usual case (a whole JSON object).
                        try:
                            payload, end = scan(text, 0)
                            if end != len(text) or type(payload) is not dict:
                                payload = payload_object(text)
                        except (StopIteration, TypeError, ValueError):
                            payload = payload_object(text)
                        rows.append((position, version, type_name, schema_version, payload))
                if current is not None:
                    yield current, rows
            finally:
                cursor.close()

    def _now(self) -> datetime:
        return parse_utc(clock_text(self._clock))


_SCAN_STREAMS = (
    "SELECT stream_id, position, version, type_name, schema_version, payload FROM events "
    "ORDER BY stream_id, version"
)


_SNAPSHOT_READ = (
    "SELECT s.stream_id, s.version, s.aggregate_type, s.schema_version, s.state, s.checksum, "
    "s.size_bytes, s.taken_at, {seal}, e.hash FROM snapshots AS s "
    "LEFT JOIN events AS e ON e.stream_id = s.stream_id AND e.version = s.version "
)
_EVENT_HASH = "SELECT hash FROM events WHERE stream_id = ? AND version = ?"


def _split(row: tuple[object, ...]) -> tuple[SnapshotRow, object]:
    """A joined snapshot row: (the stored row, the hash of the event at its version)."""
    return row[:9], row[9]  # type: ignore[return-value]


class SqliteSnapshotStore:
    """``SnapshotStore`` on an Order Desk SQLite file; only sealed rows are trusted (R26).

    ``key_dir`` is the folder of this account's snapshot keys (the user's data folder, never
    beside the database); without one, or without a key for this file there, no snapshot is
    trusted and none is taken. A writable file gets a fresh key when it has none here.
    """

    def __init__(
        self, db: Database, *, clock: Clock | None = None, key_dir: Path | None = None
    ) -> None:
        self._db = db
        self._clock: Clock = clock or utc_now
        with store_errors(), db.raw() as con:
            database_id = read_database_id(con)
            columns = {row[1] for row in con.execute("PRAGMA table_info(snapshots)")}
        # A schema-1 file opened read-only (an old backup) has no seal column: every row then
        # reads as unsealed, so it is shown and verified but never trusted.
        self._read = _SNAPSHOT_READ.format(seal="s.seal" if "seal" in columns else "''")
        self._key = load_key(key_dir, database_id, create=not db.read_only)
        self._trust = SnapshotTrustLog(self._key, _key_note(key_dir, database_id, self._key))

    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Store (or replace) the snapshot at its version, sealed over the event there."""
        taken_at = clock_text(self._clock)
        with store_errors(), self._db.raw_write() as con:
            found = con.execute(_EVENT_HASH, (snapshot.stream_id, snapshot.version)).fetchone()
            row = snapshot_row(snapshot, taken_at, self._key, None if found is None else found[0])
            con.execute(
                f"INSERT OR REPLACE INTO snapshots ({SNAPSHOT_COLUMNS}) "  # noqa: S608
                "VALUES (?,?,?,?,?,?,?,?,?)",
                row,
            )

    def latest_snapshot(
        self, stream_id: str, *, at_or_below_version: int | None = None
    ) -> Snapshot | None:
        """Newest trusted snapshot at or below a version; every other one is counted."""
        upper = MAX_VERSION if at_or_below_version is None else at_or_below_version
        key, trust = self._key, self._trust
        with store_errors(), self._db.raw() as con:
            cur = con.execute(
                self._read + "WHERE s.stream_id = ? AND s.version <= ? ORDER BY s.version DESC",
                (stream_id, upper),
            )
            try:
                while True:
                    batch = cur.fetchmany(8)
                    if not batch:
                        return None
                    for joined in batch:
                        row, event_hash = _split(joined)
                        snap = trusted_snapshot(row, event_hash, key, trust)
                        if snap is not None:
                            return snap
            finally:
                cur.close()

    def list_snapshots(self, stream_id: str) -> list[SnapshotInfo]:
        """All snapshots of a stream, newest first, valid or not."""
        with store_errors(), self._db.raw() as con:
            rows = con.execute(
                self._read + "WHERE s.stream_id = ? ORDER BY s.version DESC",
                (stream_id,),
            ).fetchall()
        return [snapshot_info(*_split(row), self._key) for row in rows]

    def get_snapshot(self, stream_id: str, version: int) -> Snapshot | None:
        """One trusted snapshot, or None when missing, unreadable or not trusted."""
        with store_errors(), self._db.raw() as con:
            row = con.execute(
                self._read + "WHERE s.stream_id = ? AND s.version = ?",
                (stream_id, version),
            ).fetchone()
        return None if row is None else trusted_snapshot(*_split(row), self._key, self._trust)

    def trust(self) -> SnapshotTrust:
        """Key state and the snapshots refused so far."""
        return self._trust.status()

    def iter_snapshots(self) -> Iterator[StoredSnapshot]:
        """Every snapshot, by stream then version, in pages (no transaction held open)."""
        last: tuple[str, int] = ("", 0)
        while True:
            with store_errors(), self._db.raw() as con:
                rows = con.execute(
                    self._read + "WHERE (s.stream_id, s.version) > (?, ?) "
                    "ORDER BY s.stream_id, s.version LIMIT 1000",
                    last,
                ).fetchall()
            if not rows:
                return
            for joined in rows:
                yield stored_snapshot(*_split(joined), self._key)
            last = (rows[-1][0], rows[-1][1])


def _key_note(key_dir: Path | None, database_id: str | None, key: SealKey | None) -> str:
    if key_dir is None:
        return "no key folder given: snapshots are not trusted"
    if database_id is None:
        return "the file has no database id (an older file opened read-only): no snapshot key"
    path = key_path(key_dir, database_id)
    if key is None:
        return f"no usable snapshot key at {path}: snapshots are not trusted"
    return f"snapshot key {path}"
