"""The Tools menu: verify the history, rebuild the read models, back up now — each run on a
worker thread, with a progress dialog where the job reports progress (and a Cancel button
where the job can stop between chunks)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QWidget,
)

from desktop_app.application.buses import CommandSender, QuerySender
from desktop_app.application.commands import BackupNow, RebuildReadModels
from desktop_app.application.ports import VerifyFinding, VerifyResult
from desktop_app.application.queries import VerifyHistory
from desktop_app.ui import formatting as fmt
from desktop_app.ui.errors import show_error
from desktop_app.ui.tasks import Progress, TaskRunner
from desktop_app.ui.verify_dialog import VerifyResultDialog
from desktop_app.ui.window_action import window_action

T = TypeVar("T")

READ_ONLY_TIP = "The database is open read-only."


def run_with_progress(
    parent: QWidget,
    tasks: TaskRunner,
    title: str,
    fn: Callable[[Progress], T],
    on_done: Callable[[T], None],
    *,
    context: str,
    cancel: threading.Event | None = None,
) -> QProgressDialog:
    """Run ``fn(progress)`` on the pool behind a window-modal progress dialog; ``on_done``
    gets its result, a failure is shown with ``context``. With ``cancel`` the dialog has a
    Cancel button that sets it (``fn`` must look at it between chunks and return early)."""
    progress = QProgressDialog(title, "Cancel", 0, 0, parent)
    progress.setObjectName("progressDialog")
    progress.setWindowTitle("Order Desk")
    if cancel is None:
        progress.setCancelButton(None)  # None removes the button (Qt docs)
    else:
        # Not QProgressDialog.cancel (it hides the dialog at once): the dialog stays until
        # the job has stopped and its result is shown.
        progress.canceled.disconnect(progress.cancel)

        def cancelling() -> None:
            cancel.set()
            progress.setLabelText(f"{title}\nCancelling: the check stops at the next chunk…")
            button = progress.findChild(QPushButton)
            if button is not None:
                button.setEnabled(False)

        progress.canceled.connect(cancelling)
    progress.setMinimumDuration(0)
    progress.setWindowModality(Qt.WindowModality.WindowModal)
    progress.setAutoClose(False)
    progress.setAutoReset(False)
    progress.setValue(0)
    progress.show()

    def on_progress(done: int, total: int) -> None:
        if total > 0 and not (cancel is not None and cancel.is_set()):
            progress.setMaximum(min(total, 2**31 - 1))
            progress.setValue(min(done, 2**31 - 1))
            progress.setLabelText(f"{title}\n{fmt.format_int(done)} of {fmt.format_int(total)}")

    def finish() -> None:
        progress.close()
        progress.deleteLater()

    def done(result: T) -> None:
        finish()
        on_done(result)

    def failed(exc: BaseException) -> None:
        finish()
        show_error(parent, exc, context=context)

    tasks.submit(fn, done, failed, on_progress)
    return progress


class ToolsMenu(QMenu):
    """``&Tools``: Verify history, Rebuild read models, Backup now."""

    rebuilt = Signal(int)
    """The read models were rebuilt from this many events (the lists should re-query)."""

    def __init__(
        self,
        window: QMainWindow,
        tasks: TaskRunner,
        commands: CommandSender | None,
        queries: QuerySender | None,
        *,
        read_only: bool,
    ) -> None:
        super().__init__("&Tools", window)
        self.setObjectName("menuTools")
        self._window = window
        self._tasks = tasks
        self._commands = commands
        self._queries = queries
        self.read_only = read_only
        self.open_finding: Callable[[VerifyFinding], None] | None = None
        """Opens a verify finding in the window (set by the window)."""
        self.verify_progress: QProgressDialog | None = None
        """The running verify's progress dialog (None when no verify runs)."""
        self.action_verify = window_action(
            window,
            "actionVerifyHistory",
            "&Verify history…",
            "Ctrl+Shift+V",
            self.verify_history,
            "Recompute the tamper-evident hash chain of the whole history",
        )
        self.action_rebuild = window_action(
            window,
            "actionRebuildReadModels",
            "&Rebuild read models…",
            "Ctrl+Shift+R",
            self.rebuild_read_models,
            "Rebuild the order and catalog lists from the history",
        )
        self.action_backup = window_action(
            window,
            "actionBackupNow",
            "&Backup now",
            "Ctrl+Shift+B",
            self.backup_now,
            "Copy the database into the backups folder",
        )
        self.addAction(self.action_verify)
        self.addAction(self.action_rebuild)
        self.addSeparator()
        self.addAction(self.action_backup)
        self.apply_read_only()

    def set_buses(self, commands: CommandSender, queries: QuerySender, *, read_only: bool) -> None:
        """The database is open: run the tools against it."""
        self._commands = commands
        self._queries = queries
        self.read_only = read_only

    def apply_read_only(self) -> None:
        """A read-only database cannot be rebuilt (verify and backup still work)."""
        if self.read_only:
            self.action_rebuild.setEnabled(False)
            self.action_rebuild.setStatusTip(READ_ONLY_TIP)
            self.action_rebuild.setToolTip(READ_ONLY_TIP)

    # --- verify ---------------------------------------------------------------------------

    def verify_history(self) -> None:
        """Tools ▸ Verify history: the chain, every event's legality, every snapshot; with
        progress and Cancel."""
        queries = self._queries
        if queries is None:
            return
        cancel = threading.Event()
        self.verify_progress = run_with_progress(
            self._window,
            self._tasks,
            "Verifying the history…",
            lambda progress: queries.ask(VerifyHistory(progress=progress, cancel=cancel.is_set)),
            self._verified,
            context="The history could not be verified.",
            cancel=cancel,
        )

    def _verified(self, result: VerifyResult) -> None:
        self.verify_progress = None
        dialog = VerifyResultDialog(result, self._open, self._window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def _open(self, finding: VerifyFinding) -> None:
        if self.open_finding is not None:
            self.open_finding(finding)

    # --- rebuild --------------------------------------------------------------------------

    def rebuild_read_models(self) -> None:
        """Tools ▸ Rebuild read models, after the clerk confirms."""
        if self.read_only:
            return
        answer = QMessageBox.question(
            self._window,
            "Rebuild read models",
            "Rebuild the order and catalog lists from the complete history?\n\n"
            "The history itself is not changed. The lists may be incomplete until it finishes.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.start_rebuild()

    def start_rebuild(self) -> None:
        """Rebuild without asking."""
        commands = self._commands
        if commands is None:
            return
        run_with_progress(
            self._window,
            self._tasks,
            "Rebuilding the lists from the history…",
            lambda progress: commands.run_maintenance(RebuildReadModels(progress=progress)),
            self._rebuilt,
            context="The lists could not be rebuilt.",
        )

    def _rebuilt(self, applied: int) -> None:
        self._window.statusBar().showMessage(
            f"Lists rebuilt from {fmt.format_int(applied)} events.", 8000
        )
        self.rebuilt.emit(applied)

    # --- backup ---------------------------------------------------------------------------

    def backup_now(self) -> None:
        """Tools ▸ Backup now: a copy in the backups folder; says where."""
        commands = self._commands
        if commands is None:
            return
        status = self._window.statusBar()
        status.showMessage("Taking a backup…")
        self.action_backup.setEnabled(False)

        def done(path: str) -> None:
            self.action_backup.setEnabled(True)
            status.clearMessage()
            box = QMessageBox(
                QMessageBox.Icon.Information,
                "Backup now",
                f"The backup was saved:\n{path}",
                QMessageBox.StandardButton.Ok,
                self._window,
            )
            box.setObjectName("backupResult")
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()

        def failed(exc: BaseException) -> None:
            self.action_backup.setEnabled(True)
            status.clearMessage()
            show_error(self._window, exc, context="The backup was not taken.")

        self._tasks.submit(lambda: commands.run_maintenance(BackupNow()), done, failed)
