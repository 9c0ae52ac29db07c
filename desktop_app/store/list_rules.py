"""Rules of the order list that every read-model backend follows alike: how searches fold
text and what a keyset cursor holds. No SQL here (the in-memory fakes use it too)."""

from __future__ import annotations

import base64
import binascii
import json

from desktop_app.application.ports import InvalidCursorError


def fold(text: str) -> str:
    """The case-insensitive form searches compare (Unicode case folding)."""
    return text.casefold()


def encode_cursor(sort: str, descending: bool, value: object, order_id: str) -> str:
    """An opaque keyset cursor: the sort it belongs to and the last row's key."""
    raw = json.dumps([sort, descending, value, order_id], ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii")


def decode_cursor(cursor: str, sort: str, descending: bool) -> tuple[object, str]:
    """The (sort value, order id) in a cursor; refuses one made for another sort."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")).decode("utf-8"))
        c_sort, c_desc, value, order_id = data
    except (ValueError, TypeError, UnicodeError, binascii.Error) as exc:
        raise InvalidCursorError("The page cursor is not valid for this list.") from exc
    if c_sort != sort or c_desc != descending or not isinstance(order_id, str):
        raise InvalidCursorError("The page cursor belongs to another sort order.")
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise InvalidCursorError("The page cursor is not valid for this list.")
    return value, order_id
