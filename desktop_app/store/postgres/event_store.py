"""Event store and snapshot store on a PostgreSQL server, with the SQLite store's semantics
(``store/event_store.py``) and the very same rows, hashes and checks (``store/records.py``,
``store/hashing.py``): ``verify`` works the same on both backends.

Gap-free reading in commit order: every append takes ONE transaction-level advisory lock
(``pg_advisory_xact_lock``) as its FIRST statement, and only then reads the head and hands out
positions (head + 1 …). The lock is released after the commit is visible, so appends commit
one after another in position order, and a reader's ``position > last`` never passes over an
event that commits later (a PostgreSQL sequence would: numbers are taken in one order and
committed in another). The lock is a separate statement on purpose: under READ COMMITTED
each statement takes its own snapshot, so the head read after the lock sees the previous
append's commit. See docs/ARCHITECTURE.md ("Storage on a PostgreSQL server").

Where ``init`` made the server's append function (``append_function``), an append is ONE call
of it in autocommit: the same lock, checks and inserts in the same order, inside the server,
so the lock is never held across a round trip to the client. A database made by an older
Order Desk (no function yet) is appended to with the pipelined statements below until an
administrator runs ``init`` again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import psycopg.errors as pg_errors

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
from desktop_app.store.hashing import GENESIS_HASH, ChainVerifier, parse_utc, row_hash_parts
from desktop_app.store.postgres import append_function
from desktop_app.store.postgres.database import PostgresDatabase
from desktop_app.store.postgres.ddl import APPEND_LOCK_KEY
from desktop_app.store.records import (
    MAX_VERSION,
    SNAPSHOT_COLUMNS,
    Clock,
    Encoded,
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
    snapshot_info,
    snapshot_row,
    stored_snapshot,
    trusted_snapshot,
    utc_now,
    verify_result,
)
from desktop_app.store.sealing import DATABASE_ID, SealKey, key_path, load_key

_COLUMNS = (
    "position, stream_id, version, event_id, type_name, schema_version, "
    "payload, metadata, recorded_at, prev_hash, hash"
)

_LOCK = "SELECT pg_advisory_xact_lock(%s)"
# After the lock, in one round trip: the stream's version, the chain head, and the command
# record when the id was used before (a recorded command id wins over every other check).
_HEAD = """
SELECT v.current, h.position, h.hash,
       c.stream_id, c.version, c.first_position, c.last_position, c.fingerprint
FROM (SELECT max(version) AS current FROM events WHERE stream_id = %(stream)s) AS v
LEFT JOIN LATERAL (SELECT position, hash FROM events ORDER BY position DESC LIMIT 1) AS h
  ON true
LEFT JOIN commands AS c ON c.command_id = %(command)s
"""
_INSERT_EVENT = (
    f"INSERT INTO events ({_COLUMNS}) "  # noqa: S608
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
_INSERT_COMMAND = (
    "INSERT INTO commands "
    "(command_id, stream_id, version, first_position, last_position, fingerprint) "
    "VALUES (%s, %s, %s, %s, %s, %s)"
)
_CLAIM = (
    "INSERT INTO unique_keys (namespace, key, owner_id) VALUES (%s, %s, %s) "
    "ON CONFLICT (namespace, key) DO NOTHING"
)
_HOLDER = "SELECT owner_id FROM unique_keys WHERE namespace = %s AND key = %s"
_CLASHES = (
    "SELECT namespace, key, holder_id, owner_id, position FROM unique_key_clashes "
    "WHERE %(ns)s::text IS NULL OR namespace = %(ns)s ORDER BY position"
)
_FIND_COMMAND = (
    "SELECT stream_id, version, first_position, last_position, fingerprint FROM commands "
    "WHERE command_id = %s"
)
_READ_STREAM = (
    f"SELECT {_COLUMNS} FROM events "  # noqa: S608
    "WHERE stream_id = %s AND version >= %s AND version <= %s ORDER BY version"
)
_READ_STREAM_DATA = (
    "SELECT version, type_name, schema_version, payload FROM events "
    "WHERE stream_id = %s AND version >= %s AND version <= %s ORDER BY version"
)
_READ_STREAM_DATA_HEAD = (
    "SELECT e.version, e.type_name, e.schema_version, e.payload, h.position "
    "FROM (SELECT max(position) AS position FROM events) AS h "
    "LEFT JOIN events AS e ON e.stream_id = %s AND e.version >= %s ORDER BY e.version"
)
# The head and what the log gained after a known head, from one snapshot (stream_is_current).
_SYNC = (
    "SELECT h.position, d.stream_id, d.version "
    "FROM (SELECT max(position) AS position FROM events) AS h "
    "LEFT JOIN LATERAL (SELECT stream_id, version FROM events "
    "WHERE position > %(after)s AND position <= h.position ORDER BY position LIMIT %(limit)s) "
    "AS d ON true"
)
_SYNC_LIMIT = 500
"""Events read by one catch-up of the known versions at most (more: start afresh)."""
_READ_ALL = f"SELECT {_COLUMNS} FROM events WHERE position > %s ORDER BY position LIMIT %s"  # noqa: S608
_HEAD_POSITION = "SELECT position FROM events ORDER BY position DESC LIMIT 1"
_HEAD_ROW = "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1"
_NEXT_NUMBER = (
    "INSERT INTO sequences (name, value) VALUES (%(name)s, %(count)s) "
    "ON CONFLICT (name) DO UPDATE SET value = sequences.value + EXCLUDED.value RETURNING value"
)
_SNAPSHOT_TX = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
_SCAN_STREAMS = (
    "SELECT stream_id, position, version, type_name, schema_version, payload FROM events "
    "ORDER BY stream_id, version"
)

VERIFY_BATCH = 20_000
"""Events between two ``verify`` progress reports."""
FETCH = 2000
"""Rows a server-side cursor fetches at a time."""

_KNOWN_LIMIT = 20_000


def _refusal(exc: pg_errors.IntegrityError, stream_id: str, expected: int) -> StoreError:
    constraint = getattr(getattr(exc, "diag", None), "constraint_name", None) or ""
    if constraint == "uq_events_stream_version":
        return ConcurrencyError(stream_id, expected)
    if "event_id" in constraint:
        return StoreError("An event with the same id was already recorded.")
    if constraint.startswith("commands"):
        return StoreError("This command was already recorded.")
    return StoreError(f"The database refused the change ({exc}).")


def _claim_taken(exc: psycopg.Error, claims: Sequence[UniqueClaim]) -> StoreError:
    """``UniqueKeyTakenError`` for the claim the append function named (its index in the
    hint, the holder in the detail)."""
    diag = exc.diag
    try:
        wanted = claims[int(diag.message_hint or "") - 1]
    except (ValueError, IndexError):
        return StoreError(f"The database refused a unique key ({exc}).")
    return UniqueKeyTakenError(wanted, diag.message_detail or "")


class _ReadEpoch(threading.local):
    depth = 0
    synced = False


class PostgresEventStore:
    """``EventStore`` on an Order Desk database on a PostgreSQL server."""

    def __init__(self, db: PostgresDatabase, *, clock: Clock | None = None) -> None:
        self._db = db
        self._clock: Clock = clock or utc_now
        # stream -> its newest version when the log's head was ``_own_head`` or later (an
        # entry is never older than that head): learned from this store's own appends and
        # from reads to a stream's end, and brought forward by _sync, which reads every event
        # after ``_own_head`` (an entry of a stream appended to since is replaced).
        self._known: dict[str, int] = {}
        self._own_head = -1
        self._known_lock = threading.Lock()
        self._epoch = _ReadEpoch()

    @property
    def database(self) -> PostgresDatabase:
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
        """Append atomically under the append lock (see the module and ``EventStore``)."""
        check_append(stream_id, expected_version, events, command_id, fingerprint)
        encoded = encode_events(events)  # JSON work before the lock is taken
        recorded_at = clock_text(self._clock)
        db = self._db
        db.ensure_writable()
        with self._known_lock:  # whatever happens below, no stale "current" answer remains
            self._known.pop(stream_id, None)
        if db.facts.append_function:
            result: AppendResult | tuple[AppendResult] = self._call_append(
                stream_id, expected_version, encoded, recorded_at, command_id, claims, fingerprint
            )
            if isinstance(result, tuple):
                return result[0]
            self._remember(
                stream_id, result.version, result.first_position - 1, result.last_position
            )
            return result
        with db.raw(transaction=True) as con:
            try:
                # Pipelined: BEGIN, the lock and the head read go out together, as do the
                # inserts and COMMIT (two round trips for a whole append without claims).
                with con.pipeline():
                    result = self._append_in(
                        con,
                        stream_id,
                        expected_version,
                        encoded,
                        recorded_at,
                        command_id,
                        claims,
                        fingerprint,
                    )
            except pg_errors.IntegrityError as exc:
                con.rollback()
                raise _refusal(exc, stream_id, expected_version) from exc
            except psycopg.DataError as exc:
                con.rollback()
                raise StoreError(f"The database refused a value ({exc}).") from exc
        if isinstance(result, tuple):
            return result[0]  # a recorded command: nothing was written
        self._remember(stream_id, result.version, result.first_position - 1, result.last_position)
        return result

    def _call_append(
        self,
        stream_id: str,
        expected_version: int,
        encoded: list[Encoded],
        recorded_at: str,
        command_id: str | None,
        claims: Sequence[UniqueClaim],
        fingerprint: str | None,
    ) -> AppendResult | tuple[AppendResult]:
        """The append as one call of the server's function (``append_function``): one
        statement in autocommit, one round trip. The canonical texts to hash are made here,
        before the server takes the append lock; a recorded command's first result comes
        back wrapped in a tuple (nothing written)."""
        flat = append_function.TextArray()
        add = flat.extend
        for event_id, type_name, schema_version, payload, metadata in encoded:
            head, tail = row_hash_parts(
                stream_id, event_id, type_name, schema_version, payload, metadata, recorded_at
            )
            add((event_id, type_name, str(schema_version), payload, metadata, head, tail))
        wanted = append_function.TextArray()
        for claim in claims:
            wanted.extend((claim.namespace, claim.key, claim.owner))
        params = (stream_id, expected_version, command_id, fingerprint, recorded_at, flat, wanted)
        with self._db.hot() as con:
            try:
                row = con.execute(append_function.CALL, params).fetchone()
            except pg_errors.IntegrityError as exc:
                raise _refusal(exc, stream_id, expected_version) from exc
            except psycopg.DataError as exc:
                raise StoreError(f"The database refused a value ({exc}).") from exc
            except psycopg.Error as exc:
                if exc.sqlstate == append_function.CLAIM_TAKEN_SQLSTATE:
                    raise _claim_taken(exc, claims) from exc
                raise
        assert row is not None
        outcome = row[0]
        if outcome == "recorded" and command_id is not None:
            return (
                recorded_result(command_id, (row[4], row[1], row[2], row[3], row[5]), fingerprint),
            )
        if outcome == "conflict":
            raise ConcurrencyError(stream_id, expected_version, int(row[1]))
        if outcome != "appended":
            raise StoreError(f"The database answered an append with {outcome!r}.")
        return AppendResult(
            stream_id=stream_id,
            version=int(row[1]),
            first_position=int(row[2]),
            last_position=int(row[3]),
        )

    @staticmethod
    def _append_in(
        con: psycopg.Connection[Any],
        stream_id: str,
        expected_version: int,
        encoded: list[Encoded],
        recorded_at: str,
        command_id: str | None,
        claims: Sequence[UniqueClaim],
        fingerprint: str | None,
    ) -> AppendResult | tuple[AppendResult]:
        """The append's statements on ``con`` (in a pipeline); a recorded command's first
        result comes back wrapped in a tuple (nothing written)."""
        con.execute(_LOCK, (APPEND_LOCK_KEY,))
        head = con.execute(_HEAD, {"stream": stream_id, "command": command_id}).fetchone()
        assert head is not None
        current, head_position, head_hash = head[0] or 0, head[1] or 0, head[2]
        if head[3] is not None and command_id is not None:
            con.rollback()
            return (recorded_result(command_id, head[3:8], fingerprint),)
        if current != expected_version:
            con.rollback()
            raise ConcurrencyError(stream_id, expected_version, current)
        rows = build_rows(
            stream_id,
            current + 1,
            head_position + 1,
            head_hash or GENESIS_HASH,
            recorded_at,
            encoded,
        )
        result = append_result(stream_id, rows)
        for wanted in claims:
            # Under the append lock: nobody can take the key before COMMIT.
            con.execute(_CLAIM, (wanted.namespace, wanted.key, wanted.owner))
            holder = con.execute(_HOLDER, (wanted.namespace, wanted.key)).fetchone()
            assert holder is not None
            if holder[0] != wanted.owner:
                con.rollback()
                raise UniqueKeyTakenError(wanted, str(holder[0]))
        if command_id is not None:
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
        with con.cursor() as cur:
            cur.executemany(_INSERT_EVENT, rows)
        con.commit()
        return result

    def _remember(self, stream_id: str, version: int, head_before: int, head_after: int) -> None:
        """After a committed append, the stream is at ``version`` as of ``head_after``.
        Positions are handed out one after another under the append lock, so when the append
        started where the known state ends, every entry still holds at the new head. After a
        gap (others appended meanwhile) the other entries stay as of their older head and the
        next :meth:`_sync` reads the gap (this append included: it overrides the entry with
        the same or a newer version); an entry may be newer than the known head, never older."""
        with self._known_lock:
            own = self._own_head
            if head_after <= own:
                return  # a later state is known already (another thread synced past it)
            known = self._known
            if head_before == own:
                self._own_head = head_after
            elif own < 0 or head_before - own > _SYNC_LIMIT or len(known) >= _KNOWN_LIMIT:
                known.clear()  # the next sync would start afresh anyway: start at this append
                self._own_head = head_after
            known[stream_id] = version

    def _learn(self, stream_id: str, version: int, head: int) -> None:
        """A read to the end of a stream, in the same statement as the head: the stream was at
        ``version`` when the log's head was ``head``. Kept unless that is older than the known
        head (an entry may be newer than the known head; the next :meth:`_sync` reads every
        event after the known head, so a newer append to the stream replaces it)."""
        with self._known_lock:
            if head < self._own_head or len(self._known) >= _KNOWN_LIMIT:
                return
            current = self._known.get(stream_id)
            if current is None or current < version:  # versions only grow: keep the newest
                self._known[stream_id] = version

    def _sync(self) -> None:
        """Bring the known versions to the log's current head in one statement: the head and
        the (stream, version) of every event after the known head. Gap-free positions make
        that complete: nothing at or below the head can commit later. Too long a gap (or
        nothing known yet) starts afresh at the head."""
        with self._known_lock:
            after = self._own_head
        since = after if after >= 0 else MAX_VERSION
        with self._db.hot() as con:
            rows = con.execute(_SYNC, {"after": since, "limit": _SYNC_LIMIT}).fetchall()
        head = int(rows[0][0] or 0) if rows else 0
        with self._known_lock:
            if head < self._own_head:
                return  # another thread got further meanwhile (it read after this began)
            # Otherwise the known head is between ``after`` and ``head``: every stream that
            # gained an event since is among the rows, every other entry holds at ``head``.
            known = self._known
            if after < 0 or head - after > _SYNC_LIMIT or len(known) >= _KNOWN_LIMIT:
                known.clear()
            else:
                for _, stream_id, version in rows:
                    if stream_id is not None:
                        known[stream_id] = version
            self._own_head = head

    def stream_is_current(self, stream_id: str, version: int) -> bool:
        """True when ``version`` is the stream's newest version as this store knows the log
        at its current head: once per read epoch (the first check of an attempt at a
        command), else on every call, the log's tail since the known head is read (one
        statement, usually a handful of rows) so nothing appended by anyone is missed.
        Inside an epoch later checks answer as of that read."""
        epoch = self._epoch
        if epoch.depth:
            if not epoch.synced:
                if not self._synced_or_false():
                    return False
                epoch.synced = True
        else:
            with self._known_lock:
                if self._known.get(stream_id) != version:
                    return False  # not known at this version: a read follows anyway
            if not self._synced_or_false():
                return False
        with self._known_lock:
            return self._known.get(stream_id) == version

    def _synced_or_false(self) -> bool:
        try:
            self._sync()
        except StoreError:
            return False
        return True

    def begin_reads(self) -> None:
        """Start a read epoch on this thread (they nest)."""
        self._epoch.depth += 1

    def end_reads(self) -> None:
        """End the read epoch begun by the matching :meth:`begin_reads`."""
        epoch = self._epoch
        epoch.depth -= 1
        if epoch.depth <= 0:
            epoch.depth = 0
            epoch.synced = False

    def find_command(
        self, command_id: str, *, fingerprint: str | None = None
    ) -> AppendResult | None:
        """The recorded result of ``command_id`` (``duplicate=True``), or None."""
        with self._db.raw() as con:
            row = con.execute(_FIND_COMMAND, (command_id,)).fetchone()
        return None if row is None else recorded_result(command_id, row, fingerprint)

    def unique_key_holder(self, namespace: str, key: str) -> str | None:
        """The owner holding ``key`` in ``namespace``, or None."""
        with self._db.raw() as con:
            row = con.execute(_HOLDER, (namespace, key)).fetchone()
        return None if row is None else str(row[0])

    def unique_key_clashes(self, namespace: str | None = None) -> list[UniqueClash]:
        """Keys held twice in history written before keys were enforced (copied files)."""
        with self._db.raw() as con:
            rows = con.execute(_CLASHES, {"ns": namespace}).fetchall()
        return [
            UniqueClash(
                namespace=str(r[0]),
                key=str(r[1]),
                holder=str(r[2]),
                owner=str(r[3]),
                position=int(r[4]),
            )
            for r in rows
        ]

    def read_stream(
        self, stream_id: str, *, from_version: int = 1, to_version: int | None = None
    ) -> list[StoredEvent]:
        """One stream in version order."""
        upper = MAX_VERSION if to_version is None else to_version
        with self._db.raw() as con:
            rows: list[Any] = con.execute(_READ_STREAM, (stream_id, from_version, upper)).fetchall()
        return decode_rows(rows)

    def read_stream_data(
        self, stream_id: str, *, from_version: int = 1, to_version: int | None = None
    ) -> list[EventData]:
        """(version, type_name, schema_version, payload) of one stream, in version order."""
        if to_version is not None:
            with self._db.raw() as con:
                rows: list[Any] = con.execute(
                    _READ_STREAM_DATA, (stream_id, from_version, to_version)
                ).fetchall()
            return decode_data_rows(rows)
        # To the end: the head comes along (same statement, same snapshot), so the stream's
        # version is learned for stream_is_current and the next command skips this read.
        with self._db.hot() as con:
            joined: list[Any] = con.execute(
                _READ_STREAM_DATA_HEAD, (stream_id, from_version)
            ).fetchall()
        if not joined or joined[0][0] is None:
            return []
        self._learn(stream_id, int(joined[-1][0]), int(joined[0][4]))
        return decode_data_rows([row[:4] for row in joined])

    def stream_version(self, stream_id: str) -> int:
        """Current version of a stream (0 when it does not exist)."""
        with self._db.raw() as con:
            row = con.execute(
                "SELECT max(version) FROM events WHERE stream_id = %s", (stream_id,)
            ).fetchone()
        return int(row[0] or 0) if row else 0

    def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Up to ``limit`` events after ``after_position``, in position order (tailing: never
        skips an event that commits later, see the module)."""
        if limit <= 0:
            return []
        with self._db.raw() as con:
            rows: list[Any] = con.execute(_READ_ALL, (after_position, limit)).fetchall()
        return decode_rows(rows)

    def head_position(self) -> int:
        """Position of the newest event (0 when empty)."""
        with self._db.raw() as con:
            row = con.execute(_HEAD_POSITION).fetchone()
        return int(row[0]) if row else 0

    def verify(self, *, progress: Progress | None = None) -> VerifyResult:
        """Recompute the whole chain from one snapshot of the log (a server-side cursor)."""
        verifier = ChainVerifier()
        with self._db.raw(transaction=True) as con:
            con.execute(_SNAPSHOT_TX)
            count = con.execute("SELECT count(*) FROM events").fetchone()
            total = int(count[0]) if count else 0
            if progress is not None:
                progress(0, total)
            with con.cursor(name="order_desk_verify") as cur:
                cur.itersize = FETCH
                cur.execute(f"SELECT {_COLUMNS} FROM events ORDER BY position")  # noqa: S608
                reported = 0
                while rows := cur.fetchmany(FETCH):
                    ok = verifier.feed(rows)
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
            con.rollback()
        return verify_result(verifier)

    def digest(self) -> Digest:
        """The chain head now; keep it elsewhere to catch truncation or a rewritten chain."""
        with self._db.raw(transaction=True) as con:
            con.execute(_SNAPSHOT_TX)
            head = con.execute(_HEAD_ROW).fetchone()
            count = con.execute("SELECT count(*) FROM events").fetchone()
            con.rollback()
        return Digest(
            head_position=int(head[0]) if head else 0,
            head_hash=str(head[1]) if head else GENESIS_HASH,
            event_count=int(count[0]) if count else 0,
            taken_at=self._now(),
        )

    def check_digest(self, digest: Digest) -> VerifyResult:
        """Is the log still an extension of ``digest``? Then verify the whole chain."""
        with self._db.raw(transaction=True) as con:
            con.execute(_SNAPSHOT_TX)
            row = con.execute(
                "SELECT hash FROM events WHERE position = %s", (digest.head_position,)
            ).fetchone()
            counted = con.execute(
                "SELECT count(*) FROM events WHERE position <= %s", (digest.head_position,)
            ).fetchone()
            head = con.execute(_HEAD_ROW).fetchone()
            con.rollback()
        stored = None if digest.head_position == 0 else (str(row[0]) if row else None)
        return digest_result(
            digest,
            stored,
            int(counted[0]) if counted else 0,
            int(head[0]) if head else 0,
            str(head[1]) if head else GENESIS_HASH,
            self.verify,
        )

    def next_number(self, sequence: str, count: int = 1) -> int:
        """Reserve ``count`` consecutive values of a counter (own transaction); the first."""
        if type(count) is not int or count < 1:
            raise ValueError("count must be an integer >= 1")
        self._db.ensure_writable()
        with self._db.raw() as con:
            row = con.execute(_NEXT_NUMBER, {"name": sequence, "count": count}).fetchone()
        assert row is not None
        return int(row[0]) - count + 1

    def iter_stream_ids(self, prefix: str = "") -> Iterator[str]:
        """Stream ids starting with ``prefix``, in order; pages of 1000, no open transaction."""
        last: str | None = None
        while True:
            with self._db.raw() as con:
                if last is None:
                    rows = con.execute(
                        "SELECT DISTINCT stream_id FROM events WHERE stream_id >= %s "
                        "ORDER BY stream_id LIMIT 1000",
                        (prefix,),
                    ).fetchall()
                else:
                    rows = con.execute(
                        "SELECT DISTINCT stream_id FROM events WHERE stream_id > %s "
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
        """Every stream with its events, by stream id, from one snapshot (``verify``)."""
        with self._db.raw(transaction=True) as con:
            con.execute(_SNAPSHOT_TX)
            with con.cursor(name="order_desk_streams") as cur:
                cur.itersize = FETCH
                cur.execute(_SCAN_STREAMS)
                current: str | None = None
                rows: list[AuditRow] = []
                while batch := cur.fetchmany(FETCH):
                    for stream_id, position, version, type_name, schema_version, text in batch:
                        if stream_id != current:
                            if current is not None:
                                yield current, rows
                            current, rows = stream_id, []
                        rows.append(
                            (position, version, type_name, schema_version, payload_object(text))
                        )
                if current is not None:
                    yield current, rows
            con.rollback()

    def author_roles(self, positions: Sequence[int]) -> dict[int, str]:
        """The database role that wrote each of these events (recorded by the server, outside
        the hash chain): position -> role name."""
        if not positions:
            return {}
        with self._db.raw() as con:
            rows = con.execute(
                "SELECT position, author_role FROM events WHERE position = ANY(%s)",
                (list(positions),),
            ).fetchall()
        return {int(p): str(r) for p, r in rows}

    def _now(self) -> datetime:
        return parse_utc(clock_text(self._clock))


_SNAPSHOT_READ = (
    "SELECT s.stream_id, s.version, s.aggregate_type, s.schema_version, s.state, s.checksum, "
    "s.size_bytes, s.taken_at, s.seal, e.hash FROM snapshots AS s "
    "LEFT JOIN events AS e ON e.stream_id = s.stream_id AND e.version = s.version "
)
_SAVE_SNAPSHOT = (
    f"INSERT INTO snapshots ({SNAPSHOT_COLUMNS}) "  # noqa: S608
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (stream_id, version) DO UPDATE SET aggregate_type = EXCLUDED.aggregate_type, "
    "schema_version = EXCLUDED.schema_version, state = EXCLUDED.state, "
    "checksum = EXCLUDED.checksum, size_bytes = EXCLUDED.size_bytes, "
    "taken_at = EXCLUDED.taken_at, seal = EXCLUDED.seal"
)


def _split(row: Sequence[Any]) -> tuple[SnapshotRow, object]:
    return tuple(row[:9]), row[9]


class PostgresSnapshotStore:
    """``SnapshotStore`` on a server database; only rows sealed with this account's key for
    this database are trusted (R26), exactly as on a file."""

    def __init__(
        self, db: PostgresDatabase, *, clock: Clock | None = None, key_dir: Path | None = None
    ) -> None:
        self._db = db
        self._clock: Clock = clock or utc_now
        database_id = db.facts.database_id if DATABASE_ID.fullmatch(db.facts.database_id) else None
        self._key = load_key(key_dir, database_id, create=not db.read_only)
        self._trust = SnapshotTrustLog(self._key, _key_note(key_dir, database_id, self._key))

    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Store (or replace) the snapshot at its version, sealed over the event there."""
        taken_at = clock_text(self._clock)
        self._db.ensure_writable()
        with self._db.raw() as con:
            found = con.execute(
                "SELECT hash FROM events WHERE stream_id = %s AND version = %s",
                (snapshot.stream_id, snapshot.version),
            ).fetchone()
            row = snapshot_row(snapshot, taken_at, self._key, None if found is None else found[0])
            con.execute(_SAVE_SNAPSHOT, row)  # autocommit: the event row it seals never changes

    def latest_snapshot(
        self, stream_id: str, *, at_or_below_version: int | None = None
    ) -> Snapshot | None:
        """Newest trusted snapshot at or below a version; every other one is counted."""
        upper = MAX_VERSION if at_or_below_version is None else at_or_below_version
        with self._db.raw() as con:
            rows = con.execute(
                _SNAPSHOT_READ
                + "WHERE s.stream_id = %s AND s.version <= %s ORDER BY s.version DESC LIMIT 8",
                (stream_id, upper),
            ).fetchall()
            while rows:
                for joined in rows:
                    row, event_hash = _split(joined)
                    snap = trusted_snapshot(row, event_hash, self._key, self._trust)
                    if snap is not None:
                        return snap
                rows = con.execute(
                    _SNAPSHOT_READ + "WHERE s.stream_id = %s AND s.version < %s "
                    "ORDER BY s.version DESC LIMIT 64",
                    (stream_id, rows[-1][1]),
                ).fetchall()
        return None

    def list_snapshots(self, stream_id: str) -> list[SnapshotInfo]:
        """All snapshots of a stream, newest first, valid or not."""
        with self._db.raw() as con:
            rows = con.execute(
                _SNAPSHOT_READ + "WHERE s.stream_id = %s ORDER BY s.version DESC", (stream_id,)
            ).fetchall()
        return [snapshot_info(*_split(row), self._key) for row in rows]

    def get_snapshot(self, stream_id: str, version: int) -> Snapshot | None:
        """One trusted snapshot, or None when missing, unreadable or not trusted."""
        with self._db.raw() as con:
            row = con.execute(
                _SNAPSHOT_READ + "WHERE s.stream_id = %s AND s.version = %s", (stream_id, version)
            ).fetchone()
        return None if row is None else trusted_snapshot(*_split(row), self._key, self._trust)

    def trust(self) -> SnapshotTrust:
        """Key state and the snapshots refused so far."""
        return self._trust.status()

    def iter_snapshots(self) -> Iterator[StoredSnapshot]:
        """Every snapshot, by stream then version, in pages (no transaction held open)."""
        last: tuple[str, int] = ("", 0)
        while True:
            with self._db.raw() as con:
                rows = con.execute(
                    _SNAPSHOT_READ + "WHERE (s.stream_id, s.version) > (%s, %s) "
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
        return "the server database has no valid database id: no snapshot key"
    path = key_path(key_dir, database_id)
    if key is None:
        return f"no usable snapshot key at {path}: snapshots are not trusted"
    return f"snapshot key {path}"
