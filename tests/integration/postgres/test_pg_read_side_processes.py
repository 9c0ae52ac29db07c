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
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO

import psycopg
import pytest

from desktop_app.application import commands as c
from desktop_app.bootstrap import App, bootstrap
from desktop_app.config import ServerLocation, Settings
from desktop_app.store.postgres.database import init_postgres
from desktop_app.store.postgres.read_side_ddl import READ_MODEL_CHANNEL
from desktop_app.store.projector_lease import OWNER_KEY, parse_owner_row

ROOT = Path(__file__).resolve().parents[3]
DEADLINE = 60.0
"""Seconds to wait for a condition: generous; a busy machine is only slower, never red."""
HOUR = 3600.0


@dataclass(frozen=True)
class Status:
    at: float
    checkpoint: int
    head: int
    owner: str


class Station:
    """``python -m tests.fixtures.pg_workstation`` running; its status lines collected."""

    def __init__(self, url: str, key_dir: Path, poll: float, name: str) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.fixtures.pg_workstation",
                url,
                str(key_dir),
                str(poll),
                name,
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.errors: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        threading.Thread(
            target=self._pump, args=(self.proc.stdout, self.lines), daemon=True
        ).start()
        threading.Thread(target=self._collect, args=(self.proc.stderr,), daemon=True).start()

    @staticmethod
    def _pump(stream: IO[str], into: queue.Queue[str]) -> None:
        for line in stream:
            into.put(line.rstrip("\n"))

    def _collect(self, stream: IO[str]) -> None:
        for line in stream:
            self.errors.append(line.rstrip("\n"))

    def statuses(self) -> list[Status]:
        out = []
        for line in self.seen:
            if line.startswith("status "):
                _, at, cp, head, owner = line.split(" ", 4)
                out.append(Status(float(at), int(cp[11:]), int(head[5:]), owner[6:]))
        return out

    def wait_for(self, wanted: Callable[[str], bool]) -> str:
        """The first output line (since the start) that ``wanted`` accepts."""
        for line in self.seen:
            if wanted(line):
                return line
        deadline = time.monotonic() + DEADLINE
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no such line; output: {self.seen}; errors: {self.errors}"
            try:
                line = self.lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                assert self.proc.poll() is None, f"exited: {self.seen} {self.errors}"
                continue
            self.seen.append(line)
            if wanted(line):
                return line

    def wait_status(self, wanted: Callable[[Status], bool]) -> Status:
        def accept(line: str) -> bool:
            return line.startswith("status ") and wanted(self._parse(line))

        return self._parse(self.wait_for(accept))

    @staticmethod
    def _parse(line: str) -> Status:
        _, at, cp, head, owner = line.split(" ", 4)
        return Status(float(at), int(cp[11:]), int(head[5:]), owner[6:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill_9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


@pytest.fixture
def stations() -> Iterator[list[Station]]:
    made: list[Station] = []
    yield made
    for station in made:
        station.stop()


def _owner_pid(url: str) -> int | None:
    with psycopg.connect(url) as con:
        row = con.execute("SELECT value FROM rm_meta WHERE key = %s", (OWNER_KEY,)).fetchone()
    parsed = parse_owner_row(str(row[0]) if row else None)
    return parsed[1].pid if parsed is not None else None


def _listeners(url: str) -> int:
    """Sessions of this database LISTENing on the read-model channel (the workstations'
    listener threads), as the server reports them."""
    with psycopg.connect(url) as con:
        row = con.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state = 'idle' AND query = %s",
            (f'LISTEN "{READ_MODEL_CHANNEL}"',),
        ).fetchone()
    return int(row[0]) if row else 0


def _wait(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _clerk(url: str, key_dir: Path) -> App:
    return bootstrap(Settings.for_location(ServerLocation(url), key_dir=key_dir), source="test")


def _add_customer(app: App, name: str) -> int:
    return app.commands.dispatch(c.RegisterCustomer(name=name)).position


def test_one_projector_at_a_time_and_a_killed_one_is_replaced(
    pg_url: str, tmp_path: Path, stations: list[Station]
) -> None:
    init_postgres(pg_url)
    first = Station(pg_url, tmp_path / "k1", 0.2, "first")
    stations.append(first)
    first.wait_for(lambda line: line == "ready")
    _wait(lambda: _owner_pid(pg_url) == first.proc.pid, "the first projector to take the lease")
    second = Station(pg_url, tmp_path / "k2", 0.2, "second")
    stations.append(second)
    following = second.wait_status(lambda s: s.owner != "-")
    assert f"process {first.proc.pid}" in following.owner
    clerk = _clerk(pg_url, tmp_path / "k0")
    try:
        position = _add_customer(clerk, "Ann")
        # The owner projects it; the follower sees the moved checkpoint, still following.
        first.wait_status(lambda s: s.checkpoint >= position and s.owner == "-")
        seen = second.wait_status(lambda s: s.checkpoint >= position)
        assert f"process {first.proc.pid}" in seen.owner
        assert _owner_pid(pg_url) == first.proc.pid
        first.kill_9()
        _wait(lambda: _owner_pid(pg_url) == second.proc.pid, "the follower to take over")
        later = _add_customer(clerk, "Bob")
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
    _wait(lambda: _owner_pid(pg_url) == owner.proc.pid, "the owner to take the lease")
    follower = Station(pg_url, tmp_path / "k2", HOUR, "follower")
    stations.append(follower)
    follower.wait_status(lambda s: s.owner != "-")
    clerk = _clerk(pg_url, tmp_path / "k0")
    try:
        _wait(lambda: _listeners(pg_url) >= 3, "three listening workstations")
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
    clerk = _clerk(pg_url, tmp_path / "k0")
    watching = subprocess.Popen(
        [sys.executable, "-m", "desktop_app.projector", "--db", pg_url, "--poll", str(HOUR)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait(lambda: _owner_pid(pg_url) == watching.pid, "the headless projector's lease")
        _wait(lambda: _listeners(pg_url) >= 2, "the projector listening")
        position = _add_customer(clerk, "Ann")
        # Polls an hour apart: the append's NOTIFY wakes it.
        _wait(
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
