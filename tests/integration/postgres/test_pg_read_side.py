"""The server's read model beyond the contract suite: the lease's fencing when its session is
lost, the listener after a killed connection, the rebuild's swap beside commands and readers,
the read-model stamp, the trigram indexes, and an auditor that only reads."""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from desktop_app.application import read_handlers as rh
from desktop_app.application.composition import compose
from desktop_app.application.ports import (
    READ_MODEL_CHECKPOINT,
    ListOrdersSpec,
    NotReadModelOwnerError,
    ReadModel,
    ReadModelKeys,
)
from desktop_app.bootstrap import identity_of
from desktop_app.projector.runner import Projector
from desktop_app.store.memory_read_model import (
    InMemoryOrderListQueries,
    InMemoryProjectionTarget,
    InMemoryReadModelTables,
)
from desktop_app.store.postgres.database import PostgresDatabase, init_postgres, open_postgres
from desktop_app.store.postgres.event_feed import PostgresEventFeed
from desktop_app.store.postgres.event_store import PostgresEventStore, PostgresSnapshotStore
from desktop_app.store.postgres.notify import ChangeListener
from desktop_app.store.postgres.order_queries import PostgresOrderListQueries
from desktop_app.store.postgres.read_side import postgres_read_model
from desktop_app.store.postgres.read_side_ddl import TRIGRAM_INDEXES, has_trigram_search
from desktop_app.store.read_model_sql import READ_MODEL_SCHEMA_VERSION
from tests.fixtures.store_helpers import events
from tests.integration.read_side import workload
from tests.pg_cluster import Login

DEADLINE = 60.0


def _wait(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _spec(**kw: object) -> ListOrdersSpec:
    values: dict[str, object] = {
        "statuses": None,
        "customer_id": None,
        "search": None,
        "sort": "order_number",
        "descending": False,
        "offset": 0,
        "limit": 1000,
        "after": None,
        "with_total": True,
    }
    values.update(kw)
    return ListOrdersSpec(**values)  # type: ignore[arg-type]


@pytest.fixture
def server(pg_url: str) -> Iterator[Callable[[], PostgresDatabase]]:
    """Opens of the test's database (each its own engine and pool: a workstation)."""
    init_postgres(pg_url)
    opened: list[PostgresDatabase] = []

    def open_one() -> PostgresDatabase:
        db = open_postgres(pg_url)
        opened.append(db)
        return db

    yield open_one
    for db in opened:
        db.close()


def _lease_pid(read_model: ReadModel, url: str) -> int:
    """The backend pid of the session holding the read model's advisory lock."""
    with psycopg.connect(url) as con:
        row = con.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_lost_lease_session_fences_the_old_owner(
    server: Callable[[], PostgresDatabase], pg_url: str
) -> None:
    a, b = postgres_read_model(server()), postgres_read_model(server())
    try:
        assert a.target.claim("main")
        assert not b.target.claim("main")  # the lock is a's
        owner = b.target.owner()
        assert owner is not None and owner.name == "main"
        with psycopg.connect(pg_url, autocommit=True) as con:
            con.execute("SELECT pg_terminate_backend(%s)", (_lease_pid(a, pg_url),))
        # a's lock went with its session: b takes over and writes a new owner row ...
        _wait(lambda: b.target.claim("main"), "b to take the lock")
        # ... so a may not write any more, though its process lives on.
        with pytest.raises(NotReadModelOwnerError), a.target.batch(READ_MODEL_CHECKPOINT, 0):
            pass
        assert not a.target.claim("main")  # and it notices b holds the lock now
        with b.target.batch(READ_MODEL_CHECKPOINT, 0) as batch:
            batch.save(batch.load(ReadModelKeys()), 0)
    finally:
        a.close()
        b.close()


def test_a_lease_whose_session_died_is_taken_again_by_the_same_process(
    server: Callable[[], PostgresDatabase], pg_url: str
) -> None:
    a = postgres_read_model(server())
    try:
        assert a.target.claim("main")
        first = _lease_pid(a, pg_url)
        with psycopg.connect(pg_url, autocommit=True) as con:
            con.execute("SELECT pg_terminate_backend(%s)", (first,))
        _wait(lambda: a.target.claim("main"), "the lock to be taken again")
        assert _lease_pid(a, pg_url) != first
        with a.target.batch(READ_MODEL_CHECKPOINT, 0):
            pass  # the new owner row is this target's
    finally:
        a.close()


def test_the_listener_listens_again_after_its_connection_is_killed(
    server: Callable[[], PostgresDatabase], pg_url: str
) -> None:
    db = server()
    wakes = threading.Semaphore(0)
    listener = ChangeListener(db, wakes.release).start()
    store = PostgresEventStore(db)
    try:
        _wait(listener.listening.is_set, "LISTEN")
        store.append("s-1", 0, events(2))
        assert wakes.acquire(timeout=DEADLINE)  # the append's NOTIFY, after its commit
        with psycopg.connect(pg_url, autocommit=True) as con:
            con.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'LISTEN%%'"
            )
        _wait(lambda: listener.last_error is not None, "the listener to notice")
        _wait(listener.listening.is_set, "LISTEN again")
        assert wakes.acquire(timeout=DEADLINE)  # the wake after listening again
        received = listener.received
        store.append("s-2", 0, events(1))
        _wait(lambda: listener.received > received, "a notification on the new connection")
    finally:
        listener.close()
    assert not listener.listening.is_set()


def test_a_burst_of_notifications_is_one_wake_up_not_one_each(
    server: Callable[[], PostgresDatabase], pg_url: str
) -> None:
    """Fifty notifications committed together arrive together: the listener counts every one
    and wakes its projector once per batch, not fifty times (each wake-up costs every
    workstation CPU in a busy office)."""
    db = server()
    wakes: list[float] = []
    listener = ChangeListener(db, lambda: wakes.append(time.monotonic())).start()
    try:
        _wait(listener.listening.is_set, "LISTEN")
        with psycopg.connect(pg_url) as con:  # one transaction: delivered at its commit
            for n in range(50):
                con.execute("SELECT pg_notify('order_desk_events', %s)", (str(n),))
        _wait(lambda: listener.received >= 50, "all fifty notifications")
        assert listener.received == 50
        assert 1 <= len(wakes) < 25
    finally:
        listener.close()


def _projected(db: PostgresDatabase, key_dir: Path) -> tuple[ReadModel, Projector, object]:
    events_ = PostgresEventStore(db)
    snapshots = PostgresSnapshotStore(db, key_dir=key_dir)
    read_model = postgres_read_model(db)
    projector = Projector(events_, read_model.feed, read_model.target, batch_size=50)
    projector.prepare()
    _, commands, _ = compose(
        events_,
        snapshots,
        identity=identity_of("test"),
        read=rh.ReadDeps(orders=read_model.queries, projector=projector),
        wake=projector.wake,
    )
    return read_model, projector, commands


def test_a_rebuild_keeps_readers_on_the_old_rows_and_commands_going(
    server: Callable[[], PostgresDatabase], tmp_path: Path
) -> None:
    db = server()
    read_model, projector, commands = _projected(db, tmp_path / "keys")
    other_read_model, _, other_commands = _projected(server(), tmp_path / "keys2")
    try:
        world = workload.World(random.Random(3))
        workload.seed_catalog(commands, world)  # type: ignore[arg-type]
        workload.run(commands, world, 80)  # type: ignore[arg-type]
        projector.run_once()
        queries = read_model.queries
        before = queries.list_orders(_spec())
        assert before[1] and before[1] > 5
        inside, release = threading.Event(), threading.Event()

        def fault(step: str) -> None:
            if step == "replace_cleared":  # every old row deleted, no new one yet
                inside.set()
                assert release.wait(DEADLINE)

        read_model.target.fault = fault  # type: ignore[attr-defined]
        rebuilt = threading.Thread(target=projector.rebuild)
        rebuilt.start()
        try:
            assert inside.wait(DEADLINE)
            # Mid-swap: another workstation's commands go through, and every reader still
            # sees the old read model (the new rows are not committed yet).
            workload.run(other_commands, world, 5)  # type: ignore[arg-type]
            assert other_read_model.queries.list_orders(_spec()) == before
        finally:
            release.set()
            rebuilt.join(DEADLINE)
        read_model.target.fault = None  # type: ignore[attr-defined]
        status = projector.status()
        assert status.last_error is None and status.lag == 0
        # The rebuilt read model (with what came in mid-swap) is what projecting the whole
        # log into the in-memory fake gives.
        tables = InMemoryReadModelTables()
        oracle = Projector(
            PostgresEventStore(db),
            PostgresEventFeed(db),
            InMemoryProjectionTarget(tables),
            batch_size=50,
        )
        oracle.run_once()
        expected = InMemoryOrderListQueries(tables)
        for sort in ("order_number", "total", "customer_name"):
            got = queries.list_orders(_spec(sort=sort))
            assert got == expected.list_orders(_spec(sort=sort))
        assert got[1] is not None and got[1] > before[1]  # type: ignore[operator]
    finally:
        read_model.close()
        other_read_model.close()


def test_prepare_projects_again_rows_of_another_read_model_version(
    server: Callable[[], PostgresDatabase], pg_url: str
) -> None:
    read_model = postgres_read_model(server())
    try:
        assert read_model.target.prepare() is False  # stamped by init
        assert read_model.target.claim("main")
        with read_model.target.batch(READ_MODEL_CHECKPOINT, 0) as batch:
            batch.save(batch.load(ReadModelKeys()), 5)
        with psycopg.connect(pg_url) as con:
            con.execute("UPDATE rm_meta SET value = 'old' WHERE key = 'schema_version'")
        assert read_model.target.prepare() is True
        assert read_model.target.checkpoint(READ_MODEL_CHECKPOINT) == 0
        with psycopg.connect(pg_url) as con:
            row = con.execute("SELECT value FROM rm_meta WHERE key = 'schema_version'").fetchone()
        assert row == (str(READ_MODEL_SCHEMA_VERSION),)
    finally:
        read_model.close()


def test_init_makes_trigram_indexes_that_serve_the_search(
    server: Callable[[], PostgresDatabase], pg_url: str
) -> None:
    db = server()
    with db.read() as conn:
        assert has_trigram_search(conn)
    with psycopg.connect(pg_url) as con:
        con.execute("SET enable_seqscan = off")
        plan = "\n".join(
            str(r[0])
            for r in con.execute(
                "EXPLAIN SELECT order_id FROM rm_orders WHERE number_fold LIKE %s",
                ("%so-12%",),
            )
        )
    assert TRIGRAM_INDEXES[0][0] in plan


def test_an_auditor_reads_the_lists_and_never_claims_them(
    server: Callable[[], PostgresDatabase], pg_url: str, pg_login: Login, tmp_path: Path
) -> None:
    clerk_db = server()
    read_model, projector, commands = _projected(clerk_db, tmp_path / "keys")
    try:
        world = workload.World(random.Random(4))
        workload.seed_catalog(commands, world)  # type: ignore[arg-type]
        workload.run(commands, world, 20)  # type: ignore[arg-type]
        projector.run_once()
        roles = init_postgres(pg_url).roles
        auditor_db = open_postgres(pg_login(pg_url, "audrey", roles.auditor))
        try:
            auditor = postgres_read_model(auditor_db)
            assert auditor.target.read_only and auditor.target.prepare() is False
            assert auditor.queries.list_orders(_spec()) == read_model.queries.list_orders(_spec())
            auditor.close()
        finally:
            auditor_db.close()
    finally:
        read_model.close()


def test_the_cli_rebuilds_the_shared_read_model(
    server: Callable[[], PostgresDatabase],
    pg_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from desktop_app.cli import main

    assert main(["demo", "--db", pg_url, "--orders", "30"]) == 0
    db = server()
    queries = postgres_read_model(db).queries
    read_model, projector, _ = _projected(db, tmp_path / "keys")
    projector.run_once()
    before = queries.list_orders(_spec())
    read_model.close()
    with psycopg.connect(pg_url) as con:  # damage the lists: the rebuild must mend them
        con.execute("UPDATE rm_orders SET status = 'lost'")
    capsys.readouterr()
    assert main(["rebuild", "--db", pg_url]) == 0
    assert "Rebuilt the read model of postgresql://" in capsys.readouterr().out
    assert queries.list_orders(_spec()) == before
    assert before[1] is not None and before[1] >= 30


def test_a_clerk_login_projects_and_rebuilds_the_shared_read_model(
    pg_url: str, pg_login: Login, tmp_path: Path
) -> None:
    """Only the grants of the clerk role: rows, the owner row, the rid sequence, COPY, NOTIFY."""
    roles = init_postgres(pg_url).roles
    db = open_postgres(pg_login(pg_url, "maria", roles.clerk))
    try:
        read_model, projector, commands = _projected(db, tmp_path / "keys")
        world = workload.World(random.Random(6))
        workload.seed_catalog(commands, world)  # type: ignore[arg-type]
        workload.run(commands, world, 30)  # type: ignore[arg-type]
        projector.run_once()
        assert projector.status().last_error is None and projector.status().lag == 0
        before = read_model.queries.list_orders(_spec())
        assert before[1]
        projector.rebuild()
        assert projector.status().last_error is None
        assert read_model.queries.list_orders(_spec()) == before
        owner = read_model.target.owner()
        assert owner is not None and owner.pid == os.getpid()
        read_model.close()
        assert read_model.target.owner() is None  # a clean exit clears the owner row
    finally:
        db.close()


def test_the_unfiltered_list_is_index_ranges_never_a_sort_of_every_order(
    server: Callable[[], PostgresDatabase], pg_url: str
) -> None:
    with psycopg.connect(pg_url) as con:  # 30,000 orders in 4 statuses, written directly
        con.execute(
            "INSERT INTO rm_orders (order_id, order_number, number_fold, customer_id, "
            "customer_name, customer_fold, status, line_count, total_minor, currency, "
            "placed_at, updated_at, version, last_position) "
            "SELECT 'o' || i, 'SO-' || i, 'so-' || i, 'c' || (i % 300), 'C ' || (i % 300), "
            "'c ' || (i % 300), (ARRAY['draft','confirmed','shipped','cancelled'])[1 + i % 4], "
            "i % 5, i * 7 % 1000, 'EUR', '2025-01-01T00:00:00.000000Z', "
            "'2025-01-02T00:00:00.000000Z', 1, i FROM generate_series(1, 30000) AS i"
        )
        con.execute(
            "INSERT INTO rm_order_counts (customer_id, status, n) "
            "SELECT customer_id, status, count(*) FROM rm_orders GROUP BY 1, 2"
        )
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute("ANALYZE")
    queries = postgres_read_model(server()).queries
    assert isinstance(queries, PostgresOrderListQueries)
    for sort in ("order_number", "total", "customer_name", "placed_at"):
        for statuses in (None, frozenset({"draft", "shipped"})):
            spec = _spec(sort=sort, statuses=statuses, limit=50, descending=sort == "total")
            plan = "\n".join(queries.explain_list_orders(spec))
            assert "Seq Scan on rm_orders" not in plan, plan
            assert "Index" in plan, plan
            rows, total, _ = queries.list_orders(spec)
            assert len(rows) == 50 and total == (30000 if statuses is None else 15000)
