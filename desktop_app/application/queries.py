"""Queries (``Get…``/``List…``) and their frozen result rows.

``Query[R]`` names its result type so ``QueryBus.ask`` is typed. History, snapshots and state at
version N come from the event store; lists and searches come from the read model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from desktop_app.application.ports import EventMetadata, JsonObject, JsonValue, SnapshotInfo

R = TypeVar("R")


@dataclass(frozen=True, kw_only=True, slots=True)
class Query(Generic[R]):
    """Base of all queries; ``R`` is the result type."""


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class HistoryEntry:
    """One event of an order's history, ready for the timeline and the CLI."""

    position: int
    version: int
    event_id: str
    type_name: str
    schema_version: int
    recorded_at: datetime
    metadata: EventMetadata
    payload: JsonObject
    summary: str
    prev_hash: str
    hash: str


@dataclass(frozen=True, kw_only=True, slots=True)
class AggregateState:
    """An aggregate's full state at one version, as the snapshot dict (readable, diffable)."""

    aggregate_id: str
    aggregate_type: str
    version: int
    state: JsonObject


@dataclass(frozen=True, kw_only=True, slots=True)
class FieldChange:
    """One field that differs between two states; ``path`` like ``lines[2].quantity``."""

    path: str
    before: JsonValue
    after: JsonValue
    kind: str  # "changed", "added" or "removed"


@dataclass(frozen=True, kw_only=True, slots=True)
class StateDiff:
    """Field-by-field differences between two versions of one aggregate."""

    aggregate_id: str
    from_version: int
    to_version: int
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class SnapshotCheck:
    """Outcome of checking a snapshot against a replay of the events up to its version."""

    aggregate_id: str
    version: int
    usable: bool
    equal: bool
    differences: tuple[FieldChange, ...]
    problem: str | None = None


# --- queries over the event store ----------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class GetOrderHistory(Query[list[HistoryEntry]]):
    """Every event of one order, in version order (never by time)."""

    order_id: str
    from_version: int = 1
    to_version: int | None = None
    type_names: frozenset[str] | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class GetOrderAtVersion(Query[AggregateState]):
    """The order's state right after event ``version`` (None: the current state)."""

    order_id: str
    version: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class GetOrderDiff(Query[StateDiff]):
    """Field-by-field diff of an order between two versions (0 means "before it existed")."""

    order_id: str
    from_version: int
    to_version: int


@dataclass(frozen=True, kw_only=True, slots=True)
class ListOrderSnapshots(Query[list[SnapshotInfo]]):
    """The snapshots stored for an order, newest first."""

    order_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class GetOrderSnapshot(Query[AggregateState | None]):
    """The state stored in one snapshot (None when missing or unreadable)."""

    order_id: str
    version: int


@dataclass(frozen=True, kw_only=True, slots=True)
class VerifyOrderSnapshot(Query[SnapshotCheck]):
    """Compare a snapshot with the state rebuilt from events at its version."""

    order_id: str
    version: int
