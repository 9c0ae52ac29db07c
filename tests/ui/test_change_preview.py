"""Preview before a change (issue 11), driven like a clerk: Save shows the events the command
would write and the order document before and after, computed by the domain without writing;
a refusal says why and cannot be confirmed; Enter confirms, Esc goes back with the input kept;
a change by someone else between the preview and the confirmation is caught, not applied.
Real widgets offscreen, real buses over a real SQLite file."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.ui.orders.form_view import load_order_view
from desktop_app.ui.orders.forms import DeliverOrderDialog, ShipOrderDialog
from desktop_app.ui.orders.preview import PreviewDialog
from tests.ui.fixtures_forms import (
    QT_OFFSCREEN_NOISE,
    Shop,
    shop_fixture,  # noqa: F401  (the "shop" fixture)
    shown_preview,
    wait_idle,
)

pytestmark = [pytest.mark.usefixtures("shop"), QT_OFFSCREEN_NOISE]


def _open(qtbot, shop: Shop, dialog):
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    wait_idle(qtbot, shop)
    return dialog


def _status(shop: Shop, order_id: str) -> str:
    return str(shop.queries.ask(q.GetOrderAtVersion(order_id=order_id)).state["status"])


def test_ship_preview_shows_the_event_and_the_document_and_writes_nothing_until_enter(
    qtbot, shop: Shop
):
    order_id = shop.place("Acme Trading Ltd", ("MUG-BLUE", 2))
    shop.commands.dispatch(c.ConfirmOrder(order_id=order_id))
    dialog = _open(
        qtbot,
        shop,
        ShipOrderDialog(
            shop.commands, shop.queries, shop.tasks, load_order_view(shop.queries, order_id)
        ),
    )
    qtbot.keyClicks(dialog.tracking_edit, "JD0123456789")
    head = shop.app.events.head_position()
    qtbot.keyClick(dialog.tracking_edit, Qt.Key.Key_Return)
    preview = shown_preview(qtbot, dialog)
    assert isinstance(preview, PreviewDialog)
    text = preview.text()
    assert "1 event will be recorded" in text and "Shipped" in text
    assert "JD0123456789" in text  # the tracking number row of the document, before → after
    assert "now (v3)" in text and "after (v4)" in text
    assert shop.app.events.head_position() == head and _status(shop, order_id) == "confirmed"
    # Esc: back to the form, nothing written, the input kept.
    qtbot.keyClick(preview, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: dialog.preview_dialog is None)
    assert dialog.isVisible() and dialog.tracking_edit.text() == "JD0123456789"
    assert shop.app.events.head_position() == head
    # Save again, Enter: the same command is sent.
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    preview = shown_preview(qtbot, dialog)
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        qtbot.keyClick(preview, Qt.Key.Key_Return)
        wait_idle(qtbot, shop)
    assert _status(shop, order_id) == "shipped"
    assert shop.app.events.head_position() == head + 1
    assert dialog.result_value.version == 4


def test_a_refused_change_says_why_and_cannot_be_confirmed(qtbot, shop: Shop):
    order_id = shop.place("Acme Trading Ltd", ("MUG-BLUE", 2))
    shop.commands.dispatch(c.ConfirmOrder(order_id=order_id))
    # Deliver on an order that was never shipped: the domain refuses (not a field of the form).
    dialog = _open(
        qtbot,
        shop,
        DeliverOrderDialog(
            shop.commands, shop.queries, shop.tasks, load_order_view(shop.queries, order_id)
        ),
    )
    head = shop.app.events.head_position()
    rejections = shop.queries.ask(q.ListOrderRejections(order_id=order_id))
    qtbot.keyClick(dialog, Qt.Key.Key_Return)
    preview = shown_preview(qtbot, dialog)
    with pytest.raises(Exception) as refused:  # what the real command would meet
        shop.commands.dispatch(c.DeliverOrder(order_id=order_id))
    assert "would be refused" in preview.text() and str(refused.value) in preview.text()
    assert not preview.confirm_button.isEnabled()
    # Enter cannot confirm a refused change: Back is the default, nothing is written.
    assert preview.back_button.isDefault()
    qtbot.keyClick(preview, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.preview_dialog is None)
    assert "Not saved" in dialog.error_text() and str(refused.value) in dialog.error_text()
    assert shop.app.events.head_position() == head
    # The preview itself recorded no rejection (only the command sent above did).
    after = shop.queries.ask(q.ListOrderRejections(order_id=order_id))
    assert len(after) == len(rejections) + 1


def test_a_change_by_someone_else_after_the_preview_is_caught_not_applied(qtbot, shop: Shop):
    order_id = shop.place("Acme Trading Ltd", ("MUG-BLUE", 2))
    shop.commands.dispatch(c.ConfirmOrder(order_id=order_id))
    dialog = _open(
        qtbot,
        shop,
        ShipOrderDialog(
            shop.commands, shop.queries, shop.tasks, load_order_view(shop.queries, order_id)
        ),
    )
    qtbot.keyClicks(dialog.tracking_edit, "JD-1")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    preview = shown_preview(qtbot, dialog)
    assert preview.confirm_button.isEnabled()
    # A colleague changes the order while the preview is open.
    shop.commands.dispatch(c.ChangeShippingAddress(order_id=order_id, address="Elsewhere 1"))
    head = shop.app.events.head_position()
    qtbot.keyClick(preview, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.conflict_prompt is not None)
    wait_idle(qtbot, shop)
    assert isinstance(dialog.conflict_prompt, QMessageBox)
    assert "changed by someone else" in dialog.conflict_prompt.text()
    assert shop.app.events.head_position() == head and _status(shop, order_id) == "confirmed"
    assert dialog.tracking_edit.text() == "JD-1"
