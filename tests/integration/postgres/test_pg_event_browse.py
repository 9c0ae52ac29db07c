"""The event browser and the as-of desk on a server workstation (issue 11 on issue 10's
backend): an auditor's login gets both answers (no "no handler"), a page reads the browser's
index in key order without a sort, and an event whose metadata is not JSON breaks no page."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from desktop_app.application.as_of import GetDeskAsOf
from desktop_app.application.event_browser import BrowseLog, LogFilter
from desktop_app.application.ports import StoreError
from desktop_app.bootstrap import bootstrap
from desktop_app.config import ServerLocation, Settings
from desktop_app.store.postgres.database import init_postgres, open_postgres
from desktop_app.store.postgres.event_browse import BROWSE_INDEX, PgLogBrowse, events_sql
from desktop_app.store.postgres.event_store import PostgresEventStore
from tests.fixtures.store_helpers import events as store_events
from tests.integration.jobs.support import add_customer, add_product, place_order
from tests.pg_cluster import Login


def test_an_auditor_workstation_browses_the_log_and_sees_the_desk_as_of_a_moment(
    pg_url: str, pg_login: Login, tmp_path_factory: pytest.TempPathFactory
) -> None:
    roles = init_postgres(pg_url).roles
    clerk_url = pg_login(pg_url, "maria", roles.clerk)
    auditor_url = pg_login(pg_url, "audrey", roles.auditor)

    def open_app(url: str) -> object:
        settings = Settings.for_location(ServerLocation(url), key_dir=tmp_path_factory.mktemp("k"))
        return bootstrap(settings, source="test")

    clerk = open_app(clerk_url)
    auditor = open_app(auditor_url)
    try:
        order = place_order(clerk, add_customer(clerk, "Ann"), add_product(clerk, "MUG-1"))  # type: ignore[arg-type]
        page = auditor.queries.ask(BrowseLog(where=LogFilter(event_type="OrderPlaced")))  # type: ignore[attr-defined]
        assert [row.order_id for row in page.rows] == [order]
        desk = auditor.queries.ask(GetDeskAsOf(at=datetime.now(UTC)))  # type: ignore[attr-defined]
        assert [row.order_id for row in desk.rows] == [order]
    finally:
        auditor.close()  # type: ignore[attr-defined]
        clerk.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "where",
    [
        LogFilter(),
        LogFilter(user="clerk"),
        LogFilter(host="desk-1", event_type="OrderPlaced"),
        LogFilter(correlation_id="corr-1"),
    ],
)
def test_a_page_reads_the_browse_index_in_order_without_sorting(
    pg_url: str, where: LogFilter
) -> None:
    init_postgres(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute("SET enable_seqscan = off")  # a tiny table: ask what the plan can be
        for direction in ("older", "newer"):
            sql, params = events_sql(where, None, direction)  # type: ignore[arg-type]
            plan = "\n".join(
                str(row[0])
                for row in con.execute(f"EXPLAIN {sql}", (*params, 50)).fetchall()  # type: ignore[arg-type]
            )
            assert BROWSE_INDEX in plan and "Sort" not in plan, plan
            # The filters are checked on the index entries, not on the table's rows.
            assert "Filter:" not in plan, plan


def test_an_event_whose_metadata_is_not_json_breaks_no_page(pg_url: str) -> None:
    """An owner's edit through SQL (triggers bypassed) left one event's metadata unreadable:
    verify names it; a filtered page still answers, reading that field as nothing (as the
    file's index expression does)."""
    init_postgres(pg_url)
    db = open_postgres(pg_url)
    try:
        PostgresEventStore(db).append("order-a", 0, store_events(3))
        with psycopg.connect(pg_url, autocommit=True) as con:
            con.execute("SET session_replication_role = replica")  # the owner skips triggers
            con.execute("UPDATE events SET metadata = 'not json {' WHERE position = 2")
        page = PgLogBrowse(db).events_page(LogFilter(user="clerk"), None, "older", 10)
        assert [event.position for event in page.events] == [3, 1]
    finally:
        db.close()


def test_a_database_set_up_before_the_browser_says_to_run_init_again(pg_url: str) -> None:
    init_postgres(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as con:  # as an older init left it
        con.execute("DROP INDEX ix_events_browse")
        con.execute("DROP FUNCTION order_desk_meta(text, text)")
    db = open_postgres(pg_url)
    try:
        PostgresEventStore(db).append("order-a", 0, store_events(2))
        browse = PgLogBrowse(db)
        with pytest.raises(StoreError, match="desktop-app-admin init"):
            browse.events_page(LogFilter(user="clerk"), None, "older", 10)
        init_postgres(pg_url)  # run again: what was missing is added, the events are kept
        page = browse.events_page(LogFilter(user="clerk"), None, "older", 10)
        assert [event.position for event in page.events] == [2, 1]
        assert browse.order_numbers(["a"]) == {}
    finally:
        db.close()
