"""Child processes for the reliability tests: ``python -m tests.integration.reliability.children
MODE ...``. Every child prints one JSON object per line (flushed) so the parent can assert on
exactly what each attempt saw.

Modes:

``r6-rounds DB ORDER_ID CHILD ROUNDS BARRIER_DIR BASE``
    For round r = 0.. waits for ``BARRIER_DIR/go-r``, then dispatches one command on the order
    with ``expected_version = BASE + r`` (what the clerk loaded) and prints the outcome.
``r6-free DB ORDER_ID CHILD ATTEMPTS BARRIER_FILE``
    Waits for the barrier once, then loops: load the order's version, dispatch a command pinned
    to it, print the outcome.
``r7-writer DB NAME APPENDS SEED BARRIER_FILE [RESUME_FILE]``
    Waits for the barrier, then appends batches of 3-5 events to its own streams directly
    through the event store; prints each append's positions. With ``RESUME_FILE`` it prints
    ``{"paused": true}`` half-way and waits for that file before going on.
``hold-lock DB``
    Takes the write lock with ``BEGIN IMMEDIATE`` on a raw sqlite3 connection, prints
    ``{"locked": true}``, holds it until its stdin gets a line or is closed (the parent
    decides when, never a timer), commits and prints ``{"released": true}``.
"""

from __future__ import annotations

import json
import random
import sqlite3
import sys
import time
import traceback
from decimal import Decimal
from pathlib import Path

from desktop_app.application import commands as c
from desktop_app.application.ports import ConcurrencyError, EventMetadata, NewEvent
from desktop_app.bootstrap import App, bootstrap
from desktop_app.config import Settings
from desktop_app.domain.errors import DomainError
from desktop_app.store.engine import open_database
from desktop_app.store.event_store import SqliteEventStore

PRODUCT_ID = "prod-r"
LINE_ID = "line-0"


def emit(**fields: object) -> None:
    print(json.dumps(fields, sort_keys=True), flush=True)


def wait_for(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"barrier {path} never appeared")
        time.sleep(0.0005)


def order_command(order_id: str, child: int, attempt: int, expected: int) -> c.Command:
    """Mostly change the one line's quantity; every 16th attempt add a line (an order holds at
    most 500 lines, and the long runs win over 2000 versions)."""
    cid = f"cmd-{child}-{attempt}-{random.getrandbits(48):x}"
    if attempt % 16 != 1:
        # Distinct per (child, attempt) and never 1: never equal to the line's current quantity.
        return c.ChangeLineQuantity(
            command_id=cid,
            order_id=order_id,
            expected_version=expected,
            line_id=LINE_ID,
            quantity=2 + attempt * 64 + child,
        )
    return c.AddOrderLine(
        command_id=cid,
        order_id=order_id,
        expected_version=expected,
        line=c.LineInput(product_id=PRODUCT_ID, quantity=1 + child),
        line_id=f"line-{child}-{attempt}",
    )


def dispatch(app: App, command: c.Command, child: int, attempt: int, expected: int) -> None:
    """Dispatch and print the outcome: ok, conflict, domain (refused) or other (a bug)."""
    try:
        result = app.commands.dispatch(command)
    except ConcurrencyError as exc:
        # Lost in the store's append (inside BEGIN IMMEDIATE) or already when the handler
        # compared the loaded version: both must look the same to the clerk.
        deepest = traceback.extract_tb(exc.__traceback__)[-1].filename
        where = "store" if deepest.endswith("event_store.py") else "handler"
        emit(
            child=child,
            attempt=attempt,
            expected=expected,
            command_id=command.command_id,
            outcome="conflict",
            where=where,
            message=str(exc),
        )
    except DomainError as exc:
        emit(
            child=child,
            attempt=attempt,
            expected=expected,
            command_id=command.command_id,
            outcome="domain",
            message=str(exc),
        )
    except Exception as exc:
        emit(
            child=child,
            attempt=attempt,
            expected=expected,
            command_id=command.command_id,
            outcome="other",
            type=f"{type(exc).__module__}.{type(exc).__name__}",
            message=str(exc),
            trace=traceback.format_exc(),
        )
    else:
        emit(
            child=child,
            attempt=attempt,
            expected=expected,
            outcome="ok",
            version=result.version,
            first=result.first_position,
            last=result.position,
            command_id=command.command_id,
            duplicate=result.duplicate,
        )


def r6_rounds(argv: list[str]) -> None:
    path, order_id, child, rounds = Path(argv[0]), argv[1], int(argv[2]), int(argv[3])
    barrier, base = Path(argv[4]), int(argv[5])
    app = bootstrap(Settings(db_path=path), source="test", create=False)
    emit(child=child, ready=True)
    for r in range(rounds):
        wait_for(barrier / f"go-{r}")
        expected = base + r
        dispatch(app, order_command(order_id, child, r, expected), child, r, expected)
    app.close()


def r6_free(argv: list[str]) -> None:
    path, order_id, child, attempts = Path(argv[0]), argv[1], int(argv[2]), int(argv[3])
    app = bootstrap(Settings(db_path=path), source="test", create=False)
    stream = app.deps.orders.stream_id(order_id)
    emit(child=child, ready=True)
    wait_for(Path(argv[4]))
    for attempt in range(attempts):
        expected = app.events.stream_version(stream)  # what the clerk's form loaded
        dispatch(app, order_command(order_id, child, attempt, expected), child, attempt, expected)
    app.close()


def r7_writer(argv: list[str]) -> None:
    path, name, appends, seed = Path(argv[0]), argv[1], int(argv[2]), int(argv[3])
    rnd = random.Random(seed)
    db = open_database(path, create=False)
    store = SqliteEventStore(db)
    streams = [f"r7-{name}-{k}" for k in range(7)]
    versions = dict.fromkeys(streams, 0)
    resume = Path(argv[5]) if len(argv) > 5 else None
    emit(ready=True)
    wait_for(Path(argv[4]))
    for i in range(appends):
        if resume is not None and i == appends // 2:
            emit(paused=True)
            wait_for(resume)
        stream = rnd.choice(streams)
        command_id = f"{name}-{i}"
        meta = EventMetadata(
            correlation_id=command_id,
            causation_id=command_id,
            user="clerk",
            host="test",
            app_version="0",
            source="test",
        )
        batch = [
            NewEvent(
                event_id=f"{command_id}-{k}",
                type_name="R7Tested",
                schema_version=1,
                payload={"writer": name, "i": i, "k": k},
                metadata=meta,
            )
            for k in range(rnd.randint(3, 5))
        ]
        try:
            result = store.append(stream, versions[stream], batch, command_id=command_id)
        except Exception as exc:
            emit(outcome="other", type=type(exc).__name__, message=str(exc), i=i)
            continue
        versions[stream] = result.version
        emit(
            outcome="ok",
            command_id=command_id,
            stream=stream,
            count=len(batch),
            first=result.first_position,
            last=result.last_position,
            version=result.version,
        )
    db.close()


def hold_lock(argv: list[str]) -> None:
    path = Path(argv[0])
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    emit(locked=True)
    sys.stdin.readline()
    con.execute("COMMIT")
    con.close()
    emit(released=True)


def seed_order(app: App, order_id: str) -> int:
    """A customer, a product and one pending order with line ``LINE_ID``; its version."""
    app.commands.dispatch(c.RegisterCustomer(customer_id="cust-r", name="Race Ltd"))
    app.commands.dispatch(
        c.AddProduct(
            product_id=PRODUCT_ID, sku="R-1", name="Racer", price=Decimal("2.50"), currency="EUR"
        )
    )
    # The first line gets a generated id, so add the line with a known id separately.
    app.commands.dispatch(
        c.PlaceOrder(
            order_id=order_id,
            customer_id="cust-r",
            lines=(c.LineInput(product_id=PRODUCT_ID, quantity=1),),
        )
    )
    result = app.commands.dispatch(
        c.AddOrderLine(
            order_id=order_id, line=c.LineInput(product_id=PRODUCT_ID, quantity=1), line_id=LINE_ID
        )
    )
    return result.version


MODES = {"r6-rounds": r6_rounds, "r6-free": r6_free, "r7-writer": r7_writer, "hold-lock": hold_lock}


def main(argv: list[str]) -> int:
    MODES[argv[0]](argv[1:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
