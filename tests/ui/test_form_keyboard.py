"""The forms for keyboard people (issue 12): focus starts in the first field, Tab runs top to
bottom and reaches Save after every field, an error goes when its cause is fixed, the layout
does not jump when one appears, and money takes the locale's decimal comma. Real widgets,
real buses, a real SQLite file."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import itertools
from decimal import Decimal
from typing import Any

import pytest
from PySide6.QtCore import QLocale, QPoint, Qt
from PySide6.QtWidgets import QApplication, QDialog, QWidget

from desktop_app.application import queries as q
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
    shop_fixture,  # noqa: F401  (the "shop" fixture)
    wait_idle,
)

pytestmark = [pytest.mark.usefixtures("shop"), QT_OFFSCREEN_NOISE]


def _open(qtbot: Any, shop: Shop, dialog: QDialog) -> QDialog:
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    wait_idle(qtbot, shop)
    return dialog


def _order_in(shop: Shop, status: str) -> str:
    order_id = shop.place("Acme Trading Ltd", ("MUG-BLUE", 2), ("TEA-EARL", 1))
    from desktop_app.application import commands as c

    if status in ("confirmed", "shipped"):
        shop.commands.dispatch(c.ConfirmOrder(order_id=order_id))
    if status == "shipped":
        shop.commands.dispatch(c.ShipOrder(order_id=order_id, tracking_number="1Z"))
    shop.catch_up()
    return order_id


def _dialog(shop: Shop, kind: str) -> QDialog:
    if kind == "new":
        return NewOrderDialog(shop.commands, shop.queries, shop.tasks)
    status = {"edit": "pending", "confirm": "pending", "cancel": "pending"}.get(kind)
    status = status or {"ship": "confirmed", "deliver": "shipped"}[kind]
    view = load_order_view(shop.queries, _order_in(shop, status))
    cls = {
        "edit": EditLinesDialog,
        "confirm": ConfirmOrderDialog,
        "cancel": CancelOrderDialog,
        "ship": ShipOrderDialog,
        "deliver": DeliverOrderDialog,
    }[kind]
    return cls(shop.commands, shop.queries, shop.tasks, view)


def _first_field(dialog: Any, kind: str) -> QWidget:
    return {
        "new": lambda: dialog.customer_picker,
        "edit": lambda: dialog.line_editor.product_picker,
        "ship": lambda: dialog.tracking_edit,
        "cancel": lambda: dialog.reason_edit,
        "confirm": lambda: dialog.save_button,
        "deliver": lambda: dialog.save_button,
    }[kind]()


@pytest.mark.parametrize("kind", ["new", "edit", "ship", "cancel", "confirm", "deliver"])
def test_forms_open_with_focus_in_the_first_field(qtbot: Any, shop: Shop, kind: str) -> None:
    dialog = _open(qtbot, shop, _dialog(shop, kind))
    first = _first_field(dialog, kind)
    focused = dialog.focusWidget()
    assert focused is not None
    assert focused is first or first.isAncestorOf(focused), focused


def _where(dialog: QWidget, widget: QWidget) -> tuple[int, int, int]:
    point = widget.mapTo(dialog, QPoint(0, 0))
    return point.y(), point.x(), widget.height()


def _tab_through(qtbot: Any, dialog: Any) -> list[QWidget]:
    """Press Tab from the first field until the focus comes round again."""
    seen: list[QWidget] = []
    focused = dialog.focusWidget()
    for _ in range(30):
        owner = focused
        # Report the field, not its inner line edit.
        while (
            owner is not None and owner.parentWidget() is not dialog and owner.focusProxy() is None
        ):
            parent = owner.parentWidget()
            if parent is None or not (parent.focusPolicy() & Qt.FocusPolicy.TabFocus):
                break
            owner = parent
        if owner in seen:
            break
        seen.append(owner)
        qtbot.keyClick(focused, Qt.Key.Key_Tab)
        focused = dialog.focusWidget()
    return seen


@pytest.mark.parametrize("kind", ["new", "edit", "ship", "cancel"])
def test_tab_runs_top_to_bottom_and_reaches_save_after_every_field(
    qtbot: Any, shop: Shop, kind: str
) -> None:
    dialog = _open(qtbot, shop, _dialog(shop, kind))
    chain = _tab_through(qtbot, dialog)
    assert chain[0] is _first_field(dialog, kind) or chain[0].isAncestorOf(
        _first_field(dialog, kind)
    )
    assert dialog.save_button in chain and dialog.cancel_button in chain
    save = chain.index(dialog.save_button)
    # Save comes after every field; only Cancel (to its right) follows it.
    assert chain[save + 1 :] == [dialog.cancel_button], chain
    # Top to bottom, and left to right within a row.
    for before, after in itertools.pairwise(chain[: save + 1]):
        y0, x0, h0 = _where(dialog, before)
        y1, x1, _h1 = _where(dialog, after)
        same_row = y1 < y0 + h0 - 2 and y0 < y1 + _h1 - 2
        assert (same_row and x1 > x0) or (not same_row and y1 >= y0), (before, after)
    if kind == "new":
        editor = dialog.line_editor
        expected = [
            dialog.customer_picker,
            editor.product_picker,
            editor.price_edit,
            editor.quantity_spin,
            editor.add_button,
            editor.table,
        ]
        assert [w for w in chain if w in expected] == expected


def test_an_error_goes_when_its_cause_is_fixed(qtbot: Any, shop: Shop) -> None:
    ship = _open(qtbot, shop, _dialog(shop, "ship"))
    qtbot.mouseClick(ship.save_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shop)
    assert ship.error_text("tracking_number") != ""
    ship.tracking_edit.setFocus()
    qtbot.keyClicks(ship.tracking_edit, "1Z999")
    assert ship.error_text("tracking_number") == ""

    new = _open(qtbot, shop, _dialog(shop, "new"))
    qtbot.waitUntil(lambda: new.loaded, timeout=5000)
    editor = new.line_editor
    qtbot.keyClicks(new.customer_picker.lineEdit(), "Nobody at all")
    qtbot.mouseClick(new.save_button, Qt.MouseButton.LeftButton)
    assert new.customer_error.message() == "Choose a customer from the list."
    new.customer_picker.lineEdit().clear()
    assert new.customer_error.message() != ""  # still no customer: still true
    qtbot.keyClicks(new.customer_picker.lineEdit(), "Northwind Traders")
    assert new.customer_error.message() == ""

    qtbot.keyClicks(editor.product_picker.lineEdit(), "MUG-BLUE")
    editor.price_edit.clear()
    qtbot.keyClicks(editor.price_edit, "4.5x")
    qtbot.mouseClick(editor.add_button, Qt.MouseButton.LeftButton)
    assert editor.price_error.message() != ""
    qtbot.keyClick(editor.price_edit, Qt.Key.Key_Backspace)
    assert editor.price_error.message() == ""  # "4.5" is an amount


def test_the_form_does_not_jump_when_an_error_appears(qtbot: Any, shop: Shop) -> None:
    ship = _open(qtbot, shop, _dialog(shop, "ship"))
    watched = [ship.tracking_edit, ship.carrier_edit, ship.save_button]
    before = [_where(ship, w) for w in watched] + [(ship.height(), 0, 0)]
    qtbot.mouseClick(ship.save_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shop)
    assert ship.error_text("tracking_number") != ""
    QApplication.processEvents()
    after = [_where(ship, w) for w in watched] + [(ship.height(), 0, 0)]
    assert after == before

    new = _open(qtbot, shop, _dialog(shop, "new"))
    qtbot.waitUntil(lambda: new.loaded, timeout=5000)
    editor = new.line_editor
    watched = [editor.product_picker, editor.table, new.save_button]
    before = [_where(new, w) for w in watched]
    qtbot.mouseClick(editor.add_button, Qt.MouseButton.LeftButton)  # nothing chosen
    assert editor.product_error.message() == "Choose a product."
    QApplication.processEvents()
    assert [_where(new, w) for w in watched] == before


@pytest.fixture
def german() -> Any:
    previous = QLocale()
    QLocale.setDefault(QLocale(QLocale.Language.German, QLocale.Country.Germany))
    yield
    QLocale.setDefault(previous)


def test_money_input_takes_the_locales_decimal_comma(qtbot: Any, shop: Shop, german: Any) -> None:
    new = _open(qtbot, shop, _dialog(shop, "new"))
    qtbot.waitUntil(lambda: new.loaded, timeout=5000)
    editor = new.line_editor
    qtbot.keyClicks(new.customer_picker.lineEdit(), "Acme Trading Ltd")
    qtbot.keyClicks(editor.product_picker.lineEdit(), "MUG-BLUE")
    assert editor.price_edit.text() == "4,50"  # the catalog price, as the locale writes it
    editor.price_edit.clear()
    qtbot.keyClicks(editor.price_edit, "4,80")
    editor.quantity_spin.setValue(2)
    qtbot.mouseClick(editor.add_button, Qt.MouseButton.LeftButton)
    assert editor.price_error.message() == ""
    [line] = editor.lines()
    assert line.unit_price == Decimal("4.80") and line.price_overridden
    assert editor.total_label.text() == "Total: 9,60 €"
    # The table's price cell takes a comma too; a typo there is said, not silently dropped.
    index = editor.model.index(0, LinesModel.PRICE)
    assert not editor.model.setData(index, "5,2x")
    assert "MUG-BLUE" in editor.lines_error.message() and "5,2x" in editor.lines_error.message()
    assert editor.lines()[0].unit_price == Decimal("4.80")
    assert editor.model.setData(index, "5,25")
    assert editor.lines_error.message() == ""  # the cause is fixed
    assert editor.lines()[0].unit_price == Decimal("5.25")
    with qtbot.waitSignal(new.finished, timeout=10000):
        qtbot.mouseClick(new.save_button, Qt.MouseButton.LeftButton)
    shop.catch_up()
    state = dict(shop.queries.ask(q.GetOrderAtVersion(order_id=new.placed_order_id)).state)
    lines = state["lines"]
    lines = list(lines.values()) if isinstance(lines, dict) else list(lines)
    prices = [Decimal(str(line["unit_price"])) for line in lines]
    assert prices == [Decimal("5.25")]
