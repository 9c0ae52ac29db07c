"""Ports: what the application needs from storage, as Protocols and frozen records.

Stores (SQLite in ``store/``, in-memory fakes in ``store/memory.py``) implement these and pass
one shared contract suite. Payloads crossing a port are JSON-compatible values only
(``str``, ``int``, ``bool``, ``None``, lists and dicts of those): money is already a decimal
string, times are ISO-8601 strings; floats never appear.

Over 500 lines on purpose: every port and record a backend implements, read in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Protocol, runtime_checkable

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


class CommandIdReusedError(StoreError):
    """A command id already recorded for a different command (R30); nothing was written.

    The same id with the same content is a retry (a duplicate, answered with the first
    result); the same id with other content is a mistake that must not pass as a duplicate.
    """

    def __init__(self, command_id: str) -> None:
        self.command_id = command_id
        super().__init__(
            f"The command id {command_id!r} was already used for a different change, so "
            "nothing was saved. A form re-sends its id only to repeat the very same change: "
            "close it, look at the record, and make the change again in a new form."
        )


class StoreBusyError(StoreError):
    """Another program held the database's write lock for longer than the busy timeout."""

    def __init__(self, message: str = "The database is busy — try again in a moment.") -> None:
        super().__init__(message)


class StoreReadOnlyError(StoreError):
    """The database is open read-only (read-only file or media, or a newer file version)."""


class StoreUnavailableError(StoreError):
    """The database cannot be used: corrupt, foreign, disk full or an I/O error."""


class StoreConnectionLostError(StoreUnavailableError):
    """The connection to a database server broke during an operation (a server restart, a
    killed session): a change may or may not have been saved. Re-sending the command with
    the same command id is safe: a recorded id is never recorded twice."""


@dataclass(frozen=True, slots=True)
class UniqueClaim:
    """A key that at most one owner may hold within a namespace (e.g. a product's SKU).

    ``key`` is compared exactly as given: the application normalises it first (see
    ``domain.catalog.sku_key``). ``owner`` is the id of the aggregate that claims it.
    """

    namespace: str
    key: str
    owner: str


@dataclass(frozen=True, kw_only=True, slots=True)
class UniqueClash:
    """Two owners of one key found in a file written before keys were enforced: ``holder``
    was first (it keeps the key), ``owner`` came later at event ``position``."""

    namespace: str
    key: str
    holder: str
    owner: str
    position: int


class UniqueKeyTakenError(StoreError):
    """The append claimed a key another owner holds; nothing was written."""

    def __init__(self, claim: UniqueClaim, holder: str) -> None:
        self.claim = claim
        self.holder = holder
        super().__init__(
            f"{claim.key!r} is already used in {claim.namespace!r} by {holder!r}; "
            "nothing was saved."
        )


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


AuditRow = tuple[int, int, str, int, JsonObject | None]
"""One stored event as ``verify``'s replay needs it: (position, version, type_name,
schema_version, payload or None when the stored text is not a JSON object)."""

EventData = tuple[int, str, int, JsonObject]
"""One stored event as an aggregate load needs it: (version, type_name, schema_version,
payload). A plain tuple because a long stream makes thousands of them."""


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
    problem: str | None = None
    """Why the snapshot is not used (damaged, unsealed, forged, no key…); None when valid."""


@dataclass(frozen=True, kw_only=True, slots=True)
class SnapshotTrust:
    """Whether this store can seal and trust snapshots, and what it refused so far (R26)."""

    sealing: bool
    """True when this account holds the database's snapshot key."""
    key_note: str
    """Where the key is, or why there is none."""
    ignored: int = 0
    """Snapshots refused since the store was opened (each load that met one counts)."""
    last_problem: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredSnapshot:
    """One stored snapshot as ``verify`` examines it (R27)."""

    stream_id: str
    version: int
    aggregate_type: str
    schema_version: int
    state: JsonObject | None
    """The stored state, or None when it is not a JSON object."""
    problem: str | None
    """Why the store would not trust it (damage, seal, missing event), else None."""
    key_checked: bool
    """False when there is no key here, so the seal could not be checked."""
    suspect: bool = False
    """True when the row was changed outside the program: damaged bytes, a seal made with this
    key that no longer matches, or a version the stream does not have. (Unsealed rows and rows
    sealed with another key are ignored by loads but are not evidence of tampering.)"""


@dataclass(frozen=True, kw_only=True, slots=True)
class VerifyFinding:
    """One thing ``verify`` found wrong in the meaning of the history (R27)."""

    kind: str
    """"event" (illegal in the state before it, or unreadable), "snapshot", or "chain" (the
    hash chain's first problem, see ``VerifyResult.chain_finding``)."""
    stream_id: str
    aggregate_type: str
    aggregate_id: str
    version: int
    reason: str
    position: int | None = None
    """The event's position in the log (None for a snapshot)."""
    order_number: str | None = None
    event_type: str | None = None

    def describe(self) -> str:
        """One line naming where (position, order number or stream, version) and why."""
        where = f"#{self.position:,} " if self.position is not None else ""
        who = self.order_number or self.stream_id
        what = f" {self.event_type}" if self.event_type else ""
        label = "snapshot of " if self.kind == "snapshot" else ""
        return f"{where}{label}{who} v{self.version}{what}: {self.reason}"


@dataclass(frozen=True, kw_only=True, slots=True)
class VerifyResult:
    """Outcome of recomputing the hash chain (and, in a full check, replaying every stream)."""

    ok: bool
    checked: int
    head_position: int
    head_hash: str
    first_bad_position: int | None = None
    problem: str | None = None
    semantic: bool = False
    """True when every stream was replayed and every snapshot compared (not chain-only)."""
    findings: tuple[VerifyFinding, ...] = ()
    """What the replay found (at most ``MAX_FINDINGS``; ``finding_count`` has them all)."""
    finding_count: int = 0
    streams_checked: int = 0
    snapshots_checked: int = 0
    notes: tuple[str, ...] = ()
    """Things worth knowing that are not damage (e.g. snapshots whose seal could not be checked)."""
    chain_finding: VerifyFinding | None = None
    """The chain's first problem as a finding naming the event's stream, version and order
    number (as stored at that position), so a viewer can open the order there; None when the
    chain holds or nothing is stored at the bad position (set by ``verify_history``)."""
    cancelled_at: int | None = None
    """Set when the check was cancelled: how many events it had checked in the pass it was
    in (``cancelled_in``). A cancelled result is never ``ok``: the rest was not looked at."""
    cancelled_in: str | None = None
    """``"chain"`` (recomputing the hashes) or ``"replay"`` (replaying the streams)."""


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


@runtime_checkable
class ServerAuthorship(Protocol):
    """An event store on a database server that records which database role wrote each event
    (filled in by the server, outside the hash chain: a client cannot claim another role).
    Only server stores have it; a file's events have no such role."""

    def author_roles(self, positions: Sequence[int]) -> dict[int, str]:
        """The role that wrote each of these events: position -> role name."""
        ...


class EventStore(Protocol):
    """Append-only event log with per-stream optimistic concurrency and a hash chain."""

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
        """Append ``events`` after ``expected_version`` (0 for a new stream), atomically.

        Raises ``ConcurrencyError`` if the stream is not at ``expected_version``. If
        ``command_id`` was already recorded, writes nothing and returns the first result with
        ``duplicate=True`` -- unless both that record and this call carry a ``fingerprint``
        (a hash of the command's content) and they differ: then ``CommandIdReusedError``.
        ``command_id`` and ``fingerprint`` are bounded (``ValueError`` before any work).

        ``claims`` are recorded in the SAME transaction as the events (SQLite: a row of the
        ``unique_keys`` table under the write lock; PostgreSQL: ``INSERT ... ON CONFLICT DO
        NOTHING`` on the same primary key, then read the holder): if another owner already
        holds one, ``UniqueKeyTakenError`` is raised and nothing is written. Claiming a key
        the owner already holds is a no-op. A recorded command id wins over both checks.
        """
        ...

    def unique_key_holder(self, namespace: str, key: str) -> str | None:
        """The owner holding ``key`` in ``namespace``, or None (a hint for early feedback;
        only the append's claim decides)."""
        ...

    def unique_key_clashes(self, namespace: str | None = None) -> list[UniqueClash]:
        """Keys held by more than one owner in history written before keys were enforced
        (found when the file was upgraded), oldest first. Never grows afterwards."""
        ...

    def find_command(
        self, command_id: str, *, fingerprint: str | None = None
    ) -> AppendResult | None:
        """The recorded result of a command id, or None; ``CommandIdReusedError`` when it was
        recorded with a fingerprint other than ``fingerprint`` (both given)."""
        ...

    def read_stream(
        self, stream_id: str, *, from_version: int = 1, to_version: int | None = None
    ) -> list[StoredEvent]:
        """Events of one stream in version order, ``from_version``..``to_version`` inclusive."""
        ...

    def read_stream_data(
        self, stream_id: str, *, from_version: int = 1, to_version: int | None = None
    ) -> list[EventData]:
        """Like :meth:`read_stream` but only what loading an aggregate needs, as
        ``(version, type_name, schema_version, payload)`` tuples (fresh payload dicts): no
        hashes, metadata or ``StoredEvent`` objects on the repository's hot path."""
        ...

    def stream_version(self, stream_id: str) -> int:
        """Current version of a stream (0 when it does not exist)."""
        ...

    # Freshness: what lets the repositories' aggregate cache skip a read per command.

    def stream_is_current(self, stream_id: str, version: int) -> bool:
        """True only when ``version`` (>= 1) is certainly still the stream's newest version,
        so a read after it would find nothing; False means "read to find out", nothing more.

        Must never say True once anything was appended to the stream after ``version`` --
        by this store, another store object or another process -- except inside a read
        epoch, where the answer may be "current as of the epoch's first check".
        """
        ...

    def begin_reads(self) -> None:
        """Start a read epoch on this thread (epochs nest; the command bus opens one per
        attempt at a command): :meth:`stream_is_current` may then check the store once per
        epoch instead of once per call. Every call is matched by :meth:`end_reads`."""
        ...

    def end_reads(self) -> None:
        """End the read epoch begun by the matching :meth:`begin_reads`."""
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

    def iter_streams(self) -> Iterator[tuple[str, list[AuditRow]]]:
        """Every stream with all its events in version order, streams ordered by id (the same
        order as ``SnapshotStore.iter_snapshots``), read from one snapshot of the log."""
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

    def trust(self) -> SnapshotTrust:
        """Key state and the count of snapshots refused so far (for status and the log)."""
        ...

    def iter_snapshots(self) -> Iterator[StoredSnapshot]:
        """Every stored snapshot, trusted or not, ordered by stream id then version."""
        ...


# --- rejected commands (issue 11) -----------------------------------------------------------


MAX_REJECTION_CONTENT = 64 * 1024
"""Characters of a rejected command's canonical JSON kept in full (longer: cut, marked)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Rejection:
    """A command that was refused: who, what and why. Recorded outside the event streams: it
    changes no state, no version and no read model (the auditor's grey marker)."""

    user: str
    """The OS account that sent the command."""
    host: str
    source: str
    """gui, cli, …"""
    app_version: str
    command_type: str
    command_id: str
    correlation_id: str
    stream_id: str
    """The stream the command aimed at (``order-<id>``, ``customer-<id>``, ``product-<id>``),
    or "" when it named none that is a plain id."""
    content: str
    """The command's content as canonical JSON (``fingerprints.canonical_text``)."""
    error_class: str
    """The error's class name (``RuleViolation``, ``ConcurrencyError``, …)."""
    message: str
    """The clerk-readable message the caller saw."""


REJECTION_FIELDS = (
    "rejection_id",
    "recorded_at",
    "user",
    "host",
    "source",
    "app_version",
    "command_type",
    "command_id",
    "correlation_id",
    "stream_id",
    "content",
    "error_class",
    "message",
)
"""A rejection's columns as stored in the rejection log and in audit bundles (``recorded_at``
and ``content`` as their stored text)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RecordedRejection:
    """A rejection as stored: its number in the rejection log and when it was recorded."""

    rejection_id: int
    recorded_at: datetime  # timezone-aware, UTC
    rejection: Rejection


class RejectionLog(Protocol):
    """Where refused commands are recorded (append-only; never part of the hash chain of
    events, never read by a projection or an aggregate)."""

    def record(self, rejection: Rejection) -> RecordedRejection:
        """Store one rejection with the store's clock. Raises ``StoreReadOnlyError`` when the
        database is open read-only (nothing can be stored there), another ``StoreError`` when
        the store fails."""
        ...

    def for_stream(
        self, stream_id: str, *, after_id: int = 0, limit: int = 1000
    ) -> list[RecordedRejection]:
        """Rejections aimed at one stream, oldest first, after ``after_id`` (paging)."""
        ...

    def in_window(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        user: str | None = None,
        after_id: int = 0,
        limit: int = 1000,
    ) -> list[RecordedRejection]:
        """Rejections recorded at ``since <= recorded_at < until`` (either open), by ``user``
        when given, oldest first, after ``after_id`` (paging)."""
        ...


class Clock(Protocol):
    """Source of the current UTC time (passed in so tests can control it)."""

    def __call__(self) -> datetime: ...


class IdFactory(Protocol):
    """Source of new unique ids (uuid4 strings in production)."""

    def __call__(self) -> str: ...


# --- read side -----------------------------------------------------------------------------


class CheckpointConflictError(StoreError):
    """Another projector moved the checkpoint first (compare-and-set lost); nothing was written."""

    def __init__(self, name: str, expected: int, actual: int) -> None:
        self.name = name
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"Projector checkpoint {name!r} moved from {expected} to {actual} meanwhile."
        )


READ_MODEL_CHECKPOINT = "main"
"""The checkpoint of a set of read-model tables. ONE per set, whatever a projector is called:
the rows reflect exactly one position in the log (R33)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ReadModelOwner:
    """The process that projects into a file's read-model tables (R33: one at a time)."""

    name: str
    pid: int
    host: str
    since: str
    """When it took over (UTC, ISO 8601)."""

    def describe(self) -> str:
        """For messages: who it is, in words."""
        return f"projector {self.name!r} (process {self.pid} on {self.host}, since {self.since})"


class NotReadModelOwnerError(StoreError):
    """This process does not (or no longer) own the read model: nothing was written (R33)."""

    def __init__(self, owner: ReadModelOwner | None) -> None:
        self.owner = owner
        who = owner.describe() if owner is not None else "another process"
        super().__init__(
            f"The read model is kept up to date by {who}; this process does not write it."
        )


class EventRecord(NamedTuple):
    """A stored event as the projector needs it: cheap to read, payload already decoded.

    ``recorded_at`` is the stored UTC text (fixed width, sorts as time). A named tuple because
    a rebuild makes a million of them.
    """

    position: int
    stream_id: str
    version: int
    type_name: str
    schema_version: int
    payload: JsonObject
    recorded_at: str


@dataclass(slots=True)
class OrderState:
    """Mutable read-model row of one order inside a projector batch."""

    order_id: str
    order_number: str
    customer_id: str
    customer_name: str
    status: str
    line_count: int
    total_minor: int
    currency: str
    placed_at: str
    updated_at: str
    version: int
    last_position: int
    tracking_number: str | None = None
    carrier: str | None = None
    cancel_reason: str | None = None


@dataclass(slots=True)
class LineState:
    """Mutable read-model row of one order line inside a projector batch."""

    order_id: str
    line_id: str
    product_id: str
    sku: str
    product_name: str
    quantity: int
    unit_price_minor: int
    currency: str
    seq: int


@dataclass(slots=True)
class CustomerState:
    """Mutable read-model row of one customer inside a projector batch."""

    customer_id: str
    name: str
    order_count: int
    lifetime_value: dict[str, int]
    version: int
    registered_at: str = ""  # UTC text of the CustomerRegistered event ("" if unknown)


@dataclass(slots=True)
class ProductState:
    """Mutable read-model row of one product inside a projector batch."""

    product_id: str
    sku: str
    name: str
    price_minor: int
    currency: str
    discontinued: bool
    units_sold: int
    version: int


@dataclass(slots=True)
class ReadModelKeys:
    """Which rows a batch of events touches (the store also loads the customers of loaded
    orders and the products of loaded lines)."""

    orders: set[str] = field(default_factory=set)
    customers: set[str] = field(default_factory=set)
    products: set[str] = field(default_factory=set)


@dataclass(slots=True)
class WorkingSet:
    """The rows one batch works on, in memory. Projections change these dicts and record what
    they changed; the store writes the changes back in the batch's transaction.

    ``lines`` maps order id -> line id -> line (every line of each loaded order).
    ``customer_renames``/``product_renames`` are applied to rows *not* loaded (the
    denormalised names in other orders and lines) before the loaded rows are written.
    """

    orders: dict[str, OrderState] = field(default_factory=dict)
    lines: dict[str, dict[str, LineState]] = field(default_factory=dict)
    customers: dict[str, CustomerState] = field(default_factory=dict)
    products: dict[str, ProductState] = field(default_factory=dict)
    dirty_orders: set[str] = field(default_factory=set)
    dirty_lines: set[tuple[str, str]] = field(default_factory=set)
    removed_lines: set[tuple[str, str]] = field(default_factory=set)
    dirty_customers: set[str] = field(default_factory=set)
    dirty_products: set[str] = field(default_factory=set)
    customer_renames: dict[str, str] = field(default_factory=dict)
    product_renames: dict[str, str] = field(default_factory=dict)
    former_names: set[tuple[str, str]] = field(default_factory=set)
    """(customer id, a name it had before a rename): kept so a search by it finds its orders."""
    orders_by_customer: dict[str, list[str]] | None = None
    """Optional index (a full in-memory rebuild sets it): customer id -> ids of the orders
    placed for it, so a rename touches only those instead of scanning every order."""
    lines_by_product: dict[str, list[tuple[str, str]]] | None = None
    """Optional index (a full in-memory rebuild sets it): product id -> (order id, line id) of
    every line ever added with it (entries may be stale; a rename checks each line)."""

    @classmethod
    def indexed(cls) -> WorkingSet:
        """An empty working set with the rename indexes on (for a full rebuild)."""
        return cls(orders_by_customer={}, lines_by_product={})


class ReadModelBatch(Protocol):
    """One projector batch: an open write transaction whose checkpoint was checked."""

    def load(self, keys: ReadModelKeys) -> WorkingSet:
        """Read the touched rows into memory."""
        ...

    def save(self, work: WorkingSet, new_checkpoint: int) -> None:
        """Write the changed rows and move the checkpoint (compare-and-set on the old one)."""
        ...


class EventFeed(Protocol):
    """The log as a projector reads it: the head, events after a position, a full scan."""

    def head_position(self) -> int:
        """Position of the newest event (0 when empty)."""
        ...

    def read_events(self, *, after_position: int, limit: int) -> list[EventRecord]:
        """Up to ``limit`` events after a position, decoded cheaply, in position order."""
        ...

    def scan_events(
        self, *, after_position: int, chunk: int
    ) -> AbstractContextManager[Iterator[list[EventRecord]]]:
        """Every event after a position, in position order, as lists of up to ``chunk``
        events, all read from ONE snapshot of the log (a full rebuild's lean scan)."""
        ...


class ProjectionTarget(Protocol):
    """The read-model tables as the projector writes them: ownership, batches, checkpoint,
    resets and the full rebuild's swap."""

    @property
    def read_only(self) -> bool:
        """True when the tables cannot be written (a read-only database): lists stay behind."""
        ...

    def prepare(self) -> bool:
        """Create the read-model tables if missing; if they were made by another read-model
        schema version, drop them and start again from position 0. True when reset."""
        ...

    def checkpoint(self, name: str) -> int:
        """Position of the last event the named projector applied (0: none)."""
        ...

    def data_version(self) -> int:
        """A number that changes whenever another connection commits (cheap; no disk scan)."""
        ...

    def claim(self, name: str) -> bool:
        """Become (or stay) the one process that projects into these tables (R33); False
        when another process holds them (:meth:`owner` says who). Ownership lasts until
        ``close`` or the end of the process (a killed owner never keeps it). Every write below
        (:meth:`batch`, :meth:`reset`, :meth:`replace_all`, bulk) raises
        ``NotReadModelOwnerError`` unless this store holds it."""
        ...

    def owner(self) -> ReadModelOwner | None:
        """The owner as recorded in the tables (None when nobody has claimed them)."""
        ...

    def batch(self, name: str, expected_checkpoint: int) -> AbstractContextManager[ReadModelBatch]:
        """Open a write transaction; raise ``CheckpointConflictError`` if the checkpoint is no
        longer ``expected_checkpoint``. Commits on a clean exit, rolls back on an exception."""
        ...

    def reset(self, name: str) -> None:
        """Delete every read-model row and set the checkpoint to 0 (start of a rebuild)."""
        ...

    def replace_all(
        self,
        name: str,
        work: WorkingSet,
        checkpoint: int,
        progress: Callable[[float], None] | None = None,
    ) -> None:
        """Replace every read-model row and checkpoint by the rows of ``work`` (each written
        once, indexes built afterwards) and the checkpoint ``name`` at ``checkpoint``, as ONE
        atomic swap: readers see the old read model until then. Other writers (commands) are
        never held up for long meanwhile (R34). ``progress(fraction)`` reports the write
        (0.0 … 1.0) as it goes. ``work`` is the caller's to discard: a target may empty it
        once its rows are written."""
        ...

    def begin_bulk(self) -> None:
        """Drop the list's secondary indexes before a full rebuild (speed)."""
        ...

    def end_bulk(self) -> None:
        """Recreate the secondary indexes after a full rebuild and recompute what is derived
        from the rows (order counts, search index)."""
        ...

    def close(self) -> None:
        """Give back ownership (if held) and whatever the target keeps open."""
        ...


class OrderListQueries(Protocol):
    """The read model as the screens ask it: order lists and details, customers, products."""

    def list_orders(self, query: ListOrdersSpec) -> tuple[list[OrderRow], int | None, str | None]:
        """Rows of one page, the total count (if asked) and the next keyset cursor."""
        ...

    def get_order(self, order_id: str) -> OrderDetail | None:
        """One order's row, lines and shipping/cancel details."""
        ...

    def find_order_by_number(self, order_number: str) -> OrderRow | None:
        """The order with this human number."""
        ...

    def list_customers(self, search: str | None, limit: int) -> list[CustomerState]:
        """Customers by name; ``search`` is a case-insensitive literal substring of the current
        name or of a name the customer had before a rename."""
        ...

    def list_products(
        self, search: str | None, include_discontinued: bool, limit: int
    ) -> list[ProductState]:
        """Products by SKU; ``search`` matches SKU or name as a literal substring."""
        ...

    def customer_names(self) -> list[tuple[str, str]]:
        """(customer id, current name) of every customer (for look-alike checks)."""
        ...

    def get_customers(self, customer_ids: Sequence[str]) -> list[CustomerState]:
        """These customers, in the order asked (unknown ids are left out)."""
        ...


@dataclass(frozen=True, slots=True)
class ReadModel:
    """One backend's read side, wired together: the feed the projector reads, the target it
    writes, the queries the screens ask (each replaceable on its own)."""

    feed: EventFeed
    target: ProjectionTarget
    queries: OrderListQueries

    def close(self) -> None:
        """Give back what the parts hold (ownership, kept connections)."""
        self.target.close()


@dataclass(frozen=True, kw_only=True, slots=True)
class ListOrdersSpec:
    """A validated order-list request (the sort is already one of the allow-listed names)."""

    statuses: frozenset[str] | None
    customer_id: str | None
    search: str | None
    sort: str
    descending: bool
    offset: int
    limit: int
    after: str | None
    with_total: bool
    date_column: str = "placed_at"  # "placed_at" or "updated_at" (allow-listed)
    date_from: str | None = None  # UTC text as stored, inclusive
    date_to: str | None = None  # UTC text as stored, exclusive


def _utc_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


class OrderRow(NamedTuple):
    """One order as the read model stores it and the screens show it: the ONE order row type
    from the store to the UI (:class:`OrderDetail` adds the lines). Amounts are integer minor
    units of ``currency``.

    A named tuple made straight from a database row (a million-row export makes a million):
    times stay the stored UTC text (``placed_utc``/``updated_utc``: fixed width, sorts as time)
    and are read as aware datetimes through :attr:`placed_at` / :attr:`updated_at`.
    """

    order_id: str
    order_number: str
    customer_id: str
    customer_name: str
    status: str
    line_count: int
    total_minor: int
    currency: str
    placed_utc: str
    updated_utc: str
    version: int
    last_position: int

    @property
    def placed_at(self) -> datetime:
        """When the order was placed (aware, UTC)."""
        return _utc_time(self.placed_utc)

    @property
    def updated_at(self) -> datetime:
        """When the order last changed (aware, UTC)."""
        return _utc_time(self.updated_utc)


class OrderLineRow(NamedTuple):
    """One line of an order, with the product's current SKU and name."""

    order_id: str
    line_id: str
    product_id: str
    sku: str
    product_name: str
    quantity: int
    unit_price_minor: int
    line_total_minor: int
    currency: str


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderDetail:
    """An order's row, its lines (in their order) and its shipping / cancel details."""

    order: OrderRow
    lines: tuple[OrderLineRow, ...]
    tracking_number: str | None = None
    carrier: str | None = None
    cancel_reason: str | None = None


class InvalidCursorError(StoreError):
    """A keyset cursor that this list did not hand out (or for another sort)."""
