"""The keyboard way through the main window (issue 12, "A window that fits"): the Order menu
built from the detail panel's own actions, order shortcuts that work from every side tab, and
the Ctrl+K command palette — real widgets on a real SQLite file behind the real buses."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QDialog

from desktop_app.application.commands import LineInput, PlaceOrder, RegisterCustomer
from desktop_app.application.queries import ListCustomers, ListProducts
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.orders.detail import OrderDetailPanel
from desktop_app.ui.orders.forms import ConfirmOrderDialog, NewOrderDialog, ShipOrderDialog

from .conftest import RealApp, open_real_window

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support")


@pytest.fixture
def window(
    qtbot: Any, tasks: Any, bridge: Any, ui_settings: QSettings, real_app: RealApp
) -> MainWindow:
    return open_real_window(qtbot, real_app, bridge, tasks, ui_settings, size=(1280, 800))


def _open_dialogs(kind: type) -> list[QDialog]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()]


def _close_dialogs() -> None:
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QDialog) and widget.isVisible():
            widget.reject()


def _select_status(qtbot: Any, win: MainWindow, status: str) -> str:
    """Select the first loaded order in ``status``; waits until the detail panel shows it."""
    model = win.orders.model
    row = next(r for r in range(model.rowCount()) if model.row_at(r).status == status)  # type: ignore[union-attr]
    order_id = model.row_at(row).order_id  # type: ignore[union-attr]
    detail = win.detail
    assert isinstance(detail, OrderDetailPanel)
    with qtbot.waitSignal(detail.loaded, timeout=10000, check_params_cb=lambda i: i == order_id):
        win.orders.table.selectRow(row)
    return order_id


def test_order_menu_holds_the_detail_panels_own_actions_with_shortcuts(
    window: MainWindow,
) -> None:
    detail = window.detail
    assert isinstance(detail, OrderDetailPanel)
    menu = window.order_menu
    assert menu.menuAction() in window.menuBar().actions()
    in_menu = [a for a in menu.actions() if not a.isSeparator()]
    # The very same QAction objects: enabled state and "why not" tooltips are the panel's.
    for action in detail.actions_by_name.values():
        assert action in in_menu
        assert not action.shortcut().isEmpty()
    assert window.action_new_order in in_menu
    texts = {a.text().replace("&", "") for a in in_menu}
    assert {"Confirm…", "Ship…", "Deliver…", "Cancel order…", "Edit lines…"} <= texts


def test_an_action_added_to_the_panel_later_appears_in_the_order_menu(
    window: MainWindow,
) -> None:
    extra = QAction("Duplicate order…", window.detail)
    extra.setShortcut(QKeySequence("Ctrl+Shift+O"))
    window.detail.addAction(extra)
    window.order_menu.aboutToShow.emit()
    assert extra in window.order_menu.actions()


@pytest.mark.parametrize("tab", [0, 1, 2])
def test_order_shortcuts_work_from_every_side_tab(qtbot: Any, window: MainWindow, tab: int) -> None:
    window.tabs.setCurrentIndex(tab)
    _select_status(qtbot, window, "pending")
    window.orders.table.setFocus()
    qtbot.keyClick(
        window.orders.table,
        Qt.Key.Key_C,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    qtbot.waitUntil(lambda: bool(_open_dialogs(ConfirmOrderDialog)), timeout=5000)
    _close_dialogs()


def test_order_menu_actions_follow_the_selected_order(qtbot: Any, window: MainWindow) -> None:
    window.tabs.setCurrentIndex(1)  # History shown: the detail panel is hidden
    _select_status(qtbot, window, "confirmed")
    actions = window.detail.actions_by_name
    assert actions["ship"].isEnabled()
    assert not actions["confirm"].isEnabled()
    assert actions["confirm"].toolTip().startswith("Confirm: ")  # says why not


# --- the command palette -----------------------------------------------------------------


def _palette(qtbot: Any, win: MainWindow, typed: str) -> Any:
    # Window shortcuts need the window active (after a closed dialog, offscreen may lag).
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=3000)
    qtbot.keyClick(win.orders.table, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(
        lambda: win.command_palette.dialog is not None and win.command_palette.dialog.isVisible()
    )
    dialog = win.command_palette.dialog
    qtbot.waitUntil(dialog.input.hasFocus, timeout=3000)
    ascii_part = typed.encode("ascii", "ignore").decode() == typed
    if ascii_part:
        qtbot.keyClicks(dialog.input, typed)
    else:  # QTest types ASCII only: the rest goes in as the input method would put it
        dialog.input.insert(typed)
    qtbot.waitUntil(lambda: not dialog.searching(), timeout=10000)
    return dialog


def test_palette_ship_order_number_opens_the_ship_form_for_that_order(
    qtbot: Any, window: MainWindow, real_app: RealApp
) -> None:
    model = window.orders.model
    confirmed = [
        model.row_at(r)
        for r in range(model.rowCount())
        if model.row_at(r).status == "confirmed"  # type: ignore[union-attr]
    ]
    target = confirmed[-1]
    assert target is not None
    window.tabs.setCurrentIndex(2)  # from any tab
    dialog = _palette(qtbot, window, f"ship {target.order_number}")
    first = dialog.entries()[0]
    assert first.enabled
    assert target.order_number in first.text and first.text.startswith("Ship")
    qtbot.keyClick(dialog.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: bool(_open_dialogs(ShipOrderDialog)), timeout=10000)
    ship = _open_dialogs(ShipOrderDialog)[0]
    assert ship.order_id == target.order_id
    assert window.orders.current_order_id() == target.order_id
    _close_dialogs()


def test_palette_refuses_an_action_the_order_does_not_allow_and_says_why(
    qtbot: Any, window: MainWindow
) -> None:
    model = window.orders.model
    pending = next(
        model.row_at(r)
        for r in range(model.rowCount())
        if model.row_at(r).status == "pending"  # type: ignore[union-attr]
    )
    dialog = _palette(qtbot, window, f"deliver {pending.order_number}")
    entry = next(e for e in dialog.entries() if pending.order_number in e.text)
    assert not entry.enabled and entry.reason
    assert entry.reason in dialog.status_text()  # said as soon as it is highlighted
    qtbot.keyClick(dialog.input, Qt.Key.Key_Return)
    assert not _open_dialogs(QDialog) or _open_dialogs(QDialog) == [dialog]
    assert entry.reason in dialog.status_text()
    dialog.reject()


def test_palette_new_order_for_a_customer_preselects_that_customer(
    qtbot: Any, window: MainWindow, real_app: RealApp
) -> None:
    app = real_app.app
    app.commands.dispatch(RegisterCustomer(name="Müller Feinkost GmbH"))
    real_app.catch_up()
    dialog = _palette(qtbot, window, "new order for müller fein")
    first = dialog.entries()[0]
    assert first.text == "New order for Müller Feinkost GmbH"
    qtbot.keyClick(dialog.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: bool(_open_dialogs(NewOrderDialog)), timeout=10000)
    form = _open_dialogs(NewOrderDialog)[0]
    qtbot.waitUntil(lambda: form.loaded, timeout=10000)
    chosen = form.customer_picker.selected_customer()
    assert chosen is not None and chosen.name == "Müller Feinkost GmbH"
    _close_dialogs()


def test_palette_runs_window_actions_and_filters_by_customer(
    qtbot: Any, window: MainWindow, real_app: RealApp
) -> None:
    app = real_app.app
    customer = app.queries.ask(ListCustomers(limit=1))[0]
    product = next(p for p in app.queries.ask(ListProducts()) if not p.discontinued)
    app.commands.dispatch(
        PlaceOrder(
            customer_id=customer.customer_id,
            lines=(LineInput(product_id=product.product_id, quantity=1),),
        )
    )
    real_app.catch_up()
    dialog = _palette(qtbot, window, "history")
    entry = dialog.entries()[0]
    assert entry.text.replace("&", "").startswith("Order history")
    qtbot.keyClick(dialog.input, Qt.Key.Key_Return)
    assert window.tabs.currentIndex() == 1

    dialog = _palette(qtbot, window, customer.name)
    orders_of = next(e for e in dialog.entries() if e.text == f"Orders of {customer.name}")
    dialog.run(orders_of)
    qtbot.waitUntil(
        lambda: window.orders.model.current_filter.customer_id == customer.customer_id,
        timeout=5000,
    )
    assert window.orders.customer_filter.currentText() == customer.name


def test_palette_says_when_nothing_matches(qtbot: Any, window: MainWindow) -> None:
    dialog = _palette(qtbot, window, "ship SO-999999")
    assert dialog.entries() == []
    assert "Nothing matches" in dialog.status_text()
    qtbot.keyClick(dialog.input, Qt.Key.Key_Return)  # nothing to run: the palette stays
    assert dialog.isVisible()
    dialog.reject()


def test_palette_reveals_an_order_the_filter_hides_then_runs_the_action(
    qtbot: Any, window: MainWindow
) -> None:
    model = window.orders.model
    target = next(
        model.row_at(r)
        for r in range(model.rowCount())
        if model.row_at(r).status == "confirmed"  # type: ignore[union-attr]
    )
    with qtbot.waitSignal(model.loaded, timeout=5000):
        window.orders.status_filter.actions_by_status["cancelled"].setChecked(True)
    assert model.find_row(target.order_id) is None  # hidden by the filter
    dialog = _palette(qtbot, window, f"ship {target.order_number}")
    qtbot.keyClick(dialog.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: bool(_open_dialogs(ShipOrderDialog)), timeout=10000)
    assert _open_dialogs(ShipOrderDialog)[0].order_id == target.order_id
    # The list says why it changed: the filter is off, the search names the order.
    assert window.orders.status_filter.selected() is None
    assert window.orders.search.text() == target.order_number
    assert window.orders.current_order_id() == target.order_id
    _close_dialogs()
