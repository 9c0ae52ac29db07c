"""The order list's date-range filter: by the day an order was placed or last changed, with
quick choices (today, this week, this month) and a custom range of days. One compact drop-down
button in the filter bar (like the status filter); a custom range is picked in a small dialog.
Days are the clerk's local calendar days; the query gets time-zone-aware bounds [start, end)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from PySide6.QtCore import QDate, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import (
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QMenu,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.ui.orders.form_base import guarded
from desktop_app.ui.orders.form_fields import FieldError

PRESETS: tuple[tuple[str, str], ...] = (
    ("any", "Any time"),
    ("today", "Today"),
    ("week", "This week"),
    ("month", "This month"),
    ("custom", "Custom range…"),
)
COLUMNS: tuple[tuple[str, str], ...] = (("placed_at", "Placed"), ("updated_at", "Last change"))
_SHORT = {"placed_at": "Placed", "updated_at": "Changed"}


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


def _day_text(day: date) -> str:
    return day.isoformat()


class CustomRangeDialog(QDialog):
    """From and to day (both included). An end before the start is said beside the dates and
    the dialog stays open; nothing is applied until the range is valid."""

    def __init__(self, first: date, last: date, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Orders in a date range")
        self.from_edit = QDateEdit(_qdate(first), self)
        self.from_edit.setObjectName("dateFrom")
        self.to_edit = QDateEdit(_qdate(last), self)
        self.to_edit.setObjectName("dateTo")
        self.error = FieldError(self, self.to_edit)
        self.error.setObjectName("dateError")
        for edit in (self.from_edit, self.to_edit):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.dateChanged.connect(lambda _d: self.error.set_message(None))
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("&From", self.from_edit)
        form.addRow("&To (included)", self.to_edit)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.from_edit.setFocus()

    def days(self) -> tuple[date, date]:
        """The chosen first and last day."""
        return _pydate(self.from_edit.date()), _pydate(self.to_edit.date())

    def accept(self) -> None:
        first, last = self.days()
        if last < first:
            self.error.set_message("The end date is before the start date.")
            self.to_edit.setFocus()
            return
        super().accept()


class DateRangeFilter(QToolButton):
    """A drop-down: filter by placed / last change, and a quick choice or a custom range.
    ``changed(DateRange)`` whenever the range to list changes."""

    changed = Signal(object)

    def __init__(
        self, parent: QWidget | None = None, *, today: Callable[[], date] = date.today
    ) -> None:
        super().__init__(parent)
        self.setObjectName("dateFilter")
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.setToolTip("Show only orders placed or last changed on these days")
        self._today = today
        self.current = DateRange()
        self.preset = "any"
        self.custom_days: tuple[date, date] | None = None
        self.custom_dialog: CustomRangeDialog | None = None
        menu = QMenu(self)
        menu.addSection("Filter by")
        columns = QActionGroup(self)
        self.column_actions: dict[str, QAction] = {}
        for key, text in COLUMNS:
            action = menu.addAction(text)
            action.setCheckable(True)
            action.setChecked(key == "placed_at")
            columns.addAction(action)
            action.triggered.connect(guarded(self, lambda _c=False, k=key: self.set_column(k)))
            self.column_actions[key] = action
        menu.addSection("Days")
        presets = QActionGroup(self)
        self.preset_actions: dict[str, QAction] = {}
        for key, text in PRESETS:
            action = menu.addAction(text)
            action.setCheckable(True)
            action.setChecked(key == "any")
            presets.addAction(action)
            action.triggered.connect(guarded(self, lambda _c=False, k=key: self.set_preset(k)))
            self.preset_actions[key] = action
        self.setMenu(menu)
        self._update_text()

    # --- choosing -------------------------------------------------------------------------

    def set_column(self, column: str) -> None:
        """Filter by "placed_at" or "updated_at"."""
        self.column_actions[column].setChecked(True)
        self._apply()

    def set_preset(self, preset: str) -> None:
        """A quick choice ("any", "today", "week", "month"); "custom" opens the range dialog."""
        if preset == "custom":
            self.open_custom()
            return
        self.preset = preset
        self.preset_actions[preset].setChecked(True)
        self._apply()

    def set_custom(self, first: date, last: date) -> None:
        """A custom range of days, both included (``first`` <= ``last``)."""
        if last < first:
            raise ValueError("the end day is before the start day")
        self.custom_days = (first, last)
        self.preset = "custom"
        self.preset_actions["custom"].setChecked(True)
        self._apply()

    def open_custom(self) -> CustomRangeDialog:
        """Open the custom range dialog (window-modal, non-blocking); returns it."""
        today = self._today()
        first, last = self.custom_days or (today, today)
        if self.custom_dialog is not None:
            self.custom_dialog.close()
        dialog = CustomRangeDialog(first, last, self.window())
        self.custom_dialog = dialog

        def finished(code: int) -> None:
            self.custom_dialog = None
            if code == QDialog.DialogCode.Accepted:
                self.set_custom(*dialog.days())
            else:  # keep showing what is applied
                self.preset_actions[self.preset].setChecked(True)
            dialog.deleteLater()

        dialog.finished.connect(guarded(self, finished))
        dialog.open()
        return dialog

    # --- state ----------------------------------------------------------------------------

    def column(self) -> str:
        """The time column filtered by."""
        return next(k for k, a in self.column_actions.items() if a.isChecked())

    def days(self) -> tuple[date, date] | None:
        """The first and last day shown (None: any time)."""
        if self.preset == "custom":
            return self.custom_days
        return preset_days(self.preset, self._today())

    def _apply(self) -> None:
        days = self.days()
        column = self.column()
        new = DateRange(column) if days is None else DateRange(column, *days_range(*days))
        self._update_text()
        if new != self.current:
            self.current = new
            self.changed.emit(new)

    def _update_text(self) -> None:
        label = dict(PRESETS)[self.preset]
        if self.preset == "any":
            self.setText("Date: any")
            return
        if self.preset == "custom" and self.custom_days is not None:
            first, last = self.custom_days
            label = _day_text(first) if first == last else f"{_day_text(first)} – {_day_text(last)}"
        else:
            label = label.lower()
        self.setText(f"{_SHORT[self.column()]}: {label}")
