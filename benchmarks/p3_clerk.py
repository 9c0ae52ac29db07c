"""A clerk beside a P3 rebuild: ``python -m benchmarks.p3_clerk DB INTERVAL``.

Opens the app on DB (its projector never runs), registers a customer and a product, prints
``ready``, then places an order, adds a line and confirms it, over and over, one command every
INTERVAL seconds, timing each ``dispatch`` (the wait for the write lock included). When its
stdin closes it prints ONE line of JSON: ``[[wall-clock start, seconds, error or null], ...]``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

from desktop_app.application import commands as c
from desktop_app.bootstrap import bootstrap
from desktop_app.config import Settings


def main(argv: list[str]) -> int:
    """Entry point."""
    path, interval = Path(argv[0]), float(argv[1])
    app = bootstrap(Settings(db_path=path), source="bench", create=False)
    try:
        dispatch = app.commands.dispatch
        customer = dispatch(c.RegisterCustomer(name="P3 Clerk")).aggregate_id
        product = dispatch(
            # A SKU of its own: a clerk runs beside every timed rebuild of one file, and SKUs
            # are unique.
            c.AddProduct(
                sku=f"P3-CLERK-{os.getpid()}-{time.time_ns()}",
                name="Clerk Mug",
                price=Decimal("4.50"),
                currency="EUR",
            )
        ).aggregate_id
        stop = threading.Event()

        def wait_for_eof() -> None:
            sys.stdin.read()
            stop.set()

        threading.Thread(target=wait_for_eof, daemon=True).start()
        print("ready", flush=True)
        timings: list[tuple[float, float, str | None]] = []
        order: str | None = None
        step = 0
        while not stop.is_set():
            line = c.LineInput(product_id=product, quantity=1 + step % 5)
            command: c.Command
            if order is None or step % 3 == 0:
                command = c.PlaceOrder(customer_id=customer, lines=(line,))
            elif step % 3 == 1:
                command = c.AddOrderLine(order_id=order, line=line)
            else:
                command = c.ConfirmOrder(order_id=order)
            wall, began = time.time(), time.perf_counter()
            error: str | None = None
            try:
                result = dispatch(command)
                if isinstance(command, c.PlaceOrder):
                    order = result.aggregate_id
            except Exception as exc:  # a timed-out command is a figure, not a crash
                error = f"{type(exc).__name__}: {exc}"
                order = None
            timings.append((wall, time.perf_counter() - began, error))
            step += 1
            stop.wait(interval)
        print(json.dumps(timings), flush=True)
    finally:
        app.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
