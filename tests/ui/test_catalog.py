"""Catalog dialogs: customers (search, register, rename) and products (add, rename, change
price, discontinue), over a real SQLite file."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import Qt

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.ui.catalog import CustomersDialog, ProductsDialog
from desktop_app.ui.catalog.models import CustomersModel, ProductsModel
from desktop_app.ui.orders.forms import NewOrderDialog
from tests.ui.fixtures_forms import (
    QT_OFFSCREEN_NOISE,
    Shop,
    shop_fixture,  # noqa: F401  (the "shop" fixture)
    wait_idle,
)

pytestmark = [pytest.mark.usefixtures("shop"), QT_OFFSCREEN_NOISE]


def open_list(qtbot, shop: Shop, dialog_class):
    dialog = dialog_class(shop.commands, shop.queries, shop.tasks)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    wait_idle(qtbot, shop)
    return dialog


def select(dialog, text: str, column: int = 0) -> None:
    model = dialog.model
    for row in range(model.rowCount()):
        if model.index(row, column).data() == text:
            dialog.table.selectRow(row)
            return
    raise AssertionError(f"{text!r} is not listed")


def save(qtbot, shop: Shop, editor) -> None:
    qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shop)


def customer_names(shop: Shop) -> list[str]:
    shop.catch_up()
    return [row.name for row in shop.queries.ask(q.ListCustomers())]


def products(shop: Shop) -> dict[str, q.ProductRow]:
    shop.catch_up()
    return {row.sku: row for row in shop.queries.ask(q.ListProducts())}


def test_customers_search_register_rename(qtbot, shop: Shop):
    dialog = open_list(qtbot, shop, CustomersDialog)
    assert dialog.model.rowCount() == 4
    assert not dialog.rename_button.isEnabled()  # nothing selected

    with qtbot.waitSignal(dialog.loaded, timeout=5000):
        qtbot.keyClicks(dialog.search_edit, "harb")
    wait_idle(qtbot, shop)
    assert [r.name for r in dialog.model.rows()] == ["Blue Harbour Café"]
    dialog.search_edit.clear()
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 4 and shop.tasks.pending() == 0)

    editor = dialog.register_customer()
    wait_idle(qtbot, shop)
    head = shop.app.events.head_position()
    save(qtbot, shop, editor)  # empty name: the domain's words beside the field
    assert editor.error_text("name") != "" and editor.isVisible()
    assert shop.app.events.head_position() == head
    qtbot.keyClicks(editor.name_edit, "Quill & Ink GmbH")
    with qtbot.waitSignal(editor.accepted, timeout=5000):
        save(qtbot, shop, editor)
    assert dialog.selected_row().name == "Quill & Ink GmbH"  # shown at once, selected
    assert "Quill & Ink GmbH" in customer_names(shop)

    select(dialog, "Zeta Supplies")
    editor = dialog.rename_customer()
    assert editor.name_edit.text() == "Zeta Supplies"
    editor.name_edit.clear()
    qtbot.keyClicks(editor.name_edit, "Zeta Supplies AG")
    with qtbot.waitSignal(editor.accepted, timeout=5000):
        qtbot.keyClick(editor.name_edit, Qt.Key.Key_Return)
        wait_idle(qtbot, shop)
    assert dialog.selected_row().name == "Zeta Supplies AG"
    assert "Zeta Supplies AG" in customer_names(shop)


def test_rename_customer_conflict_reload_reapplies(qtbot, shop: Shop):
    dialog = open_list(qtbot, shop, CustomersDialog)
    select(dialog, "Acme Trading Ltd")
    editor = dialog.rename_customer()
    editor.name_edit.setText("Acme Trading Group")
    shop.commands.dispatch(  # renamed elsewhere meanwhile
        c.RenameCustomer(customer_id=shop.customers["Acme Trading Ltd"], name="ACME Ltd.")
    )
    save(qtbot, shop, editor)
    prompt = editor.conflict_prompt
    assert prompt is not None and "customer was changed by someone else" in prompt.text()
    reload_button = next(b for b in prompt.buttons() if b.text() == "&Reload")
    with qtbot.waitSignal(editor.accepted, timeout=5000):
        qtbot.mouseClick(reload_button, Qt.MouseButton.LeftButton)
        wait_idle(qtbot, shop)
    assert "Acme Trading Group" in customer_names(shop)


def test_products_add_change_price_discontinue(qtbot, shop: Shop):
    dialog = open_list(qtbot, shop, ProductsDialog)
    assert dialog.model.rowCount() == 5  # discontinued ones shown, greyed
    old = dialog.model.position_of(shop.products["OLD-CUP"])
    assert dialog.model.index(old, ProductsModel.STATUS).data() == "Discontinued"

    editor = dialog.add_product()
    assert editor.currency_combo.currentText() == "EUR"
    qtbot.keyClicks(editor.sku_edit, "JUG-1L")
    qtbot.keyClicks(editor.name_edit, "Water Jug 1 l")
    qtbot.keyClicks(editor.price_edit, "abc")
    save(qtbot, shop, editor)
    assert editor.error_text("price").endswith("is not an amount; type it like 1234.50.")
    editor.price_edit.clear()
    qtbot.keyClicks(editor.price_edit, "1,019.90")
    with qtbot.waitSignal(editor.accepted, timeout=5000):
        save(qtbot, shop, editor)
    assert dialog.selected_row().sku == "JUG-1L"
    assert products(shop)["JUG-1L"].price_minor == 101990

    select(dialog, "MUG-BLUE")
    editor = dialog.change_price()
    assert editor.price_edit.text() == "4.50"
    editor.price_edit.setText("4.50")
    save(qtbot, shop, editor)  # the same price: the domain says so beside the field
    assert "already" in editor.error_text("price")
    editor.price_edit.setText("4.95")
    with qtbot.waitSignal(editor.accepted, timeout=5000):
        save(qtbot, shop, editor)
    row = dialog.selected_row()
    assert (row.sku, row.price_minor) == ("MUG-BLUE", 495)
    assert products(shop)["MUG-BLUE"].price_minor == 495

    select(dialog, "MUG-RED")
    editor = dialog.discontinue_product()
    assert "no longer be offered" in editor.message()
    with qtbot.waitSignal(editor.accepted, timeout=5000):
        save(qtbot, shop, editor)
    assert dialog.selected_row().discontinued
    assert products(shop)["MUG-RED"].discontinued

    select(dialog, "MUG-BLUE")
    editor = dialog.rename_product()
    editor.name_edit.setText("Blue Mug 330 ml")
    with qtbot.waitSignal(editor.accepted, timeout=5000):
        save(qtbot, shop, editor)
    assert products(shop)["MUG-BLUE"].name == "Blue Mug 330 ml"

    # the discontinued product is not offered on a new order; the new one is
    order = NewOrderDialog(shop.commands, shop.queries, shop.tasks)
    qtbot.addWidget(order)
    wait_idle(qtbot, shop)
    offered = {row.sku for row in order.line_editor.product_picker.products()}
    assert "MUG-RED" not in offered and "OLD-CUP" not in offered
    assert {"JUG-1L", "MUG-BLUE"} <= offered
    order.line_editor.product_picker.setEditText("MUG-RED")
    qtbot.mouseClick(order.line_editor.add_button, Qt.MouseButton.LeftButton)
    assert order.line_editor.product_error.message() == "Choose a product from the list."

    dialog.show_discontinued.setChecked(False)
    wait_idle(qtbot, shop)
    assert all(not row.discontinued for row in dialog.model.rows())


def test_read_only_disables_catalog_changes(qtbot, shop: Shop):
    customers = open_list(qtbot, shop, CustomersDialog)
    customers.set_read_only(True)
    select(customers, "Acme Trading Ltd")
    assert not customers.register_button.isEnabled()
    assert not customers.rename_button.isEnabled()
    assert customers.register_customer() is None and customers.rename_customer() is None
    prods = open_list(qtbot, shop, ProductsDialog)
    prods.set_read_only(True)
    select(prods, "MUG-BLUE")
    for button in (
        prods.add_button,
        prods.rename_button,
        prods.price_button,
        prods.discontinue_button,
    ):
        assert not button.isEnabled()
    prods.set_read_only(False)
    assert prods.price_button.isEnabled()


def test_catalog_models_pass_the_model_tester(qtmodeltester, shop: Shop):
    shop.catch_up()
    customers = CustomersModel()
    customers.set_rows(shop.queries.ask(q.ListCustomers()))
    qtmodeltester.check(customers, force_py=True)
    products_model = ProductsModel()
    products_model.set_rows(shop.queries.ask(q.ListProducts()))
    qtmodeltester.check(products_model, force_py=True)
    first = products_model.row_at(0)
    assert products_model.upsert(first) == 0
    assert products_model.index(0, ProductsModel.PRICE).data().endswith(" €")


# --- catalog integrity -----------------------------------------------------------------------


def test_a_duplicate_sku_is_refused_beside_the_sku_field(qtbot, shop: Shop):
    dialog = open_list(qtbot, shop, ProductsDialog)
    editor = dialog.add_product()
    qtbot.keyClicks(editor.sku_edit, " mug-blue ")  # case and spaces do not make it new
    qtbot.keyClicks(editor.name_edit, "Another mug")
    qtbot.keyClicks(editor.price_edit, "3.00")
    head = shop.app.events.head_position()
    save(qtbot, shop, editor)
    assert editor.error_text("sku") == (
        "SKU MUG-BLUE is already used by Blue Mug. Each product needs its own SKU."
    )
    assert editor.isVisible() and editor.name_edit.text() == "Another mug"  # nothing lost
    assert shop.app.events.head_position() == head
    # A discontinued product keeps its SKU too.
    editor.sku_edit.setText("OLD-CUP")
    save(qtbot, shop, editor)
    assert "OLD-CUP is already used by Old Cup" in editor.error_text("sku")
    editor.sku_edit.setText("MUG-BLUE-2")
    with qtbot.waitSignal(editor.accepted, timeout=5000):
        save(qtbot, shop, editor)
    assert products(shop)["MUG-BLUE-2"].name == "Another mug"


def test_a_taken_sku_is_pointed_out_while_typing_and_the_message_goes_when_fixed(qtbot, shop: Shop):
    dialog = open_list(qtbot, shop, ProductsDialog)
    editor = dialog.add_product()
    qtbot.keyClicks(editor.sku_edit, "tea-earl")
    qtbot.waitUntil(lambda: editor.error_text("sku") != "", timeout=5000)
    assert editor.error_text("sku") == (
        "SKU TEA-EARL is already used by Earl Grey Tea 250 g. Each product needs its own SKU."
    )
    qtbot.keyClicks(editor.sku_edit, "-2")
    qtbot.waitUntil(lambda: editor.error_text("sku") == "", timeout=5000)
    editor.check_sku()  # the answer for the fixed SKU is in: still no message
    wait_idle(qtbot, shop)
    assert editor.error_text("sku") == ""


def test_a_look_alike_customer_name_is_warned_about_not_refused(qtbot, shop: Shop):
    dialog = open_list(qtbot, shop, CustomersDialog)
    editor = dialog.register_customer()
    qtbot.keyClicks(editor.name_edit, "acme  trading ltd.")
    qtbot.waitUntil(lambda: editor.warning_text() != "", timeout=5000)  # while typing
    assert "“Acme Trading Ltd” (since " in editor.warning_text()
    assert "no orders" in editor.warning_text()
    assert "you can still register this one" in editor.warning_text()
    with qtbot.waitSignal(editor.accepted, timeout=5000):
        save(qtbot, shop, editor)  # the clerk goes on: registered
    assert sorted(n for n in customer_names(shop) if "cme" in n) == [
        "Acme Trading Ltd",
        "acme  trading ltd.",
    ]

    # Saved before the check answered: the warning comes first, the next Save goes ahead.
    editor = dialog.register_customer()
    editor.name_edit.setText("Blue Harbor Cafe")
    head = shop.app.events.head_position()
    save(qtbot, shop, editor)
    assert "“Blue Harbour Café”" in editor.warning_text()
    assert editor.isVisible() and shop.app.events.head_position() == head
    with qtbot.waitSignal(editor.accepted, timeout=5000):
        save(qtbot, shop, editor)
    assert "Blue Harbor Cafe" in customer_names(shop)

    # A name nothing looks like: no warning, saved at once.
    editor = dialog.register_customer()
    editor.name_edit.setText("Quill & Ink GmbH")
    editor.check_name()
    wait_idle(qtbot, shop)
    assert editor.warning_text() == ""
    with qtbot.waitSignal(editor.accepted, timeout=5000):
        save(qtbot, shop, editor)

    # A rename is checked against the others, never against the customer itself.
    shop.catch_up()
    dialog.refresh()
    wait_idle(qtbot, shop)
    select(dialog, "Zeta Supplies")
    editor = dialog.rename_customer()
    editor.name_edit.setText("ZETA supplies")
    editor.check_name()
    wait_idle(qtbot, shop)
    assert editor.warning_text() == ""
    editor.name_edit.setText("Northwind Trader")
    editor.check_name()
    wait_idle(qtbot, shop)
    assert "“Northwind Traders”" in editor.warning_text()
    assert "you can still use this name" in editor.warning_text()


def test_rename_form_says_what_orders_show_and_the_old_name_finds_them(qtbot, shop: Shop):
    order_id = shop.place("Zeta Supplies", ("MUG-BLUE", 1))
    shop.catch_up()
    dialog = open_list(qtbot, shop, CustomersDialog)
    select(dialog, "Zeta Supplies")
    editor = dialog.rename_customer()
    intro = " ".join(label.text() for label in editor.findChildren(type(editor.similar_warning)))
    assert "orders will show the new name" in intro and "old name still finds" in intro
    editor.name_edit.setText("Zeta Group")
    with qtbot.waitSignal(editor.accepted, timeout=5000):
        save(qtbot, shop, editor)
    shop.catch_up()
    # What the form said: the list shows the new name, the old one still finds the order.
    for search in ("zeta group", "zeta supplies"):
        page = shop.queries.ask(q.ListOrders(search=search))
        assert [(r.order_id, r.customer_name) for r in page.rows] == [(order_id, "Zeta Group")]
    history = shop.queries.ask(q.GetOrderHistory(order_id=order_id))
    assert history[0].payload["customer_name"] == "Zeta Supplies"  # placed as


def test_pickers_tell_look_alikes_apart(qtbot, shop: Shop):
    twin = shop.commands.dispatch(c.RegisterCustomer(name="Acme Trading Ltd")).aggregate_id
    shop.place("Acme Trading Ltd", ("MUG-BLUE", 1))
    shop.catch_up()
    order = NewOrderDialog(shop.commands, shop.queries, shop.tasks)
    qtbot.addWidget(order)
    order.show()
    qtbot.waitExposed(order)
    wait_idle(qtbot, shop)
    picker = order.customer_picker
    shown = {}
    for position in range(picker.count()):
        index = picker.model().index(position, 0)
        shown[picker.itemData(position)] = picker.detail_delegate.display_text(index)
    first = shown[shop.customers["Acme Trading Ltd"]]
    second = shown[twin]
    assert first.startswith("Acme Trading Ltd") and first.endswith("· 1 order")
    assert second.startswith("Acme Trading Ltd") and second.endswith("· no orders")
    assert "since " in first and first != second

    # The popup shows the detail; picking the second namesake chooses exactly that one.
    picker.setFocus()
    qtbot.keyClicks(picker.lineEdit(), "acme")
    popup = picker.completer().popup()
    qtbot.waitUntil(popup.isVisible)
    texts = [
        picker.detail_delegate.display_text(popup.model().index(row, 0))
        for row in range(popup.model().rowCount())
    ]
    assert sorted(texts) == sorted([first, second])
    target = texts.index(second)
    for _ in range(target + 1):
        qtbot.keyClick(popup, Qt.Key.Key_Down)
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    assert picker.selected_customer().customer_id == twin

    # Typed, not picked: never a guess between namesakes (Qt would take the first).
    picker.lineEdit().selectAll()
    qtbot.keyClicks(picker.lineEdit(), "Acme Trading Ltd")
    assert picker.selected_customer() is None and order.isVisible()
    qtbot.mouseClick(order.save_button, Qt.MouseButton.LeftButton)
    assert order.error_text("customer").startswith("2 customers are called Acme Trading Ltd")

    products_picker = order.line_editor.product_picker
    position = products_picker.findData(shop.products["MUG-BLUE"])
    text = products_picker.detail_delegate.display_text(products_picker.model().index(position, 0))
    assert text.startswith("MUG-BLUE — Blue Mug") and "4.50" in text


def test_read_only_file_disables_catalog_changes_with_the_reason(qtbot, shop: Shop):
    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings

    app = bootstrap(Settings(db_path=shop.path, read_only=True), source="test")
    try:
        assert app.read_only
        for dialog_class, buttons in (
            (CustomersDialog, ("register_button", "rename_button")),
            (ProductsDialog, ("add_button", "rename_button", "price_button")),
        ):
            dialog = dialog_class(app.commands, app.queries, shop.tasks)
            qtbot.addWidget(dialog)
            dialog.show()
            qtbot.waitExposed(dialog)
            wait_idle(qtbot, shop)
            assert dialog.model.rowCount() > 0  # the lists still work
            dialog.table.selectRow(0)
            assert dialog.read_only_banner.isVisible()
            assert "opened read-only" in dialog.read_only_banner.text()
            for name in buttons:
                button = getattr(dialog, name)
                assert not button.isEnabled(), name
                assert "opened read-only" in button.toolTip(), name
        customers = CustomersDialog(app.commands, app.queries, shop.tasks)
        qtbot.addWidget(customers)
        wait_idle(qtbot, shop)
        assert customers.register_customer() is None  # no form to fill in and lose
    finally:
        shop.tasks.wait_idle(10000)
        app.close()


def test_skus_shared_in_an_older_file_are_marked_and_never_guessed(qtbot, shop: Shop):
    """A file from before SKUs were unique: a second MUG-BLUE written with no claim (as the
    old program did)."""
    from decimal import Decimal

    from desktop_app.application.ports import EventMetadata
    from desktop_app.domain.catalog import Product
    from desktop_app.domain.values import Money

    old = Product.add(
        product_id="old-mug",
        sku="MUG-BLUE",
        name="Blue Mug (old stock)",
        price=Money(Decimal("3.90"), "EUR"),
    )
    meta = EventMetadata(
        correlation_id="x", causation_id="x", user="old", host="old", app_version="0", source="t"
    )
    shop.app.deps.products.save(old, expected_version=0, metadata=meta, command_id=None)
    shop.catch_up()

    dialog = open_list(qtbot, shop, ProductsDialog)
    model = dialog.model
    shared = [
        model.index(r, ProductsModel.STATUS).data()
        for r in range(model.rowCount())
        if model.index(r, ProductsModel.SKU).data() == "MUG-BLUE"
    ]
    assert shared == ["On sale · SKU shared"] * 2
    row = model.position_of("old-mug")
    assert "same SKU" in model.index(row, ProductsModel.SKU).data(Qt.ItemDataRole.ToolTipRole)
    assert (
        model.index(model.position_of(shop.products["MUG-RED"]), ProductsModel.STATUS).data()
        == "On sale"
    )

    order = NewOrderDialog(shop.commands, shop.queries, shop.tasks)
    qtbot.addWidget(order)
    wait_idle(qtbot, shop)
    picker = order.line_editor.product_picker
    picker.setEditText("mug-blue")
    assert picker.selected_product() is None  # two products: the clerk must pick one
    picker.setEditText("MUG-BLUE — Blue Mug (old stock)")
    assert picker.selected_product().product_id == "old-mug"
