"""P8's child processes (one workstation each): ``python -m benchmarks.p8_writer MODE …``.

* ``project URL ORDERS CUSTOMER PRODUCTS`` — Order Desk on the server (``--db URL``): builds
  ORDERS order workflows (place with 1 line, 3 × add line, confirm: 5 commands through the
  full command bus), prints ``ready``, waits for a line on stdin, runs them and prints ONE
  JSON line ``{"start": ns, "end": ns, "commands": n, "cpu_s": s}`` (``time.monotonic_ns``: one
  clock for every process on Linux; ``cpu_s`` its own CPU while timed), then waits for one
  more line on stdin before it closes.
* ``eventsourcing URL ORDERS`` — the same workflow through ``eventsourcing``'s PostgreSQL
  recorder (``repository.get`` + method + ``save`` per command; the peer's own table lock
  orders its notification ids as our append lock orders positions).
* ``fresh URL COUNT SEED CUSTOMERS PRODUCTS`` — another workstation's clerk: COUNT commands at a
  user's pace (a new order, a price change, …), printing ``position monotonic_ns`` after each
  commit, for the freshness measurement in the parent.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from benchmarks.es_baseline import EsOrders
from desktop_app.application import commands as c
from desktop_app.bootstrap import App, bootstrap
from desktop_app.config import ServerLocation, Settings

PRODUCTS = 4


def open_app(url: str, source: str = "bench") -> App:
    """Order Desk composed on the server database at ``url``."""
    return bootstrap(Settings.for_location(ServerLocation(url)), source=source)


def _quantity(order: int, line: int) -> int:
    return 1 + (order + line) % 7


def workflow_commands(customer: str, products: list[str], orders: int) -> list[c.Command]:
    """P1's order workflow: 5 commands per order."""
    out: list[c.Command] = []
    for o in range(orders):
        order_id = str(uuid.uuid4())
        out.append(
            c.PlaceOrder(
                customer_id=customer,
                lines=(c.LineInput(product_id=products[0], quantity=_quantity(o, 0)),),
                order_id=order_id,
            )
        )
        for line in (1, 2, 3):
            out.append(
                c.AddOrderLine(
                    order_id=order_id,
                    line=c.LineInput(
                        product_id=products[line % PRODUCTS], quantity=_quantity(o, line)
                    ),
                )
            )
        out.append(c.ConfirmOrder(order_id=order_id))
    return out


class EsPgOrders(EsOrders):
    """The peer's order application on its PostgreSQL persistence (same aggregate, same
    commands as P1's SQLite peer)."""

    def __init__(self, url: str, *, create_tables: bool = True) -> None:
        parts = urlsplit(url)
        self._datastore = None
        # Skip EsOrders.__init__ (SQLite): the Application base with the PostgreSQL module.
        super(EsOrders, self).__init__(
            env={
                "PERSISTENCE_MODULE": "eventsourcing.postgres",
                "POSTGRES_DBNAME": parts.path.lstrip("/"),
                "POSTGRES_HOST": parts.hostname or "127.0.0.1",
                "POSTGRES_PORT": str(parts.port or 5432),
                "POSTGRES_USER": parts.username or "postgres",
                "POSTGRES_PASSWORD": parts.password or "",  # trust auth on the bench cluster
                "POSTGRES_POOL_SIZE": "2",
                # The writers start together: only the parent makes the tables (concurrent
                # DDL on the catalog fails with "tuple concurrently updated").
                "CREATE_TABLE": "y" if create_tables else "n",
            }
        )

    def construct_factory(self, env: Any) -> Any:
        """The PostgreSQL factory, unchanged."""
        return super(EsOrders, self).construct_factory(env)


def _es_line(o: int, index: int) -> tuple[str, str, str, str, int, Decimal]:
    p = index % PRODUCTS
    return (
        str(uuid.uuid4()),
        f"product-{p}",
        f"SKU-{p:04d}",
        f"Product {p}",
        _quantity(o, index),
        Decimal(f"{p + 1}.50"),
    )


def _wait_for_go() -> None:
    print("ready", flush=True)
    if not sys.stdin.readline():
        raise SystemExit(1)


def _cpu() -> float:
    """This process's CPU seconds (user + system, every thread: the listener's too)."""
    times = os.times()
    return times.user + times.system


def _report(start: int, end: int, commands: int, cpu: float) -> None:
    """The JSON line, then wait for the parent's word before closing: the parent reads the
    server's CPU while this writer's sessions (and their counters) are still there."""
    line = {"start": start, "end": end, "commands": commands, "cpu_s": cpu}
    print(json.dumps(line), flush=True)
    sys.stdin.readline()


def run_project(url: str, orders: int, customer: str, products: list[str]) -> int:
    """Order Desk writer."""
    app = open_app(url)
    try:
        todo = workflow_commands(customer, products, orders)
        dispatch = app.commands.dispatch
        _wait_for_go()
        cpu = _cpu()
        start = time.monotonic_ns()
        for command in todo:
            dispatch(command)
        end = time.monotonic_ns()
        _report(start, end, len(todo), _cpu() - cpu)
    finally:
        app.close()
    return 0


def run_eventsourcing(url: str, orders: int) -> int:
    """eventsourcing writer."""
    app = EsPgOrders(url, create_tables=False)
    try:
        customer = str(uuid.uuid4())
        tag = uuid.uuid4().hex[:6]
        _wait_for_go()
        cpu = _cpu()
        start = time.monotonic_ns()
        for o in range(orders):
            order_id: UUID = app.place_order(f"SO-{tag}-{o:06d}", customer, _es_line(o, 0))
            for line in (1, 2, 3):
                app.add_line(order_id, _es_line(o, line))
            app.confirm(order_id)
        end = time.monotonic_ns()
        _report(start, end, orders * 5, _cpu() - cpu)
    finally:
        app.close()
    return 0


def one_command(
    app: App, customers: list[str], products: list[str], rnd: random.Random, i: int
) -> int:
    """P4's measured commands: a new order, then a price change, …; the last position."""
    if i % 2 == 0:
        line = c.LineInput(product_id=rnd.choice(products), quantity=rnd.randint(1, 5))
        command: c.Command = c.PlaceOrder(customer_id=rnd.choice(customers), lines=(line,))
    else:
        price = Decimal(rnd.randrange(100, 9999)) / 100
        command = c.ChangeProductPrice(product_id=rnd.choice(products), price=price)
    return app.commands.dispatch(command).position


def run_fresh(url: str, count: int, seed: int, customers: list[str], products: list[str]) -> int:
    """The other workstation's clerk for the freshness measurement."""
    app = open_app(url, source="bench-child")
    try:
        rnd = random.Random(seed)
        for i in range(count):
            position = one_command(app, customers, products, rnd, i)
            print(position, time.monotonic_ns(), flush=True)
            time.sleep(rnd.uniform(0.02, 0.08))  # commits arrive at random moments
    finally:
        app.close()
    return 0


def main(argv: list[str]) -> int:
    """Entry point (see the module docstring)."""
    mode, url = argv[0], argv[1]
    if mode == "project":
        return run_project(url, int(argv[2]), argv[3], argv[4].split(","))
    if mode == "eventsourcing":
        return run_eventsourcing(url, int(argv[2]))
    if mode == "fresh":
        return run_fresh(url, int(argv[2]), int(argv[3]), argv[4].split(","), argv[5].split(","))
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(main(sys.argv[1:]))
