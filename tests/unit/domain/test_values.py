"""Money, quantity and text validation (R17, R18, R19)."""

from __future__ import annotations

import unicodedata
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from desktop_app.domain import (
    CURRENCY_PLACES,
    MAX_AMOUNT,
    DomainError,
    InvalidValue,
    Money,
    validate_price,
    validate_quantity,
    validate_sku,
    validate_text,
)

from .strategies import any_money, one_line_text, prices

# --- Money: construction (R17) -----------------------------------------------------------


def test_currency_places() -> None:
    for code in ("EUR", "USD", "GBP", "CHF", "SEK", "NOK", "DKK"):
        assert CURRENCY_PLACES[code] == 2
    assert CURRENCY_PLACES["JPY"] == 0


@pytest.mark.parametrize("bad", [4.5, 0.1, float("nan"), float("inf"), True, False, "4.50", None])
def test_money_refuses_non_exact_amounts(bad: object) -> None:
    with pytest.raises(InvalidValue) as exc:
        Money(bad, "EUR")  # type: ignore[arg-type]
    assert exc.value.field == "price"
    assert "exact decimal" in exc.value.message


def test_money_accepts_int() -> None:
    assert Money(5, "EUR") == Money(Decimal("5.00"), "EUR")  # type: ignore[arg-type]
    assert Money(5, "EUR").amount_text() == "5.00"  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["NaN", "sNaN", "-NaN", "Infinity", "-Infinity"])
def test_money_refuses_nan_and_infinities(bad: str) -> None:
    with pytest.raises(InvalidValue, match="finite"):
        Money(Decimal(bad), "EUR")


@pytest.mark.parametrize("zero", ["-0", "-0.00", "0E+5", "-0E-2", "0.000"])
def test_negative_zero_is_normalised(zero: str) -> None:
    money = Money(Decimal(zero), "EUR")
    assert money.amount_text() == "0.00"
    assert not money.amount.is_signed()
    assert money == Money.zero("EUR")
    assert str(money) == "0.00 EUR"


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        ("4.505", "EUR", "at most 2 decimal places"),
        ("0.001", "USD", "at most 2 decimal places"),
        ("1E-30", "EUR", "at most 2 decimal places"),
        ("1.5", "JPY", "cannot have decimal places"),
    ],
)
def test_too_many_places_refused_never_rounded(amount: str, currency: str, message: str) -> None:
    with pytest.raises(InvalidValue, match=message) as exc:
        Money(Decimal(amount), currency)
    assert exc.value.field == "price"


def test_trailing_zeros_do_not_count_as_places() -> None:
    assert Money(Decimal("4.500"), "EUR").amount_text() == "4.50"
    assert Money(Decimal("100.0"), "JPY").amount_text() == "100"


def test_amount_always_stored_quantised() -> None:
    assert Money(Decimal("4.5"), "EUR").amount.as_tuple().exponent == -2
    assert Money(Decimal("1E+3"), "EUR").amount_text() == "1000.00"


@pytest.mark.parametrize(
    "amount", ["1000000000000", "-1000000000000", "1E+30", "999999999999999999999999999"]
)
def test_huge_amounts_refused(amount: str) -> None:
    with pytest.raises(InvalidValue, match="too large"):
        Money(Decimal(amount), "EUR")


def test_max_amount_fits_in_int64_over_many_lines() -> None:
    money = Money(MAX_AMOUNT, "EUR")
    assert money.minor_units() * 500 < 2**63
    assert Money(-MAX_AMOUNT, "EUR").minor_units() == -money.minor_units()


@pytest.mark.parametrize("currency", ["XXX", "eur", "", None, 978])
def test_unknown_currency_refused(currency: object) -> None:
    with pytest.raises(InvalidValue, match="Unknown currency") as exc:
        Money(Decimal(1), currency)  # type: ignore[arg-type]
    assert exc.value.field == "currency"


def test_price_refuses_negative() -> None:
    with pytest.raises(InvalidValue, match="cannot be negative") as exc:
        Money.price(Decimal("-0.01"), "EUR")
    assert exc.value.field == "price"
    assert Money.price(Decimal("0"), "EUR") == Money.zero("EUR")
    with pytest.raises(InvalidValue, match="cannot be negative"):
        validate_price(Money(Decimal("-1"), "EUR"))
    with pytest.raises(InvalidValue, match="Enter a price"):
        validate_price(4.5)
    assert Money(Decimal("-1"), "EUR").amount_text() == "-1.00"  # plain Money may be negative


# --- Money: parse ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("4.50", "EUR", "4.50"),
        (" 4.5 ", "EUR", "4.50"),
        ("4", "EUR", "4.00"),
        ("0", "USD", "0.00"),
        ("-0", "USD", "0.00"),
        ("+12.30", "GBP", "12.30"),
        ("1200", "JPY", "1200"),
        ("999999999999.99", "CHF", "999999999999.99"),
    ],
)
def test_parse_accepts(text: str, currency: str, expected: str) -> None:
    assert Money.parse(text, currency).amount_text() == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Enter a price."),
        ("   ", "Enter a price."),
        ("4,5", "decimal separator"),
        (" 4,5 ", "decimal separator"),
        ("1,000.00", "decimal separator"),
        ("abc", "as a number"),
        ("4.", "as a number"),
        (".5", "as a number"),
        ("1e3", "as a number"),
        ("NaN", "as a number"),
        ("inf", "as a number"),
        ("٤.٥", "as a number"),  # Arabic-Indic digits: locale parsing is the UI's job
        ("4.50 EUR", "as a number"),
        ("4.505", "at most 2 decimal places"),
        ("1" * 41, "too many digits"),
        ("1000000000000", "too large"),
    ],
)
def test_parse_refuses_with_clear_message(text: str, message: str) -> None:
    with pytest.raises(InvalidValue, match=message) as exc:
        Money.parse(text, "EUR")
    assert exc.value.field == "price"


def test_parse_refuses_non_text() -> None:
    with pytest.raises(InvalidValue):
        Money.parse(4.5, "EUR")  # type: ignore[arg-type]


# --- Money: arithmetic and JSON ----------------------------------------------------------


def test_add_same_currency_only() -> None:
    a = Money.parse("1.10", "EUR")
    b = Money.parse("2.20", "EUR")
    assert a + b == Money.parse("3.30", "EUR")
    with pytest.raises(DomainError, match="Cannot add USD to EUR"):
        _ = a + Money.parse("1", "USD")


def test_times_and_minor_units() -> None:
    price = Money.parse("0.10", "EUR")
    assert price.times(3) == Money.parse("0.30", "EUR")  # never 0.30000000000000004
    assert price.times(3).minor_units() == 30
    assert Money.parse("1200", "JPY").minor_units() == 1200
    with pytest.raises(InvalidValue):
        price.times(True)
    with pytest.raises(InvalidValue):
        price.times(1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidValue, match="too large"):
        Money(MAX_AMOUNT, "EUR").times(2)


def test_json_and_str() -> None:
    money = Money.parse("4.5", "EUR")
    assert money.to_json() == {"amount": "4.50", "currency": "EUR"}
    assert str(money) == "4.50 EUR"
    assert Money.from_json({"amount": "4.50", "currency": "EUR"}) == money


@pytest.mark.parametrize(
    "data",
    [
        {"amount": 4.5, "currency": "EUR"},
        {"amount": "4.505", "currency": "EUR"},
        {"amount": "4.50"},
        {"amount": "4.50", "currency": "EUR", "x": 1},
        {"amount": "4.50", "currency": "ZZZ"},
        {"amount": "NaN", "currency": "EUR"},
    ],
)
def test_from_json_refuses_malformed(data: dict[str, object]) -> None:
    with pytest.raises(DomainError):
        Money.from_json(data)


@given(any_money)
def test_money_json_round_trip(money: Money) -> None:
    assert Money.from_json(money.to_json()) == money
    assert Money.parse(money.amount_text(), money.currency) == money
    assert "e" not in money.amount_text().lower()


@given(st.lists(st.tuples(prices("EUR"), st.integers(1, 1_000_000)), min_size=1, max_size=30))
def test_sums_are_exact(items: list[tuple[Money, int]]) -> None:
    exact = sum((price.amount * qty for price, qty in items), Decimal(0))
    minor = sum(price.minor_units() * qty for price, qty in items)
    if exact > MAX_AMOUNT:
        return
    total = Money.zero("EUR")
    for price, qty in items:
        total = total + price.times(qty)
    assert total.amount == exact
    assert total.minor_units() == minor


# --- quantities (R18) --------------------------------------------------------------------


@pytest.mark.parametrize("value", [1, 7, 1_000_000, Decimal("3"), Decimal("3.0")])
def test_quantity_accepts(value: object) -> None:
    assert validate_quantity(value) == int(value)  # type: ignore[call-overload]
    assert type(validate_quantity(value)) is int


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "at least 1"),
        (-1, "cannot be negative"),
        (-(2**63), "cannot be negative"),
        (1_000_001, "at most 1,000,000"),
        (2**63, "at most 1,000,000"),
        (2**64 + 1, "at most 1,000,000"),
        (1.5, "whole number"),
        (2.0, "whole number"),
        (float("nan"), "whole number"),
        (Decimal("1.5"), "whole number"),
        (Decimal("NaN"), "whole number"),
        (Decimal("Infinity"), "whole number"),
        ("3", "whole number"),
        ("", "whole number"),
        (True, "whole number"),
        (None, "Enter a quantity"),
    ],
)
def test_quantity_refuses(value: object, message: str) -> None:
    with pytest.raises(InvalidValue, match=message) as exc:
        validate_quantity(value)
    assert exc.value.field == "quantity"


def test_quantity_field_is_passed_through() -> None:
    with pytest.raises(InvalidValue) as exc:
        validate_quantity(0, field="line_quantity")
    assert exc.value.field == "line_quantity"


# --- text (R18, R19) ---------------------------------------------------------------------


def _name(value: object) -> str:
    return validate_text(value, field="name", max_length=120, label="customer name")


@pytest.mark.parametrize(
    "text",
    [
        "Zoë's Café",
        "😀 Party Supplies 👩‍👩‍👧",
        "شركة النور",
        "חברה בע״מ",
        "Ünïcödé\u0301\u0327",
        "e\u0301",
        "\u200fRTL mark inside\u200f",
        "CJK 東京株式会社",
        "a" * 120,
    ],
)
def test_text_kept_exactly(text: str) -> None:
    assert _name(text) == text


def test_nfc_and_nfd_twins_stay_distinct() -> None:
    nfc = unicodedata.normalize("NFC", "Café Müller")
    nfd = unicodedata.normalize("NFD", "Café Müller")
    assert nfc != nfd
    assert _name(nfc) == nfc
    assert _name(nfd) == nfd


def test_text_is_stripped() -> None:
    assert _name("  Acme  ") == "Acme"
    assert _name("\tAcme\n") == "Acme"  # a pasted trailing newline is forgiven, not stored


@pytest.mark.parametrize("text", ["", " ", "   \t ", "\u3000", "\n"])
def test_text_required(text: str) -> None:
    with pytest.raises(InvalidValue) as exc:
        _name(text)
    assert exc.value.message == "Enter a customer name."
    assert exc.value.field == "name"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Ac\x00me", "control character \\(U\\+0000\\)"),
        ("Ac\nme", "control character \\(U\\+000A\\)"),
        ("Ac\tme", "control character"),
        ("Ac\rme", "control character"),
        ("Ac\x1bme", "control character"),
        ("Ac\x7fme", "control character"),
        ("Ac\x85me", "control character"),
        ("Ac\x9fme", "control character"),
        ("Ac\u2028me", "control character"),
        ("Ac\ud800me", "invalid character \\(U\\+D800\\)"),
        ("Acme\udfff", "invalid character"),
    ],
)
def test_text_refuses_controls_and_lone_surrogates(text: str, message: str) -> None:
    with pytest.raises(InvalidValue, match=message) as exc:
        _name(text)
    assert exc.value.field == "name"


def test_text_refuses_exactly_the_forbidden_code_points() -> None:
    # The one-regex scan must refuse the same set as the per-character rule, and report the
    # first offending character.
    from desktop_app.domain.values import _FORBIDDEN_RE, _is_forbidden_char

    for code in range(0x110000):
        assert (_FORBIDDEN_RE.search(chr(code)) is not None) is _is_forbidden_char(code), code
    with pytest.raises(InvalidValue, match="U\\+0009"):
        _name("A\tB\x00C")


def test_text_too_long_names_the_limit() -> None:
    with pytest.raises(InvalidValue) as exc:
        _name("a" * 121)
    assert "at most 120 characters" in exc.value.message


def test_ten_megabyte_string_refused_by_length() -> None:
    huge = "x" * (10 * 1024 * 1024) + "\x00"
    with pytest.raises(InvalidValue) as exc:
        _name(huge)
    assert "at most 120 characters" in exc.value.message
    assert "10,485,761" in exc.value.message
    assert len(exc.value.message) < 200


@pytest.mark.parametrize("value", [None, 5, b"Acme", ["Acme"]])
def test_text_must_be_str(value: object) -> None:
    with pytest.raises(InvalidValue, match="as text"):
        _name(value)


def test_article_in_message() -> None:
    with pytest.raises(InvalidValue, match=r"Enter an order number\."):
        validate_text("", field="order_number", max_length=10, label="order number")


@given(one_line_text)
def test_any_valid_text_round_trips(text: str) -> None:
    assert validate_text(text, field="x", max_length=40, label="text") == text


# --- SKU ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [("ab-12_x.3", "AB-12_X.3"), ("  w1 ", "W1"), ("A" * 40, "A" * 40)]
)
def test_sku_accepts_and_uppercases(value: str, expected: str) -> None:
    assert validate_sku(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Enter a SKU."),
        ("AB 12", "only letters"),
        ("AB/12", "only letters"),
        ("ÄB12", "only letters"),
        ("A" * 41, "at most 40"),
        ("AB\x0012", "control character"),
    ],
)
def test_sku_refuses(value: str, message: str) -> None:
    with pytest.raises(InvalidValue, match=message) as exc:
        validate_sku(value)
    assert exc.value.field == "sku"
