"""The order detail panel: what it shows, which actions it offers (and why not), and the
forms it opens, over a real SQLite file."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import Qt

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.ui.orders.detail import READ_ONLY_REASON, OrderDetailPanel
from desktop_app.ui.orders.form_lines import LineDraft, LinesModel
from desktop_app.ui.orders.forms import (
    CancelOrderDialog,
    ConfirmOrderDialog,
    DeliverOrderDialog,
    EditLinesDialog,
    ShipOrderDialog,
)
from tests.ui.fixtures_forms import (
    QT_OFFSCREEN_NOISE,
    Shop,
    confirm_preview,
    shop_fixture,  # noqa: F401  (the "shop" fixture)
    wait_idle,
)

pytestmark = [pytest.mark.usefixtures("shop"), QT_OFFSCREEN_NOISE]


ALWAYS = {"note", "duplicate"}  # notes at any status; "order again" from any order


def make_panel(qtbot, shop: Shop, order_id: str | None) -> OrderDetailPanel:
    panel = OrderDetailPanel(shop.commands, shop.queries, shop.tasks)
    qtbot.addWidget(panel)
    panel.resize(640, 480)
    panel.show()
    qtbot.waitExposed(panel)
    if order_id is not None:
        with qtbot.waitSignal(panel.loaded, timeout=5000):
            panel.show_order(order_id)
    return panel


def enabled(panel: OrderDetailPanel) -> set[str]:
    return {name for name, action in panel.actions_by_name.items() if action.isEnabled()}


def status(shop: Shop, order_id: str) -> str:
    return shop.queries.ask(q.GetOrderAtVersion(order_id=order_id)).state["status"]


def test_header_lines_totals_from_the_read_model(qtbot, shop: Shop):
    order_id = shop.place("Acme Trading Ltd", ("MUG-BLUE", 3), ("TEA-EARL", 2))
    shop.catch_up()
    panel = make_panel(qtbot, shop, order_id)
    assert panel.number_label.text() == "SO-000001"
    assert panel.status_badge.text() == "Pending"
    assert panel.version_label.text() == "version 3"
    assert panel.customer_label.text() == "Acme Trading Ltd"
    assert panel.placed_label.text() not in ("", "—")
    assert panel.total_label.text() == "2 lines · Total 27.90 €"
    model = panel.lines_model
    assert model.rowCount() == 2
    assert model.index(1, LinesModel.TOTAL).data() == "14.40 €"
    assert not panel.tracking_label.isVisible()


def test_falls_back_to_the_event_store_while_the_read_model_lags(qtbot, shop: Shop):
    order_id = shop.place("Acme Trading Ltd", ("MUG-BLUE", 1))  # not projected yet
    panel = make_panel(qtbot, shop, order_id)
    assert panel.number_label.text() == "SO-000001"
    assert panel.version_label.text() == "version 2"
    assert panel.updated_label.text() not in ("", "—")


def test_actions_follow_the_domain_with_reasons_as_tooltips(qtbot, shop: Shop):
    order_id = shop.place("Acme Trading Ltd", ("MUG-BLUE", 1))
    panel = make_panel(qtbot, shop, order_id)
    assert enabled(panel) == {"edit", "confirm", "cancel"} | ALWAYS | {"address"}
    ship = panel.actions_by_name["ship"]
    assert ship.toolTip() == "Ship: An order can only be shipped once it is confirmed."
    assert panel.buttons["ship"].toolTip() == ship.toolTip()
    assert panel.actions_by_name["confirm"].shortcut().toString() == "Ctrl+Shift+C"
    assert panel.actions_by_name["edit"].shortcut().toString() == "Ctrl+E"

    shop.commands.dispatch(c.ConfirmOrder(order_id=order_id))
    shop.commands.dispatch(c.ShipOrder(order_id=order_id, tracking_number="T-1", carrier="UPS"))
    with qtbot.waitSignal(panel.loaded, timeout=5000):
        panel.refresh()
    assert enabled(panel) == {"deliver", "cancel"} | ALWAYS
    assert "once the order is shipped" in panel.actions_by_name["address"].toolTip()
    assert panel.tracking_label.text() == "T-1" and panel.tracking_label.isVisible()
    assert panel.carrier_label.text() == "UPS"
    assert "pending" in panel.actions_by_name["edit"].toolTip()


def test_read_only_disables_every_editing_action(qtbot, shop: Shop):
    order_id = shop.place("Acme Trading Ltd", ("MUG-BLUE", 1))
    panel = make_panel(qtbot, shop, order_id)
    panel.set_read_only(True)
    assert enabled(panel) == set()
    assert all(READ_ONLY_REASON in a.toolTip() for a in panel.actions_by_name.values())
    assert panel.run("confirm") is None
    with qtbot.waitSignal(panel.loaded, timeout=5000):
        panel.refresh()
    assert enabled(panel) == set()
    panel.set_read_only(False)
    assert enabled(panel) == {"edit", "confirm", "cancel", "address"} | ALWAYS


def test_no_order_selected(qtbot, shop: Shop):
    panel = make_panel(qtbot, shop, None)
    panel.show_order(None)
    assert panel.stack.currentIndex() == 0
    assert enabled(panel) == set()


def test_unknown_order_says_so(qtbot, shop: Shop):
    panel = make_panel(qtbot, shop, None)
    panel.show_order("no-such-order")
    wait_idle(qtbot, shop)
    assert panel.message.message().startswith("This order could not be loaded")


def test_full_life_cycle_through_the_panel_emits_order_changed(qtbot, shop: Shop):
    order_id = shop.place("Northwind Traders", ("MUG-BLUE", 1))
    panel = make_panel(qtbot, shop, order_id)

    # Ctrl+E opens Edit lines; change nothing but add a line
    panel.activateWindow()
    qtbot.waitUntil(panel.isActiveWindow)
    qtbot.keyClick(panel, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    edit = panel.active_dialog
    assert isinstance(edit, EditLinesDialog)
    wait_idle(qtbot, shop)
    edit.line_editor.product_picker.setEditText("PLATE-XL")
    qtbot.mouseClick(edit.line_editor.add_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(edit.save_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignals([panel.order_changed, panel.loaded], timeout=5000):
        confirm_preview(qtbot, shop, edit)
    assert panel.lines_model.rowCount() == 2

    confirm = panel.run("confirm")
    assert isinstance(confirm, ConfirmOrderDialog)
    qtbot.mouseClick(confirm.save_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(panel.loaded, timeout=5000):
        confirm_preview(qtbot, shop, confirm)
    assert panel.status_badge.text() == "Confirmed"

    ship = panel.run("ship")
    assert isinstance(ship, ShipOrderDialog)
    qtbot.keyClicks(ship.tracking_edit, "1Z999")
    qtbot.keyClick(ship.tracking_edit, Qt.Key.Key_Return)
    with qtbot.waitSignal(panel.loaded, timeout=5000):
        confirm_preview(qtbot, shop, ship)
    assert panel.status_badge.text() == "Shipped"

    deliver = panel.run("deliver")
    assert isinstance(deliver, DeliverOrderDialog)
    qtbot.mouseClick(deliver.save_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(panel.order_changed, timeout=5000) as changed:
        confirm_preview(qtbot, shop, deliver)
    assert changed.args == [order_id]
    wait_idle(qtbot, shop)
    assert status(shop, order_id) == "delivered"
    assert enabled(panel) == ALWAYS
    assert panel.actions_by_name["cancel"].toolTip().endswith("cannot be cancelled.")


def test_cancel_through_the_panel(qtbot, shop: Shop):
    order_id = shop.place("Zeta Supplies", ("TEA-EARL", 4))
    panel = make_panel(qtbot, shop, order_id)
    dialog = panel.run("cancel")
    assert isinstance(dialog, CancelOrderDialog)
    qtbot.keyClicks(dialog.reason_edit, "Duplicate order")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(panel.loaded, timeout=5000):
        confirm_preview(qtbot, shop, dialog)
    assert panel.status_badge.text() == "Cancelled"
    assert panel.cancel_reason_label.text() == "Duplicate order"


def test_lines_models_pass_the_model_tester(qtmodeltester, shop: Shop):
    from decimal import Decimal

    rows = [
        LineDraft(
            line_id=str(n),
            product_id="p",
            sku=f"SKU-{n}",
            name=f"Product {n}",
            quantity=n + 1,
            unit_price=Decimal("4.50"),
            currency="EUR",
            saved=n % 2 == 0,
        )
        for n in range(3)
    ]
    for editable in (False, True):
        model = LinesModel(editable=editable)
        model.set_rows(rows)
        qtmodeltester.check(model, force_py=True)
        if editable:
            assert model.setData(model.index(0, LinesModel.QUANTITY), 7)
            assert model.rows()[0].quantity == 7
            assert not model.setData(model.index(0, LinesModel.PRICE), "5.00")  # saved line
            assert model.setData(model.index(1, LinesModel.PRICE), "5.00")
            assert model.index(1, LinesModel.TOTAL).data() == "10.00 €"
