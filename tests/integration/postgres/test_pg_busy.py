"""R8 on the server: an append waits for the append lock another workstation holds; held
longer than the lock timeout, it says "busy — try again" and writes nothing."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from desktop_app.application.ports import StoreBusyError
from desktop_app.store.postgres.database import init_postgres, open_postgres
from desktop_app.store.postgres.ddl import APPEND_LOCK_KEY
from desktop_app.store.postgres.event_store import PostgresEventStore
from tests.fixtures.store_helpers import events

WAIT = 30.0


def _waiting_for_lock(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as con:
        row = con.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'order-desk' AND wait_event_type = 'Lock'"
        ).fetchone()
    return bool(row and row[0])


def test_an_append_waits_for_the_lock_and_then_succeeds(pg_url: str) -> None:
    init_postgres(pg_url)
    db = open_postgres(pg_url, lock_timeout_ms=60_000)
    holder = psycopg.connect(pg_url)
    try:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK_KEY,))
        outcome: list[object] = []
        worker = threading.Thread(
            target=lambda: outcome.append(PostgresEventStore(db).append("order-1", 0, events(2)))
        )
        worker.start()
        deadline = time.monotonic() + WAIT
        while not _waiting_for_lock(pg_url):  # the append is queued behind the holder
            assert time.monotonic() < deadline, "the append never waited for the lock"
            time.sleep(0.01)
        holder.commit()  # the other workstation finishes: the waiting append goes on
        worker.join(WAIT)
        assert not worker.is_alive()
        assert [getattr(r, "last_position", None) for r in outcome] == [2]
    finally:
        holder.close()
        db.close()


def test_a_lock_held_too_long_is_busy_and_nothing_is_written(pg_url: str) -> None:
    init_postgres(pg_url)
    db = open_postgres(pg_url, lock_timeout_ms=200)
    holder = psycopg.connect(pg_url)
    try:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK_KEY,))
        store = PostgresEventStore(db)
        with pytest.raises(StoreBusyError, match="busy"):
            store.append("order-1", 0, events(1), command_id="cmd-1")
        holder.rollback()
        assert store.head_position() == 0
        assert store.find_command("cmd-1") is None
        # Once the lock is free the same command goes through.
        assert store.append("order-1", 0, events(1), command_id="cmd-1").last_position == 1
    finally:
        holder.close()
        db.close()
