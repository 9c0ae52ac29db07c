"""Canonical bytes and the sha256 hash chain over the event log.

``hash = sha256(prev_hash_hex_ascii + canonical_bytes(event))``; the first event links to
:data:`GENESIS_HASH` (64 zeros).

Canonical rules (R14):

* one JSON object with keys ``event_id, metadata, payload, position, recorded_at,
  schema_version, stream_id, type_name, version``; all objects with keys sorted by code point,
  no whitespace (``separators=(",", ":")``), non-ASCII written as UTF-8 (``ensure_ascii=False``);
* every string (keys too) is NFC-normalised *for hashing only*; stored text stays exact;
* a ``Decimal`` is rendered as its plain numeric value without exponent or trailing zeros
  (``Decimal("4.50")``, ``Decimal("45E-1")`` and ``Decimal("4.5")`` all give the string
  ``"4.5"``); ``-0`` gives ``"0"``. The store writes that same string, so what is hashed is
  what is stored. A decimal *string* is text and is never reinterpreted: ``"4.50"`` stays
  ``"4.50"`` (the domain chooses the scale of its money strings);
* a ``datetime`` must be timezone-aware and becomes UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ``;
  ``recorded_at`` given as an ISO-8601 string in any offset is rendered the same way;
* floats, NaN, infinities and lone surrogates are refused (``ValueError``/``TypeError``).

Payload text written by the store is already in this form when it is NFC, so verification
hashes the stored text directly and only re-canonicalises the rare non-NFC payload.

Over 500 lines on purpose: the canonical byte rules (R14) are one specification and live together.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from json.encoder import encode_basestring  # has its own pure-Python fallback in json
from typing import Any

try:  # CPython's C encoder: undocumented, so it may go away; then the portable one is used.
    from json.encoder import c_make_encoder  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the Python build
    c_make_encoder = None

GENESIS_HASH = "0" * 64

_sha256 = hashlib.sha256
_is_nfc = unicodedata.is_normalized
_nfc = unicodedata.normalize


# ---------------------------------------------------------------------------- values


def decimal_text(value: Decimal) -> str:
    """The one spelling of a Decimal: plain notation, no exponent, no trailing zeros."""
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite number and cannot be stored")
    if value.is_zero():
        return "0"
    text = format(value.normalize(), "f")
    return text


def utc_text(value: datetime) -> str:
    """A timezone-aware datetime as UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    if value.tzinfo is UTC:
        # The clock's own readings: already UTC, so skip astimezone/replace (two new objects).
        return value.isoformat(timespec="microseconds")[:-6] + "Z"
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("a datetime must be timezone-aware to be stored or hashed")
    # isoformat is ~5x faster than strftime; year < 1000 is not a date this app records.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_utc(text: str) -> datetime:
    """Inverse of :func:`utc_text` (accepts any ISO-8601 offset; naive means UTC)."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def canonical_recorded_at(value: datetime | str) -> str:
    """``recorded_at`` in canonical form, from a datetime or an ISO-8601 string."""
    if isinstance(value, datetime):
        return utc_text(value)
    if len(value) == 27 and value.endswith("Z") and value[10] == "T":
        return value  # the form the store writes: skip parsing on the verify hot path
    return utc_text(parse_utc(value))


def _storage_default(value: object) -> object:
    """``json.dumps`` hook: the few non-JSON types the store accepts, in canonical spelling."""
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"a value of type {type(value).__name__} cannot be stored in an event")


_PLAIN = frozenset({str, int, bool, type(None)})


def check_json(value: object) -> None:
    """Refuse floats (money is never a float) and non-string keys anywhere in ``value``."""
    kind = type(value)
    if kind is dict:
        # The common case (every event payload): plain values are checked inline, only
        # nested or unusual ones recurse. Same checks, same order, same errors as below.
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str:
                raise TypeError(f"object keys must be strings, not {type(key).__name__}")
            if type(item) not in _PLAIN:
                check_json(item)
        return
    if kind is str or kind is int or kind is bool or value is None:
        return
    if kind is float:
        raise TypeError("floats cannot be stored: use a decimal string or Decimal")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError(f"object keys must be strings, not {type(key).__name__}")
            check_json(item)
        return
    if isinstance(value, list | tuple):
        for item in value:
            check_json(item)
        return
    if isinstance(value, Decimal | datetime | date):
        return
    raise TypeError(f"a value of type {kind.__name__} cannot be stored in an event")


def _quote(text: str) -> str:
    # json.dumps of one string (documented API): quotes and escapes exactly as the encoders do.
    return json.dumps(text, ensure_ascii=False)


def portable_json_text(value: object) -> str:
    """The storage JSON text of an already checked value, in pure Python with documented APIs
    only: the same text as the C encoder for everything :func:`check_json` accepts.

    Used when ``json.encoder.c_make_encoder`` is missing (an undocumented CPython detail) and
    tested against it. Sorted keys, no whitespace, non-ASCII kept, the store's spelling of
    Decimal and datetime (``_storage_default``), tuples and other mappings as lists and objects.
    """
    parts: list[str] = []
    _portable(value, parts.append)
    return "".join(parts)


def _portable(value: object, out: Callable[[str], object]) -> None:
    if isinstance(value, str):
        out(_quote(value))
    elif value is None:
        out("null")
    elif value is True:
        out("true")
    elif value is False:
        out("false")
    elif isinstance(value, int):
        out(int.__repr__(value))
    elif isinstance(value, float):  # refused by check_json; kept for the same text anyway
        out(json.dumps(value, allow_nan=False))
    elif isinstance(value, dict):
        if not value:
            out("{}")
            return
        out("{")
        for index, key in enumerate(sorted(value)):
            if index:
                out(",")
            out(_quote(key))
            out(":")
            _portable(value[key], out)
        out("}")
    elif isinstance(value, list | tuple):
        if not value:
            out("[]")
            return
        out("[")
        for index, item in enumerate(value):
            if index:
                out(",")
            _portable(item, out)
        out("]")
    else:
        _portable(_storage_default(value), out)


# The C encoder that json.JSONEncoder(sort_keys=True, separators=(",", ":"),
# ensure_ascii=False, allow_nan=False, default=_storage_default).encode would use, built once:
# encode builds it again on every call (~0.8 µs of ~3). No circular-reference markers, because
# check_json has already walked the whole value (a cycle never gets this far).
_c_storage_encode: Callable[[object, int], Sequence[str]] | None = (
    None
    if c_make_encoder is None
    else c_make_encoder(
        None, _storage_default, encode_basestring, None, ":", ",", True, False, False
    )
)


def c_json_text(value: object) -> str | None:
    """The storage JSON text of an already checked ``dict`` from CPython's C encoder, or None
    when this Python has none (then :func:`portable_json_text` gives the same text)."""
    if _c_storage_encode is None:
        return None
    return "".join(_c_storage_encode(value, 0))


def to_json_text(value: object) -> str:
    """Storage text: sorted keys, no whitespace, UTF-8 text; refuses floats and lone surrogates."""
    check_json(value)
    if _c_storage_encode is not None and type(value) is dict:
        text = "".join(_c_storage_encode(value, 0))
    else:
        text = portable_json_text(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("text contains invalid Unicode (a lone surrogate)") from exc
    return text


def _canonical_value(value: object) -> object:
    kind = type(value)
    if kind is str:
        return _nfc("NFC", value)  # type: ignore[arg-type]
    if kind is int or kind is bool or value is None:
        return value
    if kind is float:
        raise TypeError("floats cannot be hashed: use a decimal string or Decimal")
    if isinstance(value, Mapping):
        out: dict[str, object] = {}
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError(f"object keys must be strings, not {type(key).__name__}")
            norm = _nfc("NFC", key)
            if norm in out:
                raise ValueError(f"two keys are equal after Unicode normalisation: {norm!r}")
            out[norm] = _canonical_value(item)
        return out
    if isinstance(value, list | tuple):
        return [_canonical_value(item) for item in value]
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"a value of type {kind.__name__} cannot be hashed")


_canonical_encode = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode


def canonical_json(value: object) -> str:
    """Canonical JSON text of any accepted value (see the module docstring)."""
    return _canonical_encode(_canonical_value(value))


def canonical_from_text(text: str) -> str:
    """Canonical form of stored JSON text; the stored text itself when it is already NFC."""
    if _is_nfc("NFC", text):
        return text
    return canonical_json(json.loads(text))


# ---------------------------------------------------------------------------- events


def _enc(text: str) -> str:
    """A string as canonical JSON: NFC, then JSON-quoted (non-ASCII kept as UTF-8)."""
    return encode_basestring(_nfc("NFC", text))


def _event_text(
    event_id_c: str,
    metadata_c: str,
    payload_c: str,
    position: int,
    recorded_at_c: str,
    schema_version: int,
    stream_id_c: str,
    type_name_c: str,
    version: int,
) -> str:
    # Keys in sorted order, one f-string: this runs once per event in verify().
    return (
        f'{{"event_id":{event_id_c},"metadata":{metadata_c},"payload":{payload_c},'
        f'"position":{position},"recorded_at":"{recorded_at_c}",'
        f'"schema_version":{schema_version},"stream_id":{stream_id_c},'
        f'"type_name":{type_name_c},"version":{version}}}'
    )


def canonical_event_bytes(
    *,
    position: int,
    stream_id: str,
    version: int,
    event_id: str,
    type_name: str,
    schema_version: int,
    payload: Mapping[str, Any],
    metadata: Mapping[str, Any],
    recorded_at: datetime | str,
) -> bytes:
    """Canonical bytes of one event from Python values (any dict order, Decimal, tz)."""
    for name, number in (
        ("position", position),
        ("version", version),
        ("schema_version", schema_version),
    ):
        if type(number) is not int:
            raise TypeError(f"{name} must be an int")
    return _event_text(
        _enc(event_id),
        canonical_json(metadata),
        canonical_json(payload),
        position,
        canonical_recorded_at(recorded_at),
        schema_version,
        _enc(stream_id),
        _enc(type_name),
        version,
    ).encode("utf-8")


def chain_hash(prev_hash: str, canonical: bytes) -> str:
    """``sha256(prev_hash + canonical)`` as lowercase hex."""
    return _sha256(prev_hash.encode("ascii") + canonical).hexdigest()


def event_hash(
    *,
    prev_hash: str,
    position: int,
    stream_id: str,
    version: int,
    event_id: str,
    type_name: str,
    schema_version: int,
    payload: Mapping[str, Any],
    metadata: Mapping[str, Any],
    recorded_at: datetime | str,
) -> str:
    """Hash of one event from Python values: the reference implementation for R14."""
    return chain_hash(
        prev_hash,
        canonical_event_bytes(
            position=position,
            stream_id=stream_id,
            version=version,
            event_id=event_id,
            type_name=type_name,
            schema_version=schema_version,
            payload=payload,
            metadata=metadata,
            recorded_at=recorded_at,
        ),
    )


def row_hash(
    prev_hash: str,
    position: int,
    stream_id: str,
    version: int,
    event_id: str,
    type_name: str,
    schema_version: int,
    payload_text: str,
    metadata_text: str,
    recorded_at_text: str,
) -> str:
    """Hash of one stored row (texts as written by the store): the fast path."""
    text = _event_text(
        _enc(event_id),
        canonical_from_text(metadata_text),
        canonical_from_text(payload_text),
        position,
        canonical_recorded_at(recorded_at_text),
        schema_version,
        _enc(stream_id),
        _enc(type_name),
        version,
    )
    return _sha256(prev_hash.encode("ascii") + text.encode("utf-8")).hexdigest()


def row_hash_parts(
    stream_id: str,
    event_id: str,
    type_name: str,
    schema_version: int,
    payload_text: str,
    metadata_text: str,
    recorded_at_text: str,
) -> tuple[str, str]:
    """The canonical text :func:`row_hash` hashes, without the two numbers only known under
    the append lock: ``(head, tail)`` such that the text is
    ``head + str(position) + tail + str(version) + "}"``. A database server that hands out
    positions itself (PostgreSQL's append function) finishes the hash from these with
    :func:`hash_from_parts`'s formula, so both sides hash the very same bytes."""
    head = (
        f'{{"event_id":{_enc(event_id)},"metadata":{canonical_from_text(metadata_text)},'
        f'"payload":{canonical_from_text(payload_text)},"position":'
    )
    tail = (
        f',"recorded_at":"{canonical_recorded_at(recorded_at_text)}",'
        f'"schema_version":{schema_version},"stream_id":{_enc(stream_id)},'
        f'"type_name":{_enc(type_name)},"version":'
    )
    return head, tail


def hash_from_parts(prev_hash: str, head: str, position: int, tail: str, version: int) -> str:
    """``sha256`` over ``prev_hash + head + position + tail + version + "}"`` (UTF-8, hex):
    what :func:`row_hash` computes, from :func:`row_hash_parts`."""
    text = f"{prev_hash}{head}{position}{tail}{version}}}"
    return _sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------- verification

Row = tuple[int, str, int, str, str, int, str, str, str, str, str]
"""(position, stream_id, version, event_id, type_name, schema_version, payload, metadata,
recorded_at, prev_hash, hash) exactly as stored."""


@dataclass(slots=True)
class ChainProblem:
    """The first thing found wrong in the chain."""

    position: int
    problem: str


class ChainVerifier:
    """Feeds stored rows in position order; stops at the first problem.

    Shared by the SQLite and in-memory stores so both report identically.

    Each row first takes a fast path: the stored texts put into the canonical layout verbatim
    (ids only JSON-quoted). That is exactly the text :func:`row_hash` hashes when the whole of
    it is NFC (``isascii()`` first, the cheap common case) and ``recorded_at`` has the store's
    own spelling: an NFC stored text is hashed as stored, and no character of the layout
    composes or reorders with its neighbours, so the whole text is NFC exactly when every field
    is (``tests/unit/store/test_chain_verifier.py`` checks that against the Unicode database).
    Anything else (non-NFC text, another timestamp spelling, an unexpected type, a hash or link
    that does not match) is decided by the full per-row check, :func:`_check_row`, so the
    verdict and its wording are those of the full check for every row.
    """

    __slots__ = ("_versions", "checked", "head_hash", "head_position", "problem")

    def __init__(self) -> None:
        self.checked = 0
        self.head_position = 0
        self.head_hash = GENESIS_HASH
        self.problem: ChainProblem | None = None
        self._versions: dict[str, int] = {}

    def feed(self, rows: Iterable[Row]) -> bool:
        """Check a batch; False once a problem is found (then ``problem`` says what)."""
        if self.problem is not None:
            return False
        versions = self._versions
        get_version = versions.get
        quote = encode_basestring  # no NFC here: the whole text is checked below
        is_nfc = _is_nfc
        sha256 = _sha256
        head_pos = self.head_position
        head_hash = self.head_hash
        problem: ChainProblem | None = None
        for row in rows:
            (
                position,
                stream_id,
                version,
                event_id,
                type_name,
                schema_version,
                payload,
                metadata,
                recorded_at,
                prev_hash,
                stored_hash,
            ) = row
            if type(position) is not int or type(version) is not int or position != head_pos + 1:
                problem = _order_problem(position, version, head_pos)
                break
            try:
                text = (
                    f'{prev_hash}{{"event_id":{quote(event_id)},"metadata":{metadata},'
                    f'"payload":{payload},"position":{position},"recorded_at":"{recorded_at}",'
                    f'"schema_version":{schema_version},"stream_id":{quote(stream_id)},'
                    f'"type_name":{quote(type_name)},"version":{version}}}'
                )
                fast = (
                    prev_hash == head_hash
                    and type(payload) is str
                    and type(metadata) is str
                    and len(recorded_at) == 27
                    and recorded_at[10::16] == "TZ"
                    and (text.isascii() or is_nfc("NFC", text))
                    and sha256(text.encode()).hexdigest() == stored_hash
                )
            except (ValueError, TypeError):
                fast = False
            if not fast:
                problem = _check_row(row, head_pos, head_hash)
                if problem is not None:
                    break
            expected_version = get_version(stream_id, 0) + 1
            if version != expected_version:
                msg = (
                    f"version gap at event {position}: stream {stream_id!r} has version "
                    f"{version} where {expected_version} was expected"
                )
                problem = ChainProblem(position, msg)
                break
            versions[stream_id] = version
            head_pos = position
            head_hash = stored_hash
        self.checked += head_pos - self.head_position  # each accepted row advanced it by 1
        self.head_position = head_pos
        self.head_hash = head_hash
        self.problem = problem
        return problem is None


def _order_problem(position: object, version: object, head_pos: int) -> ChainProblem:
    """What is wrong with a row whose position or version is not the expected next number."""
    if type(position) is not int or type(version) is not int:
        msg = f"event after {head_pos} cannot be read (a number was altered)"
        return ChainProblem(head_pos + 1, msg)
    if position <= head_pos:
        msg = f"position {position} is out of order after {head_pos}"
        return ChainProblem(position, msg)
    msg = (
        f"position gap: event {head_pos + 1} is missing "
        f"(next event found is {position}); events were deleted"
    )
    return ChainProblem(head_pos + 1, msg)


def _check_row(row: Row, head_pos: int, head_hash: str) -> ChainProblem | None:
    """The full check of one row (its position already checked): the hash recomputed as
    :func:`row_hash` does (every text canonicalised; the fields taken in the order the
    verifier always took them, so a row with several bad fields names the same one), then the
    link to the previous event."""
    position, stream_id, version, event_id, type_name, schema_version = row[:6]
    payload, metadata, recorded_at, prev_hash, stored_hash = row[6:]
    try:
        stream_c = _enc(stream_id)
        type_c = _enc(type_name)
        metadata_c = canonical_from_text(metadata)
        recorded_at_c = canonical_recorded_at(recorded_at)
        text = _event_text(
            _enc(event_id),
            metadata_c,
            canonical_from_text(payload),
            position,
            recorded_at_c,
            schema_version,
            stream_c,
            type_c,
            version,
        )
        if type(prev_hash) is not str:  # e.g. a BLOB: reported, not an AttributeError
            raise TypeError(f"its previous hash is a {type(prev_hash).__name__}, not text")
        computed = _sha256(prev_hash.encode("ascii") + text.encode("utf-8")).hexdigest()
    except (ValueError, TypeError, UnicodeError) as exc:
        msg = f"event {position} cannot be read ({exc}); it was altered"
        return ChainProblem(position, msg)
    if computed != stored_hash:
        msg = f"hash mismatch at event {position}: its contents were altered after it was recorded"
        return ChainProblem(position, msg)
    if prev_hash != head_hash:
        msg = (
            f"broken link at event {position}: it does not follow event {head_pos} "
            "(events were removed, inserted or reordered)"
        )
        return ChainProblem(position, msg)
    return None
