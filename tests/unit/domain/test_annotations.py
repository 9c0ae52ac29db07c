"""The AuditNotes aggregate (issue 11): rules for a note, corrections, recorded-history checks
and snapshots."""

from __future__ import annotations

import pytest

from desktop_app.domain.annotations import MAX_AUDIT_NOTE_LENGTH, AuditNotes
from desktop_app.domain.errors import DomainError, InvalidValue, RuleViolation
from desktop_app.domain.events import AuditNoteAdded


def _notes() -> AuditNotes:
    return AuditNotes("o1")


def test_a_note_on_an_event_and_on_the_order() -> None:
    notes = _notes()
    notes.annotate(note_id="n1", text="  Price looks odd\n\n", order_version=5, target_version=3)
    notes.annotate(note_id="n2", text="Whole order checked", order_version=5)
    first, second = notes.take_pending()
    assert first == AuditNoteAdded(
        order_id="o1",
        note_id="n1",
        text="  Price looks odd",
        target_version=3,
        order_version=5,
        corrects="",
    )
    assert (second.target_version, second.corrects) == (0, "")  # type: ignore[attr-defined]
    assert notes.version == 2


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"text": "   \n "}, InvalidValue, "Enter a note"),
        ({"text": "x" * (MAX_AUDIT_NOTE_LENGTH + 1)}, InvalidValue, "at most 4,000"),
        ({"text": "bell \x07"}, InvalidValue, "control character"),
        ({"order_version": 0}, RuleViolation, "no order o1"),
        ({"target_version": 6}, RuleViolation, "no event at version 6"),
        ({"target_version": -1}, RuleViolation, "no event at version -1"),
        ({"corrects": "nope"}, RuleViolation, "no note 'nope'"),
        ({"note_id": ""}, InvalidValue, "note id"),
    ],
)
def test_refused_notes(kwargs: dict[str, object], error: type[DomainError], fragment: str) -> None:
    notes = _notes()
    args: dict[str, object] = {"note_id": "n1", "text": "ok", "order_version": 5, **kwargs}
    with pytest.raises(error, match=fragment):
        notes.annotate(**args)  # type: ignore[arg-type]
    assert notes.pending_events == [] and notes.version == 0


def test_a_correction_names_an_earlier_note_and_ids_are_unique() -> None:
    notes = _notes()
    notes.annotate(note_id="n1", text="Wrong customer", order_version=2, target_version=1)
    notes.annotate(note_id="n2", text="Right customer, sorry", order_version=2, corrects="n1")
    notes.annotate(note_id="n3", text="Confirmed by phone", order_version=3, corrects="n1")
    assert notes.corrected_by("n1") == ("n2", "n3")
    assert notes.notes["n1"].text == "Wrong customer"  # never edited in place
    with pytest.raises(RuleViolation, match="already has a note"):
        notes.annotate(note_id="n1", text="again", order_version=3)


def test_verify_refuses_a_recorded_note_the_command_would_refuse() -> None:
    notes = _notes()
    good = AuditNoteAdded(
        order_id="o1", note_id="n1", text="fine", target_version=1, order_version=1
    )
    assert notes.refusal(good) is None  # a note may start its stream
    notes.apply(good)
    assert notes.refusal(good) == "This order already has a note with that id."
    future = AuditNoteAdded(
        order_id="o1", note_id="n2", text="x", target_version=9, order_version=4
    )
    assert "no event at version 9" in str(notes.refusal(future))
    other = AuditNoteAdded(order_id="o2", note_id="n3", text="x", target_version=0, order_version=1)
    assert "another order" in str(notes.refusal(other))


def test_snapshot_round_trip() -> None:
    notes = _notes()
    notes.annotate(note_id="n1", text="a\nb", order_version=2, target_version=2)
    notes.annotate(note_id="n2", text="c", order_version=2, corrects="n1")
    again = AuditNotes.from_snapshot("o1", notes.version, notes.to_snapshot())
    assert again.notes == notes.notes and again.version == 2
