"""Order ▸ Export audit bundle…: the selected order's audit bundle written through the bus
(``ExportAuditBundle``, the same code as ``desktop-app-admin audit-bundle``), with a save
dialog, progress and a result that says what the file holds and whether it checks.

The bundle is collected on a worker thread; its PDF report is drawn with the history view's
own delegate, a widgets class, so that one step runs on the GUI thread (``GuiThreadRenderer``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox

from desktop_app.application.buses import CommandSender
from desktop_app.application.commands import AuditBundleExport, ExportAuditBundle
from desktop_app.application.ports import RecordedRejection
from desktop_app.application.queries import AuditNoteEntry, HistoryEntry
from desktop_app.ui import formatting as fmt
from desktop_app.ui.tasks import TaskRunner
from desktop_app.ui.tools_menu import run_with_progress
from desktop_app.ui.window_action import window_action

BUNDLE_FILTER = "Audit bundles (*.zip);;All files (*)"

CurrentOrder = Callable[[], tuple[str, str] | None]
"""The selected order as (id, number), or None."""


class _Job:
    def __init__(
        self,
        title: str,
        facts: Sequence[tuple[str, str]],
        notes: Sequence[str],
        entries: Sequence[HistoryEntry],
        annotations: Sequence[AuditNoteEntry],
        refused: Sequence[RecordedRejection],
    ) -> None:
        self.args = (title, facts, notes, entries, annotations, refused)
        self.pdf: bytes | None = None
        self.error: BaseException | None = None


class GuiThreadRenderer(QObject):
    """Draws the audit report on the GUI thread for a worker that waits for the bytes."""

    _requested = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # Blocking: the worker waits while the GUI thread draws (the GUI thread never waits
        # for this worker, so this cannot deadlock while the window runs its event loop).
        self._requested.connect(self._render, Qt.ConnectionType.BlockingQueuedConnection)

    def __call__(
        self,
        title: str,
        facts: Sequence[tuple[str, str]],
        notes: Sequence[str],
        entries: Sequence[HistoryEntry],
        annotations: Sequence[AuditNoteEntry],
        refused: Sequence[RecordedRejection],
    ) -> bytes:
        job = _Job(title, facts, notes, entries, annotations, refused)
        if QThread.currentThread() is self.thread():
            self._render(job)
        else:
            self._requested.emit(job)
        if job.error is not None:
            raise job.error
        assert job.pdf is not None
        return job.pdf

    @Slot(object)
    def _render(self, job: _Job) -> None:
        from desktop_app.ui.printing.audit_report import render_audit_report

        title, facts, notes, entries, annotations, refused = job.args
        try:
            job.pdf = render_audit_report(
                title=title,
                facts=facts,
                notes=notes,
                entries=entries,
                annotations=annotations,
                refused=refused,
            )
        except Exception as exc:  # handed to the worker, which reports it like any failure
            job.error = exc


class AuditBundleAction(QObject):
    """The ``Export audit bundle…`` action and what it runs."""

    exported = Signal(object)
    """An ``AuditBundleExport`` (after the result box was opened)."""

    def __init__(self, window: QMainWindow, tasks: TaskRunner, current: CurrentOrder) -> None:
        super().__init__(window)
        self._window = window
        self._tasks = tasks
        self._current = current
        self._commands: CommandSender | None = None
        self.renderer = GuiThreadRenderer(self)
        self.action = window_action(
            window,
            "actionExportAuditBundle",
            "Export &audit bundle…",
            "",
            self.export,
            "Save the selected order's events, chain proof, snapshots and a PDF report in one "
            "file that can be checked without the database",
        )

    def set_commands(self, commands: CommandSender | None) -> None:
        """The database is open (None: not yet)."""
        self._commands = commands

    def export(self) -> None:
        """Ask where, then write the selected order's bundle."""
        current = self._current()
        if current is None:
            self._window.statusBar().showMessage(
                "Select an order to export its audit bundle.", 8000
            )
            return
        order_id, number = current
        safe = re.sub(r"[^A-Za-z0-9_-]+", "-", number or order_id)
        name, _ = QFileDialog.getSaveFileName(
            self._window, "Export audit bundle", f"{safe}-audit-bundle.zip", BUNDLE_FILTER
        )
        if name:
            self.export_to(order_id, name if Path(name).suffix else f"{name}.zip")

    def export_to(self, order_id: str, path: str) -> None:
        """Write the bundle of ``order_id`` to ``path``."""
        commands = self._commands
        if commands is None:
            return
        render = self.renderer
        run_with_progress(
            self._window,
            self._tasks,
            "Writing the audit bundle…",
            lambda _progress: commands.run_maintenance(
                ExportAuditBundle(order_id=order_id, path=path, render=render)
            ),
            self._written,
            context="The audit bundle was not written.",
        )

    def _written(self, export: AuditBundleExport) -> None:
        lines = [
            f"{fmt.format_int(export.events)} events, {fmt.format_int(export.snapshots)} "
            f"snapshot(s), a chain proof of {fmt.format_int(export.proof_events)} events to "
            f"the head of the log, and a PDF report ({fmt.format_int(export.size)} bytes).",
        ]
        if not export.keyed:
            lines.append(
                "This account has no snapshot key for the database, so the bundle carries no "
                "MAC: anyone who recomputes its digests could rebuild it unnoticed."
            )
        if export.check_failure is None:
            icon = QMessageBox.Icon.Information
            lines.append(
                "Read back, it passes the bundle check (desktop-app-admin check-bundle FILE, "
                "no database needed)."
            )
        else:
            icon = QMessageBox.Icon.Warning
            lines.append(
                f"Read back, it does NOT pass the bundle check: {export.check_failure}. "
                "It is still the evidence of the history as stored."
            )
        box = QMessageBox(
            icon,
            "Export audit bundle",
            f"The audit bundle of {export.order_number} was saved to\n{export.path}",
            QMessageBox.StandardButton.Ok,
            self._window,
        )
        box.setObjectName("auditBundleResult")
        box.setInformativeText("\n\n".join(lines))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.exported.emit(export)
