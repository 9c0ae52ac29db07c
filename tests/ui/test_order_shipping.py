"""Ship-to addresses, notes and "order again" driven through the real widgets (detail panel,
new-order form, customers dialog) over a real SQLite file and the real buses."""

from __future__ import annotations

import os
from decimal import Decimal

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import Qt

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.application.ports import NewEvent
from desktop_app.ui.catalog import CustomersDialog
from desktop_app.ui.catalog.address import CustomerAddressDialog
from desktop_app.ui.orders.detail import OrderDetailPanel
from desktop_app.ui.orders.forms import NewOrderDialog
from desktop_app.ui.orders.shipping import (
    FROM_CUSTOMER_MARK,
    AddNoteDialog,
    ChangeAddressDialog,
    DuplicateOrderDialog,
)
from tests.fixtures.store_helpers import META
from tests.ui.fixtures_forms import (
    QT_OFFSCREEN_NOISE,
    Shop,
    shop_fixture,  # noqa: F401  (the "shop" fixture)
    wait_idle,
)
from tests.ui.test_catalog import open_list, select
from tests.ui.test_order_forms import open_dialog, pick

pytestmark = [pytest.mark.usefixtures("shop"), QT_OFFSCREEN_NOISE]

HOME = "Acme Trading Ltd\nDock Road 7\nBristol BS1 4RB"


def make_panel(qtbot, shop: Shop, order_id: str) -> OrderDetailPanel:
    panel = OrderDetailPanel(shop.commands, shop.queries, shop.tasks)
    qtbot.addWidget(panel)
    panel.resize(700, 640)
    panel.show()
    qtbot.waitExposed(panel)
    with qtbot.waitSignal(panel.loaded, timeout=5000):
        panel.show_order(order_id)
    return panel


def shipping(shop: Shop, order_id: str) -> q.OrderShipping:
    return shop.queries.ask(q.GetOrderShipping(order_id=order_id))


def test_panel_shows_the_address_and_changes_it_until_shipped(qtbot, shop: Shop):
    acme = shop.customers["Acme Trading Ltd"]
    shop.commands.dispatch(c.ChangeCustomerAddress(customer_id=acme, address=HOME))
    order_id = shop.place("Acme Trading Ltd", ("MUG-BLUE", 2))
    panel = make_panel(qtbot, shop, order_id)
    assert panel.address_label.text() == HOME and panel.address_label.isVisible()
    assert not panel.address_remark.isVisible()  # the order's own (placement) address

    dialog = panel.run("address")
    assert isinstance(dialog, ChangeAddressDialog)
    assert dialog.address_edit.toPlainText() == HOME
    head = shop.app.events.head_position()
    dialog.address_edit.clear()
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shop)
    assert dialog.error_text("address") == "Enter an address." and dialog.isVisible()
    assert shop.app.events.head_position() == head  # nothing written
    dialog.address_edit.setFocus()
    qtbot.keyClicks(dialog.address_edit, "Warehouse 2")
    qtbot.keyClick(dialog.address_edit, Qt.Key.Key_Return)
    qtbot.keyClicks(dialog.address_edit, "Leeds LS1")
    with qtbot.waitSignals([panel.order_changed, panel.loaded], timeout=5000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert panel.address_label.text() == "Warehouse 2\nLeeds LS1"
    assert shipping(shop, order_id).address == "Warehouse 2\nLeeds LS1"

    shop.commands.dispatch(c.ConfirmOrder(order_id=order_id))
    shop.commands.dispatch(c.ShipOrder(order_id=order_id, tracking_number="T-1"))
    with qtbot.waitSignal(panel.loaded, timeout=5000):
        panel.refresh()
    action = panel.actions_by_name["address"]
    assert not action.isEnabled()
    assert action.toolTip().endswith("cannot be changed once the order is shipped.")
    assert panel.run("address") is None


def test_order_from_before_addresses_shows_the_customer_current_one(qtbot, shop: Shop):
    """An OrderPlaced v1 stored in the file (as an older Order Desk wrote it)."""
    zeta = shop.customers["Zeta Supplies"]
    payload = {
        "order_id": "legacy-1",
        "order_number": "SO-LEGACY",
        "customer_id": zeta,
        "customer_name": "Zeta Supplies",
        "currency": "EUR",
    }
    line = {
        "order_id": "legacy-1",
        "line_id": "l-1",
        "product_id": shop.products["TEA-EARL"],
        "sku": "TEA-EARL",
        "product_name": "Earl Grey Tea 250 g",
        "quantity": 1,
        "unit_price": {"amount": "7.20", "currency": "EUR"},
    }
    shop.app.events.append(
        "order-legacy-1",
        0,
        [
            NewEvent(
                event_id="legacy-ev-1",
                type_name="OrderPlaced",
                schema_version=1,
                payload=payload,
                metadata=META,
            ),
            NewEvent(
                event_id="legacy-ev-2",
                type_name="OrderLineAdded",
                schema_version=1,
                payload=line,
                metadata=META,
            ),
        ],
    )
    shop.catch_up()
    panel = make_panel(qtbot, shop, "legacy-1")
    assert panel.address_label.text() == ""
    assert "neither the order nor the customer" in panel.address_remark.text()
    shop.commands.dispatch(c.ChangeCustomerAddress(customer_id=zeta, address="Zeta Park 1"))
    with qtbot.waitSignal(panel.loaded, timeout=5000):
        panel.refresh()
    assert panel.address_label.text() == "Zeta Park 1"
    assert panel.address_remark.text() == FROM_CUSTOMER_MARK and panel.address_remark.isVisible()
    # The address form starts from the customer's current address, marked in its intro.
    dialog = panel.run("address")
    assert isinstance(dialog, ChangeAddressDialog)
    assert dialog.address_edit.toPlainText() == "Zeta Park 1"
    dialog.close()


def test_notes_are_added_at_any_status_and_listed_with_author(qtbot, shop: Shop):
    order_id = shop.place("Northwind Traders", ("MUG-RED", 1))
    shop.commands.dispatch(c.CancelOrder(order_id=order_id, reason="Duplicate"))
    panel = make_panel(qtbot, shop, order_id)
    assert not panel.notes_list.isVisible()
    assert panel.actions_by_name["note"].isEnabled()  # cancelled, and still notes
    dialog = panel.run("note")
    assert isinstance(dialog, AddNoteDialog)
    head = shop.app.events.head_position()
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shop)
    assert dialog.error_text("note") == "Enter a note."
    assert shop.app.events.head_position() == head
    dialog.note_edit.setFocus()
    qtbot.keyClicks(dialog.note_edit, "Customer called")
    qtbot.keyClick(dialog.note_edit, Qt.Key.Key_Return)
    qtbot.keyClicks(dialog.note_edit, "refund by transfer")
    with qtbot.waitSignal(panel.loaded, timeout=5000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert panel.notes_list.isVisible() and panel.notes_list.count() == 1
    identity = shop.app.deps.identity
    text = panel.notes_list.item(0).text()
    assert f"· {identity.user} on {identity.host}\n" in text
    assert text.endswith("Customer called\nrefund by transfer")
    assert panel.notes_title.text() == "Notes (1)"


def test_order_again_creates_and_shows_a_new_pending_order(qtbot, shop: Shop):
    order_id = shop.place("Blue Harbour Café", ("MUG-BLUE", 3), ("TEA-EARL", 2))
    shop.commands.dispatch(c.ConfirmOrder(order_id=order_id))
    shop.commands.dispatch(
        c.ChangeProductPrice(product_id=shop.products["MUG-BLUE"], price=Decimal("5.00"))
    )
    panel = make_panel(qtbot, shop, order_id)
    dialog = panel.run("duplicate")
    assert isinstance(dialog, DuplicateOrderDialog)
    assert "today's catalog prices" in dialog.message()
    with qtbot.waitSignal(panel.order_created, timeout=5000) as created:
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    new_id = created.args[0]
    assert new_id != order_id
    qtbot.waitUntil(lambda: panel.view is not None and panel.view.order_id == new_id, timeout=5000)
    assert panel.status_badge.text() == "Pending"
    assert [(line.sku, line.quantity, str(line.unit_price)) for line in panel.view.lines] == [
        ("MUG-BLUE", 3, "5.00"),
        ("TEA-EARL", 2, "7.20"),
    ]


def test_new_order_form_ship_to_override(qtbot, shop: Shop):
    zeta = shop.customers["Zeta Supplies"]
    shop.commands.dispatch(c.ChangeCustomerAddress(customer_id=zeta, address="Zeta Park 1"))
    dialog = open_dialog(qtbot, shop, NewOrderDialog(shop.commands, shop.queries, shop.tasks))
    pick(qtbot, dialog.customer_picker, "zeta")
    # The hint says where the order ships if nothing is typed.
    qtbot.waitUntil(lambda: dialog.address_edit.placeholderText().endswith("\nZeta Park 1"))
    pick(qtbot, dialog.line_editor.product_picker, "MUG-RED")
    qtbot.mouseClick(dialog.line_editor.add_button, Qt.MouseButton.LeftButton)
    dialog.address_edit.setPlainText("Tab\there")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shop)
    assert "control character" in dialog.error_text("address") and dialog.isVisible()
    dialog.address_edit.setPlainText("Site office\nGate 3")
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shop)
    assert shipping(shop, dialog.placed_order_id).address == "Site office\nGate 3"
    # Left empty: the customer's default is used (none here: nothing is invented).
    other = open_dialog(qtbot, shop, NewOrderDialog(shop.commands, shop.queries, shop.tasks))
    pick(qtbot, other.customer_picker, "north")
    qtbot.waitUntil(lambda: "no address on file" in other.address_edit.placeholderText())
    pick(qtbot, other.line_editor.product_picker, "MUG-RED")
    qtbot.mouseClick(other.line_editor.add_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(other.accepted, timeout=5000):
        qtbot.mouseClick(other.save_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shop)
    assert shipping(shop, other.placed_order_id).address_source == q.ADDRESS_NONE


def test_customers_dialog_sets_the_default_address(qtbot, shop: Shop):
    dialog = open_list(qtbot, shop, CustomersDialog)
    assert not dialog.address_button.isEnabled()
    select(dialog, "Northwind Traders")
    assert dialog.address_button.isEnabled()
    editor = dialog.edit_address()
    assert isinstance(editor, CustomerAddressDialog)
    qtbot.waitUntil(lambda: editor.loaded, timeout=5000)
    assert editor.address_edit.toPlainText() == ""
    qtbot.keyClicks(editor.address_edit, "North Quay 9")
    with qtbot.waitSignal(editor.accepted, timeout=5000):
        qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shop)
    customer = shop.customers["Northwind Traders"]
    assert shop.queries.ask(q.GetCustomerAddress(customer_id=customer)).address == "North Quay 9"
    order_id = shop.place("Northwind Traders", ("MUG-BLUE", 1))
    assert shipping(shop, order_id).address == "North Quay 9"


def test_resent_order_again_and_note_write_once(qtbot, shop: Shop):
    """A Save whose reply was lost, pressed again: the same command, so one order / one note."""
    order_id = shop.place("Zeta Supplies", ("MUG-BLUE", 1))
    panel = make_panel(qtbot, shop, order_id)
    dialog = panel.run("duplicate")
    assert isinstance(dialog, DuplicateOrderDialog)
    first = dialog.build_command()
    assert first == dialog.build_command()
    shop.commands.dispatch(first)  # written; its reply "lost"
    head = shop.app.events.head_position()
    with qtbot.waitSignal(panel.order_created, timeout=5000) as created:
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert created.args[0] == first.order_id  # the order that exists, not a phantom id
    assert shop.app.events.head_position() == head  # nothing written twice
    with qtbot.waitSignal(panel.loaded, timeout=5000):
        panel.show_order(order_id)
    note = panel.run("note")
    assert isinstance(note, AddNoteDialog)
    note.note_edit.setPlainText("Once")
    shop.commands.dispatch(note.build_command())
    with qtbot.waitSignal(panel.loaded, timeout=5000):
        qtbot.mouseClick(note.save_button, Qt.MouseButton.LeftButton)
    assert [n.text for n in shipping(shop, order_id).notes] == ["Once"]
