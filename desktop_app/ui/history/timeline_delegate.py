"""Paints one timeline row: the command bracket, the line through all events, the event's
marker, and two lines of text (version · type · time · user / summary · command)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QPointF, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from desktop_app.application.ports import RecordedRejection
from desktop_app.ui.audit.marks import (
    NOTE_COLOUR,
    REFUSED_COLOUR,
    REFUSED_FILL,
    command_label,
    paint_refused_marker,
    who,
)
from desktop_app.ui.history import _format as fmt
from desktop_app.ui.history.event_style import paint_marker, style_for
from desktop_app.ui.history.timeline_model import ENTRY_ROLE, GROUP_ROLE, NOTES_ROLE, TIME_ROLE

ROW_HEIGHT = 48
BRACKET_X = 8
LINE_X = 34
MARKER_RADIUS = 11
TEXT_X = 56

_BAND = (QColor("#eef2ff"), QColor("#f0fdf4"))  # shading of multi-event commands, alternating
_BRACKET = QColor("#6366f1")
_LINE = QColor("#cbd5e1")
_MUTED = QColor("#64748b")


class TimelineDelegate(QStyledItemDelegate):
    """Draws rows of a ``TimelineModel``; every row has the same height (uniform sizes)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._fonts: tuple[QFont, QFont, QFont] | None = None

    def _fonts_for(self, base: QFont) -> tuple[QFont, QFont, QFont]:
        if self._fonts is None or self._fonts[0].family() != base.family():
            bold = QFont(base)
            bold.setBold(True)
            small = QFont(base)
            small.setPointSizeF(max(base.pointSizeF() - 1.0, 7.0))
            self._fonts = (QFont(base), bold, small)
        return self._fonts

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        # Narrow on purpose: rows take the viewport's width and elide their texts, instead of
        # a horizontal scroll bar when the pane is narrower than a fixed hint.
        return QSize(160, ROW_HEIGHT)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        entry = index.data(ENTRY_ROLE)
        group = index.data(GROUP_ROLE)
        if entry is None or group is None:
            return
        if isinstance(entry, RecordedRejection):
            self._paint_refused(painter, option, index, entry)
            return
        rect: QRect = option.rect
        palette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        style = style_for(entry.type_name)
        normal, bold, small = self._fonts_for(option.font)
        top, bottom, left = rect.top(), rect.bottom() + 1, rect.left()
        mid_y = rect.center().y() + 0.5

        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        # Background: shared shading per multi-event command, then selection on top.
        if group.size > 1:
            painter.fillRect(rect, _BAND[group.band])
        if selected:
            highlight = QColor(palette.highlight().color())
            highlight.setAlpha(70)
            painter.fillRect(rect, highlight)
            painter.fillRect(QRect(rect.right() - 3, top, 4, rect.height()), palette.highlight())

        # Bracket joining the events of one command.
        if group.size > 1:
            painter.setPen(QPen(_BRACKET, 2))
            y0 = top + 8 if group.first else top
            y1 = bottom - 8 if group.last else bottom
            x = left + BRACKET_X
            painter.drawLine(x, y0, x, y1)
            if group.first:
                painter.drawLine(x, y0, x + 6, y0)
            if group.last:
                painter.drawLine(x, y1, x + 6, y1)

        # The line through every event; it starts at the first marker and ends at the last.
        row, rows = index.row(), index.model().rowCount()
        painter.setPen(QPen(_LINE, 2))
        line_top = mid_y if row == 0 else top
        line_bottom = mid_y if row == rows - 1 else bottom
        if line_bottom > line_top:
            painter.drawLine(QPointF(left + LINE_X, line_top), QPointF(left + LINE_X, line_bottom))
        ring = palette.highlight().color() if selected else None
        paint_marker(painter, QPointF(left + LINE_X, mid_y), MARKER_RADIUS, style, ring)

        # Text: two lines.
        text_left = left + TEXT_X
        text_right = rect.right() - 10
        width = max(text_right - text_left, 10)
        line1 = QRect(text_left, top + 5, width, 19)
        line2 = QRect(text_left, top + 25, width, 18)
        text_colour = palette.text().color()

        # Line 1: version and type label first; the time and user take what is left (elided
        # from the left, so the time of day and the user stay readable in a narrow pane).
        painter.setFont(bold)
        painter.setPen(text_colour)
        version = f"v{entry.version}"
        bold_metrics = QFontMetrics(bold)
        version_width = bold_metrics.horizontalAdvance(version + "  ")
        painter.drawText(line1, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, version)
        label_width = min(
            bold_metrics.horizontalAdvance(style.label), max(width - version_width, 0)
        )
        label_rect = QRect(line1.left() + version_width, line1.top(), label_width, line1.height())
        painter.setPen(QColor(style.colour).darker(115))
        painter.drawText(
            label_rect,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            bold_metrics.elidedText(style.label, Qt.TextElideMode.ElideRight, label_width),
        )
        when = str(index.data(TIME_ROLE))
        user = entry.metadata.user or "—"
        meta = f"{when} · {user}"
        painter.setFont(small)
        small_metrics = QFontMetrics(small)
        meta_space = width - version_width - label_width - 10
        if small_metrics.horizontalAdvance(meta) > meta_space:
            meta = f"{when.rsplit(' ', 1)[-1]} · {user}"  # the time of day without the date
        if meta_space > 30:
            painter.setPen(_MUTED)
            painter.drawText(
                line1,
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                small_metrics.elidedText(meta, Qt.TextElideMode.ElideLeft, meta_space),
            )

        # Line 2: the summary; the command id only where the summary keeps most of the row
        # (the details pane always shows it, and the shading groups a command's events).
        command = ""
        notes = index.data(NOTES_ROLE) or ()
        if notes:
            # An auditor's note outranks the command id (which the details pane shows).
            command = f"✎ {len(notes)} note{'s' if len(notes) != 1 else ''}"
        elif group.first or group.size == 1:
            command = f"command {fmt.short_id(group.causation_id)}"
            if group.size > 1:
                command += f" · {group.size} events"
        command_width = small_metrics.horizontalAdvance(command) + 10 if command else 0
        if command and not notes and width - command_width < width * 0.6:
            command, command_width = "", 0
        if command:
            painter.setFont(small if not notes else bold)
            painter.setPen(NOTE_COLOUR if notes else _BRACKET if group.size > 1 else _MUTED)
            painter.drawText(
                line2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, command
            )
        painter.setFont(normal)
        painter.setPen(text_colour)
        summary_rect = QRect(
            line2.left(), line2.top(), max(width - command_width, 0), line2.height()
        )
        painter.drawText(
            summary_rect,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            QFontMetrics(normal).elidedText(
                entry.summary, Qt.TextElideMode.ElideRight, summary_rect.width()
            ),
        )
        if option.state & QStyle.StateFlag.State_HasFocus:
            painter.setPen(QPen(palette.highlight().color(), 1, Qt.PenStyle.DotLine))
            painter.drawRect(rect.adjusted(1, 1, -2, -2))
        painter.restore()

    def _paint_refused(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
        item: RecordedRejection,
    ) -> None:
        """A refused command: grey and hollow, italic; the line runs past it (not an event)."""
        rect: QRect = option.rect
        palette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        normal, bold, small = self._fonts_for(option.font)
        top, bottom, left = rect.top(), rect.bottom() + 1, rect.left()
        mid_y = rect.center().y() + 0.5
        painter.save()
        painter.fillRect(rect, REFUSED_FILL)
        if selected:
            highlight = QColor(palette.highlight().color())
            highlight.setAlpha(70)
            painter.fillRect(rect, highlight)
            painter.fillRect(QRect(rect.right() - 3, top, 4, rect.height()), palette.highlight())
        row, rows = index.row(), index.model().rowCount()
        painter.setPen(QPen(_LINE, 2, Qt.PenStyle.DotLine))
        line_top = mid_y if row == 0 else top
        line_bottom = mid_y if row == rows - 1 else bottom
        if line_bottom > line_top:
            painter.drawLine(QPointF(left + LINE_X, line_top), QPointF(left + LINE_X, line_bottom))
        paint_refused_marker(painter, QPointF(left + LINE_X, mid_y), MARKER_RADIUS - 2)
        text_left = left + TEXT_X
        width = max(rect.right() - 10 - text_left, 10)
        line1 = QRect(text_left, top + 5, width, 19)
        line2 = QRect(text_left, top + 25, width, 18)
        r = item.rejection
        italic = QFont(bold)
        italic.setItalic(True)
        painter.setFont(italic)
        painter.setPen(REFUSED_COLOUR)
        title = f"Refused · {command_label(r.command_type)}"
        metrics = QFontMetrics(italic)
        title_width = min(metrics.horizontalAdvance(title) + 10, width)
        painter.drawText(
            line1,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            metrics.elidedText(title, Qt.TextElideMode.ElideRight, width),
        )
        when = str(index.data(TIME_ROLE))
        meta = f"{when} · {who(r.user, r.host)}"
        painter.setFont(small)
        small_metrics = QFontMetrics(small)
        space = width - title_width
        if small_metrics.horizontalAdvance(meta) > space:
            meta = f"{when.rsplit(' ', 1)[-1]} · {r.user or '—'}"  # as an event row shortens
        if space > 30:
            painter.drawText(
                line1,
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                small_metrics.elidedText(meta, Qt.TextElideMode.ElideLeft, space),
            )
        painter.setFont(normal)
        painter.drawText(
            line2,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            QFontMetrics(normal).elidedText(
                f"Nothing written. Why: {r.message}", Qt.TextElideMode.ElideRight, width
            ),
        )
        painter.restore()
