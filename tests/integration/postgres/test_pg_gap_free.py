"""R37: readers never skip an event on the server. Several writer processes append at once
while a tailing reader process records every position it sees: it must see 1..head, each once,
in order, and the chain must verify (appends commit in position order under the append lock)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from desktop_app.store.postgres.database import init_postgres, open_postgres
from desktop_app.store.postgres.event_store import PostgresEventStore

WRITERS = 4
BATCHES = 60
ROOT = Path(__file__).resolve().parents[3]


def _child(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.fixtures.pg_tail", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_a_tailing_reader_sees_every_position_once_in_order(pg_url: str, tmp_path: Path) -> None:
    init_postgres(pg_url)
    seen, stop = tmp_path / "seen.txt", tmp_path / "stop.txt"
    reader = _child("read", pg_url, str(seen), str(stop))
    writers = [_child("write", pg_url, f"w{i}", str(BATCHES)) for i in range(WRITERS)]
    try:
        acknowledged = []
        for writer in writers:
            out, err = writer.communicate(timeout=180)
            assert writer.returncode == 0, err.decode()
            acknowledged.append(int(out))
        db = open_postgres(pg_url)
        try:
            store = PostgresEventStore(db)
            head = store.head_position()
            stop.write_text(str(head))
            _, err = reader.communicate(timeout=180)
            assert reader.returncode == 0, err.decode()
            positions = [int(line) for line in seen.read_text().split()]
            # Every committed position, each exactly once, in order: nothing skipped.
            assert positions == list(range(1, head + 1))
            result = store.verify()
            assert result.ok, result.problem
            assert result.checked == head
            # Each writer's acknowledged events are all there, each once.
            log = store.read_all(limit=head + 1)
            for i, count in enumerate(acknowledged):
                numbers = sorted(e.payload["n"] for e in log if e.payload["w"] == f"w{i}")
                assert numbers == list(range(1, count + 1))
            assert sum(acknowledged) == head
        finally:
            db.close()
    finally:
        for proc in (*writers, reader):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
