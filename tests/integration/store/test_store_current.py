"""``stream_is_current``: the aggregate cache's shortcut past the catch-up read.

It may only say "current" when nothing can have been appended to the stream since this
process's own append: any commit by another connection (another process, another app on the
same file) must turn it into "read to find out".
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from desktop_app.application import commands as c
from desktop_app.bootstrap import bootstrap
from desktop_app.config import Settings
from desktop_app.store.engine import Database, open_database
from desktop_app.store.event_store import SqliteEventStore
from tests.fixtures.store_helpers import events


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(tmp_path / "orders.sqlite3")
    yield database
    database.close()


def test_current_after_own_append_only_at_that_version(db: Database) -> None:
    store = SqliteEventStore(db)
    assert not store.stream_is_current("order-1", 0)
    store.append("order-1", 0, events(2))
    assert store.stream_is_current("order-1", 2)
    assert not store.stream_is_current("order-1", 1)
    assert not store.stream_is_current("order-1", 3)
    assert not store.stream_is_current("order-2", 2)
    store.append("order-2", 0, events(1))  # another stream on the same connection
    assert store.stream_is_current("order-1", 2)
    store.append("order-1", 2, events(1))
    assert not store.stream_is_current("order-1", 2)
    assert store.stream_is_current("order-1", 3)


def test_any_commit_by_another_connection_means_read(db: Database) -> None:
    store = SqliteEventStore(db)
    store.append("order-1", 0, events(1))
    other = sqlite3.connect(db.path, isolation_level=None)
    try:
        other.execute("INSERT INTO sequences (name, value) VALUES ('x', 1)")
    finally:
        other.close()
    assert not store.stream_is_current("order-1", 1)
    assert store.read_stream_data("order-1", from_version=1)[0][0] == 1


def test_second_store_on_the_same_database_is_seen(db: Database) -> None:
    first = SqliteEventStore(db)
    second = SqliteEventStore(db)  # same pooled connections: data_version cannot tell
    first.append("order-1", 0, events(1))
    second.append("order-1", 1, events(1))
    assert not first.stream_is_current("order-1", 1)
    assert first.stream_is_current("order-1", 2)


def test_a_read_epoch_reads_data_version_once_and_ends_with_its_command(db: Database) -> None:
    store = SqliteEventStore(db)
    store.append("order-1", 0, events(1))
    store.append("order-2", 0, events(1))
    store.begin_reads()
    assert store.stream_is_current("order-1", 1)  # reads data_version, remembered
    other = sqlite3.connect(db.path, isolation_level=None)
    try:
        other.execute("INSERT INTO sequences (name, value) VALUES ('x', 1)")
    finally:
        other.close()
    # Later reads of the same epoch see the store as of its first check...
    assert store.stream_is_current("order-2", 1)
    store.end_reads()
    # ...the next epoch (or a check outside any) sees the other connection's commit.
    store.begin_reads()
    assert not store.stream_is_current("order-2", 1)
    store.end_reads()
    assert not store.stream_is_current("order-1", 1)


def test_a_recorded_command_id_wins_over_a_version_or_event_id_clash(db: Database) -> None:
    store = SqliteEventStore(db)
    batch = events(2)
    first = store.append("order-1", 0, batch, command_id="cmd-1")
    # Same command again: the stream moved on (version clash)...
    again = store.append("order-1", 0, events(1), command_id="cmd-1")
    # ...or the expected version fits another stream but the event ids were recorded.
    elsewhere = store.append("order-2", 0, batch, command_id="cmd-1")
    # ...or everything else would be accepted.
    fresh = store.append("order-3", 0, events(1), command_id="cmd-1")
    for result in (again, elsewhere, fresh):
        assert result.duplicate
        assert (result.stream_id, result.version, result.last_position) == (
            first.stream_id,
            first.version,
            first.last_position,
        )
    assert store.stream_version("order-2") == 0
    assert store.stream_version("order-3") == 0
    assert store.head_position() == first.last_position


def test_failed_append_forgets_the_stream(db: Database) -> None:
    store = SqliteEventStore(db)
    store.append("order-1", 0, events(1))
    with pytest.raises(Exception):  # noqa: B017 - a version conflict
        store.append("order-1", 0, events(1))
    assert not store.stream_is_current("order-1", 1)
    assert store.stream_version("order-1") == 1


def test_cached_order_sees_lines_added_by_another_app(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite3"
    one = bootstrap(Settings(db_path=path), source="test")
    two = bootstrap(Settings(db_path=path), source="test", create=False)
    try:
        customer = one.commands.dispatch(c.RegisterCustomer(name="Acme")).aggregate_id
        product = one.commands.dispatch(
            c.AddProduct(sku="SKU-1", name="Widget", price=Decimal("2.50"), currency="EUR")
        ).aggregate_id
        order = one.commands.dispatch(
            c.PlaceOrder(customer_id=customer, lines=(c.LineInput(product_id=product, quantity=1),))
        ).aggregate_id
        # one's repository now caches the order at version 2 and the product at version 1
        two.commands.dispatch(c.ChangeProductPrice(product_id=product, price=Decimal("3.00")))
        two.commands.dispatch(
            c.AddOrderLine(order_id=order, line=c.LineInput(product_id=product, quantity=2))
        )
        result = one.commands.dispatch(
            c.AddOrderLine(order_id=order, line=c.LineInput(product_id=product, quantity=3))
        )
        assert result.version == 4  # caught up with two's line instead of conflicting
        loaded = one.deps.orders.load(order)
        prices = sorted(line.unit_price.amount for line in loaded.lines)
        assert prices == [Decimal("2.50"), Decimal("3.00"), Decimal("3.00")]
    finally:
        two.close()
        one.close()
