""" "Order again" from the main window: the new order is listed and selected once the read
model has it (real window, real app on a SQLite file, projector run by the test)."""

from __future__ import annotations

from typing import Any

import pytest

from desktop_app.application import queries as q
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.orders.shipping import DuplicateOrderDialog
from tests.ui.conftest import RealApp
from tests.ui.test_shell_main_window import real_window  # noqa: F401  (fixture)

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support")


def test_order_again_selects_the_new_order(
    qtbot: Any,
    real_window: MainWindow,  # noqa: F811
    real_app: RealApp,
    tasks: Any,
) -> None:
    win = real_window
    model = win.orders.model
    before = model.rowCount()
    with qtbot.waitSignal(win.current_order_changed, timeout=5000) as chosen:
        win.orders.table.selectRow(3)
    source = chosen.args[0]
    detail = win.detail
    qtbot.waitUntil(lambda: detail.view is not None and detail.view.order_id == source)
    qtbot.waitUntil(lambda: tasks.pending() == 0, timeout=10000)
    action = detail.actions_by_name["duplicate"]
    assert action.isEnabled() and action.shortcut().toString() == "Ctrl+Shift+G"
    action.trigger()  # as the Order menu or the shortcut does
    dialog = detail.active_dialog
    assert isinstance(dialog, DuplicateOrderDialog)
    with qtbot.waitSignal(detail.order_created, timeout=5000) as created:
        dialog.save_button.click()
    new_id = created.args[0]
    real_app.catch_up()  # the projector publishes through the bridge: the list refreshes
    qtbot.waitUntil(lambda: win.orders.current_order_id() == new_id, timeout=10000)
    assert model.rowCount() == before + 1
    row = real_app.app.queries.ask(q.GetOrder(order_id=new_id))
    assert row is not None and row.order.status == "pending"
    assert "Order placed." in win.statusBar().currentMessage()
    qtbot.waitUntil(lambda: tasks.pending() == 0, timeout=10000)
