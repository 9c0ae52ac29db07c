"""Who may project into the server's read model: one process at a time (R33), as on a file.

The same two parts as ``store/projector_lease.py``, with the server's means:

* a SESSION-level advisory lock (``pg_try_advisory_lock(READ_MODEL_LOCK_KEY)``) held on a
  connection of its own, kept out of the pool for as long as this process projects. The server
  lets go of it the moment that session ends: the process exits, is killed (``kill -9``: the
  kernel closes its socket and the server sees it at once), or the connection is terminated.
  A workstation that vanishes from the network without closing its socket keeps it until the
  server's TCP keepalive gives up on it (``tcp_keepalives_*`` on the server);
* the owner row in ``rm_meta`` (token, name, pid, host, since), written by the lock's holder
  and checked inside every projector write transaction (``FOR SHARE``): a process whose lock
  session was lost without it noticing stops at its next write instead of writing over the new
  owner's rows.

Shared by every projector of one open database in this process (they coordinate through the
checkpoint's compare-and-set), as the file lock is shared by a process's projectors.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
import weakref
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from desktop_app.application.ports import ReadModelOwner
from desktop_app.store.postgres.database import PostgresDatabase, pg_errors_translated

log = logging.getLogger(__name__)

READ_MODEL_LOCK_KEY = 0x4F44_4553_0003
"""The session-level advisory lock of the read model's projector (per database)."""

_TRY_LOCK = "SELECT pg_try_advisory_lock(%s)"
_ALIVE = "SELECT 1"


@dataclass
class _Hold:
    token: str
    owner: ReadModelOwner
    users: int


class Lease:
    """The read-model lock of one open database in this process (see the module)."""

    def __init__(self, database: PostgresDatabase) -> None:
        self._db = database
        self._lock = threading.Lock()
        self._fairy: Any = None
        self._con: psycopg.Connection[Any] | None = None
        self._hold: _Hold | None = None

    def acquire(self, name: str, host: str) -> tuple[str, ReadModelOwner, bool] | None:
        """(token, owner, new) when this process holds the lock (``new``: this call took it;
        the caller writes the owner row), None when another session holds it."""
        with self._lock:
            hold = self._hold
            if hold is not None:
                if self._alive():
                    hold.users += 1
                    return hold.token, hold.owner, False
                log.warning("read model lock session lost: taking the lock again")
                self._hold = None
                self._drop_connection()
            con = self._connection()
            try:
                row = con.execute(_TRY_LOCK, (READ_MODEL_LOCK_KEY,)).fetchone()
            except psycopg.Error:
                self._drop_connection()
                raise
            if not (row and row[0]):
                return None
            owner = ReadModelOwner(
                name=name,
                pid=os.getpid(),
                host=host,
                since=datetime.now(UTC).isoformat(timespec="seconds"),
            )
            self._hold = _Hold(token=uuid.uuid4().hex, owner=owner, users=1)
            return self._hold.token, owner, True

    def check(self, token: str) -> bool:
        """True while the hold taken with ``token`` is this process's and its session is
        alive (one round trip); a lost session is forgotten, so the next :meth:`acquire`
        asks the server again."""
        with self._lock:
            if self._hold is None or self._hold.token != token:
                return False
            if self._alive():
                return True
            log.warning("read model lock session lost")
            self._hold = None
            self._drop_connection()
            return False

    def release(self, token: str) -> bool:
        """Give back one use; True when the lock itself was let go (its session closed)."""
        with self._lock:
            hold = self._hold
            if hold is None or hold.token != token:
                return False
            hold.users -= 1
            if hold.users > 0:
                return False
            self._hold = None
            self._drop_connection()
            return True

    def discard(self, token: str) -> None:
        """Forget the hold at once (its owner row was replaced: the lock was lost)."""
        with self._lock:
            if self._hold is not None and self._hold.token == token:
                self._hold = None
                self._drop_connection()

    def drop_idle(self) -> None:
        """Close the lock's session when nothing is held on it (a follower's)."""
        with self._lock:
            if self._hold is None:
                self._drop_connection()

    def close(self) -> None:
        """Let go of everything (the lock's session is closed)."""
        with self._lock:
            self._hold = None
            self._drop_connection()

    # --- the lock's own session

    def _connection(self) -> psycopg.Connection[Any]:
        if self._con is None:
            with pg_errors_translated(self._db.where):
                fairy = self._db.engine.raw_connection()
            con = fairy.driver_connection
            assert isinstance(con, psycopg.Connection)
            con.rollback()
            con.autocommit = True  # a session lock; no transaction stays open on it
            self._fairy, self._con = fairy, con
        return self._con

    def _alive(self) -> bool:
        con = self._con
        if con is None or con.closed or con.broken:
            return False
        try:
            con.execute(_ALIVE)
        except psycopg.Error:
            return False
        return True

    def _drop_connection(self) -> None:
        """Close the session (the server drops its locks with it); never back to the pool."""
        fairy, self._fairy, self._con = self._fairy, None, None
        if fairy is not None:
            with suppress(Exception):
                fairy.invalidate()
            with suppress(Exception):
                fairy.close()


_leases: weakref.WeakKeyDictionary[PostgresDatabase, Lease] = weakref.WeakKeyDictionary()
_leases_lock = threading.Lock()


def lease_of(database: PostgresDatabase) -> Lease:
    """The one lease of ``database`` in this process."""
    with _leases_lock:
        lease = _leases.get(database)
        if lease is None:
            lease = _leases[database] = Lease(database)
        return lease
