"""The one compiled command-shape checker: each declared type refuses what does not fit,
naming the field, and lets everything that fits through."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from desktop_app.application import commands as c
from desktop_app.application.commands import CommandResult
from desktop_app.application.middleware import InvalidCommandError, validate_shape


@dataclass(frozen=True, kw_only=True, slots=True)
class _Inner:
    amount: Decimal
    note: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class _Everything(c.Command):
    """A command with one field of every kind the checker knows (test-only)."""

    count: int = 1
    price: Decimal = Decimal("1.00")
    text: str = "x"
    maybe: int | None = None
    tags: frozenset[str] = field(default_factory=frozenset)
    items: tuple[_Inner, ...] = ()
    inner: _Inner = field(default_factory=lambda: _Inner(amount=Decimal("2")))
    either: int | str = 0


def _passes(command: c.Command) -> bool:
    done = CommandResult(stream_id="s-1", aggregate_id="1", version=1, first_position=1, position=1)
    return validate_shape(command, lambda _command: done) is done


def _refusal(**fields: Any) -> InvalidCommandError:
    with pytest.raises(InvalidCommandError) as info:
        _passes(_Everything(**fields))
    return info.value


def test_values_of_the_declared_types_pass() -> None:
    assert _passes(_Everything())
    assert _passes(
        _Everything(
            count=3,
            maybe=4,
            tags=frozenset({"a"}),
            items=(_Inner(amount=Decimal("1.5"), note="n"), _Inner(amount=Decimal(0))),
            either="text",
        )
    )
    assert _passes(c.PlaceOrder(customer_id="c1", lines=(c.LineInput(product_id="p", quantity=2),)))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"count": True}, "count must be a whole number."),
        ({"count": "3"}, "count must be a whole number."),
        ({"price": 1.5}, "price must be an exact decimal amount."),
        ({"price": 2}, "price must be an exact decimal amount."),
        ({"text": 5}, "text must be text."),
        ({"maybe": "4"}, "maybe must be a whole number."),
        ({"maybe": False}, "maybe must be a whole number."),
        ({"tags": {"a"}}, "tags must be a set."),
        ({"items": [_Inner(amount=Decimal(1))]}, "items must be a list of entries."),
        ({"items": ("x",)}, "items[0] has the wrong shape."),
        (
            {"items": (_Inner(amount=Decimal(1)), _Inner(amount=0.5))},  # type: ignore[arg-type]
            "items[1].amount must be an exact decimal amount.",
        ),
        ({"inner": _Inner(amount=Decimal(1), note=3)}, "inner.note must be text."),  # type: ignore[arg-type]
        ({"either": 1.0}, "either must be a whole number."),
        ({"command_id": 7}, "command_id must be text."),
    ],
)
def test_a_value_that_does_not_fit_is_refused_naming_its_field(
    fields: dict[str, Any], message: str
) -> None:
    error = _refusal(**fields)
    assert str(error) == message


def test_lines_of_a_real_command_are_checked_to_the_field() -> None:
    bad = c.PlaceOrder(
        customer_id="c1",
        lines=(
            c.LineInput(product_id="p", quantity=1),
            c.LineInput(product_id="p", quantity=1, unit_price=0.1),  # type: ignore[arg-type]
        ),
    )
    with pytest.raises(InvalidCommandError, match=r"lines\[1\]\.unit_price must be an exact"):
        _passes(bad)
