"""Customers: search, register, rename, default shipping address."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QWidget

from desktop_app.application.buses import CommandSender, QuerySender
from desktop_app.application.commands import CommandResult, RegisterCustomer, RenameCustomer
from desktop_app.application.queries import CustomerRow, ListCustomers
from desktop_app.ui.catalog.address import CustomerAddressDialog
from desktop_app.ui.catalog.base import CatalogListDialog
from desktop_app.ui.catalog.editors import CustomerNameDialog
from desktop_app.ui.catalog.models import CustomersModel
from desktop_app.ui.tasks import TaskRunner


class CustomersDialog(CatalogListDialog):
    """The customer list with Register… and Rename…."""

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
            title="Customers",
            model=CustomersModel(),
            stretch_column=CustomersModel.NAME,
        )
        self.model.setParent(self)
        self.search_edit.setPlaceholderText("Search customers by name (also former names)")
        self.register_button = self.add_action_button("&Register…")
        self.register_button.setShortcut(QKeySequence.StandardKey.New)
        self.rename_button = self.add_action_button("Re&name…")
        self.rename_button.setShortcut(QKeySequence("F2"))
        self.address_button = self.add_action_button("&Address…")
        self.register_button.clicked.connect(self.register_customer)
        self.rename_button.clicked.connect(self.rename_customer)
        self.address_button.clicked.connect(self.edit_address)
        self.resize(640, 440)
        self.update_actions()
        self.check_store()
        self.refresh()

    def make_query(self, search: str | None) -> ListCustomers:
        return ListCustomers(search=search)

    def update_actions(self) -> None:
        selected = self.selected_row() is not None
        self.register_button.setEnabled(not self.is_read_only())
        self.rename_button.setEnabled(not self.is_read_only() and selected)
        self.address_button.setEnabled(not self.is_read_only() and selected)
        for button in (self.register_button, self.rename_button, self.address_button):
            button.setToolTip(self.read_only_text() if self.is_read_only() else "")
        if not self.is_read_only() and not selected:
            self.rename_button.setToolTip("Select a customer to rename.")
            self.address_button.setToolTip("Select a customer to set their shipping address.")

    def on_activated(self) -> None:
        if self.rename_button.isEnabled():
            self.rename_customer()

    def register_customer(self) -> CustomerNameDialog | None:
        """Open the Register form."""
        if self.is_read_only():
            return None
        dialog = CustomerNameDialog(
            self.commands,
            self.queries,
            self.tasks,
            self,
            action="register this one",
            title="Register customer",
            save_text="&Register",
            intro="The customer can be chosen on new orders right away.",
            make_command=lambda command_id, _version, name: RegisterCustomer(
                command_id=command_id, name=name
            ),
        )

        def saved(result: CommandResult) -> None:
            row = CustomerRow(
                customer_id=result.aggregate_id,
                name=dialog.typed_name().strip(),
                order_count=0,
                lifetime_value=(),
                version=result.version,
            )
            self.table.selectRow(self.model.upsert(row))
            self.message.set_message(None)

        self.open_editor(dialog, saved)
        return dialog

    def rename_customer(self) -> CustomerNameDialog | None:
        """Open the Rename form for the selected customer."""
        row = self.selected_row()
        if row is None or self.is_read_only():
            return None
        customer_id = row.customer_id
        dialog = CustomerNameDialog(
            self.commands,
            self.queries,
            self.tasks,
            self,
            action="use this name",
            exclude_customer_id=customer_id,
            title="Rename customer",
            save_text="Re&name",
            intro=(
                f"Rename {row.name}. All of this customer's orders will show the new name; "
                "searching for the old name still finds them, and each order's history keeps "
                "the name it was placed with."
            ),
            name=row.name,
            expected_version=row.version,
            make_command=lambda command_id, version, name: RenameCustomer(
                command_id=command_id,
                customer_id=customer_id,
                name=name,
                expected_version=version,
            ),
        )

        def saved(result: CommandResult) -> None:
            self.model.upsert(
                replace(row, name=dialog.typed_name().strip(), version=result.version)
            )

        self.open_editor(dialog, saved)
        return dialog

    def edit_address(self) -> CustomerAddressDialog | None:
        """Open the default-address form for the selected customer."""
        row = self.selected_row()
        if row is None or self.is_read_only():
            return None
        dialog = CustomerAddressDialog(
            self.commands,
            self.queries,
            self.tasks,
            self,
            customer_id=row.customer_id,
            customer_name=row.name,
        )

        def saved(result: CommandResult) -> None:
            self.model.upsert(replace(row, version=result.version))

        self.open_editor(dialog, saved)
        return dialog
