"""Property-based checks: snapshot + tail == full replay (R16), why_not agrees with the commands."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop_app.domain import (
    Customer,
    DomainError,
    DomainEvent,
    Money,
    NewLine,
    Order,
    Product,
    SnapshotFormatError,
    from_payload,
    to_payload,
)
from desktop_app.domain.order import ACTIONS
from desktop_app.domain.serialization import from_payloads

from .strategies import one_line_text, place, prices, product

PRODUCTS = [
    product("p-1", "4.50"),
    product("p-2", "0.10"),
    product("p-3", "1999.99"),
    product("p-old", "3.00", discontinued=True),
    product("p-usd", "2.00", "USD"),
]
LINE_IDS = [f"l-{i}" for i in range(6)]
quantities = st.one_of(st.integers(-1, 6), st.sampled_from([10**6, 10**6 + 1, 2**63]))
unit_prices = st.one_of(
    st.none(),
    prices("EUR", max_value=Decimal("1000")),
    st.just(Money.parse("1", "USD")),
    st.just(Money(Decimal("-1"), "EUR")),
)


def _step(order: Order, data: st.DataObject) -> None:
    """Draw one command with arbitrary (often invalid) arguments and try it."""
    action = data.draw(st.sampled_from(ACTIONS), label="action")
    try:
        if action == "add_line":
            order.add_line(
                NewLine(
                    data.draw(st.sampled_from(LINE_IDS)),
                    data.draw(st.sampled_from(PRODUCTS)),
                    data.draw(quantities),
                    data.draw(unit_prices),
                )
            )
        elif action == "remove_line":
            order.remove_line(data.draw(st.sampled_from(LINE_IDS)))
        elif action == "change_quantity":
            order.change_quantity(data.draw(st.sampled_from(LINE_IDS)), data.draw(quantities))
        elif action == "confirm":
            order.confirm()
        elif action == "ship":
            order.ship(
                data.draw(st.sampled_from(["T-1", "", "T" * 61])),
                data.draw(st.sampled_from(["", "DHL"])),
            )
        elif action == "deliver":
            order.deliver()
        elif action == "change_address":
            order.change_shipping_address(
                data.draw(st.sampled_from(["Main St 1\n1010 Wien", "", "Dock 4", "x" * 401]))
            )
        elif action == "add_note":
            order.add_note(
                data.draw(st.sampled_from(["n-1", "n-2", "n-3", ""])),
                data.draw(st.sampled_from(["Called.", "two\nlines", " ", "tab\there"])),
            )
        else:
            order.cancel(data.draw(st.sampled_from(["", "customer asked", "r" * 501])))
    except DomainError:
        pass


def _random_order(data: st.DataObject, max_steps: int = 25) -> Order:
    order = place(NewLine("l-0", PRODUCTS[0], data.draw(st.integers(1, 5))))
    for _ in range(data.draw(st.integers(0, max_steps), label="steps")):
        _step(order, data)
    return order


def _state(aggregate: Order | Product | Customer) -> tuple[int, object]:
    return aggregate.version, aggregate.to_snapshot()


# --- R16: snapshot + tail == full replay ------------------------------------------------


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_order_snapshot_plus_tail_equals_full_replay(data: st.DataObject) -> None:
    live = _random_order(data)
    events = live.take_pending()
    assert len(events) == live.version
    # The events survive serialisation, as they will in the store.
    events = [from_payload(e.type_name, e.schema_version, to_payload(e)) for e in events]
    full = Order.replay(live.id, events)
    assert _state(full) == _state(live)

    k = data.draw(st.integers(1, len(events)), label="k")
    snapshot = json.loads(json.dumps(Order.replay(live.id, events[:k]).to_snapshot()))
    restored = Order.from_snapshot(live.id, k, snapshot)
    assert restored.version == k
    for event in events[k:]:
        restored.apply(event)
    assert _state(restored) == _state(full)
    assert restored.pending_events == []
    # Same key order too: the UI diffs snapshots field by field.
    assert list(restored.to_snapshot()) == list(full.to_snapshot())


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_order_apply_stored_equals_replay_of_decoded_events(data: st.DataObject) -> None:
    # apply_stored takes a short way for quantity changes: the state (lines, notes with their
    # versions, status, version) must be exactly that of replaying the decoded events.
    live = _random_order(data, max_steps=40)
    rows = [
        (n, e.type_name, e.schema_version, json.loads(json.dumps(to_payload(e))))
        for n, e in enumerate(live.take_pending(), start=1)
    ]
    replayed = Order.replay(live.id, from_payloads(rows))
    stored = Order(live.id)
    stored.apply_stored(rows)
    assert _state(stored) == _state(replayed) == _state(live)
    assert stored.lines == replayed.lines
    assert stored.pending_events == []


catalog_ops = st.lists(
    st.one_of(
        st.tuples(st.just("rename"), one_line_text),
        st.tuples(st.just("price"), st.sampled_from(["1.00", "2.50", "1", "-1"])),
        st.tuples(st.just("discontinue"), st.just("")),
    ),
    max_size=12,
)


@given(catalog_ops, st.data())
def test_catalog_snapshot_plus_tail_equals_full_replay(
    ops: list[tuple[str, str]], data: st.DataObject
) -> None:
    product_agg = Product.add(product_id="p", sku="s-1", name="Widget", price=Money.zero("EUR"))
    customer = Customer.register(customer_id="c", name="Acme")
    for op, arg in ops:
        try:
            if op == "rename":
                product_agg.rename(arg)
                customer.rename(arg)
            elif op == "price":
                product_agg.change_price(Money(Decimal(arg), "EUR"))
            else:
                product_agg.discontinue()
        except DomainError:
            pass
    aggregates: list[tuple[type[Product] | type[Customer], Product | Customer]] = [
        (Product, product_agg),
        (Customer, customer),
    ]
    for cls, live in aggregates:
        events: list[DomainEvent] = live.take_pending()
        k = data.draw(st.integers(1, len(events)))
        snapshot = json.loads(json.dumps(cls.replay(live.id, events[:k]).to_snapshot()))
        restored = cls.from_snapshot(live.id, k, snapshot)
        for event in events[k:]:
            restored.apply(event)
        assert _state(restored) == _state(cls.replay(live.id, events)) == _state(live)


# --- why_not agrees with the commands ---------------------------------------------------


def _good_call(order: Order, action: str) -> Callable[[], None]:
    """A call with arguments that are valid in themselves, so only the state can refuse it."""
    first = order.lines[0] if order.lines else None
    line_id = first.line_id if first else "l-missing"
    quantity = 1 if first is None or first.quantity != 1 else 2
    calls: dict[str, Callable[[], None]] = {
        "add_line": lambda: order.add_line(NewLine("l-fresh", PRODUCTS[1], 1)),
        "remove_line": lambda: order.remove_line(line_id),
        "change_quantity": lambda: order.change_quantity(line_id, quantity),
        "confirm": order.confirm,
        "ship": lambda: order.ship("T-9", "UPS"),
        "deliver": order.deliver,
        "cancel": lambda: order.cancel("changed plans"),
        "change_address": lambda: order.change_shipping_address("Elsewhere 9\n1010 Wien"),
        "add_note": lambda: order.add_note("n-fresh", "Customer called."),
    }
    return calls[action]


def _bad_call(order: Order, action: str) -> Callable[[], None]:
    """A call with invalid arguments: a state refusal must still win with the same message."""
    calls: dict[str, Callable[[], None]] = {
        "add_line": lambda: order.add_line(NewLine("", PRODUCTS[3], 0)),
        "remove_line": lambda: order.remove_line("l-missing"),
        "change_quantity": lambda: order.change_quantity("l-missing", 0),
        "confirm": order.confirm,
        "ship": lambda: order.ship(""),
        "deliver": order.deliver,
        "cancel": lambda: order.cancel(""),
        "change_address": lambda: order.change_shipping_address(""),
        "add_note": lambda: order.add_note("", ""),
    }
    return calls[action]


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_why_not_agrees_with_commands(data: st.DataObject) -> None:
    order = _random_order(data, max_steps=15)
    history = list(order.pending_events)
    for action in ACTIONS:
        reason = order.why_not(action)
        copy = Order.replay(order.id, history)
        if reason is None:
            _good_call(copy, action)()
            assert copy.version == order.version + 1
        else:
            assert reason
            for make in (_good_call, _bad_call):
                copy = Order.replay(order.id, history)
                with pytest.raises(DomainError) as exc:
                    make(copy, action)()
                assert exc.value.message == reason
                assert copy.version == order.version
        assert order.version == len(history)  # why_not itself never changes anything


# --- malformed snapshots are refused, never trusted -------------------------------------


def _good_order_snapshot() -> dict[str, object]:
    order = place(NewLine("l-1", PRODUCTS[0], 3), NewLine("l-2", PRODUCTS[1], 1))
    order.confirm()
    order.ship("T", "DHL")
    return json.loads(json.dumps(order.to_snapshot()))  # type: ignore[no-any-return]


def _corrupt(path: tuple[object, ...], value: object) -> dict[str, object]:
    state = _good_order_snapshot()
    target: object = state
    for key in path[:-1]:
        target = target[key]  # type: ignore[index]
    if value is _DELETE:
        del target[path[-1]]  # type: ignore[attr-defined]
    else:
        target[path[-1]] = value  # type: ignore[index]
    return state


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("order_id",), "o-other"),
        (("status",), "lost"),
        (("status",), _DELETE),
        (("currency",), "XXX"),
        (("customer",), "Acme"),
        (("customer", "name"), None),
        (("lines",), {}),
        (("lines", 0, "quantity"), "3"),
        (("lines", 0, "quantity"), True),
        (("lines", 0, "unit_price"), 4.5),
        (("lines", 0, "unit_price"), "4.505"),
        (("lines", 0, "line_total"), "99.00"),
        (("lines", 1, "line_id"), "l-1"),
        (("total",), "1.00"),
        (("tracking_number",), 5),
        (("carrier",), _DELETE),
    ],
)
def test_malformed_order_snapshot_refused(path: tuple[object, ...], value: object) -> None:
    Order.from_snapshot("o-1", 5, _good_order_snapshot())  # the unmodified one is fine
    with pytest.raises(SnapshotFormatError):
        Order.from_snapshot("o-1", 5, _corrupt(path, value))


@pytest.mark.parametrize("version", [0, -1, True, "5", None])
def test_snapshot_version_must_be_positive_int(version: object) -> None:
    with pytest.raises(SnapshotFormatError):
        Order.from_snapshot("o-1", version, _good_order_snapshot())  # type: ignore[arg-type]


@pytest.mark.parametrize("state", [None, [], "{}", 5])
def test_snapshot_state_must_be_an_object(state: object) -> None:
    with pytest.raises(SnapshotFormatError):
        Order.from_snapshot("o-1", 1, state)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cls", "state"),
    [
        (Customer, {"customer_id": "other", "name": "A"}),
        (Customer, {"customer_id": "x"}),
        (Product, {"product_id": "x", "sku": "S", "name": "N", "price": "1", "currency": "EUR"}),
        (
            Product,
            {
                "product_id": "x",
                "sku": "S",
                "name": "N",
                "price": "1.001",
                "currency": "EUR",
                "discontinued": False,
            },
        ),
        (
            Product,
            {
                "product_id": "x",
                "sku": "S",
                "name": "N",
                "price": "1",
                "currency": "EUR",
                "discontinued": "no",
            },
        ),
    ],
)
def test_malformed_catalog_snapshot_refused(
    cls: type[Customer] | type[Product], state: dict[str, object]
) -> None:
    with pytest.raises(SnapshotFormatError):
        cls.from_snapshot("x", 1, state)


def test_order_snapshot_is_readable() -> None:
    order = place(NewLine("l-1", PRODUCTS[0], 3))
    assert order.to_snapshot() == {
        "order_id": "o-1",
        "order_number": "SO-0001",
        "status": "pending",
        "customer": {"customer_id": "c-1", "name": "Acme GmbH"},
        "currency": "EUR",
        "lines": [
            {
                "line_id": "l-1",
                "product_id": "p-1",
                "sku": "P-1",
                "product_name": "Widget",
                "quantity": 3,
                "unit_price": "4.50",
                "line_total": "13.50",
            }
        ],
        "total": "13.50",
        "tracking_number": None,
        "carrier": None,
        "cancel_reason": None,
        "shipping_address": "",
        "notes": [],
    }
    assert Order.AGGREGATE_TYPE == "order"
    assert Customer.AGGREGATE_TYPE == "customer"
    assert Product.AGGREGATE_TYPE == "product"
