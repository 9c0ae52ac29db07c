"""The event browser's filter bar: user, host, from, to, event type, command id, correlation id
and whether refused commands show. Wraps onto a second line in a narrow window (FlowLayout).

Times are the auditor's local time; an empty "From"/"To" (its special "any" value) leaves that
end open. A filter that cannot be asked (the end before the start) is refused with a message
beside the bar and changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import QDateTime, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.application.event_browser import EVENT_TYPES, LogFilter
from desktop_app.ui.browser.model import event_words
from desktop_app.ui.flow_layout import FlowLayout

ANY = "any"
_FLOOR = QDateTime.fromString("2000-01-01T00:00:00", Qt.DateFormat.ISODate)
"""The "any" value of the time fields (their minimum, shown as the special text)."""


def _labelled(label: str, field: QWidget, buddy_name: str) -> QWidget:
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(4)
    text = QLabel(label)
    text.setObjectName(f"{buddy_name}Label")
    text.setBuddy(field)
    # Never squeezed by the field beside it (a wrapped bar gives the pair its size hint).
    # (Measured without kerning: "To" kerned is narrower than Qt then draws it.)
    plain = label.replace("&", "")
    text.setMinimumWidth(sum(text.fontMetrics().horizontalAdvance(ch) for ch in plain) + 4)
    row.addWidget(text)
    row.addWidget(field)
    return box


class FilterBar(QWidget):
    """The filter fields; :attr:`applied` carries a checked :class:`LogFilter`."""

    applied = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("browserFilters")
        self.user = self._line("filterUser", "any user", 9)
        self.host = self._line("filterHost", "any host", 8)
        self.since = self._time("filterSince")
        self.until = self._time("filterUntil")
        self.event_type = QComboBox()
        self.event_type.setObjectName("filterEventType")
        self.event_type.addItem("Any event", None)
        for name in EVENT_TYPES:
            self.event_type.addItem(event_words(name), name)
        self.command = self._line("filterCommand", "command id", 12)
        self.correlation = self._line("filterCorrelation", "correlation id", 12)
        self.refused = QCheckBox("&Refused commands")
        self.refused.setObjectName("filterRefused")
        self.refused.setChecked(True)
        self.refused.setToolTip("Show refused commands (grey rows) among the events")
        self.apply_button = QPushButton("&Show")
        self.apply_button.setObjectName("filterApply")
        self.apply_button.setDefault(True)
        self.apply_button.clicked.connect(self.apply)
        self.clear_button = QPushButton("C&lear")
        self.clear_button.setObjectName("filterClear")
        self.clear_button.clicked.connect(self.clear)
        self.error = QLabel("")
        self.error.setObjectName("filterError")
        self.error.setStyleSheet("color: #b00020;")
        self.error.setWordWrap(True)
        self.error.hide()

        flow = FlowLayout()
        for widget in (
            _labelled("&User", self.user, "filterUser"),
            _labelled("&Host", self.host, "filterHost"),
            _labelled("&From", self.since, "filterSince"),
            _labelled("&To", self.until, "filterUntil"),
            _labelled("&Event", self.event_type, "filterEventType"),
            _labelled("Co&mmand", self.command, "filterCommand"),
            _labelled("C&orrelation", self.correlation, "filterCorrelation"),
            self.refused,
            self.apply_button,
            self.clear_button,
        ):
            flow.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 0)
        layout.addLayout(flow)
        layout.addWidget(self.error)
        for line in (self.user, self.host, self.command, self.correlation):
            line.returnPressed.connect(self.apply)
            line.textEdited.connect(self._hide_error)
        for edit in (self.since, self.until):
            edit.dateTimeChanged.connect(self._hide_error)

    @staticmethod
    def _line(name: str, placeholder: str, chars: int) -> QLineEdit:
        line = QLineEdit()
        line.setObjectName(name)
        line.setPlaceholderText(placeholder)
        line.setClearButtonEnabled(True)
        line.setMinimumWidth(line.fontMetrics().averageCharWidth() * chars + 30)
        line.setMaxLength(200)
        return line

    @staticmethod
    def _time(name: str) -> QDateTimeEdit:
        edit = QDateTimeEdit()
        edit.setObjectName(name)
        edit.setDisplayFormat("yyyy-MM-dd HH:mm")
        edit.setCalendarPopup(True)
        edit.setMinimumDateTime(_FLOOR)
        edit.setSpecialValueText(ANY)  # shown while the value is the minimum: no bound
        edit.setDateTime(_FLOOR)
        edit.setToolTip("Local time; 'any' leaves this end of the window open")
        return edit

    # --- reading and writing the fields ---------------------------------------------------

    @staticmethod
    def _when(edit: QDateTimeEdit) -> datetime | None:
        value = edit.dateTime()
        if value <= _FLOOR:
            return None
        return datetime.fromtimestamp(value.toSecsSinceEpoch(), UTC)

    @staticmethod
    def set_when(edit: QDateTimeEdit, value: datetime | None) -> None:
        """Put ``value`` (aware) into a time field in local time; None: "any"."""
        if value is None:
            edit.setDateTime(_FLOOR)
        else:
            edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(value.timestamp())))

    def current(self) -> LogFilter:
        """The fields as a filter; ``ValueError`` with a readable message when they cannot be
        asked (nothing is changed)."""

        def text(line: QLineEdit) -> str | None:
            return line.text().strip() or None

        return LogFilter(
            user=text(self.user),
            host=text(self.host),
            since=self._when(self.since),
            until=self._when(self.until),
            event_type=self.event_type.currentData(),
            command_id=text(self.command),
            correlation_id=text(self.correlation),
            rejections=self.refused.isChecked(),
        )

    def show_filter(self, where: LogFilter) -> None:
        """Fill the fields from ``where`` (without applying)."""
        self.user.setText(where.user or "")
        self.host.setText(where.host or "")
        self.set_when(self.since, where.since)
        self.set_when(self.until, where.until)
        found = self.event_type.findData(where.event_type)
        self.event_type.setCurrentIndex(max(found, 0))
        self.command.setText(where.command_id or "")
        self.correlation.setText(where.correlation_id or "")
        self.refused.setChecked(where.rejections)

    def apply(self) -> None:
        """Check the fields and emit :attr:`applied`, or show why not."""
        try:
            where = self.current()
        except ValueError as exc:
            message = str(exc)
            if "after its start" in message:
                message = "The 'To' time must be after the 'From' time."
            self.error.setText(message)
            self.error.show()
            return
        self._hide_error()
        self.applied.emit(where)

    def clear(self) -> None:
        """Every field back to "any", then apply."""
        self.show_filter(LogFilter())
        self.apply()

    def _hide_error(self) -> None:
        if self.error.isVisible():
            self.error.hide()
            self.error.clear()


__all__ = ["FilterBar"]
