"""Anchors: the head of the hash chain kept OUTSIDE the database (R28).

The chain alone cannot show that events were cut off the end, or that a tail was rewritten
with freshly computed hashes: both leave a valid chain. An anchor is the head at one moment
(position, hash, event count, time, and what identifies the database) written where editing
the database file does not reach:

* the **anchor log**, an append-only file of JSON lines in the user's data folder
  (``anchors/anchors.jsonl``, 0600 in a 0700 folder), written on every backup, on a clean exit
  of the GUI, by a daily job, and on restore and repair;
* a **sidecar** beside every backup (``<backup>.anchor.json``): the head of that backup.

A database is identified by its path and by ``database_id``, the hash of its first event
(the same in the live file, its backups and a restored copy). The anchors of a file are those
taken at its path and its own sidecar: ``verify`` checks that the file still **extends** each
one: the event at the anchor's position still has the anchored hash (the hash chain, checked
separately, then guarantees everything up to the head); a head below it means events were cut
off the end. Anchors of the same ``database_id`` taken at another path (the file is a backup,
a moved file or a copy) are checked too but only reported as notes: a copy legitimately ends
earlier, or goes its own way after it was copied.

A ``restore`` record (and a ``created`` record, for a new database at a path that had one
before) supersedes the earlier anchors of that path that lie beyond its head: those events
were given up on purpose, and the record says when and from which backup. Anyone who can
edit the anchor log as well as the database defeats this (as with any record kept by the same
user); the sidecars beside the backups and a copy of the log elsewhere raise that bar.

Over 500 lines on purpose: writing, reading and checking anchors must agree on one format.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from desktop_app.identity import host_name, os_user
from desktop_app.store.private_files import make_private_folder

ANCHOR_FORMAT = "order-desk-anchor"
LOG_NAME = "anchors.jsonl"
SIDECAR_SUFFIX = ".anchor.json"
SUPERSEDING = frozenset({"restore", "created"})
"""Reasons whose record gives up the earlier anchors of its path that lie beyond its head."""

_TAIL_BYTES = 256 * 1024

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------- the head


@dataclass(frozen=True, kw_only=True, slots=True)
class Head:
    """The chain head of one database file, and its identity (hash of event 1)."""

    position: int
    hash: str
    event_count: int
    database_id: str | None


def read_head(con: sqlite3.Connection) -> Head:
    """The head of the file behind ``con`` (call inside a read transaction for one snapshot)."""
    row = con.execute("SELECT position, hash FROM events ORDER BY position DESC LIMIT 1").fetchone()
    count = int(con.execute("SELECT count(*) FROM events").fetchone()[0])
    first = con.execute("SELECT hash FROM events WHERE position = 1").fetchone()
    return Head(
        position=int(row[0]) if row else 0,
        hash=str(row[1]) if row else "0" * 64,
        event_count=count,
        database_id=str(first[0]) if first else None,
    )


# ---------------------------------------------------------------------------- records


@dataclass(frozen=True, kw_only=True, slots=True)
class Anchor:
    """One anchor as read back, with where it was read from."""

    reason: str
    db_path: str
    database_id: str | None
    head_position: int
    head_hash: str
    event_count: int
    taken_at: datetime
    user: str = ""
    host: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    source: Path = Path()
    line: int = 0

    @property
    def where(self) -> str:
        """``file:line`` of the log entry, or the sidecar file."""
        return f"{self.source}:{self.line}" if self.line else str(self.source)

    def describe(self) -> str:
        """Which anchor this is, for a report: time, position, why it was written, where."""
        when = self.taken_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return (
            f"the anchor of {when} (#{self.head_position:,}, written on {self.reason}) "
            f"in {self.where}"
        )


def anchor_record(
    head: Head,
    *,
    reason: str,
    db_path: Path,
    clock: Clock = _utc_now,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON object written for an anchor of ``head``."""
    record: dict[str, Any] = {
        "format": ANCHOR_FORMAT,
        "reason": reason,
        "db_path": str(Path(db_path).absolute()),
        "database_id": head.database_id,
        "head_position": head.position,
        "head_hash": head.hash,
        "event_count": head.event_count,
        "taken_at": clock().astimezone(UTC).isoformat(),
        "user": os_user(),
        "host": host_name(),
    }
    if extra:
        record["extra"] = dict(extra)
    return record


def _parse(data: object, source: Path, line: int) -> Anchor:
    if not isinstance(data, dict) or data.get("format") != ANCHOR_FORMAT:
        raise ValueError("not an Order Desk anchor")
    position, head_hash, count = data["head_position"], data["head_hash"], data["event_count"]
    database_id = data.get("database_id")
    if not (
        type(position) is int
        and type(count) is int
        and isinstance(head_hash, str)
        and (database_id is None or isinstance(database_id, str))
        and isinstance(data["db_path"], str)
        and isinstance(data["reason"], str)
    ):
        raise ValueError("wrong field types")
    taken_at = datetime.fromisoformat(data["taken_at"])
    if taken_at.tzinfo is None:
        taken_at = taken_at.replace(tzinfo=UTC)
    extra = data.get("extra")
    return Anchor(
        reason=data["reason"],
        db_path=data["db_path"],
        database_id=database_id,
        head_position=position,
        head_hash=head_hash,
        event_count=count,
        taken_at=taken_at,
        user=str(data.get("user", "")),
        host=str(data.get("host", "")),
        extra=extra if isinstance(extra, dict) else {},
        source=source,
        line=line,
    )


# ---------------------------------------------------------------------------- writing


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def append_anchor(log: Path, record: Mapping[str, Any]) -> None:
    """Append one record to the anchor log (0600 in a 0700 folder), fsynced.

    One ``write`` of one line on an ``O_APPEND`` descriptor: concurrent writers never
    interleave within a line; nothing earlier in the file is ever rewritten.
    """
    log = Path(log).absolute()
    make_private_folder(log.parent)
    line = (json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    created = not log.exists()
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        st = os.fstat(fd)
        if st.st_mode & 0o077 and st.st_uid == os.geteuid():
            os.fchmod(fd, 0o600)
        written = os.write(fd, line)
        if written != len(line):
            raise OSError(f"only {written} of {len(line)} bytes of the anchor were written")
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        _fsync_dir(log.parent)


def sidecar_path(backup: Path) -> Path:
    """The anchor file kept beside a backup."""
    return backup.with_name(backup.name + SIDECAR_SUFFIX)


def write_sidecar(backup: Path, record: Mapping[str, Any]) -> Path:
    """Write the anchor beside ``backup`` (0600, atomically: a temp file renamed into place)."""
    target = sidecar_path(Path(backup).absolute())
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    data = (json.dumps(record, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)
    return target


def anchor_now(
    con: sqlite3.Connection,
    *,
    db_path: Path,
    log: Path,
    reason: str,
    clock: Clock = _utc_now,
    extra: Mapping[str, Any] | None = None,
    if_empty: bool = False,
) -> dict[str, Any] | None:
    """Read the head through ``con`` and append its anchor to ``log``; returns the record.

    An empty log of events has nothing to anchor: None unless ``if_empty``.
    """
    began = not con.in_transaction
    if began:
        con.execute("BEGIN")
    try:
        head = read_head(con)
    finally:
        if began and con.in_transaction:
            con.execute("COMMIT")
    if head.position == 0 and not if_empty:
        return None
    record = anchor_record(head, reason=reason, db_path=db_path, clock=clock, extra=extra)
    append_anchor(log, record)
    return record


# ---------------------------------------------------------------------------- reading


def read_anchor_log(log: Path) -> tuple[list[Anchor], list[str]]:
    """Every anchor in ``log`` in file order, and a warning per unreadable line."""
    log = Path(log)
    try:
        text = log.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return [], []
    except OSError as exc:
        return [], [f"the anchor log {log} could not be read ({exc.strerror or exc})"]
    anchors: list[Anchor] = []
    warnings: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            anchors.append(_parse(json.loads(line), log, number))
        except (KeyError, TypeError, ValueError) as exc:
            warnings.append(f"{log}:{number} is not a readable anchor ({exc})")
    return anchors, warnings


def read_sidecar(backup: Path) -> tuple[Anchor | None, str | None]:
    """The anchor beside ``backup`` (None when there is none), and a warning if unreadable."""
    path = sidecar_path(Path(backup).absolute())
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError) as exc:
        return None, f"{path} is not a readable anchor ({exc})"
    try:
        return _parse(data, path, 0), None
    except (KeyError, TypeError, ValueError) as exc:
        return None, f"{path} is not a readable anchor ({exc})"


def last_anchor(log: Path, db_path: Path) -> Anchor | None:
    """The newest anchor of the database at ``db_path`` that anchors at least one event (read
    from the log's tail only)."""
    wanted = str(Path(db_path).absolute())
    try:
        with Path(log).open("rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - _TAIL_BYTES))
            tail = fh.read()
    except OSError:
        return None
    for line in reversed(tail.decode("utf-8", errors="replace").splitlines()):
        try:
            anchor = _parse(json.loads(line), Path(log), 0)
        except (KeyError, TypeError, ValueError):
            continue
        if anchor.db_path == wanted and anchor.head_position > 0:
            return anchor
    return None


# ---------------------------------------------------------------------------- checking


@dataclass(frozen=True, kw_only=True, slots=True)
class AnchorFailure:
    """An anchor the file no longer extends, and why."""

    anchor: Anchor
    problem: str

    @property
    def message(self) -> str:
        """One line naming the anchor (time, position, file) and what is wrong."""
        return f"{self.anchor.describe()}: {self.problem}"


@dataclass(frozen=True, kw_only=True, slots=True)
class AnchorReport:
    """The outcome of checking a file against the anchors that belong to it."""

    checked: tuple[Anchor, ...] = ()
    failures: tuple[AnchorFailure, ...] = ()
    superseded: tuple[Anchor, ...] = ()
    beyond: tuple[Anchor, ...] = ()
    """Anchors beyond this file's head that do not make it fail (taken of another copy, or of
    the target of a restore)."""
    diverged: tuple[AnchorFailure, ...] = ()
    """Anchors of the same database at another path that this file does not extend."""
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the file extends every anchor that belongs to it."""
        return not self.failures

    @property
    def last(self) -> Anchor | None:
        """The newest anchor checked."""
        return max(self.checked, key=lambda a: a.taken_at) if self.checked else None


@dataclass(frozen=True, slots=True)
class Candidate:
    """An anchor to check, and which findings make the check fail (the others are notes)."""

    anchor: Anchor
    fail_beyond: bool
    """Ending before the anchor is a failure (truncation), not an older copy."""
    fail_mismatch: bool
    """Another event at the anchor's position is a failure, not a diverged copy."""


def belonging(
    anchors: Iterable[Anchor], *, db_path: Path, database_id: str | None
) -> tuple[list[Candidate], list[Anchor]]:
    """The anchors to check for a file at ``db_path`` with ``database_id`` (those of this path
    are binding, those of the same database elsewhere give notes), and the ones superseded by
    a later ``restore``/``created`` record of this path."""
    path = str(Path(db_path).absolute())
    kept: list[Candidate] = []
    superseded: list[Anchor] = []
    for anchor in anchors:
        same_path = anchor.db_path == path
        if anchor.reason in SUPERSEDING and same_path:
            still: list[Candidate] = []
            for earlier in kept:
                if (
                    earlier.anchor.db_path == path
                    and earlier.anchor.head_position > anchor.head_position
                ):
                    superseded.append(earlier.anchor)
                else:
                    still.append(earlier)
            kept = still
        if same_path or (database_id is not None and anchor.database_id == database_id):
            kept.append(Candidate(anchor, same_path, same_path))
    return kept, superseded


def check_against(
    con: sqlite3.Connection, head: Head, candidates: Iterable[Candidate]
) -> tuple[list[Anchor], list[AnchorFailure], list[Anchor], list[AnchorFailure]]:
    """Does the file behind ``con`` (whose head is ``head``) extend each anchor?

    Returns (checked, failures, beyond, diverged). The chain between the anchor and the head
    is the hash chain's business (checked by ``verify``); this checks the anchored event.
    """
    checked: list[Anchor] = []
    failures: list[AnchorFailure] = []
    beyond: list[Anchor] = []
    diverged: list[AnchorFailure] = []
    for candidate in candidates:
        anchor = candidate.anchor
        position = anchor.head_position
        if position > head.position:
            if not candidate.fail_beyond:
                beyond.append(anchor)
                continue
            checked.append(anchor)
            failures.append(
                AnchorFailure(
                    anchor=anchor,
                    problem=(
                        f"the log now ends at #{head.position:,}, before the anchored "
                        f"#{position:,}: events were removed from the end"
                    ),
                )
            )
            continue
        if position == 0:
            continue  # a record of an empty log (``created``): nothing to extend
        row = con.execute("SELECT hash FROM events WHERE position = ?", (position,)).fetchone()
        stored = None if row is None else row[0]
        if stored is None:
            problem = f"event #{position:,} is gone: events were removed"
        elif stored != anchor.head_hash:
            problem = (
                f"event #{position:,} is not the anchored one (hash {str(stored)[:12]}… where "
                f"{anchor.head_hash[:12]}… was anchored): the log was rewritten"
            )
        else:
            if candidate.fail_mismatch:
                checked.append(anchor)
            continue
        if candidate.fail_mismatch:
            checked.append(anchor)
            failures.append(AnchorFailure(anchor=anchor, problem=problem))
        else:
            diverged.append(AnchorFailure(anchor=anchor, problem=problem))
    return checked, failures, beyond, diverged


def check_file(
    con: sqlite3.Connection,
    *,
    db_path: Path,
    log: Path | None,
    sidecar_of: Path | None = None,
    log_strict: bool = True,
) -> AnchorReport:
    """Check the file behind ``con`` against the anchors of ``db_path`` in ``log`` and the
    sidecar beside ``sidecar_of`` (a backup being checked).

    ``log_strict=False`` (a backup about to be restored over ``db_path``): anchors of that
    path beyond the file's head are noted in ``beyond``, not failures (the restore supersedes
    them), but every anchor at or below its head must still hold.
    """
    began = not con.in_transaction
    if began:
        con.execute("BEGIN")
    try:
        head = read_head(con)
        warnings: list[str] = []
        log_anchors: list[Anchor] = []
        if log is not None:
            log_anchors, warnings = read_anchor_log(log)
        candidates, superseded = belonging(
            log_anchors, db_path=db_path, database_id=head.database_id
        )
        if not log_strict:
            candidates = [Candidate(c.anchor, False, c.fail_mismatch) for c in candidates]
        if sidecar_of is not None:
            sidecar, warning = read_sidecar(sidecar_of)
            if warning is not None:
                warnings.append(warning)
            if sidecar is not None:
                candidates.append(Candidate(sidecar, True, True))
        checked, failures, beyond, diverged = check_against(con, head, candidates)
    finally:
        if began and con.in_transaction:
            con.execute("COMMIT")
    return AnchorReport(
        checked=tuple(checked),
        failures=tuple(failures),
        superseded=tuple(superseded),
        beyond=tuple(beyond),
        diverged=tuple(diverged),
        warnings=tuple(warnings),
    )


__all__ = [
    "ANCHOR_FORMAT",
    "LOG_NAME",
    "SIDECAR_SUFFIX",
    "Anchor",
    "AnchorFailure",
    "AnchorReport",
    "Candidate",
    "Head",
    "anchor_now",
    "anchor_record",
    "append_anchor",
    "belonging",
    "check_against",
    "check_file",
    "last_anchor",
    "read_anchor_log",
    "read_head",
    "read_sidecar",
    "sidecar_path",
    "write_sidecar",
]
