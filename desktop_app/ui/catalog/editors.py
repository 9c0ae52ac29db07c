"""Small catalog forms: a name (register/rename), a new product, a new price."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QLineEdit, QWidget

from desktop_app.application.buses import CommandSender, QuerySender
from desktop_app.application.commands import AddProduct, Command
from desktop_app.application.queries import (
    CustomerRow,
    FindSimilarCustomers,
    ListProducts,
    ProductRow,
)
from desktop_app.domain.catalog import sku_key
from desktop_app.domain.values import CURRENCY_PLACES
from desktop_app.ui.orders.form_base import (
    CommandDialog,
    guarded,
    parse_amount,
    with_error,
    wrapped_label,
)
from desktop_app.ui.orders.form_lines import customer_detail
from desktop_app.ui.tasks import TaskRunner

LOOK_ALIKE_DELAY_MS = 250
"""Typing pause after which the customer form looks for look-alike names."""


class _CatalogDialog(CommandDialog):
    """Catalog forms reapply over whatever is current after a conflict: the clerk has just
    said "reload and reapply", and the read model may not show the newest version yet."""

    def apply_latest(self, latest: Any) -> None:
        self.expected_version = None


class NameDialog(_CatalogDialog):
    """One name field: register a customer, rename a customer or a product."""

    def __init__(
        self,
        commands: CommandSender,
        queries: QuerySender,
        tasks: TaskRunner,
        parent: QWidget | None = None,
        *,
        title: str,
        save_text: str,
        intro: str,
        make_command: Callable[[str, int | None, str], Command],
        name: str = "",
        expected_version: int | None = None,
        subject: str = "record",
    ) -> None:
        super().__init__(commands, queries, tasks, parent, title=title, save_text=save_text)
        self.subject = subject
        self.expected_version = expected_version
        self._make_command = make_command
        intro_label = wrapped_label(
            intro,
            self,
        )
        self.name_edit = QLineEdit(name, self)
        self.name_edit.setObjectName("name")
        self.name_edit.selectAll()
        self.name_error = self.add_error_label(self.name_edit, "name")
        label = QLabel("&Name", self)
        label.setBuddy(self.name_edit)
        form = QFormLayout()
        form.addRow(label, with_error(self.name_edit, self.name_error))
        self.body.addWidget(intro_label)
        self.body.addLayout(form)
        self.body.addStretch(1)
        self.setMinimumWidth(460)

    def typed_name(self) -> str:
        """The name as typed."""
        return self.name_edit.text()

    def build_command(self) -> Command:
        return self._make_command(self.command_id, self.expected_version, self.name_edit.text())


def look_alike_text(rows: list[CustomerRow], action: str) -> str:
    """The warning naming the existing look-alike customers (at most three)."""
    named = "; ".join(f"“{row.name}” ({customer_detail(row)})" for row in rows[:3])
    more = f" and {len(rows) - 3} more" if len(rows) > 3 else ""
    if len(rows) == 1:
        head = f"A customer with this or a very similar name already exists: {named}."
    else:
        head = f"Customers with this or a very similar name already exist: {named}{more}."
    return f"{head} Make sure it is not the same customer; you can still {action}."


class CustomerNameDialog(NameDialog):
    """Register or rename a customer, warning — never refusing — when another customer has the
    same or a near-identical name (case, accents, spacing, a small typo).

    The check runs in the background as the clerk types. Saving before the check of the typed
    name has answered waits for it; if it finds look-alikes the warning is shown first and the
    next Save goes ahead, so a warning is always seen before a look-alike is saved.
    """

    def __init__(
        self,
        commands: CommandSender,
        queries: QuerySender,
        tasks: TaskRunner,
        parent: QWidget | None = None,
        *,
        action: str,
        exclude_customer_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(commands, queries, tasks, parent, **kwargs)
        self.subject = "customer"
        self._action = action
        self._exclude = exclude_customer_id
        self._enabled = bool(queries.handles(FindSimilarCustomers))
        self._checked: str | None = None  # the name the shown warning (or its absence) is for
        self._generation = 0
        self._save_after_check = False
        self.look_alikes: list[CustomerRow] = []
        self.similar_warning = wrapped_label("", self)
        self.similar_warning.setObjectName("similarWarning")
        self.similar_warning.setStyleSheet("color: #7a4f01;")
        self.similar_warning.hide()
        self.body.insertWidget(self.body.count() - 1, self.similar_warning)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(LOOK_ALIKE_DELAY_MS)
        self._timer.timeout.connect(self.check_name)
        self.name_edit.textChanged.connect(lambda _text: self._timer.start())

    def warning_text(self) -> str:
        """The look-alike warning shown ('' when none) — for tests and screen readers."""
        return self.similar_warning.text() if not self.similar_warning.isHidden() else ""

    def check_name(self) -> None:
        """Look for customers whose name looks like the typed one (background query)."""
        self._timer.stop()
        name = self.name_edit.text().strip()
        self._generation += 1
        if not self._enabled or not name:
            self._show(name, [])
            return
        generation = self._generation
        query = FindSimilarCustomers(name=name, exclude_customer_id=self._exclude)
        ask = self.queries.ask
        self.tasks.submit(
            lambda: ask(query),
            guarded(self, lambda rows: self._answered(generation, name, rows)),
            guarded(self, lambda _exc: self._answered(generation, name, [])),
        )

    def _answered(self, generation: int, name: str, rows: list[CustomerRow]) -> None:
        if generation != self._generation or name != self.name_edit.text().strip():
            return  # typed on meanwhile: a newer check is coming
        self._show(name, rows)
        if self._save_after_check:
            self._save_after_check = False
            if not rows:
                self.send()
            # With look-alikes the clerk reads the warning first; the next Save goes ahead.

    def _show(self, name: str, rows: list[CustomerRow]) -> None:
        self._checked = name
        self.look_alikes = list(rows)
        if rows:
            self.similar_warning.setText(look_alike_text(rows, self._action))
            self.similar_warning.show()
            self.fit_height()
        else:
            self.similar_warning.hide()

    def submit(self) -> None:
        name = self.name_edit.text().strip()
        if not self._enabled or not name or self._checked == name or self.is_busy():
            self.send()  # an empty or refused name gets the domain's own message
            return
        self._save_after_check = True
        self.check_name()


class AddProductDialog(_CatalogDialog):
    """SKU, name, price and currency of a new product."""

    subject = "product"

    def __init__(
        self,
        commands: CommandSender,
        queries: QuerySender,
        tasks: TaskRunner,
        parent: QWidget | None = None,
        *,
        currencies: Iterable[str] = (),
        default_currency: str = "EUR",
    ) -> None:
        super().__init__(
            commands, queries, tasks, parent, title="Add product", save_text="&Add product"
        )
        self.product_id: str | None = None
        self.sku_edit = QLineEdit(self)
        self.sku_edit.setObjectName("sku")
        self.sku_edit.setPlaceholderText("e.g. MUG-BLUE")
        self.name_edit = QLineEdit(self)
        self.name_edit.setObjectName("name")
        self.price_edit = QLineEdit(self)
        self.price_edit.setObjectName("price")
        self.price_edit.setPlaceholderText("e.g. 4.50")
        self.currency_combo = QComboBox(self)
        self.currency_combo.setObjectName("currency")
        self.currency_combo.addItems(sorted(currencies or CURRENCY_PLACES))
        self.currency_combo.setCurrentText(default_currency)
        self.sku_error = self.add_error_label(self.sku_edit, "sku")
        self.name_error = self.add_error_label(self.name_edit, "name")
        self.price_error = self.add_error_label(self.price_edit, "price")
        # An early word about a SKU that is taken, while typing (from the lists, which may be
        # a moment behind): only the save itself decides, in the same transaction.
        self._sku_generation = 0
        self._sku_timer = QTimer(self)
        self._sku_timer.setSingleShot(True)
        self._sku_timer.setInterval(LOOK_ALIKE_DELAY_MS)
        self._sku_timer.timeout.connect(self.check_sku)
        self.sku_edit.textChanged.connect(lambda _text: self._sku_timer.start())
        self.currency_error = self.add_error_label(self.currency_combo, "currency")
        form = QFormLayout()
        for text, widget, error in (
            ("&SKU", self.sku_edit, self.sku_error),
            ("&Name", self.name_edit, self.name_error),
            ("&Price", self.price_edit, self.price_error),
            ("C&urrency", self.currency_combo, self.currency_error),
        ):
            label = QLabel(text, self)
            label.setBuddy(widget)
            form.addRow(label, with_error(widget, error))
        self.body.addLayout(form)
        self.body.addStretch(1)
        self.setMinimumWidth(460)

    def check_sku(self) -> None:
        """Look the typed SKU up in the product list (background) and say so if it is taken."""
        self._sku_timer.stop()
        self._sku_generation += 1
        typed = self.sku_edit.text().strip()
        if not typed or not self.queries.handles(ListProducts):
            self._sku_answered(self._sku_generation, typed, [])
            return
        generation = self._sku_generation
        query = ListProducts(search=typed, include_discontinued=True, limit=50)
        ask = self.queries.ask
        self.tasks.submit(
            lambda: ask(query),
            guarded(self, lambda rows: self._sku_answered(generation, typed, rows)),
            guarded(self, lambda _exc: None),  # only a hint: the save still checks
        )

    def _sku_answered(self, generation: int, typed: str, rows: list[ProductRow]) -> None:
        if generation != self._sku_generation or typed != self.sku_edit.text().strip():
            return
        key = sku_key(typed) if typed else ""
        holder = next((row for row in rows if sku_key(row.sku) == key), None)
        if holder is not None:
            # Not show_error: that moves the focus, and the clerk may be in another field now.
            self.sku_error.set_message(
                f"SKU {holder.sku} is already used by {holder.name}. "
                "Each product needs its own SKU."
            )
        elif "is already used by" in self.error_text("sku"):
            self.sku_error.set_message(None)  # the cause is fixed: the message goes

    def price(self) -> Decimal | None:
        """The typed price (None after showing why it is not a number)."""
        try:
            return parse_amount(self.price_edit.text(), self.currency_combo.currentText())
        except ValueError as exc:
            self.show_error("price", str(exc))
            return None

    def build_command(self) -> AddProduct | None:
        price = self.price()
        if price is None:
            return None
        return AddProduct(
            command_id=self.command_id,
            sku=self.sku_edit.text(),
            name=self.name_edit.text(),
            price=price,
            currency=self.currency_combo.currentText(),
        )

    def on_success(self, result: Any) -> None:
        self.product_id = result.aggregate_id
        self.accept()


class PriceDialog(_CatalogDialog):
    """A new catalog price for one product (orders keep the prices they have)."""

    subject = "product"

    def __init__(
        self,
        commands: CommandSender,
        queries: QuerySender,
        tasks: TaskRunner,
        parent: QWidget | None = None,
        *,
        intro: str,
        price_text: str,
        currency: str,
        make_command: Callable[[str, int | None, Decimal], Command],
        expected_version: int | None = None,
    ) -> None:
        super().__init__(
            commands, queries, tasks, parent, title="Change price", save_text="&Change price"
        )
        self.expected_version = expected_version
        self._make_command = make_command
        self._currency = currency
        intro_label = wrapped_label(
            intro,
            self,
        )
        self.price_edit = QLineEdit(price_text, self)
        self.price_edit.setObjectName("price")
        self.price_edit.selectAll()
        self.price_error = self.add_error_label(self.price_edit, "price")
        label = QLabel(f"New &price ({currency})", self)
        label.setBuddy(self.price_edit)
        form = QFormLayout()
        form.addRow(label, with_error(self.price_edit, self.price_error))
        self.body.addWidget(intro_label)
        self.body.addLayout(form)
        self.body.addStretch(1)
        self.setMinimumWidth(460)

    def build_command(self) -> Command | None:
        try:
            price = parse_amount(self.price_edit.text(), self._currency)
        except ValueError as exc:
            self.show_error("price", str(exc))
            return None
        return self._make_command(self.command_id, self.expected_version, price)
