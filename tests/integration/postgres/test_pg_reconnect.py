"""Connection faults on a real server (issue 10): a workstation's sessions killed with
``pg_terminate_backend`` between commands and in the middle of one. The app reconnects, and a
command whose outcome was unknown is re-sent with the same command id: nothing lost, nothing
recorded twice."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from desktop_app.application import commands as c
from desktop_app.application.commands import CommandResult
from desktop_app.bootstrap import App, bootstrap
from desktop_app.config import ServerLocation, Settings
from desktop_app.store.postgres.database import init_postgres
from desktop_app.store.postgres.ddl import APPEND_LOCK_KEY
from tests.integration.jobs.support import add_customer, add_product
from tests.pg_cluster import PgServer


@pytest.fixture
def app(pg_url: str, tmp_path: Path) -> Iterator[App]:
    init_postgres(pg_url)
    settings = Settings.for_location(ServerLocation(pg_url), key_dir=tmp_path / "keys")
    opened = bootstrap(settings, source="test")
    try:
        yield opened
    finally:
        opened.close()


def _sessions(url: str, *, waiting: bool = False) -> list[int]:
    """The app's server sessions (application_name order-desk) on this database."""
    database = url.rsplit("/", 1)[1]
    sql = (
        "SELECT pid FROM pg_stat_activity WHERE datname = %s "
        "AND application_name = 'order-desk' AND pid <> pg_backend_pid()"
    )
    if waiting:
        sql += " AND wait_event_type = 'Lock'"
    with psycopg.connect(url, autocommit=True) as con:
        return [int(r[0]) for r in con.execute(sql, (database,))]  # type: ignore[arg-type]


def _kill(url: str, pids: list[int]) -> None:
    with psycopg.connect(url, autocommit=True) as con:
        for pid in pids:
            con.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,))


def _recorded(url: str, command_id: str) -> tuple[int, int]:
    """(command records, events caused by) the command id on the server."""
    with psycopg.connect(url) as con:
        records = con.execute("SELECT count(*) FROM commands WHERE command_id = %s", (command_id,))
        events = con.execute(
            "SELECT count(*) FROM events WHERE metadata::jsonb ->> 'causation_id' = %s",
            (command_id,),
        )
        return int(records.fetchone()[0]), int(events.fetchone()[0])  # type: ignore[index]


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_killed_sessions_between_commands_are_replaced_without_the_clerk_noticing(
    app: App, pg_url: str
) -> None:
    customer = add_customer(app, "Ann")
    product = add_product(app, "MUG-1")
    before = _sessions(pg_url)
    assert before
    _kill(pg_url, before)
    place = c.PlaceOrder(customer_id=customer, lines=(c.LineInput(product_id=product, quantity=2),))
    result = app.commands.dispatch(place)
    assert not result.duplicate
    events = result.position - result.first_position + 1  # an order and its line: 2
    assert _recorded(pg_url, place.command_id) == (1, events) and events == 2
    assert not set(_sessions(pg_url)) & set(before)  # new sessions: it reconnected


def test_a_command_killed_in_flight_is_re_sent_once_with_its_id(app: App, pg_url: str) -> None:
    customer = add_customer(app, "Ann")
    product = add_product(app, "MUG-1")
    place = c.PlaceOrder(customer_id=customer, lines=(c.LineInput(product_id=product, quantity=2),))
    outcome: list[CommandResult | BaseException] = []

    def clerk() -> None:
        try:
            outcome.append(app.commands.dispatch(place))
        except BaseException as exc:  # reported to the test below
            outcome.append(exc)

    # The gate: this session holds the append lock, so the clerk's append waits inside its
    # transaction; its session is killed there (the clerk cannot know whether it committed).
    with psycopg.connect(pg_url, autocommit=True) as gate:
        gate.execute("SELECT pg_advisory_lock(%s)", (APPEND_LOCK_KEY,))
        worker = threading.Thread(target=clerk)
        worker.start()
        _wait_for(lambda: bool(_sessions(pg_url, waiting=True)), "the append to wait")
        victims = _sessions(pg_url, waiting=True)
        _kill(pg_url, victims)
        assert _recorded(pg_url, place.command_id) == (0, 0)
        gate.execute("SELECT pg_advisory_unlock(%s)", (APPEND_LOCK_KEY,))
        worker.join(timeout=60)
    assert not worker.is_alive()
    (result,) = outcome
    assert isinstance(result, CommandResult), result
    assert not result.duplicate
    # Re-sent and recorded, once: one command record, the order and its line once each.
    assert _recorded(pg_url, place.command_id) == (1, 2)

    # A lost reply after a commit: the same command sent again records nothing new.
    _kill(pg_url, _sessions(pg_url))
    again = app.commands.dispatch(place)
    assert again.duplicate and again.position == result.position
    assert _recorded(pg_url, place.command_id) == (1, 2)


def test_after_a_server_restart_the_next_command_goes_through(
    app: App, pg_url: str, pg_server: PgServer
) -> None:
    if pg_server.folder is None or pg_server._bin is None:
        pytest.skip("the server is not this run's throwaway cluster (ORDER_DESK_TEST_PG_URL)")
    customer = add_customer(app, "Ann")
    product = add_product(app, "MUG-1")
    owner = pg_server._proc_owner
    as_owner: dict[str, Any] = (
        {"user": owner[0], "group": owner[1], "extra_groups": []} if owner else {}
    )
    subprocess.run(
        [
            *(str(pg_server._bin / "pg_ctl"), "-D", str(pg_server.folder / "data")),
            # -l: the new server must not inherit our pipes (the run would wait for them).
            *("-l", str(pg_server.folder / "server.log")),
            *("-m", "fast", "-w", "-t", "60", "restart"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
        **as_owner,
    )
    place = c.PlaceOrder(customer_id=customer, lines=(c.LineInput(product_id=product, quantity=1),))
    result = app.commands.dispatch(place)
    assert not result.duplicate
    assert _recorded(pg_url, place.command_id) == (1, 2)
