"""``desktop-app-admin copy --from FILE --to postgresql://…``: move an office's file onto
the server (issue 10). The work is ``store.postgres.copy``; this module parses, prints the
progress and the verdict, and maps failures to one stderr line and an exit code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from desktop_app.cli_support import EXIT_FAILED, EXIT_OK, CliError, progress_line
from desktop_app.config import ServerLocation, default_key_dir, parse_location


def _progress(stream: TextIO) -> Callable[[str, int, int], None]:
    printers: dict[str, Callable[[int, int], None] | None] = {}

    def show(what: str, done: int, total: int) -> None:
        if what not in printers:
            label = "Copying events" if what == "events" else "Verifying on the server"
            printers[what] = progress_line(label, stream, always=True)
        printer = printers[what]
        if printer is not None:
            printer(done, total)

    return show


def cmd_copy(args: argparse.Namespace) -> int:
    """Copy the file's history into the server database, then verify it there."""
    # Imported here: psycopg is loaded only when a server is used.
    from desktop_app.store.postgres.copy import copy_to_server

    source: Path = args.source
    location = parse_location(args.target)
    if not isinstance(location, ServerLocation):
        raise CliError(f"--to must be a postgresql:// URL (not {args.target!r})")
    if args.batch < 1:
        raise CliError("--batch must be at least 1")
    print(f"Copying {source} to {location.display} …", flush=True)
    result = copy_to_server(
        source,
        location.url,
        batch=args.batch,
        progress=_progress(sys.stdout),
        key_dir=default_key_dir(),
    )
    resumed = f" (continued after #{result.resumed_from:,})" if result.resumed_from else ""
    rate = result.events / result.copy_seconds if result.copy_seconds > 0 else 0.0
    print(
        f"Copied {result.events:,} events{resumed}, {result.commands:,} command records, "
        f"{result.rejections:,} rejections ({result.copy_seconds:.1f} s, {rate:,.0f} events/s); "
        f"the file's {result.snapshots:,} snapshots, {result.keys:,} unique keys and number "
        "sequences are on the server."
    )
    print(result.key_note)
    print(
        f"Copied events carry the server role {result.author_role!r} as their author_role (the "
        "role that ran the copy); who recorded each one (OS user, host) stays in its metadata."
    )
    if not result.identical:
        for problem in result.problems:
            print(f"  DIFFERENT: {problem}", file=sys.stderr)
        print(
            "The server's history is NOT identical to the file's: do not use it; copy into a "
            "new database.",
            file=sys.stderr,
        )
        return EXIT_FAILED
    print(
        f"Verified: the server holds the file's {result.verified:,} events, identical, head "
        f"#{result.source_head:,} {result.head_hash[:16]}…; every event's hash recomputed."
    )
    if result.chain_problem is not None:
        print(
            f"Warning: the history itself does not verify (the file has the same problem): "
            f"{result.chain_problem}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK


def add_copy_command(sub: Any) -> None:
    """Register ``copy`` on the admin CLI's subparsers."""
    copy = sub.add_parser(
        "copy",
        help="copy a database file's history onto a PostgreSQL server (resumable, verified)",
        description="Copy every event, command record, snapshot and rejection of an Order "
        "Desk file into a server database made with `init`, then verify that the server's "
        "hash chain is identical. Re-running continues where a copy stopped. The file is "
        "only read.",
    )
    copy.add_argument("--from", dest="source", type=Path, required=True, metavar="FILE")
    copy.add_argument("--to", dest="target", required=True, metavar="URL")
    copy.add_argument(
        "--batch", type=int, default=10_000, help="events per server transaction (10000)"
    )
    copy.set_defaults(run=cmd_copy)
