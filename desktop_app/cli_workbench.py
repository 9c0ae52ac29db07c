"""The auditor's workbench on the command line (issue 11): refused commands
(``desktop-app-admin rejections``) and the grey lines ``history`` prints between an order's
events; auditors' notes (``desktop-app-admin annotate``) and the note lines ``history`` prints
beside the events they annotate. No Qt; everything through the buses."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TextIO

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.application.ports import RecordedRejection
from desktop_app.application.queries import HistoryEntry
from desktop_app.bootstrap import App
from desktop_app.cli_support import EXIT_OK, CliError
from desktop_app.cli_support import open_app as _open

PAGE = 1000

_GREY, _RESET = "\x1b[90m", "\x1b[0m"


def local_time(when: datetime) -> str:
    """A stored time as the reader's local time, with its offset."""
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S %z")


def grey(stream: TextIO) -> tuple[str, str]:
    """ANSI grey for a terminal that wants colour (``NO_COLOR`` unset); nothing otherwise."""
    if stream.isatty() and not os.environ.get("NO_COLOR"):
        return _GREY, _RESET
    return "", ""


def rejection_line(recorded: RecordedRejection) -> str:
    """One refused command in ``history``: where a version would be, a dash."""
    r = recorded.rejection
    message = " ".join(r.message.split())
    return (
        f"{'-':>4}  {local_time(recorded.recorded_at)}  {r.user:<12}  "
        f"{'refused ' + r.command_type:<24}  {r.error_class}: {message}"
    )


def order_rejections(app: App, order_id: str) -> list[RecordedRejection]:
    """Every refused command aimed at one order, oldest first (all pages)."""
    found: list[RecordedRejection] = []
    after = 0
    while page := app.queries.ask(
        q.ListOrderRejections(order_id=order_id, after_id=after, limit=PAGE)
    ):
        found.extend(page)
        after = page[-1].rejection_id
    return found


def note_line(note: q.AuditNoteEntry) -> str:
    """One auditor's note, indented under what it annotates."""
    links = [f"note {note.note_id}"]
    if note.corrects:
        links.append(f"corrects {note.corrects}")
    if note.corrected_by:
        links.append(f"corrected by {', '.join(note.corrected_by)}")
    text = " / ".join(line.strip() for line in note.text.splitlines() if line.strip())
    return (
        f"{'':>4}  note {local_time(note.recorded_at)}  {note.metadata.user:<12}  "
        f"{text}  [{'; '.join(links)}]"
    )


def order_notes(app: App, order_id: str) -> list[q.AuditNoteEntry]:
    """The auditors' notes on one order, oldest first."""
    return app.queries.ask(q.GetOrderNotes(order_id=order_id))


HistoryItem = tuple[str, Any]
"""(kind, item): ("event", HistoryEntry), ("note", AuditNoteEntry) or ("rejection",
RecordedRejection)."""


def history_items(
    entries: Sequence[HistoryEntry],
    rejections: Sequence[RecordedRejection],
    notes: Sequence[q.AuditNoteEntry] = (),
) -> Iterator[HistoryItem]:
    """The order's notes on the whole order first, then its events in version order, each
    followed by the notes on it; each refused command placed by time before the first event
    recorded after it."""
    by_version: dict[int, list[q.AuditNoteEntry]] = {}
    for note in notes:
        by_version.setdefault(note.target_version, []).append(note)
    for note in by_version.pop(0, []):
        yield "note", note
    pending = list(rejections)
    index = 0
    for entry in entries:
        while index < len(pending) and pending[index].recorded_at < entry.recorded_at:
            yield "rejection", pending[index]
            index += 1
        yield "event", entry
        for note in by_version.pop(entry.version, []):
            yield "note", note
    for recorded in pending[index:]:
        yield "rejection", recorded
    for version in sorted(by_version):  # only when asked for part of the history
        for note in by_version[version]:
            yield "note", note


def history_lines(
    entries: Sequence[HistoryEntry],
    rejections: Sequence[RecordedRejection],
    event_line: Any,
    stream: TextIO,
    notes: Sequence[q.AuditNoteEntry] = (),
) -> Iterator[str]:
    """:func:`history_items` as text lines; refused commands grey on a terminal."""
    on, off = grey(stream)
    for kind, item in history_items(entries, rejections, notes):
        if kind == "event":
            yield str(event_line(item))
        elif kind == "note":
            yield note_line(item)
        else:
            yield f"{on}{rejection_line(item)}{off}"


def note_json(note: q.AuditNoteEntry) -> dict[str, Any]:
    """One auditor's note as a JSON object (``history --json``). ``notes_version`` is its
    version in the notes stream, ``target_version`` the order's event it is about (0: the
    order), so no consumer mistakes it for an order version."""
    return {
        "note_id": note.note_id,
        "order_id": note.order_id,
        "text": note.text,
        "target_version": note.target_version,
        "order_version": note.order_version,
        "corrects": note.corrects,
        "corrected_by": list(note.corrected_by),
        "position": note.position,
        "notes_version": note.version,
        "recorded_at": note.recorded_at.astimezone(UTC).isoformat(),
        "metadata": note.metadata.to_json(),
    }


def rejection_json(recorded: RecordedRejection) -> dict[str, Any]:
    """One refused command as a JSON object (``rejections --json``)."""
    r = recorded.rejection
    return {
        "rejection_id": recorded.rejection_id,
        "recorded_at": recorded.recorded_at.astimezone(UTC).isoformat(),
        "user": r.user,
        "host": r.host,
        "source": r.source,
        "app_version": r.app_version,
        "command_type": r.command_type,
        "command_id": r.command_id,
        "correlation_id": r.correlation_id,
        "stream_id": r.stream_id,
        "content": json.loads(r.content) if _is_json(r.content) else r.content,
        "error_class": r.error_class,
        "message": r.message,
    }


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def moment(text: str | None, option: str, *, end: bool = False) -> datetime | None:
    """``YYYY-MM-DD`` (a local day; for ``--until`` the day is included) or an ISO date and
    time (local when it names no offset)."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            if end:
                day += timedelta(days=1)
            return datetime.combine(day, time()).astimezone()
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CliError(
            f"{option} wants a date like 2026-12-31 or a time like 2026-12-31T14:30, "
            f"not {text[:40]!r}"
        ) from exc
    return value if value.tzinfo is not None else value.astimezone()


def cmd_rejections(args: argparse.Namespace) -> int:
    since = moment(args.since, "--since")
    until = moment(args.until, "--until", end=True)
    if since is not None and until is not None and until <= since:
        raise CliError("--until must be after --since")
    count = 0
    with _open(args.db, read_only=True) as app:
        after = 0
        while page := app.queries.ask(
            q.ListRejections(since=since, until=until, user=args.user, after_id=after, limit=PAGE)
        ):
            for recorded in page:
                count += 1
                if args.json:
                    print(json.dumps(rejection_json(recorded), ensure_ascii=False, sort_keys=True))
                    continue
                r = recorded.rejection
                message = " ".join(r.message.split())
                print(
                    f"#{recorded.rejection_id:<6} {local_time(recorded.recorded_at)}  "
                    f"{r.user}@{r.host}  {r.command_type}  {r.stream_id or '(no valid id)'}  "
                    f"{r.error_class}: {message}"
                )
            after = page[-1].rejection_id
    if not args.json:
        print(f"{count:,} refused command(s)", file=sys.stderr)
    return EXIT_OK


FindOrder = Callable[[App, str], str]
"""Turns an order id or number into an order id (``cli._find_order``)."""


def cmd_annotate(args: argparse.Namespace, find_order: FindOrder) -> int:
    if args.version is not None and args.version < 1:
        raise CliError("--version names an event of the order: 1 or more")
    if args.version is not None and args.position is not None:
        raise CliError("name the event by --version or by --position, not both")
    with _open(args.db) as app:
        order_id = find_order(app, args.order)
        command = c.AnnotateOrder(
            order_id=order_id,
            text=args.text,
            target_version=args.version,
            target_position=args.position,
            corrects=args.corrects,
        )
        result = app.commands.dispatch(command)
    where = f"event v{args.version}" if args.version else "the order"
    if args.position is not None:
        where = f"the event at position {args.position:,}"
    print(f"Note {command.note_id} added to {where} (notes stream v{result.version}).")
    return EXIT_OK


def add_workbench_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    """Add ``rejections`` to the admin CLI."""
    rejections = sub.add_parser(
        "rejections",
        parents=[common],
        help="list refused commands (who, when, what, why), oldest first",
    )
    rejections.add_argument("--since", metavar="WHEN", help="from this day or time (local)")
    rejections.add_argument(
        "--until", metavar="WHEN", help="up to this day (included) or before this time"
    )
    rejections.add_argument("--user", metavar="ACCOUNT", help="only this OS account's")
    rejections.add_argument("--json", action="store_true", help="one JSON object per line")
    rejections.set_defaults(run=cmd_rejections)


def add_annotate_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
    find_order: FindOrder,
) -> None:
    """Add ``annotate`` (``find_order(app, ref)`` turns an id or number into an order id)."""
    annotate = sub.add_parser(
        "annotate",
        parents=[common],
        help="attach an auditor's note to an order or one of its events (never edited)",
    )
    annotate.add_argument("order", metavar="ORDER", help="order id or number (SO-000123)")
    annotate.add_argument("--text", required=True, help="the note (required)")
    annotate.add_argument(
        "--version", type=int, metavar="N", help="the event's version (default: the order)"
    )
    annotate.add_argument(
        "--position", type=int, metavar="P", help="the event by its position in the log"
    )
    annotate.add_argument(
        "--corrects", metavar="NOTE_ID", help="the earlier note this one corrects"
    )
    annotate.set_defaults(run=lambda args: cmd_annotate(args, find_order))


__all__ = [
    "add_annotate_command",
    "add_workbench_commands",
    "history_items",
    "history_lines",
    "note_json",
    "order_rejections",
    "rejection_json",
    "rejection_line",
]
