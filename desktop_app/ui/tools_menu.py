"""The Tools menu: verify the history, rebuild the read models, back up now — each run on a
worker thread, with a progress dialog where the job reports progress (and a Cancel button
where the job can stop between chunks).

Over 500 lines on purpose: the Tools menu's jobs share one progress dialog and its Cancel path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QWidget,
)

from desktop_app.application.buses import CommandSender, QuerySender
from desktop_app.application.commands import (
    BackupNow,
    DigestExport,
    ExportDigest,
    RebuildReadModels,
)
from desktop_app.application.ports import VerifyFinding, VerifyResult
from desktop_app.application.queries import (
    BackupOverview,
    BackupReview,
    CheckDigest,
    DigestCheck,
    GetBackupOverview,
    ReviewBackup,
    VerifyHistory,
)
from desktop_app.ui import formatting as fmt
from desktop_app.ui.errors import show_error
from desktop_app.ui.tasks import Progress, TaskRunner
from desktop_app.ui.window_action import window_action

T = TypeVar("T")

READ_ONLY_TIP = "The database is open read-only."
DIGEST_FILTER = "Order Desk digests (*.json);;All files (*)"
BACKUP_FILTER = "Order Desk backups (*.sqlite3 *.sqlite *.db);;All files (*)"


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
    backed_up = Signal(str)
    """Backup now wrote this file (the status bar's "last backup" moves)."""
    restore_requested = Signal(str)
    """The clerk confirmed a restore from this checked backup: the entry point closes the
    database, restores and opens the restored file (the window cannot replace its own file)."""

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
        self.action_export_digest = window_action(
            window,
            "actionExportDigest",
            "&Export digest…",
            "",
            self.export_digest,
            "Verify the history, then save the head of its hash chain to keep somewhere else",
        )
        self.action_check_digest = window_action(
            window,
            "actionCheckDigest",
            "&Check against a digest…",
            "",
            self.check_digest,
            "Check that the history still extends a digest saved earlier",
        )
        self.addAction(self.action_verify)
        self.addAction(self.action_export_digest)
        self.addAction(self.action_check_digest)
        self.addSeparator()
        self.addAction(self.action_rebuild)
        self.addSeparator()
        self.action_restore = window_action(
            window,
            "actionRestoreBackup",
            "Re&store from backup…",
            "",
            self.restore_from_backup,
            "Check a backup and put it in place of this database (the current file is kept)",
        )
        self.addAction(self.action_backup)
        self.addAction(self.action_restore)
        self.apply_read_only()

    def set_buses(self, commands: CommandSender, queries: QuerySender, *, read_only: bool) -> None:
        """The database is open: run the tools against it."""
        self._commands = commands
        self._queries = queries
        self.read_only = read_only

    def apply_read_only(self) -> None:
        """A read-only database cannot be rebuilt or restored (verify and backup still work)."""
        if self.read_only:
            for action in (self.action_rebuild, self.action_restore):
                action.setEnabled(False)
                action.setStatusTip(READ_ONLY_TIP)
                action.setToolTip(READ_ONLY_TIP)

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
        from desktop_app.ui.verify_dialog import VerifyResultDialog  # off the start-up path

        dialog = VerifyResultDialog(result, self._open, self._window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def _open(self, finding: VerifyFinding) -> None:
        if self.open_finding is not None:
            self.open_finding(finding)

    # --- digests --------------------------------------------------------------------------

    def export_digest(self) -> None:
        """Tools ▸ Export digest…: choose a file, then verify and save."""
        name, _ = QFileDialog.getSaveFileName(
            self._window,
            "Export digest",
            f"order-desk-digest-{datetime.now():%Y-%m-%d}.json",
            DIGEST_FILTER,
        )
        if name:
            self.export_digest_to(name if Path(name).suffix else f"{name}.json")

    def export_digest_to(self, path: str) -> None:
        """Verify the whole history and, when it holds, save its digest to ``path``."""
        commands = self._commands
        if commands is None:
            return
        cancel = threading.Event()
        self.verify_progress = run_with_progress(
            self._window,
            self._tasks,
            "Verifying the history before saving its digest…",
            lambda progress: commands.run_maintenance(
                ExportDigest(path=path, progress=progress, cancel=cancel.is_set)
            ),
            self._digest_exported,
            context="The digest was not saved.",
            cancel=cancel,
        )

    def _digest_exported(self, export: DigestExport) -> None:
        self.verify_progress = None
        digest = export.digest
        if digest is not None:
            self._digest_box(
                QMessageBox.Icon.Information,
                "Export digest",
                f"The digest of the verified history was saved to\n{export.path}",
                f"Last event #{fmt.format_int(digest.head_position)}\n"
                f"Head hash {digest.head_hash}\n\n"
                "Keep this file somewhere else (another disk, another computer). "
                "Tools ▸ Check against a digest… later shows whether the history still "
                "extends it — or was cut or rewritten.",
            )
            return
        from desktop_app.ui.verify_dialog import verdict  # off the start-up path

        _state, headline, details = verdict(export.verify)
        self._digest_box(
            QMessageBox.Icon.Critical
            if export.verify.cancelled_at is None
            else QMessageBox.Icon.Warning,
            "Export digest",
            "No digest was saved: " + headline[0].lower() + headline[1:],
            details,
        )

    def check_digest(self) -> None:
        """Tools ▸ Check against a digest…: choose a digest file, then check."""
        name, _ = QFileDialog.getOpenFileName(
            self._window, "Check against a digest", "", DIGEST_FILTER
        )
        if name:
            self.check_digest_from(name)

    def check_digest_from(self, path: str) -> None:
        """Does the history still extend the digest saved in ``path``?"""
        queries = self._queries
        if queries is None:
            return
        run_with_progress(
            self._window,
            self._tasks,
            "Checking the history against the digest…",
            lambda _progress: queries.ask(CheckDigest(path=path)),
            self._digest_checked,
            context=f"The history could not be checked against {path}.",
        )

    def _digest_checked(self, check: DigestCheck) -> None:
        digest, result = check.digest, check.result
        saved = f"the digest of {digest.taken_at.astimezone():%Y-%m-%d %H:%M}"
        head = f"#{fmt.format_int(digest.head_position)}, hash {digest.head_hash}"
        if result.ok:
            added = max(check.head_position - digest.head_position, 0)
            self._digest_box(
                QMessageBox.Icon.Information,
                "Check against a digest",
                f"The history still extends {saved}.",
                f"Digest: event {head}\n{fmt.format_int(added)} events were added since; "
                "every hash of the history matches.",
            )
            return
        lines = [f"Digest: event {head}"]
        if result.first_bad_position is not None:
            lines.append(f"First bad position: #{fmt.format_int(result.first_bad_position)}")
        if result.problem:
            lines.append(result.problem)
        self._digest_box(
            QMessageBox.Icon.Critical,
            "Check against a digest",
            f"The history no longer extends {saved}.",
            "\n".join(lines) + "\n\nThe history was cut or rewritten after the digest was "
            "saved. Keep this file for investigation and restore a backup to continue working.",
        )

    def _digest_box(self, icon: QMessageBox.Icon, title: str, text: str, details: str) -> None:
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self._window)
        box.setObjectName("digestResult")
        box.setInformativeText(details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

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
            self.backed_up.emit(path)
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

    # --- restore --------------------------------------------------------------------------

    def restore_from_backup(self) -> None:
        """Tools ▸ Restore from backup…: choose a backup (the dialog opens in the backups
        folder), check it, confirm, restore."""
        queries = self._queries
        if queries is None or self.read_only:
            return

        def choose(overview: BackupOverview) -> None:
            name, _ = QFileDialog.getOpenFileName(
                self._window, "Restore from backup", overview.folder, BACKUP_FILTER
            )
            if name:
                self.review_restore(name)

        self._tasks.submit(
            lambda: queries.ask(GetBackupOverview()),
            choose,
            lambda exc: show_error(self._window, exc, context="The backups cannot be listed."),
        )

    def review_restore(self, path: str) -> None:
        """Check the backup ``path`` as a restore would, then ask to confirm (or say why
        it cannot be restored)."""
        queries = self._queries
        if queries is None:
            return
        run_with_progress(
            self._window,
            self._tasks,
            "Checking the backup…",
            lambda _progress: queries.ask(ReviewBackup(path=path)),
            self._reviewed,
            context=f"{path} could not be checked.",
        )

    def _reviewed(self, review: BackupReview) -> None:
        if not review.ok:
            box = QMessageBox(
                QMessageBox.Icon.Critical,
                "Restore from backup",
                "This backup cannot be restored; nothing was changed.",
                QMessageBox.StandardButton.Ok,
                self._window,
            )
            box.setObjectName("restoreRefused")
            problem = review.problem or "it did not pass its checks"
            box.setInformativeText(problem[:1].upper() + problem[1:] + ".")
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()
            return
        when = (
            f"taken {review.taken_at.astimezone():%Y-%m-%d %H:%M}, "
            if review.taken_at is not None
            else ""
        )
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Restore from backup",
            f"Replace the open database with the backup {Path(review.backup).name}?",
            QMessageBox.StandardButton.Cancel,
            self._window,
        )
        box.setObjectName("restoreConfirm")
        box.setInformativeText(
            f"The backup ({when}{fmt.format_int(review.events)} events) passed every check: "
            "stamps, append-only triggers, integrity, hash chain and anchors.\n\n"
            f"Order Desk will close {review.target}, put the backup in its place and open it "
            "again. The current file is kept beside it as "
            f"{Path(review.target).name}.before-restore-<date and time>.\n\n"
            "Changes made after the backup was taken are not in it"
            + (f": {review.given_up}" if review.given_up else ".")
        )
        restore = box.addButton("&Restore", QMessageBox.ButtonRole.DestructiveRole)
        restore.setObjectName("restoreButton")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def answered(_result: int) -> None:
            if box.clickedButton() is restore:
                self.restore_requested.emit(review.backup)

        box.finished.connect(answered)
        box.open()
