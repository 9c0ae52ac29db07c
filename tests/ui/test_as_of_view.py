"""View ▸ Desk as of…: the whole order list as it was at a past moment, read-only (issue 11)."""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PySide6.QtCore import QDateTime, Qt, QTimer
from PySide6.QtWidgets import QApplication, QMenu

from desktop_app.application import commands as c
from desktop_app.application.export import CSV_HEADER, record_cells
from desktop_app.application.queries import ListOrders, OrderRow
from desktop_app.ui.bridge import Bridge
from desktop_app.ui.orders.as_of import AsOfDialog
from desktop_app.ui.orders.as_of_mode import AsOfMode
from desktop_app.ui.tasks import TaskRunner
from tests.ui.conftest import RealApp, open_real_window
from tests.ui.test_window_fits import _clipped


def _live_rows(real: RealApp) -> list[OrderRow]:
    rows: list[OrderRow] = []
    after = None
    while True:
        page = real.app.queries.ask(ListOrders(limit=500, after=after, with_total=False))
        rows += page.rows
        after = page.next_after
        if after is None:
            return sorted(rows)


def _change_the_desk(real: RealApp, rows: list[OrderRow]) -> None:
    """Cancel the pending orders and place one more: the live list is no longer the old one."""
    for row in rows:
        if row.status == "pending":
            real.app.commands.dispatch(
                c.CancelOrder(
                    command_id=f"cancel-{row.order_id}", order_id=row.order_id, reason="x"
                )
            )
    real.catch_up()


def _shown(mode: AsOfMode) -> list[OrderRow]:
    assert mode.view is not None
    model = mode.view.model
    return sorted(model.row_at(i) for i in range(model.rowCount()))  # type: ignore[type-var]


def test_the_desk_as_of_a_moment_is_the_list_shown_then_read_only(
    qtbot: Any, real_app: RealApp, bridge: Bridge, tasks: TaskRunner, ui_settings: Any
) -> None:
    win = open_real_window(qtbot, real_app, bridge, tasks, ui_settings, size=(1280, 800))
    then = _live_rows(real_app)
    assert any(row.status == "pending" for row in then)
    moment = datetime.now(UTC)
    qtbot.waitUntil(lambda: datetime.now(UTC) > moment)  # later events are recorded after it
    _change_the_desk(real_app, then)
    assert _live_rows(real_app) != then
    mode = win.as_of
    assert mode.action in win.menuBar().findChild(QMenu, "menuView").actions()
    assert mode.action.shortcut().toString() == "Ctrl+Shift+T"

    with qtbot.waitSignal(mode.shown, timeout=20000):
        mode.show_at(moment.astimezone())
    view = mode.view
    assert view is not None and mode.active
    assert _shown(mode) == then
    assert view.title.text().startswith("As of ") and view.title.text().endswith("— read-only")
    assert f"{len(then):,} orders" in view.details.text()
    # The live desk is out of the way and nothing can change anything.
    assert not win.splitter.isVisible()
    assert not win.action_new_order.isEnabled()
    panel = win.tabs.detail_panel
    assert panel is not None
    changing = [a for a in panel.actions() if a.text()]
    assert changing and not any(a.isEnabled() for a in changing)
    assert win.live.paused
    # An action that something re-enables meanwhile is disabled again at once.
    win.action_new_order.setEnabled(True)
    assert not win.action_new_order.isEnabled()

    # Ctrl+F goes to this list's filter, which narrows the shown rows; sorting by total
    # works on every row.
    view.table.setFocus()
    qtbot.keyClick(view.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert view.search.hasFocus()
    number = then[0].order_number
    view.search.setText(number)
    assert [view.model.row_at(i).order_number for i in range(view.model.rowCount())] == [number]  # type: ignore[union-attr]
    view.search.clear()
    view.table.sortByColumn(4, Qt.SortOrder.AscendingOrder)
    totals = [view.model.row_at(i).total_minor for i in range(view.model.rowCount())]  # type: ignore[union-attr]
    assert totals == sorted(totals)

    qtbot.keyClick(view.table, Qt.Key.Key_Escape)
    assert not mode.active and win.splitter.isVisible()
    assert win.action_new_order.isEnabled() and not win.live.paused


def test_the_menu_action_asks_for_a_moment_and_other_date_asks_again(
    qtbot: Any, real_app: RealApp, bridge: Bridge, tasks: TaskRunner, ui_settings: Any
) -> None:
    win = open_real_window(qtbot, real_app, bridge, tasks, ui_settings, size=(1280, 800))
    seen: list[AsOfDialog] = []

    def accept() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, AsOfDialog)
        seen.append(dialog)
        # One minute before the first order: an empty desk, said so in words.
        dialog.edit.setDateTime(QDateTime(datetime(2000, 1, 1, 12, 0)))
        dialog.accept()

    QTimer.singleShot(0, accept)
    with qtbot.waitSignal(win.as_of.shown, timeout=20000):
        win.as_of.action.trigger()
    view = win.as_of.view
    assert view is not None and view.model.rowCount() == 0
    assert "No order had been placed yet" in view.details.text()
    QTimer.singleShot(0, lambda: QApplication.activeModalWidget().reject())  # type: ignore[union-attr]
    view.change_button.click()  # cancelled: the same view stays
    assert win.as_of.active and len(seen) == 1
    view.back_button.click()
    assert not win.as_of.active


@pytest.fixture
def madrid() -> Iterator[None]:
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Madrid"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_the_picked_time_is_local_wall_clock_time(qtbot: Any, madrid: None) -> None:
    dialog = AsOfDialog()
    qtbot.addWidget(dialog)
    dialog.edit.setDateTime(QDateTime(datetime(2026, 3, 12, 14, 0)))
    moment = dialog.moment()
    assert moment.utcoffset() is not None
    # 14:00 in Madrid in March (CET, UTC+1) is 13:00 UTC; in July (CEST) 12:00 UTC.
    assert moment.astimezone(UTC) == datetime(2026, 3, 12, 13, 0, tzinfo=UTC)
    dialog.edit.setDateTime(QDateTime(datetime(2026, 7, 12, 14, 0)))
    assert dialog.moment().astimezone(UTC) == datetime(2026, 7, 12, 12, 0, tzinfo=UTC)
    # No moment in the future can be picked.
    assert dialog.edit.maximumDateTime().toPython() <= datetime.now() + timedelta(minutes=1)


def test_nothing_is_clipped_at_1024(
    qtbot: Any, real_app: RealApp, bridge: Bridge, tasks: TaskRunner, ui_settings: Any
) -> None:
    win = open_real_window(qtbot, real_app, bridge, tasks, ui_settings, size=(1024, 768))
    with qtbot.waitSignal(win.as_of.shown, timeout=20000):
        win.as_of.show_at(datetime.now(UTC))
    view = win.as_of.view
    assert view is not None
    QApplication.processEvents()
    assert win.width() == 1024
    for widget in (view.title, view.export_button, view.change_button, view.back_button):
        assert _clipped(widget) is None, _clipped(widget)
    view.back_button.click()

    # The audit view's "State at" row fits too (beside the jump bar it widened the window).
    order_id = win.orders.model.row_at(0).order_id  # type: ignore[union-attr]
    assert win.orders.select_order(order_id)
    win.audit.enter()
    audit = win.audit.view
    assert audit is not None
    qtbot.waitUntil(lambda: audit.audit is not None, timeout=10000)
    QApplication.processEvents()
    assert win.width() == 1024
    for widget in (audit.state_at.edit, audit.state_at.button, audit.back_button):
        assert _clipped(widget) is None, _clipped(widget)


def test_closing_in_as_of_mode_saves_the_live_layout(
    qtbot: Any, real_app: RealApp, bridge: Bridge, tasks: TaskRunner, ui_settings: Any
) -> None:
    win = open_real_window(qtbot, real_app, bridge, tasks, ui_settings, size=(1280, 800))
    sizes = win.splitter.sizes()
    with qtbot.waitSignal(win.as_of.shown, timeout=20000):
        win.as_of.show_at(datetime.now(UTC))
    win.close()
    assert not win.as_of.active and win.splitter.isVisibleTo(win)
    assert win.splitter.sizes() == sizes


def test_an_order_opens_in_the_audit_view_at_its_version_then(
    qtbot: Any, real_app: RealApp, bridge: Bridge, tasks: TaskRunner, ui_settings: Any
) -> None:
    win = open_real_window(qtbot, real_app, bridge, tasks, ui_settings, size=(1280, 800))
    then = _live_rows(real_app)
    moment = datetime.now(UTC)
    qtbot.waitUntil(lambda: datetime.now(UTC) > moment)
    _change_the_desk(real_app, then)
    with qtbot.waitSignal(win.as_of.shown, timeout=20000):
        win.as_of.show_at(moment.astimezone())
    view = win.as_of.view
    assert view is not None
    model = view.model
    row = next(i for i in range(model.rowCount()) if model.row_at(i).status == "pending")  # type: ignore[union-attr]
    shown = model.row_at(row)
    assert shown is not None
    index = model.index(row, 0)
    view.table.setCurrentIndex(index)
    with qtbot.waitSignal(
        win.audit.view_loaded if hasattr(win.audit, "view_loaded") else view.order_opened,
        timeout=10000,
    ):
        qtbot.keyClick(view.table, Qt.Key.Key_Return)
    assert not win.as_of.active and win.audit.active
    audit = win.audit.view
    assert audit is not None
    qtbot.waitUntil(lambda: audit.audit is not None and audit.audit.order_id == shown.order_id)
    qtbot.waitUntil(lambda: audit.canvas.current is not None and win.audit._jump_to is None)

    def selected_versions() -> tuple[int, int]:
        chosen = audit.canvas.rows[audit.canvas.current]  # type: ignore[index]
        if chosen.event is not None:
            return chosen.event.version, chosen.event.version
        card = audit.canvas.cards[chosen.card]
        return card.first.version, card.last.version

    # The event (or the one command's card holding it) at the order's version then.
    qtbot.waitUntil(lambda: selected_versions()[0] <= shown.version <= selected_versions()[1])
    # The order was cancelled since: its live version is higher than the one shown then.
    assert audit.audit.events[-1].version > shown.version
    assert audit.state_at.moment() == moment.astimezone().replace(microsecond=0)


def test_the_rows_shown_export_to_csv_as_the_list_export_writes_them(
    qtbot: Any,
    real_app: RealApp,
    bridge: Bridge,
    tasks: TaskRunner,
    ui_settings: Any,
    tmp_path: Any,
) -> None:
    win = open_real_window(qtbot, real_app, bridge, tasks, ui_settings, size=(1280, 800))
    then = _live_rows(real_app)
    moment = datetime.now(UTC)
    qtbot.waitUntil(lambda: datetime.now(UTC) > moment)
    _change_the_desk(real_app, then)
    with qtbot.waitSignal(win.as_of.shown, timeout=20000):
        win.as_of.show_at(moment)
    view = win.as_of.view
    assert view is not None
    view.table.sortByColumn(4, Qt.SortOrder.AscendingOrder)  # by total
    target = tmp_path / "desk-then.csv"
    with qtbot.waitSignal(win.as_of.exported, timeout=20000):
        win.as_of.export_to(target)
    with open(target, encoding="utf-8", newline="") as handle:
        lines = list(csv.reader(handle))
    assert tuple(lines[0]) == CSV_HEADER
    expected = [[str(cell) for cell in record_cells(row)] for row in view.model.shown_rows()]
    assert lines[1:] == expected and len(expected) == len(then)
    assert sorted(r[2] for r in lines[1:]) == sorted(r.status for r in then)  # the statuses then
    assert not list(tmp_path.glob(".*.part"))
    assert "Exported" in win.statusBar().currentMessage()


def test_back_to_live_the_actions_follow_what_changed_meanwhile(
    qtbot: Any, real_app: RealApp, bridge: Bridge, tasks: TaskRunner, ui_settings: Any
) -> None:
    # No projector status reaches the window: only the return itself can refresh the panel.
    win = open_real_window(
        qtbot, real_app, bridge, tasks, ui_settings, size=(1280, 800), live=False
    )
    panel = win.tabs.detail_panel
    assert panel is not None
    pending = next(r for r in _live_rows(real_app) if r.status == "pending")
    with qtbot.waitSignal(panel.loaded, timeout=10000):
        assert win.orders.select_order(pending.order_id)
    confirm = panel.actions_by_name["confirm"]
    qtbot.waitUntil(confirm.isEnabled)
    with qtbot.waitSignal(win.as_of.shown, timeout=20000):
        win.as_of.show_at(datetime.now(UTC))
    assert not confirm.isEnabled()
    # Another workstation confirms the order while the desk is shown as of a date.
    real_app.app.commands.dispatch(
        c.ConfirmOrder(command_id="elsewhere", order_id=pending.order_id)
    )
    real_app.catch_up()
    win.as_of.leave()
    # Not simply switched back on: the panel decides again, on the order as it is now.
    qtbot.waitUntil(lambda: panel.actions_by_name["ship"].isEnabled(), timeout=10000)
    assert not confirm.isEnabled()
