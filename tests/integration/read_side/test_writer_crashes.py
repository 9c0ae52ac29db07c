"""R1: kill -9 a writer process at random moments; R2: a retried command after a lost reply."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from desktop_app.bootstrap import App
from tests.integration.read_side import workload
from tests.integration.read_side.support import dump_read_model, open_app, rebuilt_copy

ROOT = Path(__file__).resolve().parents[3]


def _writer(path: Path, seed: int, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.read_side.workload",
            str(path),
            str(seed),
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_writer_at_random(path: Path, seed: int, rnd: random.Random) -> list[str]:
    """Start a writer, let it run a random while after its first ack, kill -9 it."""
    child = _writer(path, seed)
    acked: list[str] = []
    assert child.stdout is not None
    first = child.stdout.readline()
    assert first.startswith("ack "), child.stderr.read() if child.stderr else ""
    acked.append(first.split()[1])
    time.sleep(rnd.uniform(0.05, 0.6))
    child.send_signal(signal.SIGKILL)
    out, _ = child.communicate()
    acked.extend(line.split()[1] for line in out.splitlines() if line.startswith("ack "))
    assert child.returncode == -signal.SIGKILL
    return acked


def _check_file(path: Path, acked: list[str]) -> None:
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        recorded = {
            row[0]: (row[1], row[2])
            for row in con.execute("SELECT command_id, first_position, last_position FROM commands")
        }
        missing = [cid for cid in acked if cid not in recorded]
        assert not missing, f"acknowledged commands lost: {missing[:5]}"
        by_command: dict[str, list[int]] = {}
        for position, metadata in con.execute("SELECT position, metadata FROM events"):
            by_command.setdefault(json.loads(metadata)["causation_id"], []).append(position)
        # every event belongs to a recorded command, and each command has all of its events
        assert set(by_command) == set(recorded)
        for cid, (first, last) in recorded.items():
            assert by_command[cid] == list(range(first, last + 1)), cid
        for stream, count, low, high in con.execute(
            "SELECT stream_id, count(*), min(version), max(version) FROM events GROUP BY stream_id"
        ):
            assert (low, high) == (1, count), stream
    finally:
        con.close()


def _projector_catches_up_to_rebuild(path: Path, tmp: Path) -> None:
    app = open_app(path, create=False)
    try:
        assert app.projector is not None
        app.projector.run_once()
        assert app.projector.status().last_error is None and app.projector.status().lag == 0
    finally:
        app.close()
    assert dump_read_model(path) == rebuilt_copy(path, tmp)


def _rounds(tmp_path: Path, rounds: int, seed: int) -> None:
    path = tmp_path / "db.sqlite3"
    open_app(path).close()
    rnd = random.Random(seed)
    acked: list[str] = []
    for i in range(rounds):
        acked += _kill_writer_at_random(path, seed * 100 + i, rnd)
        _check_file(path, acked)
        if i % 2:  # a projector that runs between crashes, then carries on later
            app = open_app(path, create=False)
            assert app.projector is not None
            app.projector.run_once()
            app.close()
    _projector_catches_up_to_rebuild(path, tmp_path)


def test_kill_9_writer_in_a_loop(tmp_path: Path) -> None:
    _rounds(tmp_path, rounds=3, seed=1)


@pytest.mark.slow
def test_kill_9_writer_in_a_long_randomised_loop(tmp_path: Path) -> None:
    _rounds(tmp_path, rounds=25, seed=random.randrange(1_000_000))


def test_retry_after_lost_reply_writes_nothing_twice(tmp_path: Path, app: App) -> None:
    path = Path(app.info.location)
    child = _writer(path, 42, "0", "--die-after-commit")
    out, err = child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL, err
    sent = next(line.split()[1] for line in out.splitlines() if line.startswith("sending "))
    # The clerk presses Save again: the same command (same id) goes through the bus again.
    world = workload.World(random.Random(42))
    workload.seed_catalog(app.commands, world)  # all duplicates: nothing written
    command = workload.random_command(world)
    assert command.command_id == sent
    head = app.events.head_position()
    first = app.events.find_command(sent)
    assert first is not None
    result = app.commands.dispatch(command)
    assert result.duplicate
    assert (result.first_position, result.position) == (first.first_position, first.last_position)
    assert app.events.head_position() == head
    _check_file(path, [sent])
