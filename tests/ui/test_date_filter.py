"""The orders list's date-range filter through the real widgets, the real query bus and a
real read model on a SQLite file."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QDialogButtonBox

from desktop_app.ui.orders.date_filter import (
    CustomRangeDialog,
    DateRange,
    DateRangeFilter,
    days_range,
    preset_days,
)
from desktop_app.ui.orders.list_view import OrdersListView
from tests.ui.conftest import ListedOrders, make_row

LEFT = Qt.MouseButton.LeftButton


def test_quick_choices_are_local_calendar_days() -> None:
    wednesday = date(2026, 12, 9)
    assert preset_days("today", wednesday) == (wednesday, wednesday)
    assert preset_days("week", wednesday) == (date(2026, 12, 7), date(2026, 12, 13))
    assert preset_days("month", wednesday) == (date(2026, 12, 1), date(2026, 12, 31))
    assert preset_days("month", date(2024, 2, 10)) == (date(2024, 2, 1), date(2024, 2, 29))
    assert preset_days("any", wednesday) is None
    start, end = days_range(wednesday, wednesday)
    assert start.tzinfo is not None and end - start in (
        timedelta(hours=23),
        timedelta(hours=24),
        timedelta(hours=25),  # a daylight-saving day
    )
    assert start.astimezone().date() == wednesday and start.astimezone().hour == 0


def test_widget_emits_ranges_and_refuses_an_end_before_the_start(qtbot: Any) -> None:
    widget = DateRangeFilter(today=lambda: date(2024, 1, 3))
    qtbot.addWidget(widget)
    widget.show()
    assert widget.text() == "Date: any"
    with qtbot.waitSignal(widget.changed, timeout=1000) as emitted:
        widget.preset_actions["today"].trigger()  # as a click in the drop-down does
    assert emitted.args[0] == DateRange(
        "placed_at", *days_range(date(2024, 1, 3), date(2024, 1, 3))
    )
    assert widget.text() == "Placed: today"
    with qtbot.waitSignal(widget.changed, timeout=1000) as emitted:
        widget.column_actions["updated_at"].trigger()
    assert emitted.args[0].column == "updated_at" and widget.text() == "Changed: today"

    widget.preset_actions["custom"].trigger()
    dialog = widget.custom_dialog
    assert isinstance(dialog, CustomRangeDialog)
    qtbot.waitExposed(dialog)
    dialog.from_edit.setDate(QDate(2024, 1, 5))
    dialog.to_edit.setDate(QDate(2024, 1, 4))
    with qtbot.assertNotEmitted(widget.changed):
        qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), LEFT)
    assert dialog.error.message() == "The end date is before the start date."
    assert dialog.isVisible()  # nothing applied, nothing typed lost
    dialog.to_edit.setDate(QDate(2024, 1, 7))
    assert dialog.error.message() == ""  # gone once the cause is fixed
    with qtbot.waitSignal(widget.changed, timeout=1000) as emitted:
        qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), LEFT)
    assert emitted.args[0] == DateRange(
        "updated_at", *days_range(date(2024, 1, 5), date(2024, 1, 7))
    )
    assert widget.text() == "Changed: 2024-01-05 – 2024-01-07"

    # Cancelling the custom dialog keeps the applied range.
    widget.preset_actions["custom"].trigger()
    cancelled = widget.custom_dialog
    assert cancelled is not None
    with qtbot.assertNotEmitted(widget.changed):
        cancelled.reject()
    assert widget.preset_actions["custom"].isChecked()
    with qtbot.waitSignal(widget.changed, timeout=1000) as emitted:
        widget.preset_actions["any"].trigger()
    assert emitted.args[0] == DateRange("updated_at") and widget.text() == "Date: any"


def test_list_view_filters_by_the_chosen_days(qtbot: Any, tasks: Any, listed: Any) -> None:
    # 3,000 orders placed a minute apart from 1 January 2024 08:00 UTC (about two days).
    queries: ListedOrders = listed(3000)
    view = OrdersListView(queries, tasks)
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.model.loaded, timeout=5000):
        view.start()
    assert view.count_label.text() == "3,000 orders"
    first = date(2024, 1, 2)
    start, end = days_range(first, first)
    expected = [make_row(i) for i in range(3000) if start <= make_row(i).placed_at < end]
    assert 0 < len(expected) < 3000
    with qtbot.waitSignal(view.model.loaded, timeout=5000):
        view.date_filter.set_custom(first, first)
    last = queries.list_calls()[-1]
    assert (last.date_column, last.date_from, last.date_to) == ("placed_at", start, end)
    assert view.model.rowCount() == len(expected)
    assert view.count_label.text() == f"{len(expected):,} orders"
    numbers = {view.model.row_at(r).order_number for r in range(min(50, len(expected)))}  # type: ignore[union-attr]
    assert numbers <= {row.order_number for row in expected}
    # The status filter and the date range combine.
    with qtbot.waitSignal(view.model.loaded, timeout=5000):
        view.status_filter.actions_by_status["delivered"].setChecked(True)
    delivered = [r for r in expected if r.status == "delivered"]
    assert view.model.rowCount() == len(delivered)
    with qtbot.waitSignal(view.model.loaded, timeout=5000):
        view.date_filter.set_preset("any")
    assert view.model.rowCount() == 600  # every fifth order is delivered
    assert isinstance(last.date_from, datetime)
