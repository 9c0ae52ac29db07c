"""Auditors' notes and refused commands as the order's timelines show them (issue 11).

Shared by the audit view's canvas and details pane and the History tab: one wording and one
marker for each, so a note or a grey "refused" marker reads the same on both screens. A refused
command is not an event: it changed nothing, so its marker is grey and hollow, never a filled
event colour.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from desktop_app.application.buses import QuerySender
from desktop_app.application.ports import RecordedRejection, StoreError
from desktop_app.application.queries import AuditNoteEntry, GetOrderNotes, ListOrderRejections
from desktop_app.ui.formatting import format_datetime

NOTE_COLOUR = QColor("#a16207")
"""Notes: the amber of the order's own "Note" events, darker for text on white."""
REFUSED_COLOUR = QColor("#6b7280")
"""Refused commands: grey."""
REFUSED_FILL = QColor("#f3f4f6")
REFUSED_PAGE = 1000
REFUSED_TYPE = "(refused)"
"""The History filter's pseudo event type for refused commands (no event has this name)."""


@dataclass(frozen=True, slots=True)
class OrderMarks:
    """An order's auditors' notes and refused commands (``remark``: why either is missing)."""

    notes: tuple[AuditNoteEntry, ...] = ()
    refused: tuple[RecordedRejection, ...] = ()
    remark: str = ""


def read_marks(queries: QuerySender, order_id: str) -> OrderMarks:
    """Worker thread: the notes and refused commands of one order, through the query bus. A
    store that cannot answer (a file from before the rejection log, opened read-only) leaves
    that part empty and says so in ``remark``; the history is shown all the same."""
    remarks: list[str] = []
    notes: list[AuditNoteEntry] = []
    refused: list[RecordedRejection] = []
    try:
        if queries.handles(GetOrderNotes):
            notes = list(queries.ask(GetOrderNotes(order_id=order_id)))
    except StoreError as exc:
        remarks.append(f"notes cannot be read ({exc})")
    try:
        if queries.handles(ListOrderRejections):
            after = 0
            while True:
                page = queries.ask(
                    ListOrderRejections(order_id=order_id, after_id=after, limit=REFUSED_PAGE)
                )
                refused += page
                if len(page) < REFUSED_PAGE:
                    break
                after = page[-1].rejection_id
    except StoreError as exc:
        remarks.append(f"refused commands cannot be read ({exc})")
    return OrderMarks(tuple(notes), tuple(refused), "; ".join(remarks))


def command_label(command_type: str) -> str:
    """``ConfirmOrder`` → ``Confirm order`` (a command's class name as words)."""
    words = re.findall(r"[A-Z][a-z0-9]*|[a-z0-9]+", command_type)
    if not words:
        return command_type or "Unknown command"
    return " ".join([words[0], *(w.lower() for w in words[1:])])


def who(user: str, host: str) -> str:
    """``maria on WS-3`` (``unknown`` without a user)."""
    return (user or "unknown") + (f" on {host}" if host else "")


def note_author(note: AuditNoteEntry) -> str:
    """Who wrote a note, and where."""
    return who(note.metadata.user, note.metadata.host)


def note_line(note: AuditNoteEntry) -> str:
    """One line for a note beside its event: mark, who, when, then the text's first line."""
    first = note.text.strip().splitlines()[0] if note.text.strip() else ""
    mark = "✎"
    if note.corrected_by:
        mark = "✎ (corrected)"
    elif note.corrects:
        mark = "✎ correction:"
    return f"{mark} {note_author(note)} · {format_datetime(note.recorded_at)} · {first}"


def notes_by_target(notes: Iterable[AuditNoteEntry]) -> dict[int, list[AuditNoteEntry]]:
    """Notes grouped by the version they annotate (0: the order as a whole), oldest first."""
    found: dict[int, list[AuditNoteEntry]] = {}
    for note in notes:
        found.setdefault(note.target_version, []).append(note)
    return found


def notes_html(notes: Sequence[AuditNoteEntry], title: str = "Auditors' notes") -> str:
    """Notes in full for a details pane: who, when, what, and how corrections link up."""
    if not notes:
        return ""
    parts = [f"<h4>{html.escape(title)} ({len(notes)})</h4>"]
    for note in notes:
        target = "the order" if note.target_version == 0 else f"event v{note.target_version:,}"
        head = (
            f"<b>{html.escape(note_author(note))}</b> · "
            f"{html.escape(format_datetime(note.recorded_at, seconds=True))} · on {target}"
        )
        extra = ""
        if note.corrects:
            extra += f"<br><i>corrects note {html.escape(note.corrects[:8])}</i>"
        if note.corrected_by:
            later = ", ".join(html.escape(n[:8]) for n in note.corrected_by)
            extra += f"<br><i>corrected later by note {later}</i>"
        text = html.escape(note.text).replace("\n", "<br>")
        parts.append(
            f"<p style='background:#fef9c3; padding:4px'>{head}{extra}<br>{text}"
            f"<br><span style='color:#6b7280'>note {html.escape(note.note_id)}</span></p>"
        )
    return "".join(parts)


def rejection_title(recorded: RecordedRejection) -> str:
    """``Refused: Confirm order · by maria on WS-3``."""
    r = recorded.rejection
    return f"Refused: {command_label(r.command_type)} · by {who(r.user, r.host)}"


def rejection_tooltip(recorded: RecordedRejection) -> str:
    """Who, when, what and why of a refused command, as plain text."""
    r = recorded.rejection
    return (
        f"Refused command (nothing was written): {command_label(r.command_type)}\n"
        f"When: {format_datetime(recorded.recorded_at, seconds=True)}\n"
        f"Who: {who(r.user, r.host)} ({r.source or 'unknown source'})\n"
        f"Why: {r.message}"
    )


def rejection_html(recorded: RecordedRejection) -> str:
    """Everything recorded about a refused command, for a details pane."""
    r = recorded.rejection

    def row(label: str, value: str) -> str:
        return f"<tr><td><b>{html.escape(label)}</b></td><td>{html.escape(value)}</td></tr>"

    return "".join(
        [
            f"<h3 style='color:#4b5563'>{html.escape(rejection_title(recorded))}</h3>",
            "<p>This command was <b>refused</b>: it wrote no event and changed nothing. "
            "It is kept in the rejection log, outside the order's history.</p>",
            f"<p><b>Why:</b> {html.escape(r.message)}</p>",
            "<table cellspacing='4'>",
            row("When", format_datetime(recorded.recorded_at, seconds=True)),
            row("Who", r.user or "unknown"),
            row("Workstation", r.host or "unknown"),
            row("Source", r.source),
            row("Program", r.app_version),
            row("Command", r.command_type),
            row("Error", r.error_class),
            row("Rejection number", f"#{recorded.rejection_id:,}"),
            row("Command id", r.command_id),
            row("Correlation id", r.correlation_id),
            "</table>",
            "<p><b>What was asked</b></p>",
            f"<pre style='white-space: pre-wrap'>{html.escape(r.content)}</pre>",
        ]
    )


def paint_refused_marker(painter: QPainter, centre: QPointF, radius: float) -> None:
    """A grey hollow circle with a dashed ring: not an event, nothing was written."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setBrush(REFUSED_FILL)
    pen = QPen(REFUSED_COLOUR, 2.0, Qt.PenStyle.DashLine)
    painter.setPen(pen)
    painter.drawEllipse(centre, radius, radius)
    painter.setPen(QPen(REFUSED_COLOUR, 1.6, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    s = radius * 0.4
    painter.drawLine(
        QPointF(centre.x() - s, centre.y() - s), QPointF(centre.x() + s, centre.y() + s)
    )
    painter.drawLine(
        QPointF(centre.x() - s, centre.y() + s), QPointF(centre.x() + s, centre.y() - s)
    )
    painter.restore()


__all__ = [
    "NOTE_COLOUR",
    "REFUSED_COLOUR",
    "REFUSED_TYPE",
    "command_label",
    "note_line",
    "notes_by_target",
    "notes_html",
    "paint_refused_marker",
    "rejection_html",
    "rejection_title",
    "rejection_tooltip",
    "who",
]
