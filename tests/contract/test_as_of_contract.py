"""The desk as of a past moment (issue 11), one contract for SQLite (a real file), memory and a
PostgreSQL server (the throwaway cluster of tests/pg_cluster.py).

Each test builds a desk through the real command bus, records the live order list at a moment
T, changes more, then asks for the desk as of T: it must be the list recorded then."""

from __future__ import annotations

import itertools
import json
import random
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from desktop_app.application import commands as c
from desktop_app.application.as_of import DeskAsOf, GetDeskAsOf, GetOrderAtTime
from desktop_app.application.queries import GetOrderAtVersion, ListOrders, OrderRow
from desktop_app.bootstrap import App, bootstrap, bootstrap_in_memory
from desktop_app.config import ServerLocation, Settings
from desktop_app.projector.as_of import fold_desk
from desktop_app.store.as_of_log import SqliteDeskHistory
from desktop_app.store.memory_as_of import InMemoryDeskHistory
from desktop_app.store.records import snapshot_checksum
from tests.fixtures.store_helpers import StepClock
from tests.integration.read_side import workload


class Desk:
    """An app under test with its clock and a way to forge a snapshot as an attacker would."""

    def __init__(
        self, kind: str, app: App, clock: StepClock, path: Path | None, url: str | None = None
    ) -> None:
        self.kind = kind
        self.app = app
        self.clock = clock
        self.path = path
        self.url = url
        self.world = workload.World(random.Random(11))

    def project(self) -> None:
        projector = self.app.projector
        assert projector is not None
        while projector.run_once():
            pass

    def work(self, count: int) -> None:
        workload.run(self.app.commands, self.world, count)

    def moment(self) -> datetime:
        """A moment after every event so far and before the next (the clock steps 1 s)."""
        return self.clock.now - timedelta(milliseconds=500)

    def live(self) -> list[OrderRow]:
        rows: list[OrderRow] = []
        after: str | None = None
        while True:
            page = self.app.queries.ask(ListOrders(limit=500, after=after, with_total=False))
            rows += page.rows
            after = page.next_after
            if after is None:
                return sorted(rows)

    def as_of(self, at: datetime) -> DeskAsOf:
        return self.app.queries.ask(GetDeskAsOf(at=at))

    def forge_snapshot(self, stream_id: str, version: int, state: str) -> None:
        if self.url is not None:
            _forge_on_server(self.url, stream_id, version, state)
            return
        if self.path is None:
            self.app.snapshots._forge_snapshot(stream_id, version, state)  # type: ignore[attr-defined]
            return
        con = sqlite3.connect(self.path)
        with con:
            kind, schema = con.execute(
                "SELECT aggregate_type, schema_version FROM snapshots "
                "WHERE stream_id = ? AND version = ?",
                (stream_id, version),
            ).fetchone()
            con.execute(
                "UPDATE snapshots SET state = ?, checksum = ? WHERE stream_id = ? AND version = ?",
                (
                    state,
                    snapshot_checksum(stream_id, version, kind, schema, state),
                    stream_id,
                    version,
                ),
            )
        con.close()


def _forge_on_server(url: str, stream_id: str, version: int, state: str) -> None:
    import psycopg

    with psycopg.connect(url) as con:
        row = con.execute(
            "SELECT aggregate_type, schema_version FROM snapshots "
            "WHERE stream_id = %s AND version = %s",
            (stream_id, version),
        ).fetchone()
        assert row is not None
        con.execute(
            "UPDATE snapshots SET state = %s, checksum = %s WHERE stream_id = %s AND version = %s",
            (
                state,
                snapshot_checksum(stream_id, version, row[0], row[1], state),
                stream_id,
                version,
            ),
        )


@pytest.fixture(params=["sqlite", "memory", "postgres"])
def desk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Desk]:
    clock = StepClock()
    if request.param == "postgres":
        from desktop_app.store.postgres.database import init_postgres

        url = request.getfixturevalue("pg_url")  # only this parameter starts the cluster
        init_postgres(url)
        settings = Settings.for_location(ServerLocation(url), key_dir=tmp_path / "keys")
        app = bootstrap(settings, source="test", clock=clock)
        made = Desk("postgres", app, clock, None, url)
    elif request.param == "memory":
        app = bootstrap_in_memory(clock=clock)
        made = Desk("memory", app, clock, None)
    else:
        path = tmp_path / "orders.sqlite3"
        settings = Settings(db_path=path, key_dir=tmp_path / "keys")
        app = bootstrap(settings, source="test", clock=clock)
        made = Desk("sqlite", app, clock, path)
    workload.seed_catalog(made.app.commands, made.world)
    try:
        yield made
    finally:
        made.app.close()


def test_as_of_each_moment_is_the_list_shown_then(desk: Desk) -> None:
    recorded: list[tuple[datetime, list[OrderRow]]] = []
    for _ in range(5):
        desk.work(40)
        desk.project()
        recorded.append((desk.moment(), desk.live()))
    desk.work(40)
    desk.project()
    for at, shown in recorded:
        answer = desk.as_of(at)
        assert sorted(answer.rows) == shown
        assert answer.recorded_at is not None and answer.recorded_at <= at
    assert len({len(rows) for _, rows in recorded}) > 1  # the desk did change in between
    # Newest first, as the live list's default sort.
    rows = desk.as_of(recorded[-1][0]).rows
    assert [r.placed_utc for r in rows] == sorted((r.placed_utc for r in rows), reverse=True)


def test_renames_after_the_moment_do_not_show(desk: Desk) -> None:
    desk.work(30)
    desk.project()
    at, shown = desk.moment(), desk.live()
    for i, customer in enumerate(desk.world.customers):
        desk.app.commands.dispatch(
            c.RenameCustomer(command_id=f"late-{i}", customer_id=customer, name=f"Later name {i}")
        )
    desk.project()
    assert any(row.customer_name.startswith("Later name") for row in desk.live())
    assert sorted(desk.as_of(at).rows) == shown


@pytest.mark.parametrize("projected", ["none", "first part"])
def test_as_of_does_not_need_the_projector_to_have_caught_up(desk: Desk, projected: str) -> None:
    desk.work(40)
    if projected == "first part":
        desk.project()
    desk.work(40)  # not projected yet: the read model is behind T
    at = desk.moment()
    answer = desk.as_of(at)
    desk.project()
    assert sorted(answer.rows) == desk.live()
    desk.work(20)
    desk.project()
    assert sorted(desk.as_of(at).rows) == sorted(answer.rows)


def test_before_the_first_event_the_desk_is_empty(desk: Desk) -> None:
    first = desk.app.events.read_all(limit=1)[0].recorded_at
    answer = desk.as_of(first - timedelta(days=1))
    assert answer.position == 0 and answer.rows == () and answer.recorded_at is None
    # At the first event's own time, that event is included.
    assert desk.as_of(first).position == 1


def test_a_moment_without_a_time_zone_is_refused(desk: Desk) -> None:
    with pytest.raises(ValueError, match="time zone"):
        desk.as_of(datetime(2024, 5, 1, 9, 0))
    with pytest.raises(ValueError, match="time zone"):
        desk.app.queries.ask(GetOrderAtTime(order_id="x", at=datetime(2024, 5, 1, 9, 0)))


def test_the_same_moment_in_any_time_zone_gives_the_same_desk(desk: Desk) -> None:
    desk.work(20)
    desk.project()
    at = desk.moment()
    desk.work(20)
    desk.project()
    madrid = at.astimezone(timezone(timedelta(hours=2)))
    new_york = at.astimezone(timezone(timedelta(hours=-5)))
    utc = desk.as_of(at)
    assert desk.as_of(madrid) == desk.as_of(new_york) == utc
    assert utc.at.tzinfo is UTC
    # A local wall-clock reading means that moment in its zone, not in UTC.
    two_hours_early = desk.as_of(at.replace(tzinfo=timezone(timedelta(hours=2))))
    assert two_hours_early.position < utc.position


def _order_with_history(desk: Desk) -> tuple[str, list[datetime]]:
    """An order changed several times; the moment after each of its versions."""
    order_id = "order-at-time"
    product = desk.world.products[0]
    moments: list[datetime] = []
    desk.app.commands.dispatch(
        c.PlaceOrder(
            command_id="p",
            order_id=order_id,
            customer_id=desk.world.customers[0],
            lines=(c.LineInput(product_id=product, quantity=1),),
        )
    )
    moments.append(desk.moment())
    for i in range(2, 6):
        desk.work(3)  # other orders in between
        line = c.LineInput(product_id=product, quantity=i)
        desk.app.commands.dispatch(
            c.AddOrderLine(command_id=f"a{i}", order_id=order_id, line=line, line_id=f"l{i}")
        )
        moments.append(desk.moment())
    return order_id, moments


def test_order_at_time_is_its_state_at_the_version_then(desk: Desk) -> None:
    before = desk.moment()
    order_id, moments = _order_with_history(desk)
    assert desk.app.queries.ask(GetOrderAtTime(order_id=order_id, at=before)).state is None
    versions = []
    for at in moments:
        answer = desk.app.queries.ask(GetOrderAtTime(order_id=order_id, at=at))
        assert answer.state is not None
        expected = desk.app.queries.ask(
            GetOrderAtVersion(order_id=order_id, version=answer.version)
        )
        assert answer.state == expected
        versions.append(answer.version)
    assert versions == sorted(versions) and len(set(versions)) == len(versions)


def test_order_at_time_never_uses_a_forged_snapshot(desk: Desk) -> None:
    order_id, moments = _order_with_history(desk)
    honest = desk.app.queries.ask(GetOrderAtTime(order_id=order_id, at=moments[-1]))
    assert honest.state is not None
    desk.app.commands.dispatch(c.TakeSnapshot(command_id="snap", order_id=order_id))
    version = desk.app.events.stream_version(f"order-{order_id}")
    forged = dict(honest.state.state)
    forged["status"] = "delivered"
    desk.forge_snapshot(f"order-{order_id}", version, json.dumps(forged, sort_keys=True))
    # A moment after the (forged) snapshot's version: replay from the events only.
    desk.app.commands.dispatch(c.ConfirmOrder(command_id="confirm", order_id=order_id))
    answer = desk.app.queries.ask(GetOrderAtTime(order_id=order_id, at=desk.moment()))
    assert answer.state is not None
    assert answer.state.state["status"] == "confirmed"
    assert answer.state.state != forged
    # The desk as of then shows the order confirmed too (the list never reads snapshots).
    desk.project()
    row = next(r for r in desk.as_of(desk.moment()).rows if r.order_id == order_id)
    assert row.status == "confirmed"


def test_a_clock_that_stepped_back_gives_a_consistent_prefix(desk: Desk) -> None:
    desk.work(10)
    start = desk.clock.now
    steps = (10, 20, 5, 30, 25, 40)  # seconds after ``start``: twice back
    desk.clock._script = [start + timedelta(seconds=s) for s in steps]
    desk.work(len(steps))
    desk.project()
    stamps = [e.recorded_at for e in desk.app.events.read_all(limit=10_000)]
    assert any(b < a for a, b in itertools.pairwise(stamps))  # the clock did step back
    for probe in range(0, 45):
        at = start + timedelta(seconds=probe)
        answer = desk.as_of(at)
        events = desk.app.events.read_all(after_position=answer.position - 1, limit=2)
        if answer.position:
            assert events[0].position == answer.position and events[0].recorded_at <= at
            later = events[1:]
        else:
            later = desk.app.events.read_all(limit=1)
        assert not later or later[0].recorded_at > at


def test_events_after_the_moment_not_yet_projected_do_not_count_twice(desk: Desk) -> None:
    desk.work(40)
    desk.project()
    at, shown = desk.moment(), desk.live()
    desk.work(40)  # after the moment, and not projected: the read model is still at the moment
    answer = desk.as_of(at)
    assert len({row.order_id for row in answer.rows}) == len(answer.rows)
    assert sorted(answer.rows) == shown


def _full_replay(desk: Desk, position: int) -> list[OrderRow]:
    """The oracle: every event up to the position folded by the projections (no read model)."""
    history: Any
    if desk.url is not None:
        from desktop_app.store.postgres.as_of_log import PostgresDeskHistory

        history = PostgresDeskHistory(desk.app.events.database, projector_name="-")  # type: ignore[attr-defined]
    elif desk.path is None:
        tables = desk.app.read_model.queries._tables
        history = InMemoryDeskHistory(desk.app.events, tables, projector_name="-")
    else:
        history = SqliteDeskHistory(desk.app.database, projector_name="-")
    parts = history.desk_at(position)
    assert parts.base == 0 and parts.listed == []
    return sorted(fold_desk(parts))


def test_any_moment_with_any_projector_lag_equals_a_full_replay(desk: Desk) -> None:
    rnd = random.Random(21)
    projector = desk.app.projector
    moments: list[datetime] = []
    for _ in range(8):
        desk.work(rnd.randint(5, 30))
        projector._batch_size = rnd.randint(1, 40)  # lag: a part of the new events only
        for _ in range(rnd.randint(0, 2)):
            projector.run_once()
        moments.append(desk.moment())
        for at in moments:
            answer = desk.as_of(at)
            assert sorted(answer.rows) == _full_replay(desk, answer.position)
