"""`OrderDesk --self-test --db postgresql://…` checks a shared desk read only (issue 10: the
self-test takes a server address like the CLI, the GUI and the projector)."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg

from desktop_app.cli import main
from desktop_app.store.postgres.database import init_postgres


def _self_test(url: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run(
        [sys.executable, "-m", "desktop_app", "--self-test", "--db", url],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _count(url: str) -> int:
    with psycopg.connect(url) as con:
        row = con.execute("SELECT count(*) FROM events").fetchone()
    assert row is not None
    return int(row[0])


def test_the_self_test_checks_a_server_desk_and_writes_nothing(pg_url: str) -> None:
    init_postgres(pg_url)
    assert main(["demo", "--db", pg_url, "--orders", "5"]) == 0
    before = _count(pg_url)
    done = _self_test(pg_url)
    assert done.returncode == 0, done.stdout + done.stderr
    line = done.stdout.strip().splitlines()[-1]
    assert line.startswith("self-test OK on postgresql://"), line
    assert f"{before} events, chain verified, 5 orders listed" in line
    assert _count(pg_url) == before  # read only: no test orders in an office's history


def test_the_self_test_says_when_a_server_history_does_not_hold(pg_url: str) -> None:
    init_postgres(pg_url)
    assert main(["demo", "--db", pg_url, "--orders", "2"]) == 0
    with psycopg.connect(pg_url) as con:  # the owner bypasses the triggers to forge an event
        con.execute("ALTER TABLE events DISABLE TRIGGER USER")
        forged = con.execute(
            "UPDATE events SET payload = replace(payload, 'e', 'E') WHERE position = 3"
        )
        assert forged.rowcount == 1
        con.execute("ALTER TABLE events ENABLE TRIGGER USER")
    done = _self_test(pg_url)
    assert done.returncode != 0
    assert "self-test FAILED: verify failed" in done.stdout, done.stdout + done.stderr


def test_an_unreachable_server_fails_the_self_test_in_one_line() -> None:
    done = _self_test("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    assert done.returncode != 0
    lines = done.stdout.strip().splitlines()
    assert lines and lines[-1].startswith("self-test FAILED:"), done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
