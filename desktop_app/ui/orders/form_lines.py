"""The order-line editor shared by New order and Edit lines, and the lines table model.

Over 500 lines on purpose: the line editor and its table model validate the same rows together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemDelegate,
    QAbstractItemView,
    QComboBox,
    QCompleter,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QStyledItemDelegate,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_app.application.commands import new_id
from desktop_app.application.queries import CustomerRow, ProductRow
from desktop_app.domain.values import MAX_QUANTITY, MIN_QUANTITY
from desktop_app.ui.formatting import format_date
from desktop_app.ui.orders.form_base import (
    amount_text,
    minor_text,
    minor_to_amount,
    money_text,
    parse_amount,
)
from desktop_app.ui.orders.form_fields import FieldError
from desktop_app.ui.qt_parts import completer_of, line_edit_of, popup_of

Index = QModelIndex | QPersistentModelIndex

DETAIL_ROLE = int(Qt.ItemDataRole.UserRole) + 1
"""Item data of a type-ahead entry shown after its text in the popup (not in the field)."""


def customer_detail(row: CustomerRow) -> str:
    """What tells look-alike customers apart: when they were registered and their orders."""
    parts = []
    if row.registered_at is not None:
        parts.append(f"since {format_date(row.registered_at)}")
    count = row.order_count
    parts.append("no orders" if count == 0 else "1 order" if count == 1 else f"{count:,} orders")
    return " · ".join(parts)


def product_detail(row: ProductRow) -> str:
    """The catalog price a product's line will get."""
    return minor_text(row.price_minor, row.currency)


class DetailDelegate(QStyledItemDelegate):
    """Draws a type-ahead entry as its text followed by its :data:`DETAIL_ROLE` detail
    ("Müller GmbH · since 3 Jan 2026 · 12 orders"), so look-alikes can be told apart while
    the field itself keeps only the text."""

    @staticmethod
    def display_text(index: Index) -> str:
        """The text drawn for ``index``."""
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        detail = index.data(DETAIL_ROLE)
        return f"{text}   ·   {detail}" if detail else text

    def initStyleOption(self, option: Any, index: Index) -> None:
        super().initStyleOption(option, index)
        option.text = self.display_text(index)


def show_details(combo: QComboBox) -> DetailDelegate:
    """Draw ``combo``'s drop-down list and type-ahead popup with :class:`DetailDelegate`."""
    delegate = DetailDelegate(combo)
    combo.setItemDelegate(delegate)
    popup_of(completer_of(combo)).setItemDelegate(delegate)
    return delegate


def set_detail(combo: QComboBox, position: int, detail: str) -> None:
    """Give the entry at ``position`` its detail (also its tooltip)."""
    combo.setItemData(position, detail, DETAIL_ROLE)
    combo.setItemData(
        position, f"{combo.itemText(position)} · {detail}", Qt.ItemDataRole.ToolTipRole
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class LineDraft:
    """One line as shown or typed. ``saved``: already on the order (its price is fixed).
    ``price_overridden``: the clerk typed a price instead of taking the catalog's."""

    line_id: str
    product_id: str
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    currency: str
    price_overridden: bool = False
    saved: bool = False

    @property
    def total(self) -> Decimal:
        """quantity x unit price, exact."""
        return self.unit_price * self.quantity


def totals_text(lines: Iterable[LineDraft], currency: str | None) -> str:
    """The running total in the order's currency (per currency if lines are mixed)."""
    sums: dict[str, Decimal] = {}
    if currency:
        sums[currency] = Decimal(0)
    for line in lines:
        sums[line.currency] = sums.get(line.currency, Decimal(0)) + line.total
    if not sums:
        return "—"
    return " + ".join(money_text(amount, cur) for cur, amount in sums.items())


class LinesModel(QAbstractTableModel):
    """Order lines as a table. Editable models let the clerk change the quantity (and the
    price of lines not yet on the order)."""

    SKU, PRODUCT, QUANTITY, PRICE, TOTAL = range(5)
    HEADERS = ("SKU", "Product", "Quantity", "Unit price", "Line total")
    SHORT_HEADERS = ("SKU", "Product", "Qty", "Price", "Total")
    """For narrow panels; the full header is the tooltip."""

    edit_refused = Signal(str)  # a typed price that is not an amount, in the clerk's words

    def __init__(
        self, parent: QObject | None = None, *, editable: bool = False, short: bool = False
    ) -> None:
        super().__init__(parent)
        self._rows: list[LineDraft] = []
        self._editable = editable
        self._headers = self.SHORT_HEADERS if short else self.HEADERS

    # --- access ---------------------------------------------------------------------------

    def rows(self) -> list[LineDraft]:
        """The lines, in order."""
        return list(self._rows)

    def set_rows(self, rows: Sequence[LineDraft]) -> None:
        """Replace every line."""
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def append(self, row: LineDraft) -> None:
        """Add a line at the end."""
        self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows))
        self._rows.append(row)
        self.endInsertRows()

    def remove(self, position: int) -> LineDraft:
        """Remove the line at ``position``."""
        self.beginRemoveRows(QModelIndex(), position, position)
        row = self._rows.pop(position)
        self.endRemoveRows()
        return row

    # --- Qt model -------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        horizontal = orientation == Qt.Orientation.Horizontal
        if horizontal and role == Qt.ItemDataRole.ToolTipRole and 0 <= section < len(self.HEADERS):
            return self.HEADERS[section]
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if horizontal and 0 <= section < len(self._headers):
            return self._headers[section]
        if orientation == Qt.Orientation.Vertical and 0 <= section < len(self._rows):
            return str(section + 1)
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == self.SKU:
                return row.sku
            if column == self.PRODUCT:
                return row.name
            if column == self.QUANTITY:
                return str(row.quantity)
            if column == self.PRICE:
                return money_text(row.unit_price, row.currency)
            if column == self.TOTAL:
                return money_text(row.total, row.currency)
        elif role == Qt.ItemDataRole.EditRole:
            if column == self.QUANTITY:
                return row.quantity
            if column == self.PRICE:
                return amount_text(row.unit_price, row.currency)
        elif role == Qt.ItemDataRole.TextAlignmentRole:
            if column >= self.QUANTITY:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        elif role == Qt.ItemDataRole.ToolTipRole:
            if column == self.PRICE and row.price_overridden:
                return "Price typed by the clerk (not the catalog price)."
            if column == self.QUANTITY and self._editable:
                return "Type a new quantity to change it."
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if self._editable and 0 <= index.row() < len(self._rows):
            row = self._rows[index.row()]
            if index.column() == self.QUANTITY or (index.column() == self.PRICE and not row.saved):
                flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if (
            role != Qt.ItemDataRole.EditRole
            or not index.isValid()
            or not self.flags(index) & Qt.ItemFlag.ItemIsEditable
        ):
            return False
        row = self._rows[index.row()]
        if index.column() == self.QUANTITY:
            try:
                quantity = int(value)
            except (TypeError, ValueError):
                return False
            changed = replace(row, quantity=quantity)
        else:
            try:
                price = parse_amount(str(value), row.currency)
            except ValueError as exc:
                self.edit_refused.emit(f"{row.sku}: {exc}")  # said, not silently dropped
                return False
            changed = replace(row, unit_price=price, price_overridden=True)
        self._rows[index.row()] = changed
        self.dataChanged.emit(
            self.index(index.row(), self.QUANTITY), self.index(index.row(), self.TOTAL)
        )
        return True


class QuantityDelegate(QStyledItemDelegate):
    """A spin box for the quantity column."""

    def createEditor(self, parent: QWidget, option: Any, index: Index) -> QWidget:
        if index.column() == LinesModel.QUANTITY:
            editor = QSpinBox(parent)
            editor.setRange(MIN_QUANTITY, MAX_QUANTITY)
            editor.setFrame(False)
            editor.setAlignment(Qt.AlignmentFlag.AlignRight)
            return editor
        return super().createEditor(parent, option, index)


class ProductPicker(QComboBox):
    """Type-ahead over SKU and name (the popup also shows the price); only products that may
    be sold are offered."""

    product_chosen = Signal(object)  # ProductRow

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.setMaxVisibleItems(15)
        self.setMinimumContentsLength(24)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        completer = completer_of(self)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        line_edit_of(self).setPlaceholderText("Loading products…")
        self._products: list[ProductRow] = []
        self.detail_delegate = show_details(self)
        self.activated.connect(self._picked)

    @staticmethod
    def label(row: ProductRow) -> str:
        """What the picker shows (and matches against) for a product."""
        return f"{row.sku} — {row.name}"

    def set_products(self, rows: Iterable[ProductRow]) -> None:
        """Offer ``rows`` (discontinued ones are left out); keeps the typed text."""
        text = self.currentText()
        self._products = [row for row in rows if not row.discontinued]
        self.blockSignals(True)
        self.clear()
        for position, row in enumerate(self._products):
            self.addItem(self.label(row), row.product_id)
            set_detail(self, position, product_detail(row))
        self.setCurrentIndex(-1)
        self.setEditText(text)
        self.blockSignals(False)
        line_edit_of(self).setPlaceholderText("Type a SKU or product name")

    def products(self) -> list[ProductRow]:
        """The products on offer."""
        return list(self._products)

    def selected_product(self) -> ProductRow | None:
        """The product the typed text names: an exact entry, or the only one it matches."""
        text = self.currentText().strip()
        if not text:
            return None
        folded = text.casefold()
        for row in self._products:
            if folded == self.label(row).casefold():
                return row
        # A file from before SKUs were unique may hold one twice: never guess between them.
        by_sku = [row for row in self._products if row.sku.casefold() == folded]
        if by_sku:
            return by_sku[0] if len(by_sku) == 1 else None
        matches = [row for row in self._products if folded in self.label(row).casefold()]
        return matches[0] if len(matches) == 1 else None

    def clear_choice(self) -> None:
        """Empty the picker for the next line."""
        self.setCurrentIndex(-1)
        self.setEditText("")

    def _picked(self, position: int) -> None:
        if 0 <= position < len(self._products):
            self.product_chosen.emit(self._products[position])


class LineEditor(QWidget):
    """Entry row (product, unit price, quantity, Add) over the lines table, with Remove and
    the running total. Enter in the entry row adds the line."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None, *, currency: str | None = None) -> None:
        super().__init__(parent)
        self._currency = currency  # fixed for an existing order; else the first line's
        self._catalog_price: Decimal | None = None
        self._chosen: ProductRow | None = None

        self.product_picker = ProductPicker(self)
        self.product_picker.setObjectName("productPicker")
        self.price_edit = QLineEdit(self)
        self.price_edit.setObjectName("unitPrice")
        self.price_edit.setPlaceholderText("catalog price")
        self.price_edit.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.price_edit.setMaximumWidth(130)
        self.quantity_spin = QSpinBox(self)
        self.quantity_spin.setObjectName("quantity")
        self.quantity_spin.setRange(MIN_QUANTITY, MAX_QUANTITY)
        self.quantity_spin.setMinimumWidth(90)
        self.add_button = QPushButton("&Add line", self)
        self.add_button.setAutoDefault(False)

        self.product_error = FieldError(self, self.product_picker)
        self.price_error = FieldError(self, self.price_edit)
        self.quantity_error = FieldError(self, self.quantity_spin)

        product_label = QLabel("Pro&duct", self)
        product_label.setBuddy(self.product_picker)
        price_label = QLabel("Unit p&rice", self)
        price_label.setBuddy(self.price_edit)
        quantity_label = QLabel("&Quantity", self)
        quantity_label.setBuddy(self.quantity_spin)

        entry = QGridLayout()
        entry.addWidget(product_label, 0, 0)
        entry.addWidget(price_label, 0, 1)
        entry.addWidget(quantity_label, 0, 2)
        entry.addWidget(self.product_picker, 1, 0)
        entry.addWidget(self.price_edit, 1, 1)
        entry.addWidget(self.quantity_spin, 1, 2)
        entry.addWidget(self.add_button, 1, 3)
        entry.addWidget(self.product_error, 2, 0)
        entry.addWidget(self.price_error, 2, 1)
        entry.addWidget(self.quantity_error, 2, 2)
        entry.setColumnStretch(0, 1)

        self.model = LinesModel(self, editable=True)
        self.table = QTableView(self)
        self.table.setObjectName("linesTable")
        self.table.setModel(self.model)
        self.table.setItemDelegate(QuantityDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        self.table.setTabKeyNavigation(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(LinesModel.PRODUCT, QHeaderView.ResizeMode.Stretch)
        for column in (LinesModel.SKU, LinesModel.QUANTITY, LinesModel.PRICE, LinesModel.TOTAL):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        lines_label = QLabel("L&ines", self)
        lines_label.setBuddy(self.table)

        self.remove_button = QPushButton("Re&move line", self)
        self.remove_button.setAutoDefault(False)
        self.remove_button.setEnabled(False)
        self.total_label = QLabel(self)
        self.total_label.setObjectName("runningTotal")
        self.total_label.setStyleSheet("font-weight: bold;")
        self.lines_error = FieldError(self, self.table)
        self.model.edit_refused.connect(self.lines_error.set_message)
        # Each error goes by itself once its cause is fixed.
        self.product_error.watch(lambda: self.product_picker.selected_product() is not None)
        self.price_error.watch(self._price_ok)
        self.quantity_error.watch()
        self.lines_error.watch()

        below = QHBoxLayout()
        below.addWidget(self.remove_button)
        below.addStretch(1)
        below.addWidget(self.total_label)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(entry)
        layout.addWidget(lines_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.lines_error)
        layout.addLayout(below)

        self.product_picker.product_chosen.connect(self._product_chosen)
        self.product_picker.editTextChanged.connect(self._product_text_changed)
        self.add_button.clicked.connect(self.add_entry)
        self.remove_button.clicked.connect(self.remove_selected)
        delete = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.table)
        delete.setContext(Qt.ShortcutContext.WidgetShortcut)
        delete.activated.connect(self.remove_selected)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        for signal in (
            self.model.dataChanged,
            self.model.rowsInserted,
            self.model.rowsRemoved,
            self.model.modelReset,
        ):
            signal.connect(self._lines_changed)
        for widget in (self.product_picker, self.price_edit, self.quantity_spin):
            widget.installEventFilter(self)
        line_edit_of(self.product_picker).installEventFilter(self)
        self.setTabOrder(self.product_picker, self.price_edit)
        self.setTabOrder(self.price_edit, self.quantity_spin)
        self.setTabOrder(self.quantity_spin, self.add_button)
        self.setTabOrder(self.add_button, self.table)
        self.setTabOrder(self.table, self.remove_button)
        self._lines_changed()

    # --- public ---------------------------------------------------------------------------

    def currency(self) -> str | None:
        """The order's currency: fixed, else that of the first line."""
        if self._currency:
            return self._currency
        rows = self.model.rows()
        return rows[0].currency if rows else None

    def set_products(self, rows: Iterable[ProductRow]) -> None:
        """The products the picker offers."""
        self.product_picker.set_products(rows)

    def set_lines(self, lines: Sequence[LineDraft]) -> None:
        """Replace the lines."""
        self.model.set_rows(lines)

    def lines(self) -> list[LineDraft]:
        """The lines as they stand."""
        return self.model.rows()

    def finish_editing(self) -> None:
        """Commit a quantity or price still being typed in the table (Save by shortcut does
        not move the focus, so the editor would not commit on its own)."""
        if self.table.state() != QAbstractItemView.State.EditingState:
            return
        # Open editors are the visible direct children of the viewport.
        for editor in self.table.viewport().findChildren(
            QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly
        ):
            if editor.isVisible():
                self.table.commitData(editor)
                self.table.closeEditor(editor, QAbstractItemDelegate.EndEditHint.NoHint)

    def entry_pending(self) -> bool:
        """Something is typed in the entry row that has not been added yet."""
        return bool(self.product_picker.currentText().strip())

    def clear_errors(self) -> None:
        """Hide the line editor's error messages."""
        for label in (self.product_error, self.price_error, self.quantity_error, self.lines_error):
            label.set_message(None)

    def add_entry(self) -> bool:
        """Add the entry row as a line; False (with the reason beside the field) if it can't."""
        for label in (self.product_error, self.price_error, self.quantity_error):
            label.set_message(None)
        product = self.product_picker.selected_product()
        if product is None:
            typed = self.product_picker.currentText().strip()
            self.product_error.set_message(
                "Choose a product from the list." if typed else "Choose a product."
            )
            self.product_picker.setFocus()
            return False
        catalog = minor_to_amount(product.price_minor, product.currency)
        currency = self.currency() or product.currency
        price_text = self.price_edit.text().strip()
        overridden = False
        price = catalog
        if price_text:
            try:
                price = parse_amount(price_text, currency)
            except ValueError as exc:
                self.price_error.set_message(str(exc))
                self.price_edit.setFocus()
                return False
            # Only a typed price counts: an untouched catalog price is sent as None so the
            # domain applies (and checks the currency of) the catalog price itself.
            overridden = price != catalog
        self.model.append(
            LineDraft(
                line_id=new_id(),
                product_id=product.product_id,
                sku=product.sku,
                name=product.name,
                quantity=self.quantity_spin.value(),
                unit_price=price,
                currency=currency if overridden else product.currency,
                price_overridden=overridden,
            )
        )
        self.product_picker.clear_choice()
        self.price_edit.clear()
        self.quantity_spin.setValue(1)
        self._chosen = None
        self.product_picker.setFocus()
        return True

    def remove_selected(self) -> None:
        """Remove the selected line."""
        rows = self.table.selectionModel().selectedRows()
        if rows:
            position = rows[0].row()
            self.model.remove(position)
            if self.model.rowCount():
                self.table.selectRow(min(position, self.model.rowCount() - 1))

    # --- internals ------------------------------------------------------------------------

    def _price_ok(self) -> bool:
        text = self.price_edit.text().strip()
        if not text:
            return True  # the catalog price applies
        product = self.product_picker.selected_product()
        currency = self.currency() or (product.currency if product is not None else None)
        try:
            parse_amount(text, currency)
        except ValueError:
            return False
        return True

    def _product_chosen(self, product: ProductRow) -> None:
        self._chosen = product
        self.price_edit.setText(
            amount_text(minor_to_amount(product.price_minor, product.currency), product.currency)
        )
        self.product_error.set_message(None)

    def _product_text_changed(self, _text: str) -> None:
        product = self.product_picker.selected_product()
        if product is not None and product is not self._chosen:
            self._product_chosen(product)

    def _selection_changed(self, *_args: Any) -> None:
        self.remove_button.setEnabled(self.table.selectionModel().hasSelection())

    def _lines_changed(self, *_args: Any) -> None:
        # ResizeToContents sections are not re-measured on inserts by themselves.
        self.table.horizontalHeader().resizeSections()
        self.total_label.setText(f"Total: {totals_text(self.model.rows(), self.currency())}")
        self.remove_button.setEnabled(self.table.selectionModel().hasSelection())
        self.changed.emit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Enter in the entry row adds the line; with nothing typed it falls through to Save.
        if (
            isinstance(event, QKeyEvent)
            and event.type() == QEvent.Type.KeyPress
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and not event.modifiers() & Qt.KeyboardModifier.ControlModifier
            and self.entry_pending()
        ):
            if popup_of(completer_of(self.product_picker)).isVisible():
                return False
            self.add_entry()
            return True
        return super().eventFilter(watched, event)
