"""The File menu's paper actions: the order list as CSV, the selected order's confirmation and
packing slip (preview, print, PDF), and the company details printed on them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSettings, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMainWindow

from desktop_app.application.buses import QuerySender
from desktop_app.ui.orders.list_view import OrdersListView
from desktop_app.ui.tasks import TaskRunner
from desktop_app.ui.window_action import window_action

if TYPE_CHECKING:  # printing (QtPrintSupport), CSV and the company dialog load when first used
    from desktop_app.ui.orders.export_csv import CsvExport
    from desktop_app.ui.printing.preview import OrderPrinting


class PaperActions(QObject):
    """Export, print and company actions of ``window`` (added to it: window shortcuts)."""

    def __init__(
        self,
        window: QMainWindow,
        orders: OrdersListView,
        tasks: TaskRunner,
        queries: Callable[[], QuerySender | None],
        settings: QSettings,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._orders = orders
        self._tasks = tasks
        self._queries = queries
        self._settings = settings
        self._printing: OrderPrinting | None = None
        self.action_export_csv = window_action(
            window,
            "actionExportCsv",
            "&Export list as CSV…",
            "Ctrl+E",
            lambda: self.export_csv(),  # (not ``triggered``'s checked flag as the target)
            "Write the order list as shown (filter, search and sort) to a CSV file",
        )
        self.action_print_confirmation = window_action(
            window,
            "actionPrintConfirmation",
            "&Print order confirmation…",
            QKeySequence(QKeySequence.StandardKey.Print),
            lambda: self._print("confirmation"),
            "Preview and print the selected order's confirmation",
        )
        self.action_print_packing_slip = window_action(
            window,
            "actionPrintPackingSlip",
            "Print packing &slip…",
            "Ctrl+Alt+P",
            lambda: self._print("packing_slip"),
            "Preview and print the selected order's packing slip",
        )
        self.action_save_pdf = window_action(
            window,
            "actionSaveConfirmationPdf",
            "Save confirmation as P&DF…",
            "",
            self._save_pdf,
            "Save the selected order's confirmation as a PDF file",
        )
        self.action_company = window_action(
            window,
            "actionCompanyDetails",
            "Compan&y details…",
            "",
            self.edit_company,
            "The company name, address and logo printed on confirmations and slips",
        )
        self.order_actions = (
            self.action_print_confirmation,
            self.action_print_packing_slip,
            self.action_save_pdf,
        )
        self.set_order_selected(False)

    def set_order_selected(self, selected: bool) -> None:
        """The print actions need a selected order."""
        for action in self.order_actions:
            action.setEnabled(selected)

    @property
    def printing(self) -> OrderPrinting:
        """The print preview and PDF writer, made on first use (keeps QtPrintSupport off the
        start-up path)."""
        if self._printing is None:
            from desktop_app.ui.printing.preview import OrderPrinting

            self._printing = OrderPrinting(self._window, self._queries, self._tasks)
        return self._printing

    def _print(self, kind_name: str) -> None:
        from desktop_app.ui.printing.documents import DocumentKind

        order_id = self._orders.current_order_id()
        if order_id is not None and self._queries() is not None:
            self.printing.preview(order_id, DocumentKind[kind_name.upper()])

    def _save_pdf(self) -> None:
        from desktop_app.ui.printing.documents import DocumentKind

        order_id = self._orders.current_order_id()
        if order_id is not None and self._queries() is not None:
            self.printing.save_pdf(
                order_id,
                DocumentKind.CONFIRMATION,
                on_saved=lambda path: self._window.statusBar().showMessage(f"Saved {path}", 8000),
            )

    def export_csv(self, target: Path | None = None, bom: bool = False) -> CsvExport | None:
        """Export the list as shown; asks for the file when ``target`` is None."""
        from desktop_app.ui.orders.export_csv import CsvExport
        from desktop_app.ui.orders.export_csv import ask_target as ask_csv_target
        from desktop_app.ui.orders.export_csv import report as report_csv

        queries = self._queries()
        if queries is None:
            return None
        if target is None:
            chosen = ask_csv_target(self._window, self._settings)
            if chosen is None:
                return None
            target, bom = chosen
        export = CsvExport(
            queries,
            self._tasks,
            self._orders.model.current_query(),
            target,
            bom=bom,
            parent=self._window,
        )
        report_csv(
            self._window, export, lambda text: self._window.statusBar().showMessage(text, 10000)
        )
        export.start()
        return export

    def edit_company(self) -> None:
        """File ▸ Company details…"""
        from desktop_app.ui.printing.company_dialog import CompanyDialog

        dialog = CompanyDialog(self._window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
