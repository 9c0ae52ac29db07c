"""A customer's default shipping address: new orders take it at placement."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QFormLayout, QLabel, QWidget

from desktop_app.application.buses import CommandSender, QuerySender
from desktop_app.application.commands import ChangeCustomerAddress
from desktop_app.application.queries import CustomerAddress, GetCustomerAddress
from desktop_app.ui.orders.form_base import CommandDialog, guarded, with_error, wrapped_label
from desktop_app.ui.orders.text_edit import MultiLineEdit
from desktop_app.ui.tasks import TaskRunner


class CustomerAddressDialog(CommandDialog):
    """Set, change or (left empty) clear a customer's default shipping address. The current
    address is loaded in the background; Save waits for it, so nothing is overwritten unseen."""

    subject = "customer"

    def __init__(
        self,
        commands: CommandSender,
        queries: QuerySender,
        tasks: TaskRunner,
        parent: QWidget | None = None,
        *,
        customer_id: str,
        customer_name: str,
    ) -> None:
        super().__init__(
            commands,
            queries,
            tasks,
            parent,
            title=f"Address of {customer_name}",
            save_text="&Save address",
        )
        self.customer_id = customer_id
        self.loaded = False
        self.address_edit = MultiLineEdit(self)
        self.address_edit.setObjectName("customerAddress")
        self.address_edit.setPlaceholderText("Name\nStreet and number\nPostcode and city\nCountry")
        self.address_edit.setEnabled(False)
        self.address_error = self.add_error_label(self.address_edit, "address")
        label = QLabel("&Address", self)
        label.setBuddy(self.address_edit)
        form = QFormLayout()
        form.addRow(label, with_error(self.address_edit, self.address_error))
        self.body.addWidget(
            wrapped_label(
                f"New orders for {customer_name} ship here unless the clerk types another "
                "address. Orders already placed keep theirs. Leave it empty to remove it.",
                self,
            )
        )
        self.body.addLayout(form)
        self.setMinimumWidth(460)
        self.setTabOrder(self.address_edit, self.save_button)
        self.save_button.setEnabled(False)
        tasks.submit(
            lambda: queries.ask(GetCustomerAddress(customer_id=customer_id)),
            guarded(self, self._loaded),
            guarded(self, self._load_failed),
        )

    def _loaded(self, current: CustomerAddress) -> None:
        self.expected_version = current.version
        self.address_edit.setPlainText(current.address)
        self.address_edit.setEnabled(True)
        self.save_button.setEnabled(True)
        self.address_edit.setFocus()
        self.loaded = True

    def _load_failed(self, exc: BaseException) -> None:
        text = getattr(exc, "message", None) or str(exc)
        self.general_error.set_message(f"The current address could not be loaded: {text}")

    def fetch_latest(self) -> CustomerAddress:
        return self.queries.ask(GetCustomerAddress(customer_id=self.customer_id))

    def apply_latest(self, latest: Any) -> None:
        self.expected_version = latest.version

    def build_command(self) -> ChangeCustomerAddress | None:
        if not self.loaded:
            return None
        return ChangeCustomerAddress(
            command_id=self.command_id,
            customer_id=self.customer_id,
            address=self.address_edit.text(),
            expected_version=self.expected_version,
        )
