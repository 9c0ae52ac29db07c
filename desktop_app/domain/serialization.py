"""Events to and from JSON-compatible payloads, with the upcaster chain for old schema versions.

Payloads hold only str, int and nested dicts of str: Money is {"amount": "4.50", "currency":
"EUR"}, never a float or a Decimal object. Decoding is strict: a missing, extra or mistyped key
raises EventFormatError, because stored history must match its schema exactly.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType

from desktop_app.domain.errors import DomainError, EventFormatError, UnknownEventError
from desktop_app.domain.events import ALL_EVENTS, DomainEvent
from desktop_app.domain.values import JSON, Money

EVENT_TYPES: Mapping[str, type[DomainEvent]] = MappingProxyType(
    {cls.type_name: cls for cls in ALL_EVENTS}
)

Upcaster = Callable[[dict[str, object]], dict[str, object]]


def _order_shipped_v1_to_v2(payload: dict[str, object]) -> dict[str, object]:
    # v1 called the tracking number "tracking" and knew no carrier.
    out = {k: v for k, v in payload.items() if k != "tracking"}
    out["tracking_number"] = payload.get("tracking")
    out["carrier"] = ""
    return out


def _order_cancelled_v1_to_v2(payload: dict[str, object]) -> dict[str, object]:
    out = dict(payload)
    out["reason"] = "(no reason recorded)"
    return out


def _order_placed_v1_to_v2(payload: dict[str, object]) -> dict[str, object]:
    # v1 recorded no address: "" = the order has none of its own (it shows the customer's).
    out = dict(payload)
    out["shipping_address"] = ""
    return out


UPCASTERS: Mapping[tuple[str, int], Upcaster] = MappingProxyType(
    {
        ("OrderShipped", 1): _order_shipped_v1_to_v2,
        ("OrderCancelled", 1): _order_cancelled_v1_to_v2,
        ("OrderPlaced", 1): _order_placed_v1_to_v2,
    }
)


def _field_types(cls: type[DomainEvent]) -> dict[str, object]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


_FIELD_TYPES: Mapping[str, dict[str, object]] = MappingProxyType(
    {name: _field_types(cls) for name, cls in EVENT_TYPES.items()}
)


# Per type, the fields in declaration order and whether each holds Money: to_payload runs once
# per new event (dataclasses.fields + isinstance per value was a visible share of a command).
_PAYLOAD_FIELDS: Mapping[type[DomainEvent], tuple[tuple[str, bool], ...]] = MappingProxyType(
    {
        cls: tuple((name, kind is Money) for name, kind in _FIELD_TYPES[cls.type_name].items())
        for cls in EVENT_TYPES.values()
    }
)


def to_payload(event: DomainEvent) -> dict[str, JSON]:
    """The event's fields as a JSON-compatible dict (Money as decimal strings; a tuple of
    texts or of records as a list)."""
    fields = _PAYLOAD_FIELDS.get(type(event))
    if fields is None:  # pragma: no cover - a subclass of a known event
        fields = tuple((f.name, False) for f in dataclasses.fields(event))
    payload: dict[str, JSON] = {}
    for name, _ in fields:
        value = getattr(event, name)
        # Flat values inline: this runs for every new event of every command.
        if isinstance(value, Money):
            payload[name] = {"amount": value.amount_text(), "currency": value.currency}
        elif isinstance(value, str | int):
            payload[name] = value
        else:
            payload[name] = _plain(value, event.type_name)
    return payload


def _plain(value: object, type_name: str) -> JSON:
    if isinstance(value, Money):
        return {"amount": value.amount_text(), "currency": value.currency}
    if isinstance(value, str | int):
        return value
    if isinstance(value, tuple):
        return [_plain(item, type_name) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name), type_name) for f in dataclasses.fields(value)
        }
    # pragma: no cover - guarded by the event definitions
    raise TypeError(f"cannot serialise {type(value).__name__} in {type_name}")


def upcast(type_name: str, schema_version: int, payload: Mapping[str, object]) -> dict[str, object]:
    """Bring a stored payload up to the current schema version of its type."""
    cls = EVENT_TYPES.get(type_name)
    if cls is None:
        raise UnknownEventError(
            f"The data contains an event of type {type_name!r} that this version of Order Desk "
            "does not know. It may have been written by a newer version."
        )
    if isinstance(schema_version, bool) or not isinstance(schema_version, int):
        raise UnknownEventError(f"The event {type_name!r} has an invalid schema version.")
    if schema_version > cls.schema_version:
        raise UnknownEventError(
            f"The event {type_name!r} has schema version {schema_version}, but this version of "
            f"Order Desk knows only up to {cls.schema_version}. It was probably written by a "
            "newer version of Order Desk."
        )
    if schema_version < 1:
        raise UnknownEventError(
            f"The event {type_name!r} has an invalid schema version {schema_version}."
        )
    if not isinstance(payload, Mapping):
        raise EventFormatError(f"The stored {type_name} event is not a JSON object.")
    data = dict(payload)
    for version in range(schema_version, cls.schema_version):
        step = UPCASTERS.get((type_name, version))
        if step is None:  # pragma: no cover - a missing upcaster is a programming error
            raise UnknownEventError(f"No upcaster from {type_name} v{version} to v{version + 1}.")
        data = step(data)
    return data


def from_payload(type_name: str, schema_version: int, payload: Mapping[str, object]) -> DomainEvent:
    """Rebuild an event from a stored payload, upcasting older schema versions first.

    Loading a long order decodes thousands of payloads, so a payload of the current schema
    version is first tried on a cheap path (exact key count, exact value types, cached Money);
    anything it does not accept goes through the strict checks below, which raise the precise
    error. Both paths accept exactly the same payloads and build equal events.
    """
    if type(schema_version) is int:  # bool is refused by the strict path (True == 1)
        spec = _CURRENT.get((type_name, schema_version))
        if spec is not None and type(payload) is dict:
            event = _fast_event(spec, payload)
            if event is not None:
                return event
    return _strict_from_payload(type_name, schema_version, payload)


StoredEventRow = tuple[int, str, int, Mapping[str, object]]
"""A stored event as the stores hand it over: (version, type_name, schema_version, payload)."""


def from_payloads(rows: Iterable[StoredEventRow]) -> Iterator[DomainEvent]:
    """:func:`from_payload` for each ``(version, type_name, schema_version, payload)`` row of
    a history, in order (the version is not used here). One generator for a whole history
    instead of a call per event: replaying a 10,000-event order runs this loop 10,000 times.
    """
    current = _CURRENT
    for _version, type_name, schema_version, payload in rows:
        event = None
        if type(schema_version) is int and type(payload) is dict:
            spec = current.get((type_name, schema_version))
            if spec is not None:
                event = _fast_event(spec, payload)
        if event is None:
            event = _strict_from_payload(type_name, schema_version, payload)
        yield event


def _strict_from_payload(
    type_name: str, schema_version: int, payload: Mapping[str, object]
) -> DomainEvent:
    data = upcast(type_name, schema_version, payload)
    cls = EVENT_TYPES[type_name]
    types = _FIELD_TYPES[type_name]
    if set(data) != set(types):
        missing = sorted(set(types) - set(data))
        extra = sorted(set(data) - set(types))
        raise EventFormatError(
            f"The stored {type_name} event is malformed (missing {missing}, unexpected {extra})."
        )
    kwargs = {
        name: _strict_value(data[name], expected, type_name, name)
        for name, expected in types.items()
    }
    return cls(**kwargs)


def _strict_value(value: object, expected: object, type_name: str, name: str) -> object:
    """One stored value of the declared type (str, int, Money, a tuple of those or of
    records), or EventFormatError naming the field."""
    if expected is Money:
        if not isinstance(value, Mapping):
            raise EventFormatError(f"The stored {type_name} event has a malformed {name}.")
        try:
            return Money.from_json(value)
        except DomainError as exc:
            raise EventFormatError(
                f"The stored {type_name} event has a malformed {name}: {exc.message}"
            ) from exc
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise EventFormatError(f"The stored {type_name} event has a malformed {name}.")
        return value
    if expected is str:
        if not isinstance(value, str):
            raise EventFormatError(f"The stored {type_name} event has a malformed {name}.")
        return value
    if typing.get_origin(expected) is tuple:
        if not isinstance(value, list):
            raise EventFormatError(f"The stored {type_name} event has a malformed {name}.")
        (item_type, *_rest) = typing.get_args(expected)
        return tuple(
            _strict_value(item, item_type, type_name, f"{name}[{index}]")
            for index, item in enumerate(value)
        )
    if isinstance(expected, type) and dataclasses.is_dataclass(expected):
        fields = _record_types(expected)
        if not isinstance(value, Mapping) or set(value) != set(fields):
            raise EventFormatError(f"The stored {type_name} event has a malformed {name}.")
        return expected(
            **{
                key: _strict_value(value[key], kind, type_name, f"{name}.{key}")
                for key, kind in fields.items()
            }
        )
    # pragma: no cover - guarded by the event definitions
    raise TypeError(f"unsupported field type {expected!r} in {type_name}")


@functools.cache
def _record_types(cls: type[object]) -> dict[str, object]:
    """The fields of a record nested in an event (e.g. ``AddedLine``), with their types."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}  # type: ignore[arg-type]


# --- the cheap path for current-schema payloads --------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _FastSpec:
    cls: type[DomainEvent]
    size: int
    plain: tuple[tuple[str, type], ...]  # (name, str or int): the value's exact type
    money: tuple[str, ...]  # names of Money fields


def _fast_spec(cls: type[DomainEvent]) -> _FastSpec | None:
    """The cheap path's plan for a type of flat fields; None for one holding lists (rare
    events such as ``OrderLinesChanged``: they always take the strict path)."""
    types = _FIELD_TYPES[cls.type_name]
    plain: list[tuple[str, type]] = []
    money: list[str] = []
    for name, kind in types.items():
        if kind is Money:
            money.append(name)
        elif kind is str or kind is int:
            plain.append((name, kind))
        else:
            return None
    return _FastSpec(cls, len(types), tuple(plain), tuple(money))


# A plain dict (module-private, never changed): its .get is cheaper than a mappingproxy's.
_CURRENT: dict[tuple[str, int], _FastSpec] = {
    (cls.type_name, cls.schema_version): spec
    for cls in EVENT_TYPES.values()
    if (spec := _fast_spec(cls)) is not None
}


def stored_money(amount: object, currency: object) -> Money | None:
    """The Money of a stored (amount text, currency), or None if ``Money.parse`` refuses it.

    Stored histories repeat a few prices thousands of times, and Money is immutable, so the
    result of the full ``Money.parse`` is cached per (text, currency): a hit skips only
    re-validation of the very same text, never a check.
    """
    if type(amount) is not str or type(currency) is not str:
        return None
    return _parsed_money(amount, currency)


@functools.lru_cache(maxsize=4096)
def _parsed_money(amount: str, currency: str) -> Money | None:
    try:
        return Money.parse(amount, currency)
    except DomainError:
        return None


_new_event = object.__new__
_set_field = object.__setattr__


def _fast_event(spec: _FastSpec, payload: dict[str, object]) -> DomainEvent | None:
    """The event, or None when the payload needs the strict path (which then explains why).

    Equal key count + every expected key present with its exact type = the strict path's
    "same key set, right types"; a missing key reads as None, which is never str or int.
    The event is filled field by field as its generated ``__init__`` would (frozen, slots,
    no ``__post_init__``), sparing the keyword-argument parsing on this per-event path.
    """
    if len(payload) != spec.size:
        return None
    event = _new_event(spec.cls)
    for name, kind in spec.plain:
        value = payload.get(name)
        if type(value) is not kind:
            return None
        _set_field(event, name, value)
    for name in spec.money:
        value = payload.get(name)
        if type(value) is not dict or len(value) != 2:
            return None
        money = stored_money(value.get("amount"), value.get("currency"))
        if money is None:
            return None
        _set_field(event, name, money)
    return event
