"""The log as the projector reads it from the SQLite file (implements ``EventFeed``).

A full rebuild scans the whole log from ONE read snapshot with a reader thread that has SQLite
build each chunk's columns as JSON texts (no GIL held) while the projector folds the previous one.
"""

from __future__ import annotations

import json
import logging
import operator
import queue
import sqlite3
import threading
from collections.abc import Generator, Iterator
from contextlib import contextmanager, suppress
from itertools import repeat
from typing import Any

from desktop_app.application.ports import (
    EventRecord,
)
from desktop_app.store.engine import Database

log = logging.getLogger("desktop_app.store.event_feed")

_READ_EVENTS = (
    "SELECT position, stream_id, version, type_name, schema_version, payload, recorded_at "
    "FROM events WHERE position > ? ORDER BY position LIMIT ?"
)
_SCAN_EVENTS = (
    "SELECT position, stream_id, version, type_name, schema_version, payload, recorded_at "
    "FROM events WHERE position > ? ORDER BY position"
)
_SCAN_HEAD = "SELECT max(position) FROM events"
# A full rebuild's scan, one position range per statement: each column as ONE JSON array text
# (the payloads are stored JSON, the other values quoted as JSON keeps their SQL types), built
# by SQLite in a single step that holds no GIL, so a reader thread prepares the next chunk
# while the projector folds this one. Rows are visited in rowid (= position) order.
_SCAN_CHUNK = (
    "SELECT '[' || group_concat(position) || ']', "
    "'[' || group_concat(json_quote(stream_id)) || ']', "
    "'[' || group_concat(json_quote(version)) || ']', "
    "'[' || group_concat(json_quote(type_name)) || ']', "
    "'[' || group_concat(json_quote(schema_version)) || ']', "
    "'[' || group_concat(payload) || ']', "
    "'[' || group_concat(json_quote(recorded_at)) || ']' "
    "FROM events WHERE position > ? AND position <= ?"
)


_new_tuple = tuple.__new__
_QUEUE_AHEAD = 2
"""Chunks the scan's reader thread may have ready ahead of the projector (bounded memory)."""


class _ChunkReader:
    """A full scan's reader thread: one :data:`_SCAN_CHUNK` statement per position range,
    results handed over through a bounded queue; decoding stays in the consuming thread.

    The connection is used by the thread only until it ends (the consumer waits for that
    before touching it again: a fallback scan, or the snapshot's end).
    """

    _END = object()

    def __init__(self, con: sqlite3.Connection, after: int, head: int, chunk: int) -> None:
        self._con = con
        self._after = after
        self._head = head
        self._chunk = chunk
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=_QUEUE_AHEAD)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        if after < head:
            self._thread = threading.Thread(target=self._run, name="rebuild-scan", daemon=True)
            self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stopping.is_set():
            try:
                self._queue.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def _run(self) -> None:
        con, low, head, chunk = self._con, self._after, self._head, self._chunk
        try:
            while low < head:
                high = min(low + chunk, head)
                try:
                    texts = con.execute(_SCAN_CHUNK, (low, high)).fetchone()
                except sqlite3.Error:  # e.g. a chunk too big for one string: row by row
                    log.debug("rebuild scan: reading from %s row by row", low, exc_info=True)
                    self._put((low, None))
                    return
                if texts is not None and texts[0] is not None and not self._put((low, texts)):
                    return
                low = high
            self._put(self._END)
        except BaseException as exc:  # handed to the consumer, which raises it
            self._put(exc)

    def stop(self) -> None:
        """End the thread (it may be blocked on a full queue) and wait for it."""
        self._stopping.set()
        thread = self._thread
        if thread is not None:
            while thread.is_alive():
                with suppress(queue.Empty):
                    self._queue.get_nowait()
                thread.join(0.05)
            self._thread = None

    def chunks(self) -> Generator[list[EventRecord], None, None]:
        if self._thread is None:
            return
        get = self._queue.get
        while True:
            item = get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            low, texts = item
            records = _decode_chunk(texts) if texts is not None else None
            if records is None:  # not decodable as one chunk: the plain scan from here
                self.stop()
                yield from _plain_chunks(self._con, low, self._chunk)
                return
            yield records


def _decode_chunk(texts: tuple[Any, ...]) -> list[EventRecord] | None:
    """A :data:`_SCAN_CHUNK` row as records; None when it does not decode to equal-length,
    position-ordered columns (then the chunk is read row by row)."""
    loads = json.loads
    try:
        columns = [loads(text) for text in texts]
    except (TypeError, ValueError):
        return None
    positions = columns[0]
    size = len(positions)
    if any(len(column) != size for column in columns) or not all(
        map(operator.lt, positions, positions[1:])
    ):
        return None
    # map() calls tuple.__new__ from C: about half the time of a list comprehension's call
    # per event (measured: 1M records 0.37 s -> 0.18 s).
    return list(map(_new_tuple, repeat(EventRecord), zip(*columns, strict=True)))


def _plain_chunks(con: sqlite3.Connection, after: int, chunk: int) -> Iterator[list[EventRecord]]:
    """The row-by-row scan (``fetchmany``, one ``json.loads`` per chunk of payloads)."""
    cursor = con.execute(_SCAN_EVENTS, (after,))
    cursor.arraysize = chunk
    fetch = cursor.fetchmany
    loads = json.loads
    new = _new_tuple
    record = EventRecord
    try:
        while True:
            rows = fetch()
            if not rows:
                return
            # One loads over the joined payloads: measured faster than one per row.
            payloads = loads("[" + ",".join([row[5] for row in rows]) + "]")
            yield [
                new(record, (pos, sid, ver, tname, sver, payload, rec))
                for (pos, sid, ver, tname, sver, _, rec), payload in zip(
                    rows, payloads, strict=True
                )
            ]
    finally:
        cursor.close()


class SqliteEventFeed:
    """Events of the Order Desk SQLite file, as the projector reads them."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # The projector's thread reads the log several times a run: on the connection the engine
    # holds for that thread (a pool checkout costs ~20 us, a run made five). Its page cache is
    # the event file's small default, not a read model's.

    def head_position(self) -> int:
        with self._db.raw() as con:
            row = con.execute("SELECT max(position) FROM events").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def read_events(self, *, after_position: int, limit: int) -> list[EventRecord]:
        with self._db.raw() as con:
            rows = con.execute(_READ_EVENTS, (after_position, limit)).fetchall()
        if not rows:
            return []
        # One json.loads for the whole batch: the per-call overhead dominates small payloads.
        payloads = json.loads("[" + ",".join([row[5] for row in rows]) + "]")
        make = EventRecord._make
        return [
            make((pos, sid, ver, tname, sver, payload, rec))
            for (pos, sid, ver, tname, sver, _, rec), payload in zip(rows, payloads, strict=True)
        ]

    @contextmanager
    def scan_events(
        self, *, after_position: int, chunk: int
    ) -> Iterator[Iterator[list[EventRecord]]]:
        """Every event after a position in lists of up to ``chunk``, from one read snapshot.

        The lean scan of a full rebuild: a reader thread has SQLite build each chunk's columns
        as JSON array texts (:data:`_SCAN_CHUNK`, no GIL held) while the caller works on the
        previous chunk; the caller's thread decodes them (one ``json.loads`` per column). If a
        chunk cannot be read that way (odd stored values), the rest is read row by row.
        """
        with self._db.raw_read(hold=False) as con:
            row = con.execute(_SCAN_HEAD).fetchone()  # starts the snapshot
            head = int(row[0]) if row and row[0] is not None else 0
            reader = _ChunkReader(con, after_position, head, max(1, chunk))
            chunks = reader.chunks()
            try:
                yield chunks
            finally:
                chunks.close()  # a fallback's cursor, if any, before the snapshot ends
                reader.stop()
