"""Housekeeping on the open database: WAL checkpoints, file sizes, streams due a snapshot,
anchors of the chain head. Store-level operations only: the background jobs that call them
are wired in :mod:`desktop_app.jobs`.

Every call takes a pooled connection for one statement (autocommit) and gives it back, so
nothing here leaves a read transaction open (R9).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from desktop_app.application.ports import StoreError
from desktop_app.store.anchors import anchor_now
from desktop_app.store.engine import Database, store_errors

log = logging.getLogger("desktop_app.jobs")

CheckpointMode = Literal["PASSIVE", "FULL", "RESTART", "TRUNCATE"]

TRUNCATE_BUSY_TIMEOUT_MS = 200
"""How long a TRUNCATE checkpoint may wait for readers/writers: it blocks new writers while
it waits, so it must give up quickly and let the next idle moment try again."""


@dataclass(frozen=True, kw_only=True, slots=True)
class CheckpointResult:
    """``PRAGMA wal_checkpoint`` output: ``busy`` 1 when it could not finish, the WAL's frame
    count and how many frames are now in the database file; plus the WAL size afterwards."""

    mode: CheckpointMode
    busy: int
    log_frames: int
    checkpointed_frames: int
    wal_bytes: int

    @property
    def complete(self) -> bool:
        """Every frame of the WAL is in the database file."""
        return self.busy == 0 and self.log_frames == self.checkpointed_frames


@dataclass(frozen=True, kw_only=True, slots=True)
class FileSizes:
    """Sizes of the database file and its WAL, in bytes."""

    db_bytes: int
    wal_bytes: int


def wal_path(db_path: Path) -> Path:
    """The WAL file beside a database."""
    return db_path.with_name(db_path.name + "-wal")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def file_sizes(db_path: Path) -> FileSizes:
    """Sizes of the database and its WAL (0 for a missing file)."""
    return FileSizes(db_bytes=_size(db_path), wal_bytes=_size(wal_path(db_path)))


def checkpoint(database: Database, mode: CheckpointMode = "PASSIVE") -> CheckpointResult | None:
    """Run ``PRAGMA wal_checkpoint(mode)`` and report it (None for a read-only database).

    TRUNCATE waits at most ``TRUNCATE_BUSY_TIMEOUT_MS`` for other connections.
    """
    if database.read_only:
        return None
    with store_errors(), database.raw() as con:
        short = mode in ("FULL", "RESTART", "TRUNCATE")
        if short:
            con.execute(f"PRAGMA busy_timeout = {TRUNCATE_BUSY_TIMEOUT_MS}")
        try:
            row = con.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        finally:
            if short:
                con.execute(f"PRAGMA busy_timeout = {int(database.busy_timeout_ms)}")
    return CheckpointResult(
        mode=mode,
        busy=int(row[0]),
        log_frames=int(row[1]),
        checkpointed_frames=int(row[2]),
        wal_bytes=_size(wal_path(database.path)),
    )


def idle_checkpoint(database: Database) -> CheckpointResult | None:
    """PASSIVE first (never blocks anyone); when that got everything, TRUNCATE the WAL to zero
    bytes. A busy TRUNCATE is not an error: the next idle moment tries again."""
    if database.read_only:
        return None
    passive = checkpoint(database, "PASSIVE")
    if passive is None or not passive.complete:
        return passive
    try:
        return checkpoint(database, "TRUNCATE")
    except StoreError as exc:  # busy: another connection is mid-transaction; try later
        log.info("idle WAL truncation postponed: %s", exc)
        return passive


@dataclass(frozen=True, kw_only=True, slots=True)
class StreamLag:
    """A stream whose newest snapshot is ``version - snapshot_version`` events behind."""

    stream_id: str
    version: int
    snapshot_version: int


_STREAMS_BEHIND = """
SELECT e.stream_id, e.v, coalesce(s.v, 0) FROM
  (SELECT stream_id, max(version) AS v FROM events
   WHERE stream_id >= ?1 AND stream_id < ?2 GROUP BY stream_id) AS e
  LEFT JOIN (SELECT stream_id, max(version) AS v FROM snapshots
   WHERE stream_id >= ?1 AND stream_id < ?2 GROUP BY stream_id) AS s
  ON s.stream_id = e.stream_id
WHERE e.v - coalesce(s.v, 0) >= ?3
ORDER BY e.v - coalesce(s.v, 0) DESC
LIMIT ?4
"""


def streams_behind_snapshot(
    database: Database, prefix: str, interval: int, *, limit: int = 100
) -> list[StreamLag]:
    """Streams starting with ``prefix`` whose newest snapshot is ``interval`` or more events
    behind the stream (longest gap first; at most ``limit``)."""
    if interval <= 0 or limit <= 0:
        return []
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else "\U0010ffff"
    with store_errors(), database.raw() as con:
        rows = con.execute(_STREAMS_BEHIND, (prefix, upper, interval, limit)).fetchall()
    return [
        StreamLag(stream_id=str(r[0]), version=int(r[1]), snapshot_version=int(r[2])) for r in rows
    ]


def write_anchor(database: Database, anchor_log: Path, reason: str) -> str:
    """Append the chain head of ``database`` to the anchor log (R28); a short description.

    Reading only: also done for a database open read-only (the log is outside it).
    """
    with store_errors(), database.raw() as con:
        record = anchor_now(con, db_path=database.path, log=anchor_log, reason=reason)
    if record is None:
        return "nothing to anchor (no events yet)"
    log.info("anchor (%s) written to %s", reason, anchor_log)
    return f"#{record['head_position']} {record['head_hash'][:12]}… in {anchor_log}"


__all__ = [
    "CheckpointResult",
    "FileSizes",
    "StreamLag",
    "checkpoint",
    "file_sizes",
    "idle_checkpoint",
    "streams_behind_snapshot",
    "wal_path",
    "write_anchor",
]
