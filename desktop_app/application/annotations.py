"""Auditors' notes (issue 11): annotate an order or one of its events, list an order's notes.

The notes of an order are the events of its own stream (``auditnotes-<order id>``, the
``AuditNotes`` aggregate): the hash chain covers them, ``verify`` replays them, and the
order's stream, state, version and read-model row are untouched.
"""

from __future__ import annotations

from dataclasses import replace

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.application.handlers import Deps, _save
from desktop_app.application.repository import Repository, decode
from desktop_app.domain.annotations import AUDIT_NOTES_TYPE, AuditNotes
from desktop_app.domain.errors import InvalidValue, RuleViolation
from desktop_app.domain.events import AuditNoteAdded
from desktop_app.domain.order import Order


def notes_stream(order_id: str) -> str:
    """The stream holding an order's notes."""
    return f"{AUDIT_NOTES_TYPE}-{order_id}"


def _version(order: Order) -> int:
    return order.version


def annotate_order(
    deps: Deps, notes: Repository[AuditNotes], command: c.AnnotateOrder
) -> c.CommandResult:
    """Record a note on an order or on one of its events (the order must exist, the event
    too); a correction names an earlier note of the same order."""
    order_version = deps.orders.view(command.order_id, _version)  # NotFoundError if none
    target = command.target_version
    if command.target_position is not None:
        if target is not None:
            raise InvalidValue(
                "Name the event by its version or by its position, not both.", field="position"
            )
        target = _version_at(deps, command.order_id, command.target_position)
    if deps.events.stream_version(notes_stream(command.order_id)) > 0:
        aggregate = notes.checkout(command.order_id)
    else:
        aggregate = AuditNotes(command.order_id)
    loaded = aggregate.version
    aggregate.annotate(
        note_id=command.note_id,
        text=command.text,
        order_version=order_version,
        target_version=target,
        corrects=command.corrects,
    )
    return _save(deps, notes, aggregate, loaded, command)


def _version_at(deps: Deps, order_id: str, position: int) -> int:
    """The version of the order's event at log ``position``; refused when the event there is
    not one of this order's."""
    found = deps.events.read_all(after_position=position - 1, limit=1) if position >= 1 else []
    if not found or found[0].position != position:
        raise RuleViolation(f"There is no event at position {position:,}.", field="position")
    if found[0].stream_id != f"order-{order_id}":
        raise RuleViolation(
            f"The event at position {position:,} is not one of this order's.", field="position"
        )
    return found[0].version


def get_order_notes(deps: Deps, query: q.GetOrderNotes) -> list[q.AuditNoteEntry]:
    """Every note on the order, oldest first, each with the notes that correct it."""
    stored = deps.events.read_stream(notes_stream(query.order_id))
    notes: list[tuple[AuditNoteAdded, q.AuditNoteEntry]] = []
    corrections: dict[str, list[str]] = {}
    for event in stored:
        note = decode(event)
        if not isinstance(note, AuditNoteAdded):
            continue  # verify names anything else in a notes stream
        if note.corrects:
            corrections.setdefault(note.corrects, []).append(note.note_id)
        notes.append(
            (
                note,
                q.AuditNoteEntry(
                    note_id=note.note_id,
                    order_id=note.order_id,
                    text=note.text,
                    target_version=note.target_version,
                    order_version=note.order_version,
                    corrects=note.corrects or None,
                    corrected_by=(),
                    position=event.position,
                    version=event.version,
                    recorded_at=event.recorded_at,
                    metadata=event.metadata,
                ),
            )
        )
    return [
        replace(entry, corrected_by=tuple(corrections.get(note.note_id, ())))
        for note, entry in notes
    ]


__all__ = ["annotate_order", "get_order_notes", "notes_stream"]
