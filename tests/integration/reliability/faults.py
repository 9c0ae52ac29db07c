"""Fault injection at the sqlite3 driver boundary (not one of our ports).

``install(monkeypatch)`` makes every connection ``desktop_app.store.engine`` opens a
:class:`FaultyConnection`. Once armed, each ``execute``/``executemany``/``commit``/``rollback``
on any of them counts as one operation, and the Nth misbehaves:

``io-once``   the Nth operation raises ``disk I/O error`` instead of running;
``io-sticky`` the Nth and every later one raise (the disk stays broken until disarmed);
``io-after``  the Nth runs, then raises (it reached the disk; the reply was lost);
``full``      from the Nth on the disk is really full: ``PRAGMA max_page_count`` is set to the
              current page count on every open connection, so SQLite itself fails with
              SQLITE_FULL as soon as the file would have to grow. Disarming gives space back.
"""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import Iterable
from typing import Any, Literal

import pytest

from desktop_app.store import engine as engine_mod

Mode = Literal["io-once", "io-sticky", "io-after", "full"]
MODES: tuple[Mode, ...] = ("io-once", "io-sticky", "io-after", "full")

PLENTY_OF_PAGES = 1_073_741_823


class Faults:
    """What to break, and what was seen; one instance per test."""

    def __init__(self) -> None:
        self.armed = False
        self.mode: Mode = "io-once"
        self.fail_at = 0
        self.count = 0
        self.fired = False
        self.full = False
        self.reply_lost = False
        self.connections: weakref.WeakSet[FaultyConnection] = weakref.WeakSet()
        self.ops: list[str] = []

    def arm(self, fail_at: int, mode: Mode) -> None:
        self.armed, self.mode, self.fail_at = True, mode, fail_at
        self.count, self.fired, self.full, self.reply_lost = 0, False, False, False
        self.ops = []

    def disarm(self) -> None:
        """Stop failing; the disk has space again."""
        self.armed = False
        if self.full:
            self.full = False
            for con in list(self.connections):
                con.set_page_limit(PLENTY_OF_PAGES)

    def _fill_disk(self) -> None:
        self.full = True
        for con in list(self.connections):
            con.set_page_limit(None)

    def before(self, what: str) -> None:
        """Called before each operation; raises when this one must fail up front."""
        if not self.armed:
            return
        self.count += 1
        self.ops.append(what)
        if self.mode == "io-sticky" and self.fired:
            raise sqlite3.OperationalError("disk I/O error")
        if self.count != self.fail_at:
            return
        self.fired = True
        if self.mode in ("io-once", "io-sticky"):
            raise sqlite3.OperationalError("disk I/O error")
        if self.mode == "full":
            self._fill_disk()

    def after(self) -> None:
        """Called after each operation that ran; raises when the reply must be lost."""
        if (
            self.armed
            and self.mode == "io-after"
            and self.count == self.fail_at
            and not self.reply_lost
        ):
            self.reply_lost = True
            raise sqlite3.OperationalError("disk I/O error")


CURRENT = Faults()


class FaultyConnection(sqlite3.Connection):
    """A real sqlite3 connection whose operations pass through ``CURRENT``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        CURRENT.connections.add(self)
        if CURRENT.full:
            self.set_page_limit(None)

    def set_page_limit(self, pages: int | None) -> None:
        """``max_page_count`` to ``pages`` (None: the file's current size: the disk is full)."""
        try:
            if pages is None:
                pages = int(super().execute("PRAGMA page_count").fetchone()[0])
            super().execute(f"PRAGMA max_page_count = {pages}").fetchall()
        except sqlite3.ProgrammingError:
            pass  # closed already

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        CURRENT.before(sql.split(None, 1)[0] if sql.strip() else sql)
        return self._after(super().execute(sql, parameters))

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> sqlite3.Cursor:
        CURRENT.before("executemany " + sql.split(None, 1)[0])
        return self._after(super().executemany(sql, parameters))

    @staticmethod
    def _after(cursor: sqlite3.Cursor) -> sqlite3.Cursor:
        try:
            CURRENT.after()
        except sqlite3.Error:
            # A real error resets the statement; an open cursor would stay "in progress".
            cursor.close()
            raise
        return cursor

    def commit(self) -> None:
        CURRENT.before("commit()")
        super().commit()
        CURRENT.after()

    def rollback(self) -> None:
        CURRENT.before("rollback()")
        super().rollback()
        CURRENT.after()


class _Driver:
    """Stands in for the ``sqlite3`` module inside ``engine.py``: same module, but every
    connection is a :class:`FaultyConnection`."""

    def connect(self, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        kwargs.setdefault("factory", FaultyConnection)
        con: sqlite3.Connection = sqlite3.connect(*args, **kwargs)
        return con

    def __getattr__(self, name: str) -> Any:
        return getattr(sqlite3, name)


def install(monkeypatch: pytest.MonkeyPatch) -> Faults:
    """Route the store's connections through the fault injector; returns a fresh ``Faults``."""
    global CURRENT
    CURRENT = Faults()
    monkeypatch.setattr(engine_mod, "sqlite3", _Driver())
    return CURRENT
