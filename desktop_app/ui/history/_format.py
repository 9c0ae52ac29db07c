"""Text helpers of the history and snapshot views.

Times and numbers go through ``desktop_app.ui.formatting`` (the one place values become text);
what it does not cover yet (UTC times for auditors, byte sizes, JSON values) is here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime

from desktop_app.ui import formatting

_TIME = "%Y-%m-%d %H:%M:%S"


def local_time(moment: datetime | None) -> str:
    """A recorded UTC time in the workstation's local time zone."""
    if moment is None:
        return "—"
    return formatting.format_datetime(moment, seconds=True)


def utc_time(moment: datetime | None) -> str:
    """A recorded time in UTC, labelled."""
    if moment is None:
        return "—"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(_TIME) + " UTC"


def count(number: int) -> str:
    """A whole number with thousands separators."""
    return formatting.format_int(number)


def size(size_bytes: int) -> str:
    """A byte count for people."""
    if size_bytes < 1024:
        return f"{size_bytes} B"
    if size_bytes < 1024 * 1024:
        return f"{size_bytes / 1024:.1f} KB"
    return f"{size_bytes / (1024 * 1024):.1f} MB"


def short_id(identifier: str) -> str:
    """The first 8 characters of an id (enough to tell commands apart on screen)."""
    return identifier[:8] if identifier else "—"


def value(data: object) -> str:
    """A JSON value as one line: strings as they are, None as a dash, records compact."""
    if data is None:
        return "—"
    if isinstance(data, bool):
        return "yes" if data else "no"
    if isinstance(data, str):
        return data if data else "“”"
    if isinstance(data, int):
        return str(data)
    if isinstance(data, Mapping):
        # Readable fields first, ids last: "sku: MUG-1, quantity: 3, …, line_id: 7a18…".
        keys = sorted(data, key=lambda k: str(k).endswith("_id") or str(k) == "id")
        return ", ".join(f"{k}: {_inner(data[k])}" for k in keys)
    if isinstance(data, list | tuple):
        return "[" + ", ".join(_inner(item) for item in data) + "]"
    return str(data)


def _inner(data: object) -> str:
    if isinstance(data, Mapping | list | tuple):
        return json.dumps(data, ensure_ascii=False, separators=(", ", ": "), default=str)
    return value(data)
