"""Online backups of the Order Desk database, retention, and restore (R25).

A backup is taken with SQLite's online backup API from a read-only connection in one step,
so it is one consistent snapshot even while other connections or processes keep writing (in
WAL mode writers are not blocked). It goes into a hidden temporary file in the backup folder,
is switched to a self-contained rollback journal (no ``-wal`` beside it), checked with
``PRAGMA integrity_check``, fsynced, renamed atomically to ``orders-YYYYMMDD-HHMMSS.sqlite3``
(UTC) and the folder is fsynced. Files are 0600, the folder 0700. The live file is never
copied with ordinary file copying.

Retention deletes only files whose names this module gives (``orders-<stamp>.sqlite3``),
oldest first, keeping the newest N; nothing else in the folder is touched.

Every backup gets its anchor (R28): the head of the backup written beside it
(``<backup>.anchor.json``) and, when an anchor log is given, appended to that log.

Restore refuses a backup that would weaken the live file (R29): its application id, schema
version, append-only triggers (exact definitions), ``integrity_check``, hash chain and anchors
(its own sidecar, and every anchor of the target at or below the backup's head) must all hold,
and the refusal names the one that does not; then nothing has changed. Otherwise it copies the
backup beside the target with the backup API, and moves the replaced database aside as
``<name>.before-restore-<stamp>`` (never deleted). A target that another connection has open is
refused: the target is checkpointed and switched out of WAL mode first, which SQLite only
allows to the sole connection on the file (so an open app window, projector or CLI makes the
restore fail with :class:`DatabaseInUseError`). A program that opens the file in the few
milliseconds between that check and the rename is not caught.

Over 500 lines on purpose: backup, retention and restore share the refusal rules (R25, R29).
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from desktop_app.application.ports import StoreError, VerifyResult
from desktop_app.store import anchors
from desktop_app.store.hashing import ChainVerifier, Row
from desktop_app.store.read_model_file import remove_read_model_files
from desktop_app.store.records import verify_result
from desktop_app.store.schema import APPLICATION_ID, SCHEMA_VERSION
from desktop_app.store.triggers import trigger_problem

BACKUP_PREFIX = "orders-"
BACKUP_SUFFIX = ".sqlite3"
_NAME = re.compile(r"^orders-(\d{8})-(\d{6})(?:-(\d{1,4}))?\.sqlite3$")
_TEMP_PREFIX = ".orders-backup-"
_TEMP_SUFFIX = ".tmp"
STALE_TEMP_SECONDS = 3600.0
"""A leftover temporary file (a crash mid-backup) older than this is removed by the next run."""

Clock = Callable[[], datetime]


class BackupError(StoreError):
    """A backup or restore could not be done; the message says why in plain words."""


class DatabaseInUseError(BackupError):
    """The restore target is open in another program (or another connection)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class BackupInfo:
    """One backup file: where it is, when it was taken (UTC, from its name) and its size."""

    path: Path
    taken_at: datetime
    size_bytes: int
    sequence: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class BackupCheck:
    """Outcome of checking a backup file: its stamps and append-only triggers, SQLite
    integrity, the hash chain and the anchors that belong to it."""

    path: Path
    integrity: str
    chain: VerifyResult | None
    stamps: str | None = None
    """What is wrong with the application id or schema version (None when they hold)."""
    triggers: str | None = None
    """What is wrong with the append-only triggers (None when exact)."""
    anchors: anchors.AnchorReport | None = None

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return self.problem is None

    @property
    def problem(self) -> str | None:
        """What is wrong, in words (None when ok): the first failing check, in the order
        application id and schema version, triggers, integrity, chain, anchors."""
        if self.stamps is not None:
            return self.stamps
        if self.triggers is not None:
            return self.triggers
        if self.integrity != "ok":
            return f"integrity check failed: {self.integrity}"
        if self.chain is None:
            return "the hash chain could not be checked"
        if not self.chain.ok:
            return (
                f"the audit hash chain is broken at position {self.chain.first_bad_position}: "
                f"{self.chain.problem}"
            )
        if self.anchors is not None and not self.anchors.ok:
            return "it does not extend its anchors: " + "; ".join(
                failure.message for failure in self.anchors.failures
            )
        return None


@dataclass(frozen=True, kw_only=True, slots=True)
class RestoreResult:
    """What a restore did: the new database and where the replaced file was kept."""

    target: Path
    backup: Path
    previous: Path | None
    check: BackupCheck


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%d-%H%M%S")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_private_folder(folder: Path) -> Path:
    """Create ``folder`` 0700 (parents too) or tighten an existing one we own to 0700."""
    folder = folder.absolute()
    if not folder.exists():
        folder.mkdir(mode=0o700, parents=True)
    st = folder.stat()
    if st.st_mode & 0o077 and st.st_uid == os.geteuid():
        os.chmod(folder, 0o700)
    return folder


def _private_temp(folder: Path) -> Path:
    """A new empty 0600 file in ``folder`` with a name retention never matches."""
    for attempt in range(1000):
        path = folder / f"{_TEMP_PREFIX}{os.getpid()}-{time.time_ns()}-{attempt}{_TEMP_SUFFIX}"
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            continue
        try:
            os.fchmod(fd, 0o600)  # the umask may have filtered the mode
        finally:
            os.close(fd)
        return path
    raise BackupError(f"could not create a temporary file in {folder}")


def _remove_db_files(path: Path) -> None:
    for p in (path, path.with_name(path.name + "-journal"), path.with_name(path.name + "-wal")):
        with suppress(FileNotFoundError):
            p.unlink()
    with suppress(FileNotFoundError):
        path.with_name(path.name + "-shm").unlink()


def _lock_free(path: Path) -> bool:
    """True when a read-only connection must read ``path`` without SQLite's shared memory.

    In WAL mode a reader needs the -shm file beside the database; with no -wal there (no
    writer has it open) and a folder this account cannot write (a read-only database, another
    account's file), SQLite cannot create it and refuses with "attempt to write a readonly
    database". The file is then read as an immutable snapshot (``immutable=1``), as the
    engine's read-only opens do; :func:`create_backup` checks it did not change meanwhile.
    """
    return not path.with_name(path.name + "-wal").exists() and not os.access(path.parent, os.W_OK)


def _ro_uri(path: Path) -> str:
    uri = path.absolute().as_uri() + "?mode=ro"
    return uri + "&immutable=1" if _lock_free(path) else uri


def _file_state(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_ino, st.st_size, st.st_mtime_ns


def _copy_with_backup_api(source_uri: str, target: Path, busy_timeout_ms: int) -> None:
    """One-step online backup of ``source_uri`` into ``target`` (an existing empty file), then
    make ``target`` a self-contained rollback-journal database and fsync it."""
    src = sqlite3.connect(
        source_uri, uri=True, isolation_level=None, timeout=busy_timeout_ms / 1000
    )
    try:
        src.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        dst = sqlite3.connect(target, isolation_level=None)
        try:
            # pages=-1: the whole file in one step inside one read transaction, so writers in
            # other processes can neither make it restart nor see a half-copied snapshot.
            src.backup(dst, pages=-1)
            mode = str(dst.execute("PRAGMA journal_mode = DELETE").fetchone()[0]).lower()
            if mode != "delete":
                raise BackupError(f"the backup could not be made self-contained ({mode})")
            dst.execute("PRAGMA synchronous = FULL")
        finally:
            dst.close()
    finally:
        src.close()
    _fsync_file(target)


def _switch_to_wal(path: Path) -> None:
    """Put a private copy (nobody else has it open) into WAL mode, as the live file must be:
    a restored file left in rollback mode could not be opened read-only by a program that
    expects WAL, and the first writable open would have to switch it (R32). Closing the only
    connection folds the -wal back in and removes it; only the header's mode bytes remain."""
    with closing(sqlite3.connect(path, isolation_level=None)) as con:
        mode = str(con.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
        if mode != "wal":
            raise BackupError(f"the restored copy could not be switched to WAL mode ({mode})")
    _fsync_file(path)


def integrity(path: Path) -> str:
    """``PRAGMA integrity_check`` of a closed database file ("ok" when sound), read-only."""
    try:
        with closing(sqlite3.connect(_ro_uri(path), uri=True, isolation_level=None)) as con:
            rows = con.execute("PRAGMA integrity_check").fetchall()
            app_id = int(con.execute("PRAGMA application_id").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        return f"not a readable database ({exc})"
    text = "; ".join(str(r[0]) for r in rows[:5])
    if text != "ok":
        return text
    if app_id != APPLICATION_ID:
        return "not an Order Desk database (foreign application id)"
    return "ok"


_CHAIN_SQL = (
    "SELECT position, stream_id, version, event_id, type_name, schema_version, "
    "payload, metadata, recorded_at, prev_hash, hash FROM events "
    "WHERE position > ? ORDER BY position LIMIT ?"
)


def verify_chain(path: Path, *, batch: int = 20_000) -> VerifyResult:
    """The app's hash-chain verification (the stores' shared ``ChainVerifier``) of a closed
    database file, read through one read-only snapshot."""
    with closing(sqlite3.connect(_ro_uri(path), uri=True, isolation_level=None)) as con:
        verifier = ChainVerifier()
        con.execute("BEGIN")
        try:
            after = 0
            while True:
                rows: list[Row] = con.execute(_CHAIN_SQL, (after, batch)).fetchall()
                if not rows or not verifier.feed(rows):
                    break
                after = rows[-1][0]
        finally:
            con.execute("COMMIT")
    return verify_result(verifier)


def _stamps_and_triggers(path: Path) -> tuple[str | None, str | None]:
    """(stamp problem, trigger problem) of a closed database file, read-only."""
    try:
        with closing(sqlite3.connect(_ro_uri(path), uri=True, isolation_level=None)) as con:
            app_id = int(con.execute("PRAGMA application_id").fetchone()[0])
            version = int(con.execute("PRAGMA user_version").fetchone()[0])
            if app_id != APPLICATION_ID:
                return (
                    f"its application id is {app_id:#x}, not Order Desk's {APPLICATION_ID:#x} "
                    "(it is not an Order Desk database)",
                    None,
                )
            if version < 1 or version > SCHEMA_VERSION:
                return (
                    f"its schema version is {version}; this program can restore versions 1 "
                    f"to {SCHEMA_VERSION}",
                    None,
                )
            return None, trigger_problem(con)
    except sqlite3.DatabaseError as exc:
        return f"integrity check failed: it is not a readable database ({exc})", None


def check_anchors(
    path: Path, *, target: Path | None = None, anchor_log: Path | None = None
) -> anchors.AnchorReport:
    """Does the database file at ``path`` extend its own sidecar anchor and (when restoring)
    every anchor of ``target`` in ``anchor_log`` at or below its head?"""
    with closing(sqlite3.connect(_ro_uri(path), uri=True, isolation_level=None)) as con:
        return anchors.check_file(
            con,
            db_path=target or path,
            log=anchor_log,
            sidecar_of=path,
            log_strict=target is None,
        )


def check_backup(
    path: Path, *, target: Path | None = None, anchor_log: Path | None = None
) -> BackupCheck:
    """Every check restore makes, in order, stopping at the first that fails: application id
    and schema version, append-only triggers, integrity, hash chain, anchors (the sidecar
    beside the backup, and with ``target`` and ``anchor_log`` the anchors of ``target``)."""
    path = Path(path).absolute()
    if not path.is_file():
        raise BackupError(f"there is no backup file at {path}")
    stamps, triggers = _stamps_and_triggers(path)
    if stamps is not None or triggers is not None:
        return BackupCheck(
            path=path, integrity="not checked", chain=None, stamps=stamps, triggers=triggers
        )
    result = integrity(path)
    chain: VerifyResult | None = None
    report: anchors.AnchorReport | None = None
    if result == "ok":
        try:
            chain = verify_chain(path)
            if chain.ok:
                report = check_anchors(path, target=target, anchor_log=anchor_log)
        except sqlite3.DatabaseError as exc:
            result = f"the events could not be read ({exc})"
    return BackupCheck(path=path, integrity=result, chain=chain, anchors=report)


# --------------------------------------------------------------------------- listing


def parse_backup_name(name: str) -> tuple[datetime, int] | None:
    """(time taken, sequence) for a name this module gives, else None."""
    match = _NAME.match(name)
    if match is None:
        return None
    try:
        when = datetime.strptime(match[1] + match[2], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return when, int(match[3] or 0)


def list_backups(folder: Path) -> list[BackupInfo]:
    """Backups in ``folder``, newest first (a missing folder has none)."""
    folder = Path(folder)
    found: list[BackupInfo] = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    for entry in entries:
        parsed = parse_backup_name(entry.name)
        if parsed is None or not entry.is_file(follow_symlinks=False):
            continue
        found.append(
            BackupInfo(
                path=Path(entry.path),
                taken_at=parsed[0],
                size_bytes=entry.stat(follow_symlinks=False).st_size,
                sequence=parsed[1],
            )
        )
    found.sort(key=lambda b: (b.taken_at, b.sequence), reverse=True)
    return found


def prune_backups(folder: Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest backups (only backup files); returns the deleted."""
    if keep < 1:
        raise BackupError("at least one backup must be kept")
    deleted: list[Path] = []
    for info in list_backups(folder)[keep:]:
        with suppress(FileNotFoundError):
            info.path.unlink()
            deleted.append(info.path)
        with suppress(FileNotFoundError):
            anchors.sidecar_path(info.path).unlink()
    _remove_stale_temps(Path(folder))
    if deleted:
        _fsync_dir(Path(folder))
    return deleted


def _remove_stale_temps(folder: Path) -> None:
    cutoff = time.time() - STALE_TEMP_SECONDS
    with suppress(FileNotFoundError):
        for entry in os.scandir(folder):
            name = entry.name
            if not (name.startswith(_TEMP_PREFIX) and _TEMP_SUFFIX in name):
                continue
            with suppress(OSError):
                if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(entry.path)


def _final_name(folder: Path, when: datetime) -> Path:
    """``orders-<stamp>.sqlite3``; within one second ``-2``, ``-3``… after the highest sequence
    already there, so names always sort in the order the backups were taken."""
    stamp = _stamp(when)
    base = f"{BACKUP_PREFIX}{stamp}"
    same_second = [b.sequence for b in list_backups(folder) if _stamp(b.taken_at) == stamp]
    if not same_second:
        return folder / f"{base}{BACKUP_SUFFIX}"
    return folder / f"{base}-{max(max(same_second), 1) + 1}{BACKUP_SUFFIX}"


# --------------------------------------------------------------------------- backup


def create_backup(
    db_path: Path,
    folder: Path,
    *,
    keep: int | None = None,
    clock: Clock = _utc_now,
    busy_timeout_ms: int = 5000,
    anchor_log: Path | None = None,
) -> BackupInfo:
    """Take an online backup of the database at ``db_path`` into ``folder``.

    Safe while this or other processes write. With ``keep``, older backups beyond the newest
    ``keep`` are deleted afterwards. The backup's head is anchored beside it and, with
    ``anchor_log``, in that log (R28). Raises :class:`BackupError` with a plain message.
    """
    db_path = Path(db_path).absolute()
    if not db_path.is_file():
        raise BackupError(f"there is no database at {db_path}")
    try:
        folder = ensure_private_folder(Path(folder))
    except OSError as exc:
        raise BackupError(
            f"the backup folder {folder} could not be created ({exc.strerror})"
        ) from exc
    temp: Path | None = None
    try:
        temp = _private_temp(folder)
        source = _ro_uri(db_path)
        before = _file_state(db_path)
        _copy_with_backup_api(source, temp, busy_timeout_ms)
        if "immutable=1" in source and (
            _file_state(db_path) != before or _lock_free(db_path) is False
        ):
            # Read without locks: a writer that came meanwhile may have torn the copy.
            raise BackupError(
                f"{db_path} was changed by another program while it was copied; try again"
            )
        result = integrity(temp)
        if result != "ok":
            raise BackupError(f"the new backup failed its integrity check ({result})")
        when = clock()
        final = _final_name(folder, when)
        os.replace(temp, final)
        temp = None
        _fsync_dir(folder)
    except sqlite3.Error as exc:
        raise BackupError(f"the backup of {db_path} failed ({exc})") from exc
    except OSError as exc:
        raise BackupError(
            f"the backup could not be written to {folder} ({exc.strerror or exc})"
        ) from exc
    finally:
        if temp is not None:
            _remove_db_files(temp)
    parsed = parse_backup_name(final.name)
    assert parsed is not None
    _anchor_backup(final, db_path, anchor_log, clock)
    info = BackupInfo(
        path=final, taken_at=parsed[0], size_bytes=final.stat().st_size, sequence=parsed[1]
    )
    if keep is not None:
        prune_backups(folder, keep)
    return info


def _anchor_backup(backup: Path, db_path: Path, anchor_log: Path | None, clock: Clock) -> None:
    """The backup's head: beside it, and in the anchor log as an anchor of the live file (the
    live file extends every backup taken of it)."""
    try:
        with closing(sqlite3.connect(_ro_uri(backup), uri=True, isolation_level=None)) as con:
            con.execute("BEGIN")
            head = anchors.read_head(con)
            con.execute("COMMIT")
        record = anchors.anchor_record(
            head, reason="backup", db_path=db_path, clock=clock, extra={"backup": str(backup)}
        )
        anchors.write_sidecar(backup, record)
        if anchor_log is not None:
            anchors.append_anchor(anchor_log, record)
    except (OSError, sqlite3.Error) as exc:
        raise BackupError(
            f"the backup {backup} was written but its anchor could not be saved ({exc})"
        ) from exc


def newest_backup(folder: Path) -> BackupInfo | None:
    """The most recent backup in ``folder``, if any."""
    backups = list_backups(folder)
    return backups[0] if backups else None


# --------------------------------------------------------------------------- restore


def _quiesce_target(target: Path) -> None:
    """Fold the target's WAL into it and leave WAL mode; refused while anyone has it open."""
    try:
        con = sqlite3.connect(target.as_uri() + "?mode=rw", uri=True, isolation_level=None)
    except sqlite3.Error:
        return  # unreadable: it is moved aside untouched with its side files
    try:
        con.execute("PRAGMA busy_timeout = 0")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        mode = str(con.execute("PRAGMA journal_mode = DELETE").fetchone()[0]).lower()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise DatabaseInUseError(
                f"{target} is open in another program (Order Desk window, projector or CLI); "
                "close it and try again"
            ) from exc
        return  # damaged: moved aside as it is
    except sqlite3.DatabaseError:
        return
    finally:
        con.close()
    if mode != "delete":
        raise DatabaseInUseError(f"{target} is in use by another program; close it and try again")


def _move_aside(target: Path, stamp: str) -> Path:
    kept = target.with_name(f"{target.name}.before-restore-{stamp}")
    n = 1
    while kept.exists():
        n += 1
        kept = target.with_name(f"{target.name}.before-restore-{stamp}-{n}")
    for suffix in ("-wal", "-journal", "-shm"):
        side = target.with_name(target.name + suffix)
        if side.exists():
            os.replace(side, kept.with_name(kept.name + suffix))
    os.replace(target, kept)
    return kept


def restore(
    backup: Path,
    target: Path,
    *,
    clock: Clock = _utc_now,
    anchor_log: Path | None = None,
) -> RestoreResult:
    """Put ``backup`` in place of the database at ``target`` after verifying it.

    The replaced file (if any) is kept as ``<target>.before-restore-<stamp>``; the read
    model's file beside it is deleted (the next open rebuilds it from the restored log). Raises
    :class:`BackupError` when the backup fails its checks (nothing changed) and
    :class:`DatabaseInUseError` when the target is open elsewhere. With ``anchor_log`` the
    backup must extend the target's anchors at or below its head, and a ``restore`` record
    (the restored head) is appended: it supersedes the target's earlier anchors beyond it.
    """
    backup = Path(backup).absolute()
    target = Path(target).absolute()
    if backup == target:
        raise BackupError("the backup and the database are the same file")
    check = check_backup(backup, target=target, anchor_log=anchor_log)
    if not check.ok:
        raise BackupError(f"{backup} cannot be restored: {check.problem}")
    try:
        folder = target.parent
        if not folder.exists():
            ensure_private_folder(folder)
        temp = _private_temp(folder)
        try:
            _copy_with_backup_api(_ro_uri(backup), temp, 5000)
            _switch_to_wal(temp)
            previous: Path | None = None
            if target.exists():
                _quiesce_target(target)
                previous = _move_aside(target, _stamp(clock()))
            os.replace(temp, target)
        except BaseException:
            _remove_db_files(temp)
            raise
        # The lists were made from the replaced log: rebuilt from the restored one (were the
        # file left, its binding would refuse it anyway, see store/read_model_file.py).
        remove_read_model_files(target)
        os.chmod(target, 0o600)
        _fsync_dir(folder)
    except sqlite3.Error as exc:
        raise BackupError(f"the restore into {target} failed ({exc})") from exc
    except OSError as exc:
        raise BackupError(f"the restore into {target} failed ({exc.strerror or exc})") from exc
    if anchor_log is not None:
        try:
            with closing(sqlite3.connect(_ro_uri(target), uri=True, isolation_level=None)) as con:
                anchors.anchor_now(
                    con,
                    db_path=target,
                    log=anchor_log,
                    reason="restore",
                    clock=clock,
                    extra={"backup": str(backup), "previous": str(previous or "")},
                    if_empty=True,
                )
        except (OSError, sqlite3.Error) as exc:
            raise BackupError(
                f"{target} was restored from {backup}, but the restore could not be recorded "
                f"in {anchor_log} ({exc}); verify will report the later anchors as missing"
            ) from exc
    return RestoreResult(target=target, backup=backup, previous=previous, check=check)


__all__ = [
    "BackupCheck",
    "BackupError",
    "BackupInfo",
    "DatabaseInUseError",
    "RestoreResult",
    "check_anchors",
    "check_backup",
    "create_backup",
    "ensure_private_folder",
    "integrity",
    "list_backups",
    "newest_backup",
    "parse_backup_name",
    "prune_backups",
    "restore",
    "verify_chain",
]
