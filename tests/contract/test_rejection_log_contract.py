"""The rejection log's contract (issue 11), run on the SQLite store (a real file), the
in-memory fake and a real PostgreSQL server: what is recorded comes back whole, by stream and
by window, paged, and a read-only database records nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from desktop_app.application.ports import (
    Rejection,
    RejectionLog,
    StoreReadOnlyError,
)
from desktop_app.store.engine import open_database
from desktop_app.store.rejection_log import InMemoryRejectionLog
from desktop_app.store.rejection_store import SqliteRejectionLog
from tests.fixtures.store_helpers import StepClock

REFUSED = Rejection(
    user="maria",
    host="WS-3",
    source="gui",
    app_version="1.2.3",
    command_type="ShipOrder",
    command_id="cmd-1",
    correlation_id="corr-1",
    stream_id="order-o1",
    content='{"fields":{"carrier":"","order_id":"o1","tracking_number":"Ünï 1"},'
    '"type":"ShipOrder"}',
    error_class="RuleViolation",
    message="Only a confirmed order can be shipped.",
)


class Logs:
    def __init__(self, log: RejectionLog, read_only: RejectionLog, clock: StepClock) -> None:
        self.log = log
        self.read_only = read_only
        self.clock = clock


@pytest.fixture(params=["sqlite", "memory", "postgres"])
def logs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Logs]:
    clock = StepClock()
    if request.param == "postgres":
        from desktop_app.store.postgres.database import init_postgres, open_postgres
        from desktop_app.store.postgres.rejections import PostgresRejectionLog

        url = request.getfixturevalue("pg_url")  # only this parameter starts the server
        init_postgres(url)
        pg, pg_ro = open_postgres(url), open_postgres(url, read_only=True)
        try:
            yield Logs(PostgresRejectionLog(pg, clock=clock), PostgresRejectionLog(pg_ro), clock)
        finally:
            pg_ro.close()
            pg.close()
        return
    if request.param == "memory":
        yield Logs(InMemoryRejectionLog(clock=clock), InMemoryRejectionLog(read_only=True), clock)
        return
    path = tmp_path / "orders.sqlite3"
    db = open_database(path)
    ro = open_database(path, read_only=True)
    try:
        yield Logs(SqliteRejectionLog(db, clock=clock), SqliteRejectionLog(ro), clock)
    finally:
        ro.close()
        db.close()


def test_a_recorded_rejection_comes_back_whole(logs: Logs) -> None:
    recorded = logs.log.record(REFUSED)
    assert recorded.rejection == REFUSED
    assert recorded.recorded_at.tzinfo is not None
    # The store's clock decides the time (StepClock's first reading is its start).
    assert recorded.recorded_at == datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    (again,) = logs.log.for_stream("order-o1")
    assert again == recorded


def test_rejections_by_stream_are_oldest_first_and_only_that_stream(logs: Logs) -> None:
    first = logs.log.record(REFUSED)
    logs.log.record(replace(REFUSED, stream_id="order-o2", command_id="cmd-2"))
    third = logs.log.record(replace(REFUSED, command_id="cmd-3"))
    logs.log.record(replace(REFUSED, stream_id="", command_id="cmd-4"))
    found = logs.log.for_stream("order-o1")
    assert [r.rejection_id for r in found] == [first.rejection_id, third.rejection_id]
    assert first.rejection_id < third.rejection_id
    assert logs.log.for_stream("order-none") == []
    # Paging: after_id and limit.
    assert logs.log.for_stream("order-o1", limit=1) == [first]
    assert logs.log.for_stream("order-o1", after_id=first.rejection_id) == [third]
    assert logs.log.for_stream("order-o1", limit=0) == []


def test_rejections_in_a_window_and_of_a_user(logs: Logs) -> None:
    a = logs.log.record(REFUSED)
    b = logs.log.record(replace(REFUSED, user="tom", command_id="cmd-2"))
    c = logs.log.record(replace(REFUSED, command_id="cmd-3"))
    ids = lambda rows: [r.rejection_id for r in rows]  # noqa: E731
    assert ids(logs.log.in_window()) == ids([a, b, c])
    assert ids(logs.log.in_window(user="maria")) == ids([a, c])
    assert ids(logs.log.in_window(user="nobody")) == []
    # [since, until): since is inclusive, until exclusive.
    assert ids(logs.log.in_window(since=b.recorded_at)) == ids([b, c])
    assert ids(logs.log.in_window(until=b.recorded_at)) == ids([a])
    assert ids(logs.log.in_window(since=b.recorded_at, until=c.recorded_at)) == ids([b])
    # A bound in another time zone means the same instant.
    berlin = b.recorded_at.astimezone(timezone(timedelta(hours=1)))
    assert ids(logs.log.in_window(since=berlin, user="tom")) == ids([b])
    assert ids(logs.log.in_window(after_id=a.rejection_id, limit=1)) == ids([b])


def test_a_read_only_database_records_nothing_and_still_answers(logs: Logs) -> None:
    logs.log.record(REFUSED)
    with pytest.raises(StoreReadOnlyError):
        logs.read_only.record(replace(REFUSED, command_id="cmd-ro"))
    assert all(r.rejection.command_id != "cmd-ro" for r in logs.log.in_window())


def test_odd_text_is_kept_exactly(logs: Logs) -> None:
    odd = replace(REFUSED, message="quote ' \" back\\slash\nnew line \u202e", content="{}")
    recorded = logs.log.record(odd)
    assert logs.log.for_stream("order-o1") == [recorded]
    assert recorded.rejection == odd


def test_times_are_windows_of_the_stores_clock(logs: Logs) -> None:
    before = datetime(2000, 1, 1, tzinfo=UTC)
    recorded = logs.log.record(REFUSED)
    assert logs.log.in_window(since=before) == [recorded]
    assert logs.log.in_window(until=before) == []
