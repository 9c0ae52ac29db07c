"""An event's metadata text written directly (``records.metadata_text``, the append's fast
path) is exactly the storage text of its dict (``to_json_text(meta.to_json())``): the same
bytes in the file, the same hash, the same refusal of a lone surrogate."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from desktop_app.application.ports import EventMetadata
from desktop_app.store.hashing import to_json_text
from desktop_app.store.records import metadata_text

texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)

AWKWARD = [
    "",
    "maria",
    'a "quoted" \\ back\\slash',
    "line\nbreak\ttab\r\x00\x1f\x7f",
    "\u2028\u2029",
    "Müller · 東京 · 🧾",
    "e\u0301",  # not NFC: stored as written (only the hash normalises)
    "</script>",
]


def _meta(**fields: object) -> EventMetadata:
    base: dict[str, object] = {
        "correlation_id": "corr-1",
        "causation_id": "cmd-1",
        "user": "clerk",
        "host": "desk-1",
        "app_version": "0.1.0",
        "source": "gui",
    }
    base.update(fields)
    return EventMetadata(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", AWKWARD)
@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(EventMetadata)])
def test_every_field_is_written_as_the_storage_encoder_writes_it(field: str, value: str) -> None:
    meta = _meta(**{field: value})
    assert metadata_text(meta) == to_json_text(meta.to_json())


@given(texts, texts, texts, texts, texts, texts)
def test_any_texts_give_the_storage_text(
    correlation: str, causation: str, user: str, host: str, version: str, source: str
) -> None:
    meta = EventMetadata(
        correlation_id=correlation,
        causation_id=causation,
        user=user,
        host=host,
        app_version=version,
        source=source,
    )
    assert metadata_text(meta) == to_json_text(meta.to_json())


def test_a_lone_surrogate_is_refused_as_the_storage_encoder_refuses_it() -> None:
    meta = _meta(user="bad\ud800")
    with pytest.raises(ValueError, match="lone surrogate"):
        to_json_text(meta.to_json())
    with pytest.raises(ValueError, match="lone surrogate"):
        metadata_text(meta)


def test_a_value_that_is_not_text_goes_the_general_way() -> None:
    class Name(str):
        pass

    for meta in (_meta(host=Name("desk-1")), _meta(user=7), _meta(source=1.5)):
        assert _outcome(metadata_text, meta) == _outcome(lambda m: to_json_text(m.to_json()), meta)
    assert _outcome(metadata_text, _meta(user=7)) == '{"app_version":"0.1.0",' + (
        '"causation_id":"cmd-1","correlation_id":"corr-1","host":"desk-1","source":"gui","user":7}'
    )
    assert _outcome(metadata_text, _meta(source=1.5))[0] is TypeError


def _outcome(encode: Callable[[EventMetadata], str], meta: EventMetadata) -> object:
    try:
        return encode(meta)
    except (TypeError, ValueError) as exc:
        return type(exc), str(exc)


def test_a_subclass_is_encoded_through_its_own_to_json() -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
    class Extended(EventMetadata):
        def to_json(self) -> dict[str, str]:
            return {**EventMetadata.to_json(self), "role": "clerk"}

    meta = Extended(
        correlation_id="c", causation_id="c", user="u", host="h", app_version="1", source="s"
    )
    assert metadata_text(meta) == to_json_text(meta.to_json())
    assert '"role":"clerk"' in metadata_text(meta)
