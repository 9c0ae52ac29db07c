"""The throwaway cluster plugin: where PostgreSQL is missing the parameter is skipped with the
reason, except in CI (ORDER_DESK_REQUIRE_PG=1), where it fails; the cluster is one of ours."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from tests import pg_cluster
from tests.pg_cluster import REQUIRE_ENV, PgServer


def test_without_postgres_the_parameter_is_skipped_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL parameter skipped: no initdb"):
        pg_cluster._unavailable("no initdb")


def test_in_ci_a_missing_postgres_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="ORDER_DESK_REQUIRE_PG=1 but no initdb"):
        pg_cluster._unavailable("no initdb")


def test_initdb_is_found_on_path_or_in_debian_folders(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("initdb", "pg_ctl"):
        tool = tmp_path / "bin" / name
        tool.parent.mkdir(exist_ok=True)
        tool.write_text("#!/bin/sh\n")
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert pg_cluster.find_pg_bin() == tmp_path / "bin"
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    found = pg_cluster.find_pg_bin()
    assert found is None or (found / "initdb").exists()  # Debian's versioned folder, if any


def test_each_test_gets_a_fresh_empty_database(pg_server: PgServer, pg_url: str) -> None:
    with psycopg.connect(pg_url) as con:
        tables = con.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert tables.fetchone() == (0,)
        con.execute("CREATE TABLE scratch (n int)")
    other = pg_server.create_database()
    try:
        with psycopg.connect(other) as con:
            assert con.execute("SELECT to_regclass('scratch')").fetchone() == (None,)
    finally:
        pg_server.drop_database(other)
    if pg_server.folder is not None:  # our own cluster, not ORDER_DESK_TEST_PG_URL's server
        assert os.path.exists(pg_server.folder / f".s.PGSQL.{pg_server.port}")
