"""The PDF report inside an order's audit bundle: facts, then the drawn timeline (the history
view's own delegate, painted onto the pages) with each event's position and hash.

Rendered with ``QPdfWriter`` into memory; needs a ``QApplication`` (the delegate is a widgets
class) but no window, so the admin CLI renders it on the offscreen platform.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QRect, QRectF, QSizeF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QPageLayout,
    QPageSize,
    QPainter,
    QPalette,
    QPdfWriter,
    QTextDocument,
)
from PySide6.QtWidgets import QApplication, QStyle, QStyleOptionViewItem

from desktop_app.application.queries import HistoryEntry
from desktop_app.ui.history.timeline_delegate import ROW_HEIGHT, TimelineDelegate
from desktop_app.ui.history.timeline_model import TimelineModel

RESOLUTION = 96
"""Device pixels per inch: the delegate's pixel sizes then read as on screen; text and lines
stay vectors in the PDF."""
_HASH_WIDTH = 150
_MUTED = QColor("#64748b")


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


def _timeline(
    writer: QPdfWriter,
    painter: QPainter,
    entries: Sequence[HistoryEntry],
    width: int,
    height: int,
    title: str,
) -> None:
    model = TimelineModel()
    model.set_entries(entries)
    delegate = TimelineDelegate()
    app = QApplication.instance()
    base = QFont(app.font()) if isinstance(app, QApplication) else QFont()
    palette = app.palette() if isinstance(app, QApplication) else QPalette()
    mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    mono.setPointSizeF(max(base.pointSizeF() - 1.5, 6.0))
    heading = QFont(base)
    heading.setBold(True)
    top = 30
    per_page = max((height - top) // ROW_HEIGHT, 1)
    rows = model.rowCount()
    for start in range(0, rows, per_page):
        writer.newPage()
        painter.setFont(heading)
        painter.setPen(QColor("#000000"))
        last = min(start + per_page, rows)
        painter.drawText(
            QRect(0, 0, width, top - 6),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            f"{title} — timeline, events {start + 1:,}–{last:,} of {rows:,}",
        )
        for row in range(start, last):
            y = top + (row - start) * ROW_HEIGHT
            option = QStyleOptionViewItem()
            option.rect = QRect(0, y, width - _HASH_WIDTH, ROW_HEIGHT)
            option.font = base
            option.palette = palette
            option.state = QStyle.StateFlag.State_Enabled
            delegate.paint(painter, option, model.index(row))
            entry = model.entry(row)
            painter.setFont(mono)
            painter.setPen(_MUTED)
            painter.drawText(
                QRect(width - _HASH_WIDTH + 6, y + 5, _HASH_WIDTH - 6, ROW_HEIGHT - 10),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                f"#{entry.position:,}\n{entry.hash[:16]}…",
            )


__all__ = ["render_audit_report"]
