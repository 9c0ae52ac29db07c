"""Event payloads: JSON-only, round trip for every type, upcasting of stored v1 payloads."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from desktop_app.domain import (
    EVENT_TYPES,
    UPCASTERS,
    DomainError,
    DomainEvent,
    EventFormatError,
    Money,
    OrderCancelled,
    OrderLineAdded,
    OrderShipped,
    UnknownEventError,
    from_payload,
    to_payload,
)
from desktop_app.domain.events import ALL_EVENTS

from .strategies import events_of

EXPECTED_VERSIONS = {
    "OrderPlaced": 2,
    "OrderLineAdded": 1,
    "OrderLineRemoved": 1,
    "OrderLineQuantityChanged": 1,
    "OrderLinesChanged": 1,
    "OrderConfirmed": 1,
    "OrderShipped": 2,
    "OrderDelivered": 1,
    "OrderCancelled": 2,
    "OrderShippingAddressChanged": 1,
    "OrderNoteAdded": 1,
    "CustomerRegistered": 1,
    "CustomerRenamed": 1,
    "CustomerAddressChanged": 1,
    "ProductAdded": 1,
    "ProductRenamed": 1,
    "ProductPriceChanged": 1,
    "ProductDiscontinued": 1,
    "AuditNoteAdded": 1,
}


def test_type_names_are_stable_and_versions_as_designed() -> None:
    assert {name: cls.schema_version for name, cls in EVENT_TYPES.items()} == EXPECTED_VERSIONS
    for name, cls in EVENT_TYPES.items():
        assert cls.type_name == name == cls.__name__
        assert "." not in name


def test_upcasters_cover_every_old_version() -> None:
    for name, cls in EVENT_TYPES.items():
        for version in range(1, cls.schema_version):
            assert (name, version) in UPCASTERS


def _json_only(value: object) -> None:
    assert not isinstance(value, float | Decimal)
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str)
            _json_only(item)
    elif isinstance(value, list):
        for item in value:
            _json_only(item)
    else:
        assert isinstance(value, str | int)


@pytest.mark.parametrize("cls", ALL_EVENTS, ids=lambda c: c.type_name)
@given(data=st.data())
def test_round_trip_every_event_type(cls: type[DomainEvent], data: st.DataObject) -> None:
    event = data.draw(events_of(cls))
    payload = to_payload(event)
    _json_only(payload)
    assert from_payload(event.type_name, event.schema_version, payload) == event
    # Through real JSON text too, as the store will do.
    reloaded = json.loads(json.dumps(payload, ensure_ascii=False))
    assert from_payload(event.type_name, event.schema_version, reloaded) == event


def test_money_payload_shape() -> None:
    event = OrderLineAdded(
        order_id="o",
        line_id="l",
        product_id="p",
        sku="S",
        product_name="n",
        quantity=3,
        unit_price=Money.parse("4.5", "EUR"),
    )
    assert to_payload(event)["unit_price"] == {"amount": "4.50", "currency": "EUR"}


def test_stored_v1_order_shipped_is_upcast() -> None:
    stored_v1 = {"order_id": "o-17", "tracking": "1Z999AA10123456784"}
    event = from_payload("OrderShipped", 1, stored_v1)
    assert event == OrderShipped(order_id="o-17", tracking_number="1Z999AA10123456784", carrier="")
    assert stored_v1 == {"order_id": "o-17", "tracking": "1Z999AA10123456784"}  # not mutated


def test_stored_v1_order_cancelled_is_upcast() -> None:
    stored_v1 = {"order_id": "o-17"}
    event = from_payload("OrderCancelled", 1, stored_v1)
    assert event == OrderCancelled(order_id="o-17", reason="(no reason recorded)")
    assert stored_v1 == {"order_id": "o-17"}


def test_current_v2_payloads_are_read_as_is() -> None:
    assert from_payload(
        "OrderShipped", 2, {"order_id": "o", "tracking_number": "T", "carrier": "UPS"}
    ) == OrderShipped(order_id="o", tracking_number="T", carrier="UPS")
    assert from_payload("OrderCancelled", 2, {"order_id": "o", "reason": "dup"}) == OrderCancelled(
        order_id="o", reason="dup"
    )


def test_unknown_type_refused_clearly() -> None:
    with pytest.raises(UnknownEventError, match="'OrderTeleported'") as exc:
        from_payload("OrderTeleported", 1, {"order_id": "o"})
    assert isinstance(exc.value, DomainError)
    assert "newer version" in exc.value.message


def test_module_path_is_not_a_type_name() -> None:
    with pytest.raises(UnknownEventError):
        from_payload("desktop_app.domain.events.OrderPlaced", 1, {})


def test_newer_schema_version_refused_clearly() -> None:
    with pytest.raises(UnknownEventError, match="schema version 3") as exc:
        from_payload("OrderShipped", 3, {"order_id": "o"})
    assert "newer version of Order Desk" in exc.value.message


@pytest.mark.parametrize("version", [0, -1, True])
def test_invalid_schema_version_refused(version: int) -> None:
    with pytest.raises(UnknownEventError):
        from_payload("OrderConfirmed", version, {"order_id": "o"})


@pytest.mark.parametrize(
    ("type_name", "payload"),
    [
        ("OrderConfirmed", {}),
        ("OrderConfirmed", {"order_id": 5}),
        ("OrderConfirmed", {"order_id": "o", "extra": 1}),
        ("OrderLineQuantityChanged", {"order_id": "o", "line_id": "l", "quantity": "3"}),
        ("OrderLineQuantityChanged", {"order_id": "o", "line_id": "l", "quantity": True}),
        ("OrderLineQuantityChanged", {"order_id": "o", "line_id": "l", "quantity": 3.0}),
        ("ProductPriceChanged", {"product_id": "p", "price": "4.50"}),
        ("ProductPriceChanged", {"product_id": "p", "price": {"amount": 4.5, "currency": "EUR"}}),
        (
            "ProductPriceChanged",
            {"product_id": "p", "price": {"amount": "4.505", "currency": "EUR"}},
        ),
        ("ProductPriceChanged", {"product_id": "p", "price": {"amount": "1", "currency": "ZZZ"}}),
        ("OrderShipped", {"order_id": "o"}),
    ],
)
def test_malformed_payload_refused(type_name: str, payload: dict[str, object]) -> None:
    with pytest.raises(EventFormatError):
        from_payload(type_name, EVENT_TYPES[type_name].schema_version, payload)


def test_events_are_frozen_and_keyword_only() -> None:
    event = OrderCancelled(order_id="o", reason="r")
    with pytest.raises(AttributeError):
        event.reason = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        OrderCancelled("o", "r")  # type: ignore[call-arg]


def test_stored_money_is_remembered_only_for_what_it_is() -> None:
    from desktop_app.domain.serialization import stored_money

    assert stored_money("4.50", "EUR") == Money(Decimal("4.50"), "EUR")
    assert stored_money("4.50", "EUR") is stored_money("4.50", "EUR")  # one immutable object
    assert stored_money("4.50", "USD") == Money(Decimal("4.50"), "USD")
    for _ in range(2):
        assert stored_money("4.505", "EUR") is None  # refused every time, never a value
    assert stored_money(4.5, "EUR") is None
    assert stored_money("4.50", None) is None


_EDIT = {
    "order_id": "o-1",
    "removed": ["l-1"],
    "quantities": [{"line_id": "l-2", "quantity": 3}],
    "added": [
        {
            "line_id": "l-3",
            "product_id": "p-1",
            "sku": "P-1",
            "product_name": "Pen",
            "quantity": 1,
            "unit_price": {"amount": "4.50", "currency": "EUR"},
        }
    ],
}


@pytest.mark.parametrize(
    "change",
    [
        {"removed": "l-1"},  # not a list
        {"removed": [1]},
        {"quantities": [{"line_id": "l-2", "quantity": True}]},
        {"quantities": [{"line_id": "l-2"}]},  # a missing key
        {"quantities": [{"line_id": "l-2", "quantity": 3, "extra": 1}]},
        {"added": [{**_EDIT["added"][0], "unit_price": {"amount": "4.5x", "currency": "EUR"}}]},  # type: ignore[index]
        {"added": ["l-3"]},
    ],
)
def test_a_malformed_edit_of_lines_is_refused_by_the_strict_decoder(change: dict) -> None:  # type: ignore[type-arg]
    from desktop_app.domain import EventFormatError, OrderLinesChanged

    event = from_payload("OrderLinesChanged", 1, _EDIT)
    assert isinstance(event, OrderLinesChanged) and to_payload(event) == _EDIT
    with pytest.raises(EventFormatError, match="OrderLinesChanged event has a malformed"):
        from_payload("OrderLinesChanged", 1, {**_EDIT, **change})
