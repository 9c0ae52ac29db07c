"""R30: a command id reused for a different command is refused; ids are bounded."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop_app.application import commands as c
from desktop_app.application import fingerprints
from desktop_app.application.fingerprints import command_fingerprint
from desktop_app.application.middleware import InvalidCommandError
from desktop_app.application.ports import CommandIdReusedError

from .helpers import MemoryApp, World


def test_fingerprint_covers_type_and_content_but_not_ids_or_the_expected_version() -> None:
    line = c.LineInput(product_id="p-1", quantity=2, unit_price=Decimal("4.50"))
    place = c.PlaceOrder(command_id="cmd-1", customer_id="cu-1", lines=(line,), order_id="o-1")
    same = dataclasses.replace(place, command_id="cmd-2", correlation_id="corr-9")
    assert command_fingerprint(place) == command_fingerprint(same)
    assert command_fingerprint(place).startswith("c1:") and len(command_fingerprint(place)) == 67
    for other in (
        dataclasses.replace(place, customer_id="cu-2"),
        dataclasses.replace(place, order_id="o-2"),
        dataclasses.replace(place, currency="EUR"),
        dataclasses.replace(place, lines=(dataclasses.replace(line, quantity=3),)),
        dataclasses.replace(place, lines=(dataclasses.replace(line, unit_price=Decimal("4.5")),)),
        dataclasses.replace(place, lines=(dataclasses.replace(line, unit_price=None),)),
        dataclasses.replace(place, lines=(line, line)),
    ):
        assert command_fingerprint(other) != command_fingerprint(place), other
    confirm = c.ConfirmOrder(command_id="x", order_id="o-1", expected_version=3)
    assert command_fingerprint(confirm) == command_fingerprint(
        dataclasses.replace(confirm, expected_version=None)
    )
    deliver = c.DeliverOrder(command_id="x", order_id="o-1", expected_version=3)
    assert command_fingerprint(confirm) != command_fingerprint(deliver)  # the type counts


def test_fingerprint_canonical_form_is_pinned() -> None:
    """Stored fingerprints must match the same command in every later version: the canonical
    form is sorted-key compact JSON of the type and the content fields, hashed with SHA-256."""
    line = c.LineInput(product_id="p-1", quantity=2, unit_price=Decimal("4.50"))
    place = c.PlaceOrder(command_id="x", customer_id="cu-1", lines=(line,), order_id="o-1")
    body = {
        "type": "PlaceOrder",
        "fields": {
            "customer_id": "cu-1",
            "currency": None,
            "order_id": "o-1",
            "lines": [{"product_id": "p-1", "quantity": 2, "unit_price": {"decimal": "4.50"}}],
            "shipping_address": None,
        },
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert command_fingerprint(place) == "c1:" + hashlib.sha256(text.encode()).hexdigest()
    rename = c.RenameCustomer(command_id="y", customer_id="cu-1", name="Müller ß")
    text = '{"fields":{"customer_id":"cu-1","name":"Müller ß"},"type":"RenameCustomer"}'
    assert command_fingerprint(rename) == "c1:" + hashlib.sha256(text.encode()).hexdigest()


def test_reused_id_with_other_content_is_refused_and_writes_nothing(world: World) -> None:
    order_id = world.place(2)
    cancel = c.CancelOrder(command_id="cmd-cancel", order_id=order_id, reason="customer asked")
    world.send(cancel)
    head = world.head()
    # The same id, other content: a different reason, another command type, another order.
    for reused in (
        dataclasses.replace(cancel, reason="out of stock"),
        c.ConfirmOrder(command_id="cmd-cancel", order_id=order_id),
        c.CancelOrder(command_id="cmd-cancel", order_id=world.place(1), reason="customer asked"),
    ):
        head = world.head()
        with pytest.raises(CommandIdReusedError, match="already used for a different change"):
            world.send(reused)
        assert world.head() == head
    # The same content again is a duplicate, also with another expected version.
    again = world.send(dataclasses.replace(cancel, expected_version=1))
    assert again.duplicate and world.head() == head


def test_reused_id_on_a_new_record_is_refused(world: World, app: MemoryApp) -> None:
    register = c.RegisterCustomer(command_id="cmd-reg", name="Ada")
    world.send(register)
    head = world.head()
    with pytest.raises(CommandIdReusedError):
        world.send(c.RegisterCustomer(command_id="cmd-reg", name="Grace"))
    with pytest.raises(CommandIdReusedError):
        world.send(
            c.AddProduct(
                command_id="cmd-reg", sku="X-1", name="X", price=Decimal(1), currency="EUR"
            )
        )
    assert world.head() == head
    assert world.send(register).duplicate


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("x" * 65, "longer than 64"),
        ("a b", "may only hold"),
        ("Müller", "may only hold"),
        ("\u202eevil", "may only hold"),
        ("-x", "may only hold"),
        ("", "no id"),
    ],
)
def test_ids_are_bounded_in_length_and_characters(world: World, bad: str, message: str) -> None:
    order_id = world.place(1)
    line = c.LineInput(product_id=bad, quantity=1)
    cases: list[tuple[Any, str]] = [
        (c.ConfirmOrder(command_id=bad, order_id=order_id), "command_id"),
        (c.ConfirmOrder(order_id=order_id, correlation_id=bad), "correlation_id"),
        (c.ConfirmOrder(order_id=bad), "order_id"),
        (c.RenameCustomer(customer_id=bad, name="New"), "customer_id"),
        (c.PlaceOrder(customer_id=world.customer, lines=(line,)), "lines[0].product_id"),
        (c.AddOrderLine(order_id=order_id, line=line), "line.product_id"),
        (c.RemoveOrderLine(order_id=order_id, line_id=bad), "line_id"),
        (c.PlaceOrder(customer_id=world.customer, lines=(), order_id=bad), "order_id"),
    ]
    for command, field in cases:
        if not bad and field != "command_id":
            continue  # an empty entity id is the domain's own "not found" / required message
        head = world.head()
        with pytest.raises(InvalidCommandError) as info:
            world.send(command)
        assert info.value.field == field, command
        assert message in info.value.message, info.value.message
        assert world.head() == head
    world.send(c.ConfirmOrder(command_id="a" * 64, order_id=order_id))  # the longest allowed


@pytest.mark.parametrize(
    "value",
    ["a", "order-1", "x" * 64, "x" * 65, "", " ", "a b", "-a", "Müller", "a\n", "٣", 7, None],
)
def test_the_fast_id_check_agrees_with_the_explained_one(value: object) -> None:
    from desktop_app.application.ids import id_problem, is_plain_id

    assert is_plain_id(value) == (id_problem(value) is None)


# --- the direct canonical writer gives the very text of the general encoder ----------------

_texts = st.text(st.characters(), max_size=12)  # any code point, lone surrogates too
_values: st.SearchStrategy[Any] = st.recursive(
    _texts
    | st.integers(-(2**70), 2**70)
    | st.booleans()
    | st.none()
    | st.decimals(allow_nan=False)
    | st.floats(allow_nan=False),
    lambda inner: (
        st.lists(inner, max_size=3).map(tuple)
        | st.lists(inner, max_size=3)
        | st.frozensets(st.integers(0, 9) | _texts, max_size=3)
    ),
    max_leaves=12,
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Odd(c.Command):
    """Test-only: fields of every kind a fingerprint may meet."""

    anything: Any = None
    nested: c.LineInput | None = None
    expected_version: int | None = None


def _reference(command: object) -> str:
    body = {"fields": fingerprints._plain(command, top=True), "type": type(command).__name__}
    return fingerprints._encode(body)


_lines = st.builds(
    c.LineInput,
    product_id=_texts,
    quantity=st.integers(-5, 10**12),
    unit_price=st.none() | st.decimals(allow_nan=False, allow_infinity=False),
)
_commands = st.one_of(
    st.builds(_Odd, anything=_values, nested=st.none() | _lines),
    st.builds(
        c.PlaceOrder,
        customer_id=_texts,
        lines=st.lists(_lines, max_size=3).map(tuple),
        currency=st.none() | _texts,
        shipping_address=st.none() | _texts,
    ),
    st.builds(
        c.ChangeOrderLines,
        order_id=_texts,
        remove=st.lists(st.builds(c.LineRemoval, line_id=_texts), max_size=2).map(tuple),
        change=st.lists(
            st.builds(c.QuantityChange, line_id=_texts, quantity=st.integers()), max_size=2
        ).map(tuple),
        add=st.lists(st.builds(c.LineAddition, line=_lines), max_size=2).map(tuple),
        expected_version=st.none() | st.integers(0, 99),
    ),
    st.builds(c.ConfirmOrder, order_id=_texts, correlation_id=st.none() | _texts),
)


@settings(max_examples=400, deadline=None)
@given(_commands)
def test_the_direct_writer_and_the_encoder_give_the_same_text(command: c.Command) -> None:
    text = fingerprints.canonical_text(command)
    assert text == _reference(command)
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    assert command_fingerprint(command) == "c1:" + digest
