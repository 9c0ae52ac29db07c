"""The hash of a stored event recomputed from its decoded contents, for the audit view's
per-event chain check (``application.audit_timeline.EventHasher``)."""

from __future__ import annotations

from desktop_app.application.ports import StoredEvent
from desktop_app.store.hashing import event_hash


def stored_event_hash(event: StoredEvent) -> str:
    """What ``event.hash`` must be if nothing in the event changed since it was recorded."""
    return event_hash(
        prev_hash=event.prev_hash,
        position=event.position,
        stream_id=event.stream_id,
        version=event.version,
        event_id=event.event_id,
        type_name=event.type_name,
        schema_version=event.schema_version,
        payload=event.payload,
        metadata=event.metadata.to_json(),
        recorded_at=event.recorded_at,
    )


__all__ = ["stored_event_hash"]
