"""What every admin subcommand shares: the error type, exit codes, opening the database and
progress lines. A module of its own so that subcommand modules can use it while ``cli`` runs as
``python -m desktop_app.cli`` (where ``cli`` itself is ``__main__``)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from desktop_app.bootstrap import App, bootstrap
from desktop_app.config import (
    DatabaseLocation,
    LocationError,
    ServerLocation,
    Settings,
    parse_location,
)

PROG = "desktop-app-admin"

_ORDER_NUMBER = re.compile(r"SO-\d+", re.IGNORECASE)


def order_number_candidates(ref: str) -> tuple[str, ...]:
    """The order numbers a typed reference may mean: as typed, then zero-padded ("so-42" is
    SO-000042); empty when ``ref`` is not an order number (then it is an id)."""
    ref = ref.strip()
    if not _ORDER_NUMBER.fullmatch(ref):
        return ()
    return tuple(dict.fromkeys((ref.upper(), f"SO-{int(ref[3:]):06d}")))


EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


class CliError(Exception):
    """A problem to report as one line on stderr, with an exit code."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


# --- opening -------------------------------------------------------------------------------

SERVER_COMMANDS = frozenset({"init", "demo", "history", "rebuild", "status", "verify"})
"""Subcommands that work on a PostgreSQL server too (the others need a database file)."""


def db_argument(text: str) -> DatabaseLocation:
    """``--db``'s argparse type: a file path or a ``postgresql://`` URL."""
    try:
        return parse_location(text)
    except LocationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def require_file(command: str, db: DatabaseLocation) -> None:
    """Refuse, in words, a subcommand that only works on a database file given a server."""
    if isinstance(db, ServerLocation) and command not in SERVER_COMMANDS:
        raise CliError(
            f"`{command}` works on a database file; on a PostgreSQL server use the server's "
            f"own tools (commands available for {db.display}: {', '.join(sorted(SERVER_COMMANDS))})"
        )


@contextmanager
def open_app(
    db: DatabaseLocation,
    *,
    create: bool = False,
    read_only: bool = False,
    make_folder: bool = False,
) -> Iterator[App]:
    if isinstance(db, ServerLocation):
        # A server database is never created here: `init` does that (with its roles).
        app = bootstrap(Settings.for_location(db, read_only=read_only), source="cli")
        try:
            yield app
        finally:
            app.close()
        return
    if not create and not db.exists():
        raise CliError(f"no database at {db} — create one with `{PROG} init`")
    if create and not make_folder and not db.exists() and not db.absolute().parent.is_dir():
        # A mistyped --db must not quietly start a new, empty database somewhere else.
        raise CliError(
            f"the folder {db.absolute().parent} does not exist — check the path, or create "
            f"the database there with `{PROG} init --db {db}`"
        )
    settings = Settings(db_path=db.absolute(), read_only=read_only)
    app = bootstrap(settings, source="cli", create=create)
    try:
        yield app
    finally:
        app.close()


def progress_line(label: str, stream: TextIO, *, always: bool) -> Callable[[int, int], None] | None:
    """A progress printer: a rewritten line on a terminal, a line per 10% otherwise."""
    tty = stream.isatty()
    if not tty and not always:
        return None
    last = [-1]

    def show(done: int, total: int) -> None:
        if tty:
            end = "\n" if done >= total else ""
            stream.write(f"\r{label}: {done:,} / {total:,}{end}")
        else:
            tenth = done * 10 // total if total else 10
            if tenth == last[0]:
                return
            last[0] = tenth
            stream.write(f"{label}: {done:,} / {total:,}\n")
        stream.flush()

    return show
