"""The order list's date-range filter: placed or last change, with quick choices (today, this
week, this month) and a custom range of days. Days are the clerk's local calendar days; the
query gets time-zone-aware bounds [start, end)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from PySide6.QtCore import QDate, Signal
from PySide6.QtWidgets import QComboBox, QDateEdit, QHBoxLayout, QLabel, QWidget

from desktop_app.ui.orders.form_base import FieldError

PRESETS: tuple[tuple[str, str], ...] = (
    ("any", "Any time"),
    ("today", "Today"),
    ("week", "This week"),
    ("month", "This month"),
    ("custom", "Custom range…"),
)
COLUMNS: tuple[tuple[str, str], ...] = (("placed_at", "Placed"), ("updated_at", "Last change"))


@dataclass(frozen=True, slots=True)
class DateRange:
    """What the filter asks for: the time column and its bounds (None: unbounded)."""

    column: str = "placed_at"
    start: datetime | None = None
    end: datetime | None = None


def local_midnight(day: date) -> datetime:
    """The start of ``day`` in the local time zone, as an aware datetime."""
    return datetime.combine(day, time.min).astimezone()


def days_range(first: date, last: date) -> tuple[datetime, datetime]:
    """[first 00:00, the day after last 00:00) in local time."""
    return local_midnight(first), local_midnight(last + timedelta(days=1))


def preset_days(preset: str, today: date) -> tuple[date, date] | None:
    """First and last day of a quick choice (weeks start on Monday); None for "any"."""
    if preset == "today":
        return today, today
    if preset == "week":
        monday = today - timedelta(days=today.weekday())
        return monday, monday + timedelta(days=6)
    if preset == "month":
        first = today.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return first, following - timedelta(days=1)
    return None


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _pydate(day: QDate) -> date:
    return date(day.year(), day.month(), day.day())


class DateRangeFilter(QWidget):
    """Column + quick choice (+ from/to days for a custom range). ``changed(DateRange)`` when
    the range to list changes; an end before the start is said beside the dates, not applied."""

    changed = Signal(object)

    def __init__(
        self, parent: QWidget | None = None, *, today: Callable[[], date] = date.today
    ) -> None:
        super().__init__(parent)
        self._today = today
        self.current = DateRange()
        self.column_combo = QComboBox(self)
        self.column_combo.setObjectName("dateColumn")
        self.column_combo.setToolTip("Filter by the day the order was placed or last changed")
        for key, text in COLUMNS:
            self.column_combo.addItem(text, key)
        self.preset_combo = QComboBox(self)
        self.preset_combo.setObjectName("datePreset")
        for key, text in PRESETS:
            self.preset_combo.addItem(text, key)
        self.from_edit = QDateEdit(self)
        self.from_edit.setObjectName("dateFrom")
        self.to_edit = QDateEdit(self)
        self.to_edit.setObjectName("dateTo")
        for edit in (self.from_edit, self.to_edit):
            edit.setCalendarPopup(True)
            edit.setDate(_qdate(today()))
            edit.hide()
        self.to_label = QLabel("to", self)
        self.to_label.hide()
        self.error = FieldError(self)
        self.error.setObjectName("dateError")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.column_combo)
        layout.addWidget(self.preset_combo)
        layout.addWidget(self.from_edit)
        layout.addWidget(self.to_label)
        layout.addWidget(self.to_edit)
        layout.addWidget(self.error)
        self.setTabOrder(self.column_combo, self.preset_combo)
        self.setTabOrder(self.preset_combo, self.from_edit)
        self.setTabOrder(self.from_edit, self.to_edit)
        self.column_combo.currentIndexChanged.connect(self._update)
        self.preset_combo.currentIndexChanged.connect(self._update)
        self.from_edit.dateChanged.connect(self._update)
        self.to_edit.dateChanged.connect(self._update)

    def set_preset(self, preset: str) -> None:
        """Choose a quick choice by key ("any", "today", "week", "month", "custom")."""
        self.preset_combo.setCurrentIndex(self.preset_combo.findData(preset))

    def set_column(self, column: str) -> None:
        """Filter by "placed_at" or "updated_at"."""
        self.column_combo.setCurrentIndex(self.column_combo.findData(column))

    def set_custom(self, first: date, last: date) -> None:
        """A custom range of days, both included."""
        self.from_edit.setDate(_qdate(first))
        self.to_edit.setDate(_qdate(last))
        self.set_preset("custom")

    def _update(self) -> None:
        preset = str(self.preset_combo.currentData())
        custom = preset == "custom"
        for widget in (self.from_edit, self.to_label, self.to_edit):
            widget.setVisible(custom)
        column = str(self.column_combo.currentData())
        if custom:
            first, last = _pydate(self.from_edit.date()), _pydate(self.to_edit.date())
            if last < first:
                self.error.set_message("The end date is before the start date.")
                return
            days: tuple[date, date] | None = (first, last)
        else:
            days = preset_days(preset, self._today())
        self.error.set_message(None)
        new = DateRange(column) if days is None else DateRange(column, *days_range(*days))
        if new != self.current:
            self.current = new
            self.changed.emit(new)
