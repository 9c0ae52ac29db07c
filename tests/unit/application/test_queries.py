"""Queries over the event store: history, state at a version, diff, actions, verify."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.application.buses import UnknownMessageError
from desktop_app.application.repository import NotFoundError
from desktop_app.domain.errors import DomainError

from .helpers import MemoryApp, World


@pytest.fixture
def order_id(world: World) -> str:
    order_id = world.place(2)
    line = world.line_ids(order_id)[0]
    world.send(c.ChangeLineQuantity(order_id=order_id, line_id=line, quantity=5))
    world.send(c.ConfirmOrder(order_id=order_id))
    world.send(c.ShipOrder(order_id=order_id, tracking_number="1Z42", carrier="UPS"))
    return order_id


def test_history_in_version_order_with_summaries(app: MemoryApp, order_id: str) -> None:
    history = app.queries.ask(q.GetOrderHistory(order_id=order_id))
    assert [e.version for e in history] == [1, 2, 3, 4, 5]
    assert [e.type_name for e in history] == [
        "OrderPlaced",
        "OrderLineAdded",
        "OrderLineQuantityChanged",
        "OrderConfirmed",
        "OrderShipped",
    ]
    number = history[0].payload["order_number"]
    assert history[0].summary == f"Placed order {number} for Müller GmbH (EUR)"
    # Business language (issue 11): the line by product and SKU, old → new, money deltas.
    assert history[1].summary == "Added Blue Mug (MUG-1): 2 × 4.50 EUR, +9.00 EUR"
    assert history[2].summary == "Blue Mug (MUG-1): 2 → 5, +13.50 EUR"
    assert history[4].summary == "Shipped with UPS, tracking number 1Z42"
    positions = [e.position for e in history]
    assert positions == sorted(positions)
    assert all(len(e.hash) == 64 and len(e.prev_hash) == 64 for e in history)
    times = [e.recorded_at for e in history]
    assert times == sorted(times) and all(t.tzinfo is not None for t in times)


def test_history_filters(app: MemoryApp, order_id: str) -> None:
    window = app.queries.ask(q.GetOrderHistory(order_id=order_id, from_version=2, to_version=3))
    assert [e.version for e in window] == [2, 3]
    # A window that starts after the line was added still names its product.
    later = app.queries.ask(q.GetOrderHistory(order_id=order_id, from_version=3, to_version=3))
    assert [e.summary for e in later] == ["Blue Mug (MUG-1): 2 → 5, +13.50 EUR"]
    confirmed = app.queries.ask(
        q.GetOrderHistory(order_id=order_id, type_names=frozenset({"OrderConfirmed"}))
    )
    assert [e.version for e in confirmed] == [4]
    assert app.queries.ask(q.GetOrderHistory(order_id="no-such-order")) == []


def test_state_at_version(world: World, app: MemoryApp, order_id: str) -> None:
    first = app.queries.ask(q.GetOrderAtVersion(order_id=order_id, version=1))
    assert (first.version, first.state["status"], first.state["lines"]) == (1, "pending", [])
    second = world.state(order_id, 3).state
    assert (second["lines"][0]["quantity"], second["total"]) == (5, "22.50")
    now = world.state(order_id)
    assert (now.version, now.state["status"], now.aggregate_type) == (5, "shipped", "order")
    with pytest.raises(DomainError) as caught:
        world.state(order_id, 0)
    assert caught.value.field == "version"
    with pytest.raises(NotFoundError):
        world.state("no-such-order")


def test_diff_between_versions(app: MemoryApp, order_id: str) -> None:
    diff = app.queries.ask(q.GetOrderDiff(order_id=order_id, from_version=2, to_version=3))
    assert (diff.from_version, diff.to_version) == (2, 3)
    assert [(d.path, d.before, d.after, d.kind) for d in diff.changes] == [
        ("lines[MUG-1].quantity", 2, 5, "changed"),
        ("lines[MUG-1].line_total", "9.00", "22.50", "changed"),
        ("total", "9.00", "22.50", "changed"),
    ]
    created = app.queries.ask(q.GetOrderDiff(order_id=order_id, from_version=0, to_version=1))
    assert created.from_version == 0
    assert {d.kind for d in created.changes} == {"added"}
    assert "order_number" in {d.path for d in created.changes}
    shipped = app.queries.ask(q.GetOrderDiff(order_id=order_id, from_version=4, to_version=5))
    assert {d.path: d.after for d in shipped.changes} == {
        "status": "shipped",
        "tracking_number": "1Z42",
        "carrier": "UPS",
    }


def test_order_actions(world: World, app: MemoryApp, order_id: str) -> None:
    actions = app.queries.ask(q.GetOrderActions(order_id=order_id))
    assert (actions.status, actions.version) == ("shipped", 5)
    assert actions.why_not("deliver") is None
    assert actions.why_not("cancel") is None
    assert actions.why_not("ship") == "This order has already been shipped."
    assert actions.why_not("add_line") is not None
    pending = app.queries.ask(q.GetOrderActions(order_id=world.place(1)))
    assert pending.why_not("add_line") is None
    assert pending.why_not("ship") == "An order can only be shipped once it is confirmed."


def test_unknown_query_type(app: MemoryApp) -> None:
    @dataclass(frozen=True, kw_only=True, slots=True)
    class GetWeather(q.Query[str]):
        city: str

    with pytest.raises(UnknownMessageError):
        app.queries.ask(GetWeather(city="Łódź"))
    assert app.queries.handles(q.GetOrderHistory)


def test_verify_the_chain_written_through_the_bus(app: MemoryApp, order_id: str) -> None:
    result = app.events.verify()
    assert result.ok and result.first_bad_position is None
    assert result.checked == result.head_position == app.events.head_position()
    digest = app.events.digest()
    assert (digest.head_position, digest.head_hash) == (result.head_position, result.head_hash)
    assert app.events.check_digest(digest).ok
    calls: list[tuple[int, int]] = []
    app.events.verify(progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1][0] == calls[-1][1]
