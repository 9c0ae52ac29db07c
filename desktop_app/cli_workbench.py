"""The auditor's workbench on the command line (issue 11): refused commands
(``desktop-app-admin rejections``) and the grey lines ``history`` prints between an order's
events. No Qt; everything through the query bus."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TextIO

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


def history_lines(
    entries: Sequence[HistoryEntry],
    rejections: Sequence[RecordedRejection],
    event_line: Any,
    stream: TextIO,
) -> Iterator[str]:
    """The order's events in version order, each refused command (grey on a terminal) placed
    by time before the first event recorded after it."""
    on, off = grey(stream)
    pending = list(rejections)
    index = 0
    for entry in entries:
        while index < len(pending) and pending[index].recorded_at < entry.recorded_at:
            yield f"{on}{rejection_line(pending[index])}{off}"
            index += 1
        yield str(event_line(entry))
    for recorded in pending[index:]:
        yield f"{on}{rejection_line(recorded)}{off}"


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


__all__ = [
    "add_workbench_commands",
    "history_lines",
    "order_rejections",
    "rejection_line",
]
