"""The order forms driven like a clerk would: real widgets offscreen, real buses over a real
SQLite file, every bus call through the TaskRunner."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import sqlite3
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QMessageBox, QSpinBox

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.bootstrap import bootstrap
from desktop_app.config import Settings
from desktop_app.ui.orders.form_base import BUSY_MESSAGE, READ_ONLY_MESSAGE
from desktop_app.ui.orders.form_lines import LinesModel
from desktop_app.ui.orders.form_view import load_order_view
from desktop_app.ui.orders.forms import (
    CancelOrderDialog,
    ConfirmOrderDialog,
    DeliverOrderDialog,
    EditLinesDialog,
    NewOrderDialog,
    ShipOrderDialog,
)
from tests.ui.fixtures_forms import (
    QT_OFFSCREEN_NOISE,
    Shop,
    confirm_preview,
    shop_fixture,  # noqa: F401  (the "shop" fixture)
    shown_preview,
    wait_idle,
)

pytestmark = [pytest.mark.usefixtures("shop"), QT_OFFSCREEN_NOISE]


def state(shop: Shop, order_id: str) -> dict:
    return dict(shop.queries.ask(q.GetOrderAtVersion(order_id=order_id)).state)


def open_dialog(qtbot, shop: Shop, dialog: QDialog) -> QDialog:
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    wait_idle(qtbot, shop)
    return dialog


def press_save(qtbot, shop: Shop, dialog) -> None:
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shop)


def pick(qtbot, combo, typed: str) -> None:
    """Type into an editable combo and take the first type-ahead suggestion."""
    combo.setFocus()
    combo.lineEdit().clear()
    qtbot.keyClicks(combo.lineEdit(), typed)
    popup = combo.completer().popup()
    qtbot.waitUntil(popup.isVisible)
    qtbot.keyClick(popup, Qt.Key.Key_Down)
    qtbot.keyClick(popup, Qt.Key.Key_Return)


def view_of(shop: Shop, order_id: str):
    return load_order_view(shop.queries, order_id)


def edit_quantity(qtbot, table, row: int, quantity: int) -> None:
    index = table.model().index(row, LinesModel.QUANTITY)
    table.setCurrentIndex(index)
    table.edit(index)
    editor = table.findChild(QSpinBox)
    assert editor is not None
    editor.selectAll()
    qtbot.keyClicks(editor, str(quantity))
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    # the delegate commits on the next event-loop turn
    qtbot.waitUntil(lambda: table.model().rows()[row].quantity == quantity)


# --- new order -----------------------------------------------------------------------------


def test_place_order_with_type_ahead_two_lines_and_running_total(qtbot, shop: Shop):
    dialog = open_dialog(qtbot, shop, NewOrderDialog(shop.commands, shop.queries, shop.tasks))
    assert dialog.loaded
    editor = dialog.line_editor
    # discontinued products are not offered
    offered = {p.sku for p in editor.product_picker.products()}
    assert "OLD-CUP" not in offered and "MUG-BLUE" in offered

    pick(qtbot, dialog.customer_picker, "acme")
    assert dialog.customer_picker.currentText() == "Acme Trading Ltd"

    pick(qtbot, editor.product_picker, "blue m")
    assert editor.price_edit.text() == "4.50"  # filled from the catalog
    editor.quantity_spin.setFocus()
    editor.quantity_spin.selectAll()
    qtbot.keyClicks(editor.quantity_spin, "3")
    qtbot.mouseClick(editor.add_button, Qt.MouseButton.LeftButton)
    assert editor.total_label.text() == "Total: 13.50 €"

    pick(qtbot, editor.product_picker, "earl")  # by name
    editor.price_edit.clear()
    qtbot.keyClicks(editor.price_edit, "7.00")  # the clerk's own price
    qtbot.keyClick(editor.price_edit, Qt.Key.Key_Return)  # Enter in the entry row adds
    assert len(editor.lines()) == 2
    assert editor.total_label.text() == "Total: 20.50 €"
    assert dialog.isVisible()  # Enter added the line, it did not save

    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        press_save(qtbot, shop, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted
    placed = state(shop, dialog.placed_order_id)
    assert placed["customer"]["name"] == "Acme Trading Ltd"
    assert [(line["sku"], line["quantity"], line["unit_price"]) for line in placed["lines"]] == [
        ("MUG-BLUE", 3, "4.50"),
        ("TEA-EARL", 1, "7.00"),
    ]
    assert placed["total"] == "20.50"


def test_new_order_errors_beside_fields_and_nothing_lost(qtbot, shop: Shop):
    dialog = open_dialog(qtbot, shop, NewOrderDialog(shop.commands, shop.queries, shop.tasks))
    head = shop.app.events.head_position()
    press_save(qtbot, shop, dialog)
    assert dialog.error_text("customer") == "Choose a customer."
    pick(qtbot, dialog.customer_picker, "north")
    press_save(qtbot, shop, dialog)  # no lines: the domain says so, beside the lines
    assert dialog.error_text("lines") == "Add at least one line to the order."
    assert dialog.error_text("customer") == ""
    # a price that is not a number stays beside the price field
    pick(qtbot, dialog.line_editor.product_picker, "plate")
    dialog.line_editor.price_edit.setText("twelve")
    qtbot.mouseClick(dialog.line_editor.add_button, Qt.MouseButton.LeftButton)
    assert dialog.line_editor.price_error.message().endswith(
        "is not an amount; type it like 1234.50."
    )
    assert dialog.line_editor.product_picker.currentText().startswith("PLATE-XL")
    assert shop.app.events.head_position() == head  # nothing written
    assert dialog.isVisible()


def test_new_order_keeps_input_when_database_busy_then_saves(qtbot, shop: Shop):
    dialog = open_dialog(qtbot, shop, NewOrderDialog(shop.commands, shop.queries, shop.tasks))
    pick(qtbot, dialog.customer_picker, "zeta")
    pick(qtbot, dialog.line_editor.product_picker, "MUG-RED")
    qtbot.mouseClick(dialog.line_editor.add_button, Qt.MouseButton.LeftButton)

    blocker = sqlite3.connect(shop.path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
        assert not dialog.save_button.isEnabled()  # running: Save disabled, progress shown
        assert dialog.save_button.text() == "Saving…"
        assert dialog.progress.isVisible()
        wait_idle(qtbot, shop)
        assert dialog.error_text() == BUSY_MESSAGE
        assert dialog.isVisible()
        assert dialog.customer_picker.currentText() == "Zeta Supplies"
        assert [line.sku for line in dialog.line_editor.lines()] == ["MUG-RED"]
        assert dialog.save_button.isEnabled()
    finally:
        blocker.rollback()
        blocker.close()
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        press_save(qtbot, shop, dialog)
    assert state(shop, dialog.placed_order_id)["lines"][0]["sku"] == "MUG-RED"


def test_new_order_on_read_only_database_keeps_the_form(qtbot, shop: Shop):
    shop.app.close()
    read_only = bootstrap(Settings(db_path=shop.path, read_only=True), source="test")
    shop.app = read_only
    dialog = open_dialog(
        qtbot, shop, NewOrderDialog(read_only.commands, read_only.queries, shop.tasks)
    )
    pick(qtbot, dialog.customer_picker, "acme")
    pick(qtbot, dialog.line_editor.product_picker, "blue")
    qtbot.mouseClick(dialog.line_editor.add_button, Qt.MouseButton.LeftButton)
    press_save(qtbot, shop, dialog)
    assert dialog.error_text() == READ_ONLY_MESSAGE
    assert dialog.isVisible() and len(dialog.line_editor.lines()) == 1


def test_same_command_id_on_second_save_writes_once(qtbot, shop: Shop):
    dialog = open_dialog(qtbot, shop, NewOrderDialog(shop.commands, shop.queries, shop.tasks))
    pick(qtbot, dialog.customer_picker, "acme")
    pick(qtbot, dialog.line_editor.product_picker, "blue")
    qtbot.mouseClick(dialog.line_editor.add_button, Qt.MouseButton.LeftButton)
    command = dialog.build_command()
    assert command.command_id == dialog.command_id
    first = shop.commands.dispatch(command)  # as if the reply had been lost
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        press_save(qtbot, shop, dialog)
    assert dialog.result_value.duplicate
    assert dialog.placed_order_id == first.aggregate_id


# --- edit lines ----------------------------------------------------------------------------


def test_edit_lines_add_remove_and_change_quantity(qtbot, shop: Shop):
    order_id = shop.place("Acme Trading Ltd", ("MUG-BLUE", 2), ("MUG-RED", 1))
    dialog = open_dialog(
        qtbot,
        shop,
        EditLinesDialog(shop.commands, shop.queries, shop.tasks, view_of(shop, order_id)),
    )
    editor = dialog.line_editor
    edit_quantity(qtbot, editor.table, 0, 5)
    assert editor.lines()[0].quantity == 5
    editor.table.selectRow(1)
    qtbot.mouseClick(editor.remove_button, Qt.MouseButton.LeftButton)
    pick(qtbot, editor.product_picker, "plate")
    qtbot.mouseClick(editor.add_button, Qt.MouseButton.LeftButton)
    assert editor.total_label.text() == "Total: 34.50 €"
    head = shop.app.events.head_position()
    press_save(qtbot, shop, dialog)
    # First the check: the one event in business words and the document, nothing written yet.
    preview = shown_preview(qtbot, dialog)
    assert "1 event will be recorded" in preview.text() and "PLATE-XL" in preview.text()
    assert shop.app.events.head_position() == head
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        confirm_preview(qtbot, shop, dialog)
    after = state(shop, order_id)
    assert [(line["sku"], line["quantity"]) for line in after["lines"]] == [
        ("MUG-BLUE", 5),
        ("PLATE-XL", 1),
    ]
    # one command for the whole edit: one event, one version, one card in the history
    history = shop.queries.ask(q.GetOrderHistory(order_id=order_id, from_version=4))
    assert [entry.type_name for entry in history] == ["OrderLinesChanged"]
    assert dialog.result_value.version == 4
    (stored,) = shop.app.events.read_stream(f"order-{order_id}", from_version=4)
    recorded = shop.app.events.find_command(stored.metadata.causation_id)
    assert recorded is not None
    assert (recorded.version, recorded.first_position, recorded.last_position) == (
        4,
        stored.position,
        stored.position,
    )


def test_edit_lines_refused_change_saves_nothing_of_the_edit(qtbot, shop: Shop):
    order_id = shop.place("Acme Trading Ltd", ("MUG-BLUE", 2), ("MUG-RED", 1))
    dialog = open_dialog(
        qtbot,
        shop,
        EditLinesDialog(shop.commands, shop.queries, shop.tasks, view_of(shop, order_id)),
    )
    editor = dialog.line_editor
    edit_quantity(qtbot, editor.table, 0, 5)
    pick(qtbot, editor.product_picker, "plate")
    qtbot.mouseClick(editor.add_button, Qt.MouseButton.LeftButton)
    # Discontinued while the form is open: the addition is refused at Save.
    shop.commands.dispatch(c.DiscontinueProduct(product_id=shop.products["PLATE-XL"]))
    head = shop.app.events.head_position()
    press_save(qtbot, shop, dialog)
    assert "PLATE-XL" in dialog.error_text("product")
    assert "discontinued" in dialog.error_text("product")
    assert shop.app.events.head_position() == head  # not even the quantity change
    assert [line["quantity"] for line in state(shop, order_id)["lines"]] == [2, 1]
    assert editor.lines()[0].quantity == 5  # what the clerk typed is kept


def test_edit_lines_conflict_reload_reapplies_typed_values(qtbot, shop: Shop):
    order_id = shop.place("Blue Harbour Café", ("MUG-BLUE", 2), ("TEA-EARL", 1))
    dialog = open_dialog(
        qtbot,
        shop,
        EditLinesDialog(shop.commands, shop.queries, shop.tasks, view_of(shop, order_id)),
    )
    edit_quantity(qtbot, dialog.line_editor.table, 0, 7)
    # someone else changes the order while the form is open
    tea = state(shop, order_id)["lines"][1]["line_id"]
    shop.commands.dispatch(
        c.ChangeLineQuantity(order_id=order_id, line_id=tea, quantity=4, expected_version=None)
    )
    press_save(qtbot, shop, dialog)
    prompt = dialog.conflict_prompt
    assert isinstance(prompt, QMessageBox)
    assert "changed by someone else" in prompt.text()
    assert dialog.line_editor.lines()[0].quantity == 7  # typed value kept
    reload_button = next(b for b in prompt.buttons() if b.text() == "&Reload")
    qtbot.mouseClick(reload_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shop)
    # Reloaded and reapplied: the clerk sees the new preview before anything is written.
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        confirm_preview(qtbot, shop, dialog)
    after = state(shop, order_id)
    assert [(line["sku"], line["quantity"]) for line in after["lines"]] == [
        ("MUG-BLUE", 7),
        ("TEA-EARL", 4),  # their change survived, it was not "reverted"
    ]


def test_edit_lines_conflict_cancel_keeps_input(qtbot, shop: Shop):
    order_id = shop.place("Acme Trading Ltd", ("MUG-BLUE", 2))
    dialog = open_dialog(
        qtbot,
        shop,
        EditLinesDialog(shop.commands, shop.queries, shop.tasks, view_of(shop, order_id)),
    )
    edit_quantity(qtbot, dialog.line_editor.table, 0, 9)
    shop.commands.dispatch(
        c.AddOrderLine(
            order_id=order_id, line=c.LineInput(product_id=shop.products["MUG-RED"], quantity=1)
        )
    )
    press_save(qtbot, shop, dialog)
    prompt = dialog.conflict_prompt
    cancel = prompt.button(QMessageBox.StandardButton.Cancel)
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    assert "Not saved" in dialog.error_text()
    assert dialog.line_editor.lines()[0].quantity == 9
    assert state(shop, order_id)["lines"][0]["quantity"] == 2


# --- status changes ------------------------------------------------------------------------


def test_confirm_shows_what_will_happen_then_confirms(qtbot, shop: Shop):
    order_id = shop.place("Acme Trading Ltd", ("MUG-BLUE", 2))
    dialog = open_dialog(
        qtbot,
        shop,
        ConfirmOrderDialog(shop.commands, shop.queries, shop.tasks, view_of(shop, order_id)),
    )
    assert "9.00 €" in dialog.message() and "cannot be undone" in dialog.message()
    qtbot.keyClick(dialog, Qt.Key.Key_Return)  # Enter = the default button
    preview = shown_preview(qtbot, dialog)
    assert "Confirmed" in preview.text() and state(shop, order_id)["status"] == "pending"
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        confirm_preview(qtbot, shop, dialog)  # Enter again records it
    assert state(shop, order_id)["status"] == "confirmed"


def test_ship_requires_tracking_number_beside_the_field(qtbot, shop: Shop):
    order_id = shop.place("Acme Trading Ltd", ("MUG-BLUE", 2))
    shop.commands.dispatch(c.ConfirmOrder(order_id=order_id))
    dialog = open_dialog(
        qtbot,
        shop,
        ShipOrderDialog(shop.commands, shop.queries, shop.tasks, view_of(shop, order_id)),
    )
    head = shop.app.events.head_position()
    qtbot.keyClicks(dialog.carrier_edit, "DHL")
    press_save(qtbot, shop, dialog)
    assert "tracking number" in dialog.error_text("tracking_number").lower()
    assert dialog.error_text() == ""
    assert shop.app.events.head_position() == head  # nothing written
    assert dialog.carrier_edit.text() == "DHL"
    qtbot.keyClicks(dialog.tracking_edit, "JD0123456789")
    press_save(qtbot, shop, dialog)
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        confirm_preview(qtbot, shop, dialog)
    after = state(shop, order_id)
    assert (after["status"], after["tracking_number"], after["carrier"]) == (
        "shipped",
        "JD0123456789",
        "DHL",
    )


def test_confirm_conflict_reload_resends_with_new_version(qtbot, shop: Shop):
    order_id = shop.place("Acme Trading Ltd", ("MUG-BLUE", 2))
    dialog = open_dialog(
        qtbot,
        shop,
        ConfirmOrderDialog(shop.commands, shop.queries, shop.tasks, view_of(shop, order_id)),
    )
    shop.commands.dispatch(  # a colleague adds a line meanwhile
        c.AddOrderLine(
            order_id=order_id, line=c.LineInput(product_id=shop.products["MUG-RED"], quantity=1)
        )
    )
    press_save(qtbot, shop, dialog)
    assert state(shop, order_id)["status"] == "pending"  # refused: the clerk saw version 2
    reload_button = next(b for b in dialog.conflict_prompt.buttons() if b.text() == "&Reload")
    qtbot.mouseClick(reload_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shop)
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        confirm_preview(qtbot, shop, dialog)
    after = state(shop, order_id)
    assert after["status"] == "confirmed" and len(after["lines"]) == 2


def test_deliver(qtbot, shop: Shop):
    order_id = shop.place("Acme Trading Ltd", ("MUG-BLUE", 2))
    shop.commands.dispatch(c.ConfirmOrder(order_id=order_id))
    shop.commands.dispatch(c.ShipOrder(order_id=order_id, tracking_number="T-9"))
    dialog = open_dialog(
        qtbot,
        shop,
        DeliverOrderDialog(shop.commands, shop.queries, shop.tasks, view_of(shop, order_id)),
    )
    assert "T-9" in dialog.message()
    press_save(qtbot, shop, dialog)
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        confirm_preview(qtbot, shop, dialog)
    assert state(shop, order_id)["status"] == "delivered"


def test_cancel_requires_reason_and_asks_to_confirm(qtbot, shop: Shop):
    order_id = shop.place("Acme Trading Ltd", ("MUG-BLUE", 2))
    dialog = open_dialog(
        qtbot,
        shop,
        CancelOrderDialog(shop.commands, shop.queries, shop.tasks, view_of(shop, order_id)),
    )
    head = shop.app.events.head_position()
    press_save(qtbot, shop, dialog)
    assert "reason" in dialog.error_text("reason").lower()
    assert shop.app.events.head_position() == head
    qtbot.keyClicks(dialog.reason_edit, "Customer changed their mind")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    # The preview is the confirmation: what will be written, then "Cancel order" or Back.
    preview = shown_preview(qtbot, dialog)
    assert "Cancelled" in preview.text() and "Customer changed their mind" in preview.text()
    assert preview.confirm_button.text() == "Cancel &order"
    # Back (Esc) first: nothing happens, the reason stays
    qtbot.keyClick(preview, Qt.Key.Key_Escape)
    wait_idle(qtbot, shop)
    assert dialog.preview_dialog is None and dialog.isVisible()
    assert state(shop, order_id)["status"] == "pending"
    assert dialog.reason_edit.text() == "Customer changed their mind"
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        confirm_preview(qtbot, shop, dialog)
    after = state(shop, order_id)
    assert (after["status"], after["cancel_reason"]) == ("cancelled", "Customer changed their mind")


def test_escape_closes_a_form_but_not_while_saving(qtbot, shop: Shop):
    order_id = shop.place("Acme Trading Ltd", ("MUG-BLUE", 2))
    dialog = open_dialog(
        qtbot,
        shop,
        CancelOrderDialog(shop.commands, shop.queries, shop.tasks, view_of(shop, order_id)),
    )
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert dialog.result() == QDialog.DialogCode.Rejected and not dialog.isVisible()


def test_money_text_and_parsing_follow_the_locale(qtbot, shop: Shop):
    from desktop_app.ui.orders.form_base import money_text, parse_amount

    assert money_text(Decimal("1234567.5"), "EUR") == "1,234,567.50 €"
    assert money_text(Decimal("1200"), "JPY") == "1,200 ¥"
    assert parse_amount(" 1,234.50 ") == Decimal("1234.50")
    with pytest.raises(ValueError):
        parse_amount("abc")
