"""R37: append-only is enforced by the server (triggers + grants), authorship is the server's.

Real roles and real connections: a clerk login (member of the clerk group role made by
``init``) may insert history but never change or delete it; an auditor login may change
nothing at all; the owner's UPDATE/DELETE is refused by the triggers; ``author_role`` is the
role that logged in, whatever the client sends."""

from __future__ import annotations

import psycopg
import pytest

from desktop_app.application.ports import StoreError, StoreReadOnlyError
from desktop_app.store.postgres.database import init_postgres, open_postgres
from desktop_app.store.postgres.event_store import PostgresEventStore
from desktop_app.store.postgres.rejections import PostgresRejectionLog
from tests.contract.test_rejection_log_contract import REFUSED
from tests.fixtures.store_helpers import events
from tests.pg_cluster import Login

_ROW = (
    "INSERT INTO events (position, stream_id, version, event_id, type_name, schema_version, "
    "payload, metadata, recorded_at, prev_hash, hash, author_role) "
    "VALUES (%s, 'order-x', %s, %s, 'T', 1, '{}', '{}', 't', 'p', 'h', %s)"
)
CHANGES = (
    "UPDATE events SET payload = '{\"forged\":1}'",
    "DELETE FROM events",
    "TRUNCATE events",
    "UPDATE commands SET version = 99",
    "DELETE FROM commands",
    "UPDATE rejections SET message = 'nothing happened'",
    "DELETE FROM rejections",
)


@pytest.fixture
def server(pg_url: str, pg_login: Login) -> tuple[str, str, str]:
    """(owner URL, clerk login URL, auditor login URL) of an initialised database with one
    order appended and one rejection recorded by the clerk."""
    roles = init_postgres(pg_url).roles
    clerk = pg_login(pg_url, "maria", roles.clerk)
    auditor = pg_login(pg_url, "audrey", roles.auditor)
    db = open_postgres(clerk)
    try:
        store = PostgresEventStore(db)
        store.append("order-1", 0, events(2), command_id="cmd-1", fingerprint="f1")
        PostgresRejectionLog(db).record(REFUSED)
    finally:
        db.close()
    return pg_url, clerk, auditor


def _refused(url: str, sql: str, *params: object) -> type[Exception]:
    with psycopg.connect(url) as con, pytest.raises(psycopg.Error) as info:
        con.execute(sql, params or None)  # type: ignore[arg-type]
    return type(info.value)


def _history(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as con:
        return [
            *con.execute("SELECT position, payload, hash FROM events ORDER BY position"),
            *con.execute("SELECT command_id, version FROM commands ORDER BY command_id"),
            *con.execute("SELECT rejection_id, message FROM rejections ORDER BY rejection_id"),
        ]


@pytest.mark.parametrize("sql", CHANGES)
def test_a_clerk_cannot_change_or_delete_history(server: tuple[str, str, str], sql: str) -> None:
    owner, clerk, _ = server
    before = _history(owner)
    assert _refused(clerk, sql) is psycopg.errors.InsufficientPrivilege
    assert _history(owner) == before


@pytest.mark.parametrize(
    "sql",
    [
        *CHANGES,
        "INSERT INTO commands VALUES ('c', 'order-x', 1, 9, 9, NULL)",
        "INSERT INTO snapshots VALUES ('order-1', 1, 'Order', 1, '{}', 'c', 2, 't', '')",
        "UPDATE snapshots SET state = '{}'",
        "INSERT INTO sequences VALUES ('order-number', 5)",
        "DELETE FROM rm_orders",
    ],
)
def test_an_auditor_can_change_nothing(server: tuple[str, str, str], sql: str) -> None:
    owner, _, auditor = server
    before = _history(owner)
    assert _refused(auditor, sql) is psycopg.errors.InsufficientPrivilege
    assert _refused(auditor, _ROW, 3, 1, "ev-x", "x") is psycopg.errors.InsufficientPrivilege
    assert _history(owner) == before


def test_an_auditor_reads_everything_and_the_store_says_read_only(
    server: tuple[str, str, str],
) -> None:
    _, _, auditor = server
    db = open_postgres(auditor)
    try:
        store = PostgresEventStore(db)
        assert [e.version for e in store.read_stream("order-1")] == [1, 2]
        assert store.verify().ok
        with pytest.raises(StoreReadOnlyError, match="may only read"):
            store.append("order-2", 0, events(1))
        with pytest.raises(StoreReadOnlyError):
            store.next_number("order-number")
        # Past the program's own check, the server still refuses (and says so in words).
        db.read_only_reason, db.read_only = None, False
        with pytest.raises(StoreReadOnlyError, match="may not make this change"):
            store.append("order-2", 0, events(1))
        rejections = PostgresRejectionLog(db)
        assert [r.rejection for r in rejections.in_window()] == [REFUSED]
        with pytest.raises(StoreReadOnlyError, match="may not make this change"):
            rejections.record(REFUSED)
        assert store.head_position() == 2
    finally:
        db.close()


def test_the_owner_is_refused_by_the_triggers(server: tuple[str, str, str]) -> None:
    owner, _, _ = server
    before = _history(owner)
    for sql in CHANGES:
        assert _refused(owner, sql) is not psycopg.errors.InsufficientPrivilege
    assert _history(owner) == before
    # Through the store's error translation: words, not a driver error.
    db = open_postgres(owner)
    try:
        with pytest.raises(StoreError, match="can never be changed"), db.write() as conn:
            conn.exec_driver_sql("DELETE FROM events")
    finally:
        db.close()


def test_the_server_records_who_wrote_each_event(
    server: tuple[str, str, str], pg_login: Login, pg_url: str
) -> None:
    owner, clerk, _ = server
    clerk_role = clerk.split("//", 1)[1].split("@", 1)[0]
    # A client that claims to be someone else, even after SET ROLE, is recorded as itself.
    with psycopg.connect(clerk) as con:
        group = con.execute("SELECT value FROM store_meta WHERE name = 'clerk_role'").fetchone()
        assert group is not None
        con.execute(f'SET ROLE "{group[0]}"')  # type: ignore[arg-type]
        con.execute(_ROW, (3, 1, "ev-claim", "postgres"))
    db = open_postgres(owner)
    try:
        store = PostgresEventStore(db)
        roles = store.author_roles([1, 2, 3])
    finally:
        db.close()
    assert roles == {1: clerk_role, 2: clerk_role, 3: clerk_role}
