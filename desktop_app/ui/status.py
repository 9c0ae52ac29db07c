"""The main window's status bar: freshness, database file, OS user, read-only."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from desktop_app.application.ports import StoreInfo
from desktop_app.application.queries import ProjectorStatus
from desktop_app.ui.formatting import format_int


def freshness_text(status: ProjectorStatus) -> tuple[str, str]:
    """(text, state) for a ProjectorStatus; state is "ok", "behind" or "error"."""
    if status.last_error:
        where = status.failed_position
        at = f" at event #{format_int(where)}" if where else ""
        return f"Lists not updating{at}: {status.last_error}", "error"
    lag = status.lag
    if lag > 0 and status.read_only:
        return (
            f"Read-only · lists {format_int(lag)} events behind the history; "
            "open the file writable to bring them up to date",
            "behind",
        )
    # Another Order Desk process projects the lists (one at a time, R33): this window follows.
    by = f" · kept by {status.owner}" if status.owner else ""
    if lag > 0:
        return f"Catching up · {format_int(lag)} behind{by}", "behind"
    checkpoint = status.checkpoint
    if checkpoint == 0 and status.head == 0:
        return "Up to date · no events yet", "ok"
    return f"Up to date · event #{format_int(checkpoint)}{by}", "ok"


_STYLES = {
    "ok": "",
    "behind": "color: palette(text);",
    "error": "color: #b00020; font-weight: bold;",
}


class StatusBar(QStatusBar):
    """Permanent widgets: freshness · database · user · read-only."""

    def __init__(self, store_info: StoreInfo, user: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusBar")
        self.freshness = QLabel("Checking lists…")
        self.freshness.setObjectName("freshnessLabel")
        self.freshness.setToolTip("How current the order list is compared with the history.")
        self.database = QLabel(f"Database: {store_info.location}")
        self.database.setObjectName("databaseLabel")
        self.database.setToolTip(store_info.location)
        self.user = QLabel(f"User: {user}")
        self.user.setObjectName("userLabel")
        self.user.setToolTip("Changes you make are recorded under this account.")
        self.read_only = QLabel("Read-only")
        self.read_only.setObjectName("readOnlyLabel")
        self.read_only.setStyleSheet(
            "QLabel { background: #fff3cd; color: #5c4400; padding: 0 6px; border-radius: 3px; }"
        )
        self.read_only.setToolTip(store_info.read_only_reason or "")
        self.read_only.setVisible(store_info.read_only)
        self.addWidget(self.freshness, 1)
        self.addPermanentWidget(self.read_only)
        self.addPermanentWidget(self.database)
        self.addPermanentWidget(self.user)
        self.state = "unknown"
        self._styled: str | None = None  # the state whose style and tooltip are applied

    def set_store_info(self, store_info: StoreInfo) -> None:
        """The database is open (the window may have been shown before)."""
        self.database.setText(f"Database: {store_info.location}")
        self.database.setToolTip(store_info.location)
        self.read_only.setToolTip(store_info.read_only_reason or "")
        self.read_only.setVisible(store_info.read_only)
        if self.state == "unknown":
            self.freshness.setText("Checking lists…")

    def show_projector_status(self, status: ProjectorStatus) -> None:
        text, state = freshness_text(status)
        self.state = state
        self.freshness.setText(text)
        if state == self._styled:
            # While the projector catches up a status arrives after every batch: only the
            # text changes. A style sheet (re-polishing the label) only when the state does.
            return
        self._styled = state
        self.freshness.setStyleSheet(_STYLES[state])
        if state == "error":
            self.freshness.setToolTip(
                "The order list could not be brought up to date. History is still complete; "
                "try Tools ▸ Rebuild read models, and see the log for details."
            )
        else:
            self.freshness.setToolTip("How current the order list is compared with the history.")

    def show_unavailable(self, message: str) -> None:
        self.state = "error"
        self._styled = None
        self.freshness.setText(message)
        self.freshness.setStyleSheet(_STYLES["error"])
