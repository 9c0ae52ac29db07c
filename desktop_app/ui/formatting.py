"""The only place values become text and text becomes values in the GUI.

Amounts arrive as integer minor units plus a currency code (read model) or as ``Decimal`` (domain);
times arrive as timezone-aware UTC datetimes and are shown in local time. Typed amounts and
quantities are parsed in the system locale and come back as ``Decimal`` / ``int`` or as a
``ParseError`` whose message a clerk can act on. Never float.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from PySide6.QtCore import QDateTime, QLocale, QTimeZone

# ISO 4217 minor-unit exponents that differ from 2 (the rest use 2).
_EXPONENTS: dict[str, int] = {
    "JPY": 0,
    "KRW": 0,
    "ISK": 0,
    "CLP": 0,
    "VND": 0,
    "HUF": 2,
    "BHD": 3,
    "KWD": 3,
    "JOD": 3,
    "OMR": 3,
    "TND": 3,
}

_SYMBOLS: dict[str, str] = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF"}

MAX_QUANTITY = 1_000_000
"""The largest quantity the spin boxes accept (the domain has the final word)."""

_MAX_AMOUNT_DIGITS = 15  # digits before the separator; beyond that it is a typo


class ParseError(ValueError):
    """Typed text could not be read as a value; ``message`` says what to type instead."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def locale() -> QLocale:
    """The locale used for every number and date (the system's, unless a test sets one)."""
    return QLocale()


def currency_exponent(currency: str) -> int:
    """How many decimal places ``currency`` has (2 unless ISO 4217 says otherwise)."""
    return _EXPONENTS.get(currency.upper(), 2)


def minor_to_decimal(minor: int, currency: str) -> Decimal:
    """Integer minor units -> exact Decimal amount."""
    return Decimal(int(minor)).scaleb(-currency_exponent(currency))


def format_decimal(value: Decimal, places: int) -> str:
    """A Decimal with exactly ``places`` decimals and locale grouping, without going via float."""
    loc = locale()
    quantum = Decimal(1).scaleb(-places)
    value = value.quantize(quantum)
    sign, digits, _exponent = value.as_tuple()
    text = "".join(str(d) for d in digits)
    if places:
        text = text.rjust(places + 1, "0")
        whole, frac = text[:-places], text[-places:]
    else:
        whole, frac = text, ""
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    group_sep = loc.groupSeparator()
    out = group_sep.join(groups)
    if frac:
        out += loc.decimalPoint() + frac
    if sign and any(digits):
        out = loc.negativeSign() + out
    return out


def currency_symbol(currency: str) -> str:
    """A short symbol for the currency (the ISO code when none is known)."""
    return _SYMBOLS.get(currency.upper(), currency.upper())


def format_money(amount: Decimal, currency: str) -> str:
    """``Decimal`` + currency -> ``"1,234.50 €"`` (grouping and separator from the locale)."""
    number = format_decimal(amount, currency_exponent(currency))
    return f"{number} {currency_symbol(currency)}"


def format_minor(minor: int, currency: str) -> str:
    """Integer minor units + currency -> display text."""
    return format_money(minor_to_decimal(minor, currency), currency)


def format_int(value: int) -> str:
    """An integer with the locale's grouping: 48213 -> "48,213"."""
    return format_decimal(Decimal(int(value)), 0)


def _to_qdatetime(value: datetime) -> QDateTime:
    if value.tzinfo is None:  # the read model stores UTC; a naive value is UTC
        value = value.replace(tzinfo=UTC)
    utc = value.astimezone(UTC)
    msecs = int(utc.timestamp() * 1000)
    return QDateTime.fromMSecsSinceEpoch(msecs, QTimeZone.utc()).toLocalTime()


def _date_text(local: QDateTime) -> str:
    loc = locale()
    if loc.language() == QLocale.Language.C:  # no real locale configured: ISO, unambiguous
        return local.date().toString("yyyy-MM-dd")
    return loc.toString(local.date(), QLocale.FormatType.ShortFormat)


def format_datetime(value: datetime | None, *, seconds: bool = False) -> str:
    """A UTC datetime shown in local time, short locale format ("" for None)."""
    if value is None:
        return ""
    local = _to_qdatetime(value)
    time_fmt = "HH:mm:ss" if seconds else "HH:mm"
    return f"{_date_text(local)} {local.time().toString(time_fmt)}"


def format_date(value: datetime | None) -> str:
    """The local calendar date of a UTC datetime ("" for None)."""
    if value is None:
        return ""
    return _date_text(_to_qdatetime(value))


def format_relative(value: datetime | None, now: datetime | None = None) -> str:
    """ "just now", "5 min ago", "3 h ago", else the local date and time."""
    if value is None:
        return ""
    now = now or datetime.now(UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    seconds = (now - value).total_seconds()
    if 0 <= seconds < 60:
        return "just now"
    if 0 <= seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if 0 <= seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return format_datetime(value)


def status_label(status: str) -> str:
    """An order status as a clerk reads it: "shipped" -> "Shipped"."""
    return status.replace("_", " ").capitalize()


def _normalise_number_text(text: str) -> str:
    """Locale text -> plain "1234.50" text (not yet validated).

    Group separators are removed only where they really group three digits, so "4.50" typed on
    a locale whose group separator is "." is read as 4.50, not 450.
    """
    loc = locale()
    point = loc.decimalPoint()
    group = loc.groupSeparator()
    cleaned = text.strip().replace("\u00a0", " ").replace("\u202f", " ")
    for symbol in sorted(set(_SYMBOLS.values()) | set(_SYMBOLS), key=len, reverse=True):
        cleaned = cleaned.replace(symbol, "")
    cleaned = cleaned.strip().replace("\u2212", "-")
    minus = loc.negativeSign()
    if minus != "-":
        cleaned = cleaned.replace(minus, "-")
    if group in {"\u00a0", "\u202f"}:
        group = " "
    sign = ""
    if cleaned.startswith("-"):
        sign, cleaned = "-", cleaned[1:].strip()
    whole, has_point, frac = cleaned.partition(point)
    if not has_point and point != "." and "." in whole and group == ".":
        parts = whole.split(".")
        if not (len(parts) > 1 and all(len(p) == 3 for p in parts[1:])):
            whole, _, frac = whole.partition(".")
            has_point = "."
    elif not has_point and point != "." and "." in whole and group != ".":
        whole, _, frac = whole.partition(".")
        has_point = "."
    seps = {group, " ", "'"} - {point}
    if any(sep and sep in whole for sep in seps):
        pattern = r"^\d{1,3}([" + re.escape("".join(s for s in seps if s)) + r"]\d{3})*$"
        if not re.match(pattern, whole):
            return "invalid"
        for sep in seps:
            if sep:
                whole = whole.replace(sep, "")
    return sign + whole + ("." + frac if has_point else "")


def parse_amount(text: str, currency: str | None = None) -> Decimal:
    """Typed text -> Decimal, in the system locale. Raises ``ParseError`` with a clear message."""
    if not text or not text.strip():
        raise ParseError("Enter an amount.")
    cleaned = _normalise_number_text(text)
    if cleaned.count(".") > 1 or not cleaned or cleaned in {"-", "."}:
        raise ParseError(f"“{text.strip()}” is not an amount; type it like {example_amount()}.")
    allowed = set("0123456789.-")
    if any(ch not in allowed for ch in cleaned) or "-" in cleaned[1:]:
        raise ParseError(f"“{text.strip()}” is not an amount; type it like {example_amount()}.")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ParseError(
            f"“{text.strip()}” is not an amount; type it like {example_amount()}."
        ) from None
    if not value.is_finite():
        raise ParseError("Enter a real amount.")
    if value < 0:
        raise ParseError("The amount cannot be negative.")
    whole_digits = len(cleaned.lstrip("-").split(".")[0].lstrip("0"))
    if whole_digits > _MAX_AMOUNT_DIGITS:
        raise ParseError("The amount is too large.")
    if currency is not None:
        places = currency_exponent(currency)
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            raise ParseError(
                f"{currency.upper()} amounts have at most {places} decimal places."
                if places
                else f"{currency.upper()} amounts have no decimal places."
            )
    return value


def parse_quantity(text: str) -> int:
    """Typed text -> a whole quantity ≥ 1. Raises ``ParseError`` with a clear message."""
    if not text or not text.strip():
        raise ParseError("Enter a quantity.")
    cleaned = _normalise_number_text(text)
    if not cleaned.lstrip("-").isdigit():
        if "." in cleaned:
            raise ParseError("The quantity must be a whole number.")
        raise ParseError(f"“{text.strip()}” is not a quantity; type a whole number like 3.")
    value = int(cleaned)
    if value <= 0:
        raise ParseError("The quantity must be at least 1.")
    if value > MAX_QUANTITY:
        raise ParseError(f"The quantity must be at most {format_int(MAX_QUANTITY)}.")
    return value


def example_amount() -> str:
    """An example of how to type an amount in this locale ("1234.50" / "1234,50")."""
    return f"1234{locale().decimalPoint()}50"


__all__ = [
    "MAX_QUANTITY",
    "ParseError",
    "currency_exponent",
    "currency_symbol",
    "example_amount",
    "format_date",
    "format_datetime",
    "format_decimal",
    "format_int",
    "format_minor",
    "format_money",
    "format_relative",
    "minor_to_decimal",
    "parse_amount",
    "parse_quantity",
    "status_label",
]
