"""Repositories: load an aggregate (newest valid snapshot + later events) and save its new events.

Snapshots are a cache. One that is missing, unreadable, of another aggregate type or snapshot
schema, or newer than the stream is ignored and the aggregate is rebuilt by replay (R16).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from desktop_app.application.ports import (
    AppendResult,
    EventData,
    EventMetadata,
    EventStore,
    NewEvent,
    Snapshot,
    SnapshotStore,
    StoredEvent,
    StoreError,
    UniqueClaim,
)
from desktop_app.domain.aggregate import Aggregate
from desktop_app.domain.errors import DomainError
from desktop_app.domain.events import DomainEvent
from desktop_app.domain.serialization import from_payload, to_payload

A = TypeVar("A", bound=Aggregate)
T = TypeVar("T")

log = logging.getLogger(__name__)

DEFAULT_SNAPSHOT_INTERVAL = 50
DEFAULT_CACHE_SIZE = 10_000


class NotFoundError(DomainError):
    """The record asked for does not exist."""


def stream_id_for(aggregate_type: str, aggregate_id: str) -> str:
    """Stream ids are ``<aggregate type>-<id>`` so they never collide across types."""
    return f"{aggregate_type}-{aggregate_id}"


def decode(stored: StoredEvent) -> DomainEvent:
    """Turn a stored event into a domain event, upcasting older schema versions."""
    return from_payload(stored.type_name, stored.schema_version, stored.payload)


def _fold(aggregate: A, events: Sequence[EventData]) -> A:
    """Apply stored events (lean tuples) in order; the hot loop of every load."""
    aggregate.apply_stored(events)
    return aggregate


@dataclass(frozen=True, kw_only=True, slots=True)
class SnapshotPolicy:
    """Take a snapshot when a save crosses a multiple of ``interval`` (0 disables)."""

    interval: int = DEFAULT_SNAPSHOT_INTERVAL

    def due(self, old_version: int, new_version: int) -> bool:
        """True when the save moved the stream past a multiple of the interval."""
        if self.interval <= 0:
            return False
        return new_version // self.interval > old_version // self.interval


class Repository(Generic[A]):
    """Loads and saves one aggregate type through the event and snapshot stores.

    Besides :meth:`load` (always built from the stores: newest usable snapshot + later
    events), command handlers use a per-process aggregate cache:

    * :meth:`checkout` hands out the cached object for a change, REMOVED from the cache, after
      catching it up with the events other processes appended since (one indexed query,
      usually empty); ``save(..., release=True)`` puts it back once its events are stored.
      If the handler fails, the object is simply never returned, so the cache can never hold
      state that was not stored.
    * :meth:`view` runs a read-only function on the current state (caught up the same way)
      under the cache's lock, for the catalog lookups handlers make.

    The event log is append-only, so a cached object can only be *behind* the stream; the
    catch-up read also checks that the stream still reaches the cached version, and anything
    doubtful falls back to a load from the stores.
    """

    def __init__(
        self,
        aggregate: type[A],
        events: EventStore,
        snapshots: SnapshotStore,
        *,
        new_event_id: Callable[[], str],
        policy: SnapshotPolicy | None = None,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self._type = aggregate
        self._events = events
        self._snapshots = snapshots
        self._new_event_id = new_event_id
        self._policy = policy or SnapshotPolicy()
        self._prefix = f"{aggregate.AGGREGATE_TYPE}-"
        self._cache: OrderedDict[str, A] = OrderedDict()  # least recently used first
        self._cache_size = cache_size
        self._lock = threading.Lock()
        # "Is this version certainly still the newest?": cheaper than the catch-up read when
        # the store can say yes; False only means "read to find out". Bound once: hot path.
        self._is_current = events.stream_is_current

    @property
    def aggregate_type(self) -> str:
        """The aggregate type name this repository handles."""
        return self._type.AGGREGATE_TYPE

    def stream_id(self, aggregate_id: str) -> str:
        """The stream holding this aggregate's events."""
        return self._prefix + aggregate_id

    def usable_snapshot(self, snapshot: Snapshot | None, stream_version: int | None) -> bool:
        """Is this snapshot safe to start from? Anything doubtful is ignored, never trusted."""
        if snapshot is None:
            return False
        if snapshot.aggregate_type != self._type.AGGREGATE_TYPE:
            return False
        if snapshot.schema_version != self._type.SNAPSHOT_SCHEMA_VERSION:
            return False
        return not (stream_version is not None and snapshot.version > stream_version)

    def load(self, aggregate_id: str, *, at_version: int | None = None) -> A:
        """The aggregate at its latest version (or at ``at_version``); NotFoundError if none.

        Always built from the stores (never the cache): the caller owns the object.
        """
        aggregate = self.try_load(aggregate_id, at_version=at_version)
        if aggregate is None:
            raise self._not_found(aggregate_id)
        return aggregate

    def try_load(self, aggregate_id: str, *, at_version: int | None = None) -> A | None:
        """Like :meth:`load` but returns None when the stream does not exist."""
        stream = self.stream_id(aggregate_id)
        snapshot = self._snapshots.latest_snapshot(stream, at_or_below_version=at_version)
        aggregate: A | None = None
        start = 1
        if snapshot is not None:
            candidate = self._from_snapshot(aggregate_id, snapshot)
            if candidate is not None:
                aggregate = candidate
                start = snapshot.version + 1
        read = self._events.read_stream_data
        tail = read(stream, from_version=start, to_version=at_version)
        if aggregate is not None and tail and tail[0][0] != start:
            aggregate, tail = None, read(stream, to_version=at_version)
        if aggregate is None:
            if not tail:
                return None
            return _fold(self._type(aggregate_id), tail)
        _fold(aggregate, tail)
        # With no tail, make sure the stream really reaches the snapshot's version: a
        # snapshot newer than the stream (e.g. restored from elsewhere) is not trusted.
        if not tail and self._events.stream_version(stream) < aggregate.version:
            return self._replay_all(aggregate_id, at_version)
        return aggregate

    def _replay_all(self, aggregate_id: str, at_version: int | None) -> A | None:
        tail = self._events.read_stream_data(self.stream_id(aggregate_id), to_version=at_version)
        if not tail:
            return None
        return _fold(self._type(aggregate_id), tail)

    def _from_snapshot(self, aggregate_id: str, snapshot: Snapshot) -> A | None:
        if not self.usable_snapshot(snapshot, None):
            return None
        try:
            return self._type.from_snapshot(aggregate_id, snapshot.version, dict(snapshot.state))
        except DomainError:
            log.warning("ignoring unreadable snapshot of %s at v%s", aggregate_id, snapshot.version)
            return None

    def _not_found(self, aggregate_id: str) -> NotFoundError:
        return NotFoundError(f"No {self._type.AGGREGATE_TYPE} with id {aggregate_id} exists.")

    # --- the aggregate cache ---------------------------------------------------------------

    def checkout(self, aggregate_id: str) -> A:
        """The current aggregate, for a change the caller will ``save(..., release=True)``.

        Taken out of the cache (or loaded), so no other thread can see it half-changed.
        NotFoundError if the stream does not exist.
        """
        with self._lock:
            cached = self._cache.pop(aggregate_id, None)
        if cached is not None and self._catch_up(cached):
            return cached
        return self.load(aggregate_id)

    def view(self, aggregate_id: str, read: Callable[[A], T]) -> T:
        """``read(aggregate)`` on the current state, which ``read`` must not change (it runs
        under the cache's lock; return an immutable value). NotFoundError if none."""
        with self._lock:
            cached = self._cache.get(aggregate_id)
            if cached is not None:
                try:
                    current = self._catch_up(cached)
                except BaseException:
                    del self._cache[aggregate_id]  # possibly half caught up: never reuse
                    raise
                if current:
                    self._cache.move_to_end(aggregate_id)
                    return read(cached)
                del self._cache[aggregate_id]
        aggregate = self.load(aggregate_id)  # outside the lock: the stores may be slow
        result = read(aggregate)
        self._keep(aggregate)
        return result

    def forget(self, aggregate_id: str | None = None) -> None:
        """Drop one aggregate (or all) from the cache; the next use loads from the stores."""
        with self._lock:
            if aggregate_id is None:
                self._cache.clear()
            else:
                self._cache.pop(aggregate_id, None)

    def _catch_up(self, aggregate: A) -> bool:
        """Apply the events stored after the cached version; False if the stream no longer
        reaches that version (then the caller loads afresh). Reads from the cached version
        itself, so an empty answer means "gone", never "up to date"."""
        stream = self._prefix + aggregate.id
        if self._is_current(stream, aggregate.version):
            return True
        rows = self._events.read_stream_data(stream, from_version=aggregate.version)
        if not rows or rows[0][0] != aggregate.version:
            return False
        if len(rows) > 1:
            _fold(aggregate, rows[1:])
        return True

    def _keep(self, aggregate: A) -> None:
        """Put an aggregate nobody else holds into the cache, unless a newer one is there."""
        if aggregate.pending_events or self._cache_size <= 0:
            return
        with self._lock:
            cache = self._cache
            present = cache.get(aggregate.id)
            if present is not None and present.version > aggregate.version:
                return
            cache[aggregate.id] = aggregate
            cache.move_to_end(aggregate.id)
            while len(cache) > self._cache_size:
                cache.popitem(last=False)

    # --- saving ----------------------------------------------------------------------------

    def save(
        self,
        aggregate: A,
        *,
        expected_version: int,
        metadata: EventMetadata,
        command_id: str | None,
        fingerprint: str | None = None,
        release: bool = False,
        claims: Sequence[UniqueClaim] = (),
    ) -> AppendResult:
        """Append the aggregate's pending events after ``expected_version``.

        ``claims`` (unique keys such as a SKU) are taken in the same transaction as the events
        (``UniqueKeyTakenError`` when another aggregate holds one).

        ``release=True`` hands the aggregate over to the cache once its events are stored
        (the caller must not use it afterwards); a duplicate command or an error never
        caches it.
        """
        pending: Sequence[DomainEvent] = aggregate.take_pending()
        new_id = self._new_event_id
        new_events = [
            NewEvent(
                event_id=new_id(),
                type_name=event.type_name,
                schema_version=event.schema_version,
                payload=to_payload(event),
                metadata=metadata,
            )
            for event in pending
        ]
        result = self._events.append(
            self.stream_id(aggregate.id),
            expected_version,
            new_events,
            command_id=command_id,
            fingerprint=fingerprint,
            claims=claims,
        )
        if (
            not result.duplicate
            and self._policy.due(expected_version, result.version)
            # Without a key nothing can be sealed: skip quietly (the store says why once).
            and self._snapshots.trust().sealing
        ):
            try:
                self.snapshot(aggregate)
            except StoreError as exc:
                # The events are safely stored; a snapshot is only a cache, so its failure
                # must not turn a successful command into an error.
                log.warning("snapshot of %s at v%s failed: %s", aggregate.id, result.version, exc)
        if release and not result.duplicate and result.version == aggregate.version:
            self._keep(aggregate)
        return result

    def snapshot(self, aggregate: A) -> Snapshot:
        """Store a snapshot of the aggregate's current state."""
        snapshot = Snapshot(
            stream_id=self.stream_id(aggregate.id),
            aggregate_type=self._type.AGGREGATE_TYPE,
            version=aggregate.version,
            schema_version=self._type.SNAPSHOT_SCHEMA_VERSION,
            state=aggregate.to_snapshot(),
        )
        self._snapshots.save_snapshot(snapshot)
        return snapshot
