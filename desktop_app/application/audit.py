"""``verify`` (R27): the hash chain, then the meaning of the history.

The chain proves that nothing changed since each event was recorded; it cannot tell whether an
event was legal when it was recorded (anyone who edits the file can insert an event and
recompute the chain). The full check therefore replays every stream and asks the aggregate,
with the same guards its command methods use (``Aggregate.refusal``), whether each event could
have been recorded in the state before it; every stored snapshot must equal the replay at its
version, and must not show signs of an edit outside the program (damage, a broken seal).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import replace

from desktop_app.application.ports import (
    AuditRow,
    EventStore,
    Progress,
    SnapshotStore,
    StoredSnapshot,
    StoreError,
    VerifyFinding,
    VerifyResult,
)
from desktop_app.domain.aggregate import Aggregate
from desktop_app.domain.annotations import AuditNotes
from desktop_app.domain.catalog import Customer, Product
from desktop_app.domain.errors import DomainError
from desktop_app.domain.order import Order
from desktop_app.domain.serialization import from_payload

MAX_FINDINGS = 1000
"""Findings kept in a result (all are counted); a forged file can hold millions."""

AGGREGATES: Mapping[str, type[Aggregate]] = {
    cls.AGGREGATE_TYPE: cls for cls in (Order, Customer, Product, AuditNotes)
}

_PROGRESS_EVERY = 20_000

Cancel = Callable[[], bool]
"""Asked between chunks of the check (every progress report of the chain pass, every stream
of the replay); True stops it."""


class _Cancelled(Exception):
    """Raised from inside a pass to stop it; never leaves this module."""

    def __init__(self, checked: int, phase: str) -> None:
        super().__init__(f"cancelled in the {phase} pass after {checked} events")
        self.checked = checked
        self.phase = phase


def _cancelled(checked: int, total: int, phase: str) -> VerifyResult:
    return VerifyResult(
        ok=False,
        checked=checked,
        head_position=0,
        head_hash="",
        problem=f"verify was cancelled after {checked:,} of {total:,} events",
        cancelled_at=checked,
        cancelled_in=phase,
    )


def verify_history(
    events: EventStore,
    snapshots: SnapshotStore,
    *,
    progress: Progress | None = None,
    chain_only: bool = False,
    cancel: Cancel | None = None,
) -> VerifyResult:
    """The hash chain; unless ``chain_only``, also every stream replayed and checked.

    ``progress(done, total)`` counts the chain pass and then the replay (total = twice the
    number of events in a full check). ``cancel()`` is asked between chunks; when it says
    True the check stops and the result (never ``ok``) says how far it got.
    """
    total = [0]

    def chain_progress(done: int, of: int) -> None:
        total[0] = of
        if cancel is not None and cancel():
            # Raised through the store's scan: its read transaction ends with the ``with``.
            raise _Cancelled(done, "chain")
        if progress is not None:
            progress(done, of if chain_only else 2 * of)

    try:
        chain = _with_chain_finding(events, events.verify(progress=chain_progress))
    except _Cancelled as stop:
        return _cancelled(stop.checked, total[0], stop.phase)
    if chain_only:
        return chain
    audit = _Audit(total[0] or chain.checked, progress, cancel)
    streams, stored = events.iter_streams(), snapshots.iter_snapshots()
    try:
        audit.run(streams, stored)
    except _Cancelled as stop:
        return replace(
            _cancelled(stop.checked, audit.total, stop.phase),
            head_position=chain.head_position,
            head_hash=chain.head_hash,
            first_bad_position=chain.first_bad_position,
            chain_finding=chain.chain_finding,
            findings=tuple(audit.findings),
            finding_count=audit.count,
        )
    finally:
        # Release the stores' read transactions now, not whenever the generators are collected.
        for iterator in (streams, stored):
            if isinstance(iterator, Generator):
                iterator.close()
    if chain.first_bad_position is not None and chain.chain_finding is None:
        # The store could not decode the bad row (e.g. its payload is not JSON); the replay,
        # which reads rows without decoding them first, knows whose event it is.
        same = [f for f in audit.findings if f.position == chain.first_bad_position]
        if same:
            reason = chain.problem or same[0].reason
            chain = replace(chain, chain_finding=replace(same[0], kind="chain", reason=reason))
    return replace(
        chain,
        ok=chain.ok and audit.count == 0,
        semantic=True,
        findings=tuple(audit.findings),
        finding_count=audit.count,
        streams_checked=audit.streams,
        snapshots_checked=audit.snapshot_count,
        notes=tuple(audit.notes()),
    )


def _with_chain_finding(events: EventStore, result: VerifyResult) -> VerifyResult:
    """``result`` with its chain problem located: which stream, version and order the event
    stored at the first bad position belongs to (as stored: the row itself may be forged)."""
    position = result.first_bad_position
    if position is None:
        return result
    finding = locate_position(events, position, result.problem or "the hash chain is broken")
    return result if finding is None else replace(result, chain_finding=finding)


def locate_position(events: EventStore, position: int, reason: str) -> VerifyFinding | None:
    """A ``kind="chain"`` finding for the event stored at ``position``: its stream, version
    and (for an order) order number; None when no readable event is stored there."""
    try:
        found = events.read_all(after_position=position - 1, limit=1)
    except (StoreError, KeyError, TypeError, ValueError):
        return None  # the row is too damaged to decode: the position is all there is
    if not found or found[0].position != position:
        return None  # deleted: nothing stored there says whose it was
    event = found[0]
    kind, _, aggregate_id = event.stream_id.partition("-")
    return VerifyFinding(
        kind="chain",
        stream_id=event.stream_id,
        aggregate_type=kind,
        aggregate_id=aggregate_id,
        version=event.version,
        position=position,
        order_number=_order_number(events, event.stream_id),
        event_type=event.type_name,
        reason=reason,
    )


def _order_number(events: EventStore, stream_id: str) -> str | None:
    """The number an order was placed with (its first event), or None."""
    if not stream_id.startswith(f"{Order.AGGREGATE_TYPE}-"):
        return None
    try:
        first = events.read_stream(stream_id, to_version=1)
    except (StoreError, KeyError, TypeError, ValueError):
        return None
    number = first[0].payload.get("order_number") if first else None
    return number if isinstance(number, str) and number else None


class _Audit:
    """One replay of every stream, merged with the snapshots (both ordered by stream id)."""

    def __init__(self, total: int, progress: Progress | None, cancel: Cancel | None = None) -> None:
        self._cancel = cancel
        self.findings: list[VerifyFinding] = []
        self.count = 0
        self.streams = 0
        self.snapshot_count = 0
        self.unchecked_seals = 0
        self.untrusted = 0
        self.newer = 0
        self._done = 0
        self._total = total
        self._progress = progress
        # Notes streams sort before order streams: what each order's notes claim about it
        # (order id -> (highest order version a note saw, that note's position, its version)),
        # checked when the order's stream comes, or at the end when it never does.
        self._claims: dict[str, tuple[int, int, int]] = {}

    def add(self, finding: VerifyFinding) -> None:
        self.count += 1
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(finding)

    def notes(self) -> Iterator[str]:
        if self.newer:
            yield (
                f"{self.newer:,} snapshot(s) of events recorded while verify was running were "
                "not compared (verify again to include them)"
            )
        if self.unchecked_seals:
            yield (
                f"{self.unchecked_seals:,} snapshot seal(s) could not be checked: this account "
                "has no key for this database (their contents were compared with the replay)"
            )
        if self.untrusted:
            yield (
                f"{self.untrusted:,} snapshot(s) are unsealed or sealed with another key: "
                "loads ignore them (their contents were compared with the replay)"
            )

    def run(
        self,
        streams: Iterator[tuple[str, list[AuditRow]]],
        snapshots: Iterator[StoredSnapshot],
    ) -> None:
        pending = next(snapshots, None)
        for stream_id, rows in streams:
            # Snapshots of streams that sort before this one have no events at all.
            while pending is not None and pending.stream_id < stream_id:
                self._orphan(pending)
                pending = next(snapshots, None)
            mine: list[StoredSnapshot] = []
            while pending is not None and pending.stream_id == stream_id:
                mine.append(pending)
                pending = next(snapshots, None)
            self._stream(stream_id, rows, mine)
            self.streams += 1
            self._tick(len(rows))
        while pending is not None:
            self._orphan(pending)
            pending = next(snapshots, None)
        for order_id, (_, position, version) in sorted(self._claims.items()):
            self._note_finding(
                order_id, position, version, "a note on an order that does not exist"
            )
        if self._progress is not None:
            self._progress(2 * self._total, 2 * self._total)

    @property
    def total(self) -> int:
        """Events the replay expects to read."""
        return self._total

    def _tick(self, events: int) -> None:
        before = self._done
        self._done += events
        if self._cancel is not None and self._cancel():
            raise _Cancelled(self._done, "replay")
        if self._progress is not None and (
            self._done // _PROGRESS_EVERY != before // _PROGRESS_EVERY
        ):
            self._progress(self._total + min(self._done, self._total), 2 * self._total)

    def _orphan(self, snap: StoredSnapshot) -> None:
        self.snapshot_count += 1
        if not snap.suspect:
            # Its event exists (the store joined it): the stream began after the replay's
            # read snapshot was taken, so there is nothing to compare it with yet.
            self.newer += 1
            return
        kind, _, aggregate_id = snap.stream_id.partition("-")
        self.add(
            VerifyFinding(
                kind="snapshot",
                stream_id=snap.stream_id,
                aggregate_type=kind,
                aggregate_id=aggregate_id,
                version=snap.version,
                reason="a snapshot of a stream that has no events",
            )
        )

    def _stream(self, stream_id: str, rows: list[AuditRow], snaps: list[StoredSnapshot]) -> None:
        kind, _, aggregate_id = stream_id.partition("-")
        cls = AGGREGATES.get(kind)
        if cls is None:
            self.add(
                VerifyFinding(
                    kind="event",
                    stream_id=stream_id,
                    aggregate_type=kind,
                    aggregate_id=aggregate_id,
                    version=rows[0][1],
                    position=rows[0][0],
                    reason=f"a stream of an unknown kind ({kind!r}): its events cannot be checked",
                )
            )
            return
        if cls is Order:
            self._check_claim(aggregate_id, rows)
        aggregate = cls(aggregate_id)
        number: str | None = None
        snap_index = 0
        for position, version, type_name, schema_version, payload in rows:
            try:
                if payload is None:
                    raise DomainError("its payload is not a JSON object")
                if number is None and isinstance(aggregate, Order):
                    # Name the order in a finding about its very first event too.
                    placed_as = payload.get("order_number")
                    number = placed_as if isinstance(placed_as, str) and placed_as else None
                event = from_payload(type_name, schema_version, payload)
            except (DomainError, KeyError, TypeError, ValueError) as exc:
                self._event(aggregate, number, position, version, type_name, f"unreadable: {exc}")
                return  # the rest of the stream cannot be replayed meaningfully
            reason = aggregate.refusal(event)
            if reason is not None:
                self._event(aggregate, number, position, version, type_name, reason)
            try:
                aggregate.apply(event)
            except (DomainError, KeyError, TypeError, ValueError, ArithmeticError) as exc:
                self._event(
                    aggregate, number, position, version, type_name, f"cannot be applied: {exc!r}"
                )
                return
            if number is None and isinstance(aggregate, Order):
                number = aggregate.order_number or None
            # Snapshots at this version (the stream's versions are 1, 2, … when the chain holds;
            # the chain check reports any gap).
            while snap_index < len(snaps) and snaps[snap_index].version <= version:
                self._snapshot(aggregate, number, snaps[snap_index], version)
                snap_index += 1
        for snap in snaps[snap_index:]:
            self._snapshot(aggregate, number, snap, None)
        if isinstance(aggregate, AuditNotes) and aggregate.notes:
            self._claims[aggregate.id] = _newest_claim(aggregate, rows)

    def _check_claim(self, order_id: str, rows: list[AuditRow]) -> None:
        """The order's notes claimed a version its stream must reach (R27 for notes)."""
        claim = self._claims.pop(order_id, None)
        if claim is None:
            return
        claimed, position, version = claim
        reached = rows[-1][1] if rows else 0
        if reached < claimed:
            self._note_finding(
                order_id,
                position,
                version,
                f"a note written at order version {claimed}, but the order has only {reached}",
            )

    def _note_finding(self, order_id: str, position: int, version: int, reason: str) -> None:
        self.add(
            VerifyFinding(
                kind="event",
                stream_id=f"{AuditNotes.AGGREGATE_TYPE}-{order_id}",
                aggregate_type=AuditNotes.AGGREGATE_TYPE,
                aggregate_id=order_id,
                version=version,
                position=position,
                event_type="AuditNoteAdded",
                reason=reason,
            )
        )

    def _event(
        self,
        aggregate: Aggregate,
        number: str | None,
        position: int,
        version: int,
        type_name: str,
        reason: str,
    ) -> None:
        self.add(
            VerifyFinding(
                kind="event",
                stream_id=f"{aggregate.AGGREGATE_TYPE}-{aggregate.id}",
                aggregate_type=aggregate.AGGREGATE_TYPE,
                aggregate_id=aggregate.id,
                version=version,
                position=position,
                order_number=number,
                event_type=type_name,
                reason=reason,
            )
        )

    def _snapshot(
        self, aggregate: Aggregate, number: str | None, snap: StoredSnapshot, at: int | None
    ) -> None:
        self.snapshot_count += 1
        reasons: list[str] = []
        if at is None and not snap.suspect:
            # Beyond the replayed history but its event exists now: appended during verify.
            self.newer += 1
            return
        if at is None or snap.version != at:
            reasons.append("a snapshot at a version the stream does not have")
        elif (
            snap.aggregate_type == aggregate.AGGREGATE_TYPE
            and snap.schema_version == aggregate.SNAPSHOT_SCHEMA_VERSION
        ):
            replayed = aggregate.to_snapshot()
            if snap.state != replayed:
                reasons.append(
                    "its state differs from the replay of the events up to its version"
                    + _first_difference(snap.state, replayed)
                )
        if snap.suspect:
            reasons.insert(0, f"not trusted: {snap.problem}")
        elif snap.problem is not None and not reasons:
            if snap.key_checked:
                self.untrusted += 1
            else:
                self.unchecked_seals += 1
        reason = "; ".join(reasons) if reasons else None
        if reason is not None:
            self.add(
                VerifyFinding(
                    kind="snapshot",
                    stream_id=snap.stream_id,
                    aggregate_type=aggregate.AGGREGATE_TYPE,
                    aggregate_id=aggregate.id,
                    version=snap.version,
                    order_number=number,
                    reason=reason,
                )
            )


def _newest_claim(notes: AuditNotes, rows: list[AuditRow]) -> tuple[int, int, int]:
    """(the highest order version a note saw, that note's position and version)."""
    newest = max(notes.notes.values(), key=lambda note: note.order_version)
    for position, version, _, _, payload in rows:
        if payload is not None and payload.get("note_id") == newest.note_id:
            return newest.order_version, position, version
    return newest.order_version, rows[-1][0], rows[-1][1]


def _first_difference(stored: Mapping[str, object] | None, replayed: Mapping[str, object]) -> str:
    """`` (status: stored 'pending', replay 'cancelled'; …)`` for up to three differing fields."""
    if stored is None:
        return " (the stored state is not a JSON object)"
    keys = [k for k in sorted(set(stored) | set(replayed)) if stored.get(k) != replayed.get(k)]
    parts = [
        f"{key}: stored {_short(stored.get(key))}, replay {_short(replayed.get(key))}"
        for key in keys[:3]
    ]
    more = f"; {len(keys) - 3} more" if len(keys) > 3 else ""
    return f" ({'; '.join(parts)}{more})" if parts else ""


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


__all__ = ["AGGREGATES", "MAX_FINDINGS", "locate_position", "verify_history"]
