"""The append as one server-side function (``order_desk_append_v1``, made by ``init``).

Real server, real roles: ``init`` makes the function and makes it again on a database an older
Order Desk made (which appended with separate statements, and still does until ``init`` runs);
the server extends the hash chain with the very bytes the client's ``row_hash`` hashes (any
text, also non-ASCII and non-NFC); a clerk may call it, an auditor may not; it refuses to run
outside READ COMMITTED (its fresh snapshot after the append lock is what keeps reading
gap-free)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.adapt import PyFormat

from desktop_app.application.ports import (
    ConcurrencyError,
    StoreReadOnlyError,
    UniqueClaim,
    UniqueKeyTakenError,
)
from desktop_app.store.hashing import row_hash
from desktop_app.store.postgres import append_function
from desktop_app.store.postgres.database import PostgresDatabase, init_postgres, open_postgres
from desktop_app.store.postgres.event_store import PostgresEventStore
from tests.fixtures.store_helpers import events, new_event
from tests.pg_cluster import Login

_DROP = f"DROP FUNCTION {append_function.SIGNATURE}"

# Non-ASCII, a decomposed "é" (not NFC: hashed in its NFC form, stored as sent), quotes and
# backslashes (escaped in JSON), an emoji outside the BMP.
ODD_TEXTS = ("Müller & Søn", "Cafe\u0301 “Zum Löwen”", 'say "hi" \\ bye', "📦 Paket")


def _rows(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as con:
        return con.execute(
            "SELECT position, stream_id, version, event_id, type_name, schema_version, payload, "
            "metadata, recorded_at, prev_hash, hash FROM events ORDER BY position"
        ).fetchall()


def _params(stream: str) -> tuple[object, ...]:
    """A call's parameters for one event (what ``PostgresEventStore`` would send)."""
    one_event = ["e", "T", "1", "{}", "{}", "h", "t"]
    return (stream, 0, None, None, "t", one_event, [])


@pytest.fixture
def opened(pg_url: str) -> Iterator[PostgresDatabase]:
    init_postgres(pg_url)
    db = open_postgres(pg_url)
    try:
        yield db
    finally:
        db.close()


def _exercise(store: PostgresEventStore, tag: str) -> None:
    """Everything an append decides, on whichever path the store takes."""
    first = store.append(f"order-{tag}", 0, events(2), command_id=f"cmd-{tag}", fingerprint="f")
    assert (first.version, first.last_position - first.first_position) == (2, 1)
    again = store.append(f"order-{tag}", 0, events(2), command_id=f"cmd-{tag}", fingerprint="f")
    assert again.duplicate and again.last_position == first.last_position
    with pytest.raises(ConcurrencyError):
        store.append(f"order-{tag}", 1, events(1))
    claim = UniqueClaim(namespace="sku", key=f"SKU-{tag}", owner=f"product-{tag}")
    store.append(f"product-{tag}", 0, events(1), claims=[claim])
    head = store.head_position()
    other = UniqueClaim(namespace="sku", key=f"SKU-{tag}", owner=f"product-{tag}-2")
    with pytest.raises(UniqueKeyTakenError) as taken:
        store.append(f"product-{tag}-2", 0, events(1), claims=[other], command_id=f"c2-{tag}")
    assert taken.value.holder == f"product-{tag}" and taken.value.claim == other
    assert store.head_position() == head  # nothing written, the command not recorded either
    assert store.find_command(f"c2-{tag}") is None


def test_init_makes_the_function_and_appends_take_one_statement(
    opened: PostgresDatabase,
) -> None:
    assert opened.facts.append_function
    assert opened.info.details["append"].startswith("one round trip")
    store = PostgresEventStore(opened)
    _exercise(store, "a")
    assert store.verify().ok


def test_init_adds_the_function_to_a_database_made_by_the_previous_version(pg_url: str) -> None:
    init_postgres(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute(_DROP)  # as the previous version's init left it
    old = open_postgres(pg_url)
    try:
        assert not old.facts.append_function
        assert "desktop-app-admin init" in old.info.details["append"]
        _exercise(PostgresEventStore(old), "old")  # separate statements, as before
    finally:
        old.close()
    assert init_postgres(pg_url).already
    new = open_postgres(pg_url)
    try:
        assert new.facts.append_function
        store = PostgresEventStore(new)
        _exercise(store, "new")
        # One chain across both ways of appending.
        result = store.verify()
        assert result.ok and result.checked == store.head_position() == 6
    finally:
        new.close()


def test_init_replaces_an_older_body_of_the_function_setting_nothing_per_call(
    pg_url: str,
) -> None:
    """``init`` again replaces the function an older Order Desk made (same name, same
    arguments, its own settings): the body this version brings, with no setting saved and
    restored around every call (the store's connections set ``plan_cache_mode`` once)."""
    init_postgres(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as con:
        # As the previous version made it: a per-call setting on the function.
        con.execute(
            f"ALTER FUNCTION {append_function.SIGNATURE} SET plan_cache_mode = force_generic_plan"
        )
    assert init_postgres(pg_url).already
    with psycopg.connect(pg_url, autocommit=True) as con:
        row = con.execute(
            "SELECT proconfig FROM pg_proc WHERE oid = to_regprocedure(%s)",
            (append_function.SIGNATURE,),
        ).fetchone()
    assert row == (None,)
    db = open_postgres(pg_url)
    try:
        store = PostgresEventStore(db)
        _exercise(store, "upgraded")
        assert store.verify().ok
    finally:
        db.close()


def test_the_server_hashes_exactly_what_the_client_would(
    opened: PostgresDatabase, pg_url: str
) -> None:
    store = PostgresEventStore(opened)
    for n, text in enumerate(ODD_TEXTS):
        store.append(
            f"customer-{text}",
            0,
            [new_event({"name": text, "n": n}, type_name=f"Named{n}"), new_event({"k": text})],
        )
    rows = _rows(pg_url)
    assert len(rows) == 2 * len(ODD_TEXTS)
    prev = "0" * 64
    for row in rows:
        assert row[9] == prev
        assert row[10] == row_hash(str(row[9]), *row[:9])  # type: ignore[arg-type]
        prev = str(row[10])
    assert store.verify().ok


def test_a_clerk_appends_through_it_and_an_auditor_may_not_call_it(
    pg_url: str, pg_login: Login
) -> None:
    roles = init_postgres(pg_url).roles
    clerk = open_postgres(pg_login(pg_url, "maria", roles.clerk))
    auditor = open_postgres(pg_login(pg_url, "audrey", roles.auditor))
    try:
        assert clerk.facts.append_function and not clerk.read_only
        store = PostgresEventStore(clerk)
        store.append("order-1", 0, events(1), command_id="cmd-1")
        assert store.author_roles([1]) == {1: clerk.facts.session_user}
        # The auditor, past the program's own check: the server refuses the call itself.
        auditor.read_only_reason, auditor.read_only = None, False
        with pytest.raises(StoreReadOnlyError, match="may not make this change"):
            PostgresEventStore(auditor).append("order-2", 0, events(1))
        with psycopg.connect(auditor.url) as con, pytest.raises(psycopg.Error) as info:
            con.execute(
                append_function.CALL,
                _params("order-3"),
            )
        assert isinstance(info.value, psycopg.errors.InsufficientPrivilege)
        assert "function" in str(info.value)
    finally:
        clerk.close()
        auditor.close()
    assert [r[1] for r in _rows(pg_url)] == ["order-1"]


def test_it_refuses_to_run_outside_read_committed(opened: PostgresDatabase, pg_url: str) -> None:
    with psycopg.connect(pg_url) as con:
        con.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        with pytest.raises(psycopg.Error, match="READ COMMITTED"):
            con.execute(
                append_function.CALL,
                _params("order-9"),
            )
    assert _rows(pg_url) == []


def _sessions(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as con:
        row = con.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND application_name = 'order-desk'"
        ).fetchone()
    return int(row[0]) if row else 0


def test_each_thread_appends_on_its_own_connection_and_close_gives_them_back(
    pg_url: str,
) -> None:
    init_postgres(pg_url)
    db = open_postgres(pg_url)
    store = PostgresEventStore(db)
    try:
        errors: list[BaseException] = []

        def work(n: int) -> None:
            try:
                for k in range(5):
                    store.append(f"order-{n}-{k}", 0, events(1))
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert store.head_position() == 15 and store.verify().ok
        with db.hot() as con:  # this thread's own, kept between calls
            assert con.autocommit
            with db.hot() as again:
                assert again is con
        assert _sessions(pg_url) >= 2
    finally:
        db.close()
    deadline = time.monotonic() + 30
    while _sessions(pg_url) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _sessions(pg_url) == 0


@pytest.mark.parametrize("texts", [[], ["x"], [*ODD_TEXTS, "", "{}", '{"a": "\\u0000"}']])
def test_the_calls_text_arrays_reach_the_server_as_sent(
    opened: PostgresDatabase, texts: list[str]
) -> None:
    """The append call's flat arrays are dumped by our own binary ``text[]`` dumper on the
    store's connections: every text arrives byte for byte, an empty list as an empty array."""
    with opened.hot() as con:
        dumper = con.adapters.get_dumper(append_function.TextArray, PyFormat.BINARY)
        assert dumper is append_function.TextArrayDumper
        row = con.execute(
            "SELECT %b::text[], cardinality(%b::text[])",
            (append_function.TextArray(texts), append_function.TextArray(texts)),
        ).fetchone()
    assert row == (texts, len(texts))
