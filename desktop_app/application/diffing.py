"""Field-by-field differences between two aggregate states (snapshot dicts).

Lists of records that carry a ``line_id`` (or a ``note_id``) are matched by that id, so removing
the first line shows one removed line rather than every later line "changed". Notes are
labelled by the order version that added them (``notes[#7]``), lines by their SKU.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from desktop_app.application.ports import JsonObject, JsonValue
from desktop_app.application.queries import FieldChange

_MISSING = object()
_KEY_FIELDS = ("line_id", "note_id", "id")


def diff_states(before: JsonObject, after: JsonObject) -> tuple[FieldChange, ...]:
    """Every leaf that was added, removed or changed, in a stable order."""
    changes: list[FieldChange] = []
    _diff(before, after, "", changes)
    return tuple(changes)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _record_key(item: JsonValue) -> str | None:
    if isinstance(item, Mapping):
        for name in _KEY_FIELDS:
            value = item.get(name)
            if isinstance(value, str):
                return value
    return None


def _label(item: JsonValue, key: str, others: Sequence[JsonValue]) -> str:
    """A readable list index: the SKU when it is unique in the list, else the id."""
    if isinstance(item, Mapping):
        version = item.get("version")
        if "note_id" in item and isinstance(version, int) and not isinstance(version, bool):
            return f"#{version}"
        sku = item.get("sku")
        if isinstance(sku, str):
            # ``others`` holds both states, so one line appears twice: count distinct records.
            same = {
                _record_key(o) for o in others if isinstance(o, Mapping) and o.get("sku") == sku
            }
            if len(same) <= 1:
                return sku
    return key


def _diff(before: object, after: object, path: str, out: list[FieldChange]) -> None:
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        for key in list(before) + [k for k in after if k not in before]:
            _diff(before.get(key, _MISSING), after.get(key, _MISSING), _join(path, key), out)
        return
    if (
        isinstance(before, list)
        and isinstance(after, list)
        and all(_record_key(i) is not None for i in before + after)
    ):
        _diff_records(before, after, path, out)
        return
    if isinstance(before, list) and isinstance(after, list):
        for index in range(max(len(before), len(after))):
            left = before[index] if index < len(before) else _MISSING
            right = after[index] if index < len(after) else _MISSING
            _diff(left, right, f"{path}[{index}]", out)
        return
    if before is _MISSING and after is _MISSING:
        return
    if before is _MISSING:
        out.append(FieldChange(path=path, before=None, after=after, kind="added"))
    elif after is _MISSING:
        out.append(FieldChange(path=path, before=before, after=None, kind="removed"))
    elif before != after or type(before) is not type(after):
        out.append(FieldChange(path=path, before=before, after=after, kind="changed"))


def _diff_records(
    before: list[JsonValue], after: list[JsonValue], path: str, out: list[FieldChange]
) -> None:
    old = {_record_key(item): item for item in before}
    new = {_record_key(item): item for item in after}
    everything = before + after
    for key in list(old) + [k for k in new if k not in old]:
        item = old.get(key, new.get(key))
        label = _label(item, str(key), everything)
        _diff(old.get(key, _MISSING), new.get(key, _MISSING), f"{path}[{label}]", out)
