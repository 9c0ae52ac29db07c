"""The main window's status bar: freshness (the projector's rate, lag and last error in its
tooltip), backups ("last backup … · next …"), database file, OS user, read-only."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from desktop_app.application.ports import StoreInfo
from desktop_app.application.queries import BackupOverview, ProjectorStatus
from desktop_app.ui.formatting import format_datetime, format_int, format_relative


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


def projector_tip(status: ProjectorStatus) -> str:
    """The freshness label's tooltip: what the lists follow, the projector's rate, its lag
    and its last error."""
    rate = status.events_per_second
    lines = [
        "The order list could not be brought up to date."
        if status.last_error
        else "How current the order list is compared with the history.",
        "",
        f"Projector rate: {format_int(round(rate))} events/s"
        + ("" if status.running or rate else " (idle)"),
        f"Lag: {format_int(status.lag)} events (list at #{format_int(status.checkpoint)}, "
        f"history at #{format_int(status.head)})",
        f"Last error: {status.last_error or 'none'}",
    ]
    if status.owner:
        lines.append(f"Kept up to date by {status.owner}")
    if status.last_error:
        lines.append(
            "History is still complete; try Tools ▸ Rebuild read models, and see the log "
            "for details."
        )
    return "\n".join(lines)


def backup_text(overview: BackupOverview, now: datetime | None = None) -> tuple[str, str]:
    """(label, tooltip) for the backups: "Last backup 2 h ago · next 2026-12-08 14:02"."""
    now = now or datetime.now(UTC)
    if overview.newest is None:
        last = "No backup yet"
    else:
        last = f"Last backup {format_relative(overview.newest, now)}"
    if overview.interval_hours <= 0:
        after = "no scheduled backups"
    elif overview.next_due is None or overview.next_due <= now:
        after = "next within minutes"
    else:
        after = f"next {format_datetime(overview.next_due)}"
    every = (
        f"A backup is taken when the newest is {overview.interval_hours:g} h old"
        if overview.interval_hours > 0
        else "Scheduled backups are off"
    )
    tip = (
        f"{format_int(overview.count)} backup(s) in {overview.folder}"
        + (f"; newest {format_datetime(overview.newest)}" if overview.newest else "")
        + f".\n{every}; Tools ▸ Backup now takes one at once."
    )
    return f"{last} · {after}", tip


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
        self.connection = QLabel("")
        self.connection.setObjectName("connectionLabel")
        self.connection.setStyleSheet(
            "QLabel { background: #fde2e1; color: #7a1410; padding: 0 6px; border-radius: 3px; }"
        )
        self.connection.setVisible(False)  # only while the database does not answer
        self.backups = QLabel("")
        self.backups.setObjectName("backupLabel")
        self.backups.setVisible(False)  # until the backups are known
        self.addWidget(self.freshness, 1)
        self.addPermanentWidget(self.connection)
        self.addPermanentWidget(self.backups)
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

    def show_backups(self, overview: BackupOverview, now: datetime | None = None) -> None:
        """The backups of the open database ("last backup … · next …")."""
        text, tip = backup_text(overview, now)
        self.backups.setText(text)
        self.backups.setToolTip(tip)
        self.backups.setVisible(True)

    def show_projector_status(self, status: ProjectorStatus) -> None:
        text, state = freshness_text(status)
        self.state = state
        self.freshness.setText(text)
        # A plain property (no re-polish): cheap enough for every batch while catching up.
        self.freshness.setToolTip(projector_tip(status))
        if state == self._styled:
            # While the projector catches up a status arrives after every batch: only the
            # text changes. A style sheet (re-polishing the label) only when the state does.
            return
        self._styled = state
        self.freshness.setStyleSheet(_STYLES[state])

    def show_connection_problem(self, message: str) -> None:
        """The database did not answer (a lost server connection): said beside the
        freshness until something works again (:meth:`show_connection_ok`)."""
        self.connection.setText("Database not answering — your changes are kept; try again")
        self.connection.setToolTip(message)
        self.connection.setVisible(True)

    def show_connection_ok(self) -> None:
        """The database answers again."""
        self.connection.setVisible(False)
        self.connection.setToolTip("")

    def show_unavailable(self, message: str) -> None:
        self.state = "error"
        self._styled = None
        self.freshness.setText(message)
        self.freshness.setStyleSheet(_STYLES["error"])
