"""The projector's last status, kept beside the database for other processes (issue 11).

The status bar's tooltip reads the projector's rate, lag and last error from the projector of
its own process (``ProjectorStatus``). ``desktop-app-admin status`` runs in another process
with no projector of its own, so the projecting process also writes that very status to
``<database>-projector.status`` (JSON with a checksum, rewritten in place): the rate the CLI
prints is the figure the tooltip shows, not a second measurement. Only the process that
projects writes it (a follower's status says ``owner``); writes are throttled, except when a
run ends or the error changes, so the file always holds the latest finished run (a run's
start is throttled too).
Like the projector's lock file it lives while its process has the database open: a clean close
deletes it (a crash leaves it, and ``status`` shows who wrote it and when).

The file is a report, never an input: nothing reads it to decide anything, a missing or
unreadable file is "not known", and its age is shown with it.

Rewritten in place (one ``pwrite`` of a padded block), not replaced by a rename: the GUI's
projector finishes a run after nearly every burst of commits, and an atomic replace cost
~0.3 ms of CPU each (a new inode, and ext4 starts flushing a file renamed over another) beside
the clerk's commands. A reader that catches a write half done sees a checksum that does not
match and reads again; it never shows a mix of two reports.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from desktop_app.application.queries import ProjectorStatus

REPORT_SUFFIX = "-projector.status"
BLOCK = 1024
"""The report is padded to a multiple of this (spaces after the JSON): the same length on
every write, so a rewrite in place never leaves the tail of a longer one."""
CHECK_KEY = "check"
READ_TRIES = 5
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
                current = _load(self._path)
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
        body = json.dumps(data, sort_keys=True)
        data[CHECK_KEY] = _checksum(body)
        text = json.dumps(data, sort_keys=True).encode("utf-8")
        size = -(-(len(text) + 1) // BLOCK) * BLOCK
        block = text.ljust(size - 1) + b"\n"
        fd = os.open(self._path, os.O_WRONLY | os.O_CREAT, 0o666)
        try:
            os.pwrite(fd, block, 0)
            if os.fstat(fd).st_size > size:  # a longer report before (a long error message)
                os.ftruncate(fd, size)
        finally:
            os.close(fd)


def _checksum(body: str) -> str:
    return f"{zlib.crc32(body.encode('utf-8')):08x}"


def _load(path: Path) -> Any:
    """The report's JSON; a report whose checksum does not match (read while it was being
    rewritten) is read again, and after a few tries is unreadable (ValueError)."""
    for _ in range(READ_TRIES):
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:  # (half written: not even JSON yet)
            continue
        if not isinstance(data, dict) or CHECK_KEY not in data:
            return data  # (a report of an older version: replaced atomically, no checksum)
        check = data.pop(CHECK_KEY)
        if check == _checksum(json.dumps(data, sort_keys=True)):
            return data
    raise ValueError(f"{path}: the report cannot be read (or does not match its checksum)")


def read_report(database: Path) -> ProjectorReport | None:
    """The last status the projector of ``database`` reported (None: none, or unreadable)."""
    try:
        data: Any = _load(report_path(database))
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
