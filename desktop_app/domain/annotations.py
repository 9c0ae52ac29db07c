"""Auditors' notes on an order and its events (issue 11): the ``AuditNotes`` aggregate.

One notes stream per order (``auditnotes-<order id>``): notes are events, so the hash chain
covers them, yet they live outside the order's stream, so the order's state, version and list
row never change. A note is never edited or removed; a correction is a new note that names the
note it corrects. The order's current version is passed in (the domain does no I/O): a note
may name the order as a whole (version 0) or any of its events up to that version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from desktop_app.domain.aggregate import Aggregate, snapshot_int, snapshot_list, snapshot_str
from desktop_app.domain.errors import InvalidValue, RuleViolation
from desktop_app.domain.events import AuditNoteAdded, DomainEvent
from desktop_app.domain.values import JSON, validate_multiline_text, validate_text

MAX_AUDIT_NOTE_LENGTH = 4000
MAX_AUDIT_NOTE_LINES = 60
MAX_ID_LENGTH = 100

AUDIT_NOTES_TYPE = "auditnotes"
"""The aggregate type, and so the stream prefix: ``auditnotes-<order id>``."""


@dataclass(frozen=True, kw_only=True, slots=True)
class AuditNote:
    """One note as recorded."""

    note_id: str
    text: str
    target_version: int
    """0: the order as a whole; n: the order's event at version n."""
    order_version: int
    corrects: str
    """The note this one corrects, or ""."""


class AuditNotes(Aggregate):
    """The auditors' notes on one order (its id is the order's id)."""

    AGGREGATE_TYPE: ClassVar[str] = AUDIT_NOTES_TYPE
    SNAPSHOT_SCHEMA_VERSION: ClassVar[int] = 1
    CREATION_EVENTS: ClassVar[tuple[type[DomainEvent], ...]] = ()

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.notes: dict[str, AuditNote] = {}

    # --- commands ---------------------------------------------------------------------------

    def annotate(
        self,
        *,
        note_id: str,
        text: str,
        order_version: int,
        target_version: int | None = None,
        corrects: str | None = None,
    ) -> None:
        """Attach a note to the order (``target_version`` None or 0) or to its event at
        ``target_version``; ``order_version`` is the order's current version (0: no order);
        ``corrects`` names an earlier note of this order that the new one corrects."""
        note = self._checked(
            note_id,
            text,
            0 if target_version is None else target_version,
            order_version,
            corrects or "",
        )
        self._record(
            AuditNoteAdded(
                order_id=self.id,
                note_id=note.note_id,
                text=note.text,
                target_version=note.target_version,
                order_version=note.order_version,
                corrects=note.corrects,
            )
        )

    def _checked(
        self,
        note_id: object,
        text: object,
        target_version: object,
        order_version: object,
        corrects: object,
    ) -> AuditNote:
        """The guard of :meth:`annotate` (also applied to a recorded note by ``verify``)."""
        if isinstance(order_version, bool) or not isinstance(order_version, int):
            raise InvalidValue("The order's version must be a whole number.", "order_version")
        if order_version < 1:
            raise RuleViolation(f"There is no order {self.id} to annotate.", field="order_id")
        if isinstance(target_version, bool) or not isinstance(target_version, int):
            raise InvalidValue("Name the event by its version, a whole number.", "version")
        if target_version < 0 or target_version > order_version:
            raise RuleViolation(
                f"The order has no event at version {target_version} "
                f"(its versions are 1 to {order_version}).",
                field="version",
            )
        checked_id = validate_text(
            note_id, field="note_id", max_length=MAX_ID_LENGTH, label="note id"
        )
        if checked_id in self.notes:
            raise RuleViolation("This order already has a note with that id.", field="note_id")
        checked_text = validate_multiline_text(
            text,
            field="text",
            max_length=MAX_AUDIT_NOTE_LENGTH,
            max_lines=MAX_AUDIT_NOTE_LINES,
            label="note",
        )
        if not isinstance(corrects, str):
            raise InvalidValue("Name the corrected note by its id.", field="corrects")
        if corrects and corrects not in self.notes:
            raise RuleViolation(
                f"There is no note {corrects!r} on this order to correct.", field="corrects"
            )
        return AuditNote(
            note_id=checked_id,
            text=checked_text,
            target_version=target_version,
            order_version=order_version,
            corrects=corrects,
        )

    # --- queries ------------------------------------------------------------------------------

    def corrected_by(self, note_id: str) -> tuple[str, ...]:
        """The notes that correct ``note_id``, oldest first."""
        return tuple(n.note_id for n in self.notes.values() if n.corrects == note_id)

    # --- recorded history (verify) -----------------------------------------------------------

    def refusal(self, event: DomainEvent) -> str | None:
        """Why a recorded note could not have been written (no creation event: any note may
        be a stream's first)."""
        try:
            self._check_recorded(event)
        except (InvalidValue, RuleViolation) as exc:
            return exc.message
        return None

    def _check_recorded(self, event: DomainEvent) -> None:
        if not isinstance(event, AuditNoteAdded):
            raise RuleViolation(f"An order's notes cannot record {type(event).__name__}.")
        if event.order_id != self.id:
            raise RuleViolation("The note names another order than the stream it is in.")
        self._checked(
            event.note_id, event.text, event.target_version, event.order_version, event.corrects
        )

    # --- apply ---------------------------------------------------------------------------------

    def _when(self, event: DomainEvent) -> None:
        if isinstance(event, AuditNoteAdded):
            self.notes[event.note_id] = AuditNote(
                note_id=event.note_id,
                text=event.text,
                target_version=event.target_version,
                order_version=event.order_version,
                corrects=event.corrects,
            )

    # --- snapshots -----------------------------------------------------------------------------

    def to_snapshot(self) -> dict[str, JSON]:
        """Every note in the order written."""
        return {
            "notes": [
                {
                    "note_id": n.note_id,
                    "text": n.text,
                    "target_version": n.target_version,
                    "order_version": n.order_version,
                    "corrects": n.corrects,
                }
                for n in self.notes.values()
            ]
        }

    def _restore(self, state: Mapping[str, object]) -> None:
        self.notes = {}
        for item in snapshot_list(state, "notes"):
            note = AuditNote(
                note_id=snapshot_str(item, "note_id"),
                text=snapshot_str(item, "text"),
                target_version=snapshot_int(item, "target_version"),
                order_version=snapshot_int(item, "order_version"),
                corrects=snapshot_str(item, "corrects"),
            )
            self.notes[note.note_id] = note


__all__ = ["AUDIT_NOTES_TYPE", "MAX_AUDIT_NOTE_LENGTH", "AuditNote", "AuditNotes"]
