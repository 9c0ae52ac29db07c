"""What an order's audit bundle needs from the file, and the store's hashes and keys to check
one (issue 11, "Evidence out of the program").

Everything is read through ONE read transaction (the caller's ``raw_read`` connection), so the
order's events, the chain rows up to the head, the head itself and the snapshots are one
consistent picture of the file.

Why the chain proof carries other events in full: an event's hash is
``sha256(prev_hash + canonical bytes of the event)`` (:mod:`desktop_app.store.hashing`), a
linear chain with the previous hash *in front of* the event's content. Recomputing the link from
one event to the next therefore needs the next event's complete content; a proof that gave only
the hashes of the events between the order's events and the head would let anyone who changed
an order event keep the original hashes of every later event, and so would prove nothing. With
this hash format a proof from the order's first event to the head must hold every event in that
range as stored (other orders' events included). A format that hashed ``prev_hash +
sha256(content)`` would allow redacted links; changing it is a file-format change not made here.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from desktop_app.store.anchors import Head, read_head
from desktop_app.store.hashing import row_hash
from desktop_app.store.records import snapshot_checksum
from desktop_app.store.rejection_log import COLUMNS
from desktop_app.store.sealing import SealKey, load_key, read_database_id, seal_verdict

PROOF_COLUMNS = (
    "position, stream_id, version, event_id, type_name, schema_version, payload, metadata, "
    "recorded_at, prev_hash, hash"
)
ProofRow = tuple[int, str, int, str, str, int, str, str, str, str, str]
"""One stored event exactly as in the file (payload and metadata as their stored text)."""

SnapshotEvidence = tuple[str, int, str, int, str, str, int, str, str, str | None]
"""(stream_id, version, aggregate_type, schema_version, state text, checksum, size_bytes,
taken_at, seal, hash of the event at its version or None)."""

_REJECTION_COLUMNS = ", ".join(f'"{name}"' for name in COLUMNS)
_PROOF_BATCH = 5_000
_MAC_LABEL = b"order-desk audit bundle mac v1"


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderEvidence:
    """Where an order's history sits in the file, read in the caller's transaction."""

    stream_id: str
    first_position: int
    """Position of the order's first event: the chain proof starts there."""
    event_count: int
    head: Head
    seal_database_id: str | None
    """The random id naming this file's snapshot key (``store_meta.database_id``)."""
    snapshots: tuple[SnapshotEvidence, ...]


def find_order_stream(con: sqlite3.Connection, order_number: str) -> str | None:
    """The stream of the order placed with ``order_number`` (numbers are unique), or None."""
    row = con.execute(
        "SELECT stream_id FROM events WHERE type_name = 'OrderPlaced' "
        "AND json_valid(payload) AND json_extract(payload, '$.order_number') = ? "
        "ORDER BY position LIMIT 1",
        (order_number,),
    ).fetchone()
    return None if row is None else str(row[0])


def read_order_evidence(con: sqlite3.Connection, stream_id: str) -> OrderEvidence | None:
    """The order's place in the log, the head and its snapshots; None when it has no events.

    Call inside a read transaction (``Database.raw_read``) and read the proof rows with
    :func:`iter_proof_rows` in the same one.
    """
    found = con.execute(
        "SELECT min(position), count(*) FROM events WHERE stream_id = ?", (stream_id,)
    ).fetchone()
    if found is None or found[0] is None:
        return None
    snapshots = con.execute(
        "SELECT s.stream_id, s.version, s.aggregate_type, s.schema_version, s.state, "
        "s.checksum, s.size_bytes, s.taken_at, s.seal, e.hash FROM snapshots s "
        "LEFT JOIN events e ON e.stream_id = s.stream_id AND e.version = s.version "
        "WHERE s.stream_id = ? ORDER BY s.version",
        (stream_id,),
    ).fetchall()
    return OrderEvidence(
        stream_id=stream_id,
        first_position=int(found[0]),
        event_count=int(found[1]),
        head=read_head(con),
        seal_database_id=read_database_id(con),
        snapshots=tuple(tuple(row) for row in snapshots),
    )


def read_order_rejections(
    con: sqlite3.Connection, stream_id: str
) -> list[tuple[object, ...]] | None:
    """The refused commands aimed at the order's stream as stored (columns of
    ``rejection_log.COLUMNS``), oldest first; None when the file has no rejection log (older
    than format 5 and opened read-only, so not upgraded)."""
    has_table = con.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'rejections'"
    ).fetchone()
    if has_table is None:
        return None
    rows = con.execute(
        f"SELECT {_REJECTION_COLUMNS} FROM rejections "  # noqa: S608 - a constant column list
        "WHERE stream_id = ? ORDER BY rejection_id",
        (stream_id,),
    ).fetchall()
    return [tuple(row) for row in rows]


def iter_proof_rows(con: sqlite3.Connection, first: int, last: int) -> Iterator[ProofRow]:
    """Every stored event from ``first`` to ``last`` in position order, in batches (a proof
    can span most of a large log)."""
    after = first - 1
    while after < last:
        rows = con.execute(
            f"SELECT {PROOF_COLUMNS} FROM events "  # noqa: S608 - a constant column list
            "WHERE position > ? AND position <= ? ORDER BY position LIMIT ?",
            (after, last, _PROOF_BATCH),
        ).fetchall()
        if not rows:
            return
        yield from rows
        after = int(rows[-1][0])


# ---------------------------------------------------------------------------- checking


class StoreBundleCrypto:
    """The store's formulas for :class:`desktop_app.application.audit_bundle.BundleCrypto`:
    the event hash, the snapshot checksum and seal, and the bundle's MAC (keyed with a key
    derived from the database's snapshot key, so only an account holding that key can make
    or check it)."""

    def __init__(self, key_dir: Path | None) -> None:
        self._key_dir = key_dir

    def row_hash(self, row: ProofRow) -> str:
        """The hash the row should carry, recomputed over its contents and previous hash."""
        return row_hash(row[9], *row[:9])

    def snapshot_checksum(
        self, stream_id: str, version: int, aggregate_type: str, schema_version: int, state: str
    ) -> str:
        """The public checksum of a snapshot row (catches damage, not forgery)."""
        return snapshot_checksum(stream_id, version, aggregate_type, schema_version, state)

    def key(self, seal_database_id: str | None) -> SealKey | None:
        """This account's key for the database, if it is on this machine (never made here)."""
        return load_key(self._key_dir, seal_database_id, create=False)

    def key_location(self, seal_database_id: str) -> str:
        """Where the key would be, for messages."""
        if self._key_dir is None:
            return "no key folder"
        return str(self._key_dir / f"{seal_database_id}.key")

    def seal_problem(
        self,
        key: SealKey,
        seal: str,
        stream_id: str,
        version: int,
        aggregate_type: str,
        schema_version: int,
        event_hash: str,
        state: str,
    ) -> tuple[str, bool] | None:
        """None when the snapshot carries ``key``'s valid seal, else (why, is it tampering)."""
        return seal_verdict(
            key, seal, stream_id, version, aggregate_type, schema_version, event_hash, state
        )

    def mac(self, key: SealKey, chunks: Iterable[bytes]) -> str:
        """``<key id>:<hex>``: HMAC-SHA256 of the bytes in ``chunks`` under a key derived from
        ``key`` (its own purpose: a bundle MAC can never pass for a snapshot seal)."""
        derived = hmac.new(key.secret, _MAC_LABEL, hashlib.sha256).digest()
        mac = hmac.new(derived, digestmod=hashlib.sha256)
        for chunk in chunks:
            mac.update(chunk)
        return f"{key.key_id}:{mac.hexdigest()}"


__all__ = [
    "PROOF_COLUMNS",
    "OrderEvidence",
    "ProofRow",
    "SnapshotEvidence",
    "StoreBundleCrypto",
    "find_order_stream",
    "iter_proof_rows",
    "read_order_evidence",
    "read_order_rejections",
]
