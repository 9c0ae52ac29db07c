"""The desk as of a past moment (issue 11): View ▸ Desk as of… (Ctrl+Shift+T).

The user picks a local date and time; the whole order list as it was then (``GetDeskAsOf``) is
shown in place of the live list and the side panels, under a banner "As of 12 Mar 2026 14:00 —
read-only". Nothing can be changed meanwhile: every action of the window that is not a view
of this list is disabled (and kept disabled if something tries to enable it), the live list
stops following the projector, and Esc or "Back to live" returns to the live desk as it was.

The dialog, the view and the query are imported when first used (start-up path, P7).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QSettings, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QMessageBox

from desktop_app.ui import formatting as fmt
from desktop_app.ui.errors import explain
from desktop_app.ui.window_action import window_action

if TYPE_CHECKING:
    from desktop_app.application.as_of import DeskAsOf
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.orders.as_of import AsOfView

ALLOWED = frozenset({"actionAsOf", "actionQuit", "actionAbout"})
"""Window actions that stay enabled in as-of mode (they change nothing)."""


class AsOfMode(QObject):
    """Owns the action, the view and the window's state while the desk is shown as of a date."""

    shown = Signal()
    """An as-of answer is on screen."""
    exported = Signal(str)
    """The rows shown were written to this file."""
    failed = Signal(str)

    def __init__(self, window: MainWindow, settings: QSettings) -> None:
        super().__init__(window)
        self.window = window
        self._settings = settings
        self.view: AsOfView | None = None
        self.asked: datetime | None = None
        self._disabled: list[QAction] = []
        self._busy = False
        self.action = window_action(
            window,
            "actionAsOf",
            "Desk &as of…",
            "Ctrl+Shift+T",
            self.choose,
            "The whole order list as it was at a past date and time (read-only)",
        )
        window.installEventFilter(self)

    @property
    def active(self) -> bool:
        """True while the as-of list is shown."""
        return self.view is not None and self.view.isVisible()

    @Slot()
    def choose(self) -> None:
        """Ask for a moment, then show the desk as it was then."""
        if self.window.queries is None:
            return
        from desktop_app.ui.orders.as_of import AsOfDialog

        dialog = AsOfDialog(self.asked, self.window)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.show_at(dialog.moment())

    def show_at(self, moment: datetime) -> None:
        """Read the desk as of ``moment`` (aware) on a worker thread, then show it."""
        from desktop_app.application.as_of import GetDeskAsOf

        queries = self.window.queries
        if queries is None or self._busy:
            return
        self._busy = True
        self.window.statusBar().showMessage(
            f"Reading the desk as of {fmt.format_datetime(moment)}…"
        )

        def done(answer: DeskAsOf) -> None:
            self._busy = False
            self.asked = moment
            self.window.statusBar().clearMessage()
            self._enter().show_answer(answer, moment)
            self.shown.emit()

        def error(exc: BaseException) -> None:
            self._busy = False
            text = explain(exc)[1]
            self.window.statusBar().showMessage(
                f"The desk as of that date cannot be shown: {text}", 10000
            )
            self.failed.emit(text)

        self.window.tasks.submit(lambda: queries.ask(GetDeskAsOf(at=moment)), done, error)

    def _enter(self) -> AsOfView:
        window = self.window
        if self.view is None:
            from desktop_app.ui.orders.as_of import AsOfView

            centre = window.centralWidget()
            layout = centre.layout() if centre is not None else None
            assert centre is not None and layout is not None
            self.view = AsOfView(centre)
            self.view.back_requested.connect(self.leave)
            self.view.change_requested.connect(self.choose)
            self.view.order_opened.connect(self.open_order)
            self.view.export_requested.connect(self.export_csv)
            layout.addWidget(self.view)
            self.view.hide()
        if not self.active:
            if window.audit.active:
                window.audit.leave()
            window.live.paused = True
            window.splitter.hide()
            self._disabled = [
                a
                for a in window.findChildren(QAction)
                if a.isEnabled()
                and a.objectName() not in ALLOWED
                and not a.isSeparator()
                and a.menu() is None
            ]
            for action in self._disabled:
                action.setEnabled(False)
                action.changed.connect(self._keep_disabled)
            self.view.show()
        self.view.table.setFocus()
        return self.view

    @Slot()
    def _keep_disabled(self) -> None:
        """Something re-enabled a disabled action meanwhile (a panel following its order)."""
        if self.active:
            for action in self._disabled:
                if action.isEnabled():
                    action.setEnabled(False)

    @Slot()
    def export_csv(self) -> None:
        """Ask for a file, then write the rows shown to it."""
        from desktop_app.ui.orders.export_csv import ask_target

        chosen = ask_target(self.window, self._settings)
        if chosen is not None:
            self.export_to(*chosen)

    def export_to(self, target: Path, bom: bool = False) -> None:
        """Write the rows shown (filter and sort applied) to ``target`` on a worker thread:
        beside it under a temporary name, renamed when complete (never half a file)."""
        from desktop_app.application.as_of import write_desk_csv

        view = self.view
        if view is None:
            return
        rows = view.model.shown_rows()

        def work() -> int:
            temp = target.with_name(f".{target.name}.part")
            try:
                with open(temp, "w", encoding="utf-8", newline="") as out:
                    count = write_desk_csv(rows, out, bom=bom)
                    out.flush()
                    os.fsync(out.fileno())
                temp.replace(target)
            except BaseException:
                temp.unlink(missing_ok=True)
                raise
            return count

        def done(count: int) -> None:
            self.window.statusBar().showMessage(
                f"Exported {count:,} orders as of {fmt.format_datetime(self.asked)} to {target}",
                10000,
            )
            self.exported.emit(str(target))

        def error(exc: BaseException) -> None:
            text = str(exc) if isinstance(exc, OSError) else explain(exc)[1]
            QMessageBox.warning(self.window, "Export CSV", f"The export failed:\n{text}")
            self.failed.emit(text)

        self.window.tasks.submit(work, done, error)

    @Slot(str, int)
    def open_order(self, order_id: str, version: int) -> None:
        """Back to the live desk with ``order_id``'s audit view at ``version`` (its version at
        the moment shown), its "State at" set to that moment."""
        moment = self.asked
        self.leave()
        audit = self.window.audit
        audit.open_at(order_id, version)
        if audit.view is not None and moment is not None:
            from desktop_app.ui.orders.as_of import wall_clock

            audit.view.state_at.edit.setDateTime(wall_clock(moment))

    @Slot()
    def leave(self) -> None:
        """Back to the live desk, as it was left (the list catches up at once)."""
        view = self.view
        if view is None or not view.isVisible():
            return
        window = self.window
        view.hide()
        for action in self._disabled:
            action.changed.disconnect(self._keep_disabled)
            action.setEnabled(True)
        self._disabled = []
        window.splitter.show()
        window.live.resume()
        # The actions were switched back on as they were left: the panels decide again what
        # the current order allows now (it may have changed meanwhile).
        window.current.reload()
        window.orders.table.setFocus()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.window and event.type() == QEvent.Type.Close:
            # The window saves its layout on close: the live one, with the list shown.
            self.leave()
        return False
