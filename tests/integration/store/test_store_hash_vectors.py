"""R14: hashing is canonical. Golden vectors recomputed under every harmless variation."""

from __future__ import annotations

import copy
import hashlib
import json
import random
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from desktop_app.store.engine import open_database
from desktop_app.store.event_store import SqliteEventStore
from desktop_app.store.hashing import (
    GENESIS_HASH,
    canonical_json,
    decimal_text,
    event_hash,
    row_hash,
)
from tests.fixtures.store_helpers import StepClock, new_event

VECTORS = json.loads(
    (Path(__file__).parents[2] / "fixtures" / "hash_vectors.json").read_text(encoding="utf-8")
)["vectors"]


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


def _nfd(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFD", value)
    if isinstance(value, dict):
        return {_nfd(k): _nfd(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nfd(v) for v in value]
    return value


def _chain(events: list[dict[str, Any]]) -> list[str]:
    prev = GENESIS_HASH
    out = []
    for e in events:
        prev = event_hash(prev_hash=prev, **e)
        out.append(prev)
    return out


EXPECTED = [v["hash"] for v in VECTORS]
BASE = [v["event"] for v in VECTORS]


def test_vectors_recompute_exactly() -> None:
    assert _chain(copy.deepcopy(BASE)) == EXPECTED
    assert [v["prev_hash"] for v in VECTORS] == [GENESIS_HASH, *EXPECTED[:-1]]


def test_vectors_match_an_independent_formula() -> None:
    # The spec in plain words: sha256(prev_hash + json(sorted keys, no spaces, UTF-8)).
    prev = GENESIS_HASH
    for v in VECTORS:
        text = json.dumps(v["event"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert text == v["canonical"]
        prev = hashlib.sha256(prev.encode() + text.encode("utf-8")).hexdigest()
        assert prev == v["hash"]


@pytest.mark.parametrize("seed", range(5))
def test_dict_order_does_not_matter(seed: int) -> None:
    rng = random.Random(seed)
    assert _chain([_shuffled(copy.deepcopy(e), rng) for e in BASE]) == EXPECTED


def test_unicode_normalisation_does_not_matter() -> None:
    nfd = [_nfd(copy.deepcopy(e)) for e in BASE]
    assert nfd != BASE  # the vectors do contain composed characters
    assert _chain(nfd) == EXPECTED


@pytest.mark.parametrize(
    "offset",
    [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-9, minutes=-30))],
)
def test_time_zone_format_does_not_matter(offset: timezone) -> None:
    events = copy.deepcopy(BASE)
    for e in events:
        utc = datetime.fromisoformat(e["recorded_at"])
        e["recorded_at"] = utc.astimezone(offset)  # a datetime in another zone
    assert _chain(events) == EXPECTED
    strings = copy.deepcopy(BASE)
    for e in strings:
        utc = datetime.fromisoformat(e["recorded_at"])
        strings_form = utc.astimezone(offset).isoformat()  # "+02:00" style text
        e["recorded_at"] = strings_form
    assert _chain(strings) == EXPECTED


@pytest.mark.parametrize(
    "spelling",
    [Decimal("4.5"), Decimal("4.50"), Decimal("4.500"), Decimal("45E-1"), Decimal("0.45E1")],
)
def test_decimal_spelling_does_not_matter(spelling: Decimal) -> None:
    # Decision (documented in hashing.py): a Decimal hashes as its plain normalised value,
    # so every spelling of 4.5 hashes like the string "4.5" the vector stores.
    events = copy.deepcopy(BASE)
    events[1]["payload"]["line"]["unit_price"] = spelling
    events[1]["payload"]["line"]["amount"] = Decimal("13.50")
    assert _chain(events) == EXPECTED


def test_decimal_strings_are_text_and_never_reinterpreted() -> None:
    events = copy.deepcopy(BASE)
    events[1]["payload"]["line"]["unit_price"] = "4.50"  # a different text, a different event
    assert _chain(events)[1] != EXPECTED[1]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("0"), "0"),
        (Decimal("-0.00"), "0"),
        (Decimal("1E+3"), "1000"),
        (Decimal("-12.3400"), "-12.34"),
        (Decimal("0.000001"), "0.000001"),
    ],
)
def test_decimal_text(value: Decimal, text: str) -> None:
    assert decimal_text(value) == text


def test_refused_values() -> None:
    with pytest.raises(TypeError):
        canonical_json({"x": 1.5})
    with pytest.raises(ValueError):
        canonical_json({"x": Decimal("Infinity")})
    with pytest.raises(ValueError):
        canonical_json({"x": datetime(2024, 1, 1)})  # naive: which zone?
    with pytest.raises(ValueError):
        canonical_json({"caf\u00e9": 1, "cafe\u0301": 2})  # equal once normalised


def test_store_writes_hashes_the_reference_agrees_with(tmp_path: Path) -> None:
    db = open_database(tmp_path / "v.sqlite3")
    store = SqliteEventStore(db, clock=StepClock())
    store.append("s", 0, [new_event({"name": "cafe\u0301", "price": Decimal("4.50")})])
    store.append("s", 1, [new_event({"k": [1, 2, {"z": None, "a": True}]})])
    prev = GENESIS_HASH
    for e in store.read_all():
        expected = event_hash(
            prev_hash=prev,
            position=e.position,
            stream_id=e.stream_id,
            version=e.version,
            event_id=e.event_id,
            type_name=e.type_name,
            schema_version=e.schema_version,
            payload=e.payload,
            metadata=e.metadata.to_json(),
            recorded_at=e.recorded_at,
        )
        assert e.hash == expected
        prev = e.hash
    db.close()


def test_row_hash_fast_path_equals_reference() -> None:
    for v in VECTORS:
        e = v["event"]
        fast = row_hash(
            v["prev_hash"],
            e["position"],
            e["stream_id"],
            e["version"],
            e["event_id"],
            e["type_name"],
            e["schema_version"],
            json.dumps(e["payload"], sort_keys=True, separators=(",", ":"), ensure_ascii=False),
            json.dumps(e["metadata"], sort_keys=True, separators=(",", ":"), ensure_ascii=False),
            e["recorded_at"],
        )
        assert fast == v["hash"]
