"""Maintenance subcommands for ``desktop-app-admin``: rebuild, backup, restore, repair, status.

Plug into the admin CLI with :func:`add_maintenance_commands`. Every subcommand takes
``--db PATH``; its handler ``(args) -> int`` is set as both ``func`` and ``run`` on the
namespace. Handlers report every failure as ONE line on stderr
(``desktop-app-admin: error: …``) and return a non-zero exit code (2; 130 when interrupted),
so they can be called directly as well as through ``cli.main``.

One module over 500 lines on purpose: the subcommands share its error handling, progress bar
and registration.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TextIO

from desktop_app.application.commands import RebuildReadModels
from desktop_app.application.ports import StoreError
from desktop_app.bootstrap import App
from desktop_app.cli_support import (
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_OK,
    PROG,
    CliError,
    db_argument,
    open_app,
)
from desktop_app.config import ServerLocation, Settings, default_db_path
from desktop_app.domain.catalog import SKU_NAMESPACE
from desktop_app.domain.errors import DomainError
from desktop_app.store.anchors import AnchorReport, check_file, last_anchor
from desktop_app.store.backup import (
    BackupError,
    check_backup,
    create_backup,
    list_backups,
    restore,
)
from desktop_app.store.engine import trigger_reason
from desktop_app.store.maintenance import file_sizes
from desktop_app.store.projector_report import read_report
from desktop_app.store.read_model_file import read_model_path
from desktop_app.store.repair import repair_triggers
from desktop_app.store.schema import SCHEMA_VERSION

EXIT_INTERRUPTED = 130

Handler = Callable[[argparse.Namespace], int]


class MaintenanceError(CliError):
    """A problem to report as one line on stderr (with an exit code, like every ``CliError``)."""


def _handled(handler: Handler) -> Handler:
    """Turn every expected failure into one stderr line and an exit code."""

    @wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except CliError as exc:  # also from the shared open_app
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
    # argparse's namespace, not ours: the subcommands' --db defaults to SUPPRESS (so that it
    # leaves a global --db be), so without either the attribute is absent.
    db: Path | None = getattr(args, "db", None)
    return (db or default_db_path()).absolute()


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
    """Drop the read-model rows and rebuild them from the event log (a file's, or the
    shared read model on a server)."""
    server = getattr(args, "db", None)
    db: Path | ServerLocation = server if isinstance(server, ServerLocation) else _db_path(args)
    with open_app(db, read_only=False) as app:
        if app.read_only:
            raise MaintenanceError(
                f"cannot rebuild: {app.info.read_only_reason or 'the database is read-only'}"
            )
        projector = app.projector
        if projector is None:
            raise MaintenanceError("this database has no read model to rebuild")
        rebuild = RebuildReadModels(progress=progress_printer("Rebuilding", sys.stderr))
        try:
            applied = app.commands.run_maintenance(rebuild)
        except StoreError:
            status = projector.status()
            if status.owner is not None and status.last_error:  # another process owns them
                raise MaintenanceError(status.last_error, EXIT_FAILED) from None
            raise
        status = projector.status()
    if status.last_error:
        raise MaintenanceError(
            f"rebuild stopped at position {status.failed_position}: {status.last_error}",
            EXIT_FAILED,
        )
    print(
        f"Rebuilt the read model of {db.display if isinstance(db, ServerLocation) else db}: "
        f"{applied:,} events applied "
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
    info = create_backup(db, folder, keep=keep, anchor_log=settings.anchor_log)
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
    anchor_log = Settings(db_path=db).anchor_log
    check = check_backup(backup, target=db, anchor_log=anchor_log)
    if not check.ok:
        raise MaintenanceError(f"{backup} cannot be restored: {check.problem}", EXIT_FAILED)
    events = check.chain.checked if check.chain else 0
    lost = ""
    if check.anchors is not None and check.anchors.beyond:
        newest = max(check.anchors.beyond, key=lambda a: a.head_position)
        lost = (
            f" Events after #{events:,} are given up: anchors reach #{newest.head_position:,}"
            f" ({newest.describe()})."
        )
    if not args.yes and not _confirm(
        f"Replace {db} with {backup.name} ({events:,} events)?{lost} The current file is kept."
    ):
        raise MaintenanceError("restore not confirmed (pass --yes to restore without asking)")
    result = restore(backup, db, anchor_log=anchor_log)
    print(
        f"Restored {result.target} from {result.backup} ({events:,} events; stamps, "
        "append-only triggers, integrity, anchors and chain verified)."
    )
    if lost:
        print(f"Recorded in {anchor_log}:{lost}")
    if result.previous is not None:
        print(f"The replaced database was kept as {result.previous}")
    return EXIT_OK


# --- anchors and repair --------------------------------------------------------------------


def anchor_lines(report: AnchorReport, anchor_log: Path) -> list[str]:
    """What an anchor check found, one line each (R28); failures start with TAMPERED."""
    lines: list[str] = []
    if report.failures:
        lines.extend(
            f"TAMPERED: the log no longer extends {failure.message}" for failure in report.failures
        )
    elif report.checked:
        last = report.last
        assert last is not None
        count = len(report.checked)
        lines.append(
            f"OK: the log extends {'the' if count == 1 else f'all {count:,}'} "
            f"anchor{'' if count == 1 else 's'} of this database (newest: {last.describe()})"
        )
    else:
        lines.append(
            f"No anchors of this database yet in {anchor_log} (they are written on every "
            "backup, when the program closes and daily)"
        )
    if report.superseded:
        top = max(report.superseded, key=lambda a: a.head_position)
        lines.append(
            f"Note: {len(report.superseded):,} earlier anchors (up to #{top.head_position:,}) "
            "were given up by a restore or by creating a new database at this path"
        )
    if report.beyond:
        top = max(report.beyond, key=lambda a: a.head_position)
        lines.append(
            f"Note: this file ends before {len(report.beyond):,} anchors of the same database "
            f"taken elsewhere (up to {top.describe()}): it is an older copy"
        )
    lines.extend(
        f"Note: this file is a copy that went its own way: {note.message}"
        for note in report.diverged
    )
    lines.extend(f"Warning: {warning}" for warning in report.warnings)
    return lines


def check_anchors_of(app: App, db: Path) -> AnchorReport:
    """The open database checked against its anchors in the log and its own sidecar."""
    settings = app.settings or Settings(db_path=db)
    database = app.database
    if database is None:
        raise MaintenanceError("anchors are only kept for database files")
    with database.raw_read() as con:
        return check_file(con, db_path=db, log=settings.anchor_log, sidecar_of=db)


@_handled
def cmd_repair(args: argparse.Namespace) -> int:
    """Put the append-only triggers back after a passing verify, and record it."""
    db = _db_path(args)
    if not db.exists():
        raise MaintenanceError(f"no database at {db}")
    problem = trigger_reason(db)
    if problem is None:
        print(f"Nothing to repair: the append-only triggers of {db} are intact.")
        return EXIT_OK
    anchor_log = Settings(db_path=db).anchor_log
    with open_app(db, read_only=True) as app:
        result = app.events.verify(progress=progress_printer("Verifying", sys.stderr))
        report = check_anchors_of(app, db)
    if not result.ok:
        raise MaintenanceError(
            f"repair refused: verify failed at position {result.first_bad_position}: "
            f"{result.problem}. Restore a backup instead (`{PROG} restore latest`).",
            EXIT_FAILED,
        )
    if not report.ok:
        raise MaintenanceError(
            "repair refused: verify failed: the log no longer extends "
            + "; ".join(failure.message for failure in report.failures)
            + f". Restore a backup instead (`{PROG} restore latest`).",
            EXIT_FAILED,
        )
    repaired = repair_triggers(
        db,
        verified_position=result.head_position,
        verified_hash=result.head_hash,
        anchor_log=anchor_log,
    )
    if repaired.problem is None:
        print(f"Nothing to repair: the append-only triggers of {db} are intact.")
        return EXIT_OK
    print(f"Verified {result.checked:,} events and {len(report.checked):,} anchors of {db}.")
    print(f"Repaired: {'; '.join(repaired.actions)}.")
    head = f"head #{repaired.head_position:,}"
    print(f"Recorded in {repaired.recorded_in} (reason 'repair', {head}).")
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


def _store_status(app: App) -> dict[str, Any]:
    """What both backends report: head, projector checkpoint and lag, snapshots, SKU clashes."""
    head = app.events.head_position()
    checkpoint: int | None = None
    if app.read_model is not None and app.projector is not None:
        try:
            checkpoint = app.read_model.target.checkpoint(app.projector.checkpoint_name)
        except StoreError:
            checkpoint = None  # no read-model tables yet
    clashes = [
        {"key": c.key, "holder": c.holder, "owner": c.owner, "position": c.position}
        for c in app.events.unique_key_clashes(SKU_NAMESPACE)
    ]
    trust = app.snapshots.trust()
    stored = untrusted = 0
    for snap in app.snapshots.iter_snapshots():
        stored += 1
        untrusted += snap.problem is not None
    return {
        "head": head,
        "checkpoint": checkpoint,
        "lag": None if checkpoint is None else max(0, head - checkpoint),
        "sku_clashes": clashes,
        "snapshot_key": trust.key_note,
        "snapshots_sealing": trust.sealing,
        "snapshots": stored,
        "snapshots_untrusted": untrusted,
    }


def _server_status(server: ServerLocation) -> dict[str, Any]:
    """``status`` on a PostgreSQL server: the store's facts; the file-only ones (sizes, WAL,
    backups, anchors) are the server's business (``pg_dump``) and are left out."""
    from desktop_app.store.postgres.database import open_postgres  # psycopg: servers only

    with open_app(server, read_only=True) as app:
        facts = _store_status(app)
        schema_version = app.info.schema_version
    # Would a normal open be read-only (an auditor's role, missing triggers, a newer schema)?
    # Asked of the server as this role; the open only reads its facts.
    probe = open_postgres(server.url)
    try:
        reason = probe.read_only_reason
    finally:
        probe.close()
    return {
        **facts,
        "database": server.display,
        "server": True,
        "read_only": reason is not None,
        "read_only_reason": reason,
        "schema_version": schema_version,
        "projector": None,
    }


def _status(db: Path) -> dict[str, Any]:
    with open_app(db, read_only=True) as app:  # status never writes, never upgrades
        facts = _store_status(app)
        schema_version = app.info.schema_version
    sizes = file_sizes(db)
    reason = _read_only_reason(db, schema_version) or trigger_reason(db)
    settings = Settings(db_path=db)
    folder = settings.effective_backup_dir
    backups = list_backups(folder)
    anchor = last_anchor(settings.anchor_log, db)
    report = read_report(db)
    return {
        "projector": None
        if report is None
        else {
            "events_per_second": report.events_per_second,
            "running": report.running,
            "last_error": report.last_error,
            "failed_position": report.failed_position,
            "checkpoint": report.checkpoint,
            "head": report.head,
            "reported_at": report.updated_at.isoformat() if report.updated_at else None,
            "reported_by": {"user": report.user, "host": report.host, "pid": report.pid},
        },
        **facts,
        "database": str(db),
        "server": False,
        "db_bytes": sizes.db_bytes,
        "wal_bytes": sizes.wal_bytes,
        # The lists' own file beside the database (rebuilt from it, never backed up).
        "read_model_file": str(read_model_path(db)),
        "read_model_bytes": file_sizes(read_model_path(db)).db_bytes,
        "read_only": reason is not None,
        "read_only_reason": reason,
        "schema_version": schema_version,
        "backup_dir": str(folder),
        "backups": len(backups),
        "newest_backup": backups[0].taken_at.astimezone(UTC).isoformat() if backups else None,
        "anchor_log": str(settings.anchor_log),
        "last_anchor": None
        if anchor is None
        else {
            "taken_at": anchor.taken_at.astimezone(UTC).isoformat(),
            "head_position": anchor.head_position,
            "head_hash": anchor.head_hash,
            "reason": anchor.reason,
        },
    }


@_handled
def cmd_status(args: argparse.Namespace) -> int:
    """Projector checkpoint, head and lag; database path, size, WAL size, read-only state."""
    server = getattr(args, "db", None)
    data = _server_status(server) if isinstance(server, ServerLocation) else _status(_db_path(args))
    if args.json:
        print(json.dumps(data, sort_keys=True))
        return EXIT_OK
    checkpoint = data["checkpoint"]
    read_only = "yes" if data["read_only"] else "no"
    if data["read_only_reason"]:
        read_only += f" ({data['read_only_reason']})"
    rows = [("Database", data["database"])]
    if not data["server"]:
        rows += [
            ("Size", f"{data['db_bytes']:,} bytes"),
            ("WAL size", f"{data['wal_bytes']:,} bytes"),
            ("Read model", f"{data['read_model_file']} ({data['read_model_bytes']:,} bytes)"),
        ]
    rows += [
        ("Read-only", read_only),
        ("Events (head)", f"{data['head']:,}"),
        ("Projector checkpoint", "no read model yet" if checkpoint is None else f"{checkpoint:,}"),
        ("Projector lag", "-" if data["lag"] is None else f"{data['lag']:,} events"),
        ("Projector rate", _rate_text(data["projector"])),
        ("Projector last error", _error_text(data["projector"])),
    ]
    if data["server"]:
        rows.append(("Backups", "the server's own (pg_dump; see the README)"))
    else:
        newest = data["newest_backup"]
        when = (
            datetime.fromisoformat(newest).astimezone().strftime("%Y-%m-%d %H:%M:%S %z")
            if newest
            else "none"
        )
        rows += [
            ("Backups", f"{data['backups']} in {data['backup_dir']} (newest: {when})"),
            ("Last anchor", _anchor_text(data["last_anchor"], data["anchor_log"])),
        ]
    rows += [
        (
            "Snapshots",
            f"{data['snapshots']:,} stored, {data['snapshots_untrusted']:,} not trusted "
            "(ignored: the order is replayed)",
        ),
        ("Snapshot key", data["snapshot_key"]),
    ]
    clashes = data["sku_clashes"]
    rows.append(
        ("Duplicate SKUs", f"{len(clashes)} (from before SKUs were unique)" if clashes else "none")
    )
    for label, value in rows:
        print(f"{label + ':':<22}{value}")
    for clash in clashes:
        print(
            f"  SKU {clash['key']}: product {clash['holder']} holds it; product "
            f"{clash['owner']} (event #{clash['position']:,}) uses it too — rename one's SKU "
            "by adding a new product and discontinuing the old one."
        )
    return EXIT_OK


def _rate_text(report: dict[str, Any] | None) -> str:
    """The projector's rate as the status bar's tooltip shows it, with who reported it when."""
    if report is None:
        return "not known (no projector is running on this file)"
    rate = float(report["events_per_second"])
    text = f"{round(rate):,} events/s" + ("" if report["running"] or rate else " (idle)")
    if not report["running"] and rate:
        text += " (last run)"
    by = report["reported_by"]
    where = f"{by['user'] or 'unknown'} on {by['host'] or 'unknown host'}, pid {by['pid']}"
    when = report["reported_at"]
    if when:
        local = datetime.fromisoformat(when).astimezone().strftime("%Y-%m-%d %H:%M:%S %z")
        where += f", at {local}"
    return f"{text} — reported by {where}"


def _error_text(report: dict[str, Any] | None) -> str:
    if report is None:
        return "not known"
    error = report["last_error"]
    if not error:
        return "none"
    failed = report["failed_position"]
    return f"{error}" + (f" (stopped at event #{failed:,})" if failed is not None else "")


def _anchor_text(anchor: dict[str, Any] | None, anchor_log: str) -> str:
    if anchor is None:
        return f"none yet (kept in {anchor_log})"
    when = datetime.fromisoformat(anchor["taken_at"]).astimezone()
    return (
        f"#{anchor['head_position']:,} (hash {anchor['head_hash'][:12]}…) at "
        f"{when.strftime('%Y-%m-%d %H:%M:%S %z')}, on {anchor['reason']} — {anchor_log}"
    )


# --- registration --------------------------------------------------------------------------


def _add_db(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: an absent --db after the subcommand keeps one given before it (cli.py).
    parser.add_argument(
        "--db",
        type=db_argument,
        default=argparse.SUPPRESS,
        metavar="PATH|URL",
        help="the database file or postgresql:// URL (default: the user's Order Desk database)",
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

    repair = subparsers.add_parser(
        "repair", help="put the append-only triggers back (only after a passing verify)"
    )
    _add_db(repair)
    _set_handler(repair, cmd_repair)

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
    "anchor_lines",
    "build_parser",
    "check_anchors_of",
    "cmd_backup",
    "cmd_rebuild",
    "cmd_repair",
    "cmd_restore",
    "cmd_status",
    "main",
    "progress_printer",
]
