"""The audit view's timeline on a time axis: day separators, one card per command, folded runs
that expand in place, a red card for a bad event.

Spacing follows real time, compressed: the gap between two cards grows with the logarithm of
the time between them (a minute apart: a few pixels; a week apart: the largest gap), so a burst
and a quiet month both stay readable. Layout is one pass over the cards (plain integers);
painting draws only the rows that intersect the exposed rectangle (a bisect into the row
offsets), so a 10,000-event history costs what the visible part costs.

Over 500 lines on purpose: layout and painting of every row kind (day, card, event, the
order's notes, a refused command) read together, as one paint pass draws them.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from PySide6.QtCore import QEvent, QPointF, QRect, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QHelpEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
)
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from desktop_app.application.audit_timeline import BAD, OK, AuditCard, AuditEvent
from desktop_app.application.ports import RecordedRejection
from desktop_app.application.queries import AuditNoteEntry
from desktop_app.ui.audit.marks import (
    NOTE_COLOUR,
    REFUSED_COLOUR,
    REFUSED_FILL,
    note_line,
    paint_refused_marker,
    rejection_title,
    rejection_tooltip,
)
from desktop_app.ui.formatting import format_date, format_datetime
from desktop_app.ui.history.event_style import paint_marker, style_for

GUTTER = 64  # time of day, left of the axis
AXIS_X = 76
CARD_X = 92
LINE_H = 18
HEADER_H = 22
PAD = 8
DAY_H = 26
EVENT_H = 26
MIN_GAP = 6
MAX_GAP = 64
MAX_LINES = 4  # event lines shown on a command card before "+ n more"
MAX_NOTE_LINES = 3  # auditors' notes shown on a card before "+ n more notes"
REFUSED_H = 2 * LINE_H + PAD

RED = QColor("#b91c1c")
RED_FILL = QColor("#fee2e2")
GREEN = QColor("#15803d")
GREY = QColor("#6b7280")


def local_date(value: datetime) -> date:
    """The local calendar date of a UTC time (day separators follow the clerk's calendar)."""
    return value.astimezone().date()


NoteMap = Mapping[int, Sequence[AuditNoteEntry]]
"""Auditors' notes by the order version they annotate (0: the order as a whole)."""


@dataclass(slots=True)
class Row:
    """One painted row: a day separator, a card, one event of an expanded run, the order's
    own notes ("notes", at the top) or a refused command ("refused", a grey marker)."""

    kind: str  # "day", "card", "event", "notes" or "refused"
    y: int
    height: int
    card: int
    at: datetime
    event: AuditEvent | None = None
    notes: tuple[AuditNoteEntry, ...] = ()
    rejection: RecordedRejection | None = None


def note_lines(count: int, cap: int = MAX_NOTE_LINES) -> int:
    """Text lines ``count`` notes take on a card (capped, plus "+ n more notes")."""
    return min(count, cap) + (1 if count > cap else 0)


def card_height(card: AuditCard, notes: int = 0) -> int:
    """Pixels of one card (folded run: two lines; command: one line per event, capped; then
    its problems and its auditors' notes)."""
    if card.kind == "run":
        lines = 2
    else:
        lines = min(len(card.events), MAX_LINES) + (1 if len(card.events) > MAX_LINES else 0)
    if card.bad:
        lines += sum(1 for ev in card.events if ev.integrity.state == BAD)
    lines += note_lines(notes)
    return HEADER_H + lines * LINE_H + PAD


def _card_notes(
    cards: tuple[AuditCard, ...], notes: NoteMap
) -> dict[int, tuple[AuditNoteEntry, ...]]:
    """Each card's notes (on any of its events), by card index: a bisect per annotated
    version, never a walk over a long run's events."""
    firsts = [card.first.version for card in cards]
    found: dict[int, list[AuditNoteEntry]] = {}
    for version in sorted(v for v in notes if v > 0):
        index = bisect_right(firsts, version) - 1
        if index >= 0 and version <= cards[index].last.version:
            found.setdefault(index, []).extend(notes[version])
    return {index: tuple(items) for index, items in found.items()}


def time_gap(before: datetime, after: datetime) -> int:
    """Pixels between two moments: logarithmic in the minutes between them."""
    minutes = max((after - before).total_seconds(), 0.0) / 60.0
    return MIN_GAP + min(MAX_GAP - MIN_GAP, int(9 * math.log1p(minutes)))


def layout(
    cards: tuple[AuditCard, ...],
    expanded: set[int],
    notes: NoteMap | None = None,
    refused: Sequence[RecordedRejection] = (),
) -> tuple[list[Row], int]:
    """Rows in order with their offsets, and the total height: the order's own notes first,
    then cards (with their notes) and refused commands in time order."""
    notes = notes or {}
    rows: list[Row] = []
    y = PAD
    last_at: datetime | None = None
    last_day: date | None = None
    order_notes = tuple(notes.get(0, ()))
    if order_notes and cards:
        height = HEADER_H + note_lines(len(order_notes)) * LINE_H + PAD
        rows.append(Row("notes", y, height, 0, cards[0].first.recorded_at, notes=order_notes))
        y += height + MIN_GAP
    card_notes = _card_notes(cards, notes) if notes else {}
    pending = sorted(refused, key=lambda r: (r.recorded_at, r.rejection_id))
    next_refused = 0

    def place(
        kind: str,
        height: int,
        index: int,
        at: datetime,
        ev: AuditEvent | None,
        row_notes: tuple[AuditNoteEntry, ...] = (),
        rejection: RecordedRejection | None = None,
    ) -> None:
        nonlocal y, last_at, last_day
        day = local_date(at)
        if day != last_day:
            rows.append(Row("day", y, DAY_H, index, at))
            y += DAY_H
            last_day = day
        elif last_at is not None:
            y += time_gap(last_at, at)
        rows.append(Row(kind, y, height, index, at, ev, row_notes, rejection))
        y += height
        last_at = at

    def place_refused(until: datetime | None, index: int) -> None:
        nonlocal next_refused
        while next_refused < len(pending) and (
            until is None or pending[next_refused].recorded_at < until
        ):
            item = pending[next_refused]
            place("refused", REFUSED_H, index, item.recorded_at, None, rejection=item)
            next_refused += 1

    for index, card in enumerate(cards):
        place_refused(card.first.recorded_at, index)
        mine = card_notes.get(index, ())
        place("card", card_height(card, len(mine)), index, card.first.recorded_at, None, mine)
        last_at = card.last.recorded_at
        if card.kind == "run" and index in expanded:
            for ev in card.events:
                own = tuple(notes.get(ev.version, ())) if mine else ()
                height = EVENT_H + (LINE_H if ev.integrity.state == BAD else 0)
                height += note_lines(len(own), 2) * LINE_H
                place("event", height, index, ev.recorded_at, ev, own)
    place_refused(None, max(len(cards) - 1, 0))
    return rows, y + PAD


class TimelineCanvas(QWidget):
    """The painted timeline; lives in a scroll area and paints only what is exposed."""

    selected = Signal(object, object)
    """(card, event or None) the clerk selected."""
    refused_selected = Signal(object)
    """A refused command's grey marker was selected (its ``RecordedRejection``)."""
    order_notes_selected = Signal(object)
    """The order's own notes (tuple of ``AuditNoteEntry``) were selected."""
    painted = Signal()
    """A paint finished (the view starts the integrity check after the first one)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("auditTimeline")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        # At least as tall as its rows; a short history still fills the viewport (base colour).
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.MinimumExpanding)
        self.cards: tuple[AuditCard, ...] = ()
        self.notes: NoteMap = {}
        self.refused: tuple[RecordedRejection, ...] = ()
        self.expanded: set[int] = set()
        self.rows: list[Row] = []
        self._offsets: list[int] = []
        self._height = 0
        self.current: int | None = None  # index into rows
        self.currency = ""
        self.roles: Mapping[int, str] = {}
        self.painted_rows = 0
        """Rows drawn by the last paint (what "render only what is visible" means here)."""
        self._bold = QFont(self.font())
        self._bold.setBold(True)

    # --- content -------------------------------------------------------------------------

    def set_cards(
        self,
        cards: tuple[AuditCard, ...],
        currency: str,
        *,
        keep: bool = False,
        notes: NoteMap | None = None,
        refused: Sequence[RecordedRejection] = (),
        roles: Mapping[int, str] | None = None,
    ) -> None:
        """Show ``cards`` (with the auditors' ``notes`` beside their events and the
        ``refused`` commands as grey markers): all folded and nothing selected, or with
        ``keep`` (the same order again, e.g. with its verdicts) the runs that were open and
        the selection kept."""
        opened = {self.cards[i].first.version for i in self.expanded} if keep else set()
        chosen = self._selected_version() if keep else None
        self.cards = cards
        self.notes = notes or {}
        self.refused = tuple(refused)
        self.roles = roles or {}
        self.currency = currency
        self.expanded = {
            i for i, card in enumerate(cards) if card.kind == "run" and card.first.version in opened
        }
        self.current = None
        self._relayout()
        if chosen is not None:
            for i, row in enumerate(self.rows):
                if row.kind != "day" and self._row_key(row) == chosen:
                    self.select_row(i)
                    break

    def _row_key(self, row: Row) -> tuple[str, int]:
        """What a row shows, stable across reloads: (kind, version or rejection number)."""
        if row.rejection is not None:
            return row.kind, row.rejection.rejection_id
        if row.kind == "notes":
            return row.kind, 0
        shown = row.event if row.event is not None else self.cards[row.card].first
        return row.kind, shown.version

    def _selected_version(self) -> tuple[str, int] | None:
        if self.current is None:
            return None
        return self._row_key(self.rows[self.current])

    def _relayout(self) -> None:
        self.rows, self._height = layout(self.cards, self.expanded, self.notes, self.refused)
        self._offsets = [row.y for row in self.rows]
        self.setMinimumHeight(self._height)
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(480, self._height)

    def toggle(self, card_index: int) -> None:
        """Expand a folded run in place, or fold it again; the run's card stays selected."""
        if self.cards[card_index].kind != "run":
            return
        if card_index in self.expanded:
            self.expanded.discard(card_index)
        else:
            self.expanded.add(card_index)
        self._relayout()
        self.select_row(self.card_row(card_index))

    def card_row(self, card_index: int) -> int:
        """The row index of a card."""
        for i, row in enumerate(self.rows):
            if row.kind == "card" and row.card == card_index:
                return i
        raise IndexError(card_index)

    def row_of_version(self, version: int) -> int | None:
        """The row showing ``version`` (a run holding it is expanded first)."""
        for index, card in enumerate(self.cards):
            if card.first.version <= version <= card.last.version:
                if card.kind == "run":
                    if index not in self.expanded:
                        self.expanded.add(index)
                        self._relayout()
                    for i, row in enumerate(self.rows):
                        if row.event is not None and row.event.version == version:
                            return i
                return self.card_row(index)
        return None

    def row_at_time(self, moment: datetime, *, expand: bool = False) -> int | None:
        """The card holding ``moment`` or the first after it (the last card if none is);
        with ``expand`` a folded run holding it opens at its first event at or after it."""
        if not self.cards:
            return None
        index = next(
            (i for i, card in enumerate(self.cards) if card.last.recorded_at >= moment),
            len(self.cards) - 1,
        )
        card = self.cards[index]
        if expand and card.kind == "run" and card.first.recorded_at < moment:
            if index not in self.expanded:
                self.expanded.add(index)
                self._relayout()
            for i, row in enumerate(self.rows):
                if row.event is not None and row.card == index and row.at >= moment:
                    return i
        return self.card_row(index)

    def select_row(self, index: int | None) -> None:
        """Select a row and tell the view (a day separator selects nothing)."""
        if index is None or not 0 <= index < len(self.rows) or self.rows[index].kind == "day":
            return
        self.current = index
        row = self.rows[index]
        self.update()
        if row.rejection is not None:
            self.refused_selected.emit(row.rejection)
        elif row.kind == "notes":
            self.order_notes_selected.emit(row.notes)
        else:
            self.selected.emit(self.cards[row.card], row.event)

    def row_near(self, y: int) -> int:
        """The last row starting at or above ``y`` (0 when none)."""
        return max(bisect_right(self._offsets, y) - 1, 0)

    def row_index_at(self, y: int) -> int | None:
        """The row under a y coordinate."""
        i = bisect_right(self._offsets, y) - 1
        if i >= 0 and y < self.rows[i].y + self.rows[i].height:
            return i
        return None

    # --- input ---------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        index = self.row_index_at(int(event.position().y()))
        if index is None:
            return
        row = self.rows[index]
        if row.kind == "card" and self.cards[row.card].kind == "run":
            self.toggle(row.card)
        else:
            self.select_row(index)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Down, Qt.Key.Key_Up):
            step = 1 if key == Qt.Key.Key_Down else -1
            i = (self.current if self.current is not None else -step) + step
            while 0 <= i < len(self.rows) and self.rows[i].kind == "day":
                i += step
            self.select_row(i)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            if self.current is not None and self.rows[self.current].kind in ("card", "event"):
                self.toggle(self.rows[self.current].card)
        else:
            super().keyPressEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            index = self.row_index_at(event.pos().y())
            text = self.tooltip_at(index) if index is not None else ""
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)

    def tooltip_at(self, index: int) -> str:
        """The hover text of a row: a refused command's who/when/what/why, or the notes."""
        row = self.rows[index]
        if row.rejection is not None:
            return rejection_tooltip(row.rejection)
        if row.notes:
            return "\n\n".join(
                f"{note_line(n).split(' · ', 2)[0]} · {format_datetime(n.recorded_at)}\n{n.text}"
                for n in row.notes
            )
        return ""

    # --- painting ------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        exposed = event.rect()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(exposed, self.palette().base())
        painter.setPen(QPen(QColor("#cbd5e1"), 2))
        painter.drawLine(AXIS_X, exposed.top(), AXIS_X, exposed.bottom())
        first = max(bisect_right(self._offsets, exposed.top()) - 1, 0)
        painted = 0
        for i in range(first, len(self.rows)):
            row = self.rows[i]
            if row.y > exposed.bottom():
                break
            painted += 1
            if row.kind == "day":
                self._paint_day(painter, row)
            elif row.kind == "card":
                self._paint_card(painter, row, i == self.current)
            elif row.kind == "refused":
                self._paint_refused(painter, row, i == self.current)
            elif row.kind == "notes":
                self._paint_order_notes(painter, row, i == self.current)
            else:
                self._paint_event_row(painter, row, i == self.current)
        self.painted_rows = painted
        painter.end()
        self.painted.emit()

    def _paint_day(self, painter: QPainter, row: Row) -> None:
        mid = row.y + row.height // 2
        painter.setPen(QPen(QColor("#94a3b8"), 1, Qt.PenStyle.DashLine))
        painter.drawLine(4, mid, self.width() - 4, mid)
        text = format_date(row.at)
        painter.setFont(self._bold)
        width = QFontMetrics(self._bold).horizontalAdvance(text) + 12
        box = QRect(CARD_X, row.y + 2, width, row.height - 4)
        painter.fillRect(box, self.palette().base())
        painter.setPen(QColor("#334155"))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        painter.setFont(self.font())

    def _time(self, painter: QPainter, row: Row) -> None:
        painter.setPen(GREY)
        stamp = format_datetime(row.at, seconds=True).rsplit(" ", 1)[-1]
        painter.drawText(QRect(0, row.y + 2, GUTTER, LINE_H), Qt.AlignmentFlag.AlignRight, stamp)

    def _paint_card(self, painter: QPainter, row: Row, current: bool) -> None:
        card = self.cards[row.card]
        self._time(painter, row)
        ring = RED if card.bad else None
        paint_marker(painter, QPointF(AXIS_X, row.y + 11), 7, style_for(card.first.type_name), ring)
        box = QRect(CARD_X, row.y, self.width() - CARD_X - 8, row.height - 4)
        fill = RED_FILL if card.bad else QColor("#f8fafc")
        painter.setPen(QPen(RED if card.bad else QColor("#cbd5e1"), 2 if card.bad else 1))
        painter.setBrush(fill)
        painter.drawRoundedRect(box, 6, 6)
        if current:
            painter.setPen(QPen(self.palette().highlight().color(), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(box.adjusted(1, 1, -1, -1), 6, 6)
        inner = box.adjusted(10, 3, -10, 0)
        badge, colour = integrity_badge(card.events)
        metrics = QFontMetrics(self.font())
        badge_w = metrics.horizontalAdvance(badge) + 4
        painter.setPen(colour)
        painter.drawText(
            QRect(inner.right() - badge_w, inner.top(), badge_w, LINE_H),
            Qt.AlignmentFlag.AlignRight,
            badge,
        )
        title = card_title(card, self.roles)
        painter.setFont(self._bold)
        painter.setPen(QColor("#0f172a"))
        bold = QFontMetrics(self._bold)
        painter.drawText(
            QRect(inner.left(), inner.top(), inner.width() - badge_w - 8, LINE_H),
            Qt.AlignmentFlag.AlignLeft,
            bold.elidedText(title, Qt.TextElideMode.ElideRight, inner.width() - badge_w - 8),
        )
        painter.setFont(self.font())
        y = inner.top() + HEADER_H
        for text, bad in card_lines(card, self.currency):
            painter.setPen(RED if bad else QColor("#1e293b"))
            painter.drawText(
                QRect(inner.left(), y, inner.width(), LINE_H),
                Qt.AlignmentFlag.AlignLeft,
                metrics.elidedText(text, Qt.TextElideMode.ElideRight, inner.width()),
            )
            y += LINE_H
        self._paint_notes(painter, row.notes, inner.left(), y, inner.width(), card.kind == "run")

    def _paint_notes(
        self,
        painter: QPainter,
        notes: tuple[AuditNoteEntry, ...],
        x: int,
        y: int,
        width: int,
        versions: bool,
        cap: int = MAX_NOTE_LINES,
    ) -> None:
        """The notes beside their event(s), amber, one line each (capped)."""
        if not notes:
            return
        metrics = QFontMetrics(self.font())
        painter.setPen(NOTE_COLOUR)
        for note in notes[:cap]:
            text = note_line(note)
            if versions and note.target_version:
                text = f"v{note.target_version:,} {text}"
            painter.drawText(
                QRect(x, y, width, LINE_H),
                Qt.AlignmentFlag.AlignLeft,
                metrics.elidedText(text, Qt.TextElideMode.ElideRight, width),
            )
            y += LINE_H
        if len(notes) > cap:
            painter.drawText(
                QRect(x, y, width, LINE_H),
                Qt.AlignmentFlag.AlignLeft,
                f"+ {len(notes) - cap:,} more notes (see details)",
            )

    def _paint_order_notes(self, painter: QPainter, row: Row, current: bool) -> None:
        box = QRect(CARD_X, row.y, self.width() - CARD_X - 8, row.height - 4)
        painter.setPen(QPen(NOTE_COLOUR, 1))
        painter.setBrush(QColor("#fefce8"))
        painter.drawRoundedRect(box, 6, 6)
        if current:
            painter.setPen(QPen(self.palette().highlight().color(), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(box.adjusted(1, 1, -1, -1), 6, 6)
        inner = box.adjusted(10, 3, -10, 0)
        painter.setFont(self._bold)
        painter.setPen(NOTE_COLOUR)
        count = len(row.notes)
        painter.drawText(
            QRect(inner.left(), inner.top(), inner.width(), LINE_H),
            Qt.AlignmentFlag.AlignLeft,
            f"Auditors' notes on the whole order ({count})",
        )
        painter.setFont(self.font())
        self._paint_notes(
            painter, row.notes, inner.left(), inner.top() + HEADER_H, inner.width(), False
        )

    def _paint_refused(self, painter: QPainter, row: Row, current: bool) -> None:
        rejection = row.rejection
        assert rejection is not None
        self._time(painter, row)
        paint_refused_marker(painter, QPointF(AXIS_X, row.y + 11), 7)
        box = QRect(CARD_X, row.y, self.width() - CARD_X - 8, row.height - 4)
        painter.setPen(QPen(REFUSED_COLOUR, 1, Qt.PenStyle.DashLine))
        painter.setBrush(REFUSED_FILL)
        painter.drawRoundedRect(box, 6, 6)
        if current:
            painter.setPen(QPen(self.palette().highlight().color(), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(box.adjusted(1, 1, -1, -1), 6, 6)
        inner = box.adjusted(10, 3, -10, 0)
        metrics = QFontMetrics(self.font())
        italic = QFont(self.font())
        italic.setItalic(True)
        painter.setFont(italic)
        painter.setPen(REFUSED_COLOUR)
        painter.drawText(
            QRect(inner.left(), inner.top(), inner.width(), LINE_H),
            Qt.AlignmentFlag.AlignLeft,
            QFontMetrics(italic).elidedText(
                rejection_title(rejection) + " · nothing written",
                Qt.TextElideMode.ElideRight,
                inner.width(),
            ),
        )
        painter.setFont(self.font())
        painter.drawText(
            QRect(inner.left(), inner.top() + LINE_H, inner.width(), LINE_H),
            Qt.AlignmentFlag.AlignLeft,
            metrics.elidedText(
                "Why: " + rejection.rejection.message, Qt.TextElideMode.ElideRight, inner.width()
            ),
        )

    def _paint_event_row(self, painter: QPainter, row: Row, current: bool) -> None:
        ev = row.event
        assert ev is not None
        self._time(painter, row)
        bad = ev.integrity.state == BAD
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(RED if bad else QColor(style_for(ev.type_name).colour))
        painter.drawEllipse(QPointF(AXIS_X, row.y + 10), 4, 4)
        box = QRect(CARD_X + 16, row.y, self.width() - CARD_X - 24, row.height - 2)
        if bad or current:
            painter.fillRect(box, RED_FILL if bad else self.palette().alternateBase())
        if current:
            painter.setPen(QPen(self.palette().highlight().color(), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(box.adjusted(1, 1, -1, -1))
        metrics = QFontMetrics(self.font())
        inner = box.adjusted(6, 3, -6, 0)
        painter.setPen(RED if bad else QColor("#1e293b"))
        text = f"v{ev.version:,} · {ev.summary}"
        painter.drawText(
            QRect(inner.left(), inner.top(), inner.width(), LINE_H),
            Qt.AlignmentFlag.AlignLeft,
            metrics.elidedText(text, Qt.TextElideMode.ElideRight, inner.width()),
        )
        y = inner.top() + LINE_H
        if bad:
            painter.drawText(
                QRect(inner.left(), y, inner.width(), LINE_H),
                Qt.AlignmentFlag.AlignLeft,
                metrics.elidedText(
                    "✗ " + "; ".join(ev.integrity.reasons),
                    Qt.TextElideMode.ElideRight,
                    inner.width(),
                ),
            )
            y += LINE_H
        self._paint_notes(painter, row.notes, inner.left(), y, inner.width(), False, cap=2)


def card_title(card: AuditCard, roles: Mapping[int, str] | None = None) -> str:
    """``Place order · by maria on WS-3 · 4 events`` (a run: ``12 quantity changes · …``);
    ``roles`` (position -> server role, a shared store) adds ``as <role>``."""
    return f"{card.title} · {card.byline((roles or {}).get(card.first.position))}"


def card_lines(card: AuditCard, currency: str) -> list[tuple[str, bool]]:
    """The text lines under a card's title, each with "is it a problem"."""
    from desktop_app.application.business_summaries import money

    lines: list[tuple[str, bool]] = []
    if card.kind == "run":
        span = f"{format_date(card.first.recorded_at)} – {format_date(card.last.recorded_at)}"
        delta = card.delta
        total = f", {money(delta, currency, signed=True)}" if delta is not None else ""
        lines.append((f"v{card.first.version:,}–v{card.last.version:,} · {span}{total}", False))
        lines.append(("▸ click or press Enter to show each one", False))
    else:
        for ev in card.events[:MAX_LINES]:
            lines.append((ev.summary, False))
        if len(card.events) > MAX_LINES:
            lines.append((f"+ {len(card.events) - MAX_LINES:,} more (see details)", False))
    for ev in card.events:
        if ev.integrity.state == BAD:
            lines.append((f"✗ v{ev.version}: " + "; ".join(ev.integrity.reasons), True))
    return lines


def integrity_badge(events: tuple[AuditEvent, ...]) -> tuple[str, QColor]:
    """The badge text and colour for a set of events."""
    if any(ev.integrity.state == BAD for ev in events):
        return "✗ integrity", RED
    if all(ev.integrity.state == OK for ev in events):
        return "✓ chain · rules", GREEN
    if all(ev.integrity.meaning_checked for ev in events):
        return "✓ rules · chain not checked", GREY
    return "not checked", GREY
