"""``desktop-app-admin``: the administrator's command line (no Qt).

Exit codes: 0 success, 1 verification failed (the log was tampered with, or no longer extends a
saved digest or an anchor kept outside the database), 2 any other error (bad usage, missing or
unusable database, unknown order…).
Errors are one line on stderr; a missing database is never created except by ``init``/``demo``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from desktop_app.application.audit import verify_history
from desktop_app.application.ids import id_problem
from desktop_app.application.ports import Digest, StoreError, VerifyFinding, VerifyResult
from desktop_app.application.queries import GetOrderHistory, HistoryEntry
from desktop_app.bootstrap import App
from desktop_app.cli_audit import add_audit_commands
from desktop_app.cli_copy import add_copy_command
from desktop_app.cli_documents import add_document_commands
from desktop_app.cli_maintenance import add_maintenance_commands, anchor_lines, check_anchors_of
from desktop_app.cli_support import (
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_OK,
    PROG,
    CliError,
    db_argument,
    order_number_candidates,
    require_file,
)
from desktop_app.cli_support import open_app as _open
from desktop_app.cli_support import progress_line as _progress
from desktop_app.cli_workbench import (
    add_annotate_command,
    add_workbench_commands,
    history_items,
    history_lines,
    note_json,
    order_notes,
    order_rejections,
    rejection_json,
)
from desktop_app.config import DatabaseLocation, ServerLocation, default_db_path
from desktop_app.demo_data import load_demo
from desktop_app.domain.errors import DomainError
from desktop_app.store.digests import DIGEST_FORMAT, DigestFileError, read_digest, write_digest
from desktop_app.store.engine import trigger_reason

__all__ = ["DIGEST_FORMAT", "build_parser", "main"]


# --- init and demo -------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    if isinstance(args.db, ServerLocation):
        return _init_server(args.db, args)
    db: Path = args.db
    if db.exists():
        with _open(db, read_only=True) as app:
            count = app.events.head_position()
        print(f"{db} is already an Order Desk database ({count:,} events); nothing to do.")
        return EXIT_OK
    # `init` is the explicit way to create a database, folder included.
    with _open(db, create=True, make_folder=True):
        pass
    print(f"Created a new Order Desk database at {db}")
    return EXIT_OK


def _init_server(server: ServerLocation, args: argparse.Namespace) -> int:
    """``init`` on a PostgreSQL server: schema, the clerk and auditor roles, grants."""
    # Imported here: the server backend (psycopg) is loaded only when a server is named.
    from desktop_app.store.postgres.database import init_postgres
    from desktop_app.store.postgres.ddl import Roles

    roles = None
    if args.clerk_role or args.auditor_role:
        if not (args.clerk_role and args.auditor_role):
            raise CliError("name both roles (--clerk-role and --auditor-role) or neither")
        roles = Roles(clerk=args.clerk_role, auditor=args.auditor_role)
    result = init_postgres(server.url, roles=roles)
    if result.already:
        print(f"{server.display} is already an Order Desk database; grants refreshed.")
    else:
        print(f"Created the Order Desk tables in {server.display}.")
    made = f" (created: {', '.join(result.created_roles)})" if result.created_roles else ""
    print(
        f"Roles: {result.roles.clerk} may add orders and read everything, "
        f"{result.roles.auditor} may only read{made}. Give a person a login with e.g. "
        f'CREATE ROLE maria LOGIN IN ROLE "{result.roles.clerk}"; set passwords with psql\'s '
        "\\password (they belong in ~/.pgpass, never in Order Desk's files)."
    )
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    if args.orders < 0:
        raise CliError("--orders must be zero or more")
    with _open(args.db, create=True) as app:
        summary = load_demo(
            app.commands,
            orders=args.orders,
            seed=args.seed,
            queries=app.queries,
            progress=_progress("Loading demo data", sys.stderr, always=True),
        )
        caught_up = _catch_up_read_model(app)
    statuses = ", ".join(f"{count} {status}" for status, count in summary.orders_by_status)
    print(
        f"Loaded demo data into {args.db}: {summary.customers} customers, "
        f"{summary.products} products, {summary.orders} orders ({statuses}); "
        f"{summary.events:,} events written."
    )
    if summary.duplicates:
        print(f"{summary.duplicates:,} commands had already been recorded and were skipped.")
    print(caught_up)
    return EXIT_OK


def _catch_up_read_model(app: App) -> str:
    """Bring the order lists up to the log's head (so the GUI opens full); a sentence saying
    how that went."""
    projector = app.projector
    if projector is None or app.read_only:
        return "The order lists were not updated (read-only database)."
    projector.run_once()
    status = projector.status()
    if status.last_error:
        return (
            f"The order lists stopped at event #{status.checkpoint}: {status.last_error} "
            f"(the window shows this too; `{PROG} rebuild` retries)."
        )
    if status.lag:
        return f"The order lists are {status.lag:,} events behind; the window catches up."
    return f"The order lists are up to date (event #{status.checkpoint})."


# --- history -------------------------------------------------------------------------------


def _find_order(app: App, ref: str) -> str:
    """The order id for an id or an order number such as SO-000123."""
    ref = ref.strip()
    numbers = order_number_candidates(ref)
    if numbers:
        # A read-model lookup will replace this scan; numbers are unique, so stop at the first.
        after = 0
        while batch := app.events.read_all(after_position=after, limit=1000):
            for event in batch:
                placed = event.type_name == "OrderPlaced"
                if placed and event.payload.get("order_number") in numbers:
                    return str(event.payload["order_id"])
            after = batch[-1].position
        raise CliError(f"no order with number {numbers[-1]}")
    order_id = ref.removeprefix("order-")
    problem = id_problem(order_id)
    if problem is not None:
        raise CliError(f"{ref[:80]!r} is neither an order number (SO-000123) nor an id: {problem}")
    if app.events.stream_version(f"order-{order_id}") == 0:
        raise CliError(f"no order with id {ref}")
    return order_id


def _local(when: datetime) -> str:
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S %z")


def _entry_json(entry: HistoryEntry) -> dict[str, Any]:
    return {
        "position": entry.position,
        "version": entry.version,
        "event_id": entry.event_id,
        "type_name": entry.type_name,
        "schema_version": entry.schema_version,
        "recorded_at": entry.recorded_at.astimezone(UTC).isoformat(),
        "summary": entry.summary,
        "metadata": entry.metadata.to_json(),
        "payload": entry.payload,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
        # Only a server records one: a file's lines keep exactly their fields.
        **({"server_role": entry.server_role} if entry.server_role is not None else {}),
    }


def _event_line(entry: HistoryEntry) -> str:
    role = f"  · server role: {entry.server_role}" if entry.server_role is not None else ""
    return (
        f"{entry.version:>4}  {_local(entry.recorded_at)}  {entry.metadata.user:<12}  "
        f"{entry.type_name:<24}  {entry.summary}{role}"
    )


def cmd_history(args: argparse.Namespace) -> int:
    with _open(args.db, read_only=True) as app:
        order_id = _find_order(app, args.order)
        entries = app.queries.ask(GetOrderHistory(order_id=order_id))
        refused = order_rejections(app, order_id)
        notes = order_notes(app, order_id)
    if args.json:
        # One JSON object per line, each with its "kind": "event" (the fields as before),
        # "note" or "rejection"; in the order of the text history.
        for kind, item in history_items(entries, refused, notes):
            if kind == "event":
                fields = _entry_json(item)
            elif kind == "note":
                fields = note_json(item)
            else:
                fields = rejection_json(item)
            print(json.dumps({"kind": kind, **fields}, ensure_ascii=False, sort_keys=True))
        return EXIT_OK
    if entries and entries[0].type_name == "OrderPlaced":
        more = f", {len(refused)} refused commands" if refused else ""
        more += f", {len(notes)} auditor's notes" if notes else ""
        print(
            f"Order {entries[0].payload.get('order_number')} ({order_id}): "
            f"{len(entries)} events{more}"
        )
    for line in history_lines(entries, refused, _event_line, sys.stdout, notes):
        print(line)
    return EXIT_OK


# --- verify --------------------------------------------------------------------------------


def _read_digest(path: Path) -> Digest:
    try:
        return read_digest(path)
    except DigestFileError as exc:
        raise CliError(str(exc)) from exc


def _write_digest(path: Path, digest: Digest, db: DatabaseLocation) -> None:
    try:
        write_digest(path, digest, db)
    except DigestFileError as exc:
        raise CliError(str(exc)) from exc


def _report(result: VerifyResult, ok_text: str, bad_text: str) -> bool:
    """Print the chain verdict; True when the chain holds."""
    if result.first_bad_position is None and result.problem is None:
        print(ok_text)
    else:
        print(f"{bad_text}: first bad position {result.first_bad_position}: {result.problem}")
        if result.chain_finding is not None:
            print(f"  at {_where(result.chain_finding)}")
    return result.ok


def _where(finding: VerifyFinding) -> str:
    """A finding's line, with the stream when the order number stands in for it (so that
    `history` can be pointed at it)."""
    text = finding.describe()
    return f"{text} [{finding.stream_id}]" if finding.order_number else text


def _check_anchors(app: App, db: DatabaseLocation) -> bool:
    """R28: does the file still extend every anchor kept outside it? Prints what was found,
    and (R29) whether its append-only triggers are intact (a note: history is judged by the
    chain and the anchors; ``repair`` puts the triggers back after a passing verify). A server
    database has no anchors: a note says so, and whether its append-only triggers are off."""
    if isinstance(db, ServerLocation):
        triggers = app.info.details.get("append_only_triggers", "intact")
        if triggers != "intact":
            print(f"Note: the append-only triggers are {triggers}")
        print(
            "Note: anchors are kept for database files; on a server, keep a digest "
            "(--export-digest) somewhere else and check it later with --against."
        )
        return True
    report = check_anchors_of(app, db.absolute())
    log = app.settings.anchor_log if app.settings is not None else Path()
    for line in anchor_lines(report, log):
        print(line)
    problem = trigger_reason(db.absolute())
    if problem is not None:
        print(f"Note: {problem}")
    return report.ok


def _report_findings(result: VerifyResult) -> bool:
    """Print what the replay found (R27); True when it found nothing."""
    if not result.semantic:
        return True
    for note in result.notes:
        print(f"Note: {note}")
    checked = (
        f"{result.streams_checked:,} streams replayed, "
        f"{result.snapshots_checked:,} snapshots compared"
    )
    if not result.finding_count:
        print(f"OK: {checked}; every event is legal in the state before it")
        return True
    print(f"TAMPERED: {checked}; {result.finding_count:,} findings:")
    for finding in result.findings:
        print(f"  {_where(finding)}")
    if result.finding_count > len(result.findings):
        print(f"  … and {result.finding_count - len(result.findings):,} more")
    return False


def cmd_verify(args: argparse.Namespace) -> int:
    against = _read_digest(args.against) if args.against is not None else None
    with _open(args.db, read_only=True) as app:
        result = verify_history(
            app.events,
            app.snapshots,
            progress=_progress("Verifying", sys.stderr, always=False),
            chain_only=args.chain_only,
        )
        ok = _report(
            result,
            f"OK: {result.checked:,} events, head #{result.head_position} hash {result.head_hash}",
            "TAMPERED",
        )
        ok = _report_findings(result) and ok
        ok = _check_anchors(app, args.db) and ok
        if against is not None:
            when = _local(against.taken_at)
            checked = app.events.check_digest(against)
            ok = (
                _report(
                    checked,
                    f"OK: the log still extends the digest of {when} "
                    f"(#{against.head_position} hash {against.head_hash}); "
                    f"{max(result.head_position - against.head_position, 0):,} events added since",
                    f"TAMPERED: the log no longer extends the digest of {when}",
                )
                and ok
            )
        if args.export_digest is not None:
            if not ok:
                raise CliError("not exporting a digest of a log that failed verification", 1)
            digest = app.events.digest()
            _write_digest(args.export_digest, digest, args.db)
            print(f"Digest written to {args.export_digest}")
    return EXIT_OK if ok else EXIT_FAILED


# --- entry point ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    # --db works before the subcommand (`--db FILE demo`) and after it (`demo --db FILE`): the
    # subcommands' copy defaults to SUPPRESS so that, when absent, it leaves the global one be.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        type=db_argument,
        default=argparse.SUPPRESS,
        metavar="PATH|URL",
        help="the database file or postgresql://user@host:port/dbname "
        "(default: the user's Order Desk database)",
    )
    parser = argparse.ArgumentParser(prog=PROG, description="Order Desk administration.")
    parser.add_argument(
        "--db",
        type=db_argument,
        default=None,
        metavar="PATH|URL",
        help="the database file or postgresql://user@host:port/dbname "
        "(default: the user's Order Desk database)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    init = sub.add_parser(
        "init",
        parents=[common],
        help="create a new database (a file, or the tables and roles on a PostgreSQL server)",
    )
    init.add_argument("--clerk-role", metavar="ROLE", help="server: the clerk group role")
    init.add_argument("--auditor-role", metavar="ROLE", help="server: the auditor group role")
    init.set_defaults(run=cmd_init)
    demo = sub.add_parser("demo", parents=[common], help="load realistic sample data")
    demo.add_argument("--orders", type=int, default=300, help="orders to create (300)")
    demo.add_argument("--seed", type=int, default=7, help="random seed (7)")
    demo.set_defaults(run=cmd_demo)
    history = sub.add_parser("history", parents=[common], help="print an order's events")
    history.add_argument("order", metavar="ORDER", help="order id or number (SO-000123)")
    history.add_argument(
        "--json",
        action="store_true",
        help='full entries as JSON lines (events, notes, refused commands: see "kind")',
    )
    history.set_defaults(run=cmd_history)
    verify = sub.add_parser(
        "verify",
        parents=[common],
        help="check the hash chain, then replay every stream (legal events, true snapshots)",
    )
    verify.add_argument("--export-digest", type=Path, metavar="FILE", help="save the head")
    verify.add_argument("--against", type=Path, metavar="FILE", help="check a saved digest")
    verify.add_argument(
        "--chain-only",
        action="store_true",
        help="only recompute the hash chain (fast); skip replaying streams and snapshots",
    )
    verify.set_defaults(run=cmd_verify)
    add_maintenance_commands(sub)
    add_document_commands(sub, common)
    add_audit_commands(sub, common)
    add_workbench_commands(sub, common)
    add_annotate_command(sub, common, _find_order)
    add_copy_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help or a usage error (argparse already printed it)
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    if args.db is None:
        args.db = default_db_path()
    run: Callable[[argparse.Namespace], int] = args.run
    if isinstance(args.db, ServerLocation) and args.db.has_password:
        print(
            f"{PROG}: note: the URL holds a password, which other users of this computer can "
            "see in the process list; keep it in ~/.pgpass (or a service file) instead.",
            file=sys.stderr,
        )
    try:
        require_file(args.command, args.db)
        return run(args)
    except CliError as exc:
        message, code = str(exc), exc.code
    except (DomainError, StoreError) as exc:
        message, code = str(exc), EXIT_ERROR
    except KeyboardInterrupt:
        message, code = "interrupted", 130
    sys.stdout.flush()
    print(f"{PROG}: error: {' '.join(message.split())}", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
