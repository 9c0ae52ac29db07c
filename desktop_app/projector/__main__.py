"""Headless projector: ``python -m desktop_app.projector --db PATH [--once]``.

Catches the read model up, then (without ``--once``) keeps polling cheaply -- one
``PRAGMA data_version`` per interval -- until Ctrl-C or SIGTERM. Prints one line per catch-up
(``applied N checkpoint C head H``) and the error when a projection stops it.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from desktop_app.application.ports import StoreError
from desktop_app.projector.runner import Projector


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m desktop_app.projector", description=__doc__)
    parser.add_argument("--db", type=Path, required=True, help="the Order Desk database file")
    parser.add_argument("--once", action="store_true", help="one catch-up pass, then exit")
    parser.add_argument("--batch", type=int, default=1000, help="events per transaction")
    parser.add_argument("--poll", type=float, default=0.2, help="seconds between cheap checks")
    parser.add_argument("--name", default="main", help="checkpoint name")
    parser.add_argument("--rebuild", action="store_true", help="rebuild from position 0 first")
    return parser


def _report(projector: Projector, applied: int) -> None:
    status = projector.status()
    print(f"applied {applied} checkpoint {status.checkpoint} head {status.head}", flush=True)
    if status.last_error:
        print(
            f"error at {status.failed_position}: {status.last_error}", file=sys.stderr, flush=True
        )


def loop(projector: Projector, stop: threading.Event, poll: float) -> None:
    """Run until ``stop`` is set: catch up whenever there is news, else sleep ``poll``."""
    while not stop.is_set():
        if projector.has_news() or projector.woken.is_set():
            applied = projector.run_once()
            if applied or projector.status().last_error:
                _report(projector, applied)
        stop.wait(poll)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    # The composition root is imported only when running (it pulls in the SQLite store).
    from desktop_app.bootstrap import bootstrap
    from desktop_app.config import Settings

    settings = Settings(db_path=args.db, projector_batch=args.batch)
    try:
        app = bootstrap(settings, source="projector", create=False, projector_name=args.name)
    except StoreError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    try:
        projector = app.projector
        assert projector is not None
        _report(projector, projector.rebuild() if args.rebuild else projector.run_once())
        if args.once:
            return 1 if projector.status().failed_position is not None else 0
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        print("watching", flush=True)
        loop(projector, stop, args.poll)
        return 0
    finally:
        app.close()


if __name__ == "__main__":
    raise SystemExit(main())
