"""The fingerprint of a command: a canonical hash of what it asks for (R30).

Stored with the command id, it tells a retry (same id, same content: answered with the first
result) from an id reused for another change (same id, other content: refused). It covers the
command's type and every field except the ones that are not content:

- ``command_id`` (it is the key the fingerprint is stored under) and ``correlation_id``
  (metadata that groups commands);
- ``expected_version``: the version the clerk was looking at is a precondition, not part of
  the change. A form keeps its command id across a conflict reload, which moves the version
  on; re-sending the same change after that must still count as the same command.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from decimal import Decimal
from functools import cache
from typing import Any

FINGERPRINT_PREFIX = "c1:"
"""Version tag of the canonical form, so it can change later without mixing formats."""

_NOT_CONTENT = frozenset({"command_id", "correlation_id", "expected_version"})


@cache
def _field_names(cls: type[Any], top: bool) -> tuple[str, ...]:
    names = tuple(f.name for f in dataclasses.fields(cls))
    return tuple(n for n in names if n not in _NOT_CONTENT) if top else names


def _plain(value: object, top: bool = False) -> Any:
    """JSON-ready, with a distinct shape per Python type (``Decimal("1")`` is not ``"1"``)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: _plain(getattr(value, name)) for name in _field_names(type(value), top)}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, frozenset | set):
        return {"set": sorted((_plain(item) for item in value), key=_canonical)}
    return {"repr": repr(value)}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def command_fingerprint(command: object) -> str:
    """``c1:`` + sha256 (hex) of the command's canonical JSON: type name and content fields."""
    body = {"type": type(command).__name__, "fields": _plain(command, top=True)}
    digest = hashlib.sha256(_canonical(body).encode("utf-8", "surrogatepass")).hexdigest()
    return FINGERPRINT_PREFIX + digest


MAX_FINGERPRINT_LENGTH = 80
"""Longest fingerprint a store accepts (ours are 67 characters)."""
