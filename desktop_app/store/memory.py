"""In-memory fakes of the event and snapshot stores, for unit tests and the contract suite.

They keep the very rows the SQLite store writes (JSON text), so hashing, duplicates,
concurrency errors, verify, digests and snapshot validity behave identically, and a caller can
never mutate a stored payload (every read decodes a fresh copy). Thread-safe with one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import datetime

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
from desktop_app.store.hashing import GENESIS_HASH, ChainVerifier, Row, parse_utc
from desktop_app.store.records import (
    MAX_VERSION,
    Clock,
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
    snapshot_checksum,
    snapshot_info,
    snapshot_row,
    stored_snapshot,
    trusted_snapshot,
    utc_now,
    verify_result,
)
from desktop_app.store.sealing import SealKey

_VERIFY_BATCH = 20_000


class InMemoryEventStore:
    """``EventStore`` held in memory; same behaviour as ``SqliteEventStore``."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock: Clock = clock or utc_now
        self._lock = threading.Lock()
        self._rows: list[Row] = []  # index = position - 1
        self._streams: dict[str, list[Row]] = {}
        # command id -> (stream, version, first position, last position, fingerprint)
        self._commands: dict[str, tuple[str, int, int, int, str | None]] = {}
        self._event_ids: set[str] = set()
        self._sequences: dict[str, int] = {}
        self._unique: dict[tuple[str, str], str] = {}  # (namespace, key) -> owner

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
        """Append atomically (see ``EventStore``)."""
        check_append(stream_id, expected_version, events, command_id, fingerprint)
        encoded = encode_events(events)
        with self._lock:
            if command_id is not None and command_id in self._commands:
                return recorded_result(command_id, self._commands[command_id], fingerprint)
            stream = self._streams.get(stream_id, [])
            current = len(stream)
            if current != expected_version:
                raise ConcurrencyError(stream_id, expected_version, current)
            if any(e[0] in self._event_ids for e in encoded):
                raise StoreError("An event with the same id was already recorded.")
            unique = self._unique
            for wanted in claims:
                holder = unique.get((wanted.namespace, wanted.key))
                if holder is not None and holder != wanted.owner:
                    raise UniqueKeyTakenError(wanted, holder)
            head = self._rows[-1][10] if self._rows else GENESIS_HASH
            rows = build_rows(
                stream_id,
                current + 1,
                len(self._rows) + 1,
                head,
                clock_text(self._clock),
                encoded,
            )
            self._rows.extend(rows)
            self._streams.setdefault(stream_id, []).extend(rows)
            self._event_ids.update(e[0] for e in encoded)
            for wanted in claims:
                unique[(wanted.namespace, wanted.key)] = wanted.owner
            result = append_result(stream_id, rows)
            if command_id is not None:
                self._commands[command_id] = (
                    stream_id,
                    result.version,
                    result.first_position,
                    result.last_position,
                    fingerprint,
                )
            return result

    def find_command(
        self, command_id: str, *, fingerprint: str | None = None
    ) -> AppendResult | None:
        """The recorded result of ``command_id`` (``duplicate=True``), or None (see
        ``EventStore.find_command``)."""
        with self._lock:
            recorded = self._commands.get(command_id)
        if recorded is None:
            return None
        return recorded_result(command_id, recorded, fingerprint)

    def unique_key_holder(self, namespace: str, key: str) -> str | None:
        """The owner holding ``key`` in ``namespace``, or None."""
        with self._lock:
            return self._unique.get((namespace, key))

    def unique_key_clashes(self, namespace: str | None = None) -> list[UniqueClash]:
        """Always empty: memory holds no history written before keys were enforced."""
        return []

    def read_stream(
        self, stream_id: str, *, from_version: int = 1, to_version: int | None = None
    ) -> list[StoredEvent]:
        """One stream in version order."""
        upper = MAX_VERSION if to_version is None else to_version
        with self._lock:
            stream = self._streams.get(stream_id, [])
            rows = [r for r in stream[max(from_version, 1) - 1 :] if r[2] <= upper]
        return decode_rows(rows)

    def read_stream_data(
        self, stream_id: str, *, from_version: int = 1, to_version: int | None = None
    ) -> list[EventData]:
        """(version, type_name, schema_version, payload) of one stream, in version order."""
        upper = MAX_VERSION if to_version is None else to_version
        with self._lock:
            stream = self._streams.get(stream_id, [])
            rows = [
                (r[2], r[4], r[5], r[6])
                for r in stream[max(from_version, 1) - 1 :]
                if r[2] <= upper
            ]
        return decode_data_rows(rows)

    def stream_version(self, stream_id: str) -> int:
        """Current version of a stream (0 when it does not exist)."""
        with self._lock:
            return len(self._streams.get(stream_id, ()))

    def stream_is_current(self, stream_id: str, version: int) -> bool:
        """True when ``version`` is the stream's newest version (memory always knows)."""
        with self._lock:
            return version >= 1 and len(self._streams.get(stream_id, ())) == version

    def begin_reads(self) -> None:
        """Read epochs change nothing here: every answer is exact at the time it is given."""

    def end_reads(self) -> None:
        """See :meth:`begin_reads`."""

    def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Up to ``limit`` events after ``after_position``, in position order."""
        if limit <= 0:
            return []
        start = max(after_position, 0)
        with self._lock:
            rows = self._rows[start : start + limit]
        return decode_rows(rows)

    def head_position(self) -> int:
        """Position of the newest event (0 when empty)."""
        with self._lock:
            return len(self._rows)

    def verify(self, *, progress: Progress | None = None) -> VerifyResult:
        """Recompute the whole chain."""
        with self._lock:
            rows = list(self._rows)
        verifier = ChainVerifier()
        total = len(rows)
        if progress is not None:
            progress(0, total)
        for start in range(0, total, _VERIFY_BATCH):
            ok = verifier.feed(rows[start : start + _VERIFY_BATCH])
            if progress is not None:
                progress(min(verifier.checked, total), total)
            if not ok:
                break
        return verify_result(verifier)

    def digest(self) -> Digest:
        """The chain head now."""
        with self._lock:
            count = len(self._rows)
            head = self._rows[-1][10] if self._rows else GENESIS_HASH
        return Digest(
            head_position=count,
            head_hash=head,
            event_count=count,
            taken_at=parse_utc(clock_text(self._clock)),
        )

    def check_digest(self, digest: Digest) -> VerifyResult:
        """Is the log still an extension of ``digest``? Then verify the whole chain."""
        with self._lock:
            rows = self._rows
            pos = digest.head_position
            stored = rows[pos - 1][10] if 0 < pos <= len(rows) else None
            count = sum(1 for r in rows if r[0] <= pos)
            head_position = rows[-1][0] if rows else 0
            head_hash = rows[-1][10] if rows else GENESIS_HASH
        return digest_result(digest, stored, count, head_position, head_hash, self.verify)

    def next_number(self, sequence: str, count: int = 1) -> int:
        """Reserve ``count`` consecutive values of a counter; returns the first."""
        if type(count) is not int or count < 1:
            raise ValueError("count must be an integer >= 1")
        with self._lock:
            first = self._sequences.get(sequence, 0) + 1
            self._sequences[sequence] = first + count - 1
            return first

    def iter_stream_ids(self, prefix: str = "") -> Iterator[str]:
        """Stream ids starting with ``prefix``, in order."""
        with self._lock:
            ids = sorted(s for s in self._streams if s.startswith(prefix))
        return iter(ids)

    def iter_streams(self) -> Iterator[tuple[str, list[AuditRow]]]:
        """Every stream with its events, by stream id (a copy taken under the lock)."""
        with self._lock:
            streams = sorted(
                ((s, list(rows)) for s, rows in self._streams.items()), key=lambda item: item[0]
            )
        for stream_id, rows in streams:
            yield stream_id, [(r[0], r[2], r[4], r[5], payload_object(r[6])) for r in rows]

    def _event_hash(self, stream_id: str, version: int) -> str | None:
        """The hash of the event at ``version`` of ``stream_id`` (for the snapshot store)."""
        with self._lock:
            stream = self._streams.get(stream_id)
            if stream is None or type(version) is not int or not 1 <= version <= len(stream):
                return None
            return stream[version - 1][10]

    def _replace_row(self, position: int, row: Row) -> None:
        """Test-only: overwrite a stored row, as an attacker with file access would."""
        with self._lock:
            old = self._rows[position - 1]
            self._rows[position - 1] = row
            stream = self._streams[old[1]]
            stream[stream.index(old)] = row


class InMemorySnapshotStore:
    """``SnapshotStore`` held in memory; sealed, checked and skipped exactly like in SQLite.

    Its key is made per instance (it never leaves the process); ``keyless=True`` plays a store
    without a key (another account), which trusts and takes no snapshot.
    """

    def __init__(
        self, events: InMemoryEventStore, *, clock: Clock | None = None, keyless: bool = False
    ) -> None:
        self._events = events
        self._clock: Clock = clock or utc_now
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, int], SnapshotRow] = {}
        self._key = None if keyless else SealKey.generate()
        note = "no snapshot key (keyless store)" if keyless else "in-memory snapshot key"
        self._trust = SnapshotTrustLog(self._key, note)

    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Store (or replace) the snapshot at its version, sealed over the event there."""
        taken_at = clock_text(self._clock)
        event_hash = self._events._event_hash(snapshot.stream_id, snapshot.version)
        row = snapshot_row(snapshot, taken_at, self._key, event_hash)
        with self._lock:
            self._rows[(snapshot.stream_id, snapshot.version)] = row

    def _stream_rows(self, stream_id: str) -> list[SnapshotRow]:
        with self._lock:
            rows = [r for (s, _), r in self._rows.items() if s == stream_id]
        rows.sort(key=lambda r: r[1], reverse=True)
        return rows

    def _hash(self, row: SnapshotRow) -> str | None:
        return self._events._event_hash(row[0], row[1])

    def latest_snapshot(
        self, stream_id: str, *, at_or_below_version: int | None = None
    ) -> Snapshot | None:
        """Newest trusted snapshot at or below a version; every other one is counted."""
        upper = MAX_VERSION if at_or_below_version is None else at_or_below_version
        for row in self._stream_rows(stream_id):
            if row[1] <= upper:
                snap = trusted_snapshot(row, self._hash(row), self._key, self._trust)
                if snap is not None:
                    return snap
        return None

    def list_snapshots(self, stream_id: str) -> list[SnapshotInfo]:
        """All snapshots of a stream, newest first, valid or not."""
        return [
            snapshot_info(row, self._hash(row), self._key) for row in self._stream_rows(stream_id)
        ]

    def get_snapshot(self, stream_id: str, version: int) -> Snapshot | None:
        """One trusted snapshot, or None when missing, unreadable or not trusted."""
        with self._lock:
            row = self._rows.get((stream_id, version))
        if row is None:
            return None
        return trusted_snapshot(row, self._hash(row), self._key, self._trust)

    def trust(self) -> SnapshotTrust:
        """Key state and the snapshots refused so far."""
        return self._trust.status()

    def iter_snapshots(self) -> Iterator[StoredSnapshot]:
        """Every snapshot, by stream then version."""
        with self._lock:
            rows = sorted(self._rows.values(), key=lambda r: (r[0], r[1]))
        for row in rows:
            yield stored_snapshot(row, self._hash(row), self._key)

    def _corrupt_snapshot(self, stream_id: str, version: int, *, state: str | None = None) -> None:
        """Test-only: damage a stored snapshot's bytes (checksum no longer matches)."""
        with self._lock:
            row = self._rows[(stream_id, version)]
            new_state = state if state is not None else row[4][:-1] + "X"
            self._rows[(stream_id, version)] = (*row[:4], new_state, *row[5:])

    def _forge_snapshot(self, stream_id: str, version: int, state: str) -> None:
        """Test-only: what an attacker with the file can do: new state, checksum recomputed
        with the public formula, the old seal left in place."""
        with self._lock:
            row = self._rows[(stream_id, version)]
            checksum = snapshot_checksum(row[0], row[1], row[2], row[3], state)
            self._rows[(stream_id, version)] = (*row[:4], state, checksum, *row[6:])

    def _now(self) -> datetime:
        return parse_utc(clock_text(self._clock))
