"""Unique keys (a product's SKU): the file-format step that adds them, and their SQL.

The keys live in ``unique_keys`` (namespace, key) -> owner, written by the event store in the
same ``BEGIN IMMEDIATE`` transaction as the events that take them, so the primary key decides
between two workstations (or processes) registering the same SKU at once.

Files written before keys were enforced may already hold the same SKU twice. Upgrading them
must neither fail nor lose an event: :func:`add_unique_keys` fills the table from the log
(the first product to take a key keeps it) and lists every later owner in
``unique_key_clashes``, which ``status`` and the log report.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection

from desktop_app.application.ports import UniqueClaim, UniqueClash
from desktop_app.domain.catalog import PRODUCT_STREAM_PREFIX, SKU_NAMESPACE, sku_key
from desktop_app.store.schema import unique_key_clashes, unique_keys

log = logging.getLogger(__name__)

CLAIM_KEY = (
    "INSERT INTO unique_keys (namespace, key, owner_id) VALUES (?, ?, ?) "
    "ON CONFLICT (namespace, key) DO NOTHING"
)
HOLDER = "SELECT owner_id FROM unique_keys WHERE namespace = ? AND key = ?"
CLASHES = (
    "SELECT namespace, key, holder_id, owner_id, position FROM unique_key_clashes "
    "WHERE ? IS NULL OR namespace = ? ORDER BY position"
)

# Every product that was ever added, oldest first, with the SKU as stored in its event.
_ADDED_PRODUCTS = (
    "SELECT position, stream_id, json_extract(payload, '$.sku') FROM events "
    "WHERE type_name = 'ProductAdded' AND substr(stream_id, 1, ?) = ? ORDER BY position"
)


def claim(con: sqlite3.Connection, wanted: UniqueClaim) -> str:
    """Inside the caller's write transaction: take ``wanted`` unless someone holds it;
    returns the holder (``wanted.owner`` when the claim stands)."""
    con.execute(CLAIM_KEY, (wanted.namespace, wanted.key, wanted.owner))
    row = con.execute(HOLDER, (wanted.namespace, wanted.key)).fetchone()
    return str(row[0])


def _has_keys(con: sqlite3.Connection) -> bool:
    return (
        con.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'unique_keys'"
        ).fetchone()
        is not None
    )


def _from_log(con: sqlite3.Connection) -> tuple[dict[str, str], list[UniqueClash]]:
    """Holders and clashes worked out from the log (a file not upgraded yet, read-only)."""
    prefix = PRODUCT_STREAM_PREFIX
    return scan_products(con.execute(_ADDED_PRODUCTS, (len(prefix), prefix)).fetchall())


def holder(con: sqlite3.Connection, namespace: str, key: str) -> str | None:
    """Who holds ``key`` in ``namespace`` (None: nobody)."""
    if not _has_keys(con):
        return _from_log(con)[0].get(key) if namespace == SKU_NAMESPACE else None
    row = con.execute(HOLDER, (namespace, key)).fetchone()
    return None if row is None else str(row[0])


def clashes(con: sqlite3.Connection, namespace: str | None) -> list[UniqueClash]:
    """The clashes recorded when the file was upgraded, oldest first. A file not upgraded yet
    (opened read-only) has no table: its clashes are worked out from the log instead."""
    if not _has_keys(con):
        found = _from_log(con)[1]
        return [c for c in found if namespace is None or c.namespace == namespace]
    return [
        UniqueClash(
            namespace=str(row[0]),
            key=str(row[1]),
            holder=str(row[2]),
            owner=str(row[3]),
            position=int(row[4]),
        )
        for row in con.execute(CLASHES, (namespace, namespace)).fetchall()
    ]


def scan_products(
    rows: Iterable[Sequence[Any]],
) -> tuple[dict[str, str], list[UniqueClash]]:
    """From ``(position, stream_id, sku)`` of every ProductAdded, oldest first: who holds each
    SKU key (the first product to take it) and every later product that used it too."""
    holders: dict[str, str] = {}
    found: list[UniqueClash] = []
    skip = len(PRODUCT_STREAM_PREFIX)
    for position, stream_id, sku in rows:
        if not isinstance(sku, str) or not sku.strip():
            continue  # not a SKU this program could have written; nothing to hold
        key = sku_key(sku)
        owner = str(stream_id)[skip:]
        first = holders.setdefault(key, owner)
        if first != owner:
            found.append(
                UniqueClash(
                    namespace=SKU_NAMESPACE,
                    key=key,
                    holder=first,
                    owner=owner,
                    position=int(position),
                )
            )
    return holders, found


def add_unique_keys(conn: Connection) -> None:
    """File-format step: create the key tables and fill them from the log (idempotent).

    Runs inside the upgrade's single transaction. Never refuses a file: a SKU already used by
    an earlier product is recorded as a clash (and logged), not claimed.
    """
    unique_keys.create(conn, checkfirst=True)
    unique_key_clashes.create(conn, checkfirst=True)
    prefix = PRODUCT_STREAM_PREFIX
    rows = conn.exec_driver_sql(_ADDED_PRODUCTS, (len(prefix), prefix)).fetchall()
    holders, found = scan_products(rows)
    for key, owner in holders.items():
        conn.exec_driver_sql(CLAIM_KEY, (SKU_NAMESPACE, key, owner))
    for clash in found:
        conn.exec_driver_sql(
            "INSERT OR IGNORE INTO unique_key_clashes "
            "(namespace, key, holder_id, owner_id, position) VALUES (?, ?, ?, ?, ?)",
            (clash.namespace, clash.key, clash.holder, clash.owner, clash.position),
        )
        log.warning(
            "SKU %s is used by two products (%s first, %s at event #%s); the first keeps it, "
            "new products can no longer take it",
            clash.key,
            clash.holder,
            clash.owner,
            clash.position,
        )
