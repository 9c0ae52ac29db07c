"""Maintenance subcommands for ``desktop-app-admin``: rebuild, backup, restore, status.

Plug into the admin CLI with :func:`add_maintenance_commands`. Every subcommand takes
``--db PATH``; its handler ``(args) -> int`` is set as both ``func`` and ``run`` on the
namespace. Handlers report every failure as ONE line on stderr
(``desktop-app-admin: error: …``) and return a non-zero exit code (2; 130 when interrupted),
so they can be called directly as well as through ``cli.main``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TextIO

from desktop_app.application.ports import StoreError
from desktop_app.bootstrap import App, bootstrap
from desktop_app.config import Settings, default_db_path
from desktop_app.domain.errors import DomainError
from desktop_app.store.backup import (
    BackupError,
    check_backup,
    create_backup,
    list_backups,
    restore,
)
from desktop_app.store.maintenance import file_sizes
from desktop_app.store.schema import SCHEMA_VERSION

PROG = "desktop-app-admin"
EXIT_OK, EXIT_FAILED, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130

Handler = Callable[[argparse.Namespace], int]


class MaintenanceError(Exception):
    """A problem to report as one line on stderr."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


def _handled(handler: Handler) -> Handler:
    """Turn every expected failure into one stderr line and an exit code."""

    @wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except MaintenanceError as exc:
            message, code = str(exc), exc.code
        except (DomainError, StoreError) as exc:
            message, code = str(exc), EXIT_ERROR
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            message, code = f"{exc.strerror or exc}{where}", EXIT_ERROR
        except KeyboardInterrupt:
            message, code = "interrupted", EXIT_INTERRUPTED
        sys.stdout.flush()
        print(f"{PROG}: error: {' '.join(message.split())}", file=sys.stderr)
        return code

    return run


def _db_path(args: argparse.Namespace) -> Path:
    db: Path | None = getattr(args, "db", None)
    return (db or default_db_path()).absolute()


@contextmanager
def _open(db: Path, *, read_only: bool) -> Iterator[App]:
    if not db.exists():
        raise MaintenanceError(f"no database at {db} — create one with `{PROG} init`")
    app = bootstrap(Settings(db_path=db, read_only=read_only), source="cli", create=False)
    try:
        yield app
    finally:
        app.close()


# --- progress ------------------------------------------------------------------------------


def progress_printer(label: str, stream: TextIO, *, width: int = 30) -> Callable[[int, int], None]:
    """A text bar rewritten in place on a terminal; a plain line per 10 % otherwise."""
    tty = stream.isatty()
    last = [-1]

    def show(done: int, total: int) -> None:
        fraction = 1.0 if total <= 0 else min(done / total, 1.0)
        if tty:
            filled = int(fraction * width)
            bar = "#" * filled + "." * (width - filled)
            end = "\n" if done >= total else ""
            stream.write(f"\r{label} [{bar}] {fraction:4.0%} {done:,} / {total:,}{end}")
        else:
            tenth = int(fraction * 10)
            if tenth == last[0]:
                return
            last[0] = tenth
            stream.write(f"{label}: {done:,} / {total:,} ({fraction:.0%})\n")
        stream.flush()

    return show


# --- rebuild -------------------------------------------------------------------------------


@_handled
def cmd_rebuild(args: argparse.Namespace) -> int:
    """Drop the read-model rows and rebuild them from the event log."""
    db = _db_path(args)
    with _open(db, read_only=False) as app:
        if app.read_only:
            raise MaintenanceError(
                f"cannot rebuild: {app.info.read_only_reason or 'the database is read-only'}"
            )
        projector = app.projector
        if projector is None:
            raise MaintenanceError("this database has no read model to rebuild")
        applied = projector.rebuild(progress_printer("Rebuilding", sys.stderr))
        status = projector.status()
    if status.owner is not None and status.last_error:  # another process owns the tables
        raise MaintenanceError(status.last_error, EXIT_FAILED)
    if status.last_error:
        raise MaintenanceError(
            f"rebuild stopped at position {status.failed_position}: {status.last_error}",
            EXIT_FAILED,
        )
    print(
        f"Rebuilt the read model of {db}: {applied:,} events applied "
        f"(checkpoint #{status.checkpoint})."
    )
    return EXIT_OK


# --- backup and restore --------------------------------------------------------------------


@_handled
def cmd_backup(args: argparse.Namespace) -> int:
    """Take an online backup into ``--to`` or the configured folder, keeping the newest N."""
    db = _db_path(args)
    if not db.exists():
        raise MaintenanceError(f"no database at {db}")
    settings = Settings(db_path=db)
    folder: Path = (args.to or settings.effective_backup_dir).absolute()
    keep: int = args.keep if args.keep is not None else settings.backup_keep
    if keep < 1:
        raise MaintenanceError("--keep must be 1 or more")
    info = create_backup(db, folder, keep=keep)
    kept = len(list_backups(folder))
    print(f"Backup written to {info.path} ({info.size_bytes:,} bytes); {kept} kept in {folder}")
    return EXIT_OK


def _find_backup(ref: str, db: Path) -> Path:
    folder = Settings(db_path=db).effective_backup_dir
    if ref == "latest":
        backups = list_backups(folder)
        if not backups:
            raise MaintenanceError(f"no backups in {folder}")
        return backups[0].path
    path = Path(ref)
    if path.exists():
        return path.absolute()
    if not path.is_absolute() and (folder / path).exists():
        return folder / path
    raise MaintenanceError(f"no backup at {ref}")


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


@_handled
def cmd_restore(args: argparse.Namespace) -> int:
    """Verify a backup and put it in place of the database (the old file is kept)."""
    db = _db_path(args)
    backup = _find_backup(args.backup, db)
    check = check_backup(backup)
    if not check.ok:
        raise MaintenanceError(f"{backup} cannot be restored: {check.problem}", EXIT_FAILED)
    events = check.chain.checked if check.chain else 0
    if not args.yes and not _confirm(
        f"Replace {db} with {backup.name} ({events:,} events)? The current file is kept."
    ):
        raise MaintenanceError("restore not confirmed (pass --yes to restore without asking)")
    result = restore(backup, db)
    print(f"Restored {result.target} from {result.backup} ({events:,} events, chain verified).")
    if result.previous is not None:
        print(f"The replaced database was kept as {result.previous}")
    return EXIT_OK


# --- status --------------------------------------------------------------------------------


def _read_only_reason(db: Path, schema_version: int) -> str | None:
    """Would a normal open be read-only? (Checked without opening the file for writing.)"""
    if not os.access(db, os.W_OK):
        return "the database file is read-only"
    if not os.access(db.parent, os.W_OK):
        return "the folder holding the database is read-only"
    try:
        if os.statvfs(db.parent).f_flag & os.ST_RDONLY:
            return "the disk or media holding the database is read-only"
    except (OSError, AttributeError):
        pass
    if schema_version > SCHEMA_VERSION:
        return f"written by a newer Order Desk (file format {schema_version})"
    return None


def _status(db: Path) -> dict[str, Any]:
    with _open(db, read_only=True) as app:  # status never writes, never upgrades
        head = app.events.head_position()
        checkpoint: int | None = None
        if app.read_model is not None and app.projector is not None:
            try:
                checkpoint = app.read_model.checkpoint(app.projector.checkpoint_name)
            except StoreError:
                checkpoint = None  # no read-model tables yet
        schema_version = app.info.schema_version
    sizes = file_sizes(db)
    reason = _read_only_reason(db, schema_version)
    folder = Settings(db_path=db).effective_backup_dir
    backups = list_backups(folder)
    return {
        "database": str(db),
        "db_bytes": sizes.db_bytes,
        "wal_bytes": sizes.wal_bytes,
        "read_only": reason is not None,
        "read_only_reason": reason,
        "schema_version": schema_version,
        "head": head,
        "checkpoint": checkpoint,
        "lag": None if checkpoint is None else max(0, head - checkpoint),
        "backup_dir": str(folder),
        "backups": len(backups),
        "newest_backup": backups[0].taken_at.astimezone(UTC).isoformat() if backups else None,
    }


@_handled
def cmd_status(args: argparse.Namespace) -> int:
    """Projector checkpoint, head and lag; database path, size, WAL size, read-only state."""
    db = _db_path(args)
    data = _status(db)
    if args.json:
        print(json.dumps(data, sort_keys=True))
        return EXIT_OK
    checkpoint = data["checkpoint"]
    read_only = "yes" if data["read_only"] else "no"
    if data["read_only_reason"]:
        read_only += f" ({data['read_only_reason']})"
    newest = data["newest_backup"]
    when = (
        datetime.fromisoformat(newest).astimezone().strftime("%Y-%m-%d %H:%M:%S %z")
        if newest
        else "none"
    )
    rows = [
        ("Database", data["database"]),
        ("Size", f"{data['db_bytes']:,} bytes"),
        ("WAL size", f"{data['wal_bytes']:,} bytes"),
        ("Read-only", read_only),
        ("Events (head)", f"{data['head']:,}"),
        ("Projector checkpoint", "no read model yet" if checkpoint is None else f"{checkpoint:,}"),
        ("Projector lag", "-" if data["lag"] is None else f"{data['lag']:,} events"),
        ("Backups", f"{data['backups']} in {data['backup_dir']} (newest: {when})"),
    ]
    for label, value in rows:
        print(f"{label + ':':<22}{value}")
    return EXIT_OK


# --- registration --------------------------------------------------------------------------


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        type=Path,
        default=None,
        metavar="PATH",
        help="the database file (default: the user's Order Desk database)",
    )


def _set_handler(parser: argparse.ArgumentParser, handler: Handler) -> None:
    parser.set_defaults(func=handler, run=handler)


def add_maintenance_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Add ``rebuild``, ``backup``, ``restore`` and ``status`` to an admin CLI."""
    rebuild = subparsers.add_parser("rebuild", help="rebuild the read model from the event log")
    _add_db(rebuild)
    _set_handler(rebuild, cmd_rebuild)

    backup = subparsers.add_parser("backup", help="take an online backup now")
    _add_db(backup)
    backup.add_argument(
        "--to",
        type=Path,
        default=None,
        metavar="FOLDER",
        help="backup folder (default: backups/ beside the database)",
    )
    backup.add_argument(
        "--keep", type=int, default=None, metavar="N", help="backups to keep (default: 7)"
    )
    _set_handler(backup, cmd_backup)

    restore_ = subparsers.add_parser("restore", help="verify a backup and put it in place")
    _add_db(restore_)
    restore_.add_argument(
        "backup", metavar="BACKUP", help="backup file, its name in the backup folder, or 'latest'"
    )
    restore_.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    _set_handler(restore_, cmd_restore)

    status = subparsers.add_parser("status", help="database, WAL and projector state")
    _add_db(status)
    status.add_argument("--json", action="store_true", help="one JSON object")
    _set_handler(status, cmd_status)


def build_parser() -> argparse.ArgumentParser:
    """A stand-alone parser with only the maintenance commands (tests, ``python -m``)."""
    parser = argparse.ArgumentParser(prog=PROG, description="Order Desk maintenance.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_maintenance_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one maintenance subcommand; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    handler: Handler = args.func
    return handler(args)


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = [
    "BackupError",
    "add_maintenance_commands",
    "build_parser",
    "cmd_backup",
    "cmd_rebuild",
    "cmd_restore",
    "cmd_status",
    "main",
    "progress_printer",
]
