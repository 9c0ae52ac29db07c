"""P5 helper, run as its own process: another program appends a burst of order events.

``python -m benchmarks.p5_writer DB EVENTS`` appends ``EVENTS`` events of new orders (placed,
1–4 lines, most confirmed, some shipped) continuing the file's hash chain, positions and
order-number sequence, in transactions of ``BATCH`` events written back to back, then prints one
JSON line ``{"first": …, "last": …, "seconds": …}``. The GUI process under test does not know
the events are coming: its projector finds them by polling, as it would for a second clerk.
"""

from __future__ import annotations

import json
import random
import sqlite3
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from desktop_app.store.hashing import Row, to_json_text, utc_text
from desktop_app.store.read_model_file import read_model_path
from desktop_app.store.records import build_rows

BATCH = 1_000
_INSERT = (
    "INSERT INTO events (position, stream_id, version, event_id, type_name, schema_version, "
    "payload, metadata, recorded_at, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
)

Script = list[tuple[str, dict[str, Any]]]


def _order_script(
    rnd: random.Random,
    number: int,
    customers: Sequence[tuple[str, str]],
    products: Sequence[tuple[str, str, str, int]],
) -> tuple[str, Script]:
    oid = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
    cid, cname = rnd.choice(customers)
    script: Script = [
        (
            "OrderPlaced",
            {
                "order_id": oid,
                "order_number": f"SO-{number:06d}",
                "customer_id": cid,
                "customer_name": cname,
                "currency": "EUR",
            },
        )
    ]
    for _ in range(rnd.randint(1, 4)):
        pid, sku, pname, price = rnd.choice(products)
        script.append(
            (
                "OrderLineAdded",
                {
                    "order_id": oid,
                    "line_id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
                    "product_id": pid,
                    "sku": sku,
                    "product_name": pname,
                    "quantity": rnd.randint(1, 9),
                    "unit_price": {"amount": f"{price / 100:.2f}", "currency": "EUR"},
                },
            )
        )
    if rnd.random() < 0.8:
        script.append(("OrderConfirmed", {"order_id": oid}))
    return f"order-{oid}", script


def _rows(con: sqlite3.Connection, count: int, seed: int) -> Iterator[Row]:
    rnd = random.Random(seed)
    customers = [
        (str(a), str(b)) for a, b in con.execute("SELECT customer_id, name FROM rm_customers")
    ]
    products = [
        (str(a), str(b), str(c), int(d))
        for a, b, c, d in con.execute(
            "SELECT product_id, sku, name, price_minor FROM rm_products WHERE discontinued = 0"
        )
    ]
    head = con.execute("SELECT position, hash FROM events ORDER BY position DESC LIMIT 1")
    position, prev_hash = head.fetchone()
    row = con.execute("SELECT value FROM sequences WHERE name = 'order-number'").fetchone()
    number = int(row[0]) if row else 0
    moment = datetime.now(UTC)
    emitted = 0
    while emitted < count:
        number += 1
        stream, script = _order_script(rnd, number, customers, products)
        command = str(uuid.uuid4())
        meta = to_json_text(
            {
                "app_version": "0.1.0",
                "causation_id": command,
                "correlation_id": command,
                "host": "other-desk",
                "source": "gui",
                "user": "clerk2",
            }
        )
        encoded = [
            (str(uuid.uuid4()), name, 1, to_json_text(payload), meta)
            for name, payload in script[: count - emitted]
        ]
        moment += timedelta(microseconds=150)
        for built in build_rows(stream, 1, position + 1, prev_hash, utc_text(moment), encoded):
            position, prev_hash = built[0], built[10]
            emitted += 1
            yield built
    con.execute("UPDATE sequences SET value = ? WHERE name = 'order-number'", (number,))


def append(path: str, count: int, seed: int = 17) -> dict[str, float | int]:
    """Append ``count`` events to the file at ``path``; positions and seconds taken."""
    started = time.perf_counter()
    con = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        # The customers and products come from the read model's own file.
        con.execute("ATTACH DATABASE ? AS rm", (str(read_model_path(Path(path))),))
        con.execute("PRAGMA synchronous = NORMAL")
        first = int(con.execute("SELECT max(position) FROM events").fetchone()[0]) + 1
        batch: list[Row] = []
        con.execute("BEGIN IMMEDIATE")
        for row in _rows(con, count, seed):
            batch.append(row)
            if len(batch) >= BATCH:
                con.executemany(_INSERT, batch)
                con.execute("COMMIT")
                con.execute("BEGIN IMMEDIATE")
                batch = []
        con.executemany(_INSERT, batch)
        con.execute("COMMIT")
        last = int(con.execute("SELECT max(position) FROM events").fetchone()[0])
    finally:
        con.close()
    return {"first": first, "last": last, "seconds": time.perf_counter() - started}


def main(argv: Sequence[str]) -> int:
    """``DB EVENTS``: append and print the JSON line."""
    path, count = argv[0], int(argv[1])
    print(json.dumps(append(path, count)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
