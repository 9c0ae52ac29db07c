"""Events to and from JSON-compatible payloads, with the upcaster chain for old schema versions.

Payloads hold only str, int and nested dicts of str: Money is {"amount": "4.50", "currency":
"EUR"}, never a float or a Decimal object. Decoding is strict: a missing, extra or mistyped key
raises EventFormatError, because stored history must match its schema exactly.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
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


UPCASTERS: Mapping[tuple[str, int], Upcaster] = MappingProxyType(
    {
        ("OrderShipped", 1): _order_shipped_v1_to_v2,
        ("OrderCancelled", 1): _order_cancelled_v1_to_v2,
    }
)


def _field_types(cls: type[DomainEvent]) -> dict[str, object]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


_FIELD_TYPES: Mapping[str, dict[str, object]] = MappingProxyType(
    {name: _field_types(cls) for name, cls in EVENT_TYPES.items()}
)


def to_payload(event: DomainEvent) -> dict[str, JSON]:
    """The event's fields as a JSON-compatible dict (Money as decimal strings)."""
    payload: dict[str, JSON] = {}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if isinstance(value, Money):
            payload[f.name] = {"amount": value.amount_text(), "currency": value.currency}
        elif isinstance(value, str | int):
            payload[f.name] = value
        else:  # pragma: no cover - guarded by the event definitions
            raise TypeError(f"cannot serialise {type(value).__name__} in {event.type_name}")
    return payload


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
    """Rebuild an event from a stored payload, upcasting older schema versions first."""
    data = upcast(type_name, schema_version, payload)
    cls = EVENT_TYPES[type_name]
    types = _FIELD_TYPES[type_name]
    if set(data) != set(types):
        missing = sorted(set(types) - set(data))
        extra = sorted(set(data) - set(types))
        raise EventFormatError(
            f"The stored {type_name} event is malformed (missing {missing}, unexpected {extra})."
        )
    kwargs: dict[str, object] = {}
    for name, expected in types.items():
        value = data[name]
        if expected is Money:
            if not isinstance(value, Mapping):
                raise EventFormatError(f"The stored {type_name} event has a malformed {name}.")
            try:
                kwargs[name] = Money.from_json(value)
            except DomainError as exc:
                raise EventFormatError(
                    f"The stored {type_name} event has a malformed {name}: {exc.message}"
                ) from exc
        elif expected is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise EventFormatError(f"The stored {type_name} event has a malformed {name}.")
            kwargs[name] = value
        elif expected is str:
            if not isinstance(value, str):
                raise EventFormatError(f"The stored {type_name} event has a malformed {name}.")
            kwargs[name] = value
        else:  # pragma: no cover - guarded by the event definitions
            raise TypeError(f"unsupported field type {expected!r} in {type_name}")
    return cls(**kwargs)
