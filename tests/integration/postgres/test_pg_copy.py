"""`desktop-app-admin copy --from FILE --to postgresql://…` (issue 10) with real SQLite files
and a real server: the copy is identical row for row and hash for hash; a copy killed mid-way
(SIGKILL of a real process) continues where it stopped; a server holding other history is
refused before anything is written."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from desktop_app.application import commands as c
from desktop_app.bootstrap import bootstrap
from desktop_app.cli import main
from desktop_app.config import Settings
from desktop_app.demo_data import load_demo
from desktop_app.domain.errors import DomainError
from desktop_app.store.postgres.database import init_postgres
from tests.pg_cluster import Login

EVENTS = (
    "position, stream_id, version, event_id, type_name, schema_version, payload, metadata, "
    "recorded_at, prev_hash, hash"
)
COMMANDS = "command_id, stream_id, version, first_position, last_position, fingerprint"
SNAPSHOTS = (
    "stream_id, version, aggregate_type, schema_version, state, checksum, size_bytes, "
    "taken_at, seal"
)
REJECTIONS = (
    'rejection_id, recorded_at, "user", host, source, app_version, command_type, command_id, '
    "correlation_id, stream_id, content, error_class, message"
)
ROOT = Path(__file__).resolve().parents[3]


def _make_file(path: Path, *, orders: int, seed: int) -> Path:
    app = bootstrap(Settings(db_path=path), source="test")
    try:
        load_demo(app.commands, orders=orders, seed=seed, queries=app.queries)
        # A refused command: the rejection log is copied too.
        order = c.PlaceOrder(customer_id="no-such-customer", lines=())
        with pytest.raises(DomainError):
            app.commands.dispatch(order)
    finally:
        app.close()
    return path


@pytest.fixture(scope="module")
def office_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file with a few hundred events, command records, snapshots and a rejection."""
    return _make_file(tmp_path_factory.mktemp("office") / "orders.sqlite3", orders=40, seed=11)


@pytest.fixture(scope="module")
def other_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another office's file: different history."""
    return _make_file(tmp_path_factory.mktemp("other") / "orders.sqlite3", orders=12, seed=5)


def _file_rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [tuple(r) for r in con.execute(sql)]
    finally:
        con.close()


def _server_rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as con:
        return [tuple(r) for r in con.execute(sql)]  # type: ignore[arg-type]


def _tables(url: str) -> dict[str, list[tuple[object, ...]]]:
    return {
        "events": _server_rows(url, f"SELECT {EVENTS}, author_role FROM events ORDER BY 1"),  # noqa: S608
        "commands": _server_rows(url, f"SELECT {COMMANDS} FROM commands ORDER BY 5"),  # noqa: S608
        "snapshots": _server_rows(url, f"SELECT {SNAPSHOTS} FROM snapshots ORDER BY 1, 2"),  # noqa: S608
        "rejections": _server_rows(url, f"SELECT {REJECTIONS} FROM rejections ORDER BY 1"),  # noqa: S608
        "keys": _server_rows(url, "SELECT * FROM unique_keys ORDER BY 1, 2"),
        "sequences": _server_rows(url, "SELECT * FROM sequences ORDER BY 1"),
    }


def _assert_identical(path: Path, url: str) -> None:
    server = _tables(url)
    events = _file_rows(path, f"SELECT {EVENTS} FROM events ORDER BY position")  # noqa: S608
    assert [row[:-1] for row in server["events"]] == events
    assert server["commands"] == _file_rows(
        path,
        f"SELECT {COMMANDS} FROM commands ORDER BY last_position",  # noqa: S608
    )
    assert sorted(server["snapshots"]) == sorted(  # type: ignore[type-var]
        _file_rows(path, f"SELECT {SNAPSHOTS} FROM snapshots")  # noqa: S608
    )
    assert server["rejections"] == _file_rows(
        path,
        f"SELECT {REJECTIONS} FROM rejections ORDER BY 1",  # noqa: S608
    )
    assert sorted(server["keys"]) == sorted(  # type: ignore[type-var]
        _file_rows(path, "SELECT * FROM unique_keys")
    )
    assert server["sequences"] == _file_rows(path, "SELECT * FROM sequences ORDER BY 1")


def test_copy_puts_every_row_on_the_server_identical_and_a_rerun_adds_nothing(
    office_file: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    init_postgres(pg_url)
    head = _file_rows(office_file, "SELECT max(position), count(*) FROM events")[0]
    assert head[0] == head[1] and int(head[0]) > 200  # type: ignore[call-overload]
    assert _file_rows(office_file, "SELECT count(*) FROM snapshots")[0][0]
    assert _file_rows(office_file, "SELECT count(*) FROM rejections")[0][0] == 1

    assert main(["copy", "--from", str(office_file), "--to", pg_url, "--batch", "50"]) == 0
    out = capsys.readouterr().out
    assert f"Copying events: {head[0]:,} / {head[0]:,}" in out
    assert f"Verified: the server holds the file's {head[0]:,} events, identical" in out
    _assert_identical(office_file, pg_url)
    # author_role is the server's: the role that ran the copy; the OS user stays in metadata.
    roles = {row[-1] for row in _tables(pg_url)["events"]}
    assert roles == {"postgres"}
    assert "'postgres' as their author_role" in out

    assert main(["copy", "--from", str(office_file), "--to", pg_url]) == 0
    out = capsys.readouterr().out
    assert f"Copied 0 events (continued after #{head[0]:,})" in out
    _assert_identical(office_file, pg_url)
    # Refusals recorded on the server later take the numbers after the copied ones.
    with psycopg.connect(pg_url) as con:
        nxt = con.execute("SELECT nextval(pg_get_serial_sequence('rejections', 'rejection_id'))")
        assert nxt.fetchone() == (2,)


def _waiting_copy(url: str) -> bool:
    """True when the copy's server session waits for a lock (our gate below)."""
    database = url.rsplit("/", 1)[1]
    with psycopg.connect(url) as con:
        row = con.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND "
            "application_name = 'order-desk' AND wait_event_type = 'Lock'",
            (database,),
        ).fetchone()
    return bool(row and row[0])


def _wait_for(condition: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def gate(pg_url: str) -> Iterator[psycopg.Connection[object]]:
    con: psycopg.Connection[object] = psycopg.connect(pg_url)  # type: ignore[assignment]
    try:
        yield con
    finally:
        con.close()


def test_a_copy_killed_mid_way_continues_where_it_stopped(
    office_file: Path,
    pg_url: str,
    gate: psycopg.Connection[object],
    capsys: pytest.CaptureFixture[str],
) -> None:
    init_postgres(pg_url)
    batch = 40
    stop_at = 3 * batch + 1
    # The gate: an uncommitted row at the 4th batch's first position. The copy's insert of
    # that position waits for this transaction, so three batches are committed and the copy
    # process is stuck inside the fourth when it is killed (no timing involved).
    gate.execute(
        "INSERT INTO events (position, stream_id, version, event_id, type_name, schema_version,"
        " payload, metadata, recorded_at, prev_hash, hash) VALUES "
        "(%s, 'gate', 1, 'gate', 'Gate', 1, '{}', '{}', '', '', '')",
        (stop_at,),
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "desktop_app.cli", "copy"),
            *("--from", str(office_file), "--to", pg_url, "--batch", str(batch)),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(lambda: _waiting_copy(pg_url) or proc.poll() is not None, "the copy to wait")
        assert proc.poll() is None, proc.communicate()[0]
        committed = _server_rows(pg_url, "SELECT count(*), max(position) FROM events")[0]
        assert committed == (3 * batch, 3 * batch)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
    gate.rollback()

    assert main(["copy", "--from", str(office_file), "--to", pg_url, "--batch", str(batch)]) == 0
    out = capsys.readouterr().out
    assert f"(continued after #{3 * batch:,})" in out
    assert "identical" in out
    _assert_identical(office_file, pg_url)


def test_a_server_with_other_history_is_refused_and_nothing_is_written(
    office_file: Path, other_file: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    init_postgres(pg_url)
    assert main(["copy", "--from", str(other_file), "--to", pg_url]) == 0
    before = _tables(pg_url)
    capsys.readouterr()

    assert main(["copy", "--from", str(office_file), "--to", pg_url]) == 2
    err = capsys.readouterr().err
    assert "holds different history" in err and "nothing was copied" in err
    assert _tables(pg_url) == before
    _assert_identical(other_file, pg_url)


def test_a_server_holding_more_than_the_file_is_refused(
    office_file: Path, other_file: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    init_postgres(pg_url)
    assert main(["copy", "--from", str(office_file), "--to", pg_url]) == 0
    before = _tables(pg_url)
    capsys.readouterr()
    assert main(["copy", "--from", str(other_file), "--to", pg_url]) == 2
    assert "more than the file" in capsys.readouterr().err
    assert _tables(pg_url) == before


def test_copy_needs_a_server_url_and_an_initialised_database(
    office_file: Path, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["copy", "--from", str(office_file), "--to", str(tmp_path / "x.db")]) == 2
    assert "must be a postgresql:// URL" in capsys.readouterr().err
    assert main(["copy", "--from", str(office_file), "--to", pg_url]) == 2
    assert "not an Order Desk database" in capsys.readouterr().err
    init_postgres(pg_url)
    assert main(["copy", "--from", str(tmp_path / "none.sqlite3"), "--to", pg_url]) == 2
    assert "There is no file" in capsys.readouterr().err


def test_only_the_owner_of_the_tables_may_copy(
    office_file: Path, pg_url: str, pg_login: Login, capsys: pytest.CaptureFixture[str]
) -> None:
    roles = init_postgres(pg_url).roles
    clerk = pg_login(pg_url, "maria", roles.clerk)
    assert main(["copy", "--from", str(office_file), "--to", clerk]) == 2
    err = capsys.readouterr().err
    assert "Run the copy as the role that owns the server's tables" in err
    assert _server_rows(pg_url, "SELECT count(*) FROM events") == [(0,)]
