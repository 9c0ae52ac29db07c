"""An auditor's note from the GUI (issue 11): on one event of the order, or on the order.

The note is a new recorded note (``AnnotateOrder``): it is never edited in place. To correct
an earlier note the auditor picks it under "Corrects"; the domain records the new note with a
link to the old one, and both stay. The text is required: an empty note is refused here with a
clear message, before anything is sent (the domain refuses it too).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QWidget

from desktop_app.application.audit_timeline import AuditEvent
from desktop_app.application.buses import CommandSender, QuerySender
from desktop_app.application.commands import AnnotateOrder, new_id
from desktop_app.application.queries import AuditNoteEntry
from desktop_app.ui.audit.marks import note_author
from desktop_app.ui.formatting import format_datetime
from desktop_app.ui.orders.form_base import CommandDialog, with_error, wrapped_label
from desktop_app.ui.orders.text_edit import MultiLineEdit
from desktop_app.ui.tasks import TaskRunner

EMPTY_NOTE = "Write the note first: an empty note cannot be recorded."


class AuditNoteDialog(CommandDialog):
    """Add a note to an event (``events``: the ones on offer, the first chosen) or the order."""

    subject = "order"

    def __init__(
        self,
        commands: CommandSender,
        queries: QuerySender,
        tasks: TaskRunner,
        *,
        order_id: str,
        order_number: str,
        events: Sequence[AuditEvent] = (),
        notes: Sequence[AuditNoteEntry] = (),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(
            commands,
            queries,
            tasks,
            parent,
            title=f"Auditor's note on {order_number}",
            save_text="&Record note",
        )
        self.setObjectName("auditNoteDialog")
        self.order_id = order_id
        self.note_id = new_id()  # with the command id: a re-sent Save records one note

        self.target_box = QComboBox(self)
        self.target_box.setObjectName("noteTarget")
        for event in events:
            text = f"Event v{event.version:,} · {event.summary}"
            self.target_box.addItem(_short(text, 90), event.version)
        self.target_box.addItem(f"The whole order {order_number}", 0)
        self.target_box.setCurrentIndex(0)
        self.target_error = self.add_error_label(self.target_box, "version", "position")

        self.corrects_box = QComboBox(self)
        self.corrects_box.setObjectName("noteCorrects")
        self.corrects_box.addItem("Nothing — a new note", "")
        for note in reversed(notes):  # newest first: the one to correct is usually recent
            label = (
                f"{format_datetime(note.recorded_at)} · {note_author(note)}: "
                f"{note.text.strip().splitlines()[0] if note.text.strip() else ''}"
            )
            self.corrects_box.addItem(_short(label, 90), note.note_id)
        self.corrects_box.setEnabled(bool(notes))
        for box in (self.target_box, self.corrects_box):
            # Long note and event texts must not widen the form past its labels (they were
            # clipped): the box keeps a readable width and elides; the list shows them whole.
            box.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            box.setMinimumContentsLength(40)
        self.corrects_error = self.add_error_label(self.corrects_box, "corrects")

        self.text_edit = MultiLineEdit(self, lines=6)
        self.text_edit.setObjectName("auditNoteText")
        self.text_edit.setPlaceholderText(
            "What you found, e.g. Quantity raised after confirmation was agreed by phone"
        )
        self.text_error = self.add_error_label(self.text_edit, "text", "note", "note_id")

        form = QFormLayout()
        target_label = QLabel("&On", self)
        target_label.setBuddy(self.target_box)
        corrects_label = QLabel("&Corrects", self)
        corrects_label.setBuddy(self.corrects_box)
        text_label = QLabel("&Note", self)
        text_label.setBuddy(self.text_edit)
        form.addRow(target_label, with_error(self.target_box, self.target_error))
        form.addRow(text_label, with_error(self.text_edit, self.text_error))
        form.addRow(corrects_label, with_error(self.corrects_box, self.corrects_error))
        self.body.addWidget(
            wrapped_label(
                "The note is recorded with your user name, workstation and the time. It is "
                "never changed or removed: to correct a note, record a new one that names it "
                "under Corrects. The order itself does not change.",
                self,
            )
        )
        self.body.addLayout(form)
        self.setMinimumWidth(520)
        self.setTabOrder(self.target_box, self.text_edit)
        self.setTabOrder(self.text_edit, self.corrects_box)
        self.setTabOrder(self.corrects_box, self.save_button)
        self.text_edit.setFocus()

    def build_command(self) -> AnnotateOrder | None:
        text = self.text_edit.text()
        if not text.strip():
            self.show_error("text", EMPTY_NOTE)
            return None
        target = int(self.target_box.currentData())
        corrects = str(self.corrects_box.currentData() or "")
        return AnnotateOrder(
            command_id=self.command_id,
            order_id=self.order_id,
            note_id=self.note_id,
            text=text,
            target_version=target or None,
            corrects=corrects or None,
        )


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["EMPTY_NOTE", "AuditNoteDialog"]
