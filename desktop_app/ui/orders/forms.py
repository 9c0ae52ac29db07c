"""Order forms: New order, Edit lines, Confirm, Ship, Deliver, Cancel.

Every form sends its command through the ``TaskRunner`` (see ``form_base.CommandDialog``); the
order forms send ``expected_version`` = the version the clerk is looking at, and on a version
conflict offer to reload and send the typed values again.

Over 500 lines on purpose: six small forms over one base (form_base.py), read side by side.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QAbstractProxyModel, QModelIndex, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFormLayout,
    QLabel,
    QLineEdit,
    QWidget,
)

from desktop_app.application.buses import CommandSender, QuerySender
from desktop_app.application.commands import (
    CancelOrder,
    ChangeOrderLines,
    ConfirmOrder,
    DeliverOrder,
    LineAddition,
    LineInput,
    LineRemoval,
    PlaceOrder,
    QuantityChange,
    ShipOrder,
    new_id,
)
from desktop_app.application.queries import (
    CustomerAddress,
    CustomerRow,
    GetCustomerAddress,
    GetOrderActions,
    ListCustomers,
    ListProducts,
    ProductRow,
)
from desktop_app.ui.orders.form_base import (
    CommandDialog,
    ConsequenceDialog,
    guarded,
    money_text,
    with_error,
    wrapped_label,
)
from desktop_app.ui.orders.form_lines import (
    LineDraft,
    LineEditor,
    customer_detail,
    set_detail,
    show_details,
)
from desktop_app.ui.orders.form_view import OrderView, load_order_view
from desktop_app.ui.orders.text_edit import MultiLineEdit
from desktop_app.ui.qt_parts import completer_of, line_edit_of
from desktop_app.ui.tasks import TaskRunner

__all__ = [
    "CancelOrderDialog",
    "ConfirmOrderDialog",
    "CustomerPicker",
    "DeliverOrderDialog",
    "EditLinesDialog",
    "NewOrderDialog",
    "ShipOrderDialog",
]


def _line_input(line: LineDraft) -> LineInput:
    return LineInput(
        product_id=line.product_id,
        quantity=line.quantity,
        unit_price=line.unit_price if line.price_overridden else None,
    )


def _caption(view: OrderView) -> str:
    return f"Order {view.order_number} · {view.customer_name} · version {view.version}"


class CustomerPicker(QComboBox):
    """Type-ahead over customer names (contains, case-insensitive); the popup shows what tells
    look-alikes apart (since when, how many orders)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.setMaxVisibleItems(15)
        self.setMinimumContentsLength(30)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        completer = completer_of(self)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        line_edit_of(self).setPlaceholderText("Loading customers…")
        self._customers: list[CustomerRow] = []
        self.detail_delegate = show_details(self)
        # Which customer the clerk picked from a list (by id). Qt itself also selects the
        # first entry whose text equals typed text (and says "activated"): with namesakes that
        # would be a silent guess, so only picks made after the last keystroke count.
        self._picked_id: str | None = None
        self._typed = False
        line_edit_of(self).textEdited.connect(self._on_typed)
        self.activated.connect(self._on_activated)
        # The stubs do not know signal overloads; Qt has activated(QString) and (QModelIndex).
        completer_of(self).activated[QModelIndex].connect(self._on_completed)  # type: ignore[index]

    def _on_typed(self, _text: str) -> None:
        self._typed = True
        self._picked_id = None

    def _on_activated(self, position: int) -> None:
        if not self._typed and 0 <= position < len(self._customers):
            self._picked_id = self._customers[position].customer_id  # from the drop-down

    def _on_completed(self, index: QModelIndex) -> None:
        proxy = completer_of(self).completionModel()
        source = proxy.mapToSource(index) if isinstance(proxy, QAbstractProxyModel) else index
        position = source.row()
        if 0 <= position < len(self._customers):
            self._picked_id = self._customers[position].customer_id
            self._typed = False

    def set_customers(self, rows: Iterable[CustomerRow]) -> None:
        """Offer ``rows``; keeps the typed text."""
        text = self.currentText()
        self._customers = list(rows)
        self.blockSignals(True)
        self.clear()
        for position, row in enumerate(self._customers):
            self.addItem(row.name, row.customer_id)
            set_detail(self, position, customer_detail(row))
        self.setCurrentIndex(-1)
        self.setEditText(text)
        self.blockSignals(False)
        line_edit_of(self).setPlaceholderText("Type a customer name")

    def customers(self) -> list[CustomerRow]:
        """The customers on offer."""
        return list(self._customers)

    def select_customer_id(self, customer_id: str) -> bool:
        """Choose the customer ``customer_id`` (False when it is not on offer)."""
        index = self.findData(customer_id)
        if index < 0:
            return False
        self.setCurrentIndex(index)
        return True

    def selected_customer(self) -> CustomerRow | None:
        """The customer the typed text names: the entry picked, the only one with exactly that
        name, or the only one it matches. Never a guess between namesakes."""
        text = self.currentText().strip()
        if not text:
            return None
        for row in self._customers:
            if row.customer_id == self._picked_id and row.name == text:
                return row
        folded = text.casefold()
        exact = [row for row in self._customers if row.name.casefold() == folded]
        if exact:
            return exact[0] if len(exact) == 1 else None
        matches = [row for row in self._customers if folded in row.name.casefold()]
        return matches[0] if len(matches) == 1 else None


# --- new order -----------------------------------------------------------------------------


_NO_CUSTOMER_ADDRESS_HINT = "Leave empty to ship to the customer's address"


class NewOrderDialog(CommandDialog):
    """Place an order: customer, lines, running total. ``placed_order_id`` after Accepted."""

    subject = "order"

    def __init__(
        self,
        commands: CommandSender,
        queries: QuerySender,
        tasks: TaskRunner,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(
            commands, queries, tasks, parent, title="New order", save_text="&Place order"
        )
        self.placed_order_id: str | None = None
        self.order_id = new_id()  # with the command id: a re-sent Save never makes two orders
        self.loaded = False
        self._preselect: str | None = None

        self.customer_picker = CustomerPicker(self)
        self.customer_picker.setObjectName("customerPicker")
        customer_label = QLabel("&Customer", self)
        customer_label.setBuddy(self.customer_picker)
        self.customer_error = self.add_error_label(
            self.customer_picker,
            "customer",
            "customer_id",
            fixed=lambda: self.customer_picker.selected_customer() is not None,
        )
        self.line_editor = LineEditor(self)
        self.lines_error = self.line_editor.lines_error
        for name in ("lines", "line_id"):
            self._errors[name] = self.lines_error
        self._errors["product"] = self.lines_error
        self._errors["price"] = self.lines_error
        self._errors["quantity"] = self.lines_error
        self._errors["currency"] = self.lines_error

        # Ship-to override: empty = the customer's default address, taken at placement.
        self.address_edit = MultiLineEdit(self, lines=3)
        self.address_edit.setObjectName("orderShipTo")
        self.address_edit.setPlaceholderText(_NO_CUSTOMER_ADDRESS_HINT)
        self._address_for: str | None = None  # the customer whose address the hint shows
        self.customer_picker.currentTextChanged.connect(
            guarded(self, lambda _text: self._customer_changed())
        )
        self.address_error = self.add_error_label(self.address_edit, "address")
        address_label = QLabel("Ship &to", self)
        address_label.setBuddy(self.address_edit)

        top = QFormLayout()
        top.addRow(customer_label, with_error(self.customer_picker, self.customer_error))
        top.addRow(address_label, with_error(self.address_edit, self.address_error))
        self.body.addLayout(top)
        self.body.addWidget(self.line_editor, 1)
        self.setTabOrder(self.customer_picker, self.address_edit)
        self.setTabOrder(self.address_edit, self.line_editor.product_picker)
        self.setTabOrder(self.line_editor.remove_button, self.save_button)
        self.resize(780, 520)
        self.reload_lists()

    def reload_lists(self) -> None:
        """Fetch customers and products that may be sold (in the background)."""
        queries = self.queries

        def fetch() -> tuple[list[CustomerRow], list[ProductRow]]:
            customers = queries.ask(ListCustomers())
            products = queries.ask(ListProducts(include_discontinued=False))
            return customers, products

        self.tasks.submit(
            fetch, guarded(self, self._lists_loaded), guarded(self, self._lists_failed)
        )

    def _lists_loaded(self, lists: tuple[list[CustomerRow], list[ProductRow]]) -> None:
        customers, products = lists
        self.customer_picker.set_customers(customers)
        self.line_editor.set_products(products)
        self.loaded = True
        if self._preselect is not None:
            self.preselect_customer(self._preselect)

    def preselect_customer(self, customer_id: str) -> None:
        """Start with ``customer_id`` chosen (once the customers are loaded); the focus goes
        to the product, the next thing to type."""
        if not self.loaded:
            self._preselect = customer_id
            return
        self._preselect = None
        if self.customer_picker.select_customer_id(customer_id):
            self.line_editor.product_picker.setFocus()

    def _lists_failed(self, exc: BaseException) -> None:
        self.general_error.set_message(f"The customer and product lists could not be loaded: {exc}")

    def _customer_changed(self) -> None:
        """Show the chosen customer's default address as the ship-to hint (fetched in the
        background; a reply for a customer no longer chosen is ignored)."""
        customer = self.customer_picker.selected_customer()
        customer_id = None if customer is None else customer.customer_id
        if customer_id == self._address_for:
            return
        self._address_for = customer_id
        if customer_id is None:
            self.address_edit.setPlaceholderText(_NO_CUSTOMER_ADDRESS_HINT)
            return
        queries = self.queries

        def shown(current: CustomerAddress) -> None:
            if current.customer_id != self._address_for:
                return
            if current.address:
                hint = "Leave empty to ship to the customer's address:\n" + current.address
            else:
                hint = "The customer has no address on file: type one here if needed."
            self.address_edit.setPlaceholderText(hint)

        self.tasks.submit(
            lambda: queries.ask(GetCustomerAddress(customer_id=customer_id)),
            guarded(self, shown),
            guarded(self, lambda _exc: None),  # only a hint: the order form works without it
        )

    def clear_errors(self) -> None:
        super().clear_errors()
        self.line_editor.clear_errors()

    def build_command(self) -> PlaceOrder | None:
        self.line_editor.finish_editing()
        if self.line_editor.entry_pending() and not self.line_editor.add_entry():
            return None  # typed but not added: add it, or say why not
        customer = self.customer_picker.selected_customer()
        if customer is None:
            typed = self.customer_picker.currentText().strip()
            namesakes = [
                row
                for row in self.customer_picker.customers()
                if typed and row.name.casefold() == typed.casefold()
            ]
            if len(namesakes) > 1:
                message = (
                    f"{len(namesakes)} customers are called {typed}: choose one from the list "
                    "(it shows since when each is a customer and their orders)."
                )
            else:
                message = "Choose a customer from the list." if typed else "Choose a customer."
            self.show_error("customer", message)
            return None
        lines = self.line_editor.lines()
        return PlaceOrder(
            command_id=self.command_id,
            order_id=self.order_id,
            customer_id=customer.customer_id,
            lines=tuple(_line_input(line) for line in lines),
            currency=self.line_editor.currency(),
            shipping_address=self.address_edit.text() or None,
        )

    def on_success(self, result: Any) -> None:
        self.placed_order_id = result.aggregate_id
        self.accept()


# --- edit lines ----------------------------------------------------------------------------


class EditLinesDialog(CommandDialog):
    """Add, remove and change the quantity of lines of a pending order. Save sends ONE
    ``ChangeOrderLines`` command with every change (one event, one version): all of it is
    saved, or nothing (after the clerk checked its preview)."""

    subject = "order"
    preview_first = True

    def __init__(
        self,
        commands: CommandSender,
        queries: QuerySender,
        tasks: TaskRunner,
        view: OrderView,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(
            commands, queries, tasks, parent, title="Edit lines", save_text="&Save changes"
        )
        self.view = view
        self.order_id = view.order_id
        self.expected_version = view.version
        self._base: dict[str, int] = {line.line_id: line.quantity for line in view.lines}
        self._ids: dict[tuple[Any, ...], str] = {}

        self.caption = QLabel(_caption(view), self)
        self.caption.setStyleSheet("font-weight: bold;")
        self.line_editor = LineEditor(self, currency=view.currency)
        self.line_editor.set_lines(view.lines)
        self.lines_error = self.line_editor.lines_error
        for name in ("lines", "line_id", "product", "price", "quantity", "currency"):
            self._errors[name] = self.lines_error
        self.body.addWidget(self.caption)
        self.body.addWidget(self.line_editor, 1)
        self.setTabOrder(self.line_editor.remove_button, self.save_button)
        self.resize(780, 480)
        queries_ = self.queries
        self.tasks.submit(
            lambda: queries_.ask(ListProducts(include_discontinued=False)),
            guarded(self, self.line_editor.set_products),
            guarded(self, self._products_failed),
        )

    def _products_failed(self, exc: BaseException) -> None:
        self.general_error.set_message(f"The product list could not be loaded: {exc}")

    def clear_errors(self) -> None:
        super().clear_errors()
        self.line_editor.clear_errors()

    def _id(self, key: tuple[Any, ...]) -> str:
        # One command id per distinct edit: Save again (a lost reply) re-sends the same id.
        return self._ids.setdefault(key, new_id())

    def build_command(self) -> ChangeOrderLines | None:
        """The one command turning the order's lines into the edited ones, or None."""
        self.line_editor.finish_editing()
        if self.line_editor.entry_pending() and not self.line_editor.add_entry():
            return None
        drafts = self.line_editor.lines()
        kept = {line.line_id for line in drafts}
        remove = tuple(LineRemoval(line_id=i) for i in self._base if i not in kept)
        change = tuple(
            QuantityChange(line_id=line.line_id, quantity=line.quantity)
            for line in drafts
            if line.line_id in self._base and line.quantity != self._base[line.line_id]
        )
        add = tuple(
            LineAddition(line_id=line.line_id, line=_line_input(line))
            for line in drafts
            if line.line_id not in self._base
        )
        if not (remove or change or add):
            self.general_error.set_message("Nothing to save: no line was changed.")
            return None
        return ChangeOrderLines(
            command_id=self._id((remove, change, add)),
            order_id=self.order_id,
            expected_version=self.expected_version,
            remove=remove,
            change=change,
            add=add,
        )

    def fetch_latest(self) -> OrderView:
        return load_order_view(self.queries, self.order_id)

    def apply_latest(self, latest: OrderView) -> None:
        """Merge: lines someone else added appear, lines they removed that the clerk did not
        touch go; everything the clerk changed stays as typed."""
        old_base = self._base
        fresh = {line.line_id: line for line in latest.lines}
        merged: list[LineDraft] = []
        for line in self.line_editor.lines():
            untouched = line.line_id in old_base and line.quantity == old_base[line.line_id]
            if untouched and line.line_id not in fresh:
                continue  # they removed it, the clerk did not change it
            if untouched:
                line = fresh[line.line_id]  # take their quantity
            merged.append(line)
        drafted = {line.line_id for line in merged}
        for line_id, line in fresh.items():
            if line_id not in old_base and line_id not in drafted:
                merged.append(line)
        self._base = {line.line_id: line.quantity for line in latest.lines}
        self.view = latest
        self.expected_version = latest.version
        self.caption.setText(_caption(latest))
        self.line_editor.set_lines(merged)


# --- status changes ------------------------------------------------------------------------


class OrderVersionMixin:
    """Conflict reload for forms on one order: the domain's current version."""

    queries: QuerySender
    order_id: str
    expected_version: int | None

    def fetch_latest(self) -> Any:
        return self.queries.ask(GetOrderActions(order_id=self.order_id))

    def apply_latest(self, latest: Any) -> None:
        self.expected_version = latest.version


class ConfirmOrderDialog(OrderVersionMixin, ConsequenceDialog):
    """Confirm a pending order, after saying what that means."""

    preview_first = True  # the events it writes are shown before it is sent

    def __init__(
        self,
        commands: CommandSender,
        queries: QuerySender,
        tasks: TaskRunner,
        view: OrderView,
        parent: QWidget | None = None,
    ) -> None:
        count = len(view.lines)
        super().__init__(
            commands,
            queries,
            tasks,
            parent,
            title=f"Confirm order {view.order_number}",
            save_text="&Confirm order",
            subject="order",
            paragraphs=(
                f"Confirm order {view.order_number} for {view.customer_name}: "
                f"{count} line{'s' if count != 1 else ''}, total "
                f"{money_text(view.total, view.currency)}.",
                "After confirming, lines can no longer be added, removed or changed. "
                "This cannot be undone.",
            ),
            make_command=lambda command_id, version: ConfirmOrder(
                command_id=command_id, order_id=view.order_id, expected_version=version
            ),
        )
        self.order_id = view.order_id
        self.expected_version = view.version


class DeliverOrderDialog(OrderVersionMixin, ConsequenceDialog):
    """Mark a shipped order delivered, after saying what that means."""

    preview_first = True  # the events it writes are shown before it is sent

    def __init__(
        self,
        commands: CommandSender,
        queries: QuerySender,
        tasks: TaskRunner,
        view: OrderView,
        parent: QWidget | None = None,
    ) -> None:
        shipped = f" (tracking number {view.tracking_number})" if view.tracking_number else ""
        super().__init__(
            commands,
            queries,
            tasks,
            parent,
            title=f"Deliver order {view.order_number}",
            save_text="Mark &delivered",
            subject="order",
            paragraphs=(
                f"Mark order {view.order_number} for {view.customer_name}{shipped} as delivered.",
                "This is the order's last step and cannot be undone.",
            ),
            make_command=lambda command_id, version: DeliverOrder(
                command_id=command_id, order_id=view.order_id, expected_version=version
            ),
        )
        self.order_id = view.order_id
        self.expected_version = view.version


class ShipOrderDialog(OrderVersionMixin, CommandDialog):
    """Ship a confirmed order: tracking number (required) and carrier (optional)."""

    preview_first = True  # the events it writes are shown before it is sent

    subject = "order"

    def __init__(
        self,
        commands: CommandSender,
        queries: QuerySender,
        tasks: TaskRunner,
        view: OrderView,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(
            commands,
            queries,
            tasks,
            parent,
            title=f"Ship order {view.order_number}",
            save_text="&Ship order",
        )
        self.order_id = view.order_id
        self.expected_version = view.version
        intro = wrapped_label(
            f"Order {view.order_number} for {view.customer_name}, "
            f"total {money_text(view.total, view.currency)}, will be marked shipped. "
            "This cannot be undone.",
            self,
        )
        self.tracking_edit = QLineEdit(self)
        self.tracking_edit.setObjectName("trackingNumber")
        self.tracking_edit.setPlaceholderText("required")
        self.carrier_edit = QLineEdit(self)
        self.carrier_edit.setObjectName("carrier")
        self.carrier_edit.setPlaceholderText("optional")
        self.tracking_error = self.add_error_label(
            self.tracking_edit,
            "tracking_number",
            fixed=lambda: bool(self.tracking_edit.text().strip()),
        )
        self.carrier_error = self.add_error_label(self.carrier_edit, "carrier")
        form = QFormLayout()
        tracking_label = QLabel("&Tracking number", self)
        tracking_label.setBuddy(self.tracking_edit)
        carrier_label = QLabel("C&arrier", self)
        carrier_label.setBuddy(self.carrier_edit)
        form.addRow(tracking_label, with_error(self.tracking_edit, self.tracking_error))
        form.addRow(carrier_label, with_error(self.carrier_edit, self.carrier_error))
        self.body.addWidget(intro)
        self.body.addLayout(form)
        self.body.addStretch(1)
        self.setMinimumWidth(460)
        self.tracking_edit.setFocus()

    def build_command(self) -> ShipOrder:
        return ShipOrder(
            command_id=self.command_id,
            order_id=self.order_id,
            expected_version=self.expected_version,
            tracking_number=self.tracking_edit.text(),
            carrier=self.carrier_edit.text(),
        )


class CancelOrderDialog(OrderVersionMixin, CommandDialog):
    """Cancel an order: a reason (the domain requires one), then the preview of the change is
    the confirmation (Back keeps the order, and the reason typed)."""

    preview_first = True  # the events it writes are shown before it is sent

    subject = "order"

    def __init__(
        self,
        commands: CommandSender,
        queries: QuerySender,
        tasks: TaskRunner,
        view: OrderView,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(
            commands,
            queries,
            tasks,
            parent,
            title=f"Cancel order {view.order_number}",
            save_text="Cancel &order",
        )
        self.cancel_button.setText("&Keep order")
        self.view = view
        self.order_id = view.order_id
        self.expected_version = view.version
        intro = wrapped_label(
            f"Order {view.order_number} for {view.customer_name} "
            f"({view.status}, total {money_text(view.total, view.currency)}) will be cancelled. "
            "This cannot be undone.",
            self,
        )
        self.reason_edit = QLineEdit(self)
        self.reason_edit.setObjectName("reason")
        self.reason_edit.setPlaceholderText("required, e.g. Customer changed their mind")
        self.reason_error = self.add_error_label(
            self.reason_edit, "reason", fixed=lambda: bool(self.reason_edit.text().strip())
        )
        reason_label = QLabel("&Reason", self)
        reason_label.setBuddy(self.reason_edit)
        form = QFormLayout()
        form.addRow(reason_label, with_error(self.reason_edit, self.reason_error))
        self.body.addWidget(intro)
        self.body.addLayout(form)
        self.body.addStretch(1)
        self.setMinimumWidth(460)
        self.reason_edit.setFocus()

    def build_command(self) -> CancelOrder:
        return CancelOrder(
            command_id=self.command_id,
            order_id=self.order_id,
            expected_version=self.expected_version,
            reason=self.reason_edit.text(),
        )
