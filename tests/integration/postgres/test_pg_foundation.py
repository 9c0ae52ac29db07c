"""The server backend's foundation: init (schema, roles, grants), opening, clear errors."""

from __future__ import annotations

import psycopg
import pytest

from desktop_app.application.ports import StoreUnavailableError
from desktop_app.cli import main
from desktop_app.store.postgres.database import init_postgres, open_postgres
from desktop_app.store.postgres.ddl import TRIGGER_NAMES, Roles
from tests.pg_cluster import Login, PgServer, with_user


def test_init_creates_tables_triggers_and_roles_and_is_idempotent(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--db", pg_url]) == 0
    out = capsys.readouterr().out
    assert "Created the Order Desk tables" in out
    database = pg_url.rsplit("/", 1)[1]
    roles = Roles.for_database(database)
    with psycopg.connect(pg_url) as con:
        tables = {
            r[0] for r in con.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        assert {"events", "commands", "snapshots", "rejections", "rm_orders"} <= tables
        triggers = {
            r[0] for r in con.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        }
        assert set(TRIGGER_NAMES) <= triggers
        names = {r[0] for r in con.execute("SELECT rolname FROM pg_roles")}
        assert {roles.clerk, roles.auditor} <= names
        database_id = con.execute(
            "SELECT value FROM store_meta WHERE name = 'database_id'"
        ).fetchone()
    assert main(["init", "--db", pg_url]) == 0
    assert "already an Order Desk database" in capsys.readouterr().out
    with psycopg.connect(pg_url) as con:
        again = con.execute("SELECT value FROM store_meta WHERE name = 'database_id'").fetchone()
    assert again == database_id  # a second init never re-stamps the database


def test_open_says_which_role_may_write(pg_url: str, pg_login: Login) -> None:
    roles = init_postgres(pg_url).roles
    clerk = open_postgres(pg_login(pg_url, "maria", roles.clerk))
    auditor = open_postgres(pg_login(pg_url, "audrey", roles.auditor))
    try:
        assert not clerk.read_only
        assert clerk.info.details["role"].endswith("_maria")
        assert auditor.read_only
        assert "may only read" in (auditor.read_only_reason or "")
    finally:
        clerk.close()
        auditor.close()


def test_an_unreachable_server_is_a_sentence_not_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = "postgresql://nobody@127.0.0.1:1/orders?connect_timeout=3"
    with pytest.raises(StoreUnavailableError, match="cannot be reached"):
        open_postgres(url)
    assert main(["init", "--db", url]) == 2
    err = capsys.readouterr().err
    assert "cannot be reached" in err and "Traceback" not in err


def test_a_database_without_our_tables_is_refused_and_left_alone(pg_url: str) -> None:
    with pytest.raises(StoreUnavailableError, match="not an Order Desk database"):
        open_postgres(pg_url)
    with psycopg.connect(pg_url) as con:
        con.execute("CREATE TABLE store_meta (name text primary key, value text)")
        con.execute("INSERT INTO store_meta VALUES ('application_id', 'something else')")
    with pytest.raises(StoreUnavailableError, match="another program"):
        open_postgres(pg_url)
    with pytest.raises(StoreUnavailableError, match="another program"):
        init_postgres(pg_url)
    with psycopg.connect(pg_url) as con:
        assert con.execute("SELECT to_regclass('events')").fetchone() == (None,)


def test_file_only_commands_refuse_a_server_in_words(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backup", "--db", "postgresql://maria@db.office/orders"]) == 2
    err = capsys.readouterr().err
    assert "works on a database file" in err


def test_the_server_tables_are_the_shared_metadata_plus_author_role(pg_url: str) -> None:
    from desktop_app.store import schema

    init_postgres(pg_url)
    with psycopg.connect(pg_url) as con:
        rows = con.execute(
            "SELECT table_name, column_name, collation_name FROM information_schema.columns "
            "WHERE table_schema = 'public'"
        ).fetchall()
    columns: dict[str, set[str]] = {}
    for table, column, collation in rows:
        columns.setdefault(table, set()).add(column)
        assert collation in (None, "C"), (table, column, collation)  # code-point order
    expected = {
        t.name: {c.name for c in t.columns}
        for t in (*schema.metadata.sorted_tables, *schema.read_model_metadata.sorted_tables)
    }
    expected["events"].add("author_role")
    assert columns == expected


def test_a_password_in_the_url_works_but_is_never_shown(
    pg_url: str, pg_server: PgServer, capsys: pytest.CaptureFixture[str]
) -> None:
    roles = init_postgres(pg_url).roles
    database = pg_url.rsplit("/", 1)[1]
    role = f"{database}_pw"  # named after the test's database: dropped with it
    pg_server.admin_sql(
        f'CREATE ROLE "{role}" LOGIN PASSWORD \'trustme-s3cret\' IN ROLE "{roles.clerk}"'
    )
    with_password = with_user(pg_url, role).replace(f"{role}@", f"{role}:trustme-s3cret@", 1)
    assert main(["history", "SO-000001", "--db", with_password]) == 2  # no such order yet
    captured = capsys.readouterr()
    assert "~/.pgpass" in captured.err and "no order" in captured.err.lower()
    assert "trustme-s3cret" not in captured.out + captured.err
    db = open_postgres(with_password)
    try:
        assert "trustme-s3cret" not in db.info.location and "***" in db.info.location
    finally:
        db.close()
