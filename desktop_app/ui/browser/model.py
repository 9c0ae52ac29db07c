"""The event browser's table: one page of :class:`LogRow` at a time (the query pages by key;
the model never holds more than a page, so a million-event log costs what one page does).

Refused commands are grey, italic rows marked "Refused" in the What column: they are not
events and changed nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from desktop_app.application.event_browser import LogRow, command_words
from desktop_app.ui import formatting as fmt

COLUMNS: tuple[tuple[str, str], ...] = (
    ("when", "When"),
    ("user", "Who"),
    ("host", "Where"),
    ("subject", "About"),
    ("what", "What"),
    ("summary", "Summary"),
)
"""(key, header) of each column, left to right."""

REFUSED_TIP = "A refused command: recorded, but not an event — it changed nothing."
_GREY_TEXT = QColor("#6b6b6b")
_GREY_BACK = QColor("#f0f0f0")

Index = QModelIndex | QPersistentModelIndex


def event_words(type_name: str) -> str:
    """``OrderShipped`` → ``"Order shipped"``; an order's line, note and address events drop
    "Order" (the About column names the order): ``"Line quantity changed"``."""
    words = command_words(type_name)
    if words.startswith("order ") and words.count(" ") > 1:
        words = words.removeprefix("order ")
    return words[:1].upper() + words[1:]


def what_text(row: LogRow) -> str:
    """The What column: the event type in words, or "Refused · <command>"."""
    if row.kind == "rejection":
        return f"Refused · {command_words(row.type_name)}"
    return event_words(row.type_name)


class LogTableModel(QAbstractTableModel):
    """The rows of the page on screen, newest first."""

    def __init__(self, parent: object | None = None) -> None:
        super().__init__(parent)  # type: ignore[arg-type]
        self._rows: list[LogRow] = []
        self._italic = QFont()
        self._italic.setItalic(True)

    def set_rows(self, rows: Sequence[LogRow]) -> None:
        """Show another page."""
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def row_at(self, row: int) -> LogRow | None:
        """The log row shown at ``row`` (None outside the page)."""
        return self._rows[row] if 0 <= row < len(self._rows) else None

    @property
    def rows(self) -> tuple[LogRow, ...]:
        """The page on screen."""
        return tuple(self._rows)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt API
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt API
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(COLUMNS)
        ):
            return COLUMNS[section][1]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        row = self.row_at(index.row()) if index.isValid() else None
        if row is None or not 0 <= index.column() < len(COLUMNS):
            return None
        refused = row.kind == "rejection"
        key = COLUMNS[index.column()][0]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(row, key)
        if role == Qt.ItemDataRole.ToolTipRole:
            if refused:
                return f"{REFUSED_TIP}\n{row.summary}"
            return row.summary if key == "summary" else None
        if refused and role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(_GREY_TEXT)
        if refused and role == Qt.ItemDataRole.BackgroundRole:
            return QBrush(_GREY_BACK)
        if refused and role == Qt.ItemDataRole.FontRole:
            return self._italic
        if role == Qt.ItemDataRole.UserRole:
            return row
        return None

    @staticmethod
    def _text(row: LogRow, key: str) -> str:
        if key == "when":
            return fmt.format_datetime(row.recorded_at, seconds=True)
        if key == "user":
            return row.user
        if key == "host":
            return row.host
        if key == "subject":
            return row.subject
        if key == "what":
            return what_text(row)
        return row.summary


__all__ = ["COLUMNS", "REFUSED_TIP", "LogTableModel", "event_words", "what_text"]
