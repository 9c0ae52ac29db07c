"""The fingerprint of a command: a canonical hash of what it asks for (R30).

Stored with the command id, it tells a retry (same id, same content: answered with the first
result) from an id reused for another change (same id, other content: refused). It covers the
command's type and every field except the ones that are not content:

- ``command_id`` (it is the key the fingerprint is stored under) and ``correlation_id``
  (metadata that groups commands);
- ``expected_version``: the version the clerk was looking at is a precondition, not part of
  the change. A form keeps its command id across a conflict reload, which moves the version
  on; re-sending the same change after that must still count as the same command.

The canonical form is compact JSON with the keys in sorted order (``{"fields": …, "type":
…}``; a dataclass as an object of its fields, a ``Decimal`` as ``{"decimal": "4.50"}``, a
tuple as a list, a set as ``{"set": [sorted items]}``), encoded as UTF-8 and hashed with
SHA-256. It is built in sorted order, so no sorting is needed while encoding (every command
pays for this).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any

FINGERPRINT_PREFIX = "c1:"
"""Version tag of the canonical form, so it can change later without mixing formats."""

MAX_FINGERPRINT_LENGTH = 80
"""Longest fingerprint a store accepts (ours are 67 characters)."""

_NOT_CONTENT = frozenset({"command_id", "correlation_id", "expected_version"})

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

_quote: Callable[[str], str] = encode_basestring
"""A JSON string exactly as ``_encode`` writes it (``ensure_ascii=False``): the very function
``JSONEncoder.encode`` calls for a ``str``, without its Python-level wrapper (every text field
of every command is quoted)."""


_FIELD_NAMES: dict[tuple[type[Any], bool], tuple[str, ...] | None] = {}


def _field_names(cls: type[Any], top: bool) -> tuple[str, ...] | None:
    """The content fields of a dataclass type in sorted order; None for any other type
    (worked out once per type: every command pays for this lookup)."""
    key = (cls, top)
    try:
        return _FIELD_NAMES[key]
    except KeyError:
        pass
    names: tuple[str, ...] | None = None
    if dataclasses.is_dataclass(cls):
        ordered = sorted(f.name for f in dataclasses.fields(cls))
        names = tuple(n for n in ordered if not (top and n in _NOT_CONTENT))
    _FIELD_NAMES[key] = names
    return names


def _plain(value: object, top: bool = False) -> Any:
    """JSON-ready, keys in sorted order, a distinct shape per Python type."""
    kind = type(value)
    if value is None or kind is str or kind is int or kind is bool:
        return value
    if kind is Decimal:
        return {"decimal": str(value)}
    if kind is tuple or kind is list:
        return [_plain(item) for item in value]  # type: ignore[attr-defined]
    names = _field_names(kind, top)
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, frozenset | set):
        return {"set": sorted((_plain(item) for item in value), key=_encode)}
    return {"repr": repr(value)}


def canonical_text(command: object) -> str:
    """The canonical JSON the fingerprint hashes: ``_encode`` of ``{"fields": _plain(command,
    top=True), "type": <class name>}``, written directly (the same text, tested) so a command
    does not build the intermediate dicts and lists and run the encoder over them."""
    return '{"fields":' + _text(command, True) + ',"type":' + _quote(type(command).__name__) + "}"


def _text(value: object, top: bool = False) -> str:
    """``_encode(_plain(value, top))`` for the values commands hold; anything else goes the
    general way (JSON text of a part is the same inside a whole)."""
    kind = type(value)
    if kind is str:
        return _quote(value)  # type: ignore[arg-type]
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is Decimal:
        return '{"decimal":' + _quote(str(value)) + "}"
    if kind is tuple or kind is list:
        return "[" + ",".join([_text(item) for item in value]) + "]"  # type: ignore[attr-defined]
    plan = (_TOP_PLANS if top else _PLANS).get(kind)
    if plan is None:
        plan = _plan(kind, top)
    if plan is not _NOT_A_RECORD:
        parts = []
        for name, key in plan:
            item = getattr(value, name)
            # Ids and names, the most common field values, quoted here: no call per field.
            parts.append(key + (_quote(item) if type(item) is str else _text(item)))
        return "{" + ",".join(parts) + "}"
    return _encode(_plain(value, top))


_Plan = tuple[tuple[str, str], ...]
_NOT_A_RECORD: _Plan = (("", ""),)  # a marker: not a dataclass, so no plan
_PLANS: dict[type[Any], _Plan] = {}
_TOP_PLANS: dict[type[Any], _Plan] = {}


def _plan(kind: type[Any], top: bool) -> _Plan:
    """Per dataclass type: its content fields in sorted order with their JSON keys
    (``"name":``), worked out once."""
    names = _field_names(kind, top)
    plan = _NOT_A_RECORD if names is None else tuple((n, _quote(n) + ":") for n in names)
    (_TOP_PLANS if top else _PLANS)[kind] = plan
    return plan


def command_fingerprint(command: object) -> str:
    """``c1:`` + sha256 (hex) of the command's canonical JSON: type name and content fields."""
    text = canonical_text(command)
    return FINGERPRINT_PREFIX + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
