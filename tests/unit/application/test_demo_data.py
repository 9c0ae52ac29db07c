"""The demo data: realistic, every status, snapshots, deterministic per seed, through the bus."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.demo_data import load_demo

from .helpers import MemoryApp, memory_app


def _load(orders: int, seed: int) -> tuple[MemoryApp, Any]:
    app = memory_app(snapshot_interval=50)
    summary = load_demo(app.commands, orders=orders, seed=seed, queries=app.queries)
    return app, summary


def _shape(app: MemoryApp) -> list[tuple[str, int, str, dict[str, Any]]]:
    """Every event without the ids the application itself generates (event and line ids of
    PlaceOrder lines)."""
    rows = []
    for event in app.events.read_all(limit=100_000):
        payload = {k: v for k, v in event.payload.items() if k != "line_id"}
        rows.append((event.stream_id, event.version, event.type_name, payload))
    return rows


def test_every_status_names_and_snapshots() -> None:
    progress: list[tuple[int, int]] = []
    app = memory_app(snapshot_interval=50)
    summary = load_demo(
        app.commands,
        orders=120,
        seed=7,
        queries=app.queries,
        progress=lambda done, total: progress.append((done, total)),
    )
    assert (summary.customers, summary.products, summary.orders) == (40, 60, 120)
    assert summary.events == app.events.head_position()
    assert summary.duplicates == 0
    assert progress[-1] == (220, 220)
    statuses = dict(summary.orders_by_status)
    assert set(statuses) == {"pending", "confirmed", "shipped", "delivered", "cancelled"}
    assert all(count > 0 for count in statuses.values())
    assert sum(statuses.values()) == 120

    order_streams = list(app.events.iter_stream_ids("order-"))
    assert len(order_streams) == 120
    found = Counter()
    longest = 0
    for stream in order_streams:
        order_id = stream.removeprefix("order-")
        state = app.queries.ask(q.GetOrderAtVersion(order_id=order_id)).state
        found[state["status"]] += 1
        longest = max(longest, app.events.stream_version(stream))
        if state["status"] == "cancelled":
            assert state["cancel_reason"]
    assert dict(found) == statuses
    assert 60 <= longest <= 120
    assert summary.long_orders >= 1
    snapshot_count = sum(len(app.snapshots.list_snapshots(stream)) for stream in order_streams)
    assert snapshot_count >= 1

    types = Counter(type_name for _, _, type_name, _ in _shape(app))
    for name in (
        "CustomerRenamed",
        "ProductRenamed",
        "ProductPriceChanged",
        "ProductDiscontinued",
        "OrderLineRemoved",
        "OrderLineQuantityChanged",
        "CustomerAddressChanged",
        "OrderNoteAdded",
    ):
        assert types[name] > 0, name
    names = {
        e.payload["name"]
        for e in app.events.read_all(limit=100_000)
        if e.type_name == "CustomerRegistered"
    }
    assert {"Müller GmbH", "Café Olé", "Łódź Trading"} <= names
    assert app.events.verify().ok


def test_same_seed_same_data_other_seed_other_data() -> None:
    first, _ = _load(15, seed=11)
    second, _ = _load(15, seed=11)
    third, _ = _load(15, seed=12)
    assert _shape(first) == _shape(second)
    assert _shape(first) != _shape(third)


def test_rerun_on_the_same_store_writes_nothing() -> None:
    app, summary = _load(10, seed=5)
    head = app.events.head_position()
    again = load_demo(app.commands, orders=10, seed=5, queries=app.queries)
    assert again.events == 0
    assert again.duplicates == again.commands == summary.commands
    assert app.events.head_position() == head


def test_without_the_query_bus_and_with_few_orders() -> None:
    app = memory_app()
    summary = load_demo(app.commands, orders=3, seed=1)
    assert summary.orders == 3
    assert len(list(app.events.iter_stream_ids("order-"))) == 3
    assert sum(1 for _, count in summary.orders_by_status if count) == 3


def test_demo_data_on_a_catalog_that_already_uses_its_skus() -> None:
    """SKUs are unique: demo data loaded into a catalog that already has every SKU this seed
    would pick still loads, giving its products other numbers."""
    reference, _ = _load(0, seed=3)
    skus = [
        e.payload["sku"] for e in reference.events.read_all(limit=100_000) if "sku" in e.payload
    ]
    app = memory_app()
    for sku in skus:
        app.commands.dispatch(
            c.AddProduct(sku=sku, name=f"Earlier {sku}", price=Decimal("1.00"), currency="EUR")
        )
    summary = load_demo(app.commands, orders=5, seed=3, queries=app.queries)
    assert summary.products == len(skus) == 60
    added = [
        e.payload["sku"]
        for e in app.events.read_all(limit=100_000)
        if e.type_name == "ProductAdded"
    ]
    assert len(added) == 120 and len(set(added)) == 120
