"""Value objects and input validators: Money, quantities, one-line texts, SKUs.

Rounding rule (the only one): amounts are never rounded. Input with more decimal places than the
currency allows is refused; totals are exact sums of quantity x unit price. Trailing zeros beyond
the currency's places ("4.500") are accepted because they do not change the value.

Text rule: one-line texts are stripped of leading and trailing whitespace and otherwise kept
exactly as typed -- no Unicode normalisation, so NFC and NFD spellings stay distinct.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import TypeAlias

from desktop_app.domain.errors import InvalidValue

JSON: TypeAlias = "dict[str, JSON] | list[JSON] | str | int | bool | None"

CURRENCY_PLACES: Mapping[str, int] = MappingProxyType(
    {
        "CHF": 2,
        "DKK": 2,
        "EUR": 2,
        "GBP": 2,
        "JPY": 0,
        "NOK": 2,
        "SEK": 2,
        "USD": 2,
    }
)

# Keeps minor units far inside int64 even when 500 lines at the maximum are summed.
MAX_AMOUNT = Decimal("999999999999.99")

MIN_QUANTITY = 1
MAX_QUANTITY = 1_000_000

_PRICE_FIELD = "price"
# Longer text cannot be a sensible amount; refusing early keeps Decimal work bounded.
_MAX_AMOUNT_TEXT = 40
_AMOUNT_RE = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_SKU_RE = re.compile(r"[A-Za-z0-9._-]+")


def _check_currency(currency: object) -> str:
    if not isinstance(currency, str) or currency not in CURRENCY_PLACES:
        known = ", ".join(sorted(CURRENCY_PLACES))
        raise InvalidValue(f"Unknown currency {currency!r}. Use one of {known}.", field="currency")
    return currency


def _places_message(currency: str) -> str:
    places = CURRENCY_PLACES[currency]
    if places == 0:
        return f"An amount in {currency} cannot have decimal places."
    return f"An amount in {currency} can have at most {places} decimal places."


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount of one currency; Decimal only, validated on construction."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        currency = _check_currency(self.currency)
        amount: object = self.amount
        # bool is an int subclass and float is inexact: neither may become money.
        if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
            raise InvalidValue(
                f"An amount must be an exact decimal number, not {type(amount).__name__}.",
                field=_PRICE_FIELD,
            )
        value = Decimal(amount)
        if value.is_nan() or value.is_infinite():
            raise InvalidValue("An amount must be a finite number.", field=_PRICE_FIELD)
        if abs(value) > MAX_AMOUNT:
            raise InvalidValue(
                f"The amount is too large; the largest allowed is {MAX_AMOUNT:,} {currency}.",
                field=_PRICE_FIELD,
            )
        quantum = Decimal(1).scaleb(-CURRENCY_PLACES[currency])
        exact = value.quantize(quantum)
        if exact != value:
            raise InvalidValue(_places_message(currency), field=_PRICE_FIELD)
        if exact.is_zero():
            # -0 and 0 must be the same stored amount.
            exact = Decimal(0).quantize(quantum)
        object.__setattr__(self, "amount", exact)

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Zero in the given currency."""
        return cls(Decimal(0), currency)

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """Parse clerk-typed text such as "4.50"; only "." is a decimal separator here."""
        _check_currency(currency)
        if not isinstance(text, str):
            raise InvalidValue("Enter the price as text.", field=_PRICE_FIELD)
        stripped = text.strip()
        if not stripped:
            raise InvalidValue("Enter a price.", field=_PRICE_FIELD)
        if len(stripped) > _MAX_AMOUNT_TEXT:
            raise InvalidValue("The price has too many digits.", field=_PRICE_FIELD)
        if "," in stripped:
            raise InvalidValue(
                "Use a point (.) as the decimal separator, for example 4.50.", field=_PRICE_FIELD
            )
        if not _AMOUNT_RE.fullmatch(stripped):
            raise InvalidValue("Enter the price as a number, for example 4.50.", field=_PRICE_FIELD)
        return cls(Decimal(stripped), currency)

    @classmethod
    def price(cls, amount: Decimal, currency: str) -> Money:
        """A Money valid as a price: like the constructor, and never negative."""
        return validate_price(cls(amount, currency))

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Money:
        """Inverse of to_json; refuses anything but {"amount": str, "currency": str}."""
        if not isinstance(data, Mapping) or set(data) != {"amount", "currency"}:
            raise InvalidValue("A stored amount is malformed.", field=_PRICE_FIELD)
        amount = data["amount"]
        if not isinstance(amount, str):
            raise InvalidValue("A stored amount is malformed.", field=_PRICE_FIELD)
        currency = _check_currency(data["currency"])
        return cls.parse(amount, currency)

    def to_json(self) -> dict[str, str]:
        """{"amount": "4.50", "currency": "EUR"}: decimal string, never a float."""
        return {"amount": self.amount_text(), "currency": self.currency}

    def amount_text(self) -> str:
        """The amount as plain decimal text with the currency's places, e.g. "4.50"."""
        return format(self.amount, "f")

    def minor_units(self) -> int:
        """The amount in minor units (cents), exact."""
        return int(self.amount.scaleb(CURRENCY_PLACES[self.currency]))

    def times(self, quantity: int) -> Money:
        """This amount multiplied by a whole quantity, exact."""
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise InvalidValue("A quantity must be a whole number.", field="quantity")
        return Money(self.amount * quantity, self.currency)

    def __add__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        if other.currency != self.currency:
            raise InvalidValue(
                f"Cannot add {other.currency} to {self.currency}.", field=_PRICE_FIELD
            )
        return Money(self.amount + other.amount, self.currency)

    def __str__(self) -> str:
        return f"{self.amount_text()} {self.currency}"


def validate_price(money: object, field: str = _PRICE_FIELD) -> Money:
    """Return money if it is a Money usable as a price (not negative); else refuse."""
    if not isinstance(money, Money):
        raise InvalidValue("Enter a price.", field=field)
    if money.amount < 0:
        raise InvalidValue("A price cannot be negative.", field=field)
    return money


def validate_quantity(value: object, field: str = "quantity") -> int:
    """Return value as an int in 1..1,000,000; refuse anything else with a clear message."""
    whole = "Enter the quantity as a whole number, for example 3."
    if value is None:
        raise InvalidValue("Enter a quantity.", field=field)
    if isinstance(value, bool):
        raise InvalidValue(whole, field=field)
    if isinstance(value, Decimal):
        if not value.is_finite() or value != value.to_integral_value():
            raise InvalidValue(whole, field=field)
        value = int(value)
    if not isinstance(value, int):
        raise InvalidValue(whole, field=field)
    if value == 0:
        raise InvalidValue(f"The quantity must be at least {MIN_QUANTITY}.", field=field)
    if value < 0:
        raise InvalidValue("The quantity cannot be negative.", field=field)
    if value > MAX_QUANTITY:
        raise InvalidValue(f"The quantity can be at most {MAX_QUANTITY:,}.", field=field)
    return value


def _is_forbidden_char(code: int) -> bool:
    # C0 controls, DEL, C1 controls, line/paragraph separators (one-line fields), surrogates.
    return (
        code < 0x20 or 0x7F <= code <= 0x9F or code in (0x2028, 0x2029) or 0xD800 <= code <= 0xDFFF
    )


# Exactly the characters _is_forbidden_char refuses (a unit test compares the two sets).
_FORBIDDEN_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _article(label: str) -> str:
    return "an" if label[:1].lower() in "aeiou" else "a"


def validate_text(value: object, *, field: str, max_length: int, label: str) -> str:
    """Validate a one-line text: strip the ends, refuse empty, controls, lone surrogates, too long.

    `label` is the noun used in messages, e.g. "customer name" -> "Enter a customer name.".
    The text is otherwise returned exactly as given (no Unicode normalisation).
    """
    if not isinstance(value, str):
        raise InvalidValue(f"Enter the {label} as text.", field=field)
    text = value.strip()
    if not text:
        raise InvalidValue(f"Enter {_article(label)} {label}.", field=field)
    # Length first so a huge paste is refused by its size, not by some character deep inside.
    if len(text) > max_length:
        raise InvalidValue(
            f"The {label} can be at most {max_length:,} characters long "
            f"(this one has {len(text):,}).",
            field=field,
        )
    # One C-level scan (the first match is the first forbidden character, as a loop over
    # _is_forbidden_char would find); a per-character Python loop cost ~3 µs per id.
    found = _FORBIDDEN_RE.search(text)
    if found is not None:
        code = ord(found.group())
        if 0xD800 <= code <= 0xDFFF:
            raise InvalidValue(
                f"The {label} contains an invalid character (U+{code:04X}). Please retype it.",
                field=field,
            )
        raise InvalidValue(
            f"The {label} contains a control character (U+{code:04X}), such as a line "
            "break or tab. Remove it and try again.",
            field=field,
        )
    return text


def validate_multiline_text(
    value: object, *, field: str, max_length: int, max_lines: int, label: str
) -> str:
    """Validate a text of several lines (an address, a note): line breaks are kept (as "\\n",
    whatever the platform typed), each line's trailing spaces and blank lines at both ends are
    dropped; empty, too long, too many lines or any other control character is refused."""
    if not isinstance(value, str):
        raise InvalidValue(f"Enter the {label} as text.", field=field)
    lines = [line.rstrip() for line in value.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    text = "\n".join(lines)
    if not text:
        raise InvalidValue(f"Enter {_article(label)} {label}.", field=field)
    if len(text) > max_length:
        raise InvalidValue(
            f"The {label} can be at most {max_length:,} characters long "
            f"(this one has {len(text):,}).",
            field=field,
        )
    if len(lines) > max_lines:
        raise InvalidValue(
            f"The {label} can have at most {max_lines} lines (this one has {len(lines)}).",
            field=field,
        )
    for line in lines:
        found = _FORBIDDEN_RE.search(line)
        if found is not None:
            code = ord(found.group())
            raise InvalidValue(
                f"The {label} contains an invalid or control character (U+{code:04X}), such "
                "as a tab. Remove it and try again.",
                field=field,
            )
    return text


def validate_sku(value: object, field: str = "sku") -> str:
    """Validate a SKU: at most 40 of letters, digits, '-', '_', '.'; returned upper-cased."""
    text = validate_text(value, field=field, max_length=40, label="SKU")
    if not _SKU_RE.fullmatch(text):
        raise InvalidValue(
            "A SKU can contain only letters A-Z, digits and the characters - _ .", field=field
        )
    return text.upper()
