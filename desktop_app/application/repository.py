"""Repositories: load an aggregate (newest valid snapshot + later events) and save its new events.

Snapshots are a cache. One that is missing, unreadable, of another aggregate type or snapshot
schema, or newer than the stream is ignored and the aggregate is rebuilt by replay (R16).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from desktop_app.application.ports import (
    AppendResult,
    EventMetadata,
    EventStore,
    NewEvent,
    Snapshot,
    SnapshotStore,
    StoredEvent,
    StoreError,
)
from desktop_app.domain.aggregate import Aggregate
from desktop_app.domain.errors import DomainError
from desktop_app.domain.events import DomainEvent
from desktop_app.domain.serialization import from_payload, to_payload

A = TypeVar("A", bound=Aggregate)

log = logging.getLogger(__name__)

DEFAULT_SNAPSHOT_INTERVAL = 50


class NotFoundError(DomainError):
    """The record asked for does not exist."""


def stream_id_for(aggregate_type: str, aggregate_id: str) -> str:
    """Stream ids are ``<aggregate type>-<id>`` so they never collide across types."""
    return f"{aggregate_type}-{aggregate_id}"


def decode(stored: StoredEvent) -> DomainEvent:
    """Turn a stored event into a domain event, upcasting older schema versions."""
    return from_payload(stored.type_name, stored.schema_version, stored.payload)


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
    """Loads and saves one aggregate type through the event and snapshot stores."""

    def __init__(
        self,
        aggregate: type[A],
        events: EventStore,
        snapshots: SnapshotStore,
        *,
        new_event_id: Callable[[], str],
        policy: SnapshotPolicy | None = None,
    ) -> None:
        self._type = aggregate
        self._events = events
        self._snapshots = snapshots
        self._new_event_id = new_event_id
        self._policy = policy or SnapshotPolicy()

    @property
    def aggregate_type(self) -> str:
        """The aggregate type name this repository handles."""
        return self._type.AGGREGATE_TYPE

    def stream_id(self, aggregate_id: str) -> str:
        """The stream holding this aggregate's events."""
        return stream_id_for(self._type.AGGREGATE_TYPE, aggregate_id)

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
        """The aggregate at its latest version (or at ``at_version``); NotFoundError if none."""
        aggregate = self.try_load(aggregate_id, at_version=at_version)
        if aggregate is None:
            label = self._type.AGGREGATE_TYPE
            raise NotFoundError(f"No {label} with id {aggregate_id} exists.")
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
        tail = self._events.read_stream(stream, from_version=start, to_version=at_version)
        if aggregate is not None and tail and tail[0].version != start:
            aggregate, tail = None, self._events.read_stream(stream, to_version=at_version)
        if aggregate is None:
            if not tail:
                return None
            aggregate = self._type.replay(aggregate_id, [decode(e) for e in tail])
        else:
            for stored in tail:
                aggregate.apply(decode(stored))
            # With no tail, make sure the stream really reaches the snapshot's version: a
            # snapshot newer than the stream (e.g. restored from elsewhere) is not trusted.
            if not tail and self._events.stream_version(stream) < aggregate.version:
                return self._replay_all(aggregate_id, at_version)
        return aggregate

    def _replay_all(self, aggregate_id: str, at_version: int | None) -> A | None:
        tail = self._events.read_stream(self.stream_id(aggregate_id), to_version=at_version)
        if not tail:
            return None
        return self._type.replay(aggregate_id, [decode(e) for e in tail])

    def _from_snapshot(self, aggregate_id: str, snapshot: Snapshot) -> A | None:
        if not self.usable_snapshot(snapshot, None):
            return None
        try:
            return self._type.from_snapshot(aggregate_id, snapshot.version, dict(snapshot.state))
        except DomainError:
            log.warning("ignoring unreadable snapshot of %s at v%s", aggregate_id, snapshot.version)
            return None

    def save(
        self,
        aggregate: A,
        *,
        expected_version: int,
        metadata: EventMetadata,
        command_id: str | None,
    ) -> AppendResult:
        """Append the aggregate's pending events after ``expected_version``."""
        pending: Sequence[DomainEvent] = aggregate.take_pending()
        new_events = [
            NewEvent(
                event_id=self._new_event_id(),
                type_name=event.type_name,
                schema_version=event.schema_version,
                payload=to_payload(event),
                metadata=metadata,
            )
            for event in pending
        ]
        result = self._events.append(
            self.stream_id(aggregate.id), expected_version, new_events, command_id=command_id
        )
        if not result.duplicate and self._policy.due(expected_version, result.version):
            try:
                self.snapshot(aggregate)
            except StoreError as exc:
                # The events are safely stored; a snapshot is only a cache, so its failure
                # must not turn a successful command into an error.
                log.warning("snapshot of %s at v%s failed: %s", aggregate.id, result.version, exc)
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
