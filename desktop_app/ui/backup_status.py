"""Keeps the status bar's "last backup … · next …" current: asked when the database opens,
after a backup (Backup now or the scheduled job, reported through the bridge) and every few
minutes (the times are relative: "2 h ago")."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

from desktop_app.application.buses import QuerySender
from desktop_app.application.queries import BackupOverview, GetBackupOverview
from desktop_app.ui.bridge import Bridge
from desktop_app.ui.status import StatusBar
from desktop_app.ui.tasks import TaskRunner

BACKUP_JOB = "backup"
"""The scheduler's name of the backup job (as it reports through the bridge)."""
REFRESH_MS = 5 * 60 * 1000


class BackupStatus(QObject):
    """Asks ``GetBackupOverview`` and shows the answer in the status bar."""

    def __init__(
        self, status: StatusBar, tasks: TaskRunner, bridge: Bridge | None, parent: QObject
    ) -> None:
        super().__init__(parent)
        self._status = status
        self._tasks = tasks
        self._queries: QuerySender | None = None
        self._asking = False
        self.overview: BackupOverview | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        if bridge is not None:
            bridge.job_status.connect(self._job_reported)

    def start(self, queries: QuerySender) -> None:
        """The database is open: show its backups and keep them current."""
        self._queries = queries
        if not queries.handles(GetBackupOverview):
            return  # an in-memory store has no backups
        self.refresh()
        self._timer.start()

    def refresh(self) -> None:
        """Ask again (one question at a time)."""
        queries = self._queries
        if queries is None or self._asking or not queries.handles(GetBackupOverview):
            return
        self._asking = True
        self._tasks.submit(lambda: queries.ask(GetBackupOverview()), self._shown, self._failed)

    def _shown(self, overview: BackupOverview) -> None:
        self._asking = False
        self.overview = overview
        self._status.show_backups(overview)

    def _failed(self, exc: BaseException) -> None:
        self._asking = False
        self._status.backups.setText("Backups unknown")
        self._status.backups.setToolTip(f"The backup folder could not be read: {exc}")
        self._status.backups.setVisible(True)

    def _job_reported(self, name: str, _status: object) -> None:
        if name == BACKUP_JOB:
            self.refresh()
