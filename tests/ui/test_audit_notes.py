"""Auditors' notes in the GUI (issue 11): notes show beside their event (and the order's own
notes above the timeline) in the audit view and the History tab, with who and when; a note is
added from the audit view in a small dialog (text required), and a correction is a new note
naming the old one, which stays as it was. Real SQLite files, offscreen Qt."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.ui.audit.note_dialog import EMPTY_NOTE, AuditNoteDialog
from desktop_app.ui.audit.view import AuditView
from desktop_app.ui.history import HistoryView
from desktop_app.ui.history.timeline_model import NOTES_ROLE
from desktop_app.ui.tasks import TaskRunner

from .audit_data import AuditOrder, open_order


@pytest.fixture
def order(tmp_path: Path) -> Iterator[AuditOrder]:
    yield from open_order(tmp_path)


def _notes(order: AuditOrder) -> list[q.AuditNoteEntry]:
    return list(order.app.queries.ask(q.GetOrderNotes(order_id=order.order_id)))


def _view(qtbot: Any, tasks: TaskRunner, order: AuditOrder, *, commands: bool = True) -> AuditView:
    view = AuditView(tasks)
    qtbot.addWidget(view)
    view.resize(1200, 760)
    view.set_queries(order.app.queries)
    if commands:
        view.set_commands(order.app.commands)
    view.show()
    with qtbot.waitSignals([view.loaded, view.checked], timeout=10000, order="strict"):
        view.show_order(order.order_id)
    return view


def test_notes_show_beside_their_event_and_the_orders_own_notes_on_top(
    qtbot: Any, tasks: TaskRunner, order: AuditOrder
) -> None:
    send = order.app.commands.dispatch
    send(c.AnnotateOrder(order_id=order.order_id, text="Whole order looks odd", note_id="n-order"))
    send(
        c.AnnotateOrder(
            order_id=order.order_id, text="Placed by phone", target_version=1, note_id="n-v1"
        )
    )
    send(
        c.AnnotateOrder(
            order_id=order.order_id, text="Why 9 → 10?", target_version=9, note_id="n-v9"
        )
    )
    view = _view(qtbot, tasks, order)
    canvas = view.canvas
    user = _notes(order)[0].metadata.user

    # The order's own note: a row of its own above the first day.
    top = canvas.rows[0]
    assert top.kind == "notes" and [n.note_id for n in top.notes] == ["n-order"]
    # The note on v1 sits on the "Place order" card, the one on v9 on the folded run.
    cards = [row for row in canvas.rows if row.kind == "card"]
    assert [n.note_id for n in cards[0].notes] == ["n-v1"]
    assert [n.note_id for n in cards[1].notes] == ["n-v9"]
    assert not cards[2].notes
    tip = canvas.tooltip_at(canvas.rows.index(cards[0]))
    assert "Placed by phone" in tip and user in tip

    # Selected, the event's details carry its notes in full, with who and when.
    assert view.jump_to_version(9)
    row = canvas.rows[canvas.current or 0]
    assert row.kind == "event" and [n.note_id for n in row.notes] == ["n-v9"]
    text = view.details.toPlainText()
    assert "Auditors' notes on this event (1)" in text and "Why 9 → 10?" in text
    assert user in text
    # The order's notes open in the details pane too.
    canvas.select_row(0)
    assert "Whole order looks odd" in view.details.toPlainText()


def test_the_history_tab_shows_notes_beside_their_event(
    qtbot: Any, tasks: TaskRunner, order: AuditOrder
) -> None:
    send = order.app.commands.dispatch
    send(c.AnnotateOrder(order_id=order.order_id, text="Checked with the clerk", note_id="o"))
    send(c.AnnotateOrder(order_id=order.order_id, text="Typo?", target_version=5, note_id="e"))
    view = HistoryView(order.app.queries, tasks)
    qtbot.addWidget(view)
    view.resize(1100, 700)
    view.show()
    with qtbot.waitSignal(view.history_loaded, timeout=10000):
        view.show_order(order.order_id)
    assert view.order_notes.isVisible()
    assert "Checked with the clerk" in view.order_notes.text()
    row = view.model.row_of_version(5)
    notes = view.model.index(row, 0).data(NOTES_ROLE)
    assert [n.note_id for n in notes] == ["e"]
    assert "Typo?" in view.model.index(row, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert view.select_version(5)
    found = view.details.findItems("Typo?", Qt.MatchFlag.MatchRecursive, 1)
    assert len(found) == 1 and found[0].parent().text(0).startswith("Auditors' notes (1)")


def test_a_note_is_added_from_the_audit_view_and_an_empty_one_is_refused(
    qtbot: Any, tasks: TaskRunner, order: AuditOrder
) -> None:
    view = _view(qtbot, tasks, order)
    assert view.note_button.isEnabled()
    assert view.jump_to_version(9)
    dialog = view.add_note()
    assert isinstance(dialog, AuditNoteDialog)
    qtbot.waitUntil(dialog.isVisible)
    assert dialog.target_box.currentData() == 9  # the selected event
    # Empty (or blank) text: a clear message, nothing recorded.
    dialog.text_edit.setPlainText("   \n ")
    dialog.save_button.click()
    assert dialog.error_text("text") == EMPTY_NOTE
    assert dialog.isVisible() and _notes(order) == []

    dialog.text_edit.setPlainText("Raised after confirmation? Ask maria.")
    with qtbot.waitSignals([dialog.accepted, view.loaded], timeout=10000):
        dialog.save_button.click()
    (note,) = _notes(order)
    assert (note.target_version, note.text, note.corrects) == (
        9,
        "Raised after confirmation? Ask maria.",
        None,
    )
    qtbot.waitUntil(lambda: any(row.notes for row in view.canvas.rows))
    assert [n.note_id for n in view.notes] == [note.note_id]

    # A correction is a new note naming the old one; the old one stays word for word.
    dialog = view.add_note()
    assert isinstance(dialog, AuditNoteDialog)
    qtbot.waitUntil(dialog.isVisible)
    index = dialog.corrects_box.findData(note.note_id)
    assert index > 0
    dialog.corrects_box.setCurrentIndex(index)
    dialog.text_edit.setPlainText("Asked: agreed by phone on 13 Jan.")
    with qtbot.waitSignals([dialog.accepted, view.loaded], timeout=10000):
        dialog.save_button.click()
    first, second = _notes(order)
    assert first.note_id == note.note_id and first.text == note.text
    assert first.corrected_by == (second.note_id,) and second.corrects == note.note_id


def test_the_order_itself_can_be_annotated_and_read_only_cannot(
    qtbot: Any, tasks: TaskRunner, order: AuditOrder
) -> None:
    view = _view(qtbot, tasks, order)
    dialog = view.add_note()  # nothing selected: the whole order is the only choice
    assert isinstance(dialog, AuditNoteDialog)
    qtbot.waitUntil(dialog.isVisible)
    assert dialog.target_box.count() == 1 and dialog.target_box.currentData() == 0
    dialog.text_edit.setPlainText("Audit of January done.")
    qtbot.keyClick(dialog.text_edit, Qt.Key.Key_Tab)  # Tab leaves the text field
    with qtbot.waitSignal(dialog.accepted, timeout=10000):
        dialog.save_button.click()
    assert [n.target_version for n in _notes(order)] == [0]

    view.set_commands(order.app.commands, read_only=True)
    assert not view.note_button.isEnabled()
    assert view.add_note() is None
