"""Shipping address and notes of an order, and "order again": the detail panel's forms for
them and the pieces that show them (kept out of forms.py and main_window.py on purpose)."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QFormLayout, QLabel, QWidget

from desktop_app.application.buses import CommandSender, QuerySender
from desktop_app.application.commands import (
    AddOrderNote,
    ChangeShippingAddress,
    DuplicateOrder,
    new_id,
)
from desktop_app.application.queries import (
    ADDRESS_FROM_CUSTOMER,
    ADDRESS_FROM_ORDER,
    OrderNoteEntry,
)
from desktop_app.ui.orders.form_base import (
    CommandDialog,
    ConsequenceDialog,
    datetime_text,
    with_error,
    wrapped_label,
)
from desktop_app.ui.orders.form_view import OrderView
from desktop_app.ui.orders.forms import OrderVersionMixin
from desktop_app.ui.orders.text_edit import MultiLineEdit
from desktop_app.ui.tasks import TaskRunner

FROM_CUSTOMER_MARK = "(from customer, current)"
"""Shown under an address the order does not have itself: its customer's address today."""


def address_lines(view: OrderView) -> tuple[str, str]:
    """(the address text, a grey remark: "" / "(from customer, current)" / why there is none)."""
    if view.address_source == ADDRESS_FROM_ORDER:
        return view.address, ""
    if view.address_source == ADDRESS_FROM_CUSTOMER:
        return view.address, FROM_CUSTOMER_MARK
    return "", "No address: neither the order nor the customer has one."


def note_text(note: OrderNoteEntry) -> str:
    """A note as the panel lists it: "when · who on host" then the text."""
    who = note.author or "unknown user"
    if note.host:
        who += f" on {note.host}"
    return f"{datetime_text(note.recorded_at)} · {who}\n{note.text}"


class ChangeAddressDialog(OrderVersionMixin, CommandDialog):
    """Give the order its own shipping address (the domain allows it until shipped)."""

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
            title=f"Shipping address of {view.order_number}",
            save_text="&Save address",
        )
        self.order_id = view.order_id
        self.expected_version = view.version
        text, _remark = address_lines(view)
        intro = f"Where order {view.order_number} for {view.customer_name} ships to."
        if view.address_source == ADDRESS_FROM_CUSTOMER:
            intro += " It has no address of its own yet; below is the customer's current one."
        intro += " The customer's default address is not changed."
        self.address_edit = MultiLineEdit(self)
        self.address_edit.setObjectName("shippingAddress")
        self.address_edit.setPlainText(text)
        self.address_edit.setPlaceholderText("Name\nStreet and number\nPostcode and city\nCountry")
        self.address_error = self.add_error_label(self.address_edit, "address")
        label = QLabel("Ship &to", self)
        label.setBuddy(self.address_edit)
        form = QFormLayout()
        form.addRow(label, with_error(self.address_edit, self.address_error))
        self.body.addWidget(wrapped_label(intro, self))
        self.body.addLayout(form)
        self.setMinimumWidth(460)
        self.setTabOrder(self.address_edit, self.save_button)
        self.address_edit.setFocus()

    def build_command(self) -> ChangeShippingAddress:
        return ChangeShippingAddress(
            command_id=self.command_id,
            order_id=self.order_id,
            expected_version=self.expected_version,
            address=self.address_edit.text(),
        )


class AddNoteDialog(CommandDialog):
    """Add a note to the order (any status; notes are never edited, so no version check)."""

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
            title=f"Note on {view.order_number}",
            save_text="&Add note",
        )
        self.order_id = view.order_id
        self.note_id = new_id()  # with the command id: a re-sent Save adds one note, not two
        self.note_edit = MultiLineEdit(self, lines=6)
        self.note_edit.setObjectName("noteText")
        self.note_edit.setPlaceholderText("e.g. Customer called: deliver after 10:00")
        self.note_error = self.add_error_label(self.note_edit, "note", "note_id")
        label = QLabel("&Note", self)
        label.setBuddy(self.note_edit)
        form = QFormLayout()
        form.addRow(label, with_error(self.note_edit, self.note_error))
        self.body.addWidget(
            wrapped_label(
                f"The note is kept with order {view.order_number}, with your user name and the "
                "time. Notes cannot be edited or removed later; add another to correct one.",
                self,
            )
        )
        self.body.addLayout(form)
        self.setMinimumWidth(460)
        self.setTabOrder(self.note_edit, self.save_button)
        self.note_edit.setFocus()

    def build_command(self) -> AddOrderNote:
        return AddOrderNote(
            command_id=self.command_id,
            order_id=self.order_id,
            note_id=self.note_id,
            text=self.note_edit.text(),
        )


class DuplicateOrderDialog(ConsequenceDialog):
    """ "Order again": a new pending order with the same customer, products and quantities.
    ``new_order_id`` after Accepted."""

    def __init__(
        self,
        commands: CommandSender,
        queries: QuerySender,
        tasks: TaskRunner,
        view: OrderView,
        parent: QWidget | None = None,
    ) -> None:
        count = len(view.lines)
        self.new_order_id: str | None = None
        # Made once, like the command id: a re-sent Save names the same new order.
        order_id = new_id()
        super().__init__(
            commands,
            queries,
            tasks,
            parent,
            title=f"Order {view.order_number} again",
            save_text="&Create order",
            subject="order",
            paragraphs=(
                f"Create a new pending order for {view.customer_name} with the same "
                f"{count} line{'s' if count != 1 else ''} as {view.order_number}.",
                "Prices are today's catalog prices (not the ones on this order), and the order "
                "ships to the customer's current address. It stays pending, so you can still "
                "change it before confirming.",
            ),
            make_command=lambda command_id, _version: DuplicateOrder(
                command_id=command_id, source_order_id=view.order_id, order_id=order_id
            ),
        )

    def on_success(self, result: Any) -> None:
        self.new_order_id = result.aggregate_id
        self.accept()
