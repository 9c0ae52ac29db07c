"""Hypothesis strategies and small builders shared by the domain tests."""

from __future__ import annotations

import dataclasses
import typing
from decimal import Decimal

from hypothesis import strategies as st

from desktop_app.domain import (
    CURRENCY_PLACES,
    MAX_AMOUNT,
    CustomerRef,
    DomainEvent,
    Money,
    NewLine,
    Order,
    ProductRef,
)

# Valid one-line text: no controls (Cc), no surrogates (Cs), no line/paragraph separators,
# already stripped so the round trip can be compared exactly.
one_line_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\u2028\u2029"),
    min_size=1,
    max_size=40,
).filter(lambda s: s == s.strip() and bool(s))

currencies = st.sampled_from(sorted(CURRENCY_PLACES))


def amounts(currency: str, *, max_value: Decimal = MAX_AMOUNT) -> st.SearchStrategy[Decimal]:
    """Non-negative decimals with the currency's places."""
    places = CURRENCY_PLACES[currency]
    return st.decimals(
        min_value=Decimal(0),
        max_value=max_value,
        places=places,
        allow_nan=False,
        allow_infinity=False,
    )


def prices(currency: str, *, max_value: Decimal = MAX_AMOUNT) -> st.SearchStrategy[Money]:
    """Valid price Money in the currency."""
    return amounts(currency, max_value=max_value).map(lambda a: Money(a, currency))


any_money = currencies.flatmap(prices)


def _strategy_for(tp: object) -> st.SearchStrategy[object]:
    if tp is str:
        return one_line_text
    if tp is int:
        return st.integers(min_value=1, max_value=1_000_000)
    if tp is Money:
        return any_money
    if typing.get_origin(tp) is tuple:
        (item,) = (a for a in typing.get_args(tp) if a is not Ellipsis)
        return st.lists(_strategy_for(item), max_size=3).map(tuple)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        return st.builds(
            tp, **{f.name: _strategy_for(hints[f.name]) for f in dataclasses.fields(tp)}
        )
    raise AssertionError(f"no strategy for {tp!r}")


def events_of(cls: type[DomainEvent]) -> st.SearchStrategy[DomainEvent]:
    """Arbitrary instances of one event class."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: _strategy_for(hints[f.name]) for f in dataclasses.fields(cls)}
    return st.builds(cls, **fields)


# --- builders ----------------------------------------------------------------------------

CUSTOMER = CustomerRef(customer_id="c-1", name="Acme GmbH")


def product(
    product_id: str = "p-1",
    price: str = "4.50",
    currency: str = "EUR",
    *,
    discontinued: bool = False,
    name: str = "Widget",
) -> ProductRef:
    """A ProductRef with a price parsed from text."""
    return ProductRef(
        product_id=product_id,
        sku=product_id.upper(),
        name=name,
        price=Money.parse(price, currency),
        discontinued=discontinued,
    )


def place(*lines: NewLine, currency: str = "EUR", order_id: str = "o-1") -> Order:
    """A pending order with the given lines (one default line if none)."""
    if not lines:
        lines = (NewLine("l-1", product(), 3),)
    return Order.place(
        order_id=order_id,
        order_number="SO-0001",
        customer=CUSTOMER,
        currency=currency,
        lines=list(lines),
    )


def order_in(status: str) -> Order:
    """A fresh order brought to `status` through the command methods."""
    order = place()
    if status == "pending":
        return order
    if status == "cancelled":
        order.cancel("customer changed their mind")
        return order
    order.confirm()
    if status == "confirmed":
        return order
    order.ship("TRACK-1", "DHL")
    if status == "shipped":
        return order
    order.deliver()
    assert status == "delivered"
    return order
