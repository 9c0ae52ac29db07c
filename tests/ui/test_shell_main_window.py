"""The main window shell: menus and shortcuts, read-only mode, status bar, saved geometry,
and live refresh after a command on a real SQLite file."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from desktop_app.application.queries import ProjectorStatus
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.orders.table_model import ORDER_ID_ROLE
from desktop_app.ui.status import freshness_text

from .conftest import ListedOrders, RealApp, open_real_window

EXPECTED_SHORTCUTS = {
    "actionNewOrder": "Ctrl+N",
    "actionQuit": "Ctrl+Q",
    "actionFind": "Ctrl+F",
    "actionRefresh": "F5",
    "actionCustomers": "Ctrl+Shift+U",
    "actionProducts": "Ctrl+Shift+P",
    "actionVerifyHistory": "Ctrl+Shift+V",
    "actionRebuildReadModels": "Ctrl+Shift+R",
    "actionBackupNow": "Ctrl+Shift+B",
    "actionAbout": "F1",
    "actionShowDetail": "Ctrl+1",
    "actionShowHistory": "Ctrl+2",
    "actionShowSnapshots": "Ctrl+3",
    "actionFocusOrders": "Ctrl+L",
}


def _status(checkpoint: int, head: int, error: str | None = None) -> ProjectorStatus:
    return ProjectorStatus(
        checkpoint=checkpoint,
        head=head,
        lag=head - checkpoint,
        events_per_second=0.0,
        running=True,
        last_error=error,
        failed_position=checkpoint + 1 if error else None,
    )


def _close_message_boxes() -> list[str]:
    texts = []
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QMessageBox) and widget.isVisible():
            texts.append(widget.text())
            widget.close()
    return texts


@pytest.fixture
def window(
    qtbot: Any,
    tasks: Any,
    list_queries: ListedOrders,
    commands: Any,
    bridge: Any,
    store_info: Any,
    ui_settings: QSettings,
) -> MainWindow:
    win = MainWindow(commands, list_queries, bridge, tasks, store_info, settings=ui_settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    with qtbot.waitSignal(win.orders.model.loaded, timeout=5000):
        win.start()
    return win


def test_menus_and_shortcuts(window: MainWindow) -> None:
    menus = {a.text().replace("&", "") for a in window.menuBar().actions()}
    assert {"File", "Edit", "Catalog", "Tools", "Help"} <= menus
    for name, keys in EXPECTED_SHORTCUTS.items():
        action = window.findChild(type(window.action_find), name)
        assert action is not None, name
        assert action.shortcut().toString() == keys, name
        assert action.isEnabled(), name
    in_menus = {
        a.objectName()
        for menu_action in window.menuBar().actions()
        for a in menu_action.menu().actions()
    }
    assert set(EXPECTED_SHORTCUTS) <= in_menus


def test_find_shortcut_focuses_search(qtbot: Any, window: MainWindow) -> None:
    window.orders.table.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.orders.search.hasFocus(), timeout=30000)


def test_refresh_shortcut_requeries(
    qtbot: Any, window: MainWindow, list_queries: ListedOrders
) -> None:
    with qtbot.waitSignal(window.orders.model.refreshed, timeout=5000):
        qtbot.keyClick(window, Qt.Key.Key_F5)
    assert list_queries.gui_thread_calls == 0


def test_tab_shortcuts(qtbot: Any, window: MainWindow) -> None:
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentIndex() == 1
    qtbot.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentIndex() == 2
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentIndex() == 0


def test_about_names_versions_and_database(qtbot: Any, window: MainWindow, store_info: Any) -> None:
    window.action_about.trigger()
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "aboutBox") is not None, timeout=30000)
    box = window.findChild(QMessageBox, "aboutBox")
    text = box.text()
    assert "Qt" in text and "SQLite" in text and "3.40.1" in text
    assert store_info.location in text
    box.close()


def test_status_bar_freshness_and_user(qtbot: Any, window: MainWindow, bridge: Any) -> None:
    assert window.status.user.text().startswith("User: ")
    assert window.status.database.text().endswith("orders.sqlite3")
    assert not window.status.read_only.isVisible()
    bridge.publish_projector_status(_status(48213, 48213))
    qtbot.waitUntil(lambda: "48,213" in window.status.freshness.text(), timeout=30000)
    assert window.status.freshness.text() == "Up to date · event #48,213"
    bridge.publish_projector_status(_status(47009, 48213))
    qtbot.waitUntil(lambda: "behind" in window.status.freshness.text(), timeout=30000)
    assert window.status.freshness.text() == "Catching up · 1,204 behind"
    bridge.publish_projector_status(_status(47009, 48213, error="bad event"))
    qtbot.waitUntil(lambda: window.status.state == "error", timeout=30000)
    assert "bad event" in window.status.freshness.text()
    assert "b00020" in window.status.freshness.styleSheet()


def test_freshness_text() -> None:
    assert freshness_text(_status(0, 0)) == ("Up to date · no events yet", "ok")
    assert freshness_text(_status(5, 5))[1] == "ok"
    read_only = dataclasses.replace(_status(3, 2131), read_only=True)
    text, state = freshness_text(read_only)
    assert state == "behind"
    assert text.startswith("Read-only · lists 2,128 events behind")
    # Another process projects the lists (R33): the window follows and says by whom.
    owner = "projector 'headless' (process 4242 on host, since 2026-12-07T10:00:00+00:00)"
    following = dataclasses.replace(_status(7, 9), owner=owner)
    assert freshness_text(following) == (f"Catching up · 2 behind · kept by {owner}", "behind")
    following = dataclasses.replace(_status(9, 9), owner=owner)
    assert freshness_text(following) == (f"Up to date · event #9 · kept by {owner}", "ok")


def test_read_only_window_disables_editing(
    qtbot: Any,
    tasks: Any,
    list_queries: ListedOrders,
    commands: Any,
    bridge: Any,
    read_only_info: Any,
    ui_settings: QSettings,
) -> None:
    win = MainWindow(commands, list_queries, bridge, tasks, read_only_info, settings=ui_settings)
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(win.orders.model.loaded, timeout=5000):
        win.start()
    assert win.banner.isVisible()
    assert "Read-only" in win.banner.text()
    assert "permission" in win.banner.text()
    assert win.status.read_only.isVisible()
    assert not win.action_new_order.isEnabled()
    assert not win.tools.action_rebuild.isEnabled()
    # Reading and verifying still work.
    assert win.tools.action_verify.isEnabled() and win.action_find.isEnabled()
    qtbot.keyClick(win, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert not [w for w in QApplication.topLevelWidgets() if w.isVisible() and w is not win]
    assert win.detail.is_read_only()
    # The Snapshots tab cannot write either ("Take snapshot now" writes a snapshot row).
    win.tabs.setCurrentIndex(2)
    assert not win.snapshots.take_button.isEnabled()
    assert "read-only" in win.snapshots.take_button.toolTip()


def test_geometry_and_columns_are_restored(
    qtbot: Any,
    tasks: Any,
    list_queries: ListedOrders,
    commands: Any,
    bridge: Any,
    store_info: Any,
    ui_settings: QSettings,
) -> None:
    first = MainWindow(commands, list_queries, bridge, tasks, store_info, settings=ui_settings)
    qtbot.addWidget(first)
    first.resize(760, 520)
    first.show()
    qtbot.waitExposed(first)
    first.orders.table.horizontalHeader().resizeSection(0, 150)
    first.tabs.setCurrentIndex(2)
    saved_size = (first.size().width(), first.size().height())
    assert saved_size == (760, 520)
    first.close()

    second = MainWindow(commands, list_queries, bridge, tasks, store_info, settings=ui_settings)
    qtbot.addWidget(second)
    assert (second.size().width(), second.size().height()) == saved_size
    assert second.orders.table.horizontalHeader().sectionSize(0) == 150
    assert second.tabs.currentIndex() == 2


def test_snapshots_tab_is_built_when_first_shown_and_follows_the_selection(
    qtbot: Any, window: MainWindow
) -> None:
    from desktop_app.ui.snapshots import SnapshotInspector

    assert window.tabs.widget(2).objectName() == "lazyPanel:snapshots"  # built when first shown
    assert window.tabs.tabText(2) == "Sna&pshots"
    with qtbot.waitSignal(window.current_order_changed, timeout=5000) as chosen:
        window.orders.table.selectRow(3)
    window.tabs.setCurrentIndex(2)
    panel = window.tabs.widget(2)
    assert isinstance(panel, SnapshotInspector) and window.snapshots is panel
    # Subscribed to the current order when built: it shows the order selected before.
    assert panel.order_id == chosen.args[0]
    with qtbot.waitSignal(window.current_order_changed, timeout=5000) as chosen:
        window.orders.table.selectRow(5)
    assert panel.order_id == chosen.args[0]


def test_no_database_call_on_the_gui_thread(
    qtbot: Any, window: MainWindow, list_queries: ListedOrders, bridge: Any
) -> None:
    # The first status only records where the projector is; the second is progress, which
    # re-queries the list (in a worker): wait for that refresh to arrive.
    with qtbot.waitSignal(window.orders.model.refreshed, timeout=30000):
        bridge.publish_projector_status(_status(1, 1))
        bridge.publish_projector_status(_status(2, 2))
    window.orders.table.selectRow(3)
    qtbot.keyClick(window, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: window.tasks.pending() == 0, timeout=5000)
    assert list_queries.calls
    assert list_queries.gui_thread_calls == 0


# --- a real SQLite file -------------------------------------------------------------------


@pytest.fixture
def real_window(
    qtbot: Any, tasks: Any, bridge: Any, ui_settings: QSettings, real_app: RealApp
) -> MainWindow:
    return open_real_window(qtbot, real_app, bridge, tasks, ui_settings, size=(1200, 500))


def test_live_refresh_after_a_command_keeps_selection_and_scroll(
    qtbot: Any, real_window: MainWindow, real_app: RealApp, tasks: Any
) -> None:
    from desktop_app.application.commands import CancelOrder, LineInput, PlaceOrder
    from desktop_app.application.queries import GetOrder, ListCustomers, ListProducts

    win = real_window
    table = win.orders.table
    model = win.orders.model
    assert model.rowCount() == 60
    table.scrollTo(model.index(30, 0), table.ScrollHint.PositionAtTop)
    qtbot.waitUntil(lambda: not model.is_busy(), timeout=5000)
    target = next(
        r
        for r in range(33, 60)
        if model.row_at(r).status in ("pending", "confirmed", "shipped")  # type: ignore[union-attr]
    )
    with qtbot.waitSignal(win.current_order_changed, timeout=5000) as chosen:
        table.selectRow(target)
    selected = chosen.args[0]
    scroll = table.verticalScrollBar().value()
    assert scroll > 0
    # Let the detail/history/snapshot panels finish loading the selection.
    qtbot.waitUntil(lambda: tasks.pending() == 0, timeout=10000)

    # A command from "elsewhere": a new order, then a change to the selected one.
    refreshed_panels: list[str] = []
    for name in ("history", "snapshots"):
        widget = getattr(win, name)
        original = getattr(widget, "refresh", None)

        def spy(name: str = name, original: Any = original) -> None:
            refreshed_panels.append(name)
            if callable(original):
                original()

        widget.refresh = spy
    app = real_app.app
    customer = app.queries.ask(ListCustomers(limit=1))[0]
    product = next(p for p in app.queries.ask(ListProducts()) if not p.discontinued)
    app.commands.dispatch(
        PlaceOrder(
            customer_id=customer.customer_id,
            lines=(LineInput(product_id=product.product_id, quantity=2),),
        )
    )
    detail = app.queries.ask(GetOrder(order_id=selected))
    assert detail is not None
    app.commands.dispatch(CancelOrder(order_id=selected, reason="test"))
    # The projector (run here instead of by the scheduler) publishes through the bridge.
    with qtbot.waitSignal(model.refreshed, timeout=10000):
        real_app.catch_up()
    qtbot.waitUntil(lambda: model.rowCount() == 61, timeout=5000)
    rows = table.selectionModel().selectedRows()
    assert [r.data(ORDER_ID_ROLE) for r in rows] == [selected]
    assert rows[0].row() == target + 1  # moved down one: the new order is at the top
    assert table.verticalScrollBar().value() == scroll
    assert win.orders.current_order_id() == selected
    assert "Up to date" in win.status.freshness.text()
    # The selected order changed elsewhere: the side panels re-read it.
    assert sorted(refreshed_panels) == ["history", "snapshots"]
    assert model.row_at(target + 1).status == "cancelled"  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: tasks.pending() == 0, timeout=10000)


def test_tools_verify_history_on_real_file(qtbot: Any, real_window: MainWindow, tasks: Any) -> None:
    win = real_window
    assert win.queries.handles(type(_verify_query()))
    win.tools.action_verify.trigger()
    from desktop_app.ui.verify_dialog import VerifyResultDialog

    qtbot.waitUntil(
        lambda: win.findChild(VerifyResultDialog, "verifyResult") is not None, timeout=20000
    )
    box = win.findChild(VerifyResultDialog, "verifyResult")
    assert "intact" in box.headline.text()
    box.close()


def test_about_shows_the_last_anchor(
    qtbot: Any, real_window: MainWindow, real_app: RealApp
) -> None:
    """R28: the About box reads the newest anchor of this database when it opens."""
    from desktop_app.store.maintenance import write_anchor

    app = real_app.app
    head = app.events.head_position()
    write_anchor(app.database, app.settings.anchor_log, "exit")
    real_window.action_about.trigger()
    qtbot.waitUntil(
        lambda: real_window.findChild(QMessageBox, "aboutBox") is not None, timeout=5000
    )
    box = real_window.findChild(QMessageBox, "aboutBox")
    text = box.text()
    box.close()
    assert "Last anchor" in text
    assert f"#{head:,}" in text and "on exit" in text


def _verify_query() -> Any:
    from desktop_app.application.queries import VerifyHistory

    return VerifyHistory()


def _visible_top_levels() -> list[QWidget]:
    return [w for w in QApplication.topLevelWidgets() if w.isVisible()]


def test_sample_data_loads_in_the_background_with_progress(
    qtbot: Any, real_window: MainWindow, real_app: RealApp, tasks: Any
) -> None:
    from PySide6.QtCore import QCoreApplication, QThread
    from PySide6.QtWidgets import QProgressDialog

    from desktop_app.demo_data import load_demo

    threads: list[bool] = []
    app = real_app.app

    def loader(progress: Any) -> Any:
        threads.append(QThread.currentThread() is QCoreApplication.instance().thread())
        summary = load_demo(app.commands, orders=5, seed=99, progress=progress, queries=app.queries)
        real_app.catch_up()
        return summary

    win = real_window
    win.offer_sample_data(loader)
    box = win.findChild(QMessageBox, "sampleDataQuestion")
    assert box is not None and box.isVisible()
    with qtbot.waitSignal(win.orders.model.refreshed, timeout=20000):
        box.done(QMessageBox.StandardButton.Yes)
        assert win.findChild(QProgressDialog, "progressDialog") is not None
    qtbot.waitUntil(lambda: win.orders.model.rowCount() == 65, timeout=10000)
    assert threads == [False]
    # The task's result arrives by a queued signal, possibly after the refresh.
    qtbot.waitUntil(
        lambda: "Loaded 5 sample orders" in win.statusBar().currentMessage(), timeout=10000
    )
    qtbot.waitUntil(lambda: tasks.pending() == 0, timeout=10000)


def test_window_shown_while_opening_then_attached(
    qtbot: Any,
    tasks: Any,
    list_queries: ListedOrders,
    commands: Any,
    bridge: Any,
    store_info: Any,
    ui_settings: QSettings,
) -> None:
    """The window can be shown before the database is open (P5/P7 first paint): an
    "Opening database…" state with its actions off and no query, then the buses connect."""
    from desktop_app.application.ports import StoreInfo

    provisional = StoreInfo(location="/data/orders.sqlite3", read_only=False)
    win = MainWindow(None, None, bridge, tasks, provisional, settings=ui_settings, opening=True)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    assert "Opening database" in win.orders.empty_label.text()
    assert win.orders.empty_label.isVisible()
    assert not win.action_new_order.isEnabled() and not win.tools.action_verify.isEnabled()
    assert win.action_quit.isEnabled()
    assert (
        win.tabs.tabText(0) == "&Detail" and win.tabs.widget(0).objectName() == "lazyPanel:detail"
    )
    win.tabs.setCurrentIndex(1)  # not built while opening (no query bus yet)
    assert win.tabs.widget(1).objectName() == "lazyPanel:history"
    assert not list_queries.calls

    win.attach_application(commands, list_queries, store_info)
    assert win.action_new_order.isEnabled() and win.tools.action_verify.isEnabled()
    assert win.tabs.widget(0) is win.detail
    assert not win.detail.objectName().startswith("lazyPanel")
    assert win.tabs.widget(1) is win.history  # the current tab's panel is built now
    assert win.tabs.currentIndex() == 1
    with qtbot.waitSignal(win.orders.model.loaded, timeout=5000):
        win.start()
    assert not win.orders.empty_label.isVisible()
    assert win.orders.model.rowCount() > 0
    assert store_info.location in win.status.database.text()


def test_live_refreshes_are_throttled_while_the_projector_catches_up(
    qtbot: Any, window: MainWindow, list_queries: ListedOrders, bridge: Any
) -> None:
    """A status arrives after every projector batch; the list re-queries at most once per
    LIVE_REFRESH_INTERVAL_MS: the first change at once, the rest folded into one refresh at
    the end of the interval (which shows the last state)."""
    from desktop_app.ui.live_refresh import LIVE_REFRESH_INTERVAL_MS

    model = window.orders.model
    qtbot.waitUntil(lambda: window.live.last_checkpoint is not None, timeout=30000)
    # Start from rest: no live refresh due or running, the last one an interval ago.
    qtbot.waitUntil(
        lambda: (
            not window.live.timer.isActive()
            and (
                not window.live.refreshed.isValid()
                or window.live.refreshed.elapsed() >= LIVE_REFRESH_INTERVAL_MS
            )
            and not model.is_busy()
            and window.tasks.pending() == 0
        ),
        timeout=30000,
    )
    refreshes: list[int] = []
    model.refreshed.connect(lambda: refreshes.append(len(list_queries.list_calls())))
    before = len(list_queries.list_calls())
    for checkpoint in range(100, 131):  # 31 batches in quick succession
        bridge.publish_projector_status(_status(checkpoint, 130))
    qtbot.waitUntil(lambda: window.live.last_checkpoint == 130, timeout=30000)
    qtbot.waitUntil(lambda: len(refreshes) >= 1, timeout=30000)  # the first: at once
    # The rest fold into one refresh when the interval is over (however late the timer fires
    # on a busy machine); then nothing is due or running any more.
    qtbot.waitUntil(lambda: len(refreshes) >= 2, timeout=30000)
    qtbot.waitUntil(
        lambda: (
            not window.live.timer.isActive() and not model.is_busy() and window.tasks.pending() == 0
        ),
        timeout=30000,
    )
    assert len(refreshes) == 2
    totals = [c for c in list_queries.list_calls()[before:] if c.with_total]
    assert len(totals) == 2
    assert list_queries.gui_thread_calls == 0
