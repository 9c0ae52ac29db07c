"""The signal bridge: a QObject living in the GUI thread whose signals carry frozen status
objects from worker threads (projector, scheduler) to widgets, always as queued calls."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class Bridge(QObject):
    """Worker threads call the ``publish_*`` methods; widgets connect to the signals."""

    projector_status = Signal(object)  # ProjectorStatus
    job_status = Signal(str, object)  # job name, frozen status/result object

    def publish_projector_status(self, status: object) -> None:
        """Safe from any thread: Qt queues the emission to the GUI thread's receivers."""
        self.projector_status.emit(status)

    def publish_job_status(self, name: str, status: object) -> None:
        """Safe from any thread."""
        self.job_status.emit(name, status)
