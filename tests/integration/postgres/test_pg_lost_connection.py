"""A pooled connection killed by the server (``pg_terminate_backend``) is dropped from the pool:
the call that meets it fails in words ("lost … may or may not have been saved"), the next one
gets a fresh connection, and re-sending the command id writes nothing twice."""

from __future__ import annotations

import psycopg
import pytest

from desktop_app.application.ports import StoreUnavailableError
from desktop_app.store.postgres.database import init_postgres, open_postgres
from desktop_app.store.postgres.event_store import PostgresEventStore
from tests.fixtures.store_helpers import events


def _kill_other_sessions(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as con:
        row = con.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND application_name = 'order-desk'"
        ).fetchone()
    return int(row[0]) if row else 0


def test_a_killed_connection_fails_once_in_words_then_the_store_goes_on(pg_url: str) -> None:
    init_postgres(pg_url)
    db = open_postgres(pg_url)
    try:
        store = PostgresEventStore(db)
        first = store.append("order-1", 0, events(1), command_id="cmd-1", fingerprint="f")
        assert _kill_other_sessions(pg_url) >= 1
        with pytest.raises(StoreUnavailableError, match="was lost") as info:
            store.append("order-2", 0, events(1), command_id="cmd-2", fingerprint="g")
        assert "Traceback" not in str(info.value)
        # The dead connection left the pool (else this fails too); re-sent, recorded once.
        again = store.append("order-2", 0, events(1), command_id="cmd-2", fingerprint="g")
        resent = store.append("order-2", 0, events(1), command_id="cmd-2", fingerprint="g")
        assert resent.duplicate and resent.last_position == again.last_position
        assert store.head_position() == first.last_position + 1
        assert store.verify().ok
    finally:
        db.close()
