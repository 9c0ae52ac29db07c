"""File ▸ Export list as CSV…: the order list as the clerk sees it (filter, search and sort
applied), written on a worker thread with a progress dialog that can cancel.

The file is written beside the target under a temporary name and renamed when complete, so a
cancelled or failed export never leaves half a file under the chosen name.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Qt, Signal
from PySide6.QtWidgets import QCheckBox, QFileDialog, QMessageBox, QProgressDialog, QWidget

from desktop_app.application.buses import QuerySender
from desktop_app.application.export import ExportCancelled, export_orders_csv
from desktop_app.application.queries import ListOrders
from desktop_app.ui import formatting as fmt
from desktop_app.ui.errors import explain
from desktop_app.ui.tasks import TaskRunner

BOM_SETTING = "export/csvBom"


def _write(
    queries: QuerySender,
    query: ListOrders,
    target: Path,
    bom: bool,
    cancel: threading.Event,
    progress: Callable[[int, int], None],
) -> int:
    temp = target.with_name(f".{target.name}.part")
    try:
        with open(temp, "w", encoding="utf-8", newline="") as out:
            rows = export_orders_csv(
                queries.ask, query, out, bom=bom, progress=progress, cancelled=cancel.is_set
            )
            out.flush()
            os.fsync(out.fileno())
        temp.replace(target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return rows


class CsvExport(QObject):
    """One export run: :meth:`start` it; ``finished(rows)``, ``cancelled()`` or
    ``failed(message)`` tell how it ended (on the GUI thread)."""

    finished = Signal(int)
    cancelled = Signal()
    failed = Signal(str)

    def __init__(
        self,
        queries: QuerySender,
        tasks: TaskRunner,
        query: ListOrders,
        target: Path,
        *,
        bom: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._queries = queries
        self._tasks = tasks
        self._query = query
        self.target = target
        self._bom = bom
        self._cancel = threading.Event()
        self.progress = QProgressDialog("Exporting orders…", "Cancel", 0, 0, parent)
        self.progress.setObjectName("csvExportProgress")
        self.progress.setWindowTitle("Export list as CSV")
        self.progress.setWindowModality(Qt.WindowModality.WindowModal)
        self.progress.setMinimumDuration(300)
        self.progress.setAutoClose(False)
        self.progress.setAutoReset(False)
        self.progress.canceled.connect(self.cancel)
        self.done = False

    def start(self) -> None:
        """Start writing on a worker thread."""

        def work(progress: Callable[[int, int], None]) -> int:
            return _write(
                self._queries, self._query, self.target, self._bom, self._cancel, progress
            )

        self._tasks.submit(work, self._on_done, self._on_error, self._on_progress)

    def cancel(self) -> None:
        """Stop after the page being written; the partial file is removed."""
        self._cancel.set()
        self.progress.setLabelText("Cancelling…")

    def _on_progress(self, done: int, total: int) -> None:
        if self.done:
            return
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(min(done, max(total, 1)))
        self.progress.setLabelText(
            f"Exporting orders… {fmt.format_int(done)} of {fmt.format_int(total)}"
        )

    def _finish(self) -> None:
        self.done = True
        self.progress.canceled.disconnect(self.cancel)
        self.progress.close()
        self.progress.deleteLater()

    def _on_done(self, rows: int) -> None:
        self._finish()
        self.finished.emit(rows)

    def _on_error(self, exc: BaseException) -> None:
        self._finish()
        if isinstance(exc, ExportCancelled):
            self.cancelled.emit()
        else:
            self.failed.emit(explain(exc)[1] if not isinstance(exc, OSError) else str(exc))


def ask_target(parent: QWidget, settings: QSettings) -> tuple[Path, bool] | None:
    """The file to write and whether to add a byte-order mark (a save dialog; None: cancelled)."""
    dialog = QFileDialog(parent, "Export list as CSV")
    dialog.setObjectName("csvExportDialog")
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.setNameFilter("CSV files (*.csv)")
    dialog.setDefaultSuffix("csv")
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
    dialog.selectFile("orders.csv")
    bom = QCheckBox("Add a byte-order mark (for Excel)", dialog)
    bom.setChecked(bool(settings.value(BOM_SETTING, False, type=bool)))
    layout = dialog.layout()
    if layout is not None:
        layout.addWidget(bom)
    if dialog.exec() != QFileDialog.DialogCode.Accepted or not dialog.selectedFiles():
        return None
    settings.setValue(BOM_SETTING, bom.isChecked())
    return Path(dialog.selectedFiles()[0]), bom.isChecked()


def report(parent: QWidget, export: CsvExport, show_message: Callable[[str], None]) -> None:
    """Connect an export's outcome to the status bar (success) and a message box (failure)."""

    def finished(rows: int) -> None:
        show_message(f"Exported {fmt.format_int(rows)} orders to {export.target}")

    def cancelled() -> None:
        show_message("Export cancelled; no file was written.")

    def failed(message: str) -> None:
        QMessageBox.warning(parent, "Export list as CSV", f"The export failed:\n{message}")

    export.finished.connect(finished)
    export.cancelled.connect(cancelled)
    export.failed.connect(failed)
