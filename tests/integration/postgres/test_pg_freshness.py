"""What the server store knows about stream versions between commands (``stream_is_current``),
with another workstation appending at the same time.

The store brings what it knows forward by reading the log's tail since the head it knew (one
statement: the head and each later event's stream and version), so another workstation's
appends to OTHER streams no longer make it forget every stream, and a read to the end of a
stream (which brings the head along) teaches it that stream's version. It must still never
vouch for a version that is not the newest."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from desktop_app.store.postgres.database import PostgresDatabase, init_postgres, open_postgres
from desktop_app.store.postgres.event_store import _SYNC_LIMIT, PostgresEventStore
from tests.fixtures.store_helpers import events


@pytest.fixture
def two(pg_url: str) -> Iterator[tuple[PostgresEventStore, PostgresEventStore]]:
    """Two workstations' stores on one server database (two engines, two pools)."""
    init_postgres(pg_url)
    dbs: list[PostgresDatabase] = [open_postgres(pg_url), open_postgres(pg_url)]
    try:
        yield PostgresEventStore(dbs[0]), PostgresEventStore(dbs[1])
    finally:
        for db in dbs:
            db.close()


def test_appends_to_other_streams_do_not_make_a_known_stream_unknown(
    two: tuple[PostgresEventStore, PostgresEventStore],
) -> None:
    mine, other = two
    mine.append("order-1", 0, events(1))
    other.append("order-2", 0, events(3))
    other.append("order-3", 0, events(1))
    assert mine.stream_is_current("order-1", 1)
    assert not mine.stream_is_current("order-2", 2)
    other.append("order-1", 1, events(1))
    assert not mine.stream_is_current("order-1", 1)
    assert mine.stream_is_current("order-1", 2)  # learned from the tail it read
    mine.append("order-1", 2, events(1))
    assert mine.stream_is_current("order-1", 3)
    assert not mine.stream_is_current("order-1", 2)


def test_a_read_to_the_end_of_a_stream_teaches_its_version(
    two: tuple[PostgresEventStore, PostgresEventStore],
) -> None:
    mine, other = two
    mine.append("order-1", 0, events(1))
    other.append("customer-1", 0, events(2))
    assert not mine.stream_is_current("customer-1", 2)  # never seen: read to find out
    assert [v for v, *_ in mine.read_stream_data("customer-1", from_version=2)] == [2]
    assert mine.stream_is_current("customer-1", 2)
    # A read of a range that may stop short of the end teaches nothing.
    other.append("customer-2", 0, events(2))
    mine.read_stream_data("customer-2", to_version=1)
    assert not mine.stream_is_current("customer-2", 1)
    other.append("customer-1", 2, events(1))
    assert not mine.stream_is_current("customer-1", 2)


def test_within_a_read_epoch_the_first_check_reads_the_tail_once(
    two: tuple[PostgresEventStore, PostgresEventStore],
) -> None:
    mine, other = two
    mine.append("order-1", 0, events(1))
    mine.append("product-1", 0, events(1))
    mine.begin_reads()
    try:
        assert mine.stream_is_current("product-1", 1)
        other.append("order-1", 1, events(1))
        # As of the epoch's first check (the store may answer so until the epoch ends) …
        assert mine.stream_is_current("order-1", 1)
    finally:
        mine.end_reads()
    # … and never after it.
    assert not mine.stream_is_current("order-1", 1)
    mine.begin_reads()
    try:
        assert not mine.stream_is_current("order-1", 1)
        assert mine.stream_is_current("order-1", 2)
        assert mine.stream_is_current("product-1", 1)
    finally:
        mine.end_reads()


def test_a_tail_longer_than_the_limit_starts_afresh_and_vouches_for_nothing_old(
    two: tuple[PostgresEventStore, PostgresEventStore],
) -> None:
    mine, other = two
    mine.append("order-1", 0, events(1))
    mine.append("order-2", 0, events(1))
    for n in range(3):
        other.append(f"bulk-{n}", 0, events(_SYNC_LIMIT // 2 + 1))
    other.append("order-2", 1, events(1))
    assert not mine.stream_is_current("order-1", 1)  # forgotten, not wrong
    assert not mine.stream_is_current("order-2", 1)
    assert [v for v, *_ in mine.read_stream_data("order-2", from_version=2)] == [2]
    assert mine.stream_is_current("order-2", 2)
