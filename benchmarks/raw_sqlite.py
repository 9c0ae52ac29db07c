"""The physical limit: hand-written SQL on one ``sqlite3`` connection.

The same kind of tables as the project (``events`` with an AUTOINCREMENT position,
UNIQUE(stream_id, version), a unique event id, JSON payload and metadata, recorded_at and a
sha256 hash chain; ``commands`` recording each command id), WAL, the same ``synchronous``, and
JSON encoded the same way (sorted keys, no whitespace, UTF-8). No ORM, no SQLAlchemy, no domain
objects: each command reads the stream's version and the chain head and appends its events in
its own transaction; a load fetches, decodes and folds into a plain dict.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

GENESIS_HASH = "0" * 64

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS events (
        position INTEGER PRIMARY KEY AUTOINCREMENT,
        stream_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        event_id TEXT NOT NULL UNIQUE,
        type_name TEXT NOT NULL,
        schema_version INTEGER NOT NULL,
        payload TEXT NOT NULL,
        metadata TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        CONSTRAINT uq_events_stream_version UNIQUE (stream_id, version)
    )""",
    """CREATE TABLE IF NOT EXISTS commands (
        command_id TEXT PRIMARY KEY,
        stream_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        first_position INTEGER NOT NULL,
        last_position INTEGER NOT NULL
    )""",
)

_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_loads = json.loads
_sha256 = hashlib.sha256

RawEvent = tuple[str, Mapping[str, Any]]
"""(type_name, payload) of one event to append."""


class VersionConflict(Exception):
    """The stream was not at the expected version."""


def utc_now_text() -> str:
    """Now, as the canonical ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_text(
    position: int,
    stream_id: str,
    version: int,
    event_id: str,
    type_name: str,
    schema_version: int,
    payload_text: str,
    metadata_text: str,
    recorded_at: str,
) -> str:
    """The event as one canonical JSON object (keys sorted), as the project hashes it."""
    return (
        '{"event_id":'
        + encode_basestring(event_id)
        + ',"metadata":'
        + metadata_text
        + ',"payload":'
        + payload_text
        + ',"position":'
        + str(position)
        + ',"recorded_at":"'
        + recorded_at
        + '","schema_version":'
        + str(schema_version)
        + ',"stream_id":'
        + encode_basestring(stream_id)
        + ',"type_name":'
        + encode_basestring(type_name)
        + ',"version":'
        + str(version)
        + "}"
    )


def connect(path: Path, *, synchronous: str) -> sqlite3.Connection:
    """One autocommit connection (we write BEGIN/COMMIT ourselves), WAL, given synchronous."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


class RawEventLog:
    """Append and load with hand-written SQL on one connection."""

    def __init__(self, path: Path, *, synchronous: str) -> None:
        self.conn = connect(path, synchronous=synchronous)
        for ddl in SCHEMA:
            self.conn.execute(ddl)

    def close(self) -> None:
        """Checkpoint nothing special; just close."""
        self.conn.close()

    def synchronous(self) -> int:
        """The connection's ``PRAGMA synchronous`` (1 NORMAL, 2 FULL)."""
        row = self.conn.execute("PRAGMA synchronous").fetchone()
        return int(row[0])

    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[RawEvent],
        metadata: Mapping[str, str],
        command_id: str,
    ) -> int:
        """One transaction: check the version, extend the chain, record the command id.

        Returns the stream's new version.
        """
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(
                "SELECT max(version) FROM events WHERE stream_id = ?", (stream_id,)
            ).fetchone()
            current = row[0] or 0
            if current != expected_version:
                raise VersionConflict(f"{stream_id} is at {current}, not {expected_version}")
            head = conn.execute(
                "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1"
            ).fetchone()
            position, prev_hash = head if head is not None else (0, GENESIS_HASH)
            metadata_text = _dumps(metadata)
            recorded_at = utc_now_text()
            version = current
            first_position = position + 1
            rows = []
            for type_name, payload in events:
                position += 1
                version += 1
                event_id = str(uuid.uuid4())
                payload_text = _dumps(payload)
                text = canonical_text(
                    position,
                    stream_id,
                    version,
                    event_id,
                    type_name,
                    1,
                    payload_text,
                    metadata_text,
                    recorded_at,
                )
                digest = _sha256(prev_hash.encode("ascii") + text.encode("utf-8")).hexdigest()
                rows.append(
                    (
                        position,
                        stream_id,
                        version,
                        event_id,
                        type_name,
                        1,
                        payload_text,
                        metadata_text,
                        recorded_at,
                        prev_hash,
                        digest,
                    )
                )
                prev_hash = digest
            conn.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
            conn.execute(
                "INSERT INTO commands VALUES (?,?,?,?,?)",
                (command_id, stream_id, version, first_position, position),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return version

    def load_order(self, stream_id: str) -> dict[str, Any]:
        """Fetch + decode + fold one order's events into a dict (no snapshot)."""
        rows = self.conn.execute(
            "SELECT type_name, payload FROM events WHERE stream_id = ? ORDER BY version",
            (stream_id,),
        ).fetchall()
        state: dict[str, Any] = {"version": 0, "lines": {}}
        for type_name, payload_text in rows:
            fold_order(state, type_name, _loads(payload_text))
        return state


def fold_order(state: dict[str, Any], type_name: str, payload: dict[str, Any]) -> None:
    """Apply one order event to a plain dict state."""
    lines: dict[str, dict[str, Any]] = state["lines"]
    if type_name == "OrderLineQuantityChanged":
        lines[payload["line_id"]]["quantity"] = payload["quantity"]
    elif type_name == "OrderLineAdded":
        lines[payload["line_id"]] = payload
    elif type_name == "OrderPlaced":
        state.update(payload)
        state["status"] = "pending"
    elif type_name == "OrderLineRemoved":
        del lines[payload["line_id"]]
    elif type_name == "OrderConfirmed":
        state["status"] = "confirmed"
    else:
        raise ValueError(f"unexpected event type {type_name}")
    state["version"] += 1


def order_placed(order_id: str, number: str, customer_id: str) -> RawEvent:
    """Payload of OrderPlaced, shaped like the project's."""
    return (
        "OrderPlaced",
        {
            "order_id": order_id,
            "order_number": number,
            "customer_id": customer_id,
            "customer_name": "Bench Customer",
            "currency": "EUR",
        },
    )


def line_added(order_id: str, line_id: str, product: int, quantity: int) -> RawEvent:
    """Payload of OrderLineAdded, shaped like the project's (money as a decimal string)."""
    return (
        "OrderLineAdded",
        {
            "order_id": order_id,
            "line_id": line_id,
            "product_id": f"product-{product}",
            "sku": f"SKU-{product:04d}",
            "product_name": f"Product {product}",
            "quantity": quantity,
            "unit_price": {"amount": f"{product + 1}.50", "currency": "EUR"},
        },
    )


def quantity_changed(order_id: str, line_id: str, quantity: int) -> RawEvent:
    """Payload of OrderLineQuantityChanged."""
    return (
        "OrderLineQuantityChanged",
        {"order_id": order_id, "line_id": line_id, "quantity": quantity},
    )


def order_confirmed(order_id: str) -> RawEvent:
    """Payload of OrderConfirmed."""
    return ("OrderConfirmed", {"order_id": order_id})


BENCH_METADATA_BASE = {
    "user": "bench",
    "host": "bench-host",
    "app_version": "0.1.0",
    "source": "bench",
}


def command_metadata(command_id: str) -> dict[str, str]:
    """Metadata of one command's events (the same six keys as the project)."""
    return {"correlation_id": command_id, "causation_id": command_id, **BENCH_METADATA_BASE}
