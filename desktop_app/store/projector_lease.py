"""Who may project into a file's read-model tables: one process at a time (R33).

Two parts, both needed:

* An operating-system lock on ``<database>-projector.lock`` beside the file (``flock`` on POSIX,
  ``msvcrt.locking`` on Windows), taken without waiting. The OS drops it when the holder's
  process ends in any way, ``kill -9`` included, so a crashed owner never holds it: the next
  process that asks gets it at once. (SQLite in WAL mode needs every user of the file on one
  machine, so a machine-local lock is enough.) A clean release deletes the file (a crash
  leaves it, harmless). It is shared by every projector of THIS process
  on the same file (they coordinate through the checkpoint's compare-and-set), whatever
  their names.
* An owner row in ``rm_meta`` (a random token, name, pid, host, since) written by the lock's
  holder when it takes the lock, and checked inside every projector write transaction (batch
  and rebuild swap). Should the lock ever be lost without the process noticing (the lock file
  deleted and re-created), the old owner's next write finds another token and stops instead of
  writing: the row fences the writes, the lock decides who writes the row.

The same shape maps onto a shared PostgreSQL store later: ``pg_try_advisory_lock`` (released
with the holder's session) in place of the file lock, the same owner row checked in the batch.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from desktop_app.application.ports import ReadModelOwner

OWNER_KEY = "projector_owner"
"""The ``rm_meta`` key of the owner row."""

LOCK_SUFFIX = "-projector.lock"


def lock_path(database: Path) -> Path:
    """The lock file that decides who projects into ``database``'s read model."""
    return database.with_name(database.name + LOCK_SUFFIX)


def _try_lock(handle: IO[bytes]) -> bool:
    """Take the exclusive lock without waiting; False when another process holds it."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(handle: IO[bytes]) -> None:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _open_lock_file(database: Path) -> IO[bytes]:
    """Open (creating it with the database file's permissions, 0600 by default) the lock file."""
    path = lock_path(database)
    try:
        mode = os.stat(database).st_mode & 0o666
    except OSError:
        mode = 0o600
    fd = os.open(path, os.O_RDWR | os.O_CREAT, mode or 0o600)
    return os.fdopen(fd, "r+b", buffering=0)


def _same_file(handle: IO[bytes], path: Path) -> bool:
    try:
        here, there = os.fstat(handle.fileno()), os.stat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _locked_file(database: Path) -> IO[bytes] | None:
    """The lock file, open and locked by this process; None when another process holds it.

    A clean release deletes the file while still holding its lock, so a process that locked a
    file which is no longer the one at the path (it was deleted meanwhile) tries again."""
    for _ in range(20):
        handle = _open_lock_file(database)
        try:
            if not _try_lock(handle):
                handle.close()
                return None
            if sys.platform == "win32" or _same_file(handle, lock_path(database)):
                return handle
        except BaseException:
            handle.close()
            raise
        handle.close()  # locked a file that was deleted meanwhile: the next one
    return None


def _let_go(database: Path, handle: IO[bytes]) -> None:
    """Delete the lock file (while still holding it: see :func:`_locked_file`), then unlock."""
    if sys.platform != "win32":  # an open file cannot be deleted there; it stays
        with contextlib.suppress(OSError):
            if _same_file(handle, lock_path(database)):
                os.unlink(lock_path(database))
    with contextlib.suppress(OSError):  # closing the handle drops it anyway
        _unlock(handle)
    handle.close()


@dataclass
class _Held:
    """This process's hold on one file's lock (shared by its projectors on that file)."""

    database: Path
    handle: IO[bytes]
    token: str
    owner: ReadModelOwner
    users: int


_registry: dict[tuple[int, int], _Held] = {}
_registry_lock = threading.Lock()


def _file_key(database: Path) -> tuple[int, int]:
    st = os.stat(database)
    return (st.st_dev, st.st_ino)


def owner_row(token: str, owner: ReadModelOwner) -> str:
    """The owner row's JSON text."""
    return json.dumps(
        {
            "token": token,
            "name": owner.name,
            "pid": owner.pid,
            "host": owner.host,
            "since": owner.since,
        },
        sort_keys=True,
    )


def parse_owner_row(text: str | None) -> tuple[str, ReadModelOwner] | None:
    """(token, owner) from an owner row's text; None when absent or unreadable."""
    if not text:
        return None
    try:
        data: Any = json.loads(text)
        owner = ReadModelOwner(
            name=str(data["name"]),
            pid=int(data["pid"]),
            host=str(data["host"]),
            since=str(data["since"]),
        )
        return str(data["token"]), owner
    except (ValueError, TypeError, KeyError):
        return None


def acquire(database: Path, name: str, host: str) -> tuple[str, ReadModelOwner, bool] | None:
    """Take (or share, within this process) the lock of ``database``'s read model.

    Returns (token, owner, new): ``new`` is True when this call took the OS lock (the caller
    must then write the owner row); None when another process holds it.
    """
    key = _file_key(database)
    with _registry_lock:
        held = _registry.get(key)
        if held is not None:
            held.users += 1
            return held.token, held.owner, False
        handle = _locked_file(database)
        if handle is None:
            return None
        owner = ReadModelOwner(
            name=name,
            pid=os.getpid(),
            host=host,
            since=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        held = _Held(database=database, handle=handle, token=uuid.uuid4().hex, owner=owner, users=1)
        _registry[key] = held
        return held.token, held.owner, True


def release(database: Path, token: str) -> bool:
    """Give back one use of the lock taken with ``token``; True when the OS lock was let go
    (the caller may then clear the owner row)."""
    with _registry_lock:
        for key, held in list(_registry.items()):
            if held.token != token:
                continue
            held.users -= 1
            if held.users > 0:
                return False
            del _registry[key]
            _let_go(held.database, held.handle)
            return True
    return False


def discard(token: str) -> None:
    """Forget the hold taken with ``token`` at once (its owner row was replaced: the lock was
    lost), so the next :func:`acquire` in this process asks the OS again."""
    with _registry_lock:
        for key, held in list(_registry.items()):
            if held.token == token:
                del _registry[key]
                with contextlib.suppress(OSError):  # not ours any more: never delete it
                    _unlock(held.handle)
                held.handle.close()


__all__ = [
    "LOCK_SUFFIX",
    "OWNER_KEY",
    "acquire",
    "discard",
    "lock_path",
    "owner_row",
    "parse_owner_row",
    "release",
]
