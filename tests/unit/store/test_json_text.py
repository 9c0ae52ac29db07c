"""Storage JSON text: the C encoder (an undocumented CPython detail) and the portable
pure-Python encoder give the very same text, so the hash chain never depends on which one ran."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop_app.domain.events import ALL_EVENTS, DomainEvent
from desktop_app.domain.serialization import to_payload
from desktop_app.store import hashing
from desktop_app.store.hashing import c_json_text, check_json, portable_json_text, to_json_text
from tests.unit.domain.strategies import events_of

ROOT = Path(__file__).resolve().parents[3]

texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)  # any valid text
datetimes = st.datetimes(
    min_value=datetime(1000, 1, 1), timezones=st.sampled_from([UTC, timezone(timedelta(hours=5))])
)
scalars = (
    texts
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.booleans()
    | st.none()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | datetimes
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(texts, inner, max_size=4)
    ),
    max_leaves=25,
)
objects = st.dictionaries(texts, json_values, max_size=6)


def reference(value: object) -> str:
    """What json.dumps (documented API) writes with the store's settings."""
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=hashing._storage_default,
    )


@settings(max_examples=300, deadline=None)
@given(objects)
def test_portable_and_c_encoders_write_the_same_text(value: dict[str, object]) -> None:
    check_json(value)
    portable = portable_json_text(value)
    assert portable == reference(value)
    c_text = c_json_text(value)
    if c_text is not None:  # this Python has the C encoder (CPython today)
        assert c_text == portable


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(ALL_EVENTS).flatmap(events_of))
def test_every_event_payload_has_one_text(event: DomainEvent) -> None:
    payload = to_payload(event)
    text = to_json_text(payload)
    assert portable_json_text(payload) == text
    assert json.loads(text) == payload


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_values_other_than_objects_go_the_portable_way(value: object) -> None:
    assert to_json_text(value) == reference(value)


def test_without_the_c_encoder_the_store_writes_the_same_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    payload = {
        "b": [1, True, None, 'é\u2028"\\', Decimal("4.50")],
        "a": {"z": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), "y": ()},
        "ünï": "\U0001f600\x00\x1f",
    }
    with_c = to_json_text(payload)
    monkeypatch.setattr(hashing, "_c_storage_encode", None)
    assert to_json_text(payload) == with_c
    with pytest.raises(ValueError, match="lone surrogate"):
        to_json_text({"a": "\ud800"})
    with pytest.raises(TypeError, match="floats"):
        to_json_text({"a": 1.5})


def test_a_python_without_c_make_encoder_imports_and_hashes_the_same(tmp_path: Path) -> None:
    """The day CPython drops ``json.encoder.c_make_encoder``: a real interpreter without it."""
    script = (
        "import json.encoder\n"
        "del json.encoder.c_make_encoder\n"
        "from desktop_app.store import hashing\n"
        "assert hashing.c_make_encoder is None and hashing.c_json_text({}) is None\n"
        "from decimal import Decimal\n"
        "print(hashing.to_json_text({'b': [1, Decimal('2.50'), 'é'], 'a': None}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    expected = to_json_text({"b": [1, Decimal("2.50"), "é"], "a": None})
    assert done.stdout.strip() == expected
