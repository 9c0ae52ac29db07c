"""Ports: what the application needs from storage, as Protocols and frozen records.

Stores (SQLite in ``store/``, in-memory fakes in ``store/memory.py``) implement these and pass
one shared contract suite. Payloads crossing a port are JSON-compatible values only
(``str``, ``int``, ``bool``, ``None``, lists and dicts of those): money is already a decimal
string, times are ISO-8601 strings; floats never appear.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

JsonValue = Any
"""A JSON-compatible value (no floats): str, int, bool, None, list or dict of those."""

JsonObject = Mapping[str, JsonValue]

Progress = Callable[[int, int], None]
"""Progress callback: (done, total)."""


class StoreError(Exception):
    """Base of every error a store raises; no driver exception leaves a store."""


class ConcurrencyError(StoreError):
    """The stream moved on: the expected version no longer matches."""

    def __init__(self, stream_id: str, expected: int, actual: int | None = None) -> None:
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual
        tail = f", it is now at version {actual}" if actual is not None else ""
        super().__init__(
            f"This record was changed by someone else (expected version {expected}{tail})."
        )


class StoreBusyError(StoreError):
    """Another program held the database's write lock for longer than the busy timeout."""

    def __init__(self, message: str = "The database is busy — try again in a moment.") -> None:
        super().__init__(message)


class StoreReadOnlyError(StoreError):
    """The database is open read-only (read-only file or media, or a newer file version)."""


class StoreUnavailableError(StoreError):
    """The database cannot be used: corrupt, foreign, disk full or an I/O error."""


@dataclass(frozen=True, kw_only=True, slots=True)
class EventMetadata:
    """Who and what produced an event. ``causation_id`` is the id of the command."""

    correlation_id: str
    causation_id: str
    user: str
    host: str
    app_version: str
    source: str

    def to_json(self) -> dict[str, str]:
        """Plain dict for storage and hashing."""
        return {
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "user": self.user,
            "host": self.host,
            "app_version": self.app_version,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: JsonObject) -> EventMetadata:
        """Inverse of :meth:`to_json`; missing keys read as empty strings."""
        return cls(
            correlation_id=str(data.get("correlation_id", "")),
            causation_id=str(data.get("causation_id", "")),
            user=str(data.get("user", "")),
            host=str(data.get("host", "")),
            app_version=str(data.get("app_version", "")),
            source=str(data.get("source", "")),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class NewEvent:
    """An event about to be appended (already serialised by the application)."""

    event_id: str
    type_name: str
    schema_version: int
    payload: JsonObject
    metadata: EventMetadata


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredEvent:
    """An event as recorded: global position, stream version, time and hash chain."""

    position: int
    stream_id: str
    version: int
    event_id: str
    type_name: str
    schema_version: int
    payload: JsonObject
    metadata: EventMetadata
    recorded_at: datetime  # timezone-aware, UTC
    prev_hash: str
    hash: str


@dataclass(frozen=True, kw_only=True, slots=True)
class AppendResult:
    """Where an append landed. ``duplicate`` is true when the command id was already recorded
    and nothing was written this time."""

    stream_id: str
    version: int
    first_position: int
    last_position: int
    duplicate: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Snapshot:
    """A cached aggregate state at ``version``. ``schema_version`` is the snapshot format's."""

    stream_id: str
    aggregate_type: str
    version: int
    schema_version: int
    state: JsonObject
    taken_at: datetime | None = None  # set by the store on save


@dataclass(frozen=True, kw_only=True, slots=True)
class SnapshotInfo:
    """One snapshot as listed by the inspector. ``valid`` is false when its bytes are corrupt."""

    stream_id: str
    aggregate_type: str
    version: int
    schema_version: int
    taken_at: datetime
    size_bytes: int
    valid: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class VerifyResult:
    """Outcome of recomputing the hash chain."""

    ok: bool
    checked: int
    head_position: int
    head_hash: str
    first_bad_position: int | None = None
    problem: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Digest:
    """The head of the chain at one moment, to keep somewhere else."""

    head_position: int
    head_hash: str
    event_count: int
    taken_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class StoreInfo:
    """What the UI and CLI show about the open database."""

    location: str
    read_only: bool
    read_only_reason: str | None = None
    schema_version: int = 0
    details: Mapping[str, str] = field(default_factory=dict)


class EventStore(Protocol):
    """Append-only event log with per-stream optimistic concurrency and a hash chain."""

    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        command_id: str | None = None,
    ) -> AppendResult:
        """Append ``events`` after ``expected_version`` (0 for a new stream), atomically.

        Raises ``ConcurrencyError`` if the stream is not at ``expected_version``. If
        ``command_id`` was already recorded, writes nothing and returns the first result with
        ``duplicate=True``.
        """
        ...

    def find_command(self, command_id: str) -> AppendResult | None:
        """The recorded result of a command id, or None."""
        ...

    def read_stream(
        self, stream_id: str, *, from_version: int = 1, to_version: int | None = None
    ) -> list[StoredEvent]:
        """Events of one stream in version order, ``from_version``..``to_version`` inclusive."""
        ...

    def stream_version(self, stream_id: str) -> int:
        """Current version of a stream (0 when it does not exist)."""
        ...

    def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Up to ``limit`` events with position > ``after_position``, in position order."""
        ...

    def head_position(self) -> int:
        """Position of the newest event (0 when empty)."""
        ...

    def verify(self, *, progress: Progress | None = None) -> VerifyResult:
        """Recompute the whole hash chain; name the first bad position."""
        ...

    def digest(self) -> Digest:
        """The current head of the chain."""
        ...

    def check_digest(self, digest: Digest) -> VerifyResult:
        """Does the log still extend ``digest`` (same hash at that position, chain intact)?"""
        ...

    def next_number(self, sequence: str, count: int = 1) -> int:
        """Reserve ``count`` consecutive values of a named counter and return the first
        (order numbers are handed out in blocks); gaps allowed, values never reused."""
        ...

    def iter_stream_ids(self, prefix: str = "") -> Iterator[str]:
        """Stream ids starting with ``prefix``."""
        ...


class SnapshotStore(Protocol):
    """Snapshots are a cache: bad ones are skipped, never trusted."""

    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Store (or replace) the snapshot of ``stream_id`` at ``version``."""
        ...

    def latest_snapshot(
        self, stream_id: str, *, at_or_below_version: int | None = None
    ) -> Snapshot | None:
        """Newest readable snapshot at or below a version; corrupt ones are skipped."""
        ...

    def list_snapshots(self, stream_id: str) -> list[SnapshotInfo]:
        """All snapshots of a stream, newest first."""
        ...

    def get_snapshot(self, stream_id: str, version: int) -> Snapshot | None:
        """One snapshot, or None if missing or unreadable."""
        ...


class Clock(Protocol):
    """Source of the current UTC time (passed in so tests can control it)."""

    def __call__(self) -> datetime: ...


class IdFactory(Protocol):
    """Source of new unique ids (uuid4 strings in production)."""

    def __call__(self) -> str: ...
