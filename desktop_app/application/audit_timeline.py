"""One order's history for the audit view (issue 11): events told in business language,
grouped into one card per command, long runs of like commands folded, and an integrity
verdict on every event.

The command's *type* is not recorded (an event's metadata names the command id as its
``causation_id``, plus who, where and which program); a card is titled by what its events did
("Place order" for an ``OrderPlaced`` and its lines), which is what the command was.

Integrity of one stream, on demand (``check``; the view asks right after its first paint, so
a long history shows at once and its verdicts follow):

* **meaning**: each event must be legal in the state before it, with the aggregate's own
  guards (``Aggregate.refusal``), exactly as ``verify`` checks every stream;
* **chain**: each event's hash is recomputed from its contents and previous hash, and its
  previous hash must be the stored hash of the event before it in the log. That
  catches an event edited in place; an editor who recomputes every later hash of the log is
  only caught by a digest or anchor kept elsewhere (Tools ▸ Verify, ``verify --digest``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from desktop_app.application.business_summaries import BusinessChange, LineBook
from desktop_app.application.ports import (
    EventStore,
    JsonObject,
    ServerAuthorship,
    StoredEvent,
    StoreError,
)
from desktop_app.application.queries import RUN_MIN, GetOrderAudit
from desktop_app.domain import events as e
from desktop_app.domain.errors import DomainError
from desktop_app.domain.order import Order
from desktop_app.domain.serialization import from_payload

EventHasher = Callable[[StoredEvent], str]
"""Recomputes a stored event's hash from its contents and its ``prev_hash`` (the store's
formula; the composition root passes it in, the application knows no hashing rules)."""

GENESIS_HASH = "0" * 64
"""The previous hash of the log's first event (R14)."""


OK, BAD, UNCHECKED = "ok", "bad", "unchecked"

COMMAND_TITLES: dict[str, str] = {
    e.OrderPlaced.type_name: "Place order",
    e.OrderLineAdded.type_name: "Add line",
    e.OrderLineRemoved.type_name: "Remove line",
    e.OrderLineQuantityChanged.type_name: "Change quantity",
    e.OrderLinesChanged.type_name: "Edit lines",
    e.OrderConfirmed.type_name: "Confirm",
    e.OrderShipped.type_name: "Ship",
    e.OrderDelivered.type_name: "Deliver",
    e.OrderCancelled.type_name: "Cancel",
    e.OrderShippingAddressChanged.type_name: "Change shipping address",
    e.OrderNoteAdded.type_name: "Add note",
}

RUN_NOUNS: dict[str, str] = {
    e.OrderLineQuantityChanged.type_name: "quantity changes",
    e.OrderLineAdded.type_name: "lines added",
    e.OrderLineRemoved.type_name: "lines removed",
    e.OrderLinesChanged.type_name: "line edits",
    e.OrderShippingAddressChanged.type_name: "address changes",
    e.OrderNoteAdded.type_name: "notes",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Integrity:
    """The verdict on one event: ``state`` is ``ok``, ``bad`` (``reasons`` say why) or
    ``unchecked`` (no check was asked for, or an earlier event could not be read)."""

    state: str
    reasons: tuple[str, ...] = ()
    chain_checked: bool = False
    meaning_checked: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class AuditEvent:
    """One event as the audit view shows it: business text first, ids for the details pane.

    The stored event's own fields are read through from ``stored`` (properties) rather than
    copied: a 10,000-event order builds 10,000 of these before its first paint, and three
    fields cost a third of fifteen (P5)."""

    stored: StoredEvent
    change: BusinessChange
    integrity: Integrity

    @property
    def position(self) -> int:
        """The event's position in the log."""
        return self.stored.position

    @property
    def version(self) -> int:
        """The order's version this event made."""
        return self.stored.version

    @property
    def event_id(self) -> str:
        """The event's id."""
        return self.stored.event_id

    @property
    def type_name(self) -> str:
        """The event's type."""
        return self.stored.type_name

    @property
    def recorded_at(self) -> datetime:
        """When it was recorded (UTC)."""
        return self.stored.recorded_at

    @property
    def user(self) -> str:
        """The OS account that sent its command."""
        return self.stored.metadata.user

    @property
    def host(self) -> str:
        """The workstation it came from."""
        return self.stored.metadata.host

    @property
    def app_version(self) -> str:
        """The program version that wrote it."""
        return self.stored.metadata.app_version

    @property
    def command_id(self) -> str:
        """The command that caused it (its causation id)."""
        return self.stored.metadata.causation_id

    @property
    def correlation_id(self) -> str:
        """The correlation id of its command."""
        return self.stored.metadata.correlation_id

    @property
    def payload(self) -> JsonObject:
        """The recorded data."""
        return self.stored.payload

    @property
    def prev_hash(self) -> str:
        """The hash of the event before it in the log, as recorded."""
        return self.stored.prev_hash

    @property
    def hash(self) -> str:
        """Its own hash, as recorded."""
        return self.stored.hash

    @property
    def summary(self) -> str:
        """The one-line business sentence."""
        return self.change.text


@dataclass(frozen=True, kw_only=True, slots=True)
class AuditCard:
    """One command's events (``kind="command"``) or a folded run of like commands
    (``kind="run"``, ``commands`` counts them)."""

    kind: str
    title: str
    user: str
    host: str
    events: tuple[AuditEvent, ...]
    commands: int = 1

    @property
    def first(self) -> AuditEvent:
        """The card's first event."""
        return self.events[0]

    @property
    def last(self) -> AuditEvent:
        """The card's last event."""
        return self.events[-1]

    @property
    def bad(self) -> bool:
        """True when any of its events failed a check."""
        return any(event.integrity.state == BAD for event in self.events)

    @property
    def delta(self) -> Decimal | None:
        """The change of the order's total over the card (None: no line touched)."""
        deltas = [ev.change.delta for ev in self.events if ev.change.delta is not None]
        return sum(deltas, Decimal(0)) if deltas else None

    def byline(self, server_role: str | None = None) -> str:
        """``by maria on WS-3 · 4 events`` (a run of one-event commands: ``by maria on WS-3``,
        its title counts them); on a shared store with the database role the server recorded
        for its first event: ``by maria on WS-3 as orders_maria · 4 events``."""
        who = f"by {self.user or 'unknown'}" + (f" on {self.host}" if self.host else "")
        if server_role:
            who += f" as {server_role}"
        count = len(self.events)
        if self.kind == "run" and count == self.commands:
            return who
        return f"{who} · {count:,} event{'s' if count != 1 else ''}"


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderAudit:
    """An order's whole history for the audit view."""

    order_id: str
    order_number: str
    currency: str
    events: tuple[AuditEvent, ...]
    cards: tuple[AuditCard, ...]
    checked: bool
    server_roles: dict[int, str] = field(default_factory=dict)
    """Position -> the database role that wrote the event, as the server recorded it (a
    shared store); empty in a file."""

    @property
    def problems(self) -> int:
        """How many events failed a check."""
        return sum(1 for event in self.events if event.integrity.state == BAD)


def get_order_audit(events: EventStore, hasher: EventHasher, query: GetOrderAudit) -> OrderAudit:
    """The handler of :class:`GetOrderAudit` (bound to the store and its hasher)."""
    stored = events.read_stream(f"{Order.AGGREGATE_TYPE}-{query.order_id}")
    chain = _ChainCheck(events, hasher) if query.check else None
    audit_events = _replay(query.order_id, stored, chain)
    number = ""
    currency = ""
    if stored and stored[0].type_name == e.OrderPlaced.type_name:
        number = str(stored[0].payload.get("order_number", ""))
        currency = str(stored[0].payload.get("currency", ""))
    return OrderAudit(
        order_id=query.order_id,
        order_number=number,
        currency=currency,
        events=tuple(audit_events),
        cards=tuple(group_cards(audit_events, run_min=query.run_min)),
        checked=chain is not None,
        server_roles=(
            events.author_roles([event.position for event in stored])
            if isinstance(events, ServerAuthorship)
            else {}
        ),
    )


class _ChainCheck:
    """Each event's own hash, and its link to the event stored before it in the log."""

    def __init__(self, events: EventStore, hasher: EventHasher) -> None:
        self._events = events
        self._hasher = hasher
        self._previous: StoredEvent | None = None

    def reasons(self, event: StoredEvent) -> list[str]:
        found: list[str] = []
        try:
            holds = self._hasher(event) == event.hash
        except (TypeError, ValueError) as exc:
            holds = False
            found.append(f"chain: it cannot be hashed ({exc})")
        if not holds and not found:
            found.append(
                "chain: its hash does not match its contents — it was altered after it was recorded"
            )
        expected, problem = self._prev_hash(event.position)
        if problem is not None:
            found.append(problem)
        elif expected is not None and event.prev_hash != expected:
            found.append(
                f"chain: it does not link to event #{event.position - 1:,} before it in the "
                "log (the log was edited around it)"
            )
        self._previous = event
        return found

    def _prev_hash(self, position: int) -> tuple[str | None, str | None]:
        if position == 1:
            return GENESIS_HASH, None
        previous = self._previous
        if previous is not None and previous.position == position - 1:
            return previous.hash, None
        try:
            found = self._events.read_all(after_position=position - 2, limit=1)
        except (StoreError, KeyError, TypeError, ValueError) as exc:
            return None, f"chain: event #{position - 1:,} before it cannot be read ({exc})"
        if not found or found[0].position != position - 1:
            return None, f"chain: event #{position - 1:,} before it in the log is missing"
        return found[0].hash, None


_NOT_CHECKED = Integrity(state=UNCHECKED)
"""The verdict of every event when no check was asked for (one shared object)."""


def _verdict(
    reasons: list[str], checking: bool, meaning_checked: bool, broken: str | None
) -> Integrity:
    if not checking:
        if not reasons:
            return _NOT_CHECKED
        return Integrity(state=BAD, reasons=tuple(reasons))
    if reasons:
        state = BAD
    elif meaning_checked:
        state = OK
    else:
        state = UNCHECKED
        reasons = [f"rules not checked: {broken}"] if broken is not None else []
    return Integrity(
        state=state,
        reasons=tuple(reasons),
        chain_checked=True,
        meaning_checked=meaning_checked,
    )


def _replay(
    order_id: str, stored: Sequence[StoredEvent], chain: _ChainCheck | None
) -> list[AuditEvent]:
    """Each event told against the lines so far; with ``chain`` (a check) also replayed
    through the aggregate's rules and its hash and link recomputed."""
    order = Order(order_id)
    book = LineBook()
    if chain is None:
        return _tell_unchecked(stored, book)
    broken: str | None = None
    result: list[AuditEvent] = []
    for event in stored:
        reasons: list[str] = []
        meaning_checked = broken is None
        change: BusinessChange
        try:
            domain = from_payload(event.type_name, event.schema_version, event.payload)
        except (DomainError, KeyError, TypeError, ValueError) as exc:
            reasons.append(f"unreadable: {exc}")
            change = BusinessChange(text=f"{event.type_name} (cannot be read)")
            if chain is not None:
                broken = broken or f"event v{event.version} before it cannot be read"
            meaning_checked = False
        else:
            if broken is None:
                refusal = order.refusal(domain)
                if refusal is not None:
                    reasons.append(f"illegal: {refusal}")
                try:
                    order.apply(domain)
                except (DomainError, KeyError, TypeError, ValueError, ArithmeticError) as exc:
                    reasons.append(f"cannot be applied: {exc}")
                    broken = f"event v{event.version} before it cannot be applied"
            change = book.tell(domain)
        if chain is not None:
            reasons += chain.reasons(event)
        integrity = _verdict(reasons, chain is not None, meaning_checked, broken)
        result.append(AuditEvent(stored=event, change=change, integrity=integrity))
    return result


def _tell_unchecked(stored: Sequence[StoredEvent], book: LineBook) -> list[AuditEvent]:
    """:func:`_replay` without a check: only told in business language (the first paint of
    a long history waits for this loop, so it does nothing else; an unreadable event is
    still drawn red)."""
    result: list[AuditEvent] = []
    append = result.append
    tell = book.tell
    for event in stored:
        try:
            domain = from_payload(event.type_name, event.schema_version, event.payload)
        except (DomainError, KeyError, TypeError, ValueError) as exc:
            change = BusinessChange(text=f"{event.type_name} (cannot be read)")
            integrity = _verdict([f"unreadable: {exc}"], False, False, None)
        else:
            change = tell(domain)
            integrity = _NOT_CHECKED
        append(AuditEvent(stored=event, change=change, integrity=integrity))
    return result


def group_cards(events: Sequence[AuditEvent], *, run_min: int = RUN_MIN) -> list[AuditCard]:
    """One card per command (consecutive events with one command id), then runs of at least
    ``run_min`` single-type commands of the same type folded into one run card. A command
    with a bad event never folds: a problem stays in sight."""
    commands: list[list[AuditEvent]] = []
    last_command = ""
    for event in events:
        command = event.stored.metadata.causation_id
        if commands and command and command == last_command:
            commands[-1].append(event)
        else:
            commands.append([event])
        last_command = command
    cards: list[AuditCard] = []
    pending: list[list[AuditEvent]] = []

    def flush() -> None:
        if len(pending) >= run_min:
            cards.append(_run_card(pending))
        else:
            cards.extend(_command_card(group) for group in pending)
        pending.clear()

    pending_kind: str | None = None
    for group in commands:
        kind = _foldable(group)
        if kind is not None and pending and pending_kind == kind:
            pending.append(group)
            continue
        flush()
        if kind is not None:
            pending.append(group)
            pending_kind = kind
        else:
            cards.append(_command_card(group))
    flush()
    return cards


def _foldable(group: list[AuditEvent]) -> str | None:
    """The event type a command may fold under, or None."""
    first = group[0]
    kind = first.stored.type_name
    if kind not in RUN_NOUNS:
        return None
    if len(group) == 1:  # the bulk of a long history: one-event commands
        return None if first.integrity.state == BAD else kind
    if any(ev.stored.type_name != kind or ev.integrity.state == BAD for ev in group):
        return None
    return kind


def _command_card(group: list[AuditEvent]) -> AuditCard:
    first = group[0]
    return AuditCard(
        kind="command",
        title=COMMAND_TITLES.get(first.type_name, first.type_name),
        user=first.user,
        host=first.host,
        events=tuple(group),
    )


def _run_card(groups: list[list[AuditEvent]]) -> AuditCard:
    flat = tuple(ev for group in groups for ev in group)
    users = {ev.stored.metadata.user for ev in flat}
    hosts = {ev.stored.metadata.host for ev in flat}
    return AuditCard(
        kind="run",
        title=f"{len(groups):,} {RUN_NOUNS[flat[0].type_name]}",
        user=flat[0].user if len(users) == 1 else f"{len(users)} users",
        host=flat[0].host if len(hosts) == 1 else f"{len(hosts)} hosts",
        events=flat,
        commands=len(groups),
    )


__all__ = [
    "BAD",
    "OK",
    "RUN_MIN",
    "UNCHECKED",
    "AuditCard",
    "AuditEvent",
    "EventHasher",
    "GetOrderAudit",
    "Integrity",
    "OrderAudit",
    "get_order_audit",
    "group_cards",
]
