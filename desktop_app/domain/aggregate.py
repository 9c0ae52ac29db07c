"""Aggregate base: state rebuilt from events, pending events, snapshots in and out.

Command methods (in subclasses) check rules and call `_record`; `apply` only mutates state and
never validates, because history is already true. A snapshot is a cache of the state at a version;
a malformed one raises SnapshotFormatError so the caller can fall back to full replay.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import ClassVar, Self

from desktop_app.domain.errors import DomainError, SnapshotFormatError
from desktop_app.domain.events import DomainEvent
from desktop_app.domain.serialization import StoredEventRow, from_payloads, stored_money
from desktop_app.domain.values import JSON, Money


class Aggregate:
    """Base of Order, Customer and Product."""

    AGGREGATE_TYPE: ClassVar[str] = ""
    SNAPSHOT_SCHEMA_VERSION: ClassVar[int] = 1
    CREATION_EVENTS: ClassVar[tuple[type[DomainEvent], ...]] = ()
    """The events that start a stream (recorded first, and only first)."""

    def __init__(self, aggregate_id: str) -> None:
        self.id = aggregate_id
        self.version = 0
        self.pending_events: list[DomainEvent] = []

    # --- events ---------------------------------------------------------------------------

    def _record(self, event: DomainEvent) -> None:
        """Apply a new event and keep it as pending until the repository saves it."""
        self.apply(event)
        self.pending_events.append(event)

    def apply(self, event: DomainEvent) -> None:
        """Mutate state by one event and count it; never validates."""
        self._when(event)
        self.version += 1

    def apply_all(self, events: Iterable[DomainEvent]) -> None:
        """``apply`` each event in order (one bound-method lookup for a whole history)."""
        when = self._when
        for event in events:
            when(event)
            self.version += 1

    def apply_stored(self, rows: Iterable[StoredEventRow]) -> None:
        """``apply_all`` of the events stored as ``(version, type_name, schema_version,
        payload)`` rows, in order (the hot loop of every load; the version is not used).

        Every payload is checked and upcast as :func:`from_payloads` does; a subclass may take
        a shorter way for its most frequent event, provided it accepts exactly the same
        payloads and leaves exactly the same state.
        """
        self.apply_all(from_payloads(rows))

    def _when(self, event: DomainEvent) -> None:
        raise NotImplementedError

    # --- checking recorded history (verify, R27) -----------------------------------------

    def refusal(self, event: DomainEvent) -> str | None:
        """Why ``event``, already recorded, could not have been recorded in the current state;
        None when a command could have recorded it. Does not apply it.

        Uses the very guards the command methods use (``_check_recorded`` in each subclass), so
        ``verify`` and the command side cannot disagree about what is legal.
        """
        creates = isinstance(event, self.CREATION_EVENTS)
        if self.version == 0 and not creates:
            return f"{type(event).__name__} before the {self.AGGREGATE_TYPE} was created"
        if self.version > 0 and creates:
            return f"the {self.AGGREGATE_TYPE} was already created ({type(event).__name__} again)"
        try:
            self._check_recorded(event)
        except DomainError as exc:
            return exc.message
        return None

    def _check_recorded(self, event: DomainEvent) -> None:
        """Raise the DomainError the command that records ``event`` would raise now."""
        raise NotImplementedError

    @classmethod
    def replay(cls, aggregate_id: str, events: Iterable[DomainEvent]) -> Self:
        """Rebuild an aggregate from its full history."""
        aggregate = cls(aggregate_id)
        aggregate.apply_all(events)
        return aggregate

    def take_pending(self) -> list[DomainEvent]:
        """Return the recorded-but-unsaved events and clear them."""
        pending, self.pending_events = self.pending_events, []
        return pending

    # --- snapshots ------------------------------------------------------------------------

    def to_snapshot(self) -> dict[str, JSON]:
        """The whole state as a readable, JSON-compatible dict with a stable key order."""
        raise NotImplementedError

    def _restore(self, state: Mapping[str, object]) -> None:
        raise NotImplementedError

    @classmethod
    def from_snapshot(cls, aggregate_id: str, version: int, state: Mapping[str, object]) -> Self:
        """Rebuild an aggregate from a snapshot taken at `version`."""
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise SnapshotFormatError(f"A snapshot has an invalid version {version!r}.")
        if not isinstance(state, Mapping):
            raise SnapshotFormatError("A snapshot state is not a JSON object.")
        aggregate = cls(aggregate_id)
        try:
            aggregate._restore(state)
        except SnapshotFormatError:
            raise
        except (DomainError, KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise SnapshotFormatError(
                f"A {cls.AGGREGATE_TYPE} snapshot is malformed: {exc}"
            ) from exc
        aggregate.version = version
        return aggregate

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id!r} v{self.version}>"


# --- strict readers for snapshot states ---------------------------------------------------


def snapshot_str(state: Mapping[str, object], key: str) -> str:
    """state[key] as str, or SnapshotFormatError."""
    value = state.get(key)
    if not isinstance(value, str):
        raise SnapshotFormatError(f"Snapshot field {key!r} must be text.")
    return value


def snapshot_optional_str(state: Mapping[str, object], key: str) -> str | None:
    """state[key] as str or None (the key must be present)."""
    if key not in state:
        raise SnapshotFormatError(f"Snapshot field {key!r} is missing.")
    value = state[key]
    if value is None:
        return None
    if not isinstance(value, str):
        raise SnapshotFormatError(f"Snapshot field {key!r} must be text or null.")
    return value


def snapshot_int(state: Mapping[str, object], key: str) -> int:
    """state[key] as int (not bool), or SnapshotFormatError."""
    value = state.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SnapshotFormatError(f"Snapshot field {key!r} must be a whole number.")
    return value


def snapshot_bool(state: Mapping[str, object], key: str) -> bool:
    """state[key] as bool, or SnapshotFormatError."""
    value = state.get(key)
    if not isinstance(value, bool):
        raise SnapshotFormatError(f"Snapshot field {key!r} must be true or false.")
    return value


def snapshot_mapping(state: Mapping[str, object], key: str) -> Mapping[str, object]:
    """state[key] as a JSON object, or SnapshotFormatError."""
    value = state.get(key)
    if not isinstance(value, Mapping):
        raise SnapshotFormatError(f"Snapshot field {key!r} must be an object.")
    return value


def snapshot_list(state: Mapping[str, object], key: str) -> list[Mapping[str, object]]:
    """state[key] as a list of JSON objects, or SnapshotFormatError."""
    value = state.get(key)
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise SnapshotFormatError(f"Snapshot field {key!r} must be a list of objects.")
    return value


def snapshot_money(state: Mapping[str, object], key: str, currency: str) -> Money:
    """state[key] as a decimal string in `currency`, or SnapshotFormatError."""
    text = snapshot_str(state, key)
    money = stored_money(text, currency)  # cached Money.parse: snapshots repeat a few prices
    if money is not None:
        return money
    try:
        return Money.parse(text, currency)
    except DomainError as exc:
        raise SnapshotFormatError(f"Snapshot field {key!r}: {exc.message}") from exc
