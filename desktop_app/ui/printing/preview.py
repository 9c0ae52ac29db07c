"""Print the selected order: a print preview (Qt's ``QPrintPreviewDialog``, from which the
clerk prints on any printer, PDF included) or straight to a PDF file.

The order's header and lines come from the query bus on a worker thread; the document is built
on the GUI thread (``QTextDocument`` is not thread-safe) and painted on demand by the preview.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtPrintSupport import QPrintPreviewDialog, QPrintPreviewWidget
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from desktop_app.application.buses import QuerySender
from desktop_app.application.queries import GetOrder, OrderDetail
from desktop_app.config import CompanyProfile, CompanyProfileError, load_company_profile
from desktop_app.ui.errors import explain
from desktop_app.ui.printing.documents import (
    DocumentKind,
    ShipTo,
    build_document,
    ship_to_of,
    write_pdf,
)
from desktop_app.ui.tasks import TaskRunner


def _company(parent: QWidget) -> CompanyProfile:
    try:
        return load_company_profile()
    except CompanyProfileError as exc:
        QMessageBox.warning(
            parent,
            "Company details",
            f"The saved company details cannot be read ({exc}); printing with the defaults. "
            "Fix them in File ▸ Company details…",
        )
        return CompanyProfile()


def preview_dialog(
    parent: QWidget | None,
    detail: OrderDetail,
    kind: DocumentKind,
    company: CompanyProfile,
    ship_to: ShipTo | None = None,
) -> QPrintPreviewDialog:
    """A print preview of one order's document (not yet shown)."""
    doc = build_document(detail, kind, company, printed_at=datetime.now(UTC), ship_to=ship_to)
    # The dialog's own printer: a QPrinter passed in is not owned by the dialog and would
    # be freed by Python while the dialog still paints on it.
    dialog = QPrintPreviewDialog(parent)
    dialog.printer().setDocName(f"{kind.heading} {detail.order.order_number}")
    dialog.setObjectName("printPreview")
    dialog.setWindowTitle(f"{kind.heading} {detail.order.order_number} — print preview")
    dialog.resize(900, 1000)
    doc.setParent(dialog)  # lives as long as the dialog
    dialog.paintRequested.connect(doc.print_)
    return dialog


def preview_pages(dialog: QPrintPreviewDialog) -> int:
    """How many pages the preview shows (tests and accessibility checks)."""
    widget = dialog.findChild(QPrintPreviewWidget)
    return 0 if widget is None else int(widget.pageCount())


class OrderPrinting:
    """The print actions for whichever order is selected."""

    def __init__(
        self, parent: QWidget, queries: Callable[[], QuerySender | None], tasks: TaskRunner
    ) -> None:
        self._parent = parent
        self._queries = queries
        self._tasks = tasks
        self.last_dialog: QPrintPreviewDialog | None = None

    def _with_detail(
        self, order_id: str, then: Callable[[OrderDetail, ShipTo | None], None]
    ) -> None:
        queries = self._queries()
        if queries is None:  # the database is still being opened
            return

        def load() -> tuple[OrderDetail, ShipTo | None] | None:
            detail = queries.ask(GetOrder(order_id=order_id))
            return None if detail is None else (detail, ship_to_of(queries, order_id))

        def done(result: tuple[OrderDetail, ShipTo | None] | None) -> None:
            if result is None:
                QMessageBox.information(
                    self._parent,
                    "Print",
                    "This order is not in the order list yet; try again in a moment.",
                )
                return
            detail, ship_to = result
            then(detail, ship_to)

        def failed(exc: BaseException) -> None:
            title, text = explain(exc)
            QMessageBox.warning(self._parent, title, text)

        self._tasks.submit(load, done, failed)

    def preview(self, order_id: str, kind: DocumentKind, *, show: bool = True) -> None:
        """Open the print preview of ``kind`` for the order (``show=False``: build only)."""

        def open_preview(detail: OrderDetail, ship_to: ShipTo | None) -> None:
            dialog = preview_dialog(self._parent, detail, kind, _company(self._parent), ship_to)
            self.last_dialog = dialog
            if show:
                dialog.open()

        self._with_detail(order_id, open_preview)

    def save_pdf(
        self,
        order_id: str,
        kind: DocumentKind,
        target: Path | None = None,
        on_saved: Callable[[Path], None] | None = None,
    ) -> None:
        """Write the document to a PDF file (asks where when ``target`` is None)."""

        def write(detail: OrderDetail, ship_to: ShipTo | None) -> None:
            path = target
            if path is None:
                name, _ = QFileDialog.getSaveFileName(
                    self._parent,
                    f"Save {kind.heading.lower()} as PDF",
                    f"{detail.order.order_number}-{kind.value}.pdf",
                    "PDF files (*.pdf)",
                )
                if not name:
                    return
                path = Path(name)
            doc = build_document(
                detail,
                kind,
                _company(self._parent),
                printed_at=datetime.now(UTC),
                ship_to=ship_to,
            )
            try:
                write_pdf(doc, path, title=f"{kind.heading} {detail.order.order_number}")
            except OSError as exc:
                QMessageBox.warning(
                    self._parent, "Save as PDF", f"The PDF could not be written: {exc}"
                )
                return
            if on_saved is not None:
                on_saved(path)

        self._with_detail(order_id, write)
