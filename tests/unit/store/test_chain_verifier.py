"""ChainVerifier's fast path (stored texts hashed verbatim when that is provably the canonical
text) must reach exactly the verdict of the full per-row check: same first bad position, same
kind of problem, same count — on sound chains and on every kind of altered or forged row."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable
from json.encoder import encode_basestring
from typing import Any

import pytest

from desktop_app.store.hashing import GENESIS_HASH, ChainVerifier, row_hash

TS = "2024-05-01T09:00:03.000001Z"
META = '{"causation_id":"c-1","user":"bench"}'

# (stream_id, event_id, type_name, payload, metadata, recorded_at) of a sound chain: ASCII
# rows, non-ASCII NFC rows, and rows the canonical rules rewrite before hashing (non-NFC
# text, a timestamp in another spelling) — all hashed by row_hash, so all sound.
_SPECS: list[tuple[str, str, str, str, str, str]] = [
    ("order-1", "e1", "OrderPlaced", '{"n":1}', META, TS),
    ("order-1", "e2", "OrderLineAdded", '{"name":"Société 0 & Co"}', META, TS),
    ("order-2", "e3", "OrderPlaced", '{"name":"cafe\u0301"}', META, TS),  # NFD payload
    ("customer-ü", "e4", "CustomerRegistered", '{"n":2}', META, TS),
    ("order-2", "e5", "OrderLineAdded", "{}", '{"user":"Kova\u0301cs"}', TS),  # NFD metadata
    ("order-1", "e6", "OrderConfirmed", '{"n":3}', META, "2024-05-01T11:00:03.000001+02:00"),
    ("order-3", 'quote"back\\slash', "T", '{"n":4}', META, TS),
    ("order-3", "ctl\x01\n", "T", '{"s":"\\u0000"}', "{}", TS),
    ("stre\u0301am", "e9", "T\u0301", '{"emoji":"😀👩‍👩‍👧"}', META, TS),  # NFD ids
    ("order-1", "e10", "OrderShipped", '{"n":5}', META, "2024-05-01 09:00:03.000001Z"),
    ("order-2", "e11", "OrderConfirmed", '{"n":6}', "{}", TS),
    ("order-4", "e12", "OrderPlaced", '{"quantity":3,"unit_price":{"amount":"4.50"}}', META, TS),
]


def _chain() -> list[list[Any]]:
    rows: list[list[Any]] = []
    prev = GENESIS_HASH
    versions: dict[str, int] = {}
    for position, (stream_id, event_id, type_name, payload, meta, ts) in enumerate(_SPECS, 1):
        version = versions[stream_id] = versions.get(stream_id, 0) + 1
        row: list[Any] = [position, stream_id, version, event_id, type_name, 1, payload, meta, ts]
        digest = row_hash(prev, *row)
        rows.append([*row, prev, digest])
        prev = digest
    return rows


def _verbatim_hash(row: list[Any]) -> str:
    """A forger's hash: the stored values put into the canonical layout verbatim (no NFC, no
    timestamp rewriting, any type formatted as it comes) — what the fast path hashes."""
    (position, stream_id, version, event_id, type_name, schema, payload, meta, ts, prev) = row[:10]
    text = (
        f'{prev}{{"event_id":{encode_basestring(str(event_id))},"metadata":{meta},'
        f'"payload":{payload},"position":{position},"recorded_at":"{ts}",'
        f'"schema_version":{schema},"stream_id":{encode_basestring(str(stream_id))},'
        f'"type_name":{encode_basestring(str(type_name))},"version":{version}}}'
    )
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _relink(rows: list[list[Any]], start: int, hasher: Callable[[list[Any]], str]) -> None:
    """Rewrite hashes from index ``start`` on (that row with ``hasher``), as a forger would."""
    for index in range(start, len(rows)):
        if index > start:
            rows[index][9] = rows[index - 1][10]
        if index == start:
            rows[index][10] = hasher(rows[index])
        else:
            try:
                rows[index][10] = row_hash(rows[index][9], *rows[index][:9])
            except (TypeError, ValueError):
                rows[index][10] = _verbatim_hash(rows[index])


def _reference(rows: list[list[Any]]) -> tuple[int, int | None, str]:
    """The full per-row check, written out plainly: (checked, first bad position, kind)."""
    head_pos, head_hash = 0, GENESIS_HASH
    versions: dict[object, int] = {}
    for checked, row in enumerate(rows):
        position, stream_id, version = row[0], row[1], row[2]
        if type(position) is not int or type(version) is not int:
            return checked, head_pos + 1, "cannot be read"
        if position <= head_pos:
            return checked, position, "out of order"
        if position > head_pos + 1:
            return checked, head_pos + 1, "position gap"
        try:
            computed = row_hash(row[9], *row[:9])
        except (TypeError, ValueError, UnicodeError, AttributeError):  # (a BLOB prev_hash)
            return checked, position, "cannot be read"
        if computed != row[10]:
            return checked, position, "hash mismatch"
        if row[9] != head_hash:
            return checked, position, "broken link"
        if version != versions.get(stream_id, 0) + 1:
            return checked, position, "version gap"
        versions[stream_id] = version
        head_pos, head_hash = position, row[10]
    return len(rows), None, ""


def _verify(rows: list[list[Any]], batch: int) -> tuple[int, int | None, str]:
    verifier = ChainVerifier()
    tuples = [tuple(row) for row in rows]
    for start in range(0, len(tuples), batch):
        if not verifier.feed(tuples[start : start + batch]):
            break
    problem = verifier.problem
    if problem is None:
        assert verifier.head_position == (rows[-1][0] if rows else 0)
        assert verifier.head_hash == (rows[-1][10] if rows else GENESIS_HASH)
        return verifier.checked, None, ""
    assert not verifier.feed([])  # stays stopped
    kinds = (
        "cannot be read",
        "out of order",
        "position gap",
        "hash mismatch",
        "broken link",
        "version gap",
    )
    kind = next(k for k in kinds if k in problem.problem)
    return verifier.checked, problem.position, kind


def _nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def _set(index: int, column: int, value: object) -> Callable[[list[list[Any]]], None]:
    def change(rows: list[list[Any]]) -> None:
        rows[index][column] = value

    return change


def _forge(index: int, column: int, value: object) -> Callable[[list[list[Any]]], None]:
    """Change a value and forge a verbatim hash for it (re-linking the rest of the chain)."""

    def change(rows: list[list[Any]]) -> None:
        rows[index][column] = value
        _relink(rows, index, _verbatim_hash)

    return change


def _forge_canonical(index: int, column: int, value: object) -> Callable[[list[list[Any]]], None]:
    """Change a value and recompute the chain properly from there (a thorough forger)."""

    def change(rows: list[list[Any]]) -> None:
        rows[index][column] = value
        _relink(rows, index, lambda row: row_hash(row[9], *row[:9]))

    return change


def _delete(index: int) -> Callable[[list[list[Any]]], None]:
    def change(rows: list[list[Any]]) -> None:
        del rows[index]

    return change


def _swap(a: int, b: int) -> Callable[[list[list[Any]]], None]:
    def change(rows: list[list[Any]]) -> None:
        rows[a], rows[b] = rows[b], rows[a]

    return change


CASES: dict[str, Callable[[list[list[Any]]], None] | None] = {
    "sound": None,
    "payload byte": _set(3, 6, '{"n":3}'),
    "metadata": _set(0, 7, '{"user":"mallory"}'),
    "timestamp": _set(4, 8, "2020-01-01T00:00:00.000000Z"),
    "same instant respelled": _set(0, 8, "2024-05-01T09:00:03.000001+00:00"),
    "same instant, space for T": _set(1, 8, "2024-05-01 09:00:03.000001Z"),
    "forged respelled timestamp": _forge(1, 8, "2024-05-01T09:00:03.000001+00:00"),
    "forged timestamp, space for T": _forge(0, 8, "2024-05-01 09:00:03.000001Z"),
    "forged empty timestamp": _forge(0, 8, ""),
    "forged non-ASCII timestamp": _forge(0, 8, "2024-05-01T09:00:03.00000é1Z"),
    "forged NFD timestamp": _forge(0, 8, "2024-05-01T09:00:03.0000e\u03011Z"),
    "forged NFD payload": _forge(1, 6, _nfd('{"name":"Société 0 & Co"}')),
    "forged NFD metadata": _forge(0, 7, _nfd('{"user":"Kovács"}')),
    "forged NFD stream id": _forge(3, 1, _nfd("customer-ü")),
    "forged NFD event id": _forge(0, 3, "e\u0301"),
    "forged NFD type name": _forge(0, 4, "Orde\u0301r"),
    "forged leading combining mark": _forge(0, 6, '\u0301{"n":1}'),
    "forged int payload": _forge(0, 6, 5),
    "forged None metadata": _forge(0, 7, None),
    "forged bytes payload": _forge(0, 6, b'{"n":1}'),
    "forged int event id": _forge(0, 3, 7),
    "forged int stream id": _forge(2, 1, 7),
    "forged int type name": _forge(0, 4, 7),
    "forged bytes timestamp": _forge(0, 8, TS.encode()),
    "forged lone surrogate": _forge(0, 6, '{"s":"\ud800"}'),
    "forged text schema version": _forge(0, 5, "1"),
    "forged float schema version": _forge(0, 5, 1.0),
    "text position": _set(2, 0, "3"),
    "float position": _set(2, 0, 3.0),
    "bool position": _set(0, 0, True),
    "text version": _set(2, 2, "1"),
    "bool version": _set(0, 2, True),
    "forged non-ASCII prev hash": _forge(2, 9, "é" * 64),
    "bytes prev hash": _set(0, 9, GENESIS_HASH.encode()),
    "bytes stored hash": lambda rows: rows[0].__setitem__(10, rows[0][10].encode()),
    "upper-case stored hash": lambda rows: rows[0].__setitem__(10, rows[0][10].upper()),
    "forged timestamp with a trailing Z": _forge(0, 8, TS + "Z"),
    "forged bad link": _forge_canonical(5, 9, "1" * 64),
    "forged bad link on a plain row": _forge_canonical(10, 9, "1" * 64),
    "forged genesis link": _forge_canonical(0, 9, "1" * 64),
    "forged version gap": _forge_canonical(4, 2, 3),
    "forged repeated version": _forge_canonical(10, 2, 1),
    "forged changed payload": _forge_canonical(6, 6, '{"n":40}'),
    "deleted row": _delete(5),
    "deleted first row": _delete(0),
    "swapped rows": _swap(3, 8),
}


@pytest.mark.parametrize("batch", [1, 2, 5, 100])
@pytest.mark.parametrize("case", list(CASES))
def test_fast_path_agrees_with_the_full_check(case: str, batch: int) -> None:
    rows = _chain()
    change = CASES[case]
    if change is not None:
        change(rows)
    expected = _reference(rows)
    assert _verify(rows, batch) == expected
    if case == "sound":
        assert expected == (len(_SPECS), None, "")


def test_the_cases_cover_both_verdicts() -> None:
    """The table is not vacuous: some altered rows still verify (a harmless respelling, a
    thorough rewrite) and the forged ones do not."""
    verdicts = {}
    for case, change in CASES.items():
        rows = _chain()
        if change is not None:
            change(rows)
        verdicts[case] = _reference(rows)[2]
    assert verdicts["same instant respelled"] == ""
    assert verdicts["forged text schema version"] == ""  # formatted the same: not a change
    assert verdicts["forged changed payload"] == ""  # needs a digest (R13)
    assert verdicts["forged respelled timestamp"] == "hash mismatch"
    assert verdicts["forged NFD payload"] == "hash mismatch"
    assert verdicts["forged int payload"] == "cannot be read"
    assert verdicts["forged empty timestamp"] == "cannot be read"
    assert verdicts["forged bad link"] == "broken link"
    assert verdicts["forged version gap"] == "version gap"


def test_problem_texts_are_those_of_the_full_check() -> None:
    rows = _chain()
    _forge_canonical(5, 9, "1" * 64)(rows)
    verifier = ChainVerifier()
    assert not verifier.feed([tuple(row) for row in rows])
    assert verifier.problem is not None
    assert verifier.problem.problem == (
        "broken link at event 6: it does not follow event 5 "
        "(events were removed, inserted or reordered)"
    )
    assert verifier.checked == 5 and verifier.head_position == 5

    rows = _chain()
    _forge(0, 6, 5)(rows)
    verifier = ChainVerifier()
    assert not verifier.feed([tuple(row) for row in rows])
    assert verifier.problem is not None
    assert verifier.problem.problem.startswith("event 1 cannot be read (")
    assert verifier.problem.problem.endswith("); it was altered")


_SEPARATORS = '{}":,-0123456789'
"""Every character the canonical layout puts between stored texts (and the digits of its
numbers)."""


def test_layout_characters_split_nfc_checks() -> None:
    """The fast path checks NFC once over the whole canonical text instead of per field. That
    is the same check because no character of the layout takes part in any canonical
    composition or reordering: each is a starter (combining class 0) and appears in no
    two-character canonical decomposition."""
    pairs: set[str] = set()
    for code in range(0x110000):
        decomposition = unicodedata.decomposition(chr(code))
        if decomposition and not decomposition.startswith("<"):
            parts = decomposition.split()
            if len(parts) == 2:
                pairs.update(chr(int(part, 16)) for part in parts)
    for char in _SEPARATORS:
        assert unicodedata.combining(char) == 0
        assert char not in pairs


@pytest.mark.parametrize("spec", _SPECS)
@pytest.mark.parametrize(("position", "version"), [(1, 1), (9, 3), (1_234_567, 10_001)])
def test_row_hash_parts_finish_to_the_same_hash(
    spec: tuple[str, str, str, str, str, str], position: int, version: int
) -> None:
    """The server's append function hashes ``prev + head + position + tail + version + '}'``
    from the parts the client sends: for every kind of text that is the row_hash."""
    from desktop_app.store.hashing import hash_from_parts, row_hash_parts

    stream_id, event_id, type_name, payload, metadata, recorded_at = spec
    head, tail = row_hash_parts(stream_id, event_id, type_name, 2, payload, metadata, recorded_at)
    prev = hashlib.sha256(b"prev").hexdigest()
    expected = row_hash(
        prev, position, stream_id, version, event_id, type_name, 2, payload, metadata, recorded_at
    )
    assert hash_from_parts(prev, head, position, tail, version) == expected
