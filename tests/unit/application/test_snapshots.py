"""Snapshots are a cache (R16): taken every N events, snapshot + tail equals full replay, and a
corrupt, foreign, other-format or too-new snapshot is ignored, never trusted."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop_app.application import commands as c
from desktop_app.application import queries as q
from desktop_app.application.ports import Snapshot, StoreError
from desktop_app.application.repository import decode
from desktop_app.domain.order import Order

from .helpers import MemoryApp, World, memory_app


def bump(world: World, order_id: str, times: int) -> None:
    """``times`` quantity changes on the first line (one event each)."""
    line = world.line_ids(order_id)[0]
    for _ in range(times):
        quantity = int(world.state(order_id).state["lines"][0]["quantity"]) + 1
        world.send(c.ChangeLineQuantity(order_id=order_id, line_id=line, quantity=quantity))


def replayed(app: MemoryApp, order_id: str, version: int | None = None) -> Order:
    events = app.events.read_stream(f"order-{order_id}", to_version=version)
    return Order.replay(order_id, [decode(e) for e in events])


def loaded(app: MemoryApp, order_id: str, version: int | None = None) -> Order:
    return app.deps.orders.load(order_id, at_version=version)


def versions(app: MemoryApp, order_id: str) -> list[int]:
    return [s.version for s in app.queries.ask(q.ListOrderSnapshots(order_id=order_id))]


def test_snapshot_taken_when_a_save_crosses_the_interval(world: World, app: MemoryApp) -> None:
    order_id = world.place(1)  # v2
    bump(world, order_id, 2)  # v4
    assert versions(app, order_id) == []
    bump(world, order_id, 1)  # v5
    assert versions(app, order_id) == [5]
    bump(world, order_id, 6)  # v11
    assert versions(app, order_id) == [10, 5]  # newest first
    info = app.queries.ask(q.ListOrderSnapshots(order_id=order_id))[0]
    assert (info.aggregate_type, info.schema_version, info.valid) == ("order", 2, True)
    assert info.size_bytes > 0


def test_a_multi_event_save_crossing_the_interval_snapshots_its_own_version(
    world: World, app: MemoryApp
) -> None:
    order_id = world.place(1, 1, 1, 1, 1, 1)  # OrderPlaced + 6 lines = v7
    assert versions(app, order_id) == [7]


def test_interval_zero_disables_snapshots() -> None:
    app = memory_app(snapshot_interval=0)
    world = World(app)
    order_id = world.place(1)
    bump(world, order_id, 12)
    assert versions(app, order_id) == []


def test_snapshot_plus_tail_equals_full_replay_at_every_version(
    world: World, app: MemoryApp
) -> None:
    order_id = world.place(3, 1)
    bump(world, order_id, 10)
    world.send(c.ConfirmOrder(order_id=order_id))
    last = world.version(order_id)
    assert last == 14
    assert versions(app, order_id) == [10, 5]
    for version in range(1, last + 1):
        expected = replayed(app, order_id, version)
        actual = loaded(app, order_id, version)
        assert actual.version == expected.version == version
        assert actual.to_snapshot() == expected.to_snapshot()


@settings(max_examples=30, deadline=None)
@given(
    interval=st.integers(min_value=1, max_value=7),
    steps=st.lists(
        st.tuples(st.sampled_from(["add", "remove", "change"]), st.integers(1, 40)), max_size=25
    ),
)
def test_snapshot_plus_tail_equals_replay_for_random_orders(
    interval: int, steps: list[tuple[str, int]]
) -> None:
    app = memory_app(snapshot_interval=interval)
    world = World(app)
    order_id = world.place(2)
    for kind, number in steps:
        lines = world.line_ids(order_id)
        if kind == "add" or not lines:
            line = c.LineInput(product_id=world.pot, quantity=number)
            world.send(c.AddOrderLine(order_id=order_id, line=line))
        elif kind == "remove" and len(lines) > 1:
            world.send(c.RemoveOrderLine(order_id=order_id, line_id=lines[number % len(lines)]))
        else:
            line_id = lines[number % len(lines)]
            current = next(
                int(line["quantity"])
                for line in world.state(order_id).state["lines"]
                if line["line_id"] == line_id
            )
            quantity = number if number != current else number + 1
            world.send(c.ChangeLineQuantity(order_id=order_id, line_id=line_id, quantity=quantity))
    assert loaded(app, order_id).to_snapshot() == replayed(app, order_id).to_snapshot()
    assert loaded(app, order_id).version == world.version(order_id)


def _current_snapshot(app: MemoryApp, order_id: str) -> Snapshot:
    snapshot = app.snapshots.latest_snapshot(f"order-{order_id}")
    assert snapshot is not None
    return snapshot


def test_a_well_formed_snapshot_is_used_and_verify_reveals_a_lie(
    world: World, app: MemoryApp
) -> None:
    order_id = world.place(1)
    bump(world, order_id, 3)  # v5, snapshot at 5
    genuine = _current_snapshot(app, order_id)
    check = app.queries.ask(q.VerifyOrderSnapshot(order_id=order_id, version=5))
    assert (check.usable, check.equal, check.differences) == (True, True, ())
    state: dict[str, Any] = dict(genuine.state)
    state["customer"] = {"customer_id": world.customer, "name": "Someone Else"}
    app.snapshots.save_snapshot(replace(genuine, state=state))
    # Loading trusts a readable snapshot (that is what makes it fast) ...
    assert loaded(app, order_id).customer_name == "Someone Else"
    # ... and the inspector's check compares it with a replay and names the difference.
    check = app.queries.ask(q.VerifyOrderSnapshot(order_id=order_id, version=5))
    assert check.usable and not check.equal
    assert [(d.path, d.before, d.after) for d in check.differences] == [
        ("customer.name", "Someone Else", "Müller GmbH")
    ]


def _bad_snapshots(genuine: Snapshot, stream_version: int) -> dict[str, Snapshot]:
    lying = dict(genuine.state)
    lying["status"] = "delivered"
    return {
        "corrupt": replace(genuine, state={"garbage": True}),
        "wrong lines": replace(genuine, state={**genuine.state, "lines": "nope"}),
        "wrong total": replace(genuine, state={**genuine.state, "total": "0.01"}),
        "foreign": replace(genuine, aggregate_type="customer", state=lying),
        "other format": replace(genuine, schema_version=99, state=lying),
        "too new": replace(genuine, version=stream_version + 5, state=lying),
    }


BAD_KINDS = ("corrupt", "wrong lines", "wrong total", "foreign", "other format", "too new")


def test_bad_snapshots_are_ignored_on_load() -> None:
    for kind in BAD_KINDS:
        fresh = memory_app(snapshot_interval=5)
        world = World(fresh)
        order_id = world.place(1)
        bump(world, order_id, 4)  # v6: snapshot at 5, tail 6
        genuine = _current_snapshot(fresh, order_id)
        if kind == "too new":
            # A snapshot is sealed over the event at its version: the store refuses one ahead
            # of the stream (one forged into the file fails its seal, see the contract suite).
            with pytest.raises(StoreError):
                fresh.snapshots.save_snapshot(_bad_snapshots(genuine, 6)[kind])
        else:
            fresh.snapshots.save_snapshot(_bad_snapshots(genuine, 6)[kind])
        expected = replayed(fresh, order_id)
        actual = loaded(fresh, order_id)
        assert actual.version == 6, kind
        assert actual.to_snapshot() == expected.to_snapshot(), kind
        # A command still works on top of whatever the load fell back to.
        world.send(c.ConfirmOrder(order_id=order_id))
        assert world.state(order_id).state["status"] == "confirmed", kind


def test_verify_snapshot_refuses_unusable_snapshots(world: World, app: MemoryApp) -> None:
    order_id = world.place(1)
    bump(world, order_id, 3)
    genuine = _current_snapshot(app, order_id)
    for kind in ("foreign", "other format"):
        bad = _bad_snapshots(genuine, 5)[kind]
        app.snapshots.save_snapshot(bad)
        check = app.queries.ask(q.VerifyOrderSnapshot(order_id=order_id, version=bad.version))
        assert not check.usable and not check.equal, kind
        assert check.problem, kind
    missing = app.queries.ask(q.VerifyOrderSnapshot(order_id=order_id, version=3))
    assert not missing.usable
    assert "missing" in (missing.problem or "")


def test_get_order_snapshot(world: World, app: MemoryApp) -> None:
    order_id = world.place(1)
    bump(world, order_id, 3)
    state = app.queries.ask(q.GetOrderSnapshot(order_id=order_id, version=5))
    assert state is not None
    assert (state.aggregate_type, state.version) == ("order", 5)
    assert state.state == world.state(order_id, 5).state
    assert app.queries.ask(q.GetOrderSnapshot(order_id=order_id, version=4)) is None


def test_take_snapshot_command_adds_to_the_list(world: World, app: MemoryApp) -> None:
    order_id = world.place(1)
    world.send(c.TakeSnapshot(order_id=order_id))
    assert versions(app, order_id) == [2]
    check = app.queries.ask(q.VerifyOrderSnapshot(order_id=order_id, version=2))
    assert check.usable and check.equal
