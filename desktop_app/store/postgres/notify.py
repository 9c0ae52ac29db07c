"""Wake-ups across workstations: LISTEN for the server's notifications in a thread of its own.

Two channels (see :mod:`.read_side_ddl`): ``order_desk_events`` is sent by a trigger in every
transaction that appends events, ``order_desk_read_model`` by every projector batch that moves
the read model's checkpoint; the server delivers them only after the commit. The listener
calls ``on_change()`` once per batch (those arriving within ``COALESCE_SECONDS`` of a wake-up
are one batch), which the composition root points at ``projector.wake``:

* on the workstation whose projector holds the lease, an append made anywhere is projected at
  once (no poll interval to wait for);
* on the others, the owner's committed batch wakes their projector, which finds the moved
  checkpoint and publishes it: the GUI's live refresh re-queries the lists (a commit on one
  workstation refreshes the lists on the others).

The connection is a pool checkout kept for the listener (autocommit: LISTEN needs no
transaction), closed at :meth:`ChangeListener.close`. ``notifies(timeout=…)`` returns
regularly, so the thread notices a stop request. A lost connection (server restart,
``pg_terminate_backend``) is opened again with a growing pause, and ``on_change()`` is
called once after reconnecting: notifications sent meanwhile were lost, the wake makes the
projector look for itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any

import psycopg
from psycopg import sql

from desktop_app.store.postgres.database import PostgresDatabase
from desktop_app.store.postgres.read_side_ddl import EVENTS_CHANNEL, READ_MODEL_CHANNEL

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
"""How long one wait for notifications lasts before the thread looks at its stop flag."""
COALESCE_SECONDS = 0.01
"""After a wake-up, notifications arriving within this long are handled together (the first
one after a quiet spell is handled at once; later ones wait at most this long)."""
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0)
"""Pauses between attempts to listen again after the connection was lost."""


class ChangeListener:
    """A thread that LISTENs on the Order Desk channels and calls ``on_change()`` for every
    batch of notifications (see the module). :meth:`start` it; :meth:`close` stops it."""

    def __init__(
        self,
        database: PostgresDatabase,
        on_change: Callable[[], None],
        *,
        channels: Sequence[str] = (EVENTS_CHANNEL, READ_MODEL_CHANNEL),
    ) -> None:
        self._db = database
        self._on_change = on_change
        self._channels = tuple(channels)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fairy: Any = None
        self._fairy_lock = threading.Lock()
        self.listening = threading.Event()
        """Set while LISTEN is in effect (cleared while the connection is lost)."""
        self.received = 0
        """Notifications received so far."""
        self.last_error: str | None = None

    def start(self) -> ChangeListener:
        """Start the thread (idempotent); returns self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="pg-change-listener", daemon=True
            )
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop listening and wait for the thread (at most about ``POLL_SECONDS``)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=POLL_SECONDS * 4 + 1)
        self._drop()

    # --- the thread

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                con = self._listen()
                if failures:
                    self._wake()  # notifications sent while we were away are lost
                failures = 0
                self.last_error = None
                while not self._stop.is_set():
                    batch = 0
                    for _notify in con.notifies(timeout=POLL_SECONDS, stop_after=1):
                        batch += 1
                    if batch:
                        self.received += batch
                        self._wake()
                        # What arrives meanwhile is taken as one batch, with one wake-up: a
                        # busy office commits hundreds of times a second, and each thread
                        # wake-up costs every workstation CPU for nothing new.
                        self._stop.wait(COALESCE_SECONDS)
            except Exception as exc:  # a lost connection, a server restart: listen again
                self.listening.clear()
                self.last_error = f"{type(exc).__name__}: {exc}"
                if self._stop.is_set():
                    break
                log.warning("change listener: %s (listening again)", self.last_error)
                self._drop()
                pause = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                failures += 1
                self._stop.wait(pause)
        self.listening.clear()

    def _listen(self) -> psycopg.Connection[Any]:
        with self._fairy_lock:
            if self._stop.is_set():
                raise RuntimeError("stopped")
            fairy = self._db.engine.raw_connection()
            self._fairy = fairy
        con = fairy.driver_connection
        assert isinstance(con, psycopg.Connection)
        con.rollback()
        con.autocommit = True
        for channel in self._channels:
            con.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        self.listening.set()
        return con

    def _wake(self) -> None:
        try:
            self._on_change()
        except Exception:  # a broken callback must not stop the wake-ups
            log.exception("change listener: on_change failed")

    def _drop(self) -> None:
        """Close the listening session (never back to the pool: it is LISTENing)."""
        with self._fairy_lock:
            fairy, self._fairy = self._fairy, None
        if fairy is not None:
            with suppress(Exception):
                fairy.invalidate()
            with suppress(Exception):
                fairy.close()


def start_change_listener(
    database: PostgresDatabase, on_change: Callable[[], None]
) -> ChangeListener:
    """A started :class:`ChangeListener` on ``database`` calling ``on_change``."""
    return ChangeListener(database, on_change).start()


__all__ = ["COALESCE_SECONDS", "POLL_SECONDS", "ChangeListener", "start_change_listener"]
