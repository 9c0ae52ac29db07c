"""The PDF report inside an order's audit bundle: facts, then the drawn timeline (the history
view's own delegate, painted onto the pages) with each event's position and hash. Long runs of
one event type are folded to their first and last few events (a 10,000-event order would
otherwise print 500 pages); the bundle's ``events.json`` and proof hold every event.

Rendered with ``QPdfWriter`` into memory; needs a ``QApplication`` (the delegate is a widgets
class) but no window, so the admin CLI renders it on the offscreen platform.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QRect, QRectF, QSizeF, Qt
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

from desktop_app.application.queries import HistoryEntry
from desktop_app.ui.formatting import format_date
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
) -> bytes:
    """The report as PDF bytes: a front page (``facts``, ``notes``), then the timeline of
    ``entries`` drawn as in the history view, with position and hash beside each event."""
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
        _timeline(writer, painter, entries, width, height, title)
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


def fold_runs(entries: Sequence[HistoryEntry]) -> list[HistoryEntry | _Fold]:
    """The rows of the drawn timeline: every event, except that the middle of a run of more
    than ``FOLD_AFTER`` consecutive events of one type becomes one summary row."""
    rows: list[HistoryEntry | _Fold] = []
    for _type, group in groupby(entries, key=lambda e: e.type_name):
        run = list(group)
        if len(run) > FOLD_AFTER:
            rows.extend(run[:FOLD_KEEP])
            rows.append(_Fold(run[FOLD_KEEP:-FOLD_KEEP]))
            rows.extend(run[-FOLD_KEEP:])
        else:
            rows.extend(run)
    return rows


def _timeline(
    writer: QPdfWriter,
    painter: QPainter,
    entries: Sequence[HistoryEntry],
    width: int,
    height: int,
    title: str,
) -> None:
    rows = fold_runs(entries)
    drawn = [row for row in rows if not isinstance(row, _Fold)]
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
            )
        ]
        painter.setFont(heading)
        painter.setPen(QColor("#000000"))
        painter.drawText(
            QRect(0, 0, width, top - 6),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            f"{title} — timeline, v{min(versions):,}–v{max(versions):,} of "
            f"{len(entries):,} events{note}",
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


__all__ = ["FOLD_AFTER", "FOLD_KEEP", "fold_runs", "render_audit_report"]
