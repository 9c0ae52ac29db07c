"""The log-wide event browser (issue 11): View ▸ Event browser (Ctrl+Shift+E), a window over
every event and refused command, filtered and paged; a row opens its order's audit view."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

from desktop_app.ui.window_action import window_action

if TYPE_CHECKING:  # the browser's modules load when it is first opened (start-up time)
    from desktop_app.application.event_browser import LogRow
    from desktop_app.ui.browser.window import EventBrowser
    from desktop_app.ui.main_window import MainWindow


def open_log_row(window: MainWindow, row: LogRow) -> str | None:
    """Show ``row``'s order in ``window``'s audit view, at the row's event when it is one of
    the order's own events; a message when the row opens nothing."""
    if row.order_id is None:
        what = row.subject.lower() if row.subject != "—" else "no order"
        return f"This row is about a {what}: only orders open in the audit view."
    version = row.version if row.kind == "event" and row.stream_id.startswith("order-") else None
    if not window.audit.open_at(row.order_id, version):
        return "The audit view could not be opened (see the main window's status bar)."
    bring_forward(window)
    return None


def bring_forward(widget: QWidget) -> None:
    """Raise and activate a top-level window (the offscreen platform, which has no stacking,
    only activates: it warns on raise)."""
    if QGuiApplication.platformName() != "offscreen":
        widget.raise_()
    widget.activateWindow()


class EventBrowserAction(QObject):
    """Owns the menu action and the (lazily built) browser window of one main window."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.browser: EventBrowser | None = None
        self.action = window_action(
            window,
            "actionEventBrowser",
            "&Event browser",
            "Ctrl+Shift+E",
            self.show,
            "Every event and refused command of the whole log, filtered by who, where, when "
            "and what",
        )

    def show(self) -> EventBrowser:
        """Show the browser (built on first use) with the newest page of its filter."""
        if self.browser is None:
            from desktop_app.ui.browser.window import EventBrowser  # on first use only

            window = self.window
            self.browser = EventBrowser(
                lambda: window.queries,
                window.tasks,
                lambda row: open_log_row(window, row),
                window,
            )
        self.browser.show()
        bring_forward(self.browser)
        self.browser.refresh()
        return self.browser


__all__ = ["EventBrowserAction", "open_log_row"]
