"""EventStore contract: the same behaviour from every implementation."""

from __future__ import annotations

import dataclasses
import itertools
import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from desktop_app.application.ports import (
    CommandIdReusedError,
    ConcurrencyError,
    Digest,
    StoredEvent,
)
from desktop_app.store.hashing import GENESIS_HASH
from tests.contract.conftest import Stores
from tests.fixtures.store_helpers import events, new_event


def test_empty_store(stores: Stores) -> None:
    es = stores.events
    assert es.head_position() == 0
    assert es.stream_version("order-1") == 0
    assert es.read_stream("order-1") == []
    assert es.read_all() == []
    assert list(es.iter_stream_ids()) == []
    result = es.verify()
    assert result.ok and result.checked == 0 and result.head_hash == GENESIS_HASH


def test_append_and_read_in_order(stores: Stores) -> None:
    es = stores.events
    r1 = es.append("order-1", 0, events(3))
    r2 = es.append("order-2", 0, events(2))
    r3 = es.append("order-1", 3, events(1))
    assert (r1.version, r1.first_position, r1.last_position, r1.duplicate) == (3, 1, 3, False)
    assert (r2.version, r2.first_position, r2.last_position) == (2, 4, 5)
    assert (r3.version, r3.first_position, r3.last_position) == (4, 6, 6)
    stream = es.read_stream("order-1")
    assert [e.version for e in stream] == [1, 2, 3, 4]
    assert [e.position for e in stream] == [1, 2, 3, 6]
    assert [e.payload for e in stream] == [{"i": 0}, {"i": 1}, {"i": 2}, {"i": 0}]
    assert es.stream_version("order-1") == 4
    assert es.stream_version("order-2") == 2
    assert es.head_position() == 6
    first = stream[0]
    assert isinstance(first, StoredEvent)
    assert first.type_name == "OrderPlaced" and first.schema_version == 1
    assert first.metadata.user == "clerk"
    assert (
        first.recorded_at.tzinfo is not None and first.recorded_at.utcoffset().total_seconds() == 0
    )
    assert first.prev_hash == GENESIS_HASH
    assert stream[1].prev_hash == first.hash


def test_chain_links_across_streams(stores: Stores) -> None:
    es = stores.events
    es.append("a", 0, events(2))
    es.append("b", 0, events(2))
    log = es.read_all()
    assert [e.position for e in log] == [1, 2, 3, 4]
    for prev, cur in itertools.pairwise(log):
        assert cur.prev_hash == prev.hash
    assert len({e.hash for e in log}) == 4


def test_expected_version_conflict(stores: Stores) -> None:
    es = stores.events
    es.append("order-1", 0, events(2))
    with pytest.raises(ConcurrencyError) as info:
        es.append("order-1", 1, events(1))
    assert info.value.expected == 1 and info.value.actual == 2
    with pytest.raises(ConcurrencyError) as info:
        es.append("order-new", 3, events(1))
    assert info.value.actual == 0
    with pytest.raises(ConcurrencyError):
        es.append("order-1", 0, events(1))  # a "new" stream that exists
    assert es.stream_version("order-1") == 2
    assert es.head_position() == 2


def test_concurrent_appends_win_exactly_once(stores: Stores) -> None:
    es = stores.events
    es.append("order-1", 0, events(1))
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            es.append("order-1", 1, events(2))
            outcome = "won"
        except ConcurrencyError:
            outcome = "lost"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["lost"] * 5 + ["won"]
    assert [e.version for e in es.read_stream("order-1")] == [1, 2, 3]
    assert es.verify().ok


def test_duplicate_command_id_writes_nothing(stores: Stores) -> None:
    es = stores.events
    first = es.append("order-1", 0, events(2), command_id="cmd-a")
    again = es.append("order-1", 0, events(2), command_id="cmd-a")
    assert again.duplicate and not first.duplicate
    assert (again.stream_id, again.version, again.first_position, again.last_position) == (
        first.stream_id,
        first.version,
        first.first_position,
        first.last_position,
    )
    # Even with a now-stale expected version the retry is recognised, not a conflict.
    assert es.append("order-1", 5, events(1), command_id="cmd-a").duplicate
    assert es.head_position() == 2
    found = es.find_command("cmd-a")
    assert found is not None and found.version == 2 and found.duplicate
    assert es.find_command("cmd-unknown") is None


def test_read_stream_ranges(stores: Stores) -> None:
    es = stores.events
    es.append("s", 0, events(5))
    assert [e.version for e in es.read_stream("s", from_version=2)] == [2, 3, 4, 5]
    assert [e.version for e in es.read_stream("s", to_version=3)] == [1, 2, 3]
    assert [e.version for e in es.read_stream("s", from_version=2, to_version=4)] == [2, 3, 4]
    assert es.read_stream("s", from_version=6) == []
    assert es.read_stream("s", from_version=4, to_version=3) == []


def test_read_all_batching(stores: Stores) -> None:
    es = stores.events
    for k in range(7):
        es.append(f"s{k % 3}", es.stream_version(f"s{k % 3}"), events(3))
    seen: list[int] = []
    after = 0
    while batch := es.read_all(after_position=after, limit=4):
        assert len(batch) <= 4
        seen.extend(e.position for e in batch)
        after = batch[-1].position
    assert seen == list(range(1, 22))
    assert es.read_all(after_position=21) == []
    assert es.read_all(limit=0) == []


def test_verify_and_progress(stores: Stores) -> None:
    es = stores.events
    for k in range(5):
        es.append(f"s{k}", 0, events(4))
    calls: list[tuple[int, int]] = []
    result = es.verify(progress=lambda done, total: calls.append((done, total)))
    assert result.ok and result.checked == 20 and result.head_position == 20
    assert result.first_bad_position is None and result.problem is None
    assert result.head_hash == es.read_all(after_position=19)[0].hash
    assert calls[0] == (0, 20) and calls[-1] == (20, 20)


def test_digest_round_trip(stores: Stores) -> None:
    es = stores.events
    es.append("s", 0, events(3))
    digest = es.digest()
    assert isinstance(digest, Digest)
    assert (digest.head_position, digest.event_count) == (3, 3)
    assert digest.taken_at.tzinfo is not None
    assert es.check_digest(digest).ok
    es.append("s", 3, events(2))  # a grown log still extends the digest
    assert es.check_digest(digest).ok
    bogus = Digest(head_position=3, head_hash="f" * 64, event_count=3, taken_at=digest.taken_at)
    bad = es.check_digest(bogus)
    assert not bad.ok and bad.first_bad_position == 3 and bad.problem
    ahead = Digest(head_position=9, head_hash="f" * 64, event_count=9, taken_at=digest.taken_at)
    bad = es.check_digest(ahead)
    assert not bad.ok and "shorter" in (bad.problem or "")
    empty = Digest(head_position=0, head_hash=GENESIS_HASH, event_count=0, taken_at=digest.taken_at)
    assert es.check_digest(empty).ok


def test_sequences(stores: Stores) -> None:
    es = stores.events
    assert [es.next_number("order") for _ in range(3)] == [1, 2, 3]
    assert es.next_number("invoice") == 1
    assert es.next_number("order") == 4
    assert es.next_number("order", 10) == 5  # a block 5..14
    assert es.next_number("order") == 15
    assert es.next_number("fresh", 3) == 1
    assert es.next_number("fresh") == 4
    with pytest.raises(ValueError):
        es.next_number("order", 0)


def test_decoded_events_equal_normally_built_records(stores: Stores) -> None:
    es = stores.events
    es.append("s", 0, events(2))
    for ev in es.read_stream("s") + es.read_all():
        assert ev == dataclasses.replace(ev)
        assert repr(ev).startswith("StoredEvent(position=")
        with pytest.raises(dataclasses.FrozenInstanceError):
            ev.version = 9  # type: ignore[misc]


def test_iter_stream_ids(stores: Stores) -> None:
    es = stores.events
    for sid in ["order-2", "customer-1", "order-1", "order-10", "product-1"]:
        es.append(sid, 0, events(2))
    assert list(es.iter_stream_ids("order-")) == ["order-1", "order-10", "order-2"]
    assert list(es.iter_stream_ids()) == [
        "customer-1",
        "order-1",
        "order-10",
        "order-2",
        "product-1",
    ]
    assert list(es.iter_stream_ids("zzz")) == []


def test_stored_payloads_are_immutable(stores: Stores) -> None:
    es = stores.events
    payload = {"lines": [{"sku": "A", "qty": 1}], "note": "x"}
    es.append("s", 0, [new_event(payload)])
    payload["note"] = "changed by caller"  # the caller's own dict after append
    payload["lines"][0]["qty"] = 99  # type: ignore[index]
    first = es.read_stream("s")[0]
    assert first.payload == {"lines": [{"sku": "A", "qty": 1}], "note": "x"}
    try:
        first.payload["note"] = "mutated read"  # type: ignore[index]
        first.payload["lines"][0]["qty"] = 5
    except TypeError:
        pass  # a frozen mapping is fine too
    assert es.read_stream("s")[0].payload == {"lines": [{"sku": "A", "qty": 1}], "note": "x"}
    assert es.read_all()[0].payload == {"lines": [{"sku": "A", "qty": 1}], "note": "x"}
    assert es.verify().ok


UNICODE_TEXTS = [
    "emoji 😀👩‍👩‍👧 and flags 🇩🇪",
    "right-to-left: שלום עולם مرحبا",
    "combining: e\u0301 a\u0308\u0304 Z\u0335\u0321",
    "caf\u00e9",  # NFC
    "cafe\u0301",  # NFD twin: must stay distinct
    "nul \x00 and controls \x07\x1b",
    "",
]


def test_unicode_round_trips_exactly(stores: Stores) -> None:
    es = stores.events
    payload = {f"k{i}": t for i, t in enumerate(UNICODE_TEXTS)}
    payload["nested"] = {"caf\u00e9": ["cafe\u0301"]}  # type: ignore[assignment]
    es.append("stream-ünïcödé-😀", 0, [new_event(payload)])
    back = es.read_stream("stream-ünïcödé-😀")[0].payload
    assert back == payload
    assert back["k3"] != back["k4"]
    assert back["k3"] == "caf\u00e9" and back["k4"] == "cafe\u0301"
    assert list(es.iter_stream_ids("stream-ü")) == ["stream-ünïcödé-😀"]
    assert es.verify().ok


def test_decimal_and_datetime_values_are_stored_canonically(stores: Stores) -> None:
    es = stores.events
    when = datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    es.append("s", 0, [new_event({"price": Decimal("4.50"), "at": when, "s": "4.50"})])
    back = es.read_stream("s")[0].payload
    assert back == {"price": "4.5", "at": "2024-01-02T03:04:05.000006Z", "s": "4.50"}


@pytest.mark.parametrize(
    "payload",
    [
        {"price": 4.5},
        {"nested": [1, {"x": 0.1}]},
        {1: "non-string key"},
        {"bad": "\ud800"},
        {"price": Decimal("NaN")},
    ],
)
def test_bad_payloads_are_refused_before_writing(stores: Stores, payload: dict) -> None:  # type: ignore[type-arg]
    es = stores.events
    with pytest.raises((TypeError, ValueError)):
        es.append("s", 0, [new_event(payload)])
    assert es.head_position() == 0


def test_bad_arguments_are_refused(stores: Stores) -> None:
    es = stores.events
    with pytest.raises(ValueError):
        es.append("s", 0, [])
    with pytest.raises(ValueError):
        es.append("", 0, events(1))
    with pytest.raises(ValueError):
        es.append("s", -1, events(1))
    same = new_event(event_id="dup")
    with pytest.raises(ValueError):
        es.append("s", 0, [same, same])
    assert es.head_position() == 0


def test_event_id_reuse_is_refused(stores: Stores) -> None:
    es = stores.events
    es.append("a", 0, [new_event(event_id="same-id")])
    with pytest.raises(Exception) as info:
        es.append("b", 0, [new_event(event_id="same-id")])
    assert type(info.value).__module__.startswith("desktop_app")
    assert es.head_position() == 1


def test_recorded_time_comes_from_the_clock_and_order_is_by_version(stores: Stores) -> None:
    es = stores.events
    t = datetime(2030, 1, 1, tzinfo=UTC)
    stores.clock._script = [t, datetime(2001, 1, 1, tzinfo=UTC), t]
    es.append("s", 0, events(1))
    es.append("s", 1, events(1))
    es.append("s", 2, events(1))
    stream = es.read_stream("s")
    assert [e.version for e in stream] == [1, 2, 3]
    assert [e.recorded_at.year for e in stream] == [2030, 2001, 2030]
    assert es.verify().ok


def test_read_stream_data_is_the_lean_read_stream(stores: Stores) -> None:
    es = stores.events
    assert es.read_stream_data("order-1") == []
    es.append("order-1", 0, events(3))
    es.append("order-2", 0, events(2))
    es.append("order-1", 3, events(2))
    full = es.read_stream("order-1")
    lean = es.read_stream_data("order-1")
    assert lean == [(e.version, e.type_name, e.schema_version, e.payload) for e in full]
    assert [v for v, *_ in es.read_stream_data("order-1", from_version=4)] == [4, 5]
    assert [v for v, *_ in es.read_stream_data("order-1", from_version=2, to_version=3)] == [2, 3]
    assert es.read_stream_data("order-1", from_version=6) == []
    assert es.read_stream_data("order-1", to_version=0) == []
    # Every read hands out fresh payload dicts: changing one changes nothing stored.
    first = es.read_stream_data("order-1")[0][3]
    assert isinstance(first, dict)
    first["i"] = 99
    assert es.read_stream_data("order-1")[0][3] == {"i": 0}


# --- freshness: what lets the aggregate cache skip its catch-up read ---------------------------


def test_stream_is_current_never_vouches_for_an_older_version(stores: Stores) -> None:
    es = stores.events
    assert not es.stream_is_current("order-1", 0)
    assert not es.stream_is_current("order-1", 1)
    es.append("order-1", 0, events(2))
    es.append("order-2", 0, events(1))
    # The store may answer "read to find out" (False) at any time; it may never say True for
    # anything but the newest version.
    assert not es.stream_is_current("order-1", 1)
    assert not es.stream_is_current("order-1", 3)
    assert not es.stream_is_current("order-3", 2)
    # After its own append a store knows: this is what makes the cache worth having.
    assert es.stream_is_current("order-1", 2)
    es.append("order-1", 2, events(1))
    assert not es.stream_is_current("order-1", 2)
    assert es.stream_is_current("order-1", 3)


def test_stream_is_current_sees_another_writer(stores: Stores) -> None:
    es, other = stores.events, stores.other_writer
    es.append("order-1", 0, events(1))
    es.append("order-2", 0, events(1))
    assert es.stream_is_current("order-1", 1)
    other.append("order-1", 1, events(1))
    assert not es.stream_is_current("order-1", 1)
    assert [v for v, *_ in es.read_stream_data("order-1", from_version=1)] == [1, 2]
    # Outside the stream too: the store may only vouch for what it can prove.
    other.append("order-3", 0, events(1))
    assert not es.stream_is_current("order-1", 1)


def test_a_read_epoch_never_outlives_its_end(stores: Stores) -> None:
    es, other = stores.events, stores.other_writer
    es.append("order-1", 0, events(1))
    es.begin_reads()
    es.begin_reads()  # epochs nest
    assert es.stream_is_current("order-1", 1)
    es.end_reads()
    assert es.stream_is_current("order-1", 1)
    es.end_reads()
    other.append("order-1", 1, events(1))
    # Outside any epoch every answer is fresh again; a new epoch starts from the store as is.
    assert not es.stream_is_current("order-1", 1)
    es.begin_reads()
    try:
        assert not es.stream_is_current("order-1", 1)
        assert es.stream_version("order-1") == 2
    finally:
        es.end_reads()


# --- R30: a command id reused for a different command ---------------------------------------


def test_same_id_same_fingerprint_is_a_duplicate(stores: Stores) -> None:
    es = stores.events
    first = es.append("order-1", 0, events(2), command_id="cmd-a", fingerprint="c1:aaa")
    again = es.append("order-1", 0, events(2), command_id="cmd-a", fingerprint="c1:aaa")
    assert again.duplicate and (again.version, again.last_position) == (2, first.last_position)
    # A stale expected version (the form reloaded after a conflict) is still the same command.
    assert es.append("order-1", 7, events(1), command_id="cmd-a", fingerprint="c1:aaa").duplicate
    found = es.find_command("cmd-a", fingerprint="c1:aaa")
    assert found is not None and found.duplicate and found.version == 2
    assert es.head_position() == 2


@pytest.mark.parametrize(("stream", "expected"), [("order-1", 2), ("order-1", 0), ("order-2", 0)])
def test_same_id_other_fingerprint_is_refused_and_writes_nothing(
    stores: Stores, stream: str, expected: int
) -> None:
    """Whichever way the append meets the recorded id (the unique key on a fitting version, the
    version check on a stale one, a new stream), other content is an error, not a duplicate."""
    es = stores.events
    es.append("order-1", 0, events(2), command_id="cmd-a", fingerprint="c1:aaa")
    head = es.digest()
    with pytest.raises(CommandIdReusedError, match="already used for a different change") as info:
        es.append(stream, expected, events(1), command_id="cmd-a", fingerprint="c1:bbb")
    assert info.value.command_id == "cmd-a"
    assert es.digest().head_hash == head.head_hash and es.head_position() == 2
    assert es.stream_version("order-2") == 0
    with pytest.raises(CommandIdReusedError):
        es.find_command("cmd-a", fingerprint="c1:bbb")
    # The record itself is unchanged: the first content is still a duplicate.
    assert es.append("order-1", 2, events(1), command_id="cmd-a", fingerprint="c1:aaa").duplicate


def test_an_unknown_fingerprint_on_either_side_is_a_duplicate(stores: Stores) -> None:
    """Records from before fingerprints were kept (and callers without one) cannot be told
    apart: they keep the old duplicate behaviour instead of refusing a genuine retry."""
    es = stores.events
    es.append("order-1", 0, events(1), command_id="old", fingerprint=None)
    assert es.append("order-1", 1, events(1), command_id="old", fingerprint="c1:x").duplicate
    es.append("order-2", 0, events(1), command_id="new", fingerprint="c1:y")
    assert es.append("order-2", 1, events(1), command_id="new").duplicate
    found = es.find_command("new")
    assert found is not None and found.duplicate
    assert es.head_position() == 2


@pytest.mark.parametrize(
    "command_id",
    ["", " ", "x" * 65, "a b", "line\nbreak", "Müller", "-leading-dash", "semi;colon", "\u200bzw"],
)
def test_command_ids_are_bounded(stores: Stores, command_id: str) -> None:
    es = stores.events
    with pytest.raises(ValueError, match="command id is not valid"):
        es.append("order-1", 0, events(1), command_id=command_id)
    assert es.head_position() == 0


def test_fingerprints_are_bounded(stores: Stores) -> None:
    es = stores.events
    with pytest.raises(ValueError, match="fingerprint"):
        es.append("order-1", 0, events(1), command_id="ok", fingerprint="f" * 81)
    with pytest.raises(ValueError, match="fingerprint"):
        es.append("order-1", 0, events(1), command_id="ok", fingerprint="")
    assert es.head_position() == 0
    longest = "a" * 64
    assert not es.append(
        "order-1", 0, events(1), command_id=longest, fingerprint="f" * 80
    ).duplicate


def test_iter_streams_gives_every_stream_in_id_order_with_positions(stores: Stores) -> None:
    es = stores.events
    assert list(es.iter_streams()) == []
    es.append("order-b", 0, events(2))
    es.append("customer-a", 0, events(1))
    es.append("order-b", 2, events(1, note="caf\u00e9"))
    es.append("order-a", 0, events(1))
    streams = list(es.iter_streams())
    assert [s for s, _ in streams] == ["customer-a", "order-a", "order-b"]
    rows = dict(streams)["order-b"]
    assert [(r[0], r[1]) for r in rows] == [(1, 1), (2, 2), (4, 3)]
    assert rows[2][2:] == ("OrderPlaced", 1, {"i": 0, "note": "caf\u00e9"})
