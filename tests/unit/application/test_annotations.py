"""Auditors' notes through the real buses over the in-memory stores (issue 11): recorded as
events of the order's notes stream, listed with corrections, refused with a reason, and never
a change of the order; ``verify`` accepts honest notes and names a forged one."""

from __future__ import annotations

import pytest

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.application.annotations import notes_stream
from desktop_app.application.audit import verify_history
from desktop_app.application.ports import EventMetadata, NewEvent
from desktop_app.application.repository import NotFoundError
from desktop_app.domain.errors import InvalidValue, RuleViolation
from desktop_app.identity import os_user

from .helpers import MemoryApp, World


def test_notes_are_events_of_their_own_stream_and_change_no_order(
    app: MemoryApp, world: World
) -> None:
    order = world.place(2, 3)
    app.commands.dispatch(c.ConfirmOrder(order_id=order))
    version = world.version(order)
    state = world.state(order)
    first = c.AnnotateOrder(order_id=order, text="Quantity 3 was phoned in", target_version=3)
    result = app.commands.dispatch(first)
    assert result.stream_id == notes_stream(order) and result.version == 1
    app.commands.dispatch(c.AnnotateOrder(order_id=order, text="All fine"))
    fix = c.AnnotateOrder(order_id=order, text="It was 4, see mail", corrects=first.note_id)
    app.commands.dispatch(fix)
    # The order did not move: same version, same state, same actions.
    assert world.version(order) == version
    assert world.state(order) == state
    notes = app.queries.ask(q.GetOrderNotes(order_id=order))
    assert [(n.text, n.target_version) for n in notes] == [
        ("Quantity 3 was phoned in", 3),
        ("All fine", 0),
        ("It was 4, see mail", 0),
    ]
    assert notes[0].corrected_by == (fix.note_id,)
    assert notes[2].corrects == first.note_id and notes[1].corrects is None
    assert notes[0].metadata.user == os_user()
    assert notes[0].order_version == version
    assert [n.version for n in notes] == [1, 2, 3]
    # The notes are in the hash chain and the semantic check accepts them.
    result_v = verify_history(app.events, app.snapshots)
    assert result_v.ok and result_v.finding_count == 0, result_v.findings


def test_refused_notes_write_nothing(app: MemoryApp, world: World) -> None:
    order = world.place(1)
    head = world.head()
    with pytest.raises(NotFoundError):
        app.commands.dispatch(c.AnnotateOrder(order_id="no-such-order", text="x"))
    with pytest.raises(InvalidValue, match="Enter a note"):
        app.commands.dispatch(c.AnnotateOrder(order_id=order, text="  "))
    with pytest.raises(RuleViolation, match="no event at version 9"):
        app.commands.dispatch(c.AnnotateOrder(order_id=order, text="x", target_version=9))
    with pytest.raises(RuleViolation, match="no note"):
        app.commands.dispatch(c.AnnotateOrder(order_id=order, text="x", corrects="zzz"))
    assert world.head() == head
    assert app.queries.ask(q.GetOrderNotes(order_id=order)) == []


def test_a_resent_note_is_written_once(app: MemoryApp, world: World) -> None:
    order = world.place(1)
    note = c.AnnotateOrder(order_id=order, text="Checked")
    app.commands.dispatch(note)
    again = app.commands.dispatch(note)
    assert again.duplicate
    assert len(app.queries.ask(q.GetOrderNotes(order_id=order))) == 1


def _forged_note(order: str, note_id: str, target: int, seen: int) -> NewEvent:
    return NewEvent(
        event_id=f"forged-{note_id}",
        type_name="AuditNoteAdded",
        schema_version=1,
        payload={
            "order_id": order,
            "note_id": note_id,
            "text": "Approved",
            "target_version": target,
            "order_version": seen,
            "corrects": "",
        },
        metadata=EventMetadata(
            correlation_id="x", causation_id="x", user="eve", host="h", app_version="0", source="x"
        ),
    )


def test_verify_names_notes_on_orders_or_versions_that_never_were(
    app: MemoryApp, world: World
) -> None:
    order = world.place(1)
    version = world.version(order)
    # Each note is legal in its own stream, but the order never had that version / existed.
    app.events.append(notes_stream(order), 0, [_forged_note(order, "n1", 1, version + 3)])
    app.events.append(notes_stream("ghost"), 0, [_forged_note("ghost", "n2", 0, 4)])
    result = verify_history(app.events, app.snapshots)
    assert not result.ok
    reasons = {f.aggregate_id: f.reason for f in result.findings}
    assert reasons == {
        order: f"a note written at order version {version + 3}, but the order has only {version}",
        "ghost": "a note on an order that does not exist",
    }
    assert all(f.event_type == "AuditNoteAdded" and f.position for f in result.findings)


def test_verify_names_a_forged_note(app: MemoryApp, world: World) -> None:
    order = world.place(1)
    version = world.version(order)
    # Written straight into the store, as someone with the file could: a note on an event
    # the order did not have when the note claims to have been written.
    forged = NewEvent(
        event_id="forged-1",
        type_name="AuditNoteAdded",
        schema_version=1,
        payload={
            "order_id": order,
            "note_id": "n-forged",
            "text": "Approved",
            "target_version": version + 5,
            "order_version": version,
            "corrects": "",
        },
        metadata=EventMetadata(
            correlation_id="x", causation_id="x", user="eve", host="h", app_version="0", source="x"
        ),
    )
    app.events.append(notes_stream(order), 0, [forged])
    result = verify_history(app.events, app.snapshots)
    assert not result.ok
    (finding,) = result.findings
    assert finding.stream_id == notes_stream(order)
    assert f"no event at version {version + 5}" in finding.reason


def test_a_note_names_an_event_by_its_log_position(app: MemoryApp, world: World) -> None:
    order = world.place(1)
    other = world.place(1)
    (placed,) = app.events.read_stream(world.stream(order), to_version=1)
    (line,) = app.events.read_stream(world.stream(order), from_version=2, to_version=2)
    app.commands.dispatch(
        c.AnnotateOrder(order_id=order, text="This line", target_position=line.position)
    )
    (note,) = app.queries.ask(q.GetOrderNotes(order_id=order))
    assert note.target_version == 2
    (foreign,) = app.events.read_stream(world.stream(other), to_version=1)
    with pytest.raises(RuleViolation, match="not one of this order's"):
        app.commands.dispatch(
            c.AnnotateOrder(order_id=order, text="x", target_position=foreign.position)
        )
    with pytest.raises(RuleViolation, match="no event at position"):
        app.commands.dispatch(c.AnnotateOrder(order_id=order, text="x", target_position=10**9))
    with pytest.raises(InvalidValue, match="not both"):
        app.commands.dispatch(
            c.AnnotateOrder(
                order_id=order, text="x", target_position=placed.position, target_version=1
            )
        )
    assert len(app.queries.ask(q.GetOrderNotes(order_id=order))) == 1
