"""Helpers for the background-job tests: apps on real files, commands, writer processes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from desktop_app.application import commands as c
from desktop_app.bootstrap import App, bootstrap
from desktop_app.config import Settings

ROOT = Path(__file__).resolve().parents[3]


def settings(db: Path, **overrides: Any) -> Settings:
    return Settings(db_path=db, **overrides)


def open_app(db: Path, **overrides: Any) -> App:
    return bootstrap(settings(db, **overrides), source="test")


def add_product(app: App, sku: str = "W-1") -> str:
    result = app.commands.dispatch(
        c.AddProduct(sku=sku, name=f"Widget {sku}", price=Decimal("2.50"), currency="EUR")
    )
    return result.aggregate_id


def add_customer(app: App, name: str = "Ann") -> str:
    return app.commands.dispatch(c.RegisterCustomer(name=name)).aggregate_id


def change_price(app: App, product_id: str, cents: int) -> int:
    """One command, one event; returns its position."""
    price = Decimal(cents) / 100
    return app.commands.dispatch(c.ChangeProductPrice(product_id=product_id, price=price)).position


def place_order(app: App, customer_id: str, product_id: str) -> str:
    line = c.LineInput(product_id=product_id, quantity=1)
    return app.commands.dispatch(c.PlaceOrder(customer_id=customer_id, lines=(line,))).aggregate_id


WAIT = 30.0
"""Seconds to wait for a condition: generous, so a busy machine is only slower, never red."""


def wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.01) -> bool:
    """Poll ``predicate`` until it holds (True) or ``timeout`` seconds passed (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def raw(db: Path) -> sqlite3.Connection:
    """A plain connection from outside the app (as another program would open the file)."""
    con = sqlite3.connect(db, isolation_level=None, timeout=5)
    con.execute("PRAGMA busy_timeout = 5000")
    return con


def hash_at(db: Path, position: int) -> str | None:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = con.execute("SELECT hash FROM events WHERE position = ?", (position,)).fetchone()
    finally:
        con.close()
    return None if row is None else str(row[0])


def event_rows(db: Path) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT * FROM events ORDER BY position").fetchall()
    finally:
        con.close()


WRITER = """
import sys, time
from decimal import Decimal
from pathlib import Path
from desktop_app.application import commands as c
from desktop_app.bootstrap import bootstrap
from desktop_app.config import Settings

db, product_id, stop, limit = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
app = bootstrap(Settings(db_path=db), source="writer")
n = 0
try:
    while not stop.exists() and (limit <= 0 or n < limit):
        n += 1
        r = app.commands.dispatch(
            c.ChangeProductPrice(product_id=product_id, price=Decimal(100 + n % 900) / 100)
        )
        print(r.position, flush=True)
finally:
    app.close()
"""


class Writer:
    """Another process appending events in a loop (one command per event)."""

    def __init__(self, db: Path, product_id: str, *, limit: int = 0) -> None:
        self.stop_file = db.with_name(f"stop-{os.getpid()}-{time.monotonic_ns()}")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), product_id, str(self.stop_file), str(limit)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        self.last_position = 0

    def wait_written(self, count: int, timeout: float = 30) -> int:
        """Block until the writer reported ``count`` more commits; returns the last position."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        for _ in range(count):
            line = self.proc.stdout.readline()
            assert line, self.proc.stderr.read() if self.proc.stderr else "writer died"
            self.last_position = int(line)
            assert time.monotonic() < deadline, "writer too slow"
        return self.last_position

    def stop(self) -> int:
        self.stop_file.touch()
        out, err = self.proc.communicate(timeout=30)
        assert self.proc.returncode == 0, err
        for line in out.split():
            self.last_position = int(line)
        self.stop_file.unlink(missing_ok=True)
        return self.last_position

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=10)
