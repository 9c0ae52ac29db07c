"""The shared read model across workstations, with real processes on a real server:

* one projector at a time (R33 on the server): the first workstation's projector holds the
  lease (a session advisory lock), a second one follows; ``kill -9`` the holder and the
  follower takes over within seconds and projects what comes next;
* live refresh across workstations: with an HOUR between polls, a commit made in this process
  still reaches the owner's projector (NOTIFY on the append) and then the follower's status
  (NOTIFY on the projector's batch), the status the GUI's bridge turns into a list refresh.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from desktop_app.application import commands as c
from desktop_app.store.postgres.database import init_postgres
from tests.fixtures.pg_station import (
    DEADLINE,
    HOUR,
    ROOT,
    Station,
    add_customer,
    clerk_app,
    listeners,
    owner_pid,
    wait_until,
)


@pytest.fixture
def stations() -> Iterator[list[Station]]:
    made: list[Station] = []
    yield made
    for station in made:
        station.stop()


def test_one_projector_at_a_time_and_a_killed_one_is_replaced(
    pg_url: str, tmp_path: Path, stations: list[Station]
) -> None:
    init_postgres(pg_url)
    first = Station(pg_url, tmp_path / "k1", 0.2, "first")
    stations.append(first)
    first.wait_for(lambda line: line == "ready")
    wait_until(lambda: owner_pid(pg_url) == first.proc.pid, "the first projector to take the lease")
    second = Station(pg_url, tmp_path / "k2", 0.2, "second")
    stations.append(second)
    following = second.wait_status(lambda s: s.owner != "-")
    assert f"process {first.proc.pid}" in following.owner
    clerk = clerk_app(pg_url, tmp_path / "k0")
    try:
        position = add_customer(clerk, "Ann")
        # The owner projects it; the follower sees the moved checkpoint, still following.
        first.wait_status(lambda s: s.checkpoint >= position and s.owner == "-")
        seen = second.wait_status(lambda s: s.checkpoint >= position)
        assert f"process {first.proc.pid}" in seen.owner
        assert owner_pid(pg_url) == first.proc.pid
        first.kill_9()
        wait_until(lambda: owner_pid(pg_url) == second.proc.pid, "the follower to take over")
        later = add_customer(clerk, "Bob")
        took_over = second.wait_status(lambda s: s.checkpoint >= later and s.owner == "-")
        assert took_over.checkpoint >= later
    finally:
        clerk.close()


def test_a_commit_on_one_workstation_reaches_the_others_without_polling(
    pg_url: str, tmp_path: Path, stations: list[Station]
) -> None:
    init_postgres(pg_url)
    owner = Station(pg_url, tmp_path / "k1", HOUR, "owner")
    stations.append(owner)
    wait_until(lambda: owner_pid(pg_url) == owner.proc.pid, "the owner to take the lease")
    follower = Station(pg_url, tmp_path / "k2", HOUR, "follower")
    stations.append(follower)
    follower.wait_status(lambda s: s.owner != "-")
    clerk = clerk_app(pg_url, tmp_path / "k0")
    try:
        wait_until(lambda: listeners(pg_url) >= 3, "three listening workstations")
        product = clerk.commands.dispatch(
            c.AddProduct(sku="MUG-1", name="Mug", price=Decimal("2.50"), currency="EUR")
        )
        # Polls are an hour apart: only the NOTIFY path can bring these within the deadline.
        owner.wait_status(lambda s: s.checkpoint >= product.position)
        follower.wait_status(lambda s: s.checkpoint >= product.position)
        customer = clerk.commands.dispatch(c.RegisterCustomer(name="Ann"))
        line = c.LineInput(product_id=product.aggregate_id, quantity=2)
        order = clerk.commands.dispatch(
            c.PlaceOrder(customer_id=customer.aggregate_id, lines=(line,))
        )
        assert order.position > customer.position
        follower.wait_status(lambda s: s.checkpoint >= order.position)
    finally:
        clerk.close()


def test_the_headless_projector_keeps_the_shared_read_model_and_a_second_one_defers(
    pg_url: str, tmp_path: Path
) -> None:
    init_postgres(pg_url)
    clerk = clerk_app(pg_url, tmp_path / "k0")
    watching = subprocess.Popen(
        [sys.executable, "-m", "desktop_app.projector", "--db", pg_url, "--poll", str(HOUR)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: owner_pid(pg_url) == watching.pid, "the headless projector's lease")
        wait_until(lambda: listeners(pg_url) >= 2, "the projector listening")
        position = add_customer(clerk, "Ann")
        # Polls an hour apart: the append's NOTIFY wakes it.
        wait_until(
            lambda: (
                clerk.read_model is not None
                and clerk.read_model.target.checkpoint("main") >= position
            ),
            "the headless projector to project the append",
        )
        second = subprocess.run(
            [sys.executable, "-m", "desktop_app.projector", "--db", pg_url, "--once"],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=DEADLINE,
        )
        assert second.returncode == 3, second.stderr
        assert f"process {watching.pid}" in second.stderr
        assert "exiting without projecting" in second.stderr
    finally:
        clerk.close()
        watching.send_signal(signal.SIGTERM)
        try:
            watching.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            watching.kill()
            watching.wait()
    assert watching.returncode == 0, watching.stderr.read() if watching.stderr else ""
