"""The projector's last status, kept beside the database for other processes (issue 11).

The status bar's tooltip reads the projector's rate, lag and last error from the projector of
its own process (``ProjectorStatus``). ``desktop-app-admin status`` runs in another process
with no projector of its own, so the projecting process also writes that very status to
``<database>-projector.status`` (JSON, replaced atomically): the rate the CLI prints is the
figure the tooltip shows, not a second measurement. Only the process that projects writes it
(a follower's status says ``owner``); writes are throttled, except when a run ends or the error
changes, so the file always holds the latest finished run (a run's start is throttled too).
Like the projector's lock file it lives while its process has the database open: a clean close
deletes it (a crash leaves it, and ``status`` shows who wrote it and when).

The file is a report, never an input: nothing reads it to decide anything, a missing or
unreadable file is "not known", and its age is shown with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from desktop_app.application.queries import ProjectorStatus

REPORT_SUFFIX = "-projector.status"
MIN_INTERVAL_S = 1.0
"""At most one write a second while a run is going (every batch publishes a status)."""


def report_path(database: Path) -> Path:
    """Where the projector of ``database`` reports its status."""
    return database.with_name(database.name + REPORT_SUFFIX)


@dataclass(frozen=True, kw_only=True, slots=True)
class ProjectorReport:
    """A projector's status as another process reads it, with who wrote it."""

    checkpoint: int
    head: int
    events_per_second: float
    running: bool
    last_error: str | None
    failed_position: int | None
    updated_at: datetime | None
    pid: int
    host: str
    user: str


class StatusReporter:
    """A projector listener writing each status to the report file (throttled)."""

    def __init__(
        self,
        database: Path,
        *,
        user: str = "",
        host: str = "",
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monotonic = monotonic
        self._path = report_path(database)
        self._user = user
        self._host = host
        self._lock = threading.Lock()
        self._last_write = 0.0
        self._last: tuple[bool, str | None] | None = None
        self._written = False
        self._closed = False

    def __call__(self, status: ProjectorStatus) -> None:
        if status.owner is not None:
            return  # another process projects: its own reporter writes
        key = (status.running, status.last_error)
        now = self._monotonic()
        with self._lock:
            if self._closed:
                return
            # A finished run, or another error: written at once (the file holds the latest
            # finished run). A run starting is news only once a second: the GUI's projector
            # runs after nearly every commit, and each atomic replace of the file costs a few
            # ms of I/O (ext4 flushes a file renamed over another) beside the clerks' commits.
            last = self._last
            due = last is None or key[1] != last[1] or not status.running
            if not due and now - self._last_write < MIN_INTERVAL_S:
                return
            self._last, self._last_write = key, now
            # A report only: a full or read-only folder must not stop the projector.
            with contextlib.suppress(OSError):
                self._write(status)
                self._written = True

    def close(self) -> None:
        """The database is being closed: stop reporting and delete this process's report."""
        with self._lock:
            self._closed = True
            if not self._written:
                return
            with contextlib.suppress(OSError, ValueError, AttributeError):
                current = json.loads(self._path.read_text(encoding="utf-8"))
                if current.get("pid") == os.getpid():  # never another process's report
                    self._path.unlink()

    def _write(self, status: ProjectorStatus) -> None:
        data: dict[str, Any] = {
            "checkpoint": status.checkpoint,
            "head": status.head,
            "events_per_second": status.events_per_second,
            "running": status.running,
            "last_error": status.last_error,
            "failed_position": status.failed_position,
            "updated_at": status.updated_at.isoformat() if status.updated_at else None,
            "pid": os.getpid(),
            "host": self._host,
            "user": self._user,
        }
        temporary = self._path.with_name(self._path.name + f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
        os.replace(temporary, self._path)


def read_report(database: Path) -> ProjectorReport | None:
    """The last status the projector of ``database`` reported (None: none, or unreadable)."""
    try:
        data: Any = json.loads(report_path(database).read_text(encoding="utf-8"))
        updated = data.get("updated_at")
        failed = data.get("failed_position")
        error = data.get("last_error")
        return ProjectorReport(
            checkpoint=int(data["checkpoint"]),
            head=int(data["head"]),
            events_per_second=float(data["events_per_second"]),
            running=bool(data["running"]),
            last_error=None if error is None else str(error),
            failed_position=None if failed is None else int(failed),
            updated_at=datetime.fromisoformat(updated) if updated else None,
            pid=int(data.get("pid", 0)),
            host=str(data.get("host", "")),
            user=str(data.get("user", "")),
        )
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


__all__ = ["ProjectorReport", "StatusReporter", "read_report", "report_path"]
