"""Headless projector: ``python -m desktop_app.projector --db PATH|postgresql://… [--once]``.

Catches the read model up, then (without ``--once``) keeps polling cheaply -- one
``PRAGMA data_version`` per interval -- until Ctrl-C or SIGTERM. Prints one line per catch-up
(``applied N checkpoint C head H``) and the error when a projection stops it.

One process at a time projects into a file's read model, whatever its ``--name`` (R33). When
another process (a headless projector or an open Order Desk window) already does, this one says
so on stderr and waits, taking over as soon as that process ends (a killed one included); with
``--once`` it exits with status 3 instead, without writing anything. On a server the same
holds for the shared read model (an advisory-lock lease), and the server's notifications wake
it at once (no poll interval to wait for).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from desktop_app.application.ports import StoreError
from desktop_app.projector.runner import Projector


def _location(text: str) -> Any:
    """``--db``: a file path or a ``postgresql://`` server address."""
    from desktop_app.config import LocationError, parse_location

    try:
        return parse_location(text)
    except LocationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _where(location: Any) -> str:
    return str(getattr(location, "display", location))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m desktop_app.projector", description=__doc__)
    parser.add_argument(
        "--db",
        type=_location,
        required=True,
        help="the Order Desk database file, or postgresql://user@host/dbname",
    )
    parser.add_argument("--once", action="store_true", help="one catch-up pass, then exit")
    parser.add_argument("--batch", type=int, default=1000, help="events per transaction")
    parser.add_argument("--poll", type=float, default=0.2, help="seconds between cheap checks")
    parser.add_argument(
        "--name", default="main", help="this projector's name (shown as the read model's owner)"
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild from position 0 first")
    return parser


def _report(projector: Projector, applied: int) -> None:
    status = projector.status()
    print(f"applied {applied} checkpoint {status.checkpoint} head {status.head}", flush=True)
    if status.last_error:
        print(
            f"error at {status.failed_position}: {status.last_error}", file=sys.stderr, flush=True
        )


EXIT_OWNED_ELSEWHERE = 3
"""``--once`` found the read model kept by another process and did nothing."""


def _owner_message(projector: Projector, owner: str, db: Path | str, waiting: bool) -> str:
    then = "waiting to take over when it stops" if waiting else "exiting without projecting"
    return (
        f"The read model of {db} is kept up to date by {owner}; only one process may write "
        f"it at a time. Projector {projector.name!r} does not write it: {then}."
    )


def loop(projector: Projector, stop: threading.Event, poll: float, db: Path | str) -> None:
    """Run until ``stop`` is set: catch up whenever there is news, else sleep ``poll``.

    While another process owns the read model this one follows and says so once; it takes
    over when that process ends."""
    following = projector.status().owner
    while not stop.is_set():
        if projector.has_news() or projector.woken.is_set():
            applied = projector.run_once()
            owner = projector.status().owner
            if owner != following:
                if owner is not None:
                    print(_owner_message(projector, owner, db, True), file=sys.stderr, flush=True)
                else:
                    print(f"projector {projector.name!r} now owns the read model", flush=True)
                following = owner
            if applied or projector.status().last_error:
                _report(projector, applied)
        if not stop.is_set():
            # A wake (a server's notification; the stop signal sets it too) ends the wait.
            projector.woken.wait(poll)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    # The composition root is imported only when running (it pulls in the SQLite store).
    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings

    settings = Settings.for_location(args.db, projector_batch=args.batch)
    try:
        app = bootstrap(settings, source="projector", create=False, projector_name=args.name)
    except StoreError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    try:
        projector = app.projector
        assert projector is not None
        applied = projector.rebuild() if args.rebuild else projector.run_once()
        owner = projector.status().owner
        if owner is not None:
            print(_owner_message(projector, owner, _where(args.db), not args.once), file=sys.stderr)
            if args.once:
                return EXIT_OWNED_ELSEWHERE
        else:
            _report(projector, applied)
        if args.once:
            return 1 if projector.status().failed_position is not None else 0
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()
            projector.woken.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        print("watching", flush=True)
        loop(projector, stop, args.poll, _where(args.db))
        return 0
    finally:
        app.close()


if __name__ == "__main__":
    raise SystemExit(main())
