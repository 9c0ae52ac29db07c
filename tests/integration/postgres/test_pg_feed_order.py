"""The projector's feed on a server never skips an event: writer processes append at once
(contending on one stream too) while a tailing reader process reads through
``PostgresEventFeed`` after the last position it saw; it must see 1..head, each once, in
order (appends commit in position order under the append lock: see event_feed.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from desktop_app.store.postgres.database import init_postgres, open_postgres
from desktop_app.store.postgres.event_feed import PostgresEventFeed

WRITERS = 4
BATCHES = 50
ROOT = Path(__file__).resolve().parents[3]


def _child(module: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_the_feed_tailing_concurrent_writers_sees_every_position_once(
    pg_url: str, tmp_path: Path
) -> None:
    init_postgres(pg_url)
    seen, stop = tmp_path / "seen.txt", tmp_path / "stop.txt"
    reader = _child("tests.fixtures.pg_feed_tail", pg_url, str(seen), str(stop))
    writers = [
        _child("tests.fixtures.pg_tail", "write", pg_url, f"w{i}", str(BATCHES))
        for i in range(WRITERS)
    ]
    try:
        acknowledged = 0
        for writer in writers:
            out, err = writer.communicate(timeout=180)
            assert writer.returncode == 0, err.decode()
            acknowledged += int(out)
        db = open_postgres(pg_url)
        try:
            head = PostgresEventFeed(db).head_position()
        finally:
            db.close()
        assert head == acknowledged
        stop.write_text(str(head))
        _, err = reader.communicate(timeout=180)
        assert reader.returncode == 0, err.decode()
        positions = [int(line) for line in seen.read_text().split()]
        assert positions == list(range(1, head + 1))
    finally:
        for proc in (*writers, reader):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
