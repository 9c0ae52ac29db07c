"""Products: list, add, rename, change price, discontinue."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QCheckBox, QWidget

from desktop_app.application.buses import CommandSender, QuerySender
from desktop_app.application.commands import (
    ChangeProductPrice,
    CommandResult,
    DiscontinueProduct,
    RenameProduct,
)
from desktop_app.application.queries import ListProducts, ProductRow
from desktop_app.ui.catalog.base import CatalogListDialog
from desktop_app.ui.catalog.editors import AddProductDialog, NameDialog, PriceDialog
from desktop_app.ui.catalog.models import ProductsModel
from desktop_app.ui.orders.form_base import (
    CommandDialog,
    ConsequenceDialog,
    amount_text,
    minor_text,
    minor_to_amount,
    parse_amount,
    places,
)
from desktop_app.ui.tasks import TaskRunner


def _minor(amount: Decimal, currency: str) -> int:
    return int(amount.scaleb(places(currency)))


class _DiscontinueDialog(ConsequenceDialog):
    def apply_latest(self, latest: Any) -> None:
        self.expected_version = None


class ProductsDialog(CatalogListDialog):
    """The product list with Add…, Rename…, Change price… and Discontinue…."""

    def __init__(
        self,
        commands: CommandSender,
        queries: QuerySender,
        tasks: TaskRunner,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(
            commands,
            queries,
            tasks,
            parent,
            title="Products",
            model=ProductsModel(),
            stretch_column=ProductsModel.NAME,
        )
        self.model.setParent(self)
        self.search_edit.setPlaceholderText("Search products by SKU or name")
        self.show_discontinued = QCheckBox("Show &discontinued", self)
        self.show_discontinued.setChecked(True)
        self.show_discontinued.toggled.connect(lambda _on: self.refresh())
        self.search_row.addWidget(self.show_discontinued)
        self.add_button = self.add_action_button("&Add…")
        self.add_button.setShortcut(QKeySequence.StandardKey.New)
        self.rename_button = self.add_action_button("Re&name…")
        self.rename_button.setShortcut(QKeySequence("F2"))
        self.price_button = self.add_action_button("Change &price…")
        self.discontinue_button = self.add_action_button("D&iscontinue…")
        self.add_button.clicked.connect(self.add_product)
        self.rename_button.clicked.connect(self.rename_product)
        self.price_button.clicked.connect(self.change_price)
        self.discontinue_button.clicked.connect(self.discontinue_product)
        self.resize(760, 460)
        self.update_actions()
        self.check_store()
        self.refresh()

    def make_query(self, search: str | None) -> ListProducts:
        return ListProducts(search=search, include_discontinued=self.show_discontinued.isChecked())

    def update_actions(self) -> None:
        selected = self.selected_row() is not None
        writable = not self.is_read_only()
        self.add_button.setEnabled(writable)
        for button in (self.rename_button, self.price_button, self.discontinue_button):
            button.setEnabled(writable and selected)
            button.setToolTip("" if selected else "Select a product first.")
        if not writable:
            for button in (
                self.add_button,
                self.rename_button,
                self.price_button,
                self.discontinue_button,
            ):
                button.setToolTip(self.read_only_text())

    def on_activated(self) -> None:
        if self.rename_button.isEnabled():
            self.rename_product()

    def add_product(self) -> AddProductDialog | None:
        """Open the Add product form."""
        if self.is_read_only():
            return None
        currencies = {row.currency for row in self.model.rows()}
        common = max(
            currencies, key=lambda c: sum(r.currency == c for r in self.model.rows()), default="EUR"
        )
        dialog = AddProductDialog(
            self.commands, self.queries, self.tasks, self, default_currency=common
        )

        def saved(result: CommandResult) -> None:
            price = dialog.price() or Decimal(0)
            currency = dialog.currency_combo.currentText()
            row = ProductRow(
                product_id=result.aggregate_id,
                sku=dialog.sku_edit.text().strip(),
                name=dialog.name_edit.text().strip(),
                price_minor=_minor(price, currency),
                currency=currency,
                discontinued=False,
                units_sold=0,
                version=result.version,
            )
            self.table.selectRow(self.model.upsert(row))

        self.open_editor(dialog, saved)
        return dialog

    def rename_product(self) -> NameDialog | None:
        """Open the Rename form for the selected product."""
        row = self.selected_row()
        if row is None or self.is_read_only():
            return None
        product_id = row.product_id
        dialog = NameDialog(
            self.commands,
            self.queries,
            self.tasks,
            self,
            title="Rename product",
            save_text="Re&name",
            intro=(
                f"Rename {row.sku} {row.name}. Order lines with this product show the new name "
                "too (the SKU stays); each order's history keeps the name it was added with."
            ),
            name=row.name,
            expected_version=row.version,
            subject="product",
            make_command=lambda command_id, version, name: RenameProduct(
                command_id=command_id, product_id=product_id, name=name, expected_version=version
            ),
        )

        def saved(result: CommandResult) -> None:
            self.model.upsert(
                replace(row, name=dialog.typed_name().strip(), version=result.version)
            )

        self.open_editor(dialog, saved)
        return dialog

    def change_price(self) -> PriceDialog | None:
        """Open the Change price form for the selected product."""
        row = self.selected_row()
        if row is None or self.is_read_only():
            return None
        product_id = row.product_id
        current = minor_to_amount(row.price_minor, row.currency)
        dialog = PriceDialog(
            self.commands,
            self.queries,
            self.tasks,
            self,
            intro=(
                f"{row.sku} {row.name} costs {minor_text(row.price_minor, row.currency)} now. "
                "The new price applies to lines added from now on; orders keep their prices."
            ),
            price_text=amount_text(current, row.currency),
            currency=row.currency,
            expected_version=row.version,
            make_command=lambda command_id, version, price: ChangeProductPrice(
                command_id=command_id, product_id=product_id, price=price, expected_version=version
            ),
        )

        def saved(result: CommandResult) -> None:
            price = parse_amount(dialog.price_edit.text(), row.currency)
            self.model.upsert(
                replace(row, price_minor=_minor(price, row.currency), version=result.version)
            )

        self.open_editor(dialog, saved)
        return dialog

    def discontinue_product(self) -> CommandDialog | None:
        """Say what discontinuing means, then do it on the clerk's word."""
        row = self.selected_row()
        if row is None or self.is_read_only():
            return None
        product_id = row.product_id
        dialog = _DiscontinueDialog(
            self.commands,
            self.queries,
            self.tasks,
            self,
            title="Discontinue product",
            save_text="D&iscontinue",
            subject="product",
            paragraphs=(
                f"Discontinue {row.sku} {row.name}?",
                "It will no longer be offered on new orders and cannot be added to pending "
                "ones. Orders that already have it keep their lines. This cannot be undone.",
            ),
            make_command=lambda command_id, version: DiscontinueProduct(
                command_id=command_id, product_id=product_id, expected_version=version
            ),
        )
        dialog.expected_version = row.version

        def saved(result: CommandResult) -> None:
            self.model.upsert(replace(row, discontinued=True, version=result.version))
            self.update_actions()

        self.open_editor(dialog, saved)
        return dialog
