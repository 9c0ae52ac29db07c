"""The PDF report inside an order's audit bundle: facts, then the drawn timeline (the history
view's own delegate, painted onto the pages) with each event's position and hash, the auditors'
notes beside the events they are about (notes on the whole order first) and the refused
commands as grey lines in time order. Long runs of one event type are folded to their first
and last few events (a 10,000-event order would otherwise print 500 pages); a note or a refused
command interrupts a run, so it is never folded away. The bundle's members hold everything.

Rendered with ``QPdfWriter`` into memory; needs a ``QApplication`` (the delegate is a widgets
class) but no window, so the admin CLI renders it on the offscreen platform.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby

from PySide6.QtCore import (
    QBuffer,
    QByteArray,
    QIODevice,
    QMarginsF,
    QPointF,
    QRect,
    QRectF,
    QSizeF,
    Qt,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QFontMetrics,
    QPageLayout,
    QPageSize,
    QPainter,
    QPalette,
    QPdfWriter,
    QPen,
    QTextDocument,
)
from PySide6.QtWidgets import QApplication, QStyle, QStyleOptionViewItem

from desktop_app.application.ports import RecordedRejection
from desktop_app.application.queries import AuditNoteEntry, HistoryEntry
from desktop_app.ui.formatting import format_date, format_datetime
from desktop_app.ui.history.event_style import style_for
from desktop_app.ui.history.timeline_delegate import LINE_X, ROW_HEIGHT, TEXT_X, TimelineDelegate
from desktop_app.ui.history.timeline_model import TimelineModel

RESOLUTION = 96
"""Device pixels per inch: the delegate's pixel sizes then read as on screen; text and lines
stay vectors in the PDF."""
_HASH_WIDTH = 150
_MUTED = QColor("#64748b")
_FOLD_BACKGROUND = QColor("#f1f5f9")
_LINE = QColor("#cbd5e1")
_NOTE_BACKGROUND = QColor("#fef9c3")
_NOTE_MARK = QColor("#ca8a04")
_REFUSED = QColor("#94a3b8")
_NOTE_X = TEXT_X + 14


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _front_page(title: str, facts: Sequence[tuple[str, str]], notes: Sequence[str]) -> str:
    rows = "".join(
        f'<tr><td style="color:#555555; padding-right:12px" valign="top">{_e(k)}</td>'
        f"<td>{_e(v)}</td></tr>"
        for k, v in facts
    )
    items = "".join(f"<li>{_e(note)}</li>" for note in notes)
    return (
        f'<h2 style="margin-bottom:4px">{_e(title)}</h2>'
        f'<table cellspacing="0" cellpadding="3">{rows}</table>'
        f"<h3>About this report</h3><ul>{items}</ul>"
    )


def render_audit_report(
    *,
    title: str,
    facts: Sequence[tuple[str, str]],
    notes: Sequence[str],
    entries: Sequence[HistoryEntry],
    annotations: Sequence[AuditNoteEntry] = (),
    refused: Sequence[RecordedRejection] = (),
) -> bytes:
    """The report as PDF bytes: a front page (``facts``, ``notes``), then the timeline of
    ``entries`` drawn as in the history view, with position and hash beside each event, the
    ``annotations`` beside their events and the ``refused`` commands as grey lines."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setTitle(title)
    writer.setCreator("Order Desk")
    writer.setResolution(RESOLUTION)
    writer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.A4),
            QPageLayout.Orientation.Portrait,
            QMarginsF(15, 15, 15, 15),
            QPageLayout.Unit.Millimeter,
        )
    )
    page = writer.pageLayout().paintRectPixels(RESOLUTION)
    width, height = page.width(), page.height()
    painter = QPainter(writer)
    try:
        doc = QTextDocument()
        doc.documentLayout().setPaintDevice(writer)
        doc.setPageSize(QSizeF(width, height))
        doc.setHtml(_front_page(title, facts, notes))
        pages = max(doc.pageCount(), 1)
        for number in range(pages):
            if number:
                writer.newPage()
            painter.save()
            painter.translate(0, -number * height)
            doc.drawContents(painter, QRectF(0, number * height, width, height))
            painter.restore()
        _timeline(writer, painter, entries, width, height, title, annotations, refused)
    finally:
        painter.end()
    buffer.close()
    return bytes(data.data())


FOLD_AFTER = 40
"""A run of more consecutive events of one type than this is folded in the drawn timeline."""
FOLD_KEEP = 3
"""Events drawn at each end of a folded run."""


@dataclass(frozen=True, slots=True)
class _Fold:
    """The middle of a long run of one event type, drawn as one summary row."""

    entries: Sequence[HistoryEntry]

    def text(self) -> str:
        first, last = self.entries[0], self.entries[-1]
        label = style_for(first.type_name).label.lower()
        days = format_date(first.recorded_at)
        if format_date(last.recorded_at) != days:
            days += f" – {format_date(last.recorded_at)}"
        return (
            f"… {len(self.entries):,} more “{label}” events, v{first.version:,}–"
            f"v{last.version:,}, {days} (all in the bundle's events)"
        )


Row = HistoryEntry | AuditNoteEntry | RecordedRejection
"""One line of the timeline: an event, a note or a refused command."""


def timeline_rows(
    entries: Sequence[HistoryEntry],
    annotations: Sequence[AuditNoteEntry] = (),
    refused: Sequence[RecordedRejection] = (),
) -> list[Row]:
    """Notes on the whole order first, then the events in version order, each followed by
    the notes on it; each refused command before the first event recorded after it."""
    by_version: dict[int, list[AuditNoteEntry]] = {}
    for note in annotations:
        by_version.setdefault(note.target_version, []).append(note)
    rows: list[Row] = list(by_version.pop(0, []))
    pending = sorted(refused, key=lambda r: (r.recorded_at, r.rejection_id))
    index = 0
    for entry in entries:
        while index < len(pending) and pending[index].recorded_at < entry.recorded_at:
            rows.append(pending[index])
            index += 1
        rows.append(entry)
        rows.extend(by_version.pop(entry.version, []))
    rows.extend(pending[index:])
    for version in sorted(by_version):  # notes on versions the entries do not reach
        rows.extend(by_version[version])
    return rows


def fold_runs(rows: Sequence[Row]) -> list[Row | _Fold]:
    """The rows of the drawn timeline: every row, except that the middle of a run of more
    than ``FOLD_AFTER`` consecutive events of one type becomes one summary row (a note or a
    refused command ends a run)."""
    out: list[Row | _Fold] = []
    for _key, group in groupby(
        rows, key=lambda r: r.type_name if isinstance(r, HistoryEntry) else id(r)
    ):
        run = list(group)
        if len(run) > FOLD_AFTER:
            events = [r for r in run if isinstance(r, HistoryEntry)]
            out.extend(events[:FOLD_KEEP])
            out.append(_Fold(events[FOLD_KEEP:-FOLD_KEEP]))
            out.extend(events[-FOLD_KEEP:])
        else:
            out.extend(run)
    return out


def _timeline(
    writer: QPdfWriter,
    painter: QPainter,
    entries: Sequence[HistoryEntry],
    width: int,
    height: int,
    title: str,
    annotations: Sequence[AuditNoteEntry],
    refused: Sequence[RecordedRejection],
) -> None:
    rows = fold_runs(timeline_rows(entries, annotations, refused))
    drawn = [row for row in rows if isinstance(row, HistoryEntry)]
    model = TimelineModel()
    model.set_entries(drawn)
    delegate = TimelineDelegate()
    app = QApplication.instance()
    base = QFont(app.font()) if isinstance(app, QApplication) else QFont()
    palette = app.palette() if isinstance(app, QApplication) else QPalette()
    mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    mono.setPointSizeF(max(base.pointSizeF() - 1.5, 6.0))
    heading = QFont(base)
    heading.setBold(True)
    italic = QFont(base)
    italic.setItalic(True)
    top = 30
    per_page = max((height - top) // ROW_HEIGHT, 1)
    folded = len(entries) - len(drawn)
    note = f" ({folded:,} folded)" if folded else ""
    if annotations:
        note += f" · {len(annotations):,} note(s)"
    if refused:
        note += f" · {len(refused):,} refused"
    model_row = 0
    for start in range(0, len(rows), per_page):
        writer.newPage()
        page_rows = rows[start : start + per_page]
        versions = [
            v
            for row in page_rows
            for v in (
                (row.entries[0].version, row.entries[-1].version)
                if isinstance(row, _Fold)
                else (row.version,)
                if isinstance(row, HistoryEntry)
                else ()
            )
        ]
        span = f"v{min(versions):,}–v{max(versions):,}" if versions else "notes"
        painter.setFont(heading)
        painter.setPen(QColor("#000000"))
        painter.drawText(
            QRect(0, 0, width, top - 6),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            f"{title} — timeline, {span} of {len(entries):,} events{note}",
        )
        for offset, row in enumerate(page_rows):
            y = top + offset * ROW_HEIGHT
            if isinstance(row, _Fold):
                painter.fillRect(QRect(0, y + 4, width, ROW_HEIGHT - 8), _FOLD_BACKGROUND)
                # The timeline's line goes on through the fold, dotted.
                painter.setPen(QPen(_LINE, 2, Qt.PenStyle.DotLine))
                painter.drawLine(LINE_X, y, LINE_X, y + ROW_HEIGHT)
                painter.setFont(italic)
                painter.setPen(_MUTED)
                painter.drawText(
                    QRect(TEXT_X, y, width - TEXT_X - 10, ROW_HEIGHT),
                    Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                    QFontMetrics(italic).elidedText(
                        row.text(), Qt.TextElideMode.ElideMiddle, width - TEXT_X - 10
                    ),
                )
                continue
            if isinstance(row, AuditNoteEntry):
                _note_row(painter, row, y, width, base, mono)
                continue
            if isinstance(row, RecordedRejection):
                _refused_row(painter, row, y, width, base, mono)
                continue
            option = QStyleOptionViewItem()
            option.rect = QRect(0, y, width - _HASH_WIDTH, ROW_HEIGHT)
            option.font = base
            option.palette = palette
            option.state = QStyle.StateFlag.State_Enabled
            delegate.paint(painter, option, model.index(model_row))
            model_row += 1
            painter.setFont(mono)
            painter.setPen(_MUTED)
            painter.drawText(
                QRect(width - _HASH_WIDTH + 6, y + 5, _HASH_WIDTH - 6, ROW_HEIGHT - 10),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                f"#{row.position:,}\n{row.hash[:16]}…",
            )


def _through(painter: QPainter, y: int) -> None:
    """The timeline's line goes on through a note or a refused command."""
    painter.setPen(QPen(_LINE, 2))
    painter.drawLine(LINE_X, y, LINE_X, y + ROW_HEIGHT)


def _two_lines(
    painter: QPainter, left: int, y: int, width: int, first: str, second: str, font: QFont
) -> None:
    bold = QFont(font)
    bold.setBold(True)
    painter.setFont(bold)
    painter.drawText(
        QRect(left, y + 5, width, 19),
        Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
        QFontMetrics(bold).elidedText(first, Qt.TextElideMode.ElideRight, width),
    )
    painter.setFont(font)
    painter.drawText(
        QRect(left, y + 25, width, 18),
        Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
        QFontMetrics(font).elidedText(second, Qt.TextElideMode.ElideRight, width),
    )


def _note_row(
    painter: QPainter, note: AuditNoteEntry, y: int, width: int, font: QFont, mono: QFont
) -> None:
    """A note, indented beside the event it is about, on a pale yellow band; its position
    and hash at the right (a note is an event of the chain)."""
    painter.fillRect(QRect(TEXT_X, y + 3, width - TEXT_X, ROW_HEIGHT - 6), _NOTE_BACKGROUND)
    _through(painter, y)
    painter.fillRect(QRect(_NOTE_X - 10, y + 14, 6, 20), _NOTE_MARK)
    about = f"v{note.target_version}" if note.target_version else "the order"
    links = f" · corrects {note.corrects[:8]}" if note.corrects else ""
    if note.corrected_by:
        links += f" · corrected by {', '.join(n[:8] for n in note.corrected_by)}"
    first = (
        f"Note on {about} · {format_datetime(note.recorded_at)} · "
        f"{note.metadata.user or '—'} · note {note.note_id[:8]}{links}"
    )
    text = " / ".join(line.strip() for line in note.text.splitlines() if line.strip())
    painter.setPen(QColor("#000000"))
    _two_lines(painter, _NOTE_X, y, width - _NOTE_X - _HASH_WIDTH, first, text, font)
    painter.setFont(mono)
    painter.setPen(_MUTED)
    painter.drawText(
        QRect(width - _HASH_WIDTH + 6, y + 5, _HASH_WIDTH - 6, ROW_HEIGHT - 10),
        Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
        f"#{note.position:,}\nnotes v{note.version}",
    )


def _refused_row(
    painter: QPainter, recorded: RecordedRejection, y: int, width: int, font: QFont, mono: QFont
) -> None:
    """A refused command: a grey line with a hollow marker, in time order (not an event)."""
    _through(painter, y)
    painter.setPen(QPen(_REFUSED, 2, Qt.PenStyle.DashLine))
    painter.setBrush(QColor("#ffffff"))
    painter.drawEllipse(QPointF(LINE_X, y + ROW_HEIGHT / 2), 6, 6)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    r = recorded.rejection
    first = (
        f"Refused {r.command_type} · {format_datetime(recorded.recorded_at)} · "
        f"{r.user or '—'} on {r.host or '—'}"
    )
    why = f"{r.error_class}: {' '.join(r.message.split())}"
    painter.setPen(_REFUSED)
    _two_lines(painter, TEXT_X, y, width - TEXT_X - _HASH_WIDTH, first, why, font)
    painter.setFont(mono)
    painter.drawText(
        QRect(width - _HASH_WIDTH + 6, y + 5, _HASH_WIDTH - 6, ROW_HEIGHT - 10),
        Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
        f"refusal #{recorded.rejection_id}\nnot in the chain",
    )


__all__ = ["FOLD_AFTER", "FOLD_KEEP", "Row", "fold_runs", "render_audit_report", "timeline_rows"]
